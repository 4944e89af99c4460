//! Mail from a role address whose sender is not proven: its commands are held, nothing
//! changes, and the real address is asked to confirm them (`hold`); a reply with the right
//! `Bevestig <code>` line carries them out as if the proven sender had sent them
//! (`confirm`), any other is answered and recorded.

use super::outcomes::{HeldWhy, Recorded};
use super::plan::Actor;
use super::proof::Decision;
use super::*;
use crate::commands::parse_block;
use crate::domain::EmailAddress;
use crate::domain::Language;
use crate::inbound::InboundMail;
use crate::outbound::budget::Cause;
use crate::outbound::mailer::Files;
use crate::outbound::{Letter, Template, templates};
use crate::registration::{Registry, Settled};
use crate::store::outbox::OutboxKind;
use crate::store::{CaseRecord, MailOutcome, cases, mails, tokens};
use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;

/// Holds the commands of an unproven mail, records that on the case, and asks the real
/// address to confirm them with a code — within the outbound budget: past it, further
/// unproven mail in that name is recorded on the case, but asks nothing of the real person.
#[allow(clippy::too_many_arguments)]
pub(super) fn hold(
    intake: &Registry<'_>,
    tx: &Connection,
    mail: &InboundMail,
    mail_id: i64,
    sender: &EmailAddress,
    case: Option<&CaseRecord>,
    new_text: &str,
    decision: &Decision,
    now: DateTime<Utc>,
) -> anyhow::Result<Settled> {
    let code = tokens::new_code();
    let held_id = tokens::hold(
        tx,
        case.map(|c| c.id),
        sender,
        mail_id,
        &mail.subject,
        new_text,
        &code,
        now,
    )?;
    let block = parse_block(new_text);
    let mailer = intake.mailer();
    let lang = mailer.staff_language();
    let origin = evidence::origin_line(mail, intake.settings, lang);
    let mut context = match case {
        Some(c) => mailer.case_context(c, lang),
        None => base_context(intake),
    };
    let expires = now + Duration::days(i64::from(intake.settings.security.hold_days));
    context.insert("mail_subject", &mail.subject);
    context.insert(
        "held_lines",
        &block
            .lines
            .iter()
            .map(|l| l.source.clone())
            .collect::<Vec<_>>(),
    );
    context.insert("held_message", block.message.trim());
    context.insert("held_text", new_text.trim());
    context.insert("code", &code);
    context.insert("origin", &origin);
    context.insert("why", decision.reason_in(lang));
    context.insert(
        "received_at",
        &templates::long_datetime(now, intake.tz, lang),
    );
    context.insert(
        "expires",
        &templates::long_datetime(expires, intake.tz, lang),
    );
    // A forger cannot mail-bomb a role address through info@: the outbound budget admits a
    // few mails a day that unproven mail causes to one address (issue 22).
    let asked = mailer
        .to_role(
            tx,
            Letter {
                kind: OutboxKind::ConfirmationRequest,
                template: Template::ConfirmationRequest,
                case,
                context,
                attachments: &[],
                files: Files::None,
                cause: Cause::Unproven,
            },
            sender,
            Some(held_id),
            now,
        )?
        .is_queued();
    if let Some(c) = case {
        cases::add_event(
            tx,
            c.id,
            now,
            "held",
            Some(sender.as_str()),
            &format!(
                "{}\n\n{}",
                Recorded::Held {
                    reason: decision.reason_nl.clone(),
                    origin: origin.clone(),
                    asked,
                }
                .text(Language::Nl),
                new_text.trim()
            ),
        )?;
    }
    tracing::warn!(
        case = case.map(|c| tracing::field::display(c.reference)),
        why = decision.reason,
        "mail from a role address without proof: commands held, confirmation requested"
    );
    Ok(Settled::new(
        MailOutcome::Ignored,
        if asked {
            format!(
                "held: {}; the real address was asked to confirm",
                decision.reason
            )
        } else {
            format!(
                "held: {}; no confirmation request (the daily maximum for this address was reached)",
                decision.reason
            )
        },
        case.map(|c| (c.id, c.reference)),
    ))
}

/// The code of a confirmation line: the whole line `Bevestig 4821` (or `Confirm 4821`), so
/// that the request's own sentence, quoted back, never counts.
pub fn confirmation_code(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let l = line.trim().trim_end_matches(['.', '!']).to_lowercase();
        let rest = l
            .strip_prefix("bevestig")
            .or_else(|| l.strip_prefix("confirm"))?;
        let rest = rest.trim_start_matches(':').trim();
        (rest.len() == 4 && rest.bytes().all(|b| b.is_ascii_digit())).then(|| rest.to_string())
    })
}

