//! The words people read for klachtd's internal codes: the kinds of event in a case's history
//! and the reasons a mail was quarantined, in Dutch and English, with local times.

use crate::domain::Language;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// Every event kind the history may hold, with its Dutch and English label.
const EVENTS: &[(&str, &str, &str)] = &[
    ("registered", "klacht geregistreerd", "complaint registered"),
    (
        "registered_by",
        "klacht doorgegeven door een medewerker",
        "complaint handed in by staff",
    ),
    (
        "acknowledged",
        "ontvangstbevestiging verstuurd",
        "acknowledgement sent",
    ),
    (
        "acknowledgement_skipped",
        "geen tweede ontvangstbevestiging",
        "no second acknowledgement",
    ),
    (
        "follow_up",
        "aanvulling van de klager",
        "follow-up from the complainant",
    ),
    ("command", "opdracht", "command"),
    ("note", "notitie", "note"),
    (
        "reaction",
        "reactie aan de klager",
        "reply to the complainant",
    ),
    ("closed", "afgehandeld", "resolved"),
    ("reopened", "heropend", "reopened"),
    ("withdrawn", "geen klacht", "not a complaint"),
    (
        "escalated",
        "voorgelegd aan de directeur",
        "put before the director",
    ),
    ("appealed", "beroep ingesteld", "appeal lodged"),
    (
        "verdict",
        "uitspraak examencommissie",
        "exam committee's decision",
    ),
    ("extended", "termijn verlengd", "period extended"),
    ("recommendation", "aanbeveling", "recommendation"),
    ("reminder", "herinnering", "reminder"),
    ("overdue", "termijn verstreken", "deadline passed"),
    (
        "mail_failed",
        "e-mail kon niet worden bezorgd",
        "mail could not be delivered",
    ),
    ("refused", "opdrachten geweigerd", "commands refused"),
    ("held", "opdrachten aangehouden", "commands held"),
    (
        "no_commands",
        "e-mail zonder opdrachten",
        "mail without commands",
    ),
    ("language", "taal gewijzigd", "language changed"),
    (
        "staff_mail_unused",
        "e-mail zonder bruikbare inhoud",
        "e-mail with nothing to use",
    ),
    (
        "held_refused",
        "aangehouden opdrachten niet uitgevoerd",
        "held commands not carried out",
    ),
    (
        "confirmed",
        "aangehouden opdrachten bevestigd",
        "held commands confirmed",
    ),
    (
        "third_party",
        "e-mail van een derde",
        "e-mail from a third party",
    ),
    (
        "unreachable",
        "afzender niet per e-mail bereikbaar",
        "sender cannot be reached by e-mail",
    ),
    (
        "repaired",
        "beschadigd bericht hersteld",
        "damaged message recovered",
    ),
    (
        "message_id_reused",
        "Message-ID eerder gebruikt door een andere afzender",
        "Message-ID used before by another sender",
    ),
    // issue 25: confidentiality and the AVG
    (
        "concerns",
        "klacht gaat over een medewerker",
        "complaint concerns a staff member",
    ),
    (
        "concerns_lifted",
        "klacht gaat over geen medewerker",
        "complaint concerns no staff member",
    ),
    (
        "not_involved",
        "e-mail van een medewerker over wie de klacht gaat",
        "e-mail from a staff member the complaint concerns",
    ),
    ("hold", "langer bewaren", "kept longer (legal hold)"),
    (
        "hold_lifted",
        "langer bewaren opgeheven",
        "legal hold lifted",
    ),
    (
        "privacy_request",
        "privacyverzoek (AVG)",
        "privacy request (GDPR)",
    ),
    (
        "privacy_extended",
        "termijn privacyverzoek verlengd",
        "privacy request period extended",
    ),
    (
        "privacy_request_done",
        "privacyverzoek afgehandeld",
        "privacy request answered",
    ),
    (
        "privacy_reminder",
        "herinnering privacyverzoek",
        "privacy request reminder",
    ),
    (
        "privacy_overdue",
        "termijn privacyverzoek verstreken",
        "privacy request deadline passed",
    ),
    (
        "dossier",
        "inzageoverzicht gemaakt (AVG)",
        "access copy made (GDPR)",
    ),
    (
        "erased",
        "persoonsgegevens verwijderd (AVG)",
        "personal data erased (GDPR)",
    ),
    ("encrypted", "versleuteld bericht", "encrypted message"),
    (
        "automatic_mail",
        "automatisch bericht ontvangen (niet beantwoord)",
        "automatic mail received (not answered)",
    ),
    // Issue 22: mail the outbound budget held back for the summary.
    (
        "not_sent",
        "bericht niet afzonderlijk verstuurd",
        "message not sent separately",
    ),
];

