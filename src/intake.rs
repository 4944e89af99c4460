//! Step 2 of the flow: one received mail → a new case, an entry on a case, an ignored mail or a
//! quarantined one, recorded in a single transaction together with the mail it causes.

use crate::domain::{CaseRef, EmailAddress, WorkingCalendar};
use crate::inbound::classify::{Classification, KnownCases, classify};
use crate::inbound::{Disposition, InboundMail, RawMail};
use crate::outbound::compose::{self, AutoSubmitted, Draft};
use crate::outbound::{Renderer, Template, templates};
use crate::settings::{Language, Settings};
use crate::store::mails::{self, MailEntry};
use crate::store::outbox::{self, OutboxKind, Outgoing};
use crate::store::{CaseRecord, MailOutcome, NewCase, Store, cases};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;
use tera::Context;

fn disposition_of(outcome: MailOutcome, left_for_people: bool) -> Disposition {
    match outcome {
        MailOutcome::Quarantined => Disposition::Quarantine,
        MailOutcome::Ignored if left_for_people => Disposition::LeaveUnread,
        _ => Disposition::Processed,
    }
}

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

impl Intake<'_> {
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
        let mut entry = MailEntry {
            source_key: &raw.source_key,
            message_id: None,
            fingerprint: "",
            sender: None,
            received_at,
            outcome: MailOutcome::Quarantined,
            disposition: Disposition::Quarantine,
            reason: "",
            case_id: None,
            raw: &raw.bytes,
        };
        if raw.bytes.len() > self.settings.inbound.max_message_bytes {
            let reason = format!(
                "malformed: larger than inbound.max_message_bytes ({} > {})",
                raw.bytes.len(),
                self.settings.inbound.max_message_bytes
            );
            let fingerprint =
                crate::inbound::hex(&<sha2::Sha256 as sha2::Digest>::digest(&raw.bytes));
            entry.fingerprint = &fingerprint;
            entry.reason = &reason;
            entry.raw = &[];
            mails::record(tx, &entry)?;
            self.notify_quarantine(tx, None, "", &reason, received_at, now)?;
            return Ok(quarantined(reason));
        }
        let Some(mail) = InboundMail::parse(&raw.bytes) else {
            let reason = "malformed: not a readable e-mail message".to_string();
            let fingerprint =
                crate::inbound::hex(&<sha2::Sha256 as sha2::Digest>::digest(&raw.bytes));
            entry.fingerprint = &fingerprint;
            entry.reason = &reason;
            mails::record(tx, &entry)?;
            self.notify_quarantine(tx, None, "", &reason, received_at, now)?;
            return Ok(quarantined(reason));
        };
        let sender = mail.sender().map(|s| s.as_str().to_string());
        entry.message_id = mail.message_id.as_deref();
        entry.fingerprint = &mail.fingerprint;
        entry.sender = sender.as_deref();

        if let Some(original) = mails::original_of(tx, &mail.fingerprint)? {
            let reason = format!("duplicate of an earlier delivery ({original})");
            entry.outcome = MailOutcome::Ignored;
            entry.disposition = Disposition::Processed;
            entry.reason = &reason;
            mails::record(tx, &entry)?;
            return Ok(IntakeResult {
                outcome: MailOutcome::Ignored,
                reason,
                case: None,
                disposition: Disposition::Processed,
                already_recorded: false,
            });
        }

        let classification = classify(&mail, self.settings, &StoreLookup(tx));
        let reason = classification.reason();
        entry.reason = &reason;
        let (outcome, case) = match &classification {
            Classification::NewComplaint => {
                let (case_id, case) = self.register(tx, &mail, &mut entry, received_at, now)?;
                entry.case_id = Some(case_id);
                (MailOutcome::CaseCreated, Some(case))
            }
            Classification::FollowUp { case, .. } => {
                let record = cases::get(tx, *case)?.expect("classify only links existing cases");
                entry.outcome = MailOutcome::AddedToCase;
                entry.disposition = Disposition::Processed;
                entry.case_id = Some(record.id);
                let mail_id = mails::record(tx, &entry)?;
                self.add_follow_up(tx, &record, &mail, mail_id, received_at, now)?;
                return Ok(recorded(
                    MailOutcome::AddedToCase,
                    reason.clone(),
                    Some(*case),
                ));
            }
            Classification::Staff {
                case: Some(case), ..
            } => {
                let record = cases::get(tx, *case)?.expect("classify only links existing cases");
                entry.case_id = Some(record.id);
                cases::add_event(
                    tx,
                    record.id,
                    now,
                    "staff_mail",
                    sender.as_deref(),
                    &new_text_of(&mail),
                )?;
                (MailOutcome::AddedToCase, Some(*case))
            }
            Classification::Staff { case: None, .. }
            | Classification::Automatic(_)
            | Classification::NotAComplaint => (MailOutcome::Ignored, None),
            Classification::Spam => (MailOutcome::Quarantined, None),
            Classification::Malformed(why) => {
                self.notify_quarantine(
                    tx,
                    sender.as_deref(),
                    &mail.subject,
                    why,
                    received_at,
                    now,
                )?;
                (MailOutcome::Quarantined, None)
            }
        };
        let left_for_people = classification == Classification::NotAComplaint;
        entry.outcome = outcome;
        entry.disposition = disposition_of(outcome, left_for_people);
        if outcome != MailOutcome::CaseCreated {
            mails::record(tx, &entry)?;
        }
        let disposition = entry.disposition;
        let mut result = recorded(outcome, reason.clone(), case);
        result.disposition = disposition;
        Ok(result)
    }

    /// Registers a new case, keeps its attachments, and queues the acknowledgement (at most
    /// one per sender per day) and the staff notification.
    fn register(
        &self,
        tx: &Connection,
        mail: &InboundMail,
        entry: &mut MailEntry<'_>,
        received_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(i64, CaseRef)> {
        let from = mail
            .from
            .as_ref()
            .expect("classify refuses mail without a sender");
        let local = received_at.with_timezone(&self.tz);
        let received_day = local.date_naive();
        let reaction_due = self
            .calendar
            .deadline(received_day, self.settings.deadlines.reaction_working_days);
        let language = self.language_of(mail);
        let reference = cases::next_reference(tx, chrono::Datelike::year(&received_day))?;
        let subject = if mail.subject.is_empty() {
            "(geen onderwerp)"
        } else {
            &mail.subject
        };
        let case_id = cases::insert(
            tx,
            reference,
            &NewCase {
                language: language.as_str(),
                complainant: &from.address,
                complainant_name: from.name.as_deref(),
                subject,
                body: &mail.text,
                received_at,
                reaction_due,
            },
        )?;
        entry.outcome = MailOutcome::CaseCreated;
        entry.disposition = Disposition::Processed;
        entry.case_id = Some(case_id);
        let mail_id = mails::record(tx, entry)?;
        for attachment in &mail.attachments {
            cases::add_attachment(tx, case_id, mail_id, attachment)?;
        }
        cases::add_event(tx, case_id, now, "registered", None, entry.reason)?;

        let case = cases::get(tx, reference)?.expect("just inserted");
        let acknowledged = cases::claim_acknowledgement(
            tx,
            &from.address,
            now.with_timezone(&self.tz).date_naive(),
            case_id,
        )?;
        let mut context = self.case_context(&case, language);
        context.insert("acknowledged", &acknowledged);
        let names: Vec<&str> = mail
            .attachments
            .iter()
            .map(|a| a.filename.as_str())
            .collect();
        if acknowledged {
            let rendered = self
                .renderer
                .render(Template::Acknowledgement, language, &context)?;
            let references: Vec<String> = mail.message_id.iter().cloned().collect();
            self.queue(
                tx,
                &case,
                OutboxKind::Acknowledgement,
                Draft {
                    from: self.our_mailbox()?,
                    to: vec![compose::mailbox(&from.address, from.name.as_deref())?],
                    reply_to: None,
                    case: Some(reference),
                    rendered: &rendered,
                    in_reply_to: mail.message_id.as_deref(),
                    references: &references,
                    attachments: &[],
                    auto_submitted: AutoSubmitted::AutoReplied,
                },
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
        let staff_lang = self.settings.organisation.language;
        let mut staff_context = self.case_context(&case, staff_lang);
        staff_context.insert("acknowledged", &acknowledged);
        staff_context.insert("attachments", &names);
        let rendered =
            self.renderer
                .render(Template::StaffNotification, staff_lang, &staff_context)?;
        let staff = self.staff_mailboxes()?;
        self.queue(
            tx,
            &case,
            OutboxKind::StaffNotification,
            Draft {
                from: self.our_mailbox()?,
                to: staff,
                reply_to: Some(self.our_mailbox()?),
                case: Some(reference),
                rendered: &rendered,
                in_reply_to: None,
                references: &[],
                attachments: &mail.attachments,
                auto_submitted: AutoSubmitted::AutoGenerated,
            },
            now,
        )?;
        tracing::info!(case = %reference, acknowledged, "complaint registered");
        Ok((case_id, reference))
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
        let lang = self.settings.organisation.language;
        let mut context = self.case_context(case, lang);
        context.insert("body", &new_text);
        context.insert(
            "received",
            &templates::long_datetime(received_at, self.tz, lang),
        );
        let rendered = self
            .renderer
            .render(Template::FollowUpNotification, lang, &context)?;
        let to = match &case.handler {
            Some(handler) => match handler.parse::<EmailAddress>() {
                Ok(address) => vec![compose::mailbox(&address, None)?],
                Err(_) => self.staff_mailboxes()?,
            },
            None => self.staff_mailboxes()?,
        };
        self.queue(
            tx,
            case,
            OutboxKind::FollowUpNotification,
            Draft {
                from: self.our_mailbox()?,
                to,
                reply_to: Some(self.our_mailbox()?),
                case: Some(case.reference),
                rendered: &rendered,
                in_reply_to: None,
                references: &[],
                attachments: &mail.attachments,
                auto_submitted: AutoSubmitted::AutoGenerated,
            },
            now,
        )?;
        tracing::info!(case = %case.reference, "follow-up recorded");
        Ok(())
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
        let lang = self.settings.organisation.language;
        let mut context = Context::new();
        context.insert("address", self.settings.organisation.address.as_str());
        context.insert("sender", sender.unwrap_or("(onbekend)"));
        context.insert(
            "subject",
            if subject.is_empty() {
                "(geen onderwerp)"
            } else {
                subject
            },
        );
        context.insert("reason", reason);
        context.insert(
            "received",
            &templates::long_datetime(received_at, self.tz, lang),
        );
        let rendered = self
            .renderer
            .render(Template::QuarantineNotice, lang, &context)?;
        let draft = Draft {
            from: self.our_mailbox()?,
            to: vec![compose::mailbox(&self.settings.roles.director, None)?],
            reply_to: None,
            case: None,
            rendered: &rendered,
            in_reply_to: None,
            references: &[],
            attachments: &[],
            auto_submitted: AutoSubmitted::AutoGenerated,
        };
        let message_id = compose::new_message_id(
            None,
            "quarantine",
            self.settings.organisation.address.domain(),
        );
        let bytes = compose::build(&draft, &message_id, now)?;
        let recipients = vec![self.settings.roles.director.to_string()];
        outbox::queue(
            tx,
            &Outgoing {
                message_id: &message_id,
                case_id: None,
                kind: OutboxKind::DirectorNotice,
                envelope_from: self.settings.organisation.address.as_str(),
                recipients: &recipients,
                raw: &bytes,
            },
            now,
        )?;
        tracing::warn!("mail quarantined: {reason}");
        Ok(())
    }

    fn queue(
        &self,
        tx: &Connection,
        case: &CaseRecord,
        kind: OutboxKind,
        draft: Draft<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let message_id = compose::new_message_id(
            Some(case.reference),
            kind.id_tag(),
            self.settings.organisation.address.domain(),
        );
        let recipients: Vec<String> = draft.to.iter().map(|m| m.email.to_string()).collect();
        let bytes = compose::build(&draft, &message_id, now)?;
        outbox::queue(
            tx,
            &Outgoing {
                message_id: &message_id,
                case_id: Some(case.id),
                kind,
                envelope_from: self.settings.organisation.address.as_str(),
                recipients: &recipients,
                raw: &bytes,
            },
            now,
        )?;
        Ok(())
    }

    /// Values every case template may use.
    fn case_context(&self, case: &CaseRecord, lang: Language) -> Context {
        let mut c = Context::new();
        c.insert("organisation", &self.settings.organisation.name);
        c.insert("address", self.settings.organisation.address.as_str());
        c.insert("reference", &case.reference.to_string());
        c.insert("tag", &case.reference.tag());
        c.insert("subject", &case.subject);
        c.insert("name", &case.complainant_name);
        c.insert("complainant", &case.complainant_address);
        c.insert("body", &case.body);
        c.insert("quote", &templates::excerpt(&case.body, 600));
        c.insert(
            "received",
            &templates::long_datetime(case.received_at, self.tz, lang),
        );
        c.insert(
            "reaction_due",
            &templates::long_date(case.reaction_due, lang),
        );
        c.insert(
            "reaction_days",
            &self.settings.deadlines.reaction_working_days,
        );
        c.insert("status", case.status.dutch());
        c.insert(
            "example_handler",
            self.settings
                .roles
                .staff
                .first()
                .map(EmailAddress::as_str)
                .unwrap_or_default(),
        );
        c.insert("attachments", &Vec::<String>::new());
        c
    }

    fn language_of(&self, mail: &InboundMail) -> Language {
        match mail.content_language.as_deref() {
            Some(l) if l.starts_with("en") => Language::En,
            Some(l) if l.starts_with("nl") => Language::Nl,
            _ => self.settings.organisation.language,
        }
    }

    fn our_mailbox(&self) -> anyhow::Result<lettre::message::Mailbox> {
        compose::mailbox(
            &self.settings.organisation.address,
            Some(&self.settings.organisation.sender_name),
        )
    }

    fn staff_mailboxes(&self) -> anyhow::Result<Vec<lettre::message::Mailbox>> {
        self.settings
            .roles
            .staff
            .iter()
            .map(|a| compose::mailbox(a, None))
            .collect()
    }
}

/// The new text of a reply: what stands above the quoted original and the signature.
fn new_text_of(mail: &InboundMail) -> String {
    let plain = mail.has_plain_text.then_some(mail.text.as_str());
    crate::commands::new_text(plain, mail.html.as_deref()).text
}

fn recorded(outcome: MailOutcome, reason: String, case: Option<CaseRef>) -> IntakeResult {
    IntakeResult {
        outcome,
        reason,
        case,
        disposition: disposition_of(outcome, false),
        already_recorded: false,
    }
}

fn quarantined(reason: String) -> IntakeResult {
    recorded(MailOutcome::Quarantined, reason, None)
}