/// A reply to a confirmation request: applies the held mail only on an explicit
/// `Bevestig <code>`; anything else refuses it. Either way it is recorded and answered.
pub(super) fn confirm(
    intake: &Registry<'_>,
    tx: &Connection,
    mail: &InboundMail,
    held_id: i64,
    actor: &Actor,
    reply_text: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Settled> {
    let held = tokens::held(tx, held_id)?.ok_or_else(|| anyhow::anyhow!("held mail missing"))?;
    let case = match held.case_id {
        Some(id) => cases::by_id(tx, id)?,
        None => None,
    };
    let linked = case.as_ref().map(|c| (c.id, c.reference));
    let who = Some(actor.address.as_str());
    let held_block = parse_block(&held.new_text);
    let reply_has_commands = !parse_block(reply_text).is_empty();
    let expired =
        now - held.held_at > Duration::days(i64::from(intake.settings.security.hold_days));
    let code = confirmation_code(reply_text);
    let situation = match (&held.outcome, expired, code) {
        (Some(_), _, _) => Situation::ConfirmSettled,
        (None, true, _) => Situation::ConfirmExpired,
        (None, false, Some(c)) if c == held.code => Situation::Applied,
        (None, false, _) => Situation::ConfirmRefused,
    };
    if situation == Situation::Applied {
        tokens::settle_held(tx, held.id, "confirmed", now)?;
        if let Some(c) = &case {
            cases::add_event(
                tx,
                c.id,
                now,
                "confirmed",
                who,
                &Recorded::Confirmed.text(Language::Nl),
            )?;
        }
        // The held mail itself is applied, as if it had been proven when it came.
        let original = mails::raw_of(tx, held.mail_id)?
            .and_then(|raw| InboundMail::parse(&raw))
            .unwrap_or_else(|| mail.clone());
        return match &case {
            Some(c) => work_case(
                intake,
                tx,
                &original,
                c,
                &held_block,
                &held.new_text,
                actor,
                now,
            ),
            None => {
                let purged = intake.purged_case_named(tx, &original);
                without_case(
                    intake,
                    tx,
                    &original,
                    held.mail_id,
                    &held_block,
                    actor,
                    purged,
                    now,
                )
            }
        };
    }
    if situation != Situation::ConfirmSettled {
        let outcome = if expired { "expired" } else { "refused" };
        tokens::settle_held(tx, held.id, outcome, now)?;
    }
    if let Some(c) = &case {
        let why = match situation {
            Situation::ConfirmExpired => HeldWhy::Expired,
            Situation::ConfirmSettled => HeldWhy::AlreadySettled,
            _ => HeldWhy::NoCode,
        };
        cases::add_event(
            tx,
            c.id,
            now,
            "held_refused",
            who,
            &format!(
                "{}\n\n{}",
                Recorded::HeldNotDone(why).text(Language::Nl),
                reply_text.trim()
            ),
        )?;
    }
    // The held mail's lines are its (unproven) sender's words: inert (issue 22).
    let lines = held_block
        .lines
        .iter()
        .map(|l| TranscriptLine {
            source: crate::outbound::inert::inert(&l.source),
            status: "niet",
            result: String::new(),
        })
        .collect();
    let mailer = intake.mailer();
    let mut context = match &case {
        Some(c) => mailer.case_context(c, mailer.staff_language()),
        None => base_context(intake),
    };
    fill_transcript(
        &mut context,
        mail,
        situation,
        lines,
        &Stored {
            recorded: case.is_some(),
            noted: false,
        },
        actor,
    );
    context.insert("reply_commands", &reply_has_commands);
    context.insert("caseless", &case.is_none());
    mailer.to_role(
        tx,
        Letter {
            kind: OutboxKind::Transcript,
            template: Template::Transcript,
            case: case.as_ref(),
            context,
            attachments: &[],
            files: Files::None,
            // A reply that carries its confirmation request's token: proven.
            cause: Cause::Proven,
        },
        &actor.address,
        None,
        now,
    )?;
    Ok(Settled::new(
        if linked.is_some() {
            MailOutcome::AddedToCase
        } else {
            MailOutcome::Ignored
        },
        format!("reply to a confirmation request: {situation:?}; nothing applied, recorded"),
        linked,
    ))
}
