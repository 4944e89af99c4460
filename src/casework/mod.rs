//! Staff work cases by replying. For a mail from a role address, [`evidence`] gathers what it
//! shows about its sender and [`proof`] decides whether it is proven (`check_sender`, before
//! anything else the mail can cause); its command block is tried on the case by the
//! procedure's model ([`procedure`], planned in [`plan`]) and — only when every line holds —
//! written here (`execute`) in the intake transaction, with the mail it causes and a
//! transcript back to the sender. Without proof nothing changes: the commands are held and
//! the real address is asked to confirm them (`Bevestig`). The words of transcripts and
//! refusals are [`messages`]; mail about a case from someone outside it is [`third_party`].

pub mod evidence;
pub mod messages;
pub mod plan;
pub mod procedure;
pub mod proof;
pub mod third_party;

use crate::commands::{Command, CommandBlock, parse_block};
use crate::domain::Language;
use crate::domain::{CaseRef, EmailAddress};
use crate::inbound::InboundMail;
use crate::outbound::budget::Cause;
use crate::outbound::compose::AutoSubmitted;
use crate::outbound::mailer::Files;
use crate::outbound::{Letter, Template, templates};
use crate::registration::{NewComplaint, Registry, Settled, new_text_of};
use crate::settings::Role;
use crate::store::outbox::OutboxKind;
use crate::store::{CaseRecord, MailOutcome, cases, mails, tokens};
use chrono::{DateTime, Duration, Utc};
use messages::{Done, HeldWhy, Recorded, Refusal};
use plan::{Actor, Effect, Plan, Rules};
use proof::{Decision, Proof};
use rusqlite::Connection;
use serde::Serialize;

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
        && intake.settings.roles.role_of(&sender) != Some(Role::Director)
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

/// Holds the commands of an unproven mail, records that on the case, and asks the real
/// address to confirm them with a code — within the outbound budget: past it, further
/// unproven mail in that name is recorded on the case, but asks nothing of the real person.
#[allow(clippy::too_many_arguments)]
fn hold(
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
fn confirm(
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

fn base_context(intake: &Registry<'_>) -> tera::Context {
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
enum Situation {
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
struct TranscriptLine {
    source: String,
    status: &'static str,
    result: String,
}

/// What a transcript says was stored.
struct Stored {
    /// The mail is in the case's history.
    recorded: bool,
    /// Its text became an internal note.
    noted: bool,
}

fn fill_transcript(
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

/// Applies a proven block to a case, or refuses all of it; either way the mail is recorded
/// on the case and its sender gets a transcript.
#[allow(clippy::too_many_arguments)]
fn work_case(
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
fn execute(
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
                // What they were given for this case proves nothing any more.
                tokens::revoke_for_case(tx, address, case.id, now)?;
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
fn history(
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
                &from_outside_inert(&e.kind, messages::history_detail(&e.kind, &e.detail, lang)),
                lang,
            )
        })
        .collect())
}

/// An event's detail as the director and the committee read it: the words of a sender who is
/// not proven (third-party mail, a complainant's follow-up, held or unused role mail) made
/// inert; what proven staff recorded as it is.
fn from_outside_inert(kind: &str, detail: String) -> String {
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
fn send_transcript(
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

/// A proven mail that names no case: a complaint handed in on someone's behalf, a
/// recommendation of the director's, or something we cannot place.
#[allow(clippy::too_many_arguments)]
fn without_case(
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
                Refusal::DirectorOnly(messages::DirectorTask::Recommend),
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

fn refuse_without_case(
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

fn send_caseless_transcript(
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
fn send_caseless_transcript_with(
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
