//! Language detection on short complaint texts: Dutch, English and mixed (Dutch course names in
//! English mail, English jargon in Dutch mail). Unsure counts as Dutch, as intake treats it.
//! The measured accuracy is printed; run with `--nocapture` to see it.

use klachtd::domain::Language;
use klachtd::domain::language::detect;

const DUTCH: &[&str] = &[
    "Workshop geannuleerd, geen bericht ontvangen",
    "Ik heb de factuur twee keer betaald.",
    "Waarom heb ik mijn certificaat nog niet?",
    "De docent kwam drie keer te laat.",
    "Examenuitslag na 8 weken nog niet ontvangen",
    "Beste meneer, mevrouw, de cursus is zonder bericht niet doorgegaan. Graag een reactie.",
    "Lesgeld twee keer geïncasseerd",
    "Klacht over docent Nederlands NT2",
    "Ik ben het niet eens met de beoordeling van mijn examen.",
    "Er is geen lift in het gebouw en ik zit in een rolstoel.",
    "Mijn naam staat verkeerd op het certificaat.",
    "Parkeerkosten locatie Zwolle niet vergoed",
    "Hallo, ik wacht al drie weken op antwoord op mijn mail.",
    "De online les viel steeds weg, we konden niets volgen.",
    "Onterechte betalingsherinnering, factuur al op 2 oktober betaald",
    "Geachte heer/mevrouw, hierbij dien ik een klacht in over de gang van zaken rond mijn herexamen.",
    "Het lesmateriaal is verouderd (editie 2023).",
    "Waarom is de cursus verplaatst naar een andere locatie?",
    "Ik heb nooit een bevestiging van mijn inschrijving gekregen.",
    "Zie onderwerp.",
    "Klacht: cursus Café-ondernemer geannuleerd – geen restitutie",
    "De deadline van de assignment was niet duidelijk gecommuniceerd.",
    "De trainer was onvoorbereid en de slides klopten niet.",
    "Ik wil graag mijn geld terug.",
    "Na de e-learning kreeg ik een foutmelding bij het inloggen.",
    "Vriendelijke groet, Jan",
    "Ik heb gebeld maar niemand nam op.",
    "De koffie was koud en de zaal te klein.",
    "Helaas moet ik een klacht indienen.",
    "Kunt u mij laten weten wanneer ik een reactie kan verwachten?",
];

const ENGLISH: &[&str] = &[
    "Course cancelled, refund still outstanding",
    "I paid the invoice twice.",
    "Why have I not received my certificate yet?",
    "The teacher was late three times.",
    "It has now been seven weeks and I have not received anything.",
    "Dear Sir or Madam, the course was cancelled without notice. Please reply.",
    "Complaint about the exam",
    "I do not agree with the assessment of my exam.",
    "There is no lift in the building and I use a wheelchair.",
    "My name is spelled wrong on the certificate.",
    "Hello, I have been waiting three weeks for an answer to my email.",
    "The online lesson kept dropping out, we could not follow anything.",
    "I never received a confirmation of my registration.",
    "Could you please let me know when I can expect a reply?",
    "I would like my money back.",
    "The trainer was unprepared and the slides were wrong.",
    "Unfair payment reminder, invoice already paid on 2 October",
    "I called but nobody answered the phone.",
    "Unfortunately I have to file a complaint.",
    "The room was too small and it was very cold.",
    "Sent my documents twice, still no response from your office.",
    "Hi, is there any update on my complaint?",
    "The exam was moved without telling us.",
    "Kind regards, Oliver",
    "The login for the e-learning does not work.",
    "Wrong amount charged for the course fee",
    "This is unacceptable.",
    "We were promised a refund of 795 euros.",
    "Where is my certificate?",
    "My complaint was ignored.",
];

/// Mixed texts, with the language the writer reads (Dutch when it is a toss-up).
const MIXED: &[(&str, Language)] = &[
    (
        "Complaint: Dutch for Professionals A2 cancelled, refund still outstanding",
        Language::En,
    ),
    (
        "I attended the course Praktijkdiploma Loonadministratie in Utrecht and the teacher never showed up.",
        Language::En,
    ),
    (
        "The cursus Boekhouden voor zzp'ers was cancelled twice.",
        Language::En,
    ),
    (
        "My BHV herhaling certificate has not arrived.",
        Language::En,
    ),
    (
        "Ik heb de course 'Leadership in Practice' gevolgd maar het certificaat ontbreekt.",
        Language::Nl,
    ),
    (
        "De feedback op mijn assignment was niet helpful.",
        Language::Nl,
    ),
    (
        "Sorry for my Dutch: ik ben niet tevreden over de les.",
        Language::Nl,
    ),
    ("Hallo, I have a vraag over de factuur.", Language::Nl),
    (
        "Please reply in English. De docent was te laat.",
        Language::Nl,
    ),
    (
        "Thank you for your reply. Helaas is het probleem niet opgelost.",
        Language::Nl,
    ),
    (
        "Regarding invoice F2026-1187 for the Excel gevorderd course: the amount is wrong.",
        Language::En,
    ),
    ("Re: Ontvangstbevestiging klacht", Language::Nl),
];

