//! The staff reply samples (19–31) and the complainants' follow-ups (17, 18): the new text and
//! the command block found in both the plain and the HTML part must be what the MANIFEST says.

use klachtd::commands::{
    Command, CommandBlock, CommandError, Keyword, Verdict, new_text, parse_block,
};
use klachtd::inbound::InboundMail;
use std::path::Path;

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

struct Row {
    file: String,
    phrase: String,
    commands: String,
}

fn rows() -> Vec<Row> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::read_to_string(dir.join("MANIFEST.tsv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                file: f[0].into(),
                phrase: f[5].into(),
                commands: f[6].into(),
            }
        })
        .collect()
}

fn mail(file: &str) -> InboundMail {
    let raw = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(file),
    )
    .unwrap();
    InboundMail::parse(&raw).unwrap()
}

/// The command's value as text, for comparison with the MANIFEST.
fn value_of(c: &Command) -> Option<String> {
    match c {
        Command::Handler(v)
        | Command::Category(v)
        | Command::Cause(v)
        | Command::Solution(v)
        | Command::Measure(v)
        | Command::Complaint(v)
        | Command::Recommendation(v) => Some(v.clone()),
        Command::Agreement(b) => Some(if *b { "ja" } else { "nee" }.into()),
        Command::Escalate(v)
        | Command::Reopen(v)
        | Command::Note(v)
        | Command::Appeal(v)
        | Command::NotAComplaint(v) => v.clone(),
        Command::Verdict { verdict, text } => Some(format!(
            "{} {}",
            verdict.as_str(),
            text.clone().unwrap_or_default()
        )),
        Command::Reply | Command::Close => None,
        Command::Extend { working_days, .. } => Some(working_days.to_string()),
        Command::Language(l) => Some(l.as_str().to_string()),
        // issue 25: no fixture uses them.
        Command::Concerns(v) => v.clone(),
        Command::HoldUntil { until, .. } => Some(until.to_string()),
        Command::HoldOff => Some("nee".into()),
        Command::Request(r) => Some(format!("{r:?}")),
    }
}

/// Checks a parsed block against one MANIFEST `commands_parsed` cell.
fn check(file: &str, part: &str, block: &CommandBlock, expected: &str) {
    let what = format!("{file} ({part})");
    let expected = expected
        .strip_prefix("(would be: ")
        .map(|e| e.split(") ->").next().unwrap())
        .unwrap_or(expected);
    if expected == "(none)" {
        assert!(
            block.is_empty(),
            "{what}: expected no commands, got {:?}",
            block.lines
        );
        return;
    }
    let items: Vec<&str> = expected.split(" | ").collect();
    assert_eq!(block.lines.len(), items.len(), "{what}: {:?}", block.lines);
    for (item, line) in items.iter().zip(&block.lines) {
        let is_error = item.contains("(ERROR:");
        let item = item.split(" (ERROR:").next().unwrap();
        if let Some(text) = item.strip_prefix("Reactie (text: '") {
            assert_eq!(line.result, Ok(Command::Reply), "{what}");
            let (first, last) = text.trim_end_matches("')").split_once(" ... ").unwrap();
            assert!(
                block.message.starts_with(first),
                "{what}: message starts {:?}",
                &block.message
            );
            assert!(
                block.message.ends_with(last),
                "{what}: message ends {:?}",
                &block.message
            );
            continue;
        }
        if let Some(rest) = item.strip_prefix("Verdict=") {
            let (verdict, text) = rest.split_once(" + text '").unwrap();
            match &line.result {
                Ok(Command::Verdict {
                    verdict: v,
                    text: t,
                }) => {
                    assert_eq!(
                        *v,
                        if verdict == "gegrond" {
                            Verdict::Upheld
                        } else {
                            Verdict::Rejected
                        },
                        "{what}"
                    );
                    assert_eq!(
                        squash(t.as_deref().unwrap()),
                        squash(text.trim_end_matches('\'')),
                        "{what}"
                    );
                }
                other => panic!("{what}: {other:?}"),
            }
            continue;
        }
        let (key, value) = match item.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (item, None),
        };
        if is_error {
            match &line.result {
                Err(CommandError::UnknownKeyword { typed, suggestion }) => {
                    assert_eq!(typed, key, "{what}");
                    assert_eq!(*suggestion, Some(Keyword::Cause), "{what}");
                }
                Err(CommandError::InvalidValue {
                    keyword, value: v, ..
                }) => {
                    assert_eq!(Some(*keyword), Keyword::lookup(key), "{what}");
                    assert_eq!(Some(v.as_str()), value, "{what}");
                }
                other => panic!("{what}: expected an error for {item}, got {other:?}"),
            }
            continue;
        }
        let command = line
            .result
            .as_ref()
            .unwrap_or_else(|e| panic!("{what}: {item}: {e}"));
        assert_eq!(
            Some(command.keyword()),
            Keyword::lookup(key),
            "{what}: {item}"
        );
        let got = value_of(command).map(|v| squash(&v));
        assert_eq!(got, value.map(squash), "{what}: {item}");
    }
}

