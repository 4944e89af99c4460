//! What intake and casework both do to the register, below both of them: registering a
//! complaint (with its acknowledgement and the notice to staff), choosing who hears about a
//! case, and writing mail. Intake dispatches a mail to casework; neither imports the other's
//! internals — both stand on this module.

use crate::domain::CaseRef;
use crate::domain::{EmailAddress, WorkingCalendar};
use crate::inbound::{Attachment, Disposition, InboundMail};
use crate::outbound::compose::AutoSubmitted;
use crate::outbound::{Letter, Mailer, Renderer, Template, templates};
use crate::settings::{Language, Settings};
use crate::store::mails;
use crate::store::outbox::{self, OutboxKind};
use crate::store::packed::Basis;
use crate::store::{CaseRecord, Complainant, MailOutcome, NewCase, cases};
use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;
use serde::Serialize;

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
    /// The mail's MIME structure was broken and its text recovered (staff are told).
    pub repaired: bool,
}

/// A file of a mail as staff mail names it: attached, or kept on the case only.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AttachmentNote {
    /// 1-based number on the case (`klachtd attachment KL-… N`).
    pub number: usize,
    pub name: String,
    pub size: String,
    pub attached: bool,
    pub readable: bool,
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

        let today = now.with_timezone(&self.tz).date_naive();
        let mailer = self.mailer();
        let acknowledged = match complaint.complainant {
            Complainant::Reachable(address) => {
                let first_today = cases::claim_acknowledgement(tx, address, today, case_id)?;
                if first_today {
                    self.acknowledge(tx, &case, complaint, now)?;
                } else {
                    cases::add_event(
                        tx,
                        case_id,
                        now,
                        "acknowledgement_skipped",
                        None,
                        "afzender kreeg vandaag al een ontvangstbevestiging",
                    )?;
                }
                first_today
            }
            Complainant::Unreachable(_) => {
                cases::add_event(
                    tx,
                    case_id,
                    now,
                    "unreachable",
                    None,
                    "het afzenderadres kan geen e-mail ontvangen; er is geen ontvangstbevestiging verstuurd",
                )?;
                false
            }
        };
        let limit = self.settings.outbound.attach_max_bytes;
        let notes = attachment_notes(tx, case_id, complaint.attachments, limit)?;
        let attached = attachments_to_copy(complaint.attachments, limit);
        let mut context = mailer.case_context(&case, mailer.staff_language());
        context.insert("acknowledged", &acknowledged);
        context.insert("attachments", &notes);
        context.insert("unreachable", &case.unreachable_from);
        context.insert("repaired", &complaint.repaired);
        mailer.to_roles(
            tx,
            Letter {
                kind: OutboxKind::StaffNotification,
                template: Template::StaffNotification,
                case: Some(&case),
                context,
                attachments: &attached,
            },
            &self.staff_but_the_complainant(&case),
            now,
        )?;
        tracing::info!(case = %reference, acknowledged, "complaint registered");
        Ok(case)
    }

    /// Queues the acknowledgement: within the hourly ceiling, and quoting the complainant's
    /// words and full subject only when the receiving server vouches for the sender — so a
    /// forged sender never gets someone else's text relayed to them from info@.
    fn acknowledge(
        &self,
        tx: &Connection,
        case: &CaseRecord,
        complaint: &NewComplaint<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
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
        let send_at = outbox::acknowledgement_slot(
            tx,
            now,
            self.settings.outbound.acknowledgements_per_hour,
        )?;
        mailer.to_complainant_at(
            tx,
            Letter {
                kind: OutboxKind::Acknowledgement,
                template: Template::Acknowledgement,
                case: Some(case),
                context,
                attachments: &[],
            },
            AutoSubmitted::AutoReplied,
            now,
            send_at,
        )?;
        let detail = if send_at > now {
            format!(
                "ontvangstbevestiging in de wachtrij (verzonden vanaf {}, vanwege het maximum per uur)",
                templates::long_datetime(send_at, self.tz, mailer.staff_language())
            )
        } else {
            "ontvangstbevestiging in de wachtrij".to_string()
        };
        cases::add_event(tx, case.id, now, "acknowledged", None, &detail)?;
        Ok(())
    }

    /// Records the complainant's follow-up on their case, with its files, and passes it to
    /// the handler (or all staff).
    pub(crate) fn follow_up(
        &self,
        tx: &Connection,
        case: &CaseRecord,
        mail: &InboundMail,
        mail_id: i64,
        received_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let new_text = new_text_of(mail);
        cases::add_event(tx, case.id, now, "follow_up", Some("klager"), &new_text)?;
        for attachment in &mail.attachments {
            cases::add_attachment(tx, case.id, mail_id, attachment)?;
        }
        let mailer = self.mailer();
        let lang = mailer.staff_language();
        let limit = self.settings.outbound.attach_max_bytes;
        let notes = attachment_notes(tx, case.id, &mail.attachments, limit)?;
        let attached = attachments_to_copy(&mail.attachments, limit);
        let mut context = mailer.case_context(case, lang);
        context.insert(
            "body",
            &crate::outbound::mailer::bounded_body(&new_text, lang),
        );
        context.insert("attachments", &notes);
        context.insert(
            "received",
            &templates::long_datetime(received_at, self.tz, lang),
        );
        mailer.to_roles(
            tx,
            Letter {
                kind: OutboxKind::FollowUpNotification,
                template: Template::FollowUpNotification,
                case: Some(case),
                context,
                attachments: &attached,
            },
            &self.handler_or_staff(case),
            now,
        )?;
        tracing::info!(case = %case.reference, "follow-up recorded");
        Ok(())
    }

    /// Who hears about a case: its handler when that is a known address, otherwise all staff
    /// — never its complainant (a staff member's own complaint goes to the colleagues; with
    /// none left, to the director).
    pub(crate) fn handler_or_staff(&self, case: &CaseRecord) -> Vec<EmailAddress> {
        match case
            .handler
            .as_deref()
            .and_then(|h| self.settings.roles.resolve(h))
        {
            Some(handler) => self.but_the_complainant(case, vec![handler]),
            None => self.staff_but_the_complainant(case),
        }
    }

    /// All staff but the case's complainant; the director when no one else is left.
    pub(crate) fn staff_but_the_complainant(&self, case: &CaseRecord) -> Vec<EmailAddress> {
        self.but_the_complainant(case, self.settings.roles.staff.clone())
    }

    fn but_the_complainant(
        &self,
        case: &CaseRecord,
        people: Vec<EmailAddress>,
    ) -> Vec<EmailAddress> {
        let roles = &self.settings.roles;
        let not_complainant = |a: &EmailAddress| !crate::outbound::mailer::is_complainant(case, a);
        let chosen: Vec<EmailAddress> = people.into_iter().filter(not_complainant).collect();
        if chosen.is_empty() {
            [roles.director.clone()]
                .into_iter()
                .filter(not_complainant)
                .collect()
        } else {
            chosen
        }
    }
}

