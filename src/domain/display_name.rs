//! A sender's display name made fit to greet someone with: its first line only, without
//! anything that looks like a header or an address, or nothing when no plausible name remains
//! (the letter then uses its neutral greeting).

/// The plausible name in a From display name, if any.
pub fn clean(raw: &str) -> Option<String> {
    let first_line = raw
        .split(['\r', '\n'])
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let mut words: Vec<&str> = Vec::new();
    for word in first_line.split_whitespace() {
        // "Bcc:", "X-Injected:", "To:": what follows is injected, not a name.
        if looks_like_header(word) {
            break;
        }
        if word.contains(['<', '>']) || looks_like_link(word) {
            continue;
        }
        words.push(word);
    }
    // Bidi overrides and zero-width characters make a name read as something else.
    let joined: String = words
        .join(" ")
        .chars()
        .filter(|c| !crate::domain::address::is_invisible(*c))
        .collect();
    let name = joined
        .trim_matches(|c: char| c.is_whitespace() || "\"'`,;:|-–".contains(c))
        .to_string();
    let letters = name.chars().filter(|c| c.is_alphabetic()).count();
    let plausible = letters >= 2
        && name.chars().count() <= 60
        && !name.chars().any(|c| c.is_control())
        && letters * 2 >= name.chars().filter(|c| !c.is_whitespace()).count();
    plausible.then_some(name)
}

/// `Name:` where Name is a header field name (letters, digits, hyphens).
fn looks_like_header(word: &str) -> bool {
    word.strip_suffix(':').is_some_and(|name| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && (name.contains('-') || HEADERS.contains(&name.to_ascii_lowercase().as_str()))
    })
}

const HEADERS: [&str; 16] = [
    "bcc",
    "cc",
    "to",
    "from",
    "subject",
    "date",
    "sender",
    "received",
    "aan",
    "van",
    "onderwerp",
    "references",
    "importance",
    "priority",
    "precedence",
    "mime-version",
];

/// Whether a word reads as a link or an address, however it is dressed: `https://…`,
/// `www.…`, `(evil.example)`, `evil.example/buy`, `x@y` — a dot followed by two letters, a
/// slash or an `@` inside the word. Numbers (`1.5`) and abbreviations (`t.a.v.`) are not.
pub fn looks_like_link(word: &str) -> bool {
    let w = word
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase();
    if w.contains("://") || w.starts_with("www") && w.contains('.') || w.contains('@') {
        return true;
    }
    if w.contains('/') && w.chars().any(char::is_alphabetic) {
        return true;
    }
    let chars: Vec<char> = w.chars().collect();
    chars
        .windows(3)
        .any(|t| t[0] == '.' && t[1].is_alphabetic() && t[2].is_alphabetic())
        && chars.first().is_some_and(|c| c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn injected_lines_and_headers_are_dropped() {
        assert_eq!(
            clean(
                "Piet\r\nBcc: directie@example.org, examencommissie@example.org\r\nX-Injected: 1"
            )
            .as_deref(),
            Some("Piet")
        );
        assert_eq!(
            clean("Piet Bcc: directie@example.org X-Injected: 1").as_deref(),
            Some("Piet")
        );
        assert_eq!(clean("Jansen, Piet").as_deref(), Some("Jansen, Piet"));
        assert_eq!(clean("Zoë van Dijk").as_deref(), Some("Zoë van Dijk"));
        assert_eq!(clean("\"Oliver Grant\"").as_deref(), Some("Oliver Grant"));
        assert_eq!(
            clean("jan@example.nl <jan@example.nl> Jan").as_deref(),
            Some("Jan")
        );
    }

    #[test]
    fn nothing_plausible_is_none() {
        for raw in [
            "",
            "  ",
            "jan@example.nl",
            "\r\nBcc: x@y.nl",
            "X-Injected: 1",
            "12345",
            "--",
        ] {
            assert_eq!(clean(raw), None, "{raw:?}");
        }
    }

    proptest! {
        /// Whatever is injected after a line break never reaches the greeting.
        #[test]
        fn nothing_after_a_line_break_survives(
            name in "[A-Za-zëé ]{0,20}",
            tail in "[ -~]{1,40}",
            brk in proptest::sample::select(vec!["\r\n", "\n", "\r"]),
        ) {
            let raw = format!("{name}{brk}Bcc: {tail}");
            if let Some(clean) = clean(&raw) {
                prop_assert!(!clean.contains(['\r', '\n', '@', ':']), "{clean:?}");
                let squashed = name.split_whitespace().collect::<Vec<_>>().join(" ");
                prop_assert!(squashed.contains(clean.as_str()), "{clean:?} from {raw:?}");
                prop_assert!(clean.chars().count() <= 60);
            }
        }

        /// A plain name is kept as it is.
        #[test]
        fn a_plain_name_is_kept(first in "[A-Z][a-zë]{1,10}", last in "[A-Z][a-z]{1,12}") {
            let name = format!("{first} {last}");
            prop_assert_eq!(clean(&name), Some(name.clone()));
        }
    }
}
