//! Staff work cases by replying. This file is the gate every mail from a role address passes
//! first: [`evidence`] gathers what it shows about its sender and [`proof`] decides whether it
//! is proven (`check_sender`, before anything else the mail can cause); duplicates, mail from
//! outside the case and leaked tokens are settled here too. Then, in the intake transaction:
//! a proven block is tried on the case by the procedure's model ([`procedure`], planned in
//! [`plan`]) and carried out only when every line holds (`apply`); a proven mail naming no case
//! registers a complaint or is refused (`caseless`); an unproven one is held until the real
//! address confirms it (`confirmation`). Every command mail gets a transcript back
//! (`transcript`). The words of transcripts and refusals are [`outcomes`]; mail about a case
//! from someone outside it is [`third_party`].

mod apply;
mod caseless;
mod confirmation;
pub mod evidence;
pub mod outcomes;
pub mod plan;
pub mod procedure;
pub mod proof;
pub mod third_party;
mod transcript;

use crate::commands::parse_block;
use crate::domain::Language;
use crate::domain::{CaseRef, EmailAddress};
use crate::inbound::InboundMail;
use crate::outbound::budget::Cause;
use crate::outbound::mailer::Files;
use crate::outbound::{Letter, Template};
use crate::registration::{Registry, Settled, new_text_of};
use crate::settings::Role;
use crate::store::outbox::OutboxKind;
use crate::store::{CaseRecord, MailOutcome, cases, mails, tokens};
use chrono::{DateTime, Utc};
use outcomes::{Recorded, Refusal};
use plan::Actor;
use proof::{Decision, Proof};
use rusqlite::Connection;

use apply::work_case;
use caseless::without_case;
pub use confirmation::confirmation_code;
use confirmation::{confirm, hold};
use transcript::{
    Situation, Stored, TranscriptLine, base_context, fill_transcript, from_outside_inert,
    send_caseless_transcript, send_caseless_transcript_with, send_transcript,
};

/// The sender decision on a mail from a role address, taken once, before anything else the
/// mail can cause (duplicate handling, events on a case, transcripts, notices, revoking
/// tokens): every one of those takes this, none decides again.
pub(crate) struct SenderCheck {
    pub decision: Decision,
    /// The existing case the mail is about (its tag, thread or reply address).
    pub case: Option<CaseRecord>,
    /// The case purged after the retention period the mail names (issue 20): never `case`,
    /// only answered truthfully.
    pub purged: Option<CaseRef>,
    /// The role address as configured: the sender as klachtd records and answers it, never
    /// the spelling the mail used.
    pub address: EmailAddress,
}

impl SenderCheck {
    /// Whether the sender is proven (or this is a confirmation reply from its address).
    pub fn proven(&self) -> bool {
        !matches!(self.decision.proof, Proof::Unproven)
    }
}

/// Decides who sent `mail`, a mail whose From is a role address ([`proof::decide`]), and
/// revokes the tokens it shows to have leaked (their owners told once).
pub(crate) fn check_sender(
    intake: &Registry<'_>,
    tx: &Connection,
    mail: &InboundMail,
    linked: Option<CaseRef>,
    now: DateTime<Utc>,
) -> anyhow::Result<SenderCheck> {
    let settings = intake.settings;
    let org = &settings.organisation.address;
    let from = mail
        .sender()
        .ok_or_else(|| anyhow::anyhow!("a role sender without an address"))?;
    let address = settings
        .roles
        .role_address(from)
        .map(|(_, a)| a.clone())
        .ok_or_else(|| anyhow::anyhow!("check_sender on mail from no role address"))?;
    // Every case the mail names must exist, or no token counts (rule 5 of `proof::decide`).
    let named = evidence::case_of_reply_address(mail, org);
    let tagged = CaseRef::find_in_subject(&mail.subject);
    let names_missing_case = [named, tagged]
        .into_iter()
        .flatten()
        .any(|c| !cases::exists(tx, c));
    let case = match linked.or(named.filter(|c| cases::exists(tx, *c))) {
        Some(r) => cases::get(tx, r)?,
        None => None,
    };
    // A purged case stays purged (issue 20): a mail naming it is taken as mail without a
    // case — a new complaint (`Klacht:`) or a recommendation still works — and told so.
    let (case, purged) = match case {
        Some(c) if c.purged_at.is_some() => (None, Some(c.reference)),
        None => (None, intake.purged_case_named(tx, mail)),
        live => (live, None),
    };
    let decision = evidence::prove(
        tx,
        mail,
        settings,
        case.as_ref().map(|c| c.id),
        names_missing_case,
        now,
    )?;
    revoke_leaked(intake, tx, &decision, now)?;
    Ok(SenderCheck {
        decision,
        case,
        purged,
        address,
    })
}

