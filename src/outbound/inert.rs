//! Words of a sender who is not proven, made inert before klachtd passes them to staff or the
//! director: no link, no address a mail client turns into one (`hxxp://evil[.]example/login`,
//! `anna[@]evil[.]example`), no invisible characters, and — for a subject or a name — marked as
//! the sender's own text with «…». The mail's text itself stays readable for staff; only what
//! would be clickable changes.

use serde_json::Value;

/// `text` with nothing a mail client makes clickable: schemes written `hxxp`/`hxxps`/`fxp`
/// and `[:]//` after any other, every `@` between two characters `[@]`, every dot between a
/// letter or digit and another (not between two digits: `3.5` stays) `[.]` — also the
/// full-width and ideographic dots that IDNA reads as dots —, and invisible characters
/// removed. Idempotent: inert text stays as it is.
pub fn inert(text: &str) -> String {
    let chars: Vec<char> = text
        .chars()
        .filter(|c| !crate::domain::address::is_invisible(*c))
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect();
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let word = |ch: Option<char>| ch.is_some_and(|ch| ch.is_alphanumeric());
        if c == ':' && next == Some('/') && chars.get(i + 2) == Some(&'/') {
            // `scheme://`: the scheme written so no client knows it.
            let start = out
                .char_indices()
                .rev()
                .take_while(|(_, ch)| ch.is_ascii_alphanumeric() || matches!(ch, '+' | '-' | '.'))
                .last()
                .map_or(out.len(), |(at, _)| at);
            let scheme = out[start..].to_ascii_lowercase();
            let renamed = match scheme.as_str() {
                "http" => Some("hxxp"),
                "https" => Some("hxxps"),
                "ftp" => Some("fxp"),
                _ => None,
            };
            if let Some(r) = renamed {
                out.truncate(start);
                out.push_str(r);
            }
            out.push_str("[:]//");
            i += 3;
            continue;
        }
        if c == '@'
            && prev.is_some_and(|p| !p.is_whitespace())
            && next.is_some_and(|n| !n.is_whitespace())
            && next != Some(']')
        {
            out.push_str("[@]");
        } else if is_dot(c)
            && word(prev)
            && word(next)
            && !(prev.is_some_and(|p| p.is_ascii_digit())
                && next.is_some_and(|n| n.is_ascii_digit()))
        {
            out.push_str("[.]");
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// The dots IDNA (UTS #46) maps to `.`: a domain written with one is still a domain.
fn is_dot(c: char) -> bool {
    matches!(c, '.' | '\u{3002}' | '\u{ff0e}' | '\u{ff61}')
}

/// A subject or a name as staff see it: inert, on one line, marked as the sender's own words.
pub fn senders_words(text: &str) -> String {
    let one_line = crate::inbound::one_line(text);
    let inner = inert(one_line.trim());
    if inner.is_empty() {
        return String::new();
    }
    format!("«{inner}»")
}

/// Context keys holding a subject or a name from outside: shown as [`senders_words`].
pub const MARKED_KEYS: [&str; 4] = ["subject", "name", "mail_subject", "sender"];

/// Context keys holding other text from outside that is not the complaint itself (a held
/// command mail, the Received hop its sender's server named, a stranger's file names): shown
/// [`inert`], readable. (A case's history is made inert line by line where it is written, so
/// the staff addresses in it stay as they are.)
pub const INERT_KEYS: [&str; 5] = [
    "held_text",
    "held_message",
    "held_lines",
    "origin",
    "attachment_names",
];

/// Makes every value under [`MARKED_KEYS`] and `inert_keys`, at any depth of `value` (the
/// digest's lists of cases hold subjects too), inert.
pub fn make_inert(value: &mut Value, inert_keys: &[&str]) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if MARKED_KEYS.contains(&key.as_str()) {
                    apply(v, senders_words);
                } else if inert_keys.contains(&key.as_str()) {
                    apply(v, inert);
                } else {
                    make_inert(v, inert_keys);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| make_inert(v, inert_keys)),
        _ => {}
    }
}

