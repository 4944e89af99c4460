//! Step 2 of the flow: one received mail → a new case, an entry on a case, an ignored mail or a
//! quarantined one, recorded in a single transaction together with the mail it causes.

use crate::casework;
use crate::domain::{CaseRef, EmailAddress, WorkingCalendar};
use crate::inbound::classify::{Classification, KnownCases, classify};
use crate::inbound::{Attachment, Disposition, InboundMail, RawMail};
use crate::outbound::compose::AutoSubmitted;
use crate::outbound::{Letter, Mailer, Renderer, Template, templates};
use crate::settings::{Language, Settings};
use crate::store::mails::{self, MailEntry};
use crate::store::outbox::{self, OutboxKind};
use crate::store::{CaseRecord, MailOutcome, NewCase, Store, cases};
use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;
use sha2::Digest;
use tera::Context;

/// The result of taking in one mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeResult {
    pub outcome: MailOutcome,
    pub reason: String,
    pub case: Option<CaseRef>,
    pub disposition: Disposition,
    /// The mail had been recorded before (a crash between commit and mark); nothing new was done.
    pub already_recorded: bool,
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
    pub complainant: &'a EmailAddress,
    pub name: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    pub attachments: &'a [Attachment],
    pub language: Language,
    pub received_at: DateTime<Utc>,
    pub mail_id: i64,
    pub reason: &'a str,
}

/// Everything intake needs besides the database.
pub struct Intake<'a> {
    pub settings: &'a Settings,
    pub calendar: &'a WorkingCalendar,
    pub renderer: &'a Renderer,
    pub tz: Tz,
}

struct StoreLookup<'c>(&'c Connection);

impl KnownCases for StoreLookup<'_> {
    fn case_of_sent_message(&self, message_id: &str) -> Option<CaseRef> {
        outbox::case_of_message(self.0, message_id).ok().flatten()
    }
    fn case_exists(&self, case: CaseRef) -> bool {
        cases::exists(self.0, case)
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    crate::inbound::hex(&sha2::Sha256::digest(bytes))
}