/// The files staff get attached: readable ones up to the size limit.
pub(crate) fn attachments_to_copy(all: &[Attachment], limit: usize) -> Vec<Attachment> {
    all.iter()
        .filter(|a| a.readable && a.data.len() <= limit)
        .cloned()
        .collect()
}

/// How staff mail names the files of a mail just recorded on case `case_id` (numbered as
/// `klachtd case` shows them).
pub(crate) fn attachment_notes(
    tx: &Connection,
    case_id: i64,
    all: &[Attachment],
    limit: usize,
) -> anyhow::Result<Vec<AttachmentNote>> {
    let total = cases::attachment_count(tx, case_id)?;
    let first = total + 1 - all.len().min(total);
    Ok(all
        .iter()
        .enumerate()
        .map(|(i, a)| AttachmentNote {
            number: first + i,
            name: a.filename.clone(),
            size: crate::register::human_size(a.data.len()),
            attached: a.readable && a.data.len() <= limit,
            readable: a.readable,
        })
        .collect())
}

/// A subject as an unverified sender's acknowledgement repeats it: one line, nothing that
/// reads as a link or an address (`evil.example/buy`, `www.…`, `x@y`), at most 60 characters —
/// too little to carry spam.
pub(crate) fn short_subject(subject: &str) -> String {
    let words: Vec<&str> = subject
        .split_whitespace()
        .filter(|w| !crate::domain::display_name::looks_like_link(w))
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