fn as_read(detected: Option<Language>) -> Language {
    detected.unwrap_or(Language::Nl)
}

#[test]
fn accuracy_on_dutch_english_and_mixed_short_texts() {
    let mut rows: Vec<(&str, Language)> = Vec::new();
    rows.extend(DUTCH.iter().map(|t| (*t, Language::Nl)));
    rows.extend(ENGLISH.iter().map(|t| (*t, Language::En)));
    rows.extend(MIXED.iter().copied());
    let mut wrong = Vec::new();
    let mut by_class = [(0usize, 0usize); 3];
    for (i, (text, expected)) in rows.iter().enumerate() {
        let class = if i < DUTCH.len() {
            0
        } else if i < DUTCH.len() + ENGLISH.len() {
            1
        } else {
            2
        };
        by_class[class].1 += 1;
        if as_read(detect(text)) == *expected {
            by_class[class].0 += 1;
        } else {
            wrong.push((*text, *expected, detect(text)));
        }
    }
    for (name, (ok, n)) in ["Dutch", "English", "mixed"].iter().zip(by_class) {
        println!("{name}: {ok}/{n} ({:.0} %)", 100.0 * ok as f64 / n as f64);
    }
    for w in &wrong {
        println!("wrong: {w:?}");
    }
    // Dutch must never be answered in English: that is the costly mistake.
    assert_eq!(by_class[0].0, by_class[0].1, "Dutch misread: {wrong:?}");
    assert!(by_class[1].0 * 10 >= by_class[1].1 * 9, "{wrong:?}");
    assert!(by_class[2].0 * 4 >= by_class[2].1 * 3, "{wrong:?}");
}

#[test]
fn long_texts_are_clear() {
    let nl = DUTCH.join(" ");
    let en = ENGLISH.join(" ");
    assert_eq!(detect(&nl), Some(Language::Nl));
    assert_eq!(detect(&en), Some(Language::En));
}

mod generated {
    use super::*;
    use proptest::prelude::*;

    /// English names and jargon that Dutch complaints carry.
    const ENGLISH_INSERTS: &[&str] = &[
        "Leadership in Practice",
        "Excel",
        "e-learning",
        "deadline",
        "assignment",
        "feedback",
        "Microsoft Teams",
        "online",
        "Project Management Foundation",
    ];

    proptest! {
        /// Dutch sentences with English course names and jargon mixed in are never read as
        /// English: a Dutch complainant must not get an English letter.
        #[test]
        fn dutch_with_english_names_stays_dutch(
            sentences in proptest::collection::vec(0..DUTCH.len(), 1..4),
            inserts in proptest::collection::vec(0..ENGLISH_INSERTS.len(), 0..3),
        ) {
            let mut text: Vec<String> = sentences.iter().map(|&i| DUTCH[i].to_string()).collect();
            for (n, &i) in inserts.iter().enumerate() {
                let at = n % text.len();
                text[at] = format!("{} ({})", text[at], ENGLISH_INSERTS[i]);
            }
            let text = text.join("\n");
            prop_assert_ne!(detect(&text), Some(Language::En), "{}", text);
        }

        /// English text is never read as Dutch, and three different sentences or more are
        /// English. (The same short line three times — "Kind regards, Oliver" twice under one
        /// sentence — may leave it unsure, which answers in Dutch: never the wrong way round.)
        #[test]
        fn english_sentences_are_english(
            sentences in proptest::collection::vec(0..ENGLISH.len(), 1..5),
        ) {
            let text = sentences.iter().map(|&i| ENGLISH[i]).collect::<Vec<_>>().join("\n");
            prop_assert_ne!(detect(&text), Some(Language::Nl), "{}", text);
            let different: std::collections::BTreeSet<_> = sentences.iter().collect();
            if different.len() >= 3 {
                prop_assert_eq!(detect(&text), Some(Language::En), "{}", text);
            }
        }

        /// Text without words (numbers, references, punctuation) is unsure, so Dutch.
        #[test]
        fn no_words_no_language(text in "[0-9 .,:;/()€#\\-]{0,60}") {
            prop_assert_eq!(detect(&text), None);
        }
    }
}

/// The sample corpus: every complaint is Dutch except the English Outlook one.
#[test]
fn the_samples_are_read_in_their_language() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".eml") {
            continue;
        }
        let Some(mail) = klachtd::inbound::InboundMail::parse(&std::fs::read(&path).unwrap())
        else {
            continue;
        };
        let detected = as_read(detect(&format!("{}\n{}", mail.subject, mail.text)));
        if name.contains("_staf_") {
            continue; // staff replies are not complaints
        }
        let expected = if name.starts_with("09_") {
            Language::En
        } else {
            Language::Nl
        };
        assert_eq!(detected, expected, "{name}");
        checked += 1;
    }
    assert!(checked >= 25, "{checked}");
}
