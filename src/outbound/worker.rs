//! The outbox worker: sends what is due, oldest first, and records each result. A temporary
//! failure for one message backs that message off alone (and with it only the later mail of
//! the same case to the same reader, so order holds where anyone can see it); the whole queue
//! pauses only when the server itself cannot be used, or several recipients in a row fail.
//! Permanent failures are recorded on the case and never retried.

use super::transport::{SendError, Transport};
use crate::store::{Store, cases, outbox};
use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use std::sync::Mutex;

/// How patient the worker is with a server that fails temporarily.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    pub give_up_after: Duration,
}

impl RetryPolicy {
    pub fn from_settings(o: &crate::settings::Outbound) -> Self {
        Self {
            min_backoff: Duration::seconds(o.retry_min_seconds as i64),
            max_backoff: Duration::seconds(o.retry_max_seconds as i64),
            give_up_after: Duration::hours(o.give_up_after_hours as i64),
        }
    }

    /// Backoff before attempt `attempts + 1`: min · 2^attempts, capped.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1i64 << attempts.min(20);
        (self.min_backoff * factor as i32).min(self.max_backoff)
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub deferred: usize,
    pub failed: usize,
}

/// After this many different messages in a row fail temporarily, the server is taken to be
/// the problem and the queue pauses (as Postfix does with a dead destination).
const TRANSIENT_STREAK_PAUSES: u32 = 3;

/// How many messages go to the server at once, each over its own connection (never two of
/// the same case to the same reader).
pub const PARALLEL_SENDS: usize = 4;

/// How many due mails the file transport writes, and the worker records, together: one sync
/// of the outbox directory and one commit for them all instead of one each (issue 26).
pub const FILE_BATCH: usize = 100;

/// How many due mails one round hands to the transport.
fn batch_limit(transport: &Transport) -> usize {
    match transport {
        Transport::Smtp(..) => PARALLEL_SENDS,
        Transport::File(_) => FILE_BATCH,
    }
}

/// Mail the server accepted whose sending the database could not record (it was full or
/// read-only at that moment): kept here, recorded before anything else is sent, and never sent
/// again — a mail leaves only when the database can say so.
#[derive(Debug, Default)]
pub struct Unrecorded(Mutex<Vec<(i64, DateTime<Utc>)>>);

impl Unrecorded {
    /// Records what is waiting; an error (the database still cannot be written) leaves it
    /// waiting.
    fn record(&self, store: &Mutex<Store>) -> anyhow::Result<()> {
        let mut waiting = self.0.lock().expect("unrecorded sends");
        if waiting.is_empty() {
            return Ok(());
        }
        store.lock().expect("store lock").transaction(|tx| {
            for (id, at) in waiting.iter() {
                outbox::mark_sent(tx, *id, *at)?;
            }
            outbox::unpause(tx)
        })?;
        tracing::info!(
            mails = waiting.len(),
            "sends the database could not record before are recorded now"
        );
        waiting.clear();
        Ok(())
    }

    fn keep(&self, sent: impl IntoIterator<Item = (i64, DateTime<Utc>)>) {
        self.0.lock().expect("unrecorded sends").extend(sent);
    }

