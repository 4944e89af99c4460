//! Staff work cases by replying: a mail from a role address is authenticated ([`auth`]), its
//! command block tried on the case ([`apply`]), and — only when every line holds — applied
//! in the intake transaction, with the mail it causes and a transcript back to the sender.
//! Without proof, nothing changes: the commands are held and the real address is asked to
//! confirm them.

pub mod apply;
pub mod auth;

use crate::commands::{Command, CommandBlock, parse_block};
use crate::domain::{CaseRef, EmailAddress};
use crate::inbound::InboundMail;
use crate::intake::{Intake, NewComplaint, Settled, new_text_of};
use crate::outbound::compose::AutoSubmitted;
use crate::outbound::{Letter, Template, templates};
use crate::settings::Role;
use crate::store::outbox::OutboxKind;
use crate::store::{CaseRecord, MailOutcome, cases, mails, tokens};
use apply::{Actor, Effect, Plan, Rules};
use auth::Proof;
use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;
use serde::Serialize;

/// Takes in a mail from a staff member, the director or the committee.
pub(crate) fn handle_staff_mail(
    intake: &Intake<'_>,
    tx: &Connection,
    mail: &InboundMail,
    mail_id: i64,
    role: Role,
    linked: Option<CaseRef>,
    now: DateTime<Utc>,
) -> anyhow::Result<Settled> {
    let settings = intake.settings;
    let org = &settings.organisation.address;
    let sender = mail
        .sender()
        .expect("classify refuses mail without a sender")
        .clone();
    if let Some(id) = &mail.message_id
        && mails::seen_message_id(tx, id, sender.as_str(), mail_id)?
    {
        return Ok(Settled::new(
            MailOutcome::Ignored,
            "command mail already taken in (same Message-ID)",
            None,
        ));
    }
    let linked =
        linked.or_else(|| auth::case_of_reply_address(mail, org).filter(|c| cases::exists(tx, *c)));
    let mut case = match linked {
        Some(r) => cases::get(tx, r)?,
        None => None,
    };
    let new_text = new_text_of(mail);
    let mut block = parse_block(&new_text);

    let valid_for = Duration::days(i64::from(settings.security.token_days));
    let proof = match auth::token_proof(
        tx,
        mail,
        org,
        &sender,
        case.as_ref().map(|c| c.id),
        valid_for,
        now,
    )? {
        Some(p) => Some(p),
        None => settings
            .security
            .trusted_authserv_id
            .as_deref()
            .and_then(|id| auth::authentication_results_proof(mail, id, &sender)),
    };
    let Some(proof) = proof else {
        return hold(
            intake,
            tx,
            mail,
            mail_id,
            &sender,
            case.as_ref(),
            &new_text,
            &block,
            now,
        );
    };

    // A reply to a confirmation request applies the commands that were held.
    if let Proof::Token {
        held: Some(held_id),
        ..
    } = proof
        && let Some(held) = tokens::held(tx, held_id)?
        && !held.resolved
        && held.address == sender.as_str()
    {
        let mut confirmed = parse_block(&held.new_text);
        confirmed.lines.extend(block.lines);
        block = confirmed;
        tokens::resolve_held(tx, held_id, now)?;
        if let Some(id) = held.case_id {
            case = cases::by_id(tx, id)?;
        }
    }

    let actor = Actor {
        address: sender.clone(),
        role,
    };
    match case {
        Some(case) => work_case(intake, tx, mail, &case, &block, &actor, now),
        None => without_case(intake, tx, mail, mail_id, &block, &actor, now),
    }
}

/// Holds the commands of an unproven mail and asks the real address to confirm them.
#[allow(clippy::too_many_arguments)]
fn hold(
    intake: &Intake<'_>,
    tx: &Connection,
    mail: &InboundMail,
    mail_id: i64,
    sender: &EmailAddress,
    case: Option<&CaseRecord>,
    new_text: &str,
    block: &CommandBlock,
    now: DateTime<Utc>,
) -> anyhow::Result<Settled> {
    let held_id = tokens::hold(
        tx,
        case.map(|c| c.id),
        sender,
        mail_id,
        &mail.subject,
        new_text,
        now,
    )?;
    let mailer = intake.mailer();
    let mut context = match case {
        Some(c) => mailer.case_context(c, mailer.staff_language()),
        None => base_context(intake),
    };
    context.insert("mail_subject", &mail.subject);
    context.insert(
        "held_lines",
        &block
            .lines
            .iter()
            .map(|l| l.source.clone())
            .collect::<Vec<_>>(),
    );
    context.insert(
        "held_message",
        &crate::outbound::templates::excerpt(&block.message, 400),
    );
    mailer.to_role(
        tx,
        Letter {
            kind: OutboxKind::ConfirmationRequest,
            template: Template::ConfirmationRequest,
            case,
            context,
            attachments: &[],
        },
        sender,
        Some(held_id),
        now,
    )?;
    tracing::warn!(
        case = case.map(|c| tracing::field::display(c.reference)),
        "mail from a role address without proof: commands held, confirmation requested"
    );
    Ok(Settled::new(
        MailOutcome::Ignored,
        "held: no proof of the sender; the real address was asked to confirm",
        None,
    ))
}