#[test]
fn every_staff_sample_parses_as_the_manifest_says_in_plain_and_html() {
    let mut checked = 0;
    for row in rows().into_iter().filter(|r| r.commands != "-") {
        let m = mail(&row.file);
        assert!(m.has_plain_text, "{}", row.file);
        let plain = new_text::new_text_from_plain(&m.text).text;
        check(&row.file, "plain", &parse_block(&plain), &row.commands);
        assert!(
            squash(&plain).contains(&squash(&row.phrase)),
            "{}: new text lacks {:?}:\n{plain}",
            row.file,
            row.phrase
        );
        for quoted_only in [
            "Van: Klachtenregistratie",
            "From: Klachtenregistratie",
            "schreef Klachtenregistratie",
            "het volgende geschreven",
        ] {
            assert!(
                !plain.contains(quoted_only),
                "{}: quote leaked into the new text",
                row.file
            );
        }
        if let Some(html) = &m.html {
            let from_html = new_text::new_text_from_html(html).text;
            check(&row.file, "html", &parse_block(&from_html), &row.commands);
            let (a, b) = (parse_block(&plain), parse_block(&from_html));
            assert_eq!(
                a.lines.len(),
                b.lines.len(),
                "{}: plain and HTML agree",
                row.file
            );
            assert_eq!(
                squash(&a.message),
                squash(&b.message),
                "{}: plain and HTML message agree",
                row.file
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 13, "samples 19–31");
}

#[test]
fn the_reaction_text_keeps_the_greeting_and_loses_signature_and_quote() {
    let m = mail("21_staf_gmail_nl_reactie.eml");
    let block = parse_block(&klachtd::commands::new_text(Some(&m.text), m.html.as_deref()).text);
    assert!(block.message.starts_with("Beste mevrouw Dekker,"));
    assert!(
        block.message.trim_end().ends_with("Onderwijscoördinator"),
        "{}",
        block.message
    );
    assert!(!block.message.contains("-- "));
    assert!(!block.message.contains('>'));
}

#[test]
fn complainant_follow_ups_keep_only_the_new_text() {
    for (file, phrase) in [
        (
            "17_vervolg_met_kenmerk_applemail.eml",
            "nog steeds niets van een behandelaar gehoord",
        ),
        (
            "18_vervolg_zonder_kenmerk_iphone.eml",
            "al in september betaald",
        ),
    ] {
        let m = mail(file);
        let text = klachtd::commands::new_text(Some(&m.text), m.html.as_deref()).text;
        assert!(squash(&text).contains(phrase), "{file}: {text}");
        assert!(
            !text.contains("Hartelijk dank voor uw") && !text.contains("> "),
            "{file}: quote kept:\n{text}"
        );
    }
}
