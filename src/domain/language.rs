//! The language a complaint is written in, Dutch or English, from its text: `whatlang`'s
//! trigram model limited to the two, confirmed by the common function words of each. Unsure
//! (too short, mixed, neither) is `None`, and the caller falls back to Dutch.

use crate::settings::Language;
use whatlang::{Detector, Lang};

/// Dutch function words that English text hardly ever contains.
const DUTCH: [&str; 40] = [
    "de", "het", "een", "en", "van", "ik", "je", "u", "uw", "niet", "dat", "die", "is", "op", "te",
    "zijn", "voor", "met", "maar", "ook", "nog", "geen", "heb", "heeft", "wij", "we", "mijn", "er",
    "naar", "bij", "om", "dit", "wel", "al", "graag", "dan", "hebben", "was", "werd", "worden",
];

/// English function words that Dutch text hardly ever contains.
const ENGLISH: [&str; 40] = [
    "the", "and", "of", "to", "i", "you", "your", "not", "that", "this", "is", "on", "for", "with",
    "but", "also", "still", "no", "have", "has", "we", "my", "there", "at", "it", "was", "were",
    "be", "been", "would", "could", "please", "from", "a", "an", "are", "me", "our", "which",
    "what",
];

/// How many words of each list a text has (a word in both lists counts for neither).
fn function_words(text: &str) -> (usize, usize) {
    let mut nl = 0;
    let mut en = 0;
    for word in text
        .split(|c: char| !c.is_alphabetic() && c != '\'')
        .map(str::to_lowercase)
        .filter(|w| !w.is_empty())
    {
        let (d, e) = (
            DUTCH.contains(&word.as_str()),
            ENGLISH.contains(&word.as_str()),
        );
        match (d, e) {
            (true, false) => nl += 1,
            (false, true) => en += 1,
            _ => {}
        }
    }
    (nl, en)
}

/// The language of `text` when the evidence agrees; `None` when unsure.
pub fn detect(text: &str) -> Option<Language> {
    // Addresses and links carry no language.
    let cleaned: String = text
        .split_whitespace()
        .filter(|w| !w.contains('@') && !w.contains("://") && !w.starts_with("www."))
        .take(400)
        .collect::<Vec<_>>()
        .join(" ");
    let (nl, en) = function_words(&cleaned);
    let model = Detector::with_allowlist(vec![Lang::Nld, Lang::Eng])
        .detect(&cleaned)
        .filter(|info| info.confidence() >= 0.5)
        .map(|info| match info.lang() {
            Lang::Eng => Language::En,
            _ => Language::Nl,
        });
    let words = match (nl, en) {
        (n, e) if e >= 2 && e >= 2 * n.max(1) => Some(Language::En),
        (n, e) if n >= 2 && n >= 2 * e.max(1) => Some(Language::Nl),
        _ => None,
    };
    match (model, words) {
        // The model decides unless the function words clearly say otherwise; the words decide
        // when the model is unsure.
        (Some(m), Some(w)) if m != w => None,
        (Some(m), _) => Some(m),
        (None, w) => w,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_cases() {
        assert_eq!(
            detect("I am writing to complain about the course that was cancelled."),
            Some(Language::En)
        );
        assert_eq!(
            detect("Ik wil een klacht indienen over de cursus die is geannuleerd."),
            Some(Language::Nl)
        );
        assert_eq!(detect(""), None);
        assert_eq!(detect("OK"), None);
    }
}