fn base_context(intake: &Intake<'_>) -> tera::Context {
    let mut c = tera::Context::new();
    c.insert("organisation", &intake.settings.organisation.name);
    c.insert("address", intake.settings.organisation.address.as_str());
    c.insert("reference", "");
    c.insert("tag", "");
    c.insert("subject", "");
    c
}

/// A transcript line.
#[derive(Serialize)]
struct TranscriptLine {
    source: String,
    ok: bool,
    result: String,
}

/// Applies a proven block to a case, or refuses all of it.
fn work_case(
    intake: &Intake<'_>,
    tx: &Connection,
    mail: &InboundMail,
    case: &CaseRecord,
    block: &CommandBlock,
    actor: &Actor,
    now: DateTime<Utc>,
) -> anyhow::Result<Settled> {
    let rules = Rules {
        settings: intake.settings,
        calendar: intake.calendar,
        now,
        today: now.with_timezone(&intake.tz).date_naive(),
    };
    let plan = apply::plan(case, block, actor, &rules);
    let refused = plan.refused();
    if block.is_empty() && block.message.trim().is_empty() {
        return Ok(Settled::new(
            MailOutcome::AddedToCase,
            "staff mail without commands or text",
            Some((case.id, case.reference)),
        ));
    }
    if refused == 0 {
        execute(intake, tx, case, &plan, actor, now)?;
    }
    let updated = if refused == 0 { &plan.case } else { case };
    send_transcript(intake, tx, mail, updated, &plan, actor, now)?;
    let reason = if refused == 0 {
        format!("staff commands applied ({} lines)", plan.lines.len())
    } else {
        format!(
            "staff commands refused ({refused} of {} lines invalid); nothing applied",
            plan.lines.len()
        )
    };
    tracing::info!(case = %case.reference, applied = refused == 0, lines = plan.lines.len(), "command mail");
    Ok(Settled::new(
        MailOutcome::AddedToCase,
        reason,
        Some((case.id, case.reference)),
    ))
}

/// Writes the planned case and carries out its effects.
fn execute(
    intake: &Intake<'_>,
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
    let complainant_lang = crate::settings::Language::parse(&case.language).unwrap_or_default();
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
        };
        mailer.to_complainant(tx, letter, AutoSubmitted::Personal, now)
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
        context.insert("history", &history(tx, case.id)?);
        let letter = Letter {
            kind,
            template,
            case: Some(case),
            context,
            attachments: &attachments,
        };
        mailer.to_role(tx, letter, recipient, None, now)
    };
    for effect in &plan.effects {
        match effect {
            Effect::Note(text) => cases::add_event(tx, case.id, now, "note", who, text)?,
            Effect::Event { kind, detail } => {
                cases::add_event(tx, case.id, now, kind, who, detail)?
            }
            Effect::Reaction(text) => {
                to_complainant(
                    OutboxKind::Reaction,
                    Template::Reaction,
                    &[("message", text.clone())],
                )?;
                cases::add_event(tx, case.id, now, "reaction", who, text)?;
            }
            Effect::ClosingLetter => {
                to_complainant(OutboxKind::ClosingLetter, Template::ClosingLetter, &[])?;
                cases::add_event(
                    tx,
                    case.id,
                    now,
                    "closed",
                    who,
                    "afsluitende brief in de wachtrij",
                )?;
            }
            Effect::VerdictLetter => {
                to_complainant(OutboxKind::VerdictLetter, Template::VerdictLetter, &[])?;
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
                reason,
            } => {
                let new_date = match cases::running_deadline(case) {
                    Some((_, due)) => due,
                    None => case.reaction_due,
                };
                to_complainant(
                    OutboxKind::ExtensionNotice,
                    Template::ExtensionNotice,
                    &[
                        ("new_date", templates::long_date(new_date, complainant_lang)),
                        ("extended_days", working_days.to_string()),
                    ],
                )?;
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
        }
    }
    if before.status != case.status {
        tracing::info!(case = %case.reference, from = before.status.as_str(), to = case.status.as_str(), "status changed");
    }
    Ok(())
}

/// The case's history as lines for the director and the committee.
fn history(tx: &Connection, case_id: i64) -> anyhow::Result<Vec<String>> {
    Ok(cases::events(tx, case_id)?
        .into_iter()
        .map(|e| {
            format!(
                "{} {}{}: {}",
                e.at.format("%Y-%m-%d %H:%M"),
                e.kind,
                e.actor.map(|a| format!(" ({a})")).unwrap_or_default(),
                e.detail.lines().next().unwrap_or_default()
            )
        })
        .collect())
}

