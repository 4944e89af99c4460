//! Step 2 of the flow: one received mail → a new case, an entry on a case, an ignored mail or a
//! quarantined one, recorded in a single transaction together with the mail it causes.

use crate::casework;
use crate::domain::Disposition;
use crate::domain::Language;
use crate::domain::{CaseRef, EmailAddress, WorkingCalendar};
use crate::inbound::classify::{
    Automatic, Classification, KnownCases, classify, classify_by_headers,
};
use crate::inbound::{InboundMail, RawMail};
use crate::outbound::budget::Cause;
use crate::outbound::mailer::Files;
use crate::outbound::{Letter, Mailer, Renderer, Template, templates};
use crate::registration::{NewComplaint, Registry, Settled};
use crate::settings::Settings;
use crate::store::mails::{self, MailEntry};
use crate::store::outbox::{self, OutboxKind};
use crate::store::{CaseRecord, Complainant, MailOutcome, Store, cases};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;
use sha2::Digest;
use std::panic::{AssertUnwindSafe, catch_unwind};
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
    /// The key this copy is recorded under: the source's own key, or — when that key was
    /// used before for other content (a reused Maildir file name, a broken server reusing an
    /// IMAP UID) — that key with `#` and the content hash.
    pub source_key: String,
}

/// A mail read and decoded, before the store is touched: the costly part of intake, done
/// without holding the store lock.
pub struct Prepared<'r> {
    raw: &'r RawMail,
    content_sha256: String,
    decoded: Decoded,
    /// Spam or a machine's mail, known from the headers alone: then `decoded` holds only the
    /// headers, and the body is never decoded (it is kept, raw, in the ledger all the same).
    verdict: Option<Classification>,
}

enum Decoded {
    Mail(Box<InboundMail>),
    TooLarge,
    Unreadable,
    /// The decoder itself failed (a panic in a dependency): kept and quarantined.
    Failed(String),
}

impl<'r> Prepared<'r> {
    /// Decodes `raw` (unless it is over `inbound.max_message_bytes`): its headers first, and
    /// its body only when the headers leave open what it is. Never panics.
    pub fn new(raw: &'r RawMail, settings: &Settings) -> Prepared<'r> {
        let content_sha256 = sha256_hex(&raw.bytes);
        if raw.bytes.len() > settings.inbound.max_message_bytes {
            return Prepared {
                raw,
                content_sha256,
                decoded: Decoded::TooLarge,
                verdict: None,
            };
        }
        let headers = catch_unwind(|| InboundMail::parse_headers(&raw.bytes))
            .ok()
            .flatten();
        if let Some(mail) = &headers
            && let Ok(Some(verdict)) = catch_unwind(|| classify_by_headers(mail, settings))
        {
            return Prepared {
                raw,
                content_sha256,
                decoded: Decoded::Mail(Box::new(headers.expect("read above"))),
                verdict: Some(verdict),
            };
        }
        // The header fields as read above are not read again.
        let parse = AssertUnwindSafe(|| match headers {
            Some(headers) => InboundMail::parse_rest(&raw.bytes, headers),
            None => InboundMail::parse(&raw.bytes),
        });
        let decoded = match catch_unwind(parse) {
            Ok(Some(mail)) => Decoded::Mail(Box::new(mail)),
            Ok(None) => Decoded::Unreadable,
            Err(panic) => Decoded::Failed(panic_message(panic)),
        };
        Prepared {
            raw,
            content_sha256,
            decoded,
            verdict: None,
        }
    }

    /// Whether the verdict came from the headers alone (the body was never decoded).
    pub fn decided_by_headers(&self) -> bool {
        self.verdict.is_some()
    }

    fn mail(&self) -> Option<&InboundMail> {
        match &self.decoded {
            Decoded::Mail(m) => Some(m),
            _ => None,
        }
    }

    /// When the mailbox received it (never later than `now`).
    fn received_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.raw.arrived_at.map_or(now, |t| t.min(now))
    }

    /// The bytes the ledger keeps: none over the size limit (the original stays in the
    /// quarantine folder only).
    fn kept_bytes(&self) -> &[u8] {
        match self.decoded {
            Decoded::TooLarge => &[],
            _ => &self.raw.bytes,
        }
    }
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error: {what}")
}

