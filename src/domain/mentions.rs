//! Which staff members a text names (issue 25, "a complaint about a colleague never reaches
//! that colleague"): a name or alias from `[roles.names]` as whole words in any case, with or
//! without accents, also across line breaks and HTML; "mevrouw/meneer <achternaam>" (and
//! "dhr.", "mw.", "Mrs", "Mr" …) where only one person has that surname; and a staff address
//! written out. Pure: the caller hands in the names and addresses and the texts.

use std::collections::BTreeSet;

/// Words that put a surname after them: "mevrouw De Vries", "dhr. Bakker", "Mrs de Vries".
const TITLES: &[&str] = &[
    "mevrouw", "mevr", "mw", "mvr", "meneer", "mijnheer", "mnr", "dhr", "heer", "juffrouw", "juf",
    "mrs", "ms", "mr", "miss", "mister",
];

/// The staff names to look for, each with the address it stands for.
#[derive(Debug, Clone, Default)]
pub struct StaffNames {
    /// Folded words of a name (or title + surname) and the address.
    phrases: Vec<(Vec<String>, String)>,
    /// Addresses, lower-case, looked for as written.
    addresses: Vec<String>,
}

impl StaffNames {
    /// `names`: every (name, address) of `[roles.names]`; `addresses`: every role address.
    pub fn new<'a>(
        names: impl IntoIterator<Item = (&'a str, &'a str)>,
        addresses: impl IntoIterator<Item = &'a str>,
    ) -> StaffNames {
        let names: Vec<(&str, String)> = names
            .into_iter()
            .map(|(n, a)| (n, a.to_lowercase()))
            .collect();
        let mut phrases: Vec<(Vec<String>, String)> = Vec::new();
        // Surname → the addresses it belongs to; used only where it names one person.
        let mut surnames: Vec<(Vec<String>, BTreeSet<String>)> = Vec::new();
        for (name, address) in &names {
            let words = words_of(name, true);
            if words.is_empty() {
                continue;
            }
            phrases.push((words, address.clone()));
            // The surname: everything after the first name ("Anna de Vries" → "de Vries").
            let mut parts = name.split_whitespace();
            let first = parts.next().unwrap_or_default();
            let rest: Vec<&str> = parts.collect();
            let surname = words_of(&rest.join(" "), true);
            if surname.is_empty() {
                continue;
            }
            // The initial and the surname ("A. de Vries", "mevr. A. de Vries"): as sure as
            // the whole name.
            if let Some(initial) = words_of(first, true).first().and_then(|w| w.chars().next()) {
                let mut words = vec![initial.to_string()];
                words.extend(surname.iter().cloned());
                phrases.push((words, address.clone()));
            }
            match surnames.iter_mut().find(|(s, _)| *s == surname) {
                Some((_, owners)) => {
                    owners.insert(address.clone());
                }
                None => surnames.push((surname, BTreeSet::from([address.clone()]))),
            }
        }
        for (surname, owners) in surnames {
            if owners.len() != 1 {
                continue;
            }
            let address = owners.into_iter().next().expect("one owner");
            for title in TITLES {
                let mut words = vec![title.to_string()];
                words.extend(surname.iter().cloned());
                phrases.push((words, address.clone()));
            }
        }
        let addresses = addresses
            .into_iter()
            .map(str::to_lowercase)
            .chain(names.iter().map(|(_, a)| a.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        StaffNames { phrases, addresses }
    }

    /// The addresses of the staff members the texts name, in address order.
    pub fn named_in(&self, texts: &[&str]) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for text in texts {
            // Invisible characters (a soft hyphen, a zero-width space) read both as nothing
            // ("V\u{ad}ries") and as a break between words ("de\u{200b}Vries"); a text
            // without any has one reading (issue 26: the words of a complaint made once).
            let readings: &[bool] = if self.phrases.is_empty() {
                &[]
            } else if text.chars().any(crate::domain::address::is_invisible) {
                &[true, false]
            } else {
                &[true]
            };
            for &joined in readings {
                let words = words_of(text, joined);
                for (phrase, address) in &self.phrases {
                    if words.windows(phrase.len()).any(|w| w == phrase.as_slice()) {
                        found.insert(address.clone());
                    }
                }
            }
            let lower = text.to_lowercase();
            for address in &self.addresses {
                if contains_address(&lower, address) {
                    found.insert(address.clone());
                }
            }
        }
        found
    }
}

