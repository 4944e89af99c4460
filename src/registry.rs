//! What intake and casework both do to the register, below both of them: registering a
//! complaint (with its acknowledgement and the notice to staff), choosing who hears about a
//! case, and writing mail. Intake dispatches a mail to casework; neither imports the other's
//! internals — both stand on this module.

use crate::domain::CaseRef;
use crate::domain::{EmailAddress, WorkingCalendar};
use crate::inbound::{Attachment, Disposition, InboundMail};
use crate::outbound::budget::Cause;
use crate::outbound::compose::AutoSubmitted;
use crate::outbound::mailer::{Files, Queued};
use crate::outbound::{Letter, Mailer, Renderer, Template, templates};
use crate::settings::{Language, Settings};
use crate::store::mails;
use crate::store::outbox::OutboxKind;
use crate::store::packed::Basis;
use crate::store::{CaseRecord, Complainant, MailOutcome, NewCase, cases};
use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;

/// Everything registering and writing need besides the database; borrowed from the daemon.
pub struct Registry<'a> {
    pub settings: &'a Settings,
    pub calendar: &'a WorkingCalendar,
    pub renderer: &'a Renderer,
    pub tz: Tz,
}

/// What became of a mail, before it is written to the ledger.
pub(crate) struct Settled {
    pub outcome: MailOutcome,
    pub reason: String,
    pub case: Option<(i64, CaseRef)>,
}

impl Settled {
    pub fn new(
        outcome: MailOutcome,
        reason: impl Into<String>,
        case: Option<(i64, CaseRef)>,
    ) -> Self {
        Self {
            outcome,
            reason: reason.into(),
            case,
        }
    }
}

/// A complaint to register: from a mail, or handed in by staff (`Klacht: <address>`).
pub(crate) struct NewComplaint<'a> {
    pub complainant: Complainant<'a>,
    pub name: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    pub attachments: &'a [Attachment],
    pub language: Language,
    pub received_at: DateTime<Utc>,
    pub mail_id: i64,
    pub reason: &'a str,
    /// The receiving server vouches for the sender (SPF or DMARC pass for the From domain):
    /// only then does the acknowledgement quote what they wrote.
    pub sender_verified: bool,
    /// The trusted server vouches for the sender by DMARC or aligned DKIM: the hourly
    /// ceiling on acknowledgements never holds theirs back (issue 22).
    pub vouched: bool,
    /// What caused the mail registering it sends: unproven, unless staff handed it in.
    pub cause: Cause,
    /// The mail's MIME structure was broken and its text recovered (staff are told).
    pub repaired: bool,
}