/// Whether an error is the environment's (database locked, disk full, I/O) rather than the
/// mail's: then the mail must stay where it is and be tried again, not be quarantined.
fn is_environment_failure(error: &anyhow::Error) -> bool {
    use rusqlite::ErrorCode::*;
    error.chain().any(|cause| {
        cause
            .downcast_ref::<rusqlite::Error>()
            .and_then(|e| e.sqlite_error_code())
            .is_some_and(|code| {
                matches!(
                    code,
                    DatabaseBusy
                        | DatabaseLocked
                        | DiskFull
                        | SystemIoFailure
                        | CannotOpen
                        | ReadOnly
                        | DatabaseCorrupt
                        | OutOfMemory
                        | NotADatabase
                )
            })
            || cause.downcast_ref::<std::io::Error>().is_some()
    })
}

/// An error message fit for the log: addresses replaced by short hashes, one line, bounded.
pub(crate) fn loggable(error: &str) -> String {
    crate::redact::addresses(&crate::inbound::one_line(error))
        .chars()
        .take(300)
        .collect()
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
        // A purged case is never linked again: mail naming it is new mail (issue 20).
        cases::exists(self.0, case) && !cases::is_purged(self.0, case)
    }
    fn complainant_of(&self, case: CaseRef) -> Option<String> {
        cases::get(self.0, case).ok().flatten()?.complainant_address
    }
    fn case_of_complainant_message(&self, message_id: &str) -> Option<CaseRef> {
        cases::case_of_complainant_message(self.0, message_id)
            .ok()
            .flatten()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    crate::hex::encode(&sha2::Sha256::digest(bytes))
}