impl Intake<'_> {
    pub(crate) fn mailer(&self) -> Mailer<'_> {
        Mailer {
            settings: self.settings,
            renderer: self.renderer,
            tz: self.tz,
        }
    }

    /// Records `raw` exactly once. Safe to call again for the same mail after a crash: the
    /// second call finds the source key and changes nothing.
    pub fn process(
        &self,
        store: &mut Store,
        raw: &RawMail,
        now: DateTime<Utc>,
    ) -> anyhow::Result<IntakeResult> {
        store.transaction(|tx| self.process_in(tx, raw, now))
    }

    fn process_in(
        &self,
        tx: &Connection,
        raw: &RawMail,
        now: DateTime<Utc>,
    ) -> anyhow::Result<IntakeResult> {
        if let Some((outcome, disposition)) = mails::recorded_source(tx, &raw.source_key)? {
            return Ok(IntakeResult {
                outcome,
                reason: "already recorded".to_string(),
                case: None,
                disposition,
                already_recorded: true,
            });
        }
        let received_at = raw.arrived_at.map_or(now, |t| t.min(now));
        let too_large = raw.bytes.len() > self.settings.inbound.max_message_bytes;
        let mail = if too_large {
            None
        } else {
            InboundMail::parse(&raw.bytes)
        };
        let fingerprint = mail
            .as_ref()
            .map(|m| m.fingerprint.clone())
            .unwrap_or_else(|| sha256_hex(&raw.bytes));
        let sender = mail
            .as_ref()
            .and_then(|m| m.sender())
            .map(|s| s.to_string());
        let duplicate_of = mails::original_of(tx, &fingerprint)?;
        let mail_id = mails::record(
            tx,
            &MailEntry {
                source_key: &raw.source_key,
                message_id: mail.as_ref().and_then(|m| m.message_id.as_deref()),
                fingerprint: &fingerprint,
                sender: sender.as_deref(),
                received_at,
                outcome: MailOutcome::Ignored,
                disposition: Disposition::Processed,
                reason: "being processed",
                case_id: None,
                // Over the size limit the original stays in the quarantine folder only.
                raw: if too_large { &[] } else { &raw.bytes },
            },
        )?;

        let (settled, left_for_people) = match (&mail, duplicate_of) {
            (None, _) => {
                let reason = if too_large {
                    format!(
                        "malformed: larger than inbound.max_message_bytes ({} > {})",
                        raw.bytes.len(),
                        self.settings.inbound.max_message_bytes
                    )
                } else {
                    "malformed: not a readable e-mail message".to_string()
                };
                self.notify_quarantine(tx, None, "", &reason, received_at, now)?;
                (Settled::new(MailOutcome::Quarantined, reason, None), false)
            }
            (Some(_), Some(original)) => (
                Settled::new(
                    MailOutcome::Ignored,
                    format!("duplicate of an earlier delivery ({original})"),
                    None,
                ),
                false,
            ),
            (Some(mail), None) => {
                let classification = classify(mail, self.settings, &StoreLookup(tx));
                let left = classification == Classification::NotAComplaint;
                (
                    self.act(tx, mail, mail_id, &classification, received_at, now)?,
                    left,
                )
            }
        };
        let disposition = match settled.outcome {
            MailOutcome::Quarantined => Disposition::Quarantine,
            MailOutcome::Ignored if left_for_people => Disposition::LeaveUnread,
            _ => Disposition::Processed,
        };
        mails::settle(
            tx,
            mail_id,
            settled.outcome,
            disposition,
            &settled.reason,
            settled.case.map(|(id, _)| id),
        )?;
        Ok(IntakeResult {
            outcome: settled.outcome,
            reason: settled.reason,
            case: settled.case.map(|(_, r)| r),
            disposition,
            already_recorded: false,
        })
    }

    fn act(
        &self,
        tx: &Connection,
        mail: &InboundMail,
        mail_id: i64,
        classification: &Classification,
        received_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Settled> {
        let reason = classification.reason();
        Ok(match classification {
            Classification::NewComplaint => {
                let from = mail
                    .from
                    .as_ref()
                    .expect("classify refuses mail without a sender");
                let subject = if mail.subject.is_empty() {
                    "(geen onderwerp)"
                } else {
                    &mail.subject
                };
                let case = self.register(
                    tx,
                    &NewComplaint {
                        complainant: &from.address,
                        name: from.name.as_deref(),
                        subject,
                        body: &mail.text,
                        attachments: &mail.attachments,
                        language: self.language_of(mail),
                        received_at,
                        mail_id,
                        reason: &reason,
                    },
                    now,
                )?;
                Settled::new(
                    MailOutcome::CaseCreated,
                    reason,
                    Some((case.id, case.reference)),
                )
            }
            Classification::FollowUp { case, .. } => {
                let record = cases::get(tx, *case)?.expect("classify only links existing cases");
                self.add_follow_up(tx, &record, mail, mail_id, received_at, now)?;
                Settled::new(MailOutcome::AddedToCase, reason, Some((record.id, *case)))
            }
            Classification::Staff { role, case } => {
                casework::handle_staff_mail(self, tx, mail, mail_id, *role, *case, now)?
            }
            Classification::Automatic(_) | Classification::NotAComplaint => {
                Settled::new(MailOutcome::Ignored, reason, None)
            }
            Classification::Spam => Settled::new(MailOutcome::Quarantined, reason, None),
            Classification::Malformed(why) => {
                let sender = mail.sender().map(|s| s.to_string());
                self.notify_quarantine(
                    tx,
                    sender.as_deref(),
                    &mail.subject,
                    why,
                    received_at,
                    now,
                )?;
                Settled::new(MailOutcome::Quarantined, reason, None)
            }
        })
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
        let case_id = cases::insert(
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
            },
        )?;
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

        let case = cases::get(tx, reference)?.expect("just inserted");
        let today = now.with_timezone(&self.tz).date_naive();
        let acknowledged = cases::claim_acknowledgement(tx, complaint.complainant, today, case_id)?;
        let mailer = self.mailer();
        let names: Vec<&str> = complaint
            .attachments
            .iter()
            .map(|a| a.filename.as_str())
            .collect();
        if acknowledged {
            let mut context = mailer.case_context(&case, complaint.language);
            context.insert("acknowledged", &true);
            mailer.to_complainant(
                tx,
                Letter {
                    kind: OutboxKind::Acknowledgement,
                    template: Template::Acknowledgement,
                    case: Some(&case),
                    context,
                    attachments: &[],
                },
                AutoSubmitted::AutoReplied,
                now,
            )?;
            cases::add_event(
                tx,
                case_id,
                now,
                "acknowledged",
                None,
                "ontvangstbevestiging in de wachtrij",
            )?;
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
        let mut context = mailer.case_context(&case, mailer.staff_language());
        context.insert("acknowledged", &acknowledged);
        context.insert("attachments", &names);
        mailer.to_roles(
            tx,
            Letter {
                kind: OutboxKind::StaffNotification,
                template: Template::StaffNotification,
                case: Some(&case),
                context,
                attachments: complaint.attachments,
            },
            &self.settings.roles.staff,
            now,
        )?;
        tracing::info!(case = %reference, acknowledged, "complaint registered");
        Ok(case)
    }

    fn add_follow_up(
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
        let mut context = mailer.case_context(case, lang);
        context.insert("body", &new_text);
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
                attachments: &mail.attachments,
            },
            &self.handler_or_staff(case),
            now,
        )?;
        tracing::info!(case = %case.reference, "follow-up recorded");
        Ok(())
    }

    /// Who hears about a case: its handler when that is a known address, otherwise all staff.
    pub(crate) fn handler_or_staff(&self, case: &CaseRecord) -> Vec<EmailAddress> {
        case.handler
            .as_deref()
            .and_then(|h| self.settings.roles.resolve(h))
            .map(|a| vec![a])
            .unwrap_or_else(|| self.settings.roles.staff.clone())
    }

    /// Tells the director once about a mail that could not be read.
    fn notify_quarantine(
        &self,
        tx: &Connection,
        sender: Option<&str>,
        subject: &str,
        reason: &str,
        received_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let mailer = self.mailer();
        let lang = mailer.staff_language();
        let mut context = Context::new();
        context.insert("address", self.settings.organisation.address.as_str());
        let (unknown, no_subject) = match lang {
            Language::Nl => ("(onbekend)", "(geen onderwerp)"),
            Language::En => ("(unknown)", "(no subject)"),
        };
        context.insert("sender", sender.unwrap_or(unknown));
        context.insert(
            "subject",
            if subject.is_empty() {
                no_subject
            } else {
                subject
            },
        );
        context.insert(
            "reason",
            &crate::domain::wording::quarantine_reason(reason, lang),
        );
        context.insert(
            "received",
            &templates::long_datetime(received_at, self.tz, lang),
        );
        mailer.to_director_without_case(
            tx,
            Letter {
                kind: OutboxKind::DirectorNotice,
                template: Template::QuarantineNotice,
                case: None,
                context,
                attachments: &[],
            },
            now,
        )?;
        tracing::warn!("mail quarantined: {reason}");
        Ok(())
    }

    /// The complaint's language: its text when that is clear, else the Content-Language
    /// header, else the organisation's language.
    fn language_of(&self, mail: &InboundMail) -> Language {
        let text = format!("{}\n{}", mail.subject, mail.text);
        if let Some(lang) = crate::domain::language::detect(&text) {
            return lang;
        }
        match mail.content_language.as_deref() {
            Some(l) if l.starts_with("en") => Language::En,
            Some(l) if l.starts_with("nl") => Language::Nl,
            _ => self.settings.organisation.language,
        }
    }
}

/// The new text of a reply: what stands above the quoted original and the signature.
pub(crate) fn new_text_of(mail: &InboundMail) -> String {
    let plain = mail.has_plain_text.then_some(mail.text.as_str());
    crate::commands::new_text(plain, mail.html.as_deref()).text
}
