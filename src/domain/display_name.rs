//! A sender's display name made fit to greet someone with: its first line only, without
//! anything that looks like a header or an address, and only when what remains reads as a
//! person's name — no sentence, no imperative, no link or domain, no amount or other digits,
//! no organisation, within a length. Otherwise nothing (the letter then uses its neutral
//! greeting, "Geachte heer, mevrouw,").

/// At most this many characters, and this many words besides particles (`van`, `de`, …).
pub const MAX_CHARS: usize = 50;
pub const MAX_WORDS: usize = 5;

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
        // An address in the display name (`jan@example.nl <jan@example.nl>`) is a client's
        // habit, not part of the name; a link or a domain is not a person's name at all.
        if word.contains(['<', '>', '@']) {
            continue;
        }
        if looks_like_link(word) {
            return None;
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
        .trim_matches(|c: char| c.is_whitespace() || "\"'`,;|-–".contains(c))
        .to_string();
    reads_as_name(&name).then_some(name)
}

/// Whether `name` (one line, trimmed) reads as a person's name.
fn reads_as_name(name: &str) -> bool {
    let letters = name.chars().filter(|c| c.is_alphabetic()).count();
    if letters < 2 || name.chars().count() > MAX_CHARS {
        return false;
    }
    // Letters, spaces, hyphens, apostrophes, the periods of initials and titles, and one comma
    // ("Jansen, Piet"); no digits (amounts, dates, phone numbers), no other signs.
    if name.chars().any(|c| {
        !(c.is_alphabetic()
            || c == ' '
            || c == '-'
            || c == '.'
            || c == ','
            || c == '\''
            || c == '’'
            || c == '‘'
            || c == '`'
            || is_combining_mark(c))
    }) || name.matches(',').count() > 1
    {
        return false;
    }
    let mut counted = 0;
    for word in name.split([' ', ',']).filter(|w| !w.is_empty()) {
        let lower = word.to_lowercase();
        let bare = lower.trim_matches(|c: char| !c.is_alphabetic());
        if bare.is_empty()
            || !word
                .chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || "'’‘`".contains(c))
        {
            return false;
        }
        // A period ends only an initial ("J.", "A.M.") or a title ("Dhr.", "dr."): after
        // anything else it ends a sentence.
        let initials = is_initials(word);
        if word.contains('.') && !initials && !TITLES.contains(&bare) {
            return false;
        }
        // "A." is an initial, not the article; "B.V." is a company all the same.
        if NOT_IN_A_NAME.contains(&bare) && (!initials || bare.contains('.')) {
            return false;
        }
        if !PARTICLES.contains(&bare) {
            counted += 1;
        }
    }
    (1..=MAX_WORDS).contains(&counted)
}

/// `J.`, `A.M.`, `J.P.`: single letters each followed by a period.
fn is_initials(word: &str) -> bool {
    word.ends_with('.')
        && word.split_inclusive('.').all(|piece| {
            let mut chars = piece.chars();
            chars.next().is_some_and(char::is_alphabetic)
                && chars.next() == Some('.')
                && chars.next().is_none()
        })
}

/// Combining marks (a name typed in decomposed form: `e` + U+0301).
fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036f}')
}

/// Lower-case words that stand between a given name and a surname (Dutch tussenvoegsels and
/// their neighbours'); they do not count towards [`MAX_WORDS`].
const PARTICLES: &[&str] = &[
    "van", "de", "der", "den", "het", "ten", "ter", "te", "t", "in", "op", "aan", "uit", "von",
    "zu", "la", "le", "du", "da", "di", "dos", "das", "del", "della", "bin", "ibn", "al", "el",
    "en", "and", "y", "e",
];

/// Titles that may carry a period.
const TITLES: &[&str] = &[
    "dhr", "mevr", "mw", "mr", "mrs", "ms", "dr", "drs", "ir", "ing", "prof", "ds", "jr", "sr",
    "bc", "ba", "ma", "msc", "bsc", "phd",
];

