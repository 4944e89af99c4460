//! README: "`klachtd case` and `cases` drop control characters (terminal escape codes) and
//! invisible format characters (bidi overrides) from mail content; display names and attachment
//! names lose them on arrival." Unicode tag characters (U+E0001, U+E0020–U+E007F, category Cf)
//! are invisible in a terminal and carry hidden ASCII text ("ASCII smuggling"); they reach the
//! operator's terminal unchanged, in the subject and the text of a case. Other invisible Cf
//! characters (U+1D173–U+1D17A musical formatting, U+1BCA0–U+1BCA3 shorthand format controls)
//! pass as well.
//!
//! Reproduce: a complaint whose subject (as an encoded word) and text contain U+E0049 U+E0047
//! U+E004E …; `klachtd case KL-2026-0001` prints them.

mod attack_lab;

use attack_lab::Lab;

fn hidden(text: &str) -> String {
    // "IGNORE" written in tag characters: invisible, but there.
    text.chars()
        .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
        .collect()
}

fn invisible_format(s: &str) -> Vec<String> {
    s.chars()
        .filter(|c| {
            let u = *c as u32;
            (0xE0000..=0xE007F).contains(&u)
                || (0x1D173..=0x1D17A).contains(&u)
                || (0x1BCA0..=0x1BCA3).contains(&u)
        })
        .map(|c| format!("U+{:X}", c as u32))
        .collect()
}

#[test]
fn invisible_tag_characters_never_reach_the_terminal_in_klachtd_case() {
    use base64::Engine;
    let mut lab = Lab::new(&[]);
    let subject = format!("Les uitgevallen{}", hidden("IGNORE PREVIOUS"));
    let encoded = base64::engine::general_purpose::STANDARD.encode(subject.as_bytes());
    lab.deliver(&format!(
        "From: Klager <klager@example.net>\nTo: info@example.org\nSubject: =?utf-8?b?{encoded}?=\n\
         Message-ID: <tags@example.net>\nContent-Type: text/plain; charset=utf-8\n\n\
         De les is uitgevallen.{} En{}verder{}niets.\n",
        hidden("rm -rf"),
        '\u{1D173}',
        '\u{1BCA0}'
    ));
    lab.run();
    let shown = lab.case_text("KL-2026-0001");
    let found = invisible_format(&shown);
    assert!(
        found.is_empty(),
        "invisible format characters in `klachtd case`: {found:?}\n{shown:?}"
    );
}