impl Registry<'_> {
    pub(crate) fn mailer(&self) -> Mailer<'_> {
        Mailer {
            settings: self.settings,
            renderer: self.renderer,
            tz: self.tz,
        }
    }

    /// Registers a new case, keeps its attachments, and queues the acknowledgement (at most
    /// one per sender per day) and the notification to each staff member.
    pub(crate) fn register(
        &self,
        tx: &Connection,
        complaint: &NewComplaint<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<CaseRecord> {
        let received_day = complaint.received_at.with_timezone(&self.tz).date_naive();
        let reaction_due = self
            .calendar
            .deadline(received_day, self.settings.deadlines.reaction_working_days);
        let reference = cases::next_reference(tx, received_day.year())?;
        // The complaint's raw mail (kept unless over the size limit): its text, and the mail
        // queued for the case, are packed on it.
        let basis = mails::raw_of(tx, complaint.mail_id)?.map(|raw| Basis {
            mail_id: complaint.mail_id,
            raw: raw.into(),
        });
        let case = cases::insert_record(
            tx,
            reference,
            &NewCase {
                language: complaint.language.as_str(),
                complainant: complaint.complainant,
                complainant_name: complaint.name,
                subject: complaint.subject,
                body: complaint.body,
                received_at: complaint.received_at,
                reaction_due,
                basis: basis.as_ref(),
            },
        )?;
        let case_id = case.id;
        mails::settle(
            tx,
            complaint.mail_id,
            MailOutcome::CaseCreated,
            Disposition::Processed,
            complaint.reason,
            Some(case_id),
        )?;
        for attachment in complaint.attachments {
            cases::add_attachment(tx, case_id, complaint.mail_id, attachment)?;
        }
        cases::add_event(tx, case_id, now, "registered", None, complaint.reason)?;
        if complaint.repaired {
            cases::add_event(
                tx,
                case_id,
                now,
                "repaired",
                None,
                "de opbouw (MIME) van het bericht was beschadigd; de tekst is hersteld, het origineel is bewaard",
            )?;
        }

        let mailer = self.mailer();
        let acknowledged = match complaint.complainant {
            Complainant::Reachable(_) => self.acknowledge(tx, &case, complaint, now)?,
            Complainant::Unreachable(_) => {
                cases::add_event(
                    tx,
                    case_id,
                    now,
                    "unreachable",
                    None,
                    "het afzenderadres kan geen e-mail ontvangen; er is geen ontvangstbevestiging verstuurd",
                )?;
                Queued::NotSent
            }
        };
        let mut context = mailer.case_context(&case, mailer.staff_language());
        context.insert("acknowledged", &acknowledged.is_queued());
        // Spread by the hourly maximum: staff are told it leaves later, not that it went.
        if let Queued::At(at) = acknowledged
            && at > now
        {
            context.insert(
                "acknowledged_later",
                &templates::long_datetime(at, self.tz, mailer.staff_language()),
            );
        }
        context.insert("unreachable", &case.unreachable_from);
        context.insert("repaired", &complaint.repaired);
        mailer.to_roles(
            tx,
            Letter {
                kind: OutboxKind::StaffNotification,
                template: Template::StaffNotification,
                case: Some(&case),
                context,
                attachments: complaint.attachments,
                files: Files::Case {
                    first: first_attachment_number(tx, case_id, complaint.attachments.len())?,
                },
                cause: complaint.cause,
            },
            &self.settings.roles.staff,
            now,
        )?;

        tracing::info!(case = %reference, acknowledged = acknowledged.is_queued(), "complaint registered");
        Ok(case)
    }

    /// Queues the acknowledgement (the budget decides: one a day per mailbox, the hourly
    /// ceiling for senders nobody vouches for), quoting the complainant's words and full
    /// subject only when the receiving server vouches for the sender — so a forged sender
    /// never gets someone else's text relayed to them from info@. What became of it.
    fn acknowledge(
        &self,
        tx: &Connection,
        case: &CaseRecord,
        complaint: &NewComplaint<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Queued> {
        let mailer = self.mailer();
        let mut context = mailer.case_context(case, complaint.language);
        context.insert("acknowledged", &true);
        if !complaint.sender_verified {
            context.insert("quote", "");
            context.insert("subject", &short_subject(&case.subject));
        }
        if context
            .get("quote")
            .and_then(|q| q.as_str())
            .is_some_and(|q| q.trim().is_empty())
        {
            context.insert("quote", "");
        }
        let queued = mailer.to_complainant(
            tx,
            Letter {
                kind: OutboxKind::Acknowledgement,
                template: Template::Acknowledgement,
                case: Some(case),
                context,
                attachments: &[],
                files: Files::None,
                cause: if complaint.vouched {
                    Cause::Vouched
                } else {
                    complaint.cause
                },
            },
            AutoSubmitted::AutoReplied,
            now,
        )?;
        let (kind, detail) = match queued {
            Queued::At(send_at) if send_at > now => (
                "acknowledged",
                format!(
                    "ontvangstbevestiging in de wachtrij (verzonden vanaf {}, vanwege het maximum per uur)",
                    templates::long_datetime(send_at, self.tz, mailer.staff_language())
                ),
            ),
            Queued::At(_) => ("acknowledged", "ontvangstbevestiging in de wachtrij".to_string()),
            Queued::NotSent => (
                "acknowledgement_skipped",
                "afzender kreeg vandaag al een ontvangstbevestiging".to_string(),
            ),
            Queued::HeldBack => (
                "acknowledgement_skipped",
                "geen ontvangstbevestiging: dit adres kreeg de afgelopen 24 uur al het maximum aan berichten voor niet-bewezen afzenders".to_string(),
            ),
        };
        cases::add_event(tx, case.id, now, kind, None, &detail)?;
        Ok(queued)
    }

    /// Who hears about a case: its handler when that is a known address, otherwise all staff.
    pub(crate) fn handler_or_staff(&self, case: &CaseRecord) -> Vec<EmailAddress> {
        case.handler
            .as_deref()
            .and_then(|h| self.settings.roles.resolve(h))
            .map(|a| vec![a])
            .unwrap_or_else(|| self.settings.roles.staff.clone())
    }
}

/// The number `klachtd case` gives the first of the `n` files just recorded on case `case_id`.
pub(crate) fn first_attachment_number(
    tx: &Connection,
    case_id: i64,
    n: usize,
) -> anyhow::Result<usize> {
    let total = cases::attachment_count(tx, case_id)?;
    Ok(total + 1 - n.min(total))
}

/// A subject as an unverified sender's acknowledgement repeats it: one line, nothing that
/// reads as a link or an address (`evil.example/buy`, `www.…`, `x@y`), at most 60 characters —
/// too little to carry spam.
pub(crate) fn short_subject(subject: &str) -> String {
    let words: Vec<&str> = subject
        .split_whitespace()
        // Nothing a mail client could make a link of: also not with the dots IDNA reads as
        // dots (`evil。example`), which `looks_like_link` does not see (issue 22).
        .filter(|w| {
            !crate::domain::display_name::looks_like_link(w)
                && crate::outbound::inert::inert(w) == *w
        })
        .collect();
    let joined = words.join(" ");
    if joined.chars().count() <= 60 {
        return joined;
    }
    let cut: String = joined.chars().take(59).collect();
    format!("{}…", cut.trim_end())
}

/// The new text of a reply: what stands above the quoted original and the signature.
pub(crate) fn new_text_of(mail: &InboundMail) -> String {
    let plain = mail.has_plain_text.then_some(mail.text.as_str());
    crate::commands::new_text(plain, mail.html.as_deref()).text
}