/// Words no person's name holds: imperatives and calls to act, words that make a sentence,
/// and those of organisations and mailboxes (Dutch and English; a display name that is a
/// sentence or an advertisement is never a greeting).
const NOT_IN_A_NAME: &[&str] = &[
    // imperatives and calls to act
    "klik",
    "bel",
    "betaal",
    "bestel",
    "lees",
    "stuur",
    "reageer",
    "bezoek",
    "ontvang",
    "claim",
    "bekijk",
    "open",
    "download",
    "koop",
    "win",
    "wint",
    "gewonnen",
    "meld",
    "bevestig",
    "click",
    "call",
    "pay",
    "buy",
    "order",
    "read",
    "reply",
    "send",
    "visit",
    "get",
    "verify",
    "confirm",
    "update",
    "login",
    "act",
    "unsubscribe",
    "subscribe",
    "afmelden",
    "aanmelden",
    "check",
    "see",
    "watch",
    "join",
    "apply",
    "contact",
    "shop",
    // what makes a sentence
    "ik",
    "jij",
    "je",
    "jouw",
    "u",
    "uw",
    "wij",
    "we",
    "ons",
    "onze",
    "mijn",
    "hij",
    "zij",
    "is",
    "ben",
    "bent",
    "zijn",
    "was",
    "heeft",
    "hebt",
    "heb",
    "wordt",
    "kan",
    "kunt",
    "moet",
    "niet",
    "geen",
    "nu",
    "hier",
    "voor",
    "met",
    "naar",
    "over",
    "bij",
    "om",
    "dat",
    "dit",
    "deze",
    "die",
    "wat",
    "wie",
    "waarom",
    "hoe",
    "een",
    "graag",
    "vandaag",
    "morgen",
    "i",
    "you",
    "your",
    "my",
    "me",
    "our",
    "us",
    "he",
    "she",
    "they",
    "the",
    "a",
    "an",
    "are",
    "am",
    "has",
    "have",
    "not",
    "no",
    "now",
    "here",
    "for",
    "with",
    "to",
    "of",
    "this",
    "that",
    "what",
    "why",
    "how",
    "please",
    "today",
    "free",
    "gratis",
    "urgent",
    "dringend",
    "korting",
    "discount",
    "offer",
    "aanbieding",
    "prize",
    "prijs",
    "winner",
    "money",
    "geld",
    "euro",
    "euros",
    "eur",
    "dollar",
    "dollars",
    "bitcoin",
    "loan",
    "lening",
    "cash",
    // organisations and mailboxes, not persons
    "team",
    "support",
    "service",
    "klantenservice",
    "servicedesk",
    "helpdesk",
    "info",
    "noreply",
    "no-reply",
    "donotreply",
    "administratie",
    "administration",
    "afdeling",
    "department",
    "bv",
    "b.v",
    "nv",
    "n.v",
    "vof",
    "ltd",
    "inc",
    "gmbh",
    "llc",
    "bureau",
    "gemeente",
    "stichting",
    "vereniging",
    "school",
    "college",
    "hogeschool",
    "universiteit",
    "university",
    "company",
    "bedrijf",
    "groep",
    "group",
    "secretariaat",
    "receptie",
    "facturatie",
    "billing",
    "sales",
    "marketing",
    "newsletter",
    "nieuwsbrief",
    "mailer",
    "daemon",
    "postmaster",
    "notification",
    "notifications",
    "alerts",
    "system",
    "systeem",
    // what a subject says, not a name
    "klacht",
    "klachten",
    "complaint",
    "vraag",
    "question",
    "factuur",
    "invoice",
    "betaling",
    "payment",
    "bestelling",
    "cursus",
    "course",
    "examen",
    "exam",
    "re",
    "fw",
    "fwd",
    "aw",
];

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

    #[test]
    fn what_is_not_a_name_greets_no_one() {
        for raw in [
            "Klik hier voor uw prijs",
            "Win € 500 vandaag!",
            "Betaal nu",
            "Uw pakket ligt klaar",
            "Jan Jansen (www.jansen-advies.nl)",
            "Jan via jansen-advies.nl",
            "Klantenservice Gemeente Utrecht",
            "Team Support",
            "Piet Jansen 06-12345678",
            "Jan Jansen. Ik wacht al weken",
            "Is dit een naam?",
            "noreply",
            "Marie-Louise Anna Sophia Theodora Wilhelmina Jansen",
            "Klacht over cursus",
        ] {
            assert_eq!(clean(raw), None, "{raw:?}");
        }
        for name in [
            "J. de Vries",
            "A.M. van der Berg-Hendriks",
            "Dhr. P. Bakker",
            "Lotte in 't Veld",
            "Yasmina Bouzid",
            "O'Brien",
            "José Ramón García",
            "Jan en Marie Jansen",
            "ZOË VAN DIJK",
        ] {
            assert_eq!(clean(name).as_deref(), Some(name), "{name:?}");
        }
    }

    fn not_a_stop_word(word: &str) -> bool {
        let lower = word.to_lowercase();
        !NOT_IN_A_NAME.contains(&lower.as_str()) && !PARTICLES.contains(&lower.as_str())
    }

    /// A person's name as people write it: given names or initials, a tussenvoegsel, a
    /// surname (double-barrelled too), optionally a title or "Surname, Given".
    fn person() -> impl Strategy<Value = String> {
        let given =
            "[A-ZÉÖ][a-zëéïöüç]{1,9}".prop_filter("a name", |w: &String| not_a_stop_word(w));
        let initials = proptest::collection::vec("[A-Z]", 1..3)
            .prop_map(|l| l.iter().map(|c| format!("{c}.")).collect::<String>())
            .prop_filter("a person's initials, not a company's", |i| {
                i != "B.V." && i != "N.V."
            });
        let first = prop_oneof![given.clone(), initials];
        let surname = (given.clone(), proptest::option::of(given.clone()))
            .prop_map(|(a, b)| b.map_or(a.clone(), |b| format!("{a}-{b}")));
        let particle = proptest::option::of(proptest::sample::select(vec![
            "van", "de", "van der", "van den", "ter", "in 't", "el",
        ]));
        let title = proptest::option::of(proptest::sample::select(vec!["Dhr.", "Mevr.", "dr."]));
        (
            title,
            proptest::collection::vec(first, 0..3),
            particle,
            surname,
            any::<bool>(),
        )
            .prop_map(|(title, firsts, particle, surname, reversed)| {
                let last = match particle {
                    Some(p) => format!("{p} {surname}"),
                    None => surname,
                };
                let mut name = if reversed && !firsts.is_empty() {
                    format!("{last}, {}", firsts.join(" "))
                } else {
                    [firsts.join(" "), last]
                        .iter()
                        .filter(|p| !p.is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                if let Some(t) = title {
                    name = format!("{t} {name}");
                }
                name
            })
            .prop_filter("within the length", |n| n.chars().count() <= MAX_CHARS)
    }

    /// What turns a name into something else: a call to act, a sentence, a link or domain,
    /// an amount or a number, an organisation.
    fn poison() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(vec![
                "Klik hier",
                "Bel nu",
                "Betaal",
                "Click here",
                "Call now",
                "win",
                "Gratis",
                "uw prijs",
                "your refund",
                "Klantenservice",
                "Support",
                "B.V.",
                "Ltd",
            ])
            .prop_map(str::to_string),
            "[0-9]{1,6}".prop_map(|n| n.to_string()),
            "€ ?[0-9]{1,4}(,[0-9]{2})?".prop_map(|n| n.to_string()),
            "[0-9]{2,4},-".prop_map(|n| n.to_string()),
            "(https?://)?(www\\.)?[a-z]{3,10}\\.(nl|com|example|io)(/[a-z]{1,5})?",
            proptest::sample::select(vec!["!", "?", ":", "!!", "(", ")", "%", "$", "+"])
                .prop_map(str::to_string),
            proptest::sample::select(vec![". Ik wacht al weken", ". Please call me", " is boos"])
                .prop_map(str::to_string),
        ]
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
                prop_assert!(clean.chars().count() <= MAX_CHARS);
            }
        }

        /// A person's name is kept exactly as written.
        #[test]
        fn a_persons_name_is_kept(name in person()) {
            prop_assert_eq!(clean(&name), Some(name.clone()));
        }

        /// A name with a call to act, a sentence, a link or domain, an amount or a number, or
        /// an organisation beside it greets no one, wherever it stands.
        #[test]
        fn a_name_with_anything_else_greets_no_one(name in person(), poison in poison(), front in any::<bool>()) {
            let raw = if front { format!("{poison} {name}") } else { format!("{name} {poison}") };
            prop_assert_eq!(clean(&raw), None, "{:?}", raw);
        }

        /// Whatever a display name holds, what greets is short, one line, and has no digit,
        /// link, address or sentence mark in it.
        #[test]
        fn whatever_greets_reads_as_a_name(raw in "\\PC{0,80}") {
            if let Some(name) = clean(&raw) {
                prop_assert!(name.chars().count() <= MAX_CHARS);
                prop_assert!(!name.chars().any(|c| c.is_numeric() || c.is_control()));
                prop_assert!(!name.contains(['@', '!', '?', ':', ';', '/', '€', '$']));
                prop_assert!(!name.split_whitespace().any(looks_like_link));
                let counted = name
                    .split([' ', ','])
                    .filter(|w| !w.is_empty())
                    .filter(|w| !PARTICLES.contains(&w.to_lowercase().trim_matches(|c: char| !c.is_alphabetic())))
                    .count();
                prop_assert!((1..=MAX_WORDS).contains(&counted), "{name:?}");
            }
        }
    }
}