/// The transcript to the sender, and to the handler when someone else changed the case.
fn send_transcript(
    intake: &Intake<'_>,
    tx: &Connection,
    mail: &InboundMail,
    case: &CaseRecord,
    plan: &Plan,
    actor: &Actor,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mailer = intake.mailer();
    let mut context = mailer.case_context(case, mailer.staff_language());
    let lines: Vec<TranscriptLine> = plan
        .lines
        .iter()
        .map(|l| TranscriptLine {
            source: l.source.clone(),
            ok: l.result.is_ok(),
            result: match &l.result {
                Ok(s) | Err(s) => s.clone(),
            },
        })
        .collect();
    let refused = plan.refused();
    context.insert("lines", &lines);
    context.insert("refused", &refused);
    context.insert("applied", &(refused == 0));
    context.insert("mail_subject", &mail.subject);
    context.insert(
        "noted",
        &plan.effects.iter().any(|e| matches!(e, Effect::Note(_))),
    );
    context.insert("missing", &apply::missing_to_close(case));
    context.insert("by", actor.address.as_str());
    let mut recipients = vec![actor.address.clone()];
    if refused == 0 {
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
        },
        &recipients,
        now,
    )
}

/// A proven mail that names no case: a complaint handed in on someone's behalf, a
/// recommendation of the director's, or something we cannot place.
fn without_case(
    intake: &Intake<'_>,
    tx: &Connection,
    mail: &InboundMail,
    mail_id: i64,
    block: &CommandBlock,
    actor: &Actor,
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
                "Klacht: schrijf de klacht zelf onder de regel met het adres",
                now,
            );
        }
        let reason = format!(
            "complaint registered on behalf of {complainant} by {}",
            actor.address
        );
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
                    "(geen onderwerp)"
                } else {
                    &subject
                },
                body: block.message.trim(),
                attachments: &mail.attachments,
                language: intake.settings.organisation.language,
                received_at: now,
                mail_id,
                reason: &reason,
                // A staff member vouches for it: the acknowledgement may quote the text.
                sender_verified: true,
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
        let plan = Plan {
            case: case.clone(),
            effects: Vec::new(),
            lines: block
                .lines
                .iter()
                .map(|l| apply::LineOutcome {
                    line_no: l.line_no,
                    source: l.source.clone(),
                    result: Ok(format!(
                        "klacht geregistreerd als {}; de klager krijgt een ontvangstbevestiging",
                        case.reference
                    )),
                })
                .collect(),
        };
        send_transcript(intake, tx, mail, &case, &plan, actor, now)?;
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
                "een aanbeveling kan alleen de directeur vastleggen",
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
                ok: true,
                result: "aanbeveling vastgelegd voor de jaaranalyse".into(),
            })
            .collect();
        send_caseless_transcript(intake, tx, mail, lines, 0, actor, now)?;
        return Ok(Settled::new(
            MailOutcome::Ignored,
            "recommendation recorded",
            None,
        ));
    }
    if block.is_empty() {
        return Ok(Settled::new(
            MailOutcome::Ignored,
            "staff mail without a case or commands",
            None,
        ));
    }
    refuse_without_case(
        intake,
        tx,
        mail,
        block,
        actor,
        "geen klacht gevonden bij deze e-mail: beantwoord een bericht over de klacht en laat het kenmerk [KL-…] in het onderwerp staan",
        now,
    )
}

fn refuse_without_case(
    intake: &Intake<'_>,
    tx: &Connection,
    mail: &InboundMail,
    block: &CommandBlock,
    actor: &Actor,
    why: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Settled> {
    let lines: Vec<TranscriptLine> = block
        .lines
        .iter()
        .map(|l| TranscriptLine {
            source: l.source.clone(),
            ok: false,
            result: match &l.result {
                Err(e) => apply::describe_error(e),
                Ok(_) => why.to_string(),
            },
        })
        .collect();
    let refused = lines.len().max(1);
    send_caseless_transcript(intake, tx, mail, lines, refused, actor, now)?;
    Ok(Settled::new(
        MailOutcome::Ignored,
        format!("staff commands refused: {why}"),
        None,
    ))
}

fn send_caseless_transcript(
    intake: &Intake<'_>,
    tx: &Connection,
    mail: &InboundMail,
    lines: Vec<TranscriptLine>,
    refused: usize,
    actor: &Actor,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mailer = intake.mailer();
    let mut context = base_context(intake);
    context.insert("lines", &lines);
    context.insert("refused", &refused);
    context.insert("applied", &(refused == 0));
    context.insert("mail_subject", &mail.subject);
    context.insert("noted", &false);
    context.insert("missing", &Vec::<String>::new());
    context.insert("by", actor.address.as_str());
    context.insert("caseless", &true);
    mailer.to_role(
        tx,
        Letter {
            kind: OutboxKind::Transcript,
            template: Template::Transcript,
            case: None,
            context,
            attachments: &[],
        },
        &actor.address,
        None,
        now,
    )
}