/// Whether `address` occurs in `text` as a whole address (not inside a longer one). Each
/// occurrence has the address's `@` where the text has one, so only those places are looked
/// at: a complaint has a few, and searching the whole text for every staff address was most
/// of the time spent finding staff named in a complaint.
fn contains_address(text: &str, address: &str) -> bool {
    // Where the address occurs, left to right.
    let occurrences: Box<dyn Iterator<Item = usize>> = match address.find('@') {
        Some(local) => Box::new(
            memchr::memchr_iter(b'@', text.as_bytes())
                .filter_map(move |at| at.checked_sub(local))
                .filter(|&start| text.get(start..start + address.len()) == Some(address)),
        ),
        None => Box::new(text.match_indices(address).map(|(start, _)| start)),
    };
    // An occurrence that overlaps the one before is not looked at (one address cannot be
    // two).
    let mut from = 0;
    for start in occurrences {
        if start < from {
            continue;
        }
        if stands_alone(text, start, start + address.len()) {
            return true;
        }
        from = start + address.len().max(1);
    }
    false
}

/// Whether the address at `text[start..end]` is whole: no character of an address right
/// before or after it. A dot may end a sentence after an address, but not start one before it.
fn stands_alone(text: &str, start: usize, end: usize) -> bool {
    let part_of_address = |c: char| {
        c.is_alphanumeric() || "._%+-".contains(c) || crate::domain::address::is_invisible(c)
    };
    let before = text[..start].chars().next_back();
    let after_ok = match text[end..].chars().next() {
        None => true,
        Some('.') => text[end + 1..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric()),
        Some(c) => !part_of_address(c),
    };
    before.is_none_or(|c| !part_of_address(c)) && after_ok
}

/// The words of `text`, lower-case and without accents; invisible format characters are
/// dropped (`joined`) or break words.
fn words_of(text: &str, joined: bool) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        // ASCII, most of any text: no accent to fold, nothing invisible (issue 26).
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                word.push(c.to_ascii_lowercase());
                continue;
            }
        } else if crate::domain::address::is_invisible(c) {
            if joined {
                continue;
            }
        } else if c.is_alphanumeric() {
            for l in c.to_lowercase() {
                word.push(fold(l));
            }
            continue;
        }
        if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// A letter without its accent (the Latin letters Dutch, German, French and Scandinavian
/// names use), so "Vriës" and "Vries", "Müller" and "Muller" are the same word; a full-width
/// letter, or a Cyrillic or Greek one that looks like a Latin letter, as that letter (a name
/// written to slip past: "Аnna" with a Cyrillic А).
fn fold(c: char) -> char {
    if ('\u{FF21}'..='\u{FF3A}').contains(&c) || ('\u{FF41}'..='\u{FF5A}').contains(&c) {
        return char::from_u32(c as u32 - 0xFEE0)
            .map(|c| c.to_ascii_lowercase())
            .unwrap_or(c);
    }
    match c {
        'а' => 'a',
        'в' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ё' | 'ε' => 'e',
        'һ' => 'h',
        'і' | 'ї' | 'ι' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'н' | 'η' => 'n',
        'о' | 'ο' => 'o',
        'р' | 'ρ' => 'p',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' => 'u',
        'ν' => 'v',
        'ԝ' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' => 'y',
        _ => fold_accent(c),
    }
}

fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'ď' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => 'i',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => 'u',
        'ý' | 'ÿ' => 'y',
        'ś' | 'š' | 'ş' => 's',
        'ź' | 'ż' | 'ž' => 'z',
        'ł' => 'l',
        'ř' => 'r',
        'ť' => 't',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn staff() -> StaffNames {
        StaffNames::new(
            [
                ("Anna de Vries", "anna.devries@example.org"),
                ("Pieter Bakker", "pieter@example.org"),
                ("Piet", "pieter@example.org"),
                ("Jan Bakker", "jan@example.org"),
                ("Marjolein Dijkstra", "directie@example.org"),
            ],
            [
                "anna.devries@example.org",
                "pieter@example.org",
                "jan@example.org",
                "staff@example.org",
            ],
        )
    }

    fn named(text: &str) -> Vec<String> {
        staff().named_in(&[text]).into_iter().collect()
    }

    #[test]
    fn names_aliases_titles_and_addresses() {
        for (text, who) in [
            (
                "Mijn docent Anna de Vries was onvriendelijk",
                vec!["anna.devries@example.org"],
            ),
            ("ANNA DE VRIES", vec!["anna.devries@example.org"]),
            ("anna\nde\r\n  vries", vec!["anna.devries@example.org"]),
            ("Anna de Vriës", vec!["anna.devries@example.org"]),
            (
                "mevrouw De Vries zei niets",
                vec!["anna.devries@example.org"],
            ),
            ("Mevr. de Vries", vec!["anna.devries@example.org"]),
            ("Mrs de Vries", vec!["anna.devries@example.org"]),
            ("Piet kwam te laat", vec!["pieter@example.org"]),
            ("schrijf staff@example.org.", vec!["staff@example.org"]),
            (
                "A\u{ad}nna de Vr\u{ad}ies",
                vec!["anna.devries@example.org"],
            ),
            ("Anna de\u{200b}Vries", vec!["anna.devries@example.org"]),
            ("Marjolein Dijkstra", vec!["directie@example.org"]),
            ("A. de Vries", vec!["anna.devries@example.org"]),
            ("mevr. A de Vries", vec!["anna.devries@example.org"]),
            (
                "\u{0410}nna de Vri\u{0435}s",
                vec!["anna.devries@example.org"],
            ),
            (
                "\u{FF21}\u{FF4E}\u{FF4E}\u{FF41} de Vries",
                vec!["anna.devries@example.org"],
            ),
        ] {
            assert_eq!(named(text), who, "{text}");
        }
    }

    #[test]
    fn whole_words_only_and_ambiguous_surnames_are_not_guessed() {
        for text in [
            "Annabel de Vriesland",
            "Pietje",
            // Two staff members are called Bakker: "meneer Bakker" names neither.
            "meneer Bakker was er niet",
            "de vries",
            "mystaff@example.org",
            "staff@example.org.uk",
            "Het vriest; de Vries-kou",
        ] {
            assert!(named(text).is_empty(), "{text}: {:?}", named(text));
        }
        assert_eq!(
            named("Pieter Bakker en Jan Bakker"),
            vec!["jan@example.org", "pieter@example.org"]
        );
    }

    /// A piece of text that cannot contain any staff word: only these letters and separators.
    const FILLER: &str = "[xqz ,.;:!?\n\t]{0,40}";

    /// [`contains_address`] as it was: the whole text searched for the address, each
    /// occurrence after the last one looked at.
    fn contains_address_by_search(text: &str, address: &str) -> bool {
        let mut from = 0;
        while let Some(i) = text[from..].find(address) {
            let start = from + i;
            if stands_alone(text, start, start + address.len()) {
                return true;
            }
            from = start + address.len().max(1);
        }
        false
    }

    /// Occurrences that overlap: the second is not looked at, as the search before did not.
    #[test]
    fn an_occurrence_overlapping_the_one_before_is_not_looked_at() {
        for (text, found) in [
            ("xb.a@b.a@b.a", false),
            ("b.a@b.a@b.a", true),
            ("b.a@b.a", true),
        ] {
            assert_eq!(contains_address(text, "b.a@b.a"), found, "{text}");
            assert_eq!(contains_address_by_search(text, "b.a@b.a"), found, "{text}");
        }
    }

    proptest! {
        /// Looking only where the text has an `@` finds what searching all of it found: for
        /// texts made of the address, its parts (so occurrences touch, overlap and repeat:
        /// `b.a@b.a@b.a`), letters and separators.
        #[test]
        fn looking_at_the_at_signs_finds_what_the_search_found(
            local in "[ab]{1,2}(\\.[ab])?",
            domain in "[ab]{1,2}(\\.[ab])?",
            same in any::<bool>(),
            pieces in proptest::collection::vec(0usize..10, 0..14),
        ) {
            // A domain that is also the local part makes overlapping occurrences.
            let domain = if same { local.clone() } else { domain };
            let address = format!("{local}@{domain}");
            let parts = [
                address.as_str(), local.as_str(), domain.as_str(), "@", ".", "x", "é",
                "\u{200b}", " ", "-",
            ];
            let text: String = pieces.iter().map(|&i| parts[i]).collect();
            prop_assert_eq!(
                contains_address(&text, &address),
                contains_address_by_search(&text, &address),
                "{:?} in {:?}", address, text
            );
        }
    }

    proptest! {
        /// A name, written with any case and any white space or punctuation between its words,
        /// anywhere in any text, is found; the same text without it names nobody.
        #[test]
        fn a_name_anywhere_is_found(
            before in FILLER,
            after in FILLER,
            which in 0usize..4,
            upper in proptest::collection::vec(any::<bool>(), 0..20),
            seps in proptest::collection::vec(prop_oneof![Just(" "), Just("\n"), Just("  "), Just(" \r\n ")], 0..4),
        ) {
            let (name, address) = [
                ("Anna de Vries", "anna.devries@example.org"),
                ("Pieter Bakker", "pieter@example.org"),
                ("Piet", "pieter@example.org"),
                ("mevrouw de Vries", "anna.devries@example.org"),
            ][which];
            let mut written = String::new();
            for (i, word) in name.split(' ').enumerate() {
                if i > 0 {
                    written.push_str(seps.get(i).copied().unwrap_or(" "));
                }
                for (j, c) in word.chars().enumerate() {
                    if upper.get(j).copied().unwrap_or(false) {
                        written.extend(c.to_uppercase());
                    } else {
                        written.push(c);
                    }
                }
            }
            // Whole words: a separator on both sides.
            let text = format!("{before} {written} {after}");
            prop_assert!(staff().named_in(&[&text]).contains(address), "{}", text);
            let none = format!("{before} {after}");
            prop_assert!(staff().named_in(&[&none]).is_empty());
        }

        /// The words of any text are what the letter-by-letter reading made of them before
        /// the ASCII shortcut, and one reading of a text without invisible characters finds
        /// what the two found (issue 26).
        #[test]
        fn words_match_the_letter_by_letter_reading(
            text in "[a-zA-Z0-9 .,\\-éÉüÄøАаЅ\u{00AD}\u{200B}\u{FEFF}\u{FF21}-\u{FF3A}ß\n]{0,60}",
            joined in any::<bool>(),
        ) {
            let slow = |text: &str, joined: bool| {
                let mut words = Vec::new();
                let mut word = String::new();
                for c in text.chars() {
                    if crate::domain::address::is_invisible(c) {
                        if joined {
                            continue;
                        }
                    } else if c.is_alphanumeric() {
                        for l in c.to_lowercase() {
                            word.push(fold(l));
                        }
                        continue;
                    }
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                }
                if !word.is_empty() {
                    words.push(word);
                }
                words
            };
            prop_assert_eq!(words_of(&text, joined), slow(&text, joined));
            if !text.chars().any(crate::domain::address::is_invisible) {
                prop_assert_eq!(words_of(&text, true), words_of(&text, false));
            }
        }
    }
}
