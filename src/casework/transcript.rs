//! The transcript every command mail gets back: what each line did (`fill_transcript`), the
//! situation the templates choose their words by ([`Situation`]), and sending it on a case
//! (`send_transcript`) or without one (`send_caseless_transcript`).

use super::plan::Actor;
use super::*;
use crate::inbound::InboundMail;
use crate::outbound::budget::Cause;
use crate::outbound::mailer::Files;
use crate::outbound::{Letter, Template};
use crate::registration::Registry;
use crate::store::CaseRecord;
use crate::store::outbox::OutboxKind;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde::Serialize;

pub(super) fn base_context(intake: &Registry<'_>) -> tera::Context {
    let mut c = tera::Context::new();
    c.insert("organisation", &intake.settings.organisation.name);
    c.insert("address", intake.settings.organisation.address.as_str());
    c.insert("reference", "");
    c.insert("tag", "");
    c.insert("subject", "");
    c
}

/// What a transcript reports; the templates choose their words by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Situation {
    /// Every line held and was carried out.
    Applied,
    /// A line failed, so nothing was carried out.
    Refused,
    /// No commands and no text of its own.
    Nothing,
    /// A Message-ID taken in before, with other content.
    Duplicate,
    /// A reply to a confirmation request without the right `Bevestig <code>` line.
    ConfirmRefused,
    /// A reply to a confirmation request after `security.hold_days`.
    ConfirmExpired,
    /// A reply to a confirmation request already confirmed or refused.
    ConfirmSettled,
    /// The mail names a case purged after the retention period: nothing applied.
    Purged,
}

impl Situation {
    /// What caused a transcript: the duplicate is answered before its sender is proven (the
    /// proof comes second there, issue 19), so the budget counts it; every other situation
    /// follows a proven mail.
    fn cause(self) -> Cause {
        match self {
            Situation::Duplicate => Cause::Unproven,
            _ => Cause::Proven,
        }
    }
}

/// A transcript line: `ok` (done), `fout` (refused), `zou` (valid, but the mail was refused
/// as a whole), `niet` (held and not carried out).
#[derive(Serialize)]
pub(super) struct TranscriptLine {
    pub(super) source: String,
    pub(super) status: &'static str,
    pub(super) result: String,
}

/// What a transcript says was stored.
pub(super) struct Stored {
    /// The mail is in the case's history.
    pub(super) recorded: bool,
    /// Its text became an internal note.
    pub(super) noted: bool,
}

pub(super) fn fill_transcript(
    context: &mut tera::Context,
    mail: &InboundMail,
    situation: Situation,
    lines: Vec<TranscriptLine>,
    stored: &Stored,
    actor: &Actor,
) {
    let refused = lines.iter().filter(|l| l.status == "fout").count();
    context.insert("situation", &situation);
    context.insert("applied", &(situation == Situation::Applied));
    context.insert("lines", &lines);
    context.insert("refused", &refused);
    context.insert("mail_subject", &mail.subject);
    context.insert("noted", &stored.noted);
    context.insert("recorded", &stored.recorded);
    context.insert("by", actor.address.as_str());
    context.insert("reply_commands", &false);
    context.insert("caseless", &false);
    context.insert("missing", &Vec::<String>::new());
}

/// An event's detail as the director and the committee read it: the words of a sender who is
/// not proven (third-party mail, a complainant's follow-up, held or unused role mail) made
/// inert; what proven staff recorded as it is.
pub(super) fn from_outside_inert(kind: &str, detail: String) -> String {
    const FROM_OUTSIDE: [&str; 5] = [
        "third_party",
        "follow_up",
        "held",
        "held_refused",
        "staff_mail_unused",
    ];
    if FROM_OUTSIDE.contains(&kind) {
        crate::outbound::inert::inert(&detail)
    } else {
        detail
    }
}

/// The transcript to the sender, and to the handler when someone else changed the case.
#[allow(clippy::too_many_arguments)]
pub(super) fn send_transcript(
    intake: &Registry<'_>,
    tx: &Connection,
    mail: &InboundMail,
    case: &CaseRecord,
    situation: Situation,
    lines: Vec<TranscriptLine>,
    stored: &Stored,
    actor: &Actor,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mailer = intake.mailer();
    let lang = mailer.staff_language();
    let mut context = mailer.case_context(case, lang);
    fill_transcript(&mut context, mail, situation, lines, stored, actor);
    context.insert("missing", &plan::missing_to_close_in(case, lang));
    let mut recipients = vec![actor.address.clone()];
    if situation == Situation::Applied {
        for handler in intake.handler_or_staff(case) {
            let is_handler = case
                .handler
                .as_deref()
                .and_then(|h| intake.settings.roles.resolve(h))
                == Some(handler.clone());
            if is_handler && !recipients.contains(&handler) {
                recipients.push(handler);
            }
        }
    }
    mailer.to_roles(
        tx,
        Letter {
            kind: OutboxKind::Transcript,
            template: Template::Transcript,
            case: Some(case),
            context,
            attachments: &[],
            files: Files::None,
            cause: situation.cause(),
        },
        &recipients,
        now,
    )?;
    Ok(())
}

pub(super) fn send_caseless_transcript(
    intake: &Registry<'_>,
    tx: &Connection,
    mail: &InboundMail,
    situation: Situation,
    lines: Vec<TranscriptLine>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let context = base_context(intake);
    send_caseless_transcript_with(intake, tx, mail, situation, lines, actor, context, now)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn send_caseless_transcript_with(
    intake: &Registry<'_>,
    tx: &Connection,
    mail: &InboundMail,
    situation: Situation,
    lines: Vec<TranscriptLine>,
    actor: &Actor,
    mut context: tera::Context,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mailer = intake.mailer();
    let stored = Stored {
        recorded: false,
        noted: false,
    };
    fill_transcript(&mut context, mail, situation, lines, &stored, actor);
    context.insert("caseless", &true);
    mailer.to_role(
        tx,
        Letter {
            kind: OutboxKind::Transcript,
            template: Template::Transcript,
            case: None,
            context,
            attachments: &[],
            files: Files::None,
            cause: situation.cause(),
        },
        &actor.address,
        None,
        now,
    )?;
    Ok(())
}