fn apply(value: &mut Value, f: fn(&str) -> String) {
    match value {
        Value::String(s) => *s = f(s),
        Value::Array(items) => items.iter_mut().for_each(|v| apply(v, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn links_and_addresses_become_inert() {
        assert_eq!(
            inert("URGENT: reset your password at http://evil.example/login"),
            "URGENT: reset your password at hxxp[:]//evil[.]example/login"
        );
        assert_eq!(
            inert("HTTPS://Bank.Example and www.evil.example or anna@evil.example"),
            "hxxps[:]//Bank[.]Example and www[.]evil[.]example or anna[@]evil[.]example"
        );
        assert_eq!(
            inert("evil。example evil．example"),
            "evil[.]example evil[.]example"
        );
        assert_eq!(inert("ca. 3.5 uur, om 10.30"), "ca. 3.5 uur, om 10.30");
        assert_eq!(inert("javascript://x"), "javascript[:]//x");
        assert_eq!(inert("pay\u{202e}evil.exe"), "payevil[.]exe");
        assert_eq!(senders_words("  Ria\nKok "), "«Ria Kok»");
        assert_eq!(senders_words(""), "");
    }

    /// The forms of a link mail clients and linkify libraries recognise: a scheme, `www.`,
    /// a dotted domain, an address.
    fn clickable(text: &str) -> bool {
        let lower = text.to_lowercase().replace(['。', '．', '｡'], ".");
        let words: Vec<&str> = lower
            .split(|c: char| c.is_whitespace() || "<>()\"'«»,;".contains(c))
            .collect();
        lower.contains("://")
            || words.iter().any(|w| {
                w.split("www.")
                    .skip(1)
                    .any(|rest| rest.starts_with(|c: char| c.is_alphanumeric()))
                    || w.char_indices().any(|(i, c)| {
                        c == '@' && i > 0 && i + 1 < w.len() && !w[i + 1..].starts_with(']')
                    })
                    || w.split('.').count() > 1
                        && w.split('.').collect::<Vec<_>>().windows(2).any(|p| {
                            p[0].chars().last().is_some_and(|c| c.is_alphanumeric())
                                && p[1].chars().next().is_some_and(|c| c.is_alphabetic())
                        })
            })
    }

    proptest! {
        /// Whatever a sender writes, nothing of it stays clickable, the letters and digits
        /// all stay (in order), and making it inert again changes nothing.
        #[test]
        fn nothing_stays_clickable(
            text in "((https?|ftp|HTTP|mailto|x)(://|:)|www\\.|[a-z0-9]{1,8}|[.@/ ]|。|．|\u{202e}|\u{200b}){0,40}"
        ) {
            let out = inert(&text);
            prop_assert!(!clickable(&out), "{text:?} -> {out:?}");
            let kept = |s: &str| s.to_lowercase().chars().filter(|c| c.is_alphanumeric())
                .collect::<String>().replace("hxxp", "http").replace("fxp", "ftp");
            prop_assert_eq!(kept(&out), kept(&text.replace("\u{202e}", "").replace("\u{200b}", "")));
            prop_assert_eq!(inert(&out), out);
        }
    }

    #[test]
    fn nested_subjects_and_names_are_marked() {
        let mut v = serde_json::json!({
            "subject": "zie http://evil.example",
            "reference": "KL-2026-0001",
            "new_cases": [{"subject": "a@b.example", "reference": "KL-2026-0002"}],
            "held_lines": ["bel 06-1234 of mail x@y.example"],
            "body": "http://stays.example",
        });
        make_inert(&mut v, &INERT_KEYS);
        assert_eq!(v["subject"], "«zie hxxp[:]//evil[.]example»");
        assert_eq!(v["new_cases"][0]["subject"], "«a[@]b[.]example»");
        assert_eq!(v["held_lines"][0], "bel 06-1234 of mail x[@]y[.]example");
        assert_eq!(v["body"], "http://stays.example");
        assert_eq!(v["reference"], "KL-2026-0001");
    }
}
