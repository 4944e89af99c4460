//! Scheduled work beside the mail path: deadline reminders and overdue alerts
//! ([`deadlines`]), the weekly digest ([`digest`]), the yearly analysis ([`report`]), the
//! retention purge ([`retention`]) and the summary of mail the outbound budget held back
//! ([`summaries`]). Every job is idempotent (a `notices` key per thing done)
//! and catches up: run at any moment, it does exactly what has fallen due and not been done.

pub mod alerts;
pub mod deadlines;
pub mod digest;
pub mod privacy;
pub mod report;
pub mod retention;
pub mod summaries;

use crate::intake::Intake;
use crate::store::Store;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};

/// The scheduled jobs, sharing intake's settings, calendar and mailer.
pub struct Jobs<'a> {
    pub intake: &'a Intake<'a>,
}

/// What one pass of the scheduler did.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct JobReport {
    pub reminders: usize,
    pub overdue: usize,
    pub digests: usize,
    pub reports: usize,
    pub purged: usize,
    /// Administrator alerts and all-clears queued.
    pub alerts: usize,
    /// Summaries of held-back mail queued (issue 22).
    pub summaries: usize,
    /// Mailbox copies of purged cases' mail (source key, Message-ID); queued for removal from
    /// the mailbox in the same transaction (`mailbox_removals`).
    pub purged_mail: Vec<(String, Option<String>)>,
}

/// Counts only: a purged mail's key or Message-ID may hold an address, which never goes to
/// the log.
impl std::fmt::Debug for JobReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobReport")
            .field("reminders", &self.reminders)
            .field("overdue", &self.overdue)
            .field("digests", &self.digests)
            .field("reports", &self.reports)
            .field("purged", &self.purged)
            .field("alerts", &self.alerts)
            .field("summaries", &self.summaries)
            .field("purged_mail", &self.purged_mail.len())
            .finish()
    }
}

impl Jobs<'_> {
    /// Runs everything due at `now`, each job in its own transaction.
    pub fn run_due(&self, store: &mut Store, now: DateTime<Utc>) -> anyhow::Result<JobReport> {
        let deadlines = store.transaction(|tx| self.watch_deadlines(tx, now))?;
        // issue 25: privacy requests' legal deadlines, watched like the procedure's.
        let (privacy_reminders, privacy_overdue) =
            store.transaction(|tx| self.watch_privacy_requests(tx, now))?;
        let digests = store.transaction(|tx| self.digest_if_due(tx, now))?;
        let reports = store.transaction(|tx| self.report_if_due(tx, now))?;
        let purged = self.purge_if_due(store, now)?;
        let alerts = store.transaction(|tx| self.watch_health(tx, now))?;
        let summaries = store.transaction(|tx| self.send_summaries(tx, now))?;
        Ok(JobReport {
            alerts,
            summaries,
            reminders: deadlines.reminders + privacy_reminders,
            overdue: deadlines.overdue + privacy_overdue,
            digests: usize::from(digests),
            reports: usize::from(reports),
            purged: purged.len(),
            purged_mail: purged.into_iter().flat_map(|p| p.mail).collect(),
        })
    }
}

/// `time` on `day` in the organisation's time zone, as an instant.
pub fn at_local(intake: &Intake<'_>, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = day.and_time(time);
    intake
        .tz
        .from_local_datetime(&local)
        .earliest()
        // A time that does not exist (the spring-forward gap): an hour later does.
        .unwrap_or_else(|| {
            intake
                .tz
                .from_utc_datetime(&(local - chrono::Duration::hours(1)))
        })
        .with_timezone(&Utc)
}

/// The configured morning (`reminders.morning`) of `day`.
pub fn morning(intake: &Intake<'_>, day: NaiveDate) -> DateTime<Utc> {
    at_local(intake, day, intake.settings.reminders.morning)
}
