//! Retention: records are kept `retention.years` (2) after a case ends, then the personal data
//! goes — complainant address and name, subject, texts, solution, attachments, raw mail, outbox
//! copies, tokens — while the anonymous facts the analysis needs (dates, category, handler,
//! cause, measure, outcome flags) stay. Deleted pages are overwritten (`secure_delete`) and
//! the WAL is truncated, so nothing lingers in the file.

use super::{Jobs, at_local};
use crate::domain::{CaseRef, CaseStatus};
use crate::store::{CaseRecord, Store, cases, notices, purge};
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
    /// mails (ignored, quarantined, held without a case) lost their content. One transaction:
    /// the per-case and per-mail purges of [`crate::store::purge`], which delete in the order
    /// the schema's foreign keys give and queue the mailbox and file copies for removal.
    pub fn purge(
        &self,
        store: &mut Store,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(Vec<Purgeable>, usize)> {
        let cutoff = self.cutoff(now);
        let (due, loose) = store.transaction(|tx| {
            let due = self.purgeable(tx, now)?;
            for p in &due {
                let case = cases::get(tx, p.reference)?.expect("listed");
                purge::purge_case(tx, case.id, now)?;
                tracing::info!(case = %p.reference, mails = p.mail.len(), "personal data purged (retention)");
            }
            let loose = purge::purge_caseless_before(tx, cutoff, now)?;
            // The budget's counts name mailboxes for two days; none outlives a purge.
            crate::store::budget::prune(tx, now)?;
            purge::delete_with_dependents(
                tx,
                "outbox_rollup",
                "at < ?1",
                &[&crate::store::ts(cutoff)],
            )?;
            Ok((due, loose))
        })?;
        // `secure_delete` zeroes deleted rows, but not what an earlier rebalancing of a page
        // left in its unused space (the property over random registers found a purged body's
        // bytes in a page reused by another table): after a purge that removed anything, the
        // database is rewritten whole. Should that fail (a reader holding the database at that
        // moment), the next purge that removes anything does it; the rows are gone either way.
        if (!due.is_empty() || loose > 0)
            && let Err(e) = store.conn().execute_batch("VACUUM")
        {
            tracing::warn!(
                "rewriting the database after the purge (VACUUM) failed; the next purge does it: {e}"
            );
        }
        // Old pages out of the WAL too.
        store
            .conn()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        // The databases a restore set aside: whole, once they are older than the period.
        let kept = crate::store::maintenance::remove_kept_before(
            &self.intake.settings.store.path,
            cutoff,
        )?;
        if kept > 0 {
            tracing::info!(
                databases = kept,
                "databases kept by restore removed (retention)"
            );
        }
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