/// [`check_sender`] for a mail whose own processing failed: when even deciding fails, the
/// sender counts as unproven.
pub(crate) fn check_sender_or_unproven(
    intake: &Registry<'_>,
    tx: &Connection,
    mail: &InboundMail,
    now: DateTime<Utc>,
) -> SenderCheck {
    check_sender(intake, tx, mail, None, now).unwrap_or_else(|_| {
        let address = mail
            .sender()
            .and_then(|s| intake.settings.roles.role_address(s))
            .map(|(_, a)| a.clone())
            .unwrap_or_else(|| intake.settings.roles.director.clone());
        SenderCheck {
            decision: Decision {
                proof: Proof::Unproven,
                reason: "no token and no proof from the trusted server".into(),
                reason_nl:
                    "geen antwoord op een bericht van ons en niet via de eigen mailserver verstuurd"
                        .into(),
                revoke: Vec::new(),
                revoke_quietly: Vec::new(),
            },
            case: None,
            purged: None,
            address,
        }
    })
}

/// Takes in a mail from a staff member, the director or the committee, whose sender was
/// decided first ([`check_sender`]). Unproven mail is held, whatever else it is — a reused
/// Message-ID included; only proven mail is checked for having been taken in before.
pub(crate) fn handle_staff_mail(
    intake: &Registry<'_>,
    tx: &Connection,
    mail: &InboundMail,
    mail_id: i64,
    check: SenderCheck,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<Settled> {
    let SenderCheck {
        decision,
        case,
        purged,
        address: sender,
    } = check;
    // On their own case a role address is the complainant (issue 21): the mail is theirs as
    // complainant (found here when only our reply address names the case), never commands.
    if let Some(case) = case
        .as_ref()
        .filter(|c| procedure::is_complainant(c, &sender))
    {
        intake.follow_up(tx, case, mail, mail_id, received_at, now)?;
        return Ok(Settled::new(
            MailOutcome::AddedToCase,
            format!(
                "follow-up on {} (a role address writing on the case it is the complainant of)",
                case.reference
            ),
            Some((case.id, case.reference)),
        ));
    }
    let new_text = new_text_of(mail);
    // issue 25: a staff member the complaint concerns changes nothing and gets nothing of it
    // back (not even a confirmation request, which would show the case); the director sees
    // their mail on the case.
    if let Some(c) = &case
        && c.privacy.concerns(sender.as_str())
        && intake.settings.roles.kept_from_cases_about(&sender)
    {
        return not_involved(intake, tx, mail, c, &sender, &new_text, &decision, now);
    }
    let role = match decision.proof {
        Proof::Unproven => {
            return hold(
                intake,
                tx,
                mail,
                mail_id,
                &sender,
                case.as_ref(),
                &new_text,
                &decision,
                now,
            );
        }
        Proof::Confirmation { role, .. } | Proof::Proven { role, .. } => role,
    };
    if let Some(id) = &mail.message_id
        && mails::seen_message_id(tx, id, sender.as_str(), mail_id)?
    {
        return duplicate(intake, tx, mail, &sender, role, case.as_ref(), now);
    }
    let actor = Actor {
        address: sender,
        role,
    };
    match decision.proof {
        Proof::Confirmation { held_id, .. } => {
            confirm(intake, tx, mail, held_id, &actor, &new_text, now)
        }
        _ => {
            let block = parse_block(&new_text);
            match case {
                Some(case) => work_case(intake, tx, mail, &case, &block, &new_text, &actor, now),
                None => without_case(intake, tx, mail, mail_id, &block, &actor, purged, now),
            }
        }
    }
}

/// Mail on a case from a staff member it concerns (issue 25): recorded on the case for the
/// director, nothing applied. A proven sender gets a transcript that names the case's
/// reference only (they typed it) and nothing of its content; an unproven one gets nothing,
/// since the real owner of the address would learn from it that such a case exists.
#[allow(clippy::too_many_arguments)]
fn not_involved(
    intake: &Registry<'_>,
    tx: &Connection,
    mail: &InboundMail,
    case: &CaseRecord,
    sender: &EmailAddress,
    new_text: &str,
    decision: &Decision,
    now: DateTime<Utc>,
) -> anyhow::Result<Settled> {
    let proven = matches!(
        decision.proof,
        Proof::Proven { .. } | Proof::Confirmation { .. }
    );
    let answer = if proven {
        "de afzender kreeg een verslag zonder inhoud van de klacht".to_string()
    } else {
        format!(
            "de afzender is niet bewezen ({}) en kreeg geen antwoord. Herkomst: {}",
            decision.reason_nl,
            evidence::origin_line(mail, intake.settings, Language::Nl)
        )
    };
    cases::add_event(
        tx,
        case.id,
        now,
        "not_involved",
        Some(sender.as_str()),
        &format!(
            "e-mail van een medewerker over wie de klacht gaat; niets uitgevoerd, {answer}\n\n{}",
            new_text.trim()
        ),
    )?;
    if proven {
        let lang = intake.settings.organisation.language;
        let block = parse_block(new_text);
        let why = Refusal::NotInvolved.text(lang);
        let mut lines: Vec<TranscriptLine> = block
            .lines
            .iter()
            .map(|l| TranscriptLine {
                source: l.source.clone(),
                status: "fout",
                result: why.clone(),
            })
            .collect();
        if lines.is_empty() {
            lines.push(TranscriptLine {
                source: match lang {
                    Language::Nl => "(deze e-mail)".into(),
                    Language::En => "(this e-mail)".into(),
                },
                status: "fout",
                result: why,
            });
        }
        let actor = Actor {
            address: sender.clone(),
            role: intake.settings.roles.role_of(sender).unwrap_or(Role::Staff),
        };
        let mut context = base_context(intake);
        fill_transcript(
            &mut context,
            mail,
            Situation::Refused,
            lines,
            &Stored {
                recorded: true,
                noted: false,
            },
            &actor,
        );
        // The reference they typed, nothing else of the case; no token for it either.
        context.insert("reference", &case.reference.to_string());
        context.insert("caseless", &true);
        intake.mailer().to_role(
            tx,
            Letter {
                kind: OutboxKind::Transcript,
                template: Template::Transcript,
                case: None,
                context,
                attachments: &[],
                files: Files::None,
                cause: Cause::Proven,
            },
            sender,
            None,
            now,
        )?;
    }
    tracing::warn!(case = %case.reference, proven, "mail from a staff member the complaint concerns: nothing applied");
    Ok(Settled::new(
        MailOutcome::AddedToCase,
        "mail from a staff member the complaint concerns: nothing applied, nothing of the case sent back",
        Some((case.id, case.reference)),
    ))
}

/// A command mail whose Message-ID was taken in before, with other content: never applied
/// twice, but never silent either (issue 10).
fn duplicate(
    intake: &Registry<'_>,
    tx: &Connection,
    mail: &InboundMail,
    sender: &EmailAddress,
    role: Role,
    case: Option<&CaseRecord>,
    now: DateTime<Utc>,
) -> anyhow::Result<Settled> {
    let actor = Actor {
        address: sender.clone(),
        role,
    };
    match case {
        Some(c) => {
            cases::add_event(
                tx,
                c.id,
                now,
                "staff_mail_unused",
                Some(sender.as_str()),
                &format!(
                    "{}\n\n{}",
                    Recorded::Duplicate.text(Language::Nl),
                    new_text_of(mail).trim()
                ),
            )?;
            let stored = Stored {
                recorded: true,
                noted: false,
            };
            send_transcript(
                intake,
                tx,
                mail,
                c,
                Situation::Duplicate,
                Vec::new(),
                &stored,
                &actor,
                now,
            )?;
        }
        None => send_caseless_transcript(
            intake,
            tx,
            mail,
            Situation::Duplicate,
            Vec::new(),
            &actor,
            now,
        )?,
    }
    Ok(Settled::new(
        MailOutcome::Ignored,
        "command mail already taken in (same Message-ID): not applied again, transcript sent",
        case.map(|c| (c.id, c.reference)),
    ))
}

/// For mail from anyone without a role (role mail has [`check_sender`]): revokes the tokens
/// it shows to have leaked, and tells each owner once.
pub(crate) fn check_tokens(
    intake: &Registry<'_>,
    tx: &Connection,
    mail: &InboundMail,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    if evidence::presented_tokens(mail, &intake.settings.organisation.address).is_empty() {
        return Ok(());
    }
    let decision = evidence::prove(tx, mail, intake.settings, None, false, now)?;
    revoke_leaked(intake, tx, &decision, now)
}

fn revoke_leaked(
    intake: &Registry<'_>,
    tx: &Connection,
    decision: &Decision,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    for token in &decision.revoke_quietly {
        tokens::revoke(tx, token, now)?;
    }
    let mailer = intake.mailer();
    let why = decision.reason_in(mailer.staff_language());
    // Told within the outbound budget for mail that unproven mail causes: a forger holding
    // many leaked tokens cannot flood their owner through info@.
    mailer.revoke_and_tell(
        tx,
        &decision.revoke,
        &crate::outbound::mailer::Revocation {
            kind: OutboxKind::UnprovenNotice,
            why,
            // Caused by whoever showed the token: not proven.
            cause: Cause::Unproven,
            log: "a token leaked (shown by someone else, or copied to an address without a role): revoked",
        },
        now,
    )
}