/// Event kinds whose stored detail is for the log, not for a reader.
const DETAIL_HIDDEN: [&str; 3] = ["registered", "acknowledged", "mail_failed"];

/// The earlier mail whose Message-ID another sender reused: its case (`KL-2026-0001`), or a
/// mail that belonged to no case.
pub fn earlier_mail(case: Option<&str>, lang: Language) -> String {
    match (case, lang) {
        (Some(c), _) => c.to_string(),
        (None, Language::Nl) => "een eerder bericht (bij geen klacht)".into(),
        (None, Language::En) => "an earlier message (with no case)".into(),
    }
}

/// The label of an event kind; an unknown kind reads as a neutral "gebeurtenis"/"event".
pub fn event_label(kind: &str, lang: Language) -> &'static str {
    let found = EVENTS.iter().find(|(k, _, _)| *k == kind);
    match (found, lang) {
        (Some((_, nl, _)), Language::Nl) => nl,
        (Some((_, _, en)), Language::En) => en,
        (None, Language::Nl) => "gebeurtenis",
        (None, Language::En) => "event",
    }
}

/// One line of a case's history: local time, label, who, and the first line of the detail.
pub fn history_line(
    at: DateTime<Utc>,
    tz: Tz,
    kind: &str,
    actor: Option<&str>,
    detail: &str,
    lang: Language,
) -> String {
    let local = at.with_timezone(&tz);
    let when = match lang {
        Language::Nl => local.format("%d-%m-%Y %H:%M"),
        Language::En => local.format("%d/%m/%Y %H:%M"),
    };
    // Intake records the complainant as "klager"; the label already says who it was.
    let who = match actor {
        Some("klager") | None => String::new(),
        Some(a) => format!(" ({a})"),
    };
    let detail = detail.lines().next().unwrap_or_default().trim();
    let detail = match lang {
        _ if DETAIL_HIDDEN.contains(&kind) => String::new(),
        Language::Nl => detail.to_string(),
        Language::En => english_detail(kind, detail),
    };
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    };
    format!("{when} {}{who}{detail}", event_label(kind, lang))
}

/// Event kinds whose detail klachtd itself wrote, in Dutch.
const DUTCH_DETAIL: &[&str] = &[
    "acknowledgement_skipped",
    "encrypted",
    "automatic_mail",
    "not_sent",
    "closed",
    "overdue",
    "reminder",
    "registered_by",
    "concerns",
    "concerns_lifted",
    "not_involved",
    "hold_lifted",
    "privacy_request",
    "privacy_extended",
    "privacy_request_done",
    "privacy_reminder",
    "privacy_overdue",
    "dossier",
    "erased",
];

/// The detail of an event for an English reader: what staff typed stays, klachtd's own Dutch
/// wording is translated or left out.
fn english_detail(kind: &str, detail: &str) -> String {
    if DUTCH_DETAIL.contains(&kind) {
        return String::new();
    }
    match kind {
        "hold" => match detail
            .strip_prefix("bewaren tot en met ")
            .and_then(|d| d.split_once(": "))
        {
            Some((until, reason)) => format!("until {until} inclusive: {reason}"),
            None => String::new(),
        },
        "extended" => match detail.split_once(" werkdagen: ") {
            Some((n, "-")) => format!("{n} working days"),
            Some((n, reason)) => format!("{n} working days: {reason}"),
            None => detail.to_string(),
        },
        "verdict" => {
            let (verdict, rest) = detail.split_once(':').unwrap_or((detail, ""));
            let verdict = match verdict {
                "gegrond" => "upheld",
                "ongegrond" => "rejected",
                other => other,
            };
            format!(
                "{verdict}{}",
                if rest.is_empty() {
                    String::new()
                } else {
                    format!(":{rest}")
                }
            )
        }
        _ => detail.to_string(),
    }
}

/// A field `Afgehandeld` still needs (as `missing_to_close` names it in Dutch), in `lang`.
pub fn missing_field(dutch: &str, lang: Language) -> String {
    let english = match dutch {
        "behandelaar" => "handler",
        "oorzaak" => "cause",
        "oplossing" => "solution",
        "akkoord (ja/nee)" => "agreement (yes/no)",
        other => other,
    };
    match lang {
        Language::Nl => dutch.to_string(),
        Language::En => english.to_string(),
    }
}

