//! Scheduled work beside the mail path: deadline reminders and overdue alerts
//! ([`deadlines`]), the weekly digest ([`digest`]), the yearly analysis ([`report`]), the
//! retention purge ([`retention`]), the deadlines of a person's requests under the AVG
//! ([`privacy`]), the summary of mail the outbound budget held back ([`summaries`]), and the
//! administrator's alerts when a connection or a job fails and when it works again
//! ([`alerts`]). Every job is idempotent (a `notices` key per thing done)
//! and catches up: run at any moment, it does exactly what has fallen due and not been done.
//! Every job passes one wrapper, [`Jobs::isolated`], as every mail passes intake's: a job that
//! fails (an error or a panic) is rolled back alone, recorded, alerted to the administrator
//! and tried again on the next pass, while the other jobs, intake and sending go on.

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
use std::panic::{AssertUnwindSafe, catch_unwind};

pub use alerts::Job;

/// A job that failed in a pass: which, and why. It is logged, recorded as the job's health
/// (`klachtd status`, the administrator alert) and tried again on the next pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    pub job: Job,
    pub error: String,
}

impl std::fmt::Display for JobFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "job {} failed: {}", self.job.as_str(), self.error)
    }
}

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
    /// The jobs that failed (the others ran).
    pub failed: Vec<JobFailure>,
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
            .field(
                "failed",
                &self
                    .failed
                    .iter()
                    .map(|f| f.job.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Jobs<'_> {
    /// Runs everything due at `now`, each job in its own transaction and isolated from the
    /// others ([`Jobs::isolated`]): a failing job is in the report's `failed`, never an error.
    pub fn run_due(&self, store: &mut Store, now: DateTime<Utc>) -> anyhow::Result<JobReport> {
        let mut report = JobReport::default();
        let failed = &mut report.failed;
        let deadlines = self.isolated(store, Job::Deadlines, now, failed, |store| {
            store.transaction(|tx| self.watch_deadlines(tx, now))
        });
        // issue 25: privacy requests' legal deadlines, watched like the procedure's.
        let privacy = self.isolated(store, Job::Privacy, now, failed, |store| {
            store.transaction(|tx| self.watch_privacy_requests(tx, now))
        });
        let digests = self.isolated(store, Job::Digest, now, failed, |store| {
            store.transaction(|tx| self.digest_if_due(tx, now))
        });
        let reports = self.isolated(store, Job::Report, now, failed, |store| {
            store.transaction(|tx| self.report_if_due(tx, now))
        });
        let purged = self.isolated(store, Job::Purge, now, failed, |store| {
            self.purge_if_due(store, now)
        });
        // issue 22: the summary of held-back mail, after the jobs that may hold mail back.
        let summaries = self.isolated(store, Job::Summaries, now, failed, |store| {
            store.transaction(|tx| self.send_summaries(tx, now))
        });
        // Last: it alerts about the jobs above as well.
        let alerts = self.isolated(store, Job::Alerts, now, failed, |store| {
            store.transaction(|tx| self.watch_health(tx, now))
        });
        if let Some(d) = deadlines {
            report.reminders = d.reminders;
            report.overdue = d.overdue;
        }
        if let Some((reminders, overdue)) = privacy {
            report.reminders += reminders;
            report.overdue += overdue;
        }
        report.digests = usize::from(digests.unwrap_or(false));
        report.reports = usize::from(reports.unwrap_or(false));
        let purged = purged.unwrap_or_default();
        report.purged = purged.len();
        report.purged_mail = purged.into_iter().flat_map(|p| p.mail).collect();
        report.alerts = alerts.unwrap_or(0);
        report.summaries = summaries.unwrap_or_default();
        Ok(report)
    }

    /// The one wrapper every job passes. Runs `job`; should it fail in any way — an error, a
    /// panic — what it wrote is rolled back (a job writes in its own transactions), the failure
    /// is logged, recorded as the job's health (so the administrator is alerted once, and told
    /// when it works again) and added to `failed`, and `None` comes back: the caller goes on
    /// with the next job, and the job is tried again on the next pass (its work was not marked
    /// done).
    pub fn isolated<T>(
        &self,
        store: &mut Store,
        job: Job,
        now: DateTime<Utc>,
        failed: &mut Vec<JobFailure>,
        run: impl FnOnce(&mut Store) -> anyhow::Result<T>,
    ) -> Option<T> {
        let error = match catch_unwind(AssertUnwindSafe(|| run(&mut *store))) {
            Ok(Ok(value)) => {
                alerts::job_ok(store, job, now);
                return Some(value);
            }
            Ok(Err(e)) => format!("{e:#}"),
            Err(panic) => format!("internal error: {}", panic_text(&panic)),
        };
        alerts::job_failed(store, job, now, &error);
        failed.push(JobFailure { job, error });
        None
    }
}

/// What a panic said.
pub fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    #[test]
    fn a_panicking_job_is_rolled_back_recorded_alerted_once_and_the_next_one_runs() {
        let settings = Settings::load_with_env(
            None,
            [("KLACHTD__ROLES__DIRECTOR", "directie@example.org")]
                .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap();
        let calendar = settings.working_calendar();
        let renderer = crate::outbound::Renderer::load(None).unwrap();
        let intake = Intake {
            settings: &settings,
            calendar: &calendar,
            renderer: &renderer,
            tz: settings.timezone(),
        };
        let jobs = Jobs { intake: &intake };
        let mut store = Store::open_in_memory().unwrap();
        let now: DateTime<Utc> = "2026-12-01T09:00:00Z".parse().unwrap();
        let mut failed = Vec::new();
        let panicked: Option<()> = jobs.isolated(&mut store, Job::Digest, now, &mut failed, |s| {
            s.transaction(|tx| {
                crate::store::notices::claim(tx, "digest:test", now)?;
                panic!("the digest fell over")
            })
        });
        assert_eq!(panicked, None);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].job, Job::Digest);
        assert!(failed[0].error.contains("the digest fell over"));
        assert!(
            !crate::store::notices::done(store.conn(), "digest:test").unwrap(),
            "what it wrote is rolled back, so the next pass tries again"
        );
        let next = jobs.isolated(&mut store, Job::Report, now, &mut failed, |_| Ok(7));
        assert_eq!(next, Some(7), "the next job runs");
        let queued = |store: &mut Store, at| store.transaction(|tx| jobs.watch_health(tx, at));
        assert_eq!(
            queued(&mut store, now).unwrap(),
            1,
            "the director is alerted"
        );
        assert_eq!(
            queued(&mut store, now + chrono::Duration::minutes(1)).unwrap(),
            0,
            "once"
        );
        let later = now + chrono::Duration::minutes(2);
        assert_eq!(
            jobs.isolated(&mut store, Job::Digest, later, &mut failed, |_| Ok(())),
            Some(())
        );
        assert_eq!(queued(&mut store, later).unwrap(), 1, "the all-clear");
        assert_eq!(failed.len(), 1);
    }
}