    /// How many sends wait to be recorded.
    pub fn len(&self) -> usize {
        self.0.lock().expect("unrecorded sends").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Sends every mail due at `now`, until the queue is empty or the server is unusable. Sends
/// accepted but not yet recorded (`unrecorded`) are recorded first; while that fails nothing is
/// sent.
pub async fn deliver_due(
    store: &Mutex<Store>,
    transport: &Transport,
    policy: &RetryPolicy,
    unrecorded: &Unrecorded,
    now: DateTime<Utc>,
) -> anyhow::Result<DeliveryReport> {
    let mut report = DeliveryReport::default();
    unrecorded
        .record(store)
        .context("recording mail sent before (nothing more is sent until it is)")?;
    if outbox::paused_until(store.lock().expect("store lock").conn(), now)?.is_some() {
        return Ok(report);
    }
    let mut streak = 0;
    loop {
        let batch = outbox::due_heads(
            store.lock().expect("store lock").conn(),
            now,
            batch_limit(transport),
        )?;
        if batch.is_empty() {
            return Ok(report);
        }
        // Heads of different chains (case and recipients): handed over together (over SMTP
        // side by side, each over a connection of its own); the results are then recorded in
        // queue order.
        let results = transport.send_batch(&batch).await;
        let mut store = store.lock().expect("store lock");
        let sent: Vec<&crate::store::QueuedMail> = batch
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(m, _)| m)
            .collect();
        if !sent.is_empty() {
            let recorded = store.transaction(|tx| {
                for mail in &sent {
                    outbox::mark_sent(tx, mail.id, now)?;
                }
                outbox::unpause(tx)
            });
            if let Err(e) = recorded {
                // Sent, but not on record: kept, recorded first next time, never sent again.
                unrecorded.keep(sent.iter().map(|m| (m.id, now)));
                return Err(e.context(format!(
                    "{} mail(s) sent but not yet recorded; they are recorded before anything else is sent",
                    sent.len()
                )));
            }
            for mail in &sent {
                let case = mail.case.map(tracing::field::display);
                tracing::info!(case, kind = mail.kind.as_str(), "mail sent");
            }
            report.sent += sent.len();
            streak = 0;
        }
        for (mail, result) in batch.iter().zip(results) {
            let Err(error) = result else { continue };
            let case = mail.case.map(tracing::field::display);
            let expired = now - mail.created_at >= policy.give_up_after;
            match error {
                // Our own disk: waits as long as it takes, never given up.
                SendError::Local(error) => {
                    let until = store.transaction(|tx| pause(tx, policy, mail, &error, now))?;
                    tracing::warn!(case, kind = mail.kind.as_str(), %until, "mail cannot be written, sending paused: {}", crate::redact::addresses(&error));
                    report.deferred += 1;
                    return Ok(report);
                }
                SendError::Unavailable(error) if !expired => {
                    let until = store.transaction(|tx| pause(tx, policy, mail, &error, now))?;
                    tracing::warn!(case, kind = mail.kind.as_str(), %until, "mail server unavailable, sending paused: {}", crate::redact::addresses(&error));
                    report.deferred += 1;
                    return Ok(report);
                }
                SendError::Transient(error) if !expired => {
                    streak += 1;
                    if streak >= TRANSIENT_STREAK_PAUSES {
                        let until = store.transaction(|tx| pause(tx, policy, mail, &error, now))?;
                        tracing::warn!(case, kind = mail.kind.as_str(), %until, "{streak} recipients in a row refused for now, sending paused: {}", crate::redact::addresses(&error));
                        report.deferred += 1;
                        return Ok(report);
                    }
                    let next = now + policy.backoff(mail.attempts);
                    store.transaction(|tx| outbox::mark_retry(tx, mail.id, next, &error))?;
                    tracing::warn!(case, kind = mail.kind.as_str(), attempts = mail.attempts + 1, %next, "sending deferred for this message: {}", crate::redact::addresses(&error));
                    report.deferred += 1;
                }
                SendError::Unavailable(error)
                | SendError::Transient(error)
                | SendError::Permanent(error) => {
                    store.transaction(|tx| {
                        outbox::mark_failed(tx, mail.id, &error)?;
                        if let Some(case) = mail.case
                            && let Some(record) = cases::get(tx, case)?
                        {
                            cases::add_event(
                                tx,
                                record.id,
                                now,
                                "mail_failed",
                                None,
                                &format!("{} kon niet worden bezorgd: {error}", mail.kind.as_str()),
                            )?;
                        }
                        Ok(())
                    })?;
                    tracing::error!(
                        case,
                        kind = mail.kind.as_str(),
                        "sending failed permanently: {}",
                        crate::redact::addresses(&error)
                    );
                    report.failed += 1;
                }
            }
        }
    }
}

/// Pauses the queue after a server failure: the mail in hand waits as long as the queue,
/// and each failure in a row doubles the pause.
fn pause(
    tx: &rusqlite::Connection,
    policy: &RetryPolicy,
    mail: &crate::store::QueuedMail,
    error: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<DateTime<Utc>> {
    let failures = outbox::server_failures(tx)?;
    let until = now + policy.backoff(failures);
    outbox::mark_retry(tx, mail.id, until, error)?;
    outbox::pause(tx, until, error, failures + 1)?;
    Ok(until)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            min_backoff: Duration::seconds(60),
            max_backoff: Duration::seconds(3600),
            give_up_after: Duration::hours(72),
        };
        assert_eq!(p.backoff(0), Duration::seconds(60));
        assert_eq!(p.backoff(1), Duration::seconds(120));
        assert_eq!(p.backoff(5), Duration::seconds(1920));
        assert_eq!(p.backoff(6), Duration::seconds(3600));
        assert_eq!(p.backoff(40), Duration::seconds(3600));
    }
}