/// A quarantine reason as the director reads it.
pub fn quarantine_reason(reason: &str, lang: Language) -> String {
    let why = reason.strip_prefix("malformed: ").unwrap_or(reason);
    if lang == Language::En {
        return why.to_string();
    }
    if let Some(sizes) = why.strip_prefix("larger than inbound.max_message_bytes ") {
        let sizes = sizes.trim_matches(['(', ')']);
        return match sizes.split_once(" > ") {
            Some((size, limit)) => format!(
                "het bericht is groter dan toegestaan ({size} bytes; de grens is {limit} bytes, instelling inbound.max_message_bytes)"
            ),
            None => "het bericht is groter dan toegestaan (instelling inbound.max_message_bytes)"
                .to_string(),
        };
    }
    if let Some(error) = why.strip_prefix("error while taking in: ") {
        return format!(
            "bij het verwerken van dit bericht trad een fout op; er is niets gewijzigd (technische melding: {error})"
        );
    }
    if why.starts_with("the decoder failed") {
        return "het bericht kon niet worden gelezen (interne fout bij het decoderen)".to_string();
    }
    let known = [
        ("no From address", "het bericht heeft geen afzenderadres"),
        (
            "no usable From address",
            "het bericht heeft geen bruikbaar afzenderadres",
        ),
        (
            "MIME boundary missing or never found, and the body is not readable text",
            "de opbouw van het bericht klopt niet (de MIME-grens ontbreekt) en de inhoud is geen leesbare tekst",
        ),
        (
            "the text of the mail could not be decoded (invalid transfer encoding)",
            "de tekst van het bericht kon niet worden gedecodeerd (ongeldige codering)",
        ),
        (
            "not a readable e-mail message",
            "het is geen leesbaar e-mailbericht",
        ),
        (
            "MIME boundary declared but never found",
            "de opbouw van het bericht klopt niet (de aangekondigde MIME-grens ontbreekt), zodat de tekst niet betrouwbaar te lezen is",
        ),
        (
            "a body part could not be decoded (invalid transfer encoding)",
            "een deel van het bericht kon niet worden gedecodeerd (ongeldige codering)",
        ),
    ];
    known
        .iter()
        .find(|(en, _)| *en == why)
        .map(|(_, nl)| nl.to_string())
        .unwrap_or_else(|| format!("het bericht kon niet worden verwerkt ({why})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_lines_are_dutch_and_local() {
        let at = DateTime::parse_from_rfc3339("2026-11-24T09:30:00Z")
            .unwrap()
            .to_utc();
        let tz = chrono_tz::Europe::Amsterdam;
        assert_eq!(
            history_line(at, tz, "registered", None, "new complaint", Language::Nl),
            "24-11-2026 10:30 klacht geregistreerd"
        );
        assert_eq!(
            history_line(
                at,
                tz,
                "command",
                Some("anna@example.org"),
                "Escaleer\nmeer",
                Language::Nl
            ),
            "24-11-2026 10:30 opdracht (anna@example.org): Escaleer"
        );
        assert_eq!(
            history_line(at, tz, "reminder", None, "", Language::En),
            "24/11/2026 10:30 reminder"
        );
    }

    #[test]
    fn every_event_kind_written_has_a_label() {
        for kind in [
            "registered",
            "acknowledged",
            "acknowledgement_skipped",
            "follow_up",
            "command",
            "note",
            "reaction",
            "closed",
            "verdict",
            "extended",
            "escalated",
            "appealed",
            "recommendation",
            "reopened",
            "withdrawn",
            "overdue",
            "reminder",
            "registered_by",
            "mail_failed",
            "concerns",
            "concerns_lifted",
            "not_involved",
            "hold",
            "hold_lifted",
            "privacy_request",
            "privacy_extended",
            "privacy_request_done",
            "privacy_reminder",
            "privacy_overdue",
            "dossier",
            "erased",
            "message_id_reused",
            "encrypted",
            "automatic_mail",
            "not_sent",
        ] {
            assert_ne!(event_label(kind, Language::Nl), "gebeurtenis", "{kind}");
            assert_ne!(event_label(kind, Language::En), "event", "{kind}");
        }
    }

    #[test]
    fn quarantine_reasons_in_dutch() {
        assert_eq!(
            quarantine_reason("malformed: no usable From address", Language::Nl),
            "het bericht heeft geen bruikbaar afzenderadres"
        );
        assert!(
            quarantine_reason(
                "malformed: larger than inbound.max_message_bytes (30000000 > 26214400)",
                Language::Nl
            )
            .starts_with("het bericht is groter dan toegestaan (30000000 bytes")
        );
        assert_eq!(
            quarantine_reason("malformed: no usable From address", Language::En),
            "no usable From address"
        );
    }
}
