//! The languages klachtd writes in ([`Language`]), and the one a complaint is written in,
//! Dutch or English, from its text: `whatlang`'s trigram model limited to the two, confirmed by
//! the common function words of each. Unsure (too short, mixed, neither) is `None`, and the
//! caller falls back to Dutch.

use serde::Deserialize;
use whatlang::{Detector, Lang};

/// The languages klachtd writes mail in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Nl,
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Nl => "nl",
            Language::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Language> {
        match s {
            "nl" => Some(Language::Nl),
            "en" => Some(Language::En),
            _ => None,
        }
    }
}

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
    // No word of either list is longer than six letters, and lower-casing never shortens a
    // word: longer ones are skipped before the (allocating) lower-casing.
    for word in text
        .split(|c: char| !c.is_alphabetic() && c != '\'')
        .filter(|w| !w.is_empty() && w.chars().nth(6).is_none())
    {
        let lower;
        let word = if word.bytes().all(|b| b.is_ascii_lowercase() || b == b'\'') {
            word
        } else {
            lower = word.to_lowercase();
            lower.as_str()
        };
        let (d, e) = (DUTCH.contains(&word), ENGLISH.contains(&word));
        match (d, e) {
            (true, false) => nl += 1,
            (false, true) => en += 1,
            _ => {}
        }
    }
    (nl, en)
}

/// The words of `text` that carry its language: no addresses or links, and no capitalised words
/// inside a sentence — names and course titles ("Project Management Foundation") are often in
/// the other language.
fn language_words(text: &str) -> String {
    let mut kept = Vec::new();
    let mut length = 0;
    for line in text.lines().take(200) {
        if length >= MAX_SAMPLE {
            break;
        }
        // A line starts a sentence too: mail is written in lines.
        let mut sentence_start = true;
        for word in line.split_whitespace() {
            let is_name = !sentence_start
                && word
                    .trim_start_matches(|c: char| !c.is_alphanumeric())
                    .chars()
                    .next()
                    .is_some_and(char::is_uppercase);
            let is_address = word.contains('@') || word.contains("://") || word.starts_with("www.");
            if !is_name && !is_address {
                kept.push(word);
                length += word.len() + 1;
            }
            sentence_start = word.ends_with(['.', '!', '?', ':']);
        }
    }
    kept.join(" ")
}

/// How many characters of a text's language words are judged: the first 2,000 show the
/// language as well as the whole text does, and the model's cost grows with the length.
const MAX_SAMPLE: usize = 2000;

/// The language of `text` when the evidence agrees; `None` when unsure. English needs more
/// evidence than Dutch: answering a Dutch complainant in English is the costlier mistake.
pub fn detect(text: &str) -> Option<Language> {
    let cleaned = language_words(text);
    let cleaned = match cleaned.char_indices().nth(MAX_SAMPLE) {
        Some((at, _)) => &cleaned[..cleaned[..at].rfind(' ').unwrap_or(at)],
        None => cleaned.as_str(),
    };
    let (nl, en) = function_words(cleaned);
    let info = Detector::with_allowlist(vec![Lang::Nld, Lang::Eng]).detect(cleaned);
    let model = info.and_then(|info| match info.lang() {
        Lang::Eng if info.confidence() >= 0.5 => Some((Language::En, info.confidence())),
        Lang::Nld if info.confidence() >= 0.5 => Some((Language::Nl, info.confidence())),
        _ => None,
    });
    let words = match (nl, en) {
        (n, e) if e >= 2 && e >= 2 * n.max(1) => Some(Language::En),
        (n, e) if n >= 2 && n >= 2 * e.max(1) => Some(Language::Nl),
        _ => None,
    };
    match (model, words) {
        // The model decides unless the function words clearly say otherwise; the words decide
        // when the model is unsure.
        (Some((m, _)), Some(w)) if m != w => None,
        // Without a single English function word, English needs a confident model.
        (Some((Language::En, confidence)), None) if en == 0 && confidence < 0.9 => None,
        (Some((m, _)), _) => Some(m),
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
