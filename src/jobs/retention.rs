//! Retention: records are kept `retention.years` (2) after a case ends, then the personal data
//! goes — complainant address and name, subject, texts, solution, attachments, raw mail, outbox
//! copies, tokens — while the anonymous facts the analysis needs (dates, category, handler,
//! cause, measure, outcome flags) stay. Deleted pages are overwritten (`secure_delete`) and
//! the WAL is truncated, so nothing lingers in the file.

use super::{Jobs, at_local};
use crate::domain::{CaseRef, CaseStatus};
use crate::store::{CaseRecord, Store, cases, mails, notices};
use chrono::{DateTime, Months, Utc};
use rusqlite::{Connection, params};

/// A case that is due for purging, and the mail to remove from the mailbox with it.
#[derive(Debug, Clone)]
pub struct Purgeable {
    pub reference: CaseRef,
    pub ended: DateTime<Utc>,
    /// Source keys (`maildir:…`, `imap:…`) and Message-IDs of its mail.
    pub mail: Vec<(String, Option<String>)>,
}

/// When a case's retention period starts: closing, the verdict, or (withdrawn) receipt.
fn ended(case: &CaseRecord) -> Option<DateTime<Utc>> {
    match case.status {
        CaseStatus::Closed => case.closed_at,
        CaseStatus::Final => case.verdict_at.or(case.closed_at),
        CaseStatus::Withdrawn => Some(case.received_at),
        CaseStatus::Open | CaseStatus::Reacted | CaseStatus::Appealed => None,
    }
}