impl Intake<'_> {
    /// What intake shares with casework: registering, choosing recipients, writing mail.
    pub(crate) fn registry(&self) -> Registry<'_> {
        Registry {
            settings: self.settings,
            calendar: self.calendar,
            renderer: self.renderer,
            tz: self.tz,
        }
    }

    /// Writes mail in the intake transaction.
    pub(crate) fn mailer(&self) -> Mailer<'_> {
        Mailer {
            settings: self.settings,
            renderer: self.renderer,
            tz: self.tz,
        }
    }

    /// Who hears about a case: its handler when that is a known address, otherwise all staff.
    pub(crate) fn handler_or_staff(&self, case: &CaseRecord) -> Vec<EmailAddress> {
        self.registry().handler_or_staff(case)
    }

    /// Records `raw` exactly once. Safe to call again for the same mail after a crash: the
    /// second call finds the source key and changes nothing.
    pub fn process(
        &self,
        store: &mut Store,
        raw: &RawMail,
        now: DateTime<Utc>,
    ) -> anyhow::Result<IntakeResult> {
        let prepared = self.prepare(raw);
        self.record(store, &prepared, now)
    }

    /// Decodes a mail: the part of intake that needs no store (do it before taking the lock).
    pub fn prepare<'r>(&self, raw: &'r RawMail) -> Prepared<'r> {
        Prepared::new(raw, self.settings)
    }

    /// Records a decoded mail exactly once, isolated: whatever goes wrong with this one mail
    /// (a bug, an address no one can write to, a template that fails on its text) rolls its
    /// transaction back and records it as quarantined with the error instead, the director
    /// told once. Only a failure of the environment (database locked, disk full) is returned
    /// as an error; then the mail stays in the mailbox for the next attempt.
    pub fn record(
        &self,
        store: &mut Store,
        prepared: &Prepared<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<IntakeResult> {
        let attempt = catch_unwind(AssertUnwindSafe(|| {
            store.transaction(|tx| self.process_in(tx, prepared, now))
        }));
        let error = match attempt {
            Ok(Ok(result)) => return Ok(result),
            Ok(Err(e)) if is_environment_failure(&e) => return Err(e),
            Ok(Err(e)) => format!("{e:#}"),
            Err(panic) => panic_message(panic),
        };
        tracing::error!(
            source = %prepared.raw.source_key,
            "taking in a mail failed; it is quarantined and intake goes on: {}",
            loggable(&error)
        );
        let reason = format!(
            "error while taking in: {}",
            crate::inbound::one_line(&error)
        );
        let with_notice = store.transaction(|tx| self.quarantine(tx, prepared, &reason, true, now));
        match with_notice {
            Ok(result) => Ok(result),
            Err(e) if is_environment_failure(&e) => Err(e),
            // Even the notice failed: record the mail without it, so it is never lost.
            Err(_) => store.transaction(|tx| self.quarantine(tx, prepared, &reason, false, now)),
        }
    }

    /// Records a batch of decoded mails in one transaction (group commit: one commit and one
    /// fsync for all of them, each index page written once). Should any of them fail in any
    /// way, nothing of the batch is kept and each mail is recorded on its own with
    /// [`Intake::record`], so one mail's error still quarantines that mail only. Returns the
    /// results of the mails recorded, in order, and the failure of the environment that
    /// stopped it early, if one did (the mails after it are not recorded).
    pub fn record_batch(
        &self,
        store: &mut Store,
        prepared: &[Prepared<'_>],
        now: DateTime<Utc>,
    ) -> (Vec<IntakeResult>, Option<anyhow::Error>) {
        if prepared.len() > 1 {
            let attempt = catch_unwind(AssertUnwindSafe(|| {
                store.transaction(|tx| {
                    prepared
                        .iter()
                        .map(|p| self.process_in(tx, p, now))
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            }));
            if let Ok(Ok(results)) = attempt {
                return (results, None);
            }
        }
        let mut results = Vec::with_capacity(prepared.len());
        for p in prepared {
            match self.record(store, p, now) {
                Ok(result) => results.push(result),
                Err(e) => return (results, Some(e)),
            }
        }
        (results, None)
    }

    /// Records a mail as quarantined with `reason` (after its own processing failed).
    fn quarantine(
        &self,
        tx: &Connection,
        prepared: &Prepared<'_>,
        reason: &str,
        notify: bool,
        now: DateTime<Utc>,
    ) -> anyhow::Result<IntakeResult> {
        let source_key = match self.copy_key(tx, prepared)? {
            CopyKey::Recorded(result) => return Ok(result),
            CopyKey::New(key) => key,
        };
        let received_at = prepared.received_at(now);
        let sender = prepared
            .mail()
            .and_then(|m| m.sender())
            .map(|s| s.to_string());
        let subject = prepared
            .mail()
            .map(|m| m.subject.clone())
            .unwrap_or_default();
        mails::record(
            tx,
            &MailEntry {
                source_key: &source_key,
                message_id: prepared.mail().and_then(|m| m.message_id.as_deref()),
                fingerprint: &prepared.content_sha256,
                sender: sender.as_deref(),
                received_at,
                outcome: MailOutcome::Quarantined,
                disposition: Disposition::Quarantine,
                reason,
                case_id: None,
                raw: prepared.kept_bytes(),
                content_sha256: &prepared.content_sha256,
            },
        )?;
        if notify {
            // Proof first here too: the first transaction was rolled back, so the sender is
            // decided again (and taken as unproven if even that fails).
            let check = prepared
                .mail()
                .filter(|m| {
                    m.sender()
                        .is_some_and(|s| self.settings.roles.role_of(s).is_some())
                })
                .map(|m| casework::check_sender_or_unproven(&self.registry(), tx, m, now));
            self.notify_quarantine(
                tx,
                sender.as_deref(),
                check.as_ref(),
                &subject,
                reason,
                received_at,
                now,
            )?;
        }
        Ok(IntakeResult {
            outcome: MailOutcome::Quarantined,
            reason: reason.to_string(),
            case: None,
            disposition: Disposition::Quarantine,
            already_recorded: false,
            source_key,
        })
    }

    /// The key to record this copy under, or what was recorded for it before.
    fn copy_key(&self, tx: &Connection, prepared: &Prepared<'_>) -> anyhow::Result<CopyKey> {
        let base = &prepared.raw.source_key;
        let derived = format!("{base}#{}", &prepared.content_sha256[..16]);
        for key in [base, &derived] {
            match mails::recorded_copy(tx, key)? {
                // Same bytes (or a row from before content hashes were kept): this copy again.
                Some((outcome, disposition, sha))
                    if sha.is_none() || sha.as_deref() == Some(&prepared.content_sha256) =>
                {
                    return Ok(CopyKey::Recorded(IntakeResult {
                        outcome,
                        reason: "already recorded".to_string(),
                        case: None,
                        disposition,
                        already_recorded: true,
                        source_key: key.clone(),
                    }));
                }
                // The key was used before for other content: this is another mail.
                Some(_) => continue,
                None => return Ok(CopyKey::New(key.clone())),
            }
        }
        anyhow::bail!("source key {base} and its content key are both taken by other mail")
    }

    fn process_in(
        &self,
        tx: &Connection,
        prepared: &Prepared<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<IntakeResult> {
        let raw = prepared.raw;
        let source_key = match self.copy_key(tx, prepared)? {
            CopyKey::Recorded(result) => return Ok(result),
            CopyKey::New(key) => key,
        };
        let received_at = prepared.received_at(now);
        let mail = prepared.mail();
        let fingerprint = mail
            .map(|m| m.fingerprint.clone())
            .unwrap_or_else(|| prepared.content_sha256.clone());
        let sender = mail.and_then(|m| m.sender()).map(|s| s.to_string());
        let duplicate_of = mails::original_of(tx, &fingerprint)?;
        let classification = match (mail, &duplicate_of) {
            (Some(mail), None) => Some(match &prepared.verdict {
                Some(verdict) => verdict.clone(),
                None => classify(mail, self.settings, &StoreLookup(tx)),
            }),
            _ => None,
        };
        let left_for_people = classification == Some(Classification::NotAComplaint);
        // The very same bytes again (the same message under a new UID, a folder rescanned
        // after a UIDVALIDITY change): recorded by reference to the first copy — its key in
        // the reason, its content hash in this row — instead of a second copy of the bytes.
        let same_bytes = duplicate_of
            .as_ref()
            .is_some_and(|(_, sha)| sha.as_deref() == Some(prepared.content_sha256.as_str()))
            && mail.is_some();
        // Known before anything is acted on (a duplicate, spam, a machine's mail, no
        // complaint): the ledger row is written once, as it ends, and nothing else.
        let known = match (&duplicate_of, &classification) {
            (Some((original, _)), _) if mail.is_some() && !same_bytes => Some(Settled::new(
                MailOutcome::Ignored,
                format!("duplicate of an earlier delivery ({original})"),
                None,
            )),
            (Some((original, _)), _) if mail.is_some() => Some(Settled::new(
                MailOutcome::Ignored,
                format!(
                    "duplicate of an earlier delivery ({original}; the same bytes, kept there)"
                ),
                None,
            )),
            (_, Some(c @ (Classification::Automatic(_) | Classification::NotAComplaint))) => {
                Some(Settled::new(MailOutcome::Ignored, c.reason(), None))
            }
            (_, Some(c @ Classification::Spam)) => {
                Some(Settled::new(MailOutcome::Quarantined, c.reason(), None))
            }
            _ => None,
        };
        let (outcome, disposition, reason) = match &known {
            Some(settled) => (
                settled.outcome,
                disposition_of(settled.outcome, left_for_people),
                settled.reason.as_str(),
            ),
            None => (
                MailOutcome::Ignored,
                Disposition::Processed,
                "being processed",
            ),
        };
        let mail_id = mails::record(
            tx,
            &MailEntry {
                source_key: &source_key,
                message_id: mail.and_then(|m| m.message_id.as_deref()),
                fingerprint: &fingerprint,
                sender: sender.as_deref(),
                received_at,
                outcome,
                disposition,
                reason,
                case_id: None,
                raw: if same_bytes {
                    &[]
                } else {
                    prepared.kept_bytes()
                },
                content_sha256: &prepared.content_sha256,
            },
        )?;
        // Proof first: for mail whose From is a role address, who sent it is decided before
        // anything else it can cause, once; everything after takes this decision.
        let mut sender_check = None;
        if let (Some(mail), Some(c)) = (mail, &classification) {
            if mail
                .sender()
                .is_some_and(|s| self.settings.roles.role_of(s).is_some())
            {
                let linked = match c {
                    Classification::Staff { case, .. } => *case,
                    _ => None,
                };
                sender_check = Some(casework::check_sender(
                    &self.registry(),
                    tx,
                    mail,
                    linked,
                    now,
                )?);
            } else {
                // A token in mail from anyone but its owner has leaked (issue 9).
                casework::check_tokens(&self.registry(), tx, mail, now)?;
            }
        }
        if let (Some(mail), Some(Classification::Automatic(Automatic::Convention(c)))) =
            (mail, &classification)
        {
            // Never answered, but not unseen: a machine's mail that names a case is noted on it
            // (an out-of-office of the complainant, a bounce of our acknowledgement), nobody
            // mailed.
            if let Some(case_id) = case_id_named(tx, mail)? {
                cases::add_event(tx, case_id, now, "automatic_mail", None, &c.history_note())?;
            }
        }
        if let Some(settled) = known {
            crate::failpoint::hit("intake-before-commit");
            return Ok(IntakeResult {
                outcome: settled.outcome,
                reason: settled.reason,
                case: None,
                disposition,
                already_recorded: false,
                source_key,
            });
        }

        // Another sender's Message-ID: registered as usual, shown as a possible forgery.
        let reused = match mail.and_then(|m| m.message_id.as_deref()) {
            Some(id) => {
                mails::reused_by_another_sender(tx, id, mail.and_then(|m| m.sender()), mail_id)?
            }
            None => None,
        };
        let settled = match (mail, classification) {
            (Some(mail), Some(classification)) => self.act(
                tx,
                mail,
                mail_id,
                prepared.kept_bytes(),
                &classification,
                sender_check,
                reused.as_ref().map(|c| c.as_deref()),
                received_at,
                now,
            )?,
            _ => {
                let reason = match &prepared.decoded {
                    Decoded::TooLarge => format!(
                        "malformed: larger than inbound.max_message_bytes ({} > {})",
                        raw.bytes.len(),
                        self.settings.inbound.max_message_bytes
                    ),
                    Decoded::Failed(why) => format!("malformed: the decoder failed ({why})"),
                    _ => "malformed: not a readable e-mail message".to_string(),
                };
                self.notify_quarantine(tx, None, None, "", &reason, received_at, now)?;
                Settled::new(MailOutcome::Quarantined, reason, None)
            }
        };
        if let (Some(earlier), Some((case_id, _))) = (&reused, settled.case) {
            cases::add_event(
                tx,
                case_id,
                now,
                "message_id_reused",
                None,
                &format!(
                    "Message-ID eerder gebruikt door {} van een andere afzender; mogelijk vervalst",
                    crate::domain::wording::earlier_mail(earlier.as_deref(), Language::Nl)
                ),
            )?;
        }
        let disposition = disposition_of(settled.outcome, left_for_people);
        mails::settle(
            tx,
            mail_id,
            settled.outcome,
            disposition,
            &settled.reason,
            settled.case.map(|(id, _)| id),
        )?;
        crate::failpoint::hit("intake-before-commit");
        Ok(IntakeResult {
            outcome: settled.outcome,
            reason: settled.reason,
            case: settled.case.map(|(_, r)| r),
            disposition,
            already_recorded: false,
            source_key,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn act(
        &self,
        tx: &Connection,
        mail: &InboundMail,
        mail_id: i64,
        kept: &[u8],
        classification: &Classification,
        sender_check: Option<casework::SenderCheck>,
        message_id_reused: Option<Option<&str>>,
        received_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Settled> {
        let reason = classification.reason();
        Ok(match classification {
            Classification::NewComplaint => {
                let complainant = match (&mail.from, &mail.from_unusable) {
                    (Some(from), _) => Complainant::Reachable(&from.address),
                    (None, Some(raw)) => Complainant::Unreachable(raw),
                    (None, None) => anyhow::bail!("classify passed a mail without a sender"),
                };
                let subject = if mail.subject.is_empty() {
                    "(geen onderwerp)"
                } else {
                    &mail.subject
                };
                // An encrypted complaint is registered all the same: what it holds stays in
                // the kept original; the case says why its text is missing.
                let body = match mail.encrypted {
                    Some(_) if mail.text.trim().is_empty() => {
                        crate::registration::encrypted_text(self.mailer().staff_language())
                    }
                    _ => &mail.text,
                };
                let case = self.registry().register(
                    tx,
                    &NewComplaint {
                        complainant,
                        name: mail.from.as_ref().and_then(|f| f.name.as_deref()),
                        subject,
                        body,
                        attachments: &mail.attachments,
                        language: self.language_of(mail),
                        received_at,
                        mail_id,
                        raw: Some(kept),
                        reason: &reason,
                        sender_verified: sender_verified(mail, self.settings),
                        vouched: sender_verified(mail, self.settings),
                        cause: Cause::Unproven,
                        repaired: mail.repaired,
                        names_purged: self.registry().purged_case_named(tx, mail),
                        message_id_reused,
                        html: mail.html.as_deref(),
                        registered_by: None,
                        encrypted: mail.encrypted,
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
                let record = cases::get(tx, *case)?.ok_or_else(|| {
                    anyhow::anyhow!("classify linked {case}, which does not exist")
                })?;
                self.registry()
                    .follow_up(tx, &record, mail, mail_id, received_at, now)?;
                Settled::new(MailOutcome::AddedToCase, reason, Some((record.id, *case)))
            }
            Classification::ThirdParty { case, .. } => {
                let record = cases::get(tx, *case)?.expect("classify only links existing cases");
                casework::third_party::record(
                    &self.registry(),
                    tx,
                    &record,
                    mail,
                    received_at,
                    now,
                )?;
                Settled::new(MailOutcome::AddedToCase, reason, Some((record.id, *case)))
            }
            Classification::Staff { .. } => {
                let check = sender_check
                    .ok_or_else(|| anyhow::anyhow!("a role sender's mail without a decision"))?;
                casework::handle_staff_mail(
                    &self.registry(),
                    tx,
                    mail,
                    mail_id,
                    check,
                    received_at,
                    now,
                )?
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
                    sender_check.as_ref(),
                    &mail.subject,
                    why,
                    received_at,
                    now,
                )?;
                Settled::new(MailOutcome::Quarantined, reason, None)
            }
        })
    }

    /// Tells the director once about a mail that could not be read; and the role address
    /// whose mail it was — saying whether it was proven to come from them.
    #[allow(clippy::too_many_arguments)]
    fn notify_quarantine(
        &self,
        tx: &Connection,
        sender: Option<&str>,
        sender_check: Option<&casework::SenderCheck>,
        subject: &str,
        reason: &str,
        received_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let mailer = self.mailer();
        let lang = mailer.staff_language();
        let mut context = Context::new();
        context.insert("address", self.settings.organisation.address.as_str());
        // The sender's own words, made inert by the mailer; the template says when there are
        // none.
        context.insert("sender", sender.unwrap_or_default());
        context.insert("subject", subject);
        context.insert(
            "reason",
            &crate::domain::wording::quarantine_reason(reason, lang),
        );
        context.insert(
            "received",
            &templates::long_datetime(received_at, self.tz, lang),
        );
        // A staff member, the director or the committee whose own mail this was hears it
        // too: a command mail that cannot be used is never silent.
        if let Some(check) = sender_check {
            let staff = &check.address;
            let mut to_sender = context.clone();
            to_sender.insert("to_sender", &true);
            to_sender.insert("unproven", &!check.proven());
            to_sender.insert("recipient_name", &self.settings.roles.name_of(staff));
            // Mail in a role address's name that proves nothing is told within the outbound
            // budget (issue 22); a proven sender's is their own transcript.
            mailer.to_role(
                tx,
                Letter {
                    kind: if check.proven() {
                        OutboxKind::Transcript
                    } else {
                        OutboxKind::UnprovenNotice
                    },
                    template: Template::QuarantineNotice,
                    case: None,
                    context: to_sender,
                    attachments: &[],
                    files: Files::None,
                    cause: if check.proven() {
                        Cause::Proven
                    } else {
                        Cause::Unproven
                    },
                },
                staff,
                None,
                now,
            )?;
        }
        mailer.to_director_without_case(
            tx,
            Letter {
                kind: OutboxKind::DirectorNotice,
                template: Template::QuarantineNotice,
                case: None,
                context,
                attachments: &[],
                files: Files::None,
                cause: Cause::Unproven,
            },
            now,
        )?;
        tracing::warn!("mail quarantined: {}", crate::redact::addresses(reason));
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

/// The id of the case a mail names — its `[KL-…]` tag, or In-Reply-To/References naming a
/// mail klachtd sent on it (as `classify` links a follow-up) — found by index alone.
fn case_id_named(tx: &Connection, mail: &InboundMail) -> anyhow::Result<Option<i64>> {
    if let Some(case) = CaseRef::find_in_subject(&mail.subject)
        && let Some(id) = cases::id_of(tx, case)?
    {
        return Ok(Some(id));
    }
    for id in &mail.thread_ids {
        if let Some(case_id) = outbox::case_id_of_message(tx, id)? {
            return Ok(Some(case_id));
        }
    }
    Ok(None)
}

/// Where the mail source puts a mail with this outcome.
fn disposition_of(outcome: MailOutcome, left_for_people: bool) -> Disposition {
    match outcome {
        MailOutcome::Quarantined => Disposition::Quarantine,
        MailOutcome::Ignored if left_for_people => Disposition::LeaveUnread,
        _ => Disposition::Processed,
    }
}

enum CopyKey {
    Recorded(IntakeResult),
    New(String),
}

/// The receiving platform vouches for the From address (`casework::evidence::sender_vouched`): its
/// own results show a login as the sender, DMARC pass or aligned DKIM pass, and nothing speaks
/// against it. Decides what an acknowledgement may quote, and that the hourly ceiling never
/// holds it back (issue 22).
fn sender_verified(mail: &InboundMail, settings: &Settings) -> bool {
    crate::casework::evidence::sender_vouched(mail, settings)
}
