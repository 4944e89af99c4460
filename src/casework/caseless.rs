//! A proven command mail that names no case: a complaint registered on someone's behalf
//! (`Klacht:`), or a polite refusal with the transcript (`without_case`).

use super::outcomes::{Done, Refusal};
use super::plan::Actor;
use super::*;
use crate::commands::{Command, CommandBlock};
use crate::domain::Language;
use crate::domain::{CaseRef, EmailAddress};
use crate::inbound::InboundMail;
use crate::outbound::budget::Cause;
use crate::registration::{NewComplaint, Registry, Settled};
use crate::settings::Role;
use crate::store::{MailOutcome, cases, tokens};
use chrono::{DateTime, Utc};
use rusqlite::Connection;

/// A proven mail that names no case: a complaint handed in on someone's behalf, a
/// recommendation of the director's, or something we cannot place.
#[allow(clippy::too_many_arguments)]
pub(super) fn without_case(
    intake: &Registry<'_>,
    tx: &Connection,
    mail: &InboundMail,
    mail_id: i64,
    block: &CommandBlock,
    actor: &Actor,
    purged: Option<CaseRef>,
    now: DateTime<Utc>,
) -> anyhow::Result<Settled> {
    let commands: Vec<&Command> = block.commands().collect();
    if let [Command::Complaint(address)] = commands.as_slice()
        && !block.has_errors()
    {
        let complainant: EmailAddress = address.parse()?;
        if block.message.trim().is_empty() {
            return refuse_without_case(
                intake,
                tx,
                mail,
                block,
                actor,
                Refusal::ComplaintWithoutText,
                now,
            );
        }
        if let Err(why) = procedure::may_register(
            &complainant,
            &actor.address,
            &intake.settings.organisation.address,
        ) {
            return refuse_without_case(intake, tx, mail, block, actor, why, now);
        }
        // No addresses here: the reason is logged.
        let reason = "complaint registered on the complainant's behalf by staff (Klacht:)";
        let subject = crate::inbound::one_line(
            mail.subject
                .trim_start_matches(|c: char| c.is_whitespace())
                .trim_start_matches("Fwd:")
                .trim_start_matches("FW:")
                .trim(),
        );
        let case = intake.register(
            tx,
            &NewComplaint {
                complainant: crate::store::Complainant::Reachable(&complainant),
                name: None,
                subject: if subject.is_empty() {
                    match intake.settings.organisation.language {
                        Language::Nl => "(geen onderwerp)",
                        Language::En => "(no subject)",
                    }
                } else {
                    &subject
                },
                body: block.message.trim(),
                attachments: &mail.attachments,
                language: intake.settings.organisation.language,
                received_at: now,
                mail_id,
                raw: None,
                reason,
                // A staff member vouches for it: the acknowledgement may quote the text, and
                // neither it nor the notice to staff counts against the unproven budget.
                sender_verified: true,
                vouched: true,
                cause: Cause::Proven,
                repaired: false,
                names_purged: None,
                message_id_reused: None,
                html: None,
                registered_by: Some(&actor.address),
                encrypted: None,
            },
            now,
        )?;
        cases::add_event(
            tx,
            case.id,
            now,
            "registered_by",
            Some(actor.address.as_str()),
            "klacht doorgegeven door een medewerker",
        )?;
        let lang = intake.settings.organisation.language;
        let lines = block
            .lines
            .iter()
            .map(|l| TranscriptLine {
                source: l.source.clone(),
                status: "ok",
                result: Done::ComplaintRegistered(case.reference).text(lang),
            })
            .collect();
        let stored = Stored {
            recorded: true,
            noted: false,
        };
        send_transcript(
            intake,
            tx,
            mail,
            &case,
            Situation::Applied,
            lines,
            &stored,
            actor,
            now,
        )?;
        return Ok(Settled::new(
            MailOutcome::CaseCreated,
            reason,
            Some((case.id, case.reference)),
        ));
    }
    let only_recommendations = !commands.is_empty()
        && commands
            .iter()
            .all(|c| matches!(c, Command::Recommendation(_)));
    if only_recommendations && !block.has_errors() {
        if actor.role != Role::Director {
            return refuse_without_case(
                intake,
                tx,
                mail,
                block,
                actor,
                Refusal::DirectorOnly(outcomes::DirectorTask::Recommend),
                now,
            );
        }
        for c in &commands {
            if let Command::Recommendation(text) = c {
                tokens::add_recommendation(tx, &actor.address, None, text, now)?;
            }
        }
        let lines = block
            .lines
            .iter()
            .map(|l| TranscriptLine {
                source: l.source.clone(),
                status: "ok",
                result: Done::Recommendation.text(intake.settings.organisation.language),
            })
            .collect();
        send_caseless_transcript(intake, tx, mail, Situation::Applied, lines, actor, now)?;
        return Ok(Settled::new(
            MailOutcome::Ignored,
            "recommendation recorded",
            None,
        ));
    }
    if let Some(reference) = purged {
        // Nothing is applied to a purged case, whatever the mail says; the sender hears why.
        let lang = intake.settings.organisation.language;
        let on_request = cases::erased_on_request(tx, reference);
        let lines = block
            .lines
            .iter()
            .map(|l| TranscriptLine {
                source: l.source.clone(),
                status: "fout",
                result: match &l.result {
                    Err(e) => e.text(lang),
                    Ok(_) if on_request => Refusal::Erased(reference).text(lang),
                    Ok(_) => Refusal::Purged(reference).text(lang),
                },
            })
            .collect();
        let mut context = base_context(intake);
        context.insert("purged_reference", &reference.to_string());
        context.insert("purged_on_request", &on_request);
        send_caseless_transcript_with(
            intake,
            tx,
            mail,
            Situation::Purged,
            lines,
            actor,
            context,
            now,
        )?;
        return Ok(Settled::new(
            MailOutcome::Ignored,
            format!(
                "staff mail naming {reference}, purged after the retention period: nothing applied, transcript sent"
            ),
            None,
        ));
    }
    if block.is_empty() {
        // Never silent: the sender hears that nothing was done, and why.
        send_caseless_transcript(intake, tx, mail, Situation::Nothing, Vec::new(), actor, now)?;
        return Ok(Settled::new(
            MailOutcome::Ignored,
            "staff mail without a case or commands: transcript sent",
            None,
        ));
    }
    refuse_without_case(intake, tx, mail, block, actor, Refusal::NoCase, now)
}

pub(super) fn refuse_without_case(
    intake: &Registry<'_>,
    tx: &Connection,
    mail: &InboundMail,
    block: &CommandBlock,
    actor: &Actor,
    why: Refusal,
    now: DateTime<Utc>,
) -> anyhow::Result<Settled> {
    let lang = intake.settings.organisation.language;
    let lines: Vec<TranscriptLine> = block
        .lines
        .iter()
        .map(|l| TranscriptLine {
            source: l.source.clone(),
            status: "fout",
            result: match &l.result {
                Err(e) => e.text(lang),
                Ok(_) => why.text(lang),
            },
        })
        .collect();
    send_caseless_transcript(intake, tx, mail, Situation::Refused, lines, actor, now)?;
    Ok(Settled::new(
        MailOutcome::Ignored,
        format!("staff commands refused: {}", why.text(Language::En)),
        None,
    ))
}