impl Jobs<'_> {
    /// The moment before which a case must have ended to be purged now.
    fn cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_sub_months(Months::new(12 * self.intake.settings.retention.years))
            .expect("date in range")
    }

    /// Cases due for purging at `now` (`klachtd purge --dry-run`).
    pub fn purgeable(
        &self,
        conn: &Connection,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Purgeable>> {
        let cutoff = self.cutoff(now);
        let mut out = Vec::new();
        // Only the cases that are due are read (an index decides), not the register.
        for case in cases::ended_before(conn, cutoff)? {
            let Some(end) = ended(&case).filter(|e| *e < cutoff) else {
                continue;
            };
            if case.purged_at.is_some() {
                continue;
            }
            // issue 25: a legal hold keeps the case until its last day.
            let today = now.with_timezone(&self.intake.tz).date_naive();
            if case.privacy.hold_on(today).is_some() {
                continue;
            }
            let mut stmt =
                conn.prepare("SELECT source_key, message_id FROM mails WHERE case_id = ?1")?;
            let mail = stmt
                .query_map(params![case.id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            out.push(Purgeable {
                reference: case.reference,
                ended: end,
                mail,
            });
        }
        Ok(out)
    }

    /// Purges what is due; returns what went (for the mailbox clean-up) and how many other
    /// mails (ignored, quarantined) lost their content.
    pub fn purge(
        &self,
        store: &mut Store,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(Vec<Purgeable>, usize)> {
        let cutoff = crate::store::ts(self.cutoff(now));
        let (due, loose) = store.transaction(|tx| {
            let due = self.purgeable(tx, now)?;
            for p in &due {
                let case = cases::get(tx, p.reference)?.expect("listed");
                for (key, message_id) in &p.mail {
                    mails::queue_removal(tx, key, message_id.as_deref(), now)?;
                }
                purge_case(tx, &case, now)?;
                tracing::info!(case = %p.reference, mails = p.mail.len(), "personal data purged (retention)");
            }
            // Mail that belonged to no case (robots, duplicates, spam, quarantined mail):
            // its mailbox copies go too.
            tx.execute(
                "INSERT OR IGNORE INTO mailbox_removals (source_key, message_id, since)
                 SELECT source_key, message_id, ?2 FROM mails
                 WHERE case_id IS NULL AND received_at < ?1
                   AND (length(raw) > 0 OR sender IS NOT NULL
                        OR id IN (SELECT mail_id FROM mail_bodies))",
                params![cutoff, crate::store::ts(now)],
            )?;
            // Mail sent to no case (digests, notices to the director, alerts) may name a
            // complainant or quote a subject: it goes after the same period.
            tx.execute(
                "DELETE FROM outbox WHERE case_id IS NULL AND created_at < ?1",
                params![cutoff],
            )?;
            let loose = tx.execute(
                "UPDATE mails SET raw = x'', sender = NULL, message_id = NULL
                 WHERE case_id IS NULL AND received_at < ?1
                   AND (length(raw) > 0 OR sender IS NOT NULL
                        OR id IN (SELECT mail_id FROM mail_bodies))",
                params![cutoff],
            )?;
            tx.execute(
                "DELETE FROM mail_bodies WHERE mail_id IN
                     (SELECT id FROM mails WHERE case_id IS NULL AND received_at < ?1)",
                params![cutoff],
            )?;
            tx.execute("DELETE FROM held_commands WHERE held_at < ?1", params![cutoff])?;
            tx.execute("DELETE FROM tokens WHERE issued_at < ?1", params![cutoff])?;
            Ok((due, loose))
        })?;
        // Old pages out of the WAL too.
        store
            .conn()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        if !due.is_empty() || loose > 0 {
            tracing::info!(
                cases = due.len(),
                other_mails = loose,
                "retention purge done"
            );
        }
        Ok((due, loose))
    }

    /// Purges once a night, at `retention.time`.
    pub(super) fn purge_if_due(
        &self,
        store: &mut Store,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Purgeable>> {
        let today = now.with_timezone(&self.intake.tz).date_naive();
        if now < at_local(self.intake, today, self.intake.settings.retention.time) {
            return Ok(Vec::new());
        }
        let key = format!("purge:{today}");
        if notices::done(store.conn(), &key)? {
            return Ok(Vec::new());
        }
        let (due, _) = self.purge(store, now)?;
        store.transaction(|tx| notices::claim(tx, &key, now))?;
        Ok(due)
    }
}

/// Removes one case's personal data as the retention purge does (also `klachtd erase`).
pub(crate) fn purge_case(
    tx: &Connection,
    case: &CaseRecord,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let verdict = case
        .verdict
        .as_deref()
        .map(|v| v.split(':').next().unwrap_or(v).trim().to_string());
    tx.execute(
        "UPDATE cases SET complainant_address = NULL, complainant_name = NULL, unreachable_from = NULL, subject = '(verwijderd)',
             body = '', solution = NULL, verdict = ?2, purged_at = ?3 WHERE id = ?1",
        params![case.id, verdict, crate::store::ts(now)],
    )?;
    tx.execute(
        "DELETE FROM case_texts WHERE case_id = ?1",
        params![case.id],
    )?;
    tx.execute(
        "DELETE FROM attachments WHERE case_id = ?1",
        params![case.id],
    )?;
    tx.execute(
        "UPDATE events SET detail = '', actor = NULL WHERE case_id = ?1",
        params![case.id],
    )?;
    tx.execute(
        "UPDATE mails SET raw = x'', sender = NULL, message_id = NULL WHERE case_id = ?1",
        params![case.id],
    )?;
    // Mail for a case that ended years ago, sent or never sendable, goes with it: before the
    // complaint it is packed on (case text and outbox bodies name it: store/packed.rs).
    tx.execute("DELETE FROM outbox WHERE case_id = ?1", params![case.id])?;
    tx.execute(
        "DELETE FROM mail_bodies WHERE mail_id IN (SELECT id FROM mails WHERE case_id = ?1)",
        params![case.id],
    )?;
    tx.execute(
        "DELETE FROM acknowledgements WHERE case_id = ?1",
        params![case.id],
    )?;
    tx.execute(
        "DELETE FROM tokens WHERE case_id = ?1 OR held_id IN (SELECT id FROM held_commands WHERE case_id = ?1)",
        params![case.id],
    )?;
    tx.execute(
        "DELETE FROM held_commands WHERE case_id = ?1",
        params![case.id],
    )?;
    tx.execute(
        "UPDATE recommendations SET case_id = NULL WHERE case_id = ?1",
        params![case.id],
    )?;
    Ok(())
}
