//! Carrying out a proven command block on a case: the plan ([`super::plan`]) is written —
//! the case's fields and deadlines, its history, the letters it asks for — in the intake
//! transaction, or the whole block is refused; either way the sender gets a transcript
//! (`work_case`, `execute`).

use super::outcomes::Recorded;
use super::plan::{Actor, Effect, Plan, Rules};
use super::*;
use crate::commands::CommandBlock;
use crate::domain::EmailAddress;
use crate::domain::Language;
use crate::inbound::InboundMail;
use crate::outbound::budget::Cause;
use crate::outbound::compose::AutoSubmitted;
use crate::outbound::mailer::Files;
use crate::outbound::{Letter, Template, templates};
use crate::registration::{Registry, Settled};
use crate::store::outbox::OutboxKind;
use crate::store::{CaseRecord, MailOutcome, cases, tokens};
use chrono::{DateTime, Utc};
use rusqlite::Connection;

/// Applies a proven block to a case, or refuses all of it; either way the mail is recorded
/// on the case and its sender gets a transcript.
#[allow(clippy::too_many_arguments)]
pub(super) fn work_case(
    intake: &Registry<'_>,
    tx: &Connection,
    mail: &InboundMail,
    case: &CaseRecord,
    block: &CommandBlock,
    text: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> anyhow::Result<Settled> {
    let rules = Rules {
        settings: intake.settings,
        calendar: intake.calendar,
        now,
        today: now.with_timezone(&intake.tz).date_naive(),
    };
    let who = Some(actor.address.as_str());
    let linked = Some((case.id, case.reference));
    // No commands and no text of its own (a closing or signature alone is none).
    if block.is_empty()
        && crate::commands::new_text::without_closing(block.message.trim())
            .trim()
            .is_empty()
    {
        cases::add_event(
            tx,
            case.id,
            now,
            "staff_mail_unused",
            who,
            &Recorded::Unused {
                subject: mail.subject.clone(),
            }
            .text(Language::Nl),
        )?;
        send_transcript(
            intake,
            tx,
            mail,
            case,
            Situation::Nothing,
            Vec::new(),
            &Stored {
                recorded: true,
                noted: false,
            },
            actor,
            now,
        )?;
        return Ok(Settled::new(
            MailOutcome::AddedToCase,
            "staff mail without commands or text: recorded, transcript sent",
            linked,
        ));
    }
    let plan = plan::plan(case, block, actor, &rules);
    let refused = plan.refused();
    if refused == 0 {
        execute(intake, tx, case, &plan, actor, now)?;
    } else {
        let failed: Vec<String> = plan
            .lines
            .iter()
            .filter_map(|l| {
                l.result
                    .as_ref()
                    .err()
                    // The history is a Dutch record (shown in English by `history`).
                    .map(|why| {
                        format!(
                            "regel {}: {} — {}",
                            l.line_no,
                            l.source,
                            why.text(Language::Nl)
                        )
                    })
            })
            .collect();
        cases::add_event(
            tx,
            case.id,
            now,
            "refused",
            who,
            &format!(
                "{}\n{}\n\nTekst van de e-mail:\n{}",
                Recorded::Refused.text(Language::Nl),
                failed.join("\n"),
                text.trim()
            ),
        )?;
    }
    let updated = if refused == 0 { &plan.case } else { case };
    let lang = intake.mailer().staff_language();
    let lines = plan
        .lines
        .iter()
        .map(|l| TranscriptLine {
            source: l.source.clone(),
            status: match (&l.result, refused) {
                (Ok(_), 0) => "ok",
                (Ok(_), _) => "zou",
                (Err(_), _) => "fout",
            },
            result: match &l.result {
                Ok(done) => done.text(lang),
                Err(why) => why.text(lang),
            },
        })
        .collect();
    let stored = Stored {
        recorded: true,
        noted: refused == 0 && plan.effects.iter().any(|e| matches!(e, Effect::Note(_))),
    };
    let situation = if refused == 0 {
        Situation::Applied
    } else {
        Situation::Refused
    };
    send_transcript(
        intake, tx, mail, updated, situation, lines, &stored, actor, now,
    )?;
    let reason = if refused == 0 {
        format!("staff commands applied ({} lines)", plan.lines.len())
    } else {
        format!(
            "staff commands refused ({refused} of {} lines invalid); nothing applied, recorded on the case",
            plan.lines.len()
        )
    };
    tracing::info!(case = %case.reference, applied = refused == 0, lines = plan.lines.len(), "command mail");
    Ok(Settled::new(MailOutcome::AddedToCase, reason, linked))
}

/// Writes the planned case and carries out its effects.
pub(super) fn execute(
    intake: &Registry<'_>,
    tx: &Connection,
    before: &CaseRecord,
    plan: &Plan,
    actor: &Actor,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let case = &plan.case;
    let who = Some(actor.address.as_str());
    cases::update(tx, case)?;
    for line in &plan.lines {
        cases::add_event(tx, case.id, now, "command", who, &line.source)?;
    }
    let mailer = intake.mailer();
    let attachments = cases::attachments_of(tx, case.id)?;
    let complainant_lang = crate::domain::Language::parse(&case.language).unwrap_or_default();
    // A letter to the complainant, written from the case and a few extra values.
    let to_complainant = |kind, template, extra: &[(&str, String)]| -> anyhow::Result<()> {
        let mut context = mailer.case_context(case, complainant_lang);
        for (k, v) in extra {
            context.insert(*k, v);
        }
        let letter = Letter {
            kind,
            template,
            case: Some(case),
            context,
            attachments: &[],
            files: Files::None,
            cause: Cause::Proven,
        };
        mailer
            .to_complainant(tx, letter, AutoSubmitted::Personal, now)
            .map(|_| ())
    };
    // The whole case, with its history and attachments, to the director or the committee.
    let to_role = |kind,
                   template,
                   recipient: &EmailAddress,
                   extra: (&str, &Option<String>)|
     -> anyhow::Result<()> {
        let mut context = mailer.case_context(case, mailer.staff_language());
        context.insert(extra.0, extra.1);
        context.insert("by", actor.address.as_str());
        let roles = &intake.settings.roles;
        context.insert("by_name", &roles.name_of(&actor.address));
        context.insert("recipient_name", &roles.name_of(recipient));
        context.insert(
            "history",
            &history(tx, case.id, mailer.tz, mailer.staff_language())?,
        );
        let letter = Letter {
            kind,
            template,
            case: Some(case),
            context,
            attachments: &attachments,
            files: Files::Case { first: 1 },
            cause: Cause::Proven,
        };
        mailer.to_role(tx, letter, recipient, None, now).map(|_| ())
    };
    for effect in &plan.effects {
        match effect {
            Effect::Note(text) => cases::add_event(tx, case.id, now, "note", who, text)?,
            Effect::Event { kind, detail } => {
                cases::add_event(tx, case.id, now, kind, who, detail)?
            }
            Effect::Reaction { text, sent } => {
                if *sent {
                    to_complainant(
                        OutboxKind::Reaction,
                        Template::Reaction,
                        &[("message", text.clone())],
                    )?;
                }
                cases::add_event(tx, case.id, now, "reaction", who, text)?;
            }
            Effect::ClosingLetter { sent } => {
                if *sent {
                    to_complainant(OutboxKind::ClosingLetter, Template::ClosingLetter, &[])?;
                }
                cases::add_event(
                    tx,
                    case.id,
                    now,
                    "closed",
                    who,
                    if *sent {
                        "afsluitende brief in de wachtrij"
                    } else {
                        "afgehandeld; geen brief: de klager heeft geen bruikbaar e-mailadres"
                    },
                )?;
            }
            Effect::VerdictLetter { sent } => {
                if *sent {
                    to_complainant(OutboxKind::VerdictLetter, Template::VerdictLetter, &[])?;
                }
                cases::add_event(
                    tx,
                    case.id,
                    now,
                    "verdict",
                    who,
                    case.verdict.as_deref().unwrap_or_default(),
                )?;
            }
            Effect::Extended {
                working_days,
                until,
                reason,
                sent,
            } => {
                if *sent {
                    to_complainant(
                        OutboxKind::ExtensionNotice,
                        Template::ExtensionNotice,
                        &[
                            ("new_date", templates::long_date(*until, complainant_lang)),
                            ("extended_days", working_days.to_string()),
                        ],
                    )?;
                }
                let detail = format!(
                    "{working_days} werkdagen: {}",
                    reason.as_deref().unwrap_or("-")
                );
                cases::add_event(tx, case.id, now, "extended", who, &detail)?;
            }
            Effect::Escalation(reason) => {
                let director = &intake.settings.roles.director;
                to_role(
                    OutboxKind::Escalation,
                    Template::Escalation,
                    director,
                    ("reason", reason),
                )?;
                cases::add_event(
                    tx,
                    case.id,
                    now,
                    "escalated",
                    who,
                    reason.as_deref().unwrap_or_default(),
                )?;
            }
            Effect::Appeal(text) => {
                let committee = &intake.settings.roles.committee;
                to_role(
                    OutboxKind::Appeal,
                    Template::Appeal,
                    committee,
                    ("appeal", text),
                )?;
                cases::add_event(
                    tx,
                    case.id,
                    now,
                    "appealed",
                    who,
                    text.as_deref().unwrap_or_default(),
                )?;
            }
            Effect::Recommendation(text) => {
                tokens::add_recommendation(tx, &actor.address, Some(case.id), text, now)?;
                cases::add_event(tx, case.id, now, "recommendation", who, text)?;
            }
            Effect::Concerned(address) => {
                // What they were given for this case proves nothing any more, when it is kept
                // from them (the director's own tokens stay: she is never kept from a case).
                if address
                    .parse::<EmailAddress>()
                    .is_ok_and(|a| intake.settings.roles.kept_from_cases_about(&a))
                {
                    tokens::revoke_for_case(tx, address, case.id, now)?;
                }
                cases::add_event(
                    tx,
                    case.id,
                    now,
                    "concerns",
                    who,
                    &format!(
                        "de klacht gaat over {} (besluit van de directeur)",
                        intake.people(std::slice::from_ref(address), Language::Nl)
                    ),
                )?;
            }
            Effect::RequestExtended { months, reason } => {
                let Some(request) = &case.privacy.request else {
                    continue;
                };
                let lang = complainant_lang;
                to_complainant(
                    OutboxKind::ExtensionNotice,
                    Template::PrivacyExtension,
                    &[
                        (
                            "request_kind",
                            request.kind.label(lang == Language::Nl).to_string(),
                        ),
                        (
                            "request_received",
                            templates::long_date(request.received, lang),
                        ),
                        ("first_due", templates::long_date(request.first_due(), lang)),
                        ("new_date", templates::long_date(request.due, lang)),
                        ("months", months.to_string()),
                        ("extension_reason", reason.clone()),
                    ],
                )?;
                cases::add_event(
                    tx,
                    case.id,
                    now,
                    "privacy_extended",
                    who,
                    &format!(
                        "termijn van het verzoek verlengd met {months} maand(en) tot en met {}: {reason}",
                        request.due
                    ),
                )?;
            }
        }
    }
    if before.status != case.status {
        tracing::info!(case = %case.reference, from = before.status.as_str(), to = case.status.as_str(), "status changed");
    }
    Ok(())
}

/// The case's history as lines for the director and the committee, in their language and
/// local time (casework's own stored Dutch lines told in English by `history_detail`).
pub(super) fn history(
    tx: &Connection,
    case_id: i64,
    tz: chrono_tz::Tz,
    lang: crate::domain::Language,
) -> anyhow::Result<Vec<String>> {
    Ok(cases::events(tx, case_id)?
        .into_iter()
        .map(|e| {
            crate::domain::wording::history_line(
                e.at,
                tz,
                &e.kind,
                e.actor.as_deref(),
                &from_outside_inert(&e.kind, outcomes::history_detail(&e.kind, &e.detail, lang)),
                lang,
            )
        })
        .collect())
}
