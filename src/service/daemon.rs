//! The running service: wires settings, the clock, the store, the mail source and the outbox
//! worker together; `run_once` for `klachtd run --once`, `run` for the long-lived daemon and
//! its loops — taking mail in (`maildir_loop`, or `imap_loop` with IDLE), the jobs on their
//! schedule (`scheduler_loop`), sending (`worker_loop`) — and what the jobs ask of the running
//! service: rendering the analysis, removing the copies of purged mail.

use crate::clock::SharedClock;
use crate::domain::Disposition;
use crate::domain::WorkingCalendar;
use crate::inbound::RawMail;
use crate::inbound::imap::{BATCH_BYTES, BATCH_MAILS, CopyToRemove, Cursor, ImapSource, MailSink};
use crate::inbound::maildir::{Maildir, Pending};
use crate::intake::{Intake, IntakeResult};
use crate::jobs::{JobReport, Jobs};
use crate::outbound::{DeliveryReport, Renderer, RetryPolicy, Transport, Unrecorded, deliver_due};
use crate::settings::{InboundKind, Settings};
use crate::store::{Store, mails, outbox};
use anyhow::Context;
use chrono_tz::Tz;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// How often a daemon that cannot open its database yet tries again.
pub const STORE_RETRY: Duration = Duration::from_secs(10);

/// Everything the service holds while it runs.
pub struct Daemon {
    settings: Settings,
    clock: SharedClock,
    store: Arc<Mutex<Store>>,
    renderer: Renderer,
    calendar: WorkingCalendar,
    tz: Tz,
    transport: Transport,
    policy: RetryPolicy,
    outbox_ready: Notify,
    /// Sends the database could not record yet.
    unrecorded: Unrecorded,
    /// When `cur/` of the Maildir was last looked through for things that are not mail.
    cur_scanned: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// Whether the database can be written, and the alert when it cannot.
    store_watch: crate::service::store_watch::StoreWatch,
    /// The store's lock (from `klachtd run`): let go with the database when its file system
    /// fails under it, taken again with it.
    lock: Mutex<Option<crate::service::lock::StoreLock>>,
    /// The database was let go (its file system failed under it): opened again when it can be.
    let_go: std::sync::atomic::AtomicBool,
}

/// What one `run --once` did.
#[derive(Debug, Default, Clone)]
pub struct RunReport {
    pub taken: BTreeMap<&'static str, usize>,
    pub jobs: JobReport,
    pub delivery: DeliveryReport,
    /// Why taking mail in stopped early, if it did (the jobs and sending still ran).
    pub intake_failed: Option<String>,
    /// Why sending failed, if it did.
    pub delivery_failed: Option<String>,
}

impl RunReport {
    /// What failed in the pass, one line each (`run --once` exits non-zero naming them).
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(e) = &self.intake_failed {
            out.push(format!("taking mail in failed: {e}"));
        }
        out.extend(self.jobs.failed.iter().map(|f| f.to_string()));
        if let Some(e) = &self.delivery_failed {
            out.push(format!("sending failed: {e}"));
        }
        out
    }
}

impl RunReport {
    fn count(&mut self, result: &IntakeResult) {
        if !result.already_recorded {
            *self.taken.entry(result.outcome.as_str()).or_default() += 1;
        }
    }
}

impl Daemon {
    /// Opens the store, loads the templates and prepares the transport.
    pub fn new(settings: Settings, clock: SharedClock) -> anyhow::Result<Daemon> {
        let store = Store::open(&settings.store.path)?;
        let renderer = Renderer::load(Some(&settings.templates.dir))?;
        let transport = Transport::from_settings(&settings.outbound)?;
        Ok(Daemon {
            calendar: settings.working_calendar(),
            tz: settings.timezone(),
            policy: RetryPolicy::from_settings(&settings.outbound),
            settings,
            clock,
            store: Arc::new(Mutex::new(store)),
            renderer,
            transport,
            outbox_ready: Notify::new(),
            unrecorded: Unrecorded::default(),
            cur_scanned: Mutex::new(None),
            store_watch: Default::default(),
            lock: Mutex::new(None),
            let_go: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Removes what a killed run left of its last batch of outbox files (temporary files
    /// never named). Only with the store's lock held: no other run is writing a batch.
    pub fn remove_unnamed_files(&self) {
        let Transport::File(dir) = &self.transport else {
            return;
        };
        match crate::outbound::transport::remove_unnamed(dir) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                files = n,
                "removed the unfinished files a stopped run left in the outbox"
            ),
            Err(e) => tracing::warn!(
                "cannot clear the unfinished files in {}: {e}",
                dir.display()
            ),
        }
    }

    /// Opens the daemon for `klachtd run`. While the database cannot be opened or written
    /// (a read-only or full disk, a missing directory) it does not give up: it says why,
    /// alerts the administrator once — directly, as the outbox is in that database — and tries
    /// again every [`STORE_RETRY`] until it can, or until `shutdown` (then `None`). Other failures (the
    /// configuration, the templates) end it at once.
    pub async fn start(
        settings: Settings,
        clock: SharedClock,
        integrity: crate::service::check::Integrity,
        lock: crate::service::lock::StoreLock,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<Option<Daemon>> {
        let mut lock = Some(lock);
        let watch = crate::service::store_watch::StoreWatch::default();
        let mut integrity = integrity;
        loop {
            let checked = crate::service::check::preflight(&settings, integrity);
            // Read whole once; while waiting, the header is enough.
            integrity = crate::service::check::Integrity::Header;
            let attempt = match checked {
                Err(f) if f.mendable() && f.what != "store" => {
                    // The mailbox or the outgoing directory: the daemon's own loops retry
                    // those, and alert when they keep failing.
                    tracing::warn!("{f}");
                    Daemon::new(settings.clone(), clock.clone())
                }
                Err(f) if f.mendable() => Err(anyhow::Error::new(f)),
                Err(f) => return Err(f.into()),
                Ok(()) => Daemon::new(settings.clone(), clock.clone()),
            };
            let error = match attempt {
                Ok(mut daemon) => {
                    daemon.store_watch = watch;
                    daemon.lock = Mutex::new(lock.take());
                    daemon.remove_unnamed_files();
                    return Ok(Some(daemon));
                }
                Err(e) if store_unusable(&e) => e,
                Err(e) => return Err(e),
            };
            let now = clock.now();
            let reason = crate::redact::addresses(&format!("{error:#}"));
            tracing::error!(
                "the database cannot be opened or written; nothing is taken in until it can, klachtd tries again every {} s: {reason}",
                STORE_RETRY.as_secs()
            );
            watch.failed(now, &format!("{error:#}"));
            let writes = crate::store::WriteHealth::default();
            if let crate::service::store_watch::Step::Alert(problem) = watch.observe(&writes, now) {
                match alert_directly(&settings, &problem, now).await {
                    Ok(mail) => watch.alerted(mail),
                    Err(e) => {
                        watch.alert_failed();
                        tracing::error!(
                            "alerting the administrator: {}",
                            crate::redact::addresses(&format!("{e:#}"))
                        )
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(STORE_RETRY) => {}
                _ = shutdown.changed() => return Ok(None),
            }
        }
    }

    /// Looks at how writing to the database went: alerts the administrator directly when it
    /// cannot be written (once per outage), and puts the outage on record once it is over.
    async fn watch_store(&self) {
        use crate::service::store_watch::Step;
        let now = self.clock.now();
        let writes = self.store().write_health();
        if self.store_watch.failing() && !writes.last_full {
            self.reopen_store(now);
        }
        let writes = self.store().write_health();
        match self.store_watch.observe(&writes, now) {
            Step::Nothing => {}
            Step::Alert(problem) => {
                tracing::error!(
                    "the database cannot be written: nothing is taken in or sent until it records it, klachtd keeps trying: {}",
                    crate::redact::addresses(&problem.reason)
                );
                let mail = crate::jobs::alerts::unqueued_alert(
                    &self.mailer(),
                    crate::jobs::alerts::Component::Store,
                    &problem,
                    now,
                );
                let sent = match mail {
                    Ok(mail) => self
                        .transport
                        .send(&mail)
                        .await
                        .map(|()| mail)
                        .map_err(anyhow::Error::new),
                    Err(e) => Err(e),
                };
                match sent {
                    Ok(mail) => {
                        tracing::warn!(
                            "the administrator is alerted (directly): the database cannot be written"
                        );
                        self.store_watch.alerted(mail);
                    }
                    Err(e) => {
                        self.store_watch.alert_failed();
                        tracing::error!(
                            "alerting the administrator that the database cannot be written (tried again): {}",
                            crate::redact::addresses(&format!("{e:#}"))
                        )
                    }
                }
            }
            Step::Recovered {
                since,
                reason,
                alert,
            } => {
                let mailer = self.mailer();
                let recorded = self.store().transaction(|tx| {
                    crate::jobs::alerts::record_past_failure(
                        &mailer,
                        tx,
                        crate::jobs::alerts::Component::Store,
                        since,
                        &reason,
                        alert.as_deref(),
                        now,
                    )
                });
                match recorded {
                    Ok(()) => {
                        tracing::info!("the database takes writes again");
                        self.watch_health_now();
                    }
                    Err(_) => self.store_watch.not_over(since, reason, alert, now),
                }
            }
        }
    }

    /// The database's file system failed under it (I/O errors; the kernel took it read-only
    /// after an error). The daemon lets go of the file — and of its lock — so that an
    /// administrator can unmount, repair and mount it again without stopping klachtd; meanwhile
    /// it holds [`Store::unavailable`], which records nothing. Tried again on every look: once
    /// the lock can be taken (never while another klachtd holds it) and a write goes through,
    /// the daemon goes on with the database opened anew.
    fn reopen_store(&self, now: chrono::DateTime<chrono::Utc>) {
        use std::sync::atomic::Ordering;
        if !self.let_go.swap(true, Ordering::SeqCst) {
            match Store::unavailable() {
                Ok(mut placeholder) => {
                    let mut store = self.store();
                    placeholder.continue_counts(&store.write_health());
                    *store = placeholder;
                    drop(store);
                    self.lock.lock().expect("lock").take();
                    tracing::warn!(
                        "the database's file system fails: klachtd lets go of the database (it can be repaired and mounted again) and opens it again as soon as it can"
                    );
                }
                Err(e) => {
                    self.let_go.store(false, Ordering::SeqCst);
                    tracing::error!("letting go of the database: {e:#}");
                    return;
                }
            }
        }
        let path = &self.settings.store.path;
        let Ok(lock) = crate::service::lock::StoreLock::acquire(path) else {
            return;
        };
        let Ok(mut fresh) = Store::open(path) else {
            return;
        };
        let probe = fresh.transaction(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO notices (key, done_at) VALUES ('store-opened-again', ?1)",
                [crate::store::ts(now)],
            )?;
            Ok(())
        });
        if probe.is_err() {
            return;
        }
        let mut store = self.store();
        fresh.continue_counts(&store.write_health());
        *store = fresh;
        drop(store);
        *self.lock.lock().expect("lock") = Some(lock);
        self.let_go.store(false, Ordering::SeqCst);
        tracing::warn!("the database is opened again");
    }

    fn mailer(&self) -> crate::outbound::Mailer<'_> {
        crate::outbound::Mailer {
            settings: &self.settings,
            renderer: &self.renderer,
            tz: self.tz,
        }
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The current time by the daemon's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Renders the yearly analysis (text part = Markdown, HTML part with charts).
    pub fn render_report(
        &self,
        jobs: &Jobs<'_>,
        report: &crate::jobs::report::YearReport,
    ) -> anyhow::Result<crate::outbound::templates::Rendered> {
        self.renderer.render(
            crate::outbound::Template::AnnualReport,
            self.settings.organisation.language,
            &jobs.report_context(report),
        )
    }

    /// The analysis as Markdown (`report --format md`): what people typed escaped as in the
    /// HTML.
    pub fn render_report_markdown(
        &self,
        jobs: &Jobs<'_>,
        report: &crate::jobs::report::YearReport,
    ) -> anyhow::Result<String> {
        self.renderer.render_markdown(
            crate::outbound::Template::AnnualReport,
            self.settings.organisation.language,
            &jobs.report_context(report),
        )
    }

    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().expect("store lock")
    }

    fn intake(&self) -> Intake<'_> {
        Intake {
            settings: &self.settings,
            calendar: &self.calendar,
            renderer: &self.renderer,
            tz: self.tz,
        }
    }

    /// Records one raw mail (exactly once). The mail is decoded before the store is locked,
    /// so a large mail never holds up the outbox worker or the scheduler.
    pub fn take(&self, raw: &RawMail) -> anyhow::Result<IntakeResult> {
        let intake = self.intake();
        let prepared = intake.prepare(raw);
        let now = self.clock.now();
        let result = intake.record(&mut self.store(), &prepared, now)?;
        if !result.already_recorded {
            tracing::info!(
                outcome = result.outcome.as_str(),
                case = result.case.map(tracing::field::display),
                "mail taken in: {}",
                crate::redact::addresses(&result.reason)
            );
            self.outbox_ready.notify_one();
        }
        Ok(result)
    }

    /// Records a batch of raw mails with one commit ([`Intake::record_batch`]): the results
    /// of those recorded, in order, and the environment failure that stopped it, if any.
    pub fn take_batch(&self, raws: &[RawMail]) -> (Vec<IntakeResult>, Option<anyhow::Error>) {
        let intake = self.intake();
        let prepared: Vec<_> = raws.iter().map(|raw| intake.prepare(raw)).collect();
        let now = self.clock.now();
        let (results, error) = intake.record_batch(&mut self.store(), &prepared, now);
        for result in results.iter().filter(|r| !r.already_recorded) {
            tracing::info!(
                outcome = result.outcome.as_str(),
                case = result.case.map(tracing::field::display),
                "mail taken in: {}",
                crate::redact::addresses(&result.reason)
            );
        }
        if results.iter().any(|r| !r.already_recorded) {
            self.outbox_ready.notify_one();
        }
        (results, error)
    }

    fn maildir(&self) -> anyhow::Result<Maildir> {
        Maildir::open(&self.settings.inbound.maildir).with_context(|| {
            format!(
                "cannot open inbound.maildir {}",
                self.settings.inbound.maildir.display()
            )
        })
    }

    /// Takes in everything waiting in the Maildir, in batches as IMAP does (at most
    /// [`BATCH_MAILS`] mails and [`BATCH_BYTES`] bytes, a larger mail alone), each recorded
    /// with one commit ([`Daemon::take_batch`]: one mail per transaction should one fail) and
    /// moved out of `new/` only after it. A file that cannot be read (vanished, no
    /// permission) is skipped and tried again on the next pass; only a failure of the store
    /// stops the pass, after the mail recorded before it is moved.
    pub fn process_maildir(&self, maildir: &Maildir, report: &mut RunReport) -> anyhow::Result<()> {
        let mut batch: Vec<(Pending, RawMail)> = Vec::new();
        let mut bytes = 0u64;
        // A mail recorded but not moved (the Maildir's disk full) stays in new/, recorded: the
        // next pass finds it recorded and only moves it. The mail after it goes on.
        let mut unmoved: Option<anyhow::Error> = None;
        for pending in maildir.pending()? {
            let raw = match maildir.read(&pending) {
                Ok(raw) => raw,
                Err(e) => {
                    tracing::warn!(file = %pending.key, "cannot read a mail file, skipped: {e}");
                    continue;
                }
            };
            let size = raw.bytes.len() as u64;
            if !batch.is_empty() && bytes + size > BATCH_BYTES {
                self.take_maildir_batch(maildir, std::mem::take(&mut batch), report, &mut unmoved)?;
                bytes = 0;
            }
            bytes += size;
            batch.push((pending, raw));
            if batch.len() >= BATCH_MAILS {
                self.take_maildir_batch(maildir, std::mem::take(&mut batch), report, &mut unmoved)?;
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            self.take_maildir_batch(maildir, batch, report, &mut unmoved)?;
        }
        self.report_oddities(maildir);
        unmoved.map_or(Ok(()), Err)
    }

    /// Records one batch of Maildir mail with one commit, then moves each recorded mail out
    /// of `new/` as its disposition says; one that cannot be moved (the Maildir's disk full)
    /// stays in `new/`, recorded, and is only moved on the next pass (`unmoved` says so). A
    /// failure of the store stops it after the mail recorded before the failure is moved (the
    /// rest stays in `new/` for the next pass).
    fn take_maildir_batch(
        &self,
        maildir: &Maildir,
        batch: Vec<(Pending, RawMail)>,
        report: &mut RunReport,
        unmoved: &mut Option<anyhow::Error>,
    ) -> anyhow::Result<()> {
        let (pendings, raws): (Vec<Pending>, Vec<RawMail>) = batch.into_iter().unzip();
        let (results, failure) = self.take_batch(&raws);
        drop(raws);
        if !results.is_empty() {
            crate::failpoint::hit("after-commit");
        }
        for (pending, result) in pendings.iter().zip(&results) {
            report.count(result);
            if let Err(e) = maildir.finish(pending, &result.source_key, result.disposition) {
                tracing::warn!(
                    file = %pending.key,
                    "a recorded mail could not be moved out of new/; it is moved on the next pass: {e}"
                );
                unmoved.get_or_insert(anyhow::Error::new(e).context(format!(
                    "moving recorded mail out of {}/new",
                    maildir.root().display()
                )));
                continue;
            }
            crate::failpoint::hit("after-mark");
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Logs, once each (a `notices` key keeps it once across passes and restarts), what in the
    /// Maildir's `new/` — every pass — and `cur/` — at most hourly, it holds all mail taken in
    /// — is not a mail file: never read or followed, left for a person (`klachtd status` lists
    /// what is there now).
    fn report_oddities(&self, maildir: &Maildir) {
        let now = self.clock.now();
        let mut subs = vec!["new"];
        {
            let mut last = self.cur_scanned.lock().expect("scan time");
            if last.is_none_or(|t| now < t || now - t >= chrono::Duration::hours(1)) {
                subs.push("cur");
                *last = Some(now);
            }
        }
        let found = match maildir.oddities(&subs) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!("looking through the Maildir: {e}");
                return;
            }
        };
        for odd in found {
            let key = format!("maildir-oddity:{}", odd.entry);
            match self
                .store()
                .transaction(|tx| crate::store::notices::claim(tx, &key, now))
            {
                Ok(true) => tracing::warn!(
                    entry = %crate::redact::addresses(&odd.entry),
                    kind = odd.kind,
                    "the Maildir holds something that is not a mail file: it is never read or followed; move the mail into new/ as a file, or remove it (klachtd status lists it)"
                ),
                Ok(false) => {}
                Err(e) => tracing::debug!("recording a Maildir entry: {e:#}"),
            }
        }
    }

    /// Runs the scheduled jobs that are due now (reminders, alerts, digest, report, purge),
    /// then removes purged mail from the mailbox: each job isolated, so a failing one is in
    /// the report's `failed` and the others ran.
    pub async fn run_jobs(&self) -> JobReport {
        let now = self.clock.now();
        let mut report = {
            let intake = self.intake();
            let jobs = Jobs { intake: &intake };
            let mut store = self.store();
            jobs.run_due(&mut store, now).unwrap_or_else(|e| JobReport {
                failed: vec![crate::jobs::JobFailure {
                    job: crate::jobs::Job::Alerts,
                    error: format!("{e:#}"),
                }],
                ..JobReport::default()
            })
        };
        if let Some(failure) = self.clean_mailbox().await {
            report.failed.push(failure);
        }
        if report != JobReport::default() {
            tracing::info!(?report, "scheduled jobs ran");
            self.outbox_ready.notify_one();
        }
        report
    }

    /// The clean-up job (purged mail out of the mailbox and the outgoing directory), isolated
    /// like the others: a failure (the IMAP server away, a refused delete) is recorded and
    /// alerted, the copies stay queued and are tried again on the next pass.
    async fn clean_mailbox(&self) -> Option<crate::jobs::JobFailure> {
        use futures::FutureExt;
        let job = crate::jobs::Job::Cleanup;
        let now = self.clock.now();
        let error = match std::panic::AssertUnwindSafe(self.remove_purged_mail())
            .catch_unwind()
            .await
        {
            Ok(Ok(_)) => {
                crate::jobs::alerts::job_ok(&self.store(), job, now);
                return None;
            }
            Ok(Err(e)) => format!("{e:#}"),
            Err(panic) => format!("internal error: {}", crate::jobs::panic_text(&panic)),
        };
        crate::jobs::alerts::job_failed(&self.store(), job, now, &error);
        Some(crate::jobs::JobFailure { job, error })
    }

    /// Judges the health at once (a refused login is alerted without waiting for the next
    /// scheduler pass) and wakes the outbox worker for the alert.
    fn watch_health_now(&self) {
        let now = self.clock.now();
        match self.with_jobs(|jobs, store| store.transaction(|tx| jobs.watch_health(tx, now))) {
            Ok(0) => {}
            Ok(_) => self.outbox_ready.notify_one(),
            // While the database cannot be written that is said once, not at every look.
            Err(e) if self.store_watch.failing() => {
                tracing::debug!("judging the connections' health: {e:#}")
            }
            Err(e) => tracing::error!("judging the connections' health: {e:#}"),
        }
    }

    /// Runs `f` with the scheduled jobs and the store (for the CLI's digest/report/purge).
    pub fn with_jobs<T>(
        &self,
        f: impl FnOnce(&Jobs<'_>, &mut Store) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let intake = self.intake();
        let jobs = Jobs { intake: &intake };
        f(&jobs, &mut self.store())
    }

    /// Removes the mailbox copies of purged mail that are still there (queued by the purge in
    /// `mailbox_removals`), and forgets them once gone; what fails stays queued for the next
    /// pass. The Maildir by file name, IMAP's processed and quarantine folders by Message-ID
    /// (`ImapSource::expunge_message_ids`) — never a Message-ID that a mail still kept carries
    /// too (that removal waits until it is purged as well). Returns how many copies were removed.
    pub async fn remove_purged_mail(&self) -> anyhow::Result<usize> {
        let mut removed = self.remove_purged_files()?;
        let mut after = String::new();
        loop {
            let pending = {
                let store = self.store();
                mails::pending_removals(store.conn(), &after, 500)?
            };
            let Some(last) = pending.last() else {
                return Ok(removed);
            };
            after = last.source_key.clone();
            crate::failpoint::hit("before_mailbox_removal");
            let done: Vec<String> = match self.settings.inbound.kind {
                InboundKind::Maildir => {
                    let keys: Vec<&str> = pending.iter().map(|p| p.source_key.as_str()).collect();
                    removed += self.maildir()?.remove_keys(&keys)?;
                    pending.into_iter().map(|p| p.source_key).collect()
                }
                InboundKind::Imap => {
                    // Never a copy that cannot be told apart from one of a mail still kept.
                    let ready: Vec<mails::PendingRemoval> =
                        pending.into_iter().filter(|p| !p.id_still_kept).collect();
                    let copies: Vec<CopyToRemove<'_>> = ready
                        .iter()
                        .filter(|p| p.message_id.is_some() || p.content_sha256.is_some())
                        .map(|p| CopyToRemove {
                            message_id: p.message_id.as_deref(),
                            sha256: p.content_sha256.as_deref(),
                        })
                        .collect();
                    if !copies.is_empty() {
                        let source = ImapSource::from_settings(&self.settings.inbound.imap)?;
                        let intake_up_to = mails::imap_cursor(
                            self.store().conn(),
                            &self.settings.inbound.imap.folder,
                        )?
                        .map(|(_, last)| last);
                        let mut session = source.connect().await?;
                        removed += source
                            .expunge_copies(&mut session, &copies, intake_up_to)
                            .await?;
                        let _ = session.logout().await;
                    }
                    ready.into_iter().map(|p| p.source_key).collect()
                }
            };
            self.store().transaction(|tx| mails::removed(tx, &done))?;
        }
    }

    /// Removes the file transport's copies of purged mail from `outbound.dir` (queued by the
    /// purge in `sent_file_removals`), and forgets them once gone; what fails stays queued.
    fn remove_purged_files(&self) -> anyhow::Result<usize> {
        let mut removed = 0;
        let mut after = String::new();
        loop {
            let pending =
                crate::store::purge::pending_sent_files(self.store().conn(), &after, 500)?;
            let Some(last) = pending.last() else {
                return Ok(removed);
            };
            after = last.message_id.clone();
            let ids: Vec<&str> = pending.iter().map(|p| p.message_id.as_str()).collect();
            removed +=
                crate::outbound::transport::remove_sent_files(&self.settings.outbound.dir, &ids)
                    .with_context(|| {
                        format!(
                            "removing purged mail from {}",
                            self.settings.outbound.dir.display()
                        )
                    })?;
            let done: Vec<String> = pending.into_iter().map(|p| p.message_id).collect();
            self.store()
                .transaction(|tx| crate::store::purge::sent_files_removed(tx, &done))?;
        }
    }

    /// Sends what is due now.
    pub async fn deliver(&self) -> anyhow::Result<DeliveryReport> {
        deliver_due(
            &self.store,
            &self.transport,
            &self.policy,
            &self.unrecorded,
            self.clock.now(),
        )
        .await
    }

    /// Records since when the login settings are as they are (a refused login right after a
    /// change waits out `alerts.login_grace_minutes` before the director is told).
    fn note_login_setup(&self) {
        let fingerprint = crate::auth::login_fingerprint(&self.settings);
        let now = self.clock.now();
        match crate::store::service_state::note_login_setup(self.store().conn(), &fingerprint, now)
        {
            Ok(since) if since == now => {
                tracing::info!(
                    "login settings new or changed: a refused login is alerted after alerts.login_grace_minutes"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::error!("recording the login settings: {e:#}"),
        }
    }

    /// Takes in what is waiting, runs the jobs that are due, sends what is due, and returns.
    /// Each of the three goes on when another fails: the report names what failed (and
    /// `run --once` exits non-zero naming it), so cron sees it and nothing waits for it.
    pub async fn run_once(&self) -> anyhow::Result<RunReport> {
        self.note_login_setup();
        let mut report = RunReport::default();
        let intake = self.take_in_once(&mut report).await;
        match &intake {
            Ok(()) => crate::jobs::alerts::inbound_ok(&self.store(), self.clock.now()),
            Err(e) => {
                crate::jobs::alerts::inbound_failed(&self.store(), self.clock.now(), e);
                tracing::error!(
                    "taking mail in failed; jobs and sending go on: {}",
                    crate::redact::addresses(&format!("{e:#}"))
                );
                report.intake_failed = Some(format!("{e:#}"));
            }
        }
        report.jobs = self.run_jobs().await;
        match self.deliver().await {
            Ok(delivery) => report.delivery = delivery,
            Err(e) => {
                tracing::error!(
                    "sending failed: {}",
                    crate::redact::addresses(&format!("{e:#}"))
                );
                report.delivery_failed = Some(format!("{e:#}"));
            }
        }
        crate::jobs::alerts::outbound_observed(&self.store(), self.clock.now());
        Ok(report)
    }

    async fn take_in_once(&self, report: &mut RunReport) -> anyhow::Result<()> {
        match self.settings.inbound.kind {
            InboundKind::Maildir => self.process_maildir(&self.maildir()?, report),
            InboundKind::Imap => {
                let source = ImapSource::from_settings(&self.settings.inbound.imap)?;
                let mut session = source.connect().await?;
                let mut sink = Sink {
                    daemon: self,
                    report,
                };
                source.process_folder(&mut session, &mut sink, true).await?;
                let _ = session.logout().await;
                Ok(())
            }
        }
    }

    /// Runs until `shutdown` turns true: the mail source and the outbox worker side by side.
    /// The mail in hand is always finished before stopping.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        self.note_login_setup();
        let worker = tokio::spawn(Arc::clone(&self).worker_loop(shutdown.clone()));
        let scheduler = tokio::spawn(Arc::clone(&self).scheduler_loop(shutdown.clone()));
        let inbound = match self.settings.inbound.kind {
            InboundKind::Maildir => self.maildir_loop(shutdown.clone()).await,
            InboundKind::Imap => self.imap_loop(shutdown.clone()).await,
        };
        self.outbox_ready.notify_one();
        let worker = worker.await.context("outbox worker panicked")?;
        let scheduler = scheduler.await.context("scheduler panicked")?;
        inbound.and(worker).and(scheduler)
    }

    /// Runs the scheduled jobs at start (catching up) and then every minute.
    async fn scheduler_loop(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        loop {
            // Each job isolated: a failure is logged, recorded and alerted inside.
            self.run_jobs().await;
            self.watch_store().await;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    async fn maildir_loop(&self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let poll = Duration::from_secs(self.settings.inbound.maildir_poll_seconds.max(1));
        tracing::info!("watching the Maildir");
        let mut failing = false;
        loop {
            let mut report = RunReport::default();
            // Opened on every pass: a Maildir that cannot be opened now (its disk, a folder
            // that is a link) is a failure to report and retry, not the end of the daemon.
            let pass = self
                .maildir()
                .and_then(|maildir| self.process_maildir(&maildir, &mut report));
            match pass {
                Ok(()) => {
                    crate::jobs::alerts::inbound_ok(&self.store(), self.clock.now());
                    if std::mem::take(&mut failing) {
                        // Over: the all-clear need not wait for the scheduler's minute.
                        self.watch_health_now();
                    }
                }
                Err(e) => {
                    failing = true;
                    crate::jobs::alerts::inbound_failed(&self.store(), self.clock.now(), &e);
                    self.watch_health_now();
                    tracing::error!(
                        "reading the Maildir failed: {}",
                        crate::redact::addresses(&format!("{e:#}"))
                    );
                }
            }
            self.watch_store().await;
            self.store().release_memory();
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    async fn imap_loop(&self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let source = ImapSource::from_settings(&self.settings.inbound.imap)?;
        let imap = &self.settings.inbound.imap;
        let min = Duration::from_secs(imap.reconnect_min_seconds.max(1));
        let max = Duration::from_secs(
            imap.reconnect_max_seconds
                .max(imap.reconnect_min_seconds.max(1)),
        );
        let mut backoff = min;
        loop {
            let result = self
                .imap_session(&source, &mut shutdown, &mut backoff, min)
                .await;
            match result {
                Ok(()) => return Ok(()),
                Err(e) => {
                    crate::jobs::alerts::inbound_failed(&self.store(), self.clock.now(), &e);
                    self.watch_health_now();
                    let shown = crate::redact::addresses(&format!("{e:#}"));
                    if e.downcast_ref::<crate::inbound::imap::NeverConnected>()
                        .is_some()
                        || crate::auth::is_login_refused(&e)
                    {
                        tracing::warn!(retry_in = ?backoff, "{shown}")
                    } else {
                        tracing::warn!(retry_in = ?backoff, "IMAP connection lost: {shown}")
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => return Ok(()),
            }
            backoff = (backoff * 2).min(max);
        }
    }

    /// One connection's life: returns Ok on shutdown, Err when the connection failed.
    async fn imap_session(
        &self,
        source: &ImapSource,
        shutdown: &mut watch::Receiver<bool>,
        backoff: &mut Duration,
        min_backoff: Duration,
    ) -> anyhow::Result<()> {
        let mut session = source
            .connect()
            .await
            .context(crate::inbound::imap::NeverConnected)?;
        tracing::info!(folder = source.folder(), "connected to IMAP");
        let mut startup = true;
        loop {
            let mut report = RunReport::default();
            let mut sink = Sink {
                daemon: self,
                report: &mut report,
            };
            let taken = source
                .process_folder(&mut session, &mut sink, startup)
                .await?;
            crate::jobs::alerts::inbound_ok(&self.store(), self.clock.now());
            startup = false;
            *backoff = min_backoff;
            if *shutdown.borrow() {
                let _ = session.logout().await;
                return Ok(());
            }
            // Mail that arrived while this pass ran was announced during it (and those
            // announcements are not kept), so IDLE would not tell of it again: after a pass
            // that took mail in, look once more before waiting.
            if taken > 0 {
                continue;
            }
            self.store().release_memory();
            let (next, wake) = source.wait(session, shutdown).await?;
            session = next;
            if wake == crate::inbound::imap::Wake::Shutdown {
                let _ = session.logout().await;
                return Ok(());
            }
        }
    }

    async fn worker_loop(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        loop {
            // After a failure of the database itself, not sooner than in a few seconds (and
            // a new mail taken in does not hurry it: that is no news for a full disk).
            let mut at_least = Duration::from_millis(200);
            let delivered = self.deliver().await;
            if let Err(e) = &delivered {
                tracing::error!(
                    "outbox worker: {}",
                    crate::redact::addresses(&format!("{e:#}"))
                );
                at_least = Duration::from_secs(5);
            }
            let now = self.clock.now();
            crate::jobs::alerts::outbound_observed(&self.store(), now);
            // Sending works again after an alert: the all-clear need not wait for the
            // scheduler's minute.
            if delivered.is_ok_and(|d| d.sent > 0)
                && crate::store::service_state::open_alert(self.store().conn(), "outbound")
                    .is_ok_and(|a| a.is_some())
            {
                self.watch_health_now();
            }
            self.watch_store().await;
            let resume = match outbox::resume_at(self.store().conn(), now) {
                Ok(resume) => resume,
                Err(e) => {
                    tracing::error!("outbox worker: {e:#}");
                    None
                }
            };
            if resume.is_none() {
                // Nothing queued: the page cache can go until the next mail.
                self.store().release_memory();
            }
            let wait = resume
                .map(|at| (at - now).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(60))
                .clamp(at_least, Duration::from_secs(60));
            if *shutdown.borrow() {
                return Ok(());
            }
            if at_least > Duration::from_millis(200) {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => return Ok(()),
                }
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.outbox_ready.notified() => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }
}

/// Whether `error` (opening the daemon) is the database that cannot be opened or written — a
/// read-only or full disk, a file or directory it may not write — which mends by waiting.
fn store_unusable(error: &anyhow::Error) -> bool {
    crate::store::is_unwritable(error)
        || error
            .downcast_ref::<crate::service::check::PreflightFailure>()
            .is_some_and(|f| f.what == "store")
        || error
            .chain()
            .any(|c| c.downcast_ref::<std::io::Error>().is_some())
}

/// The alert that the database cannot be opened, sent before any of the daemon exists.
async fn alert_directly(
    settings: &Settings,
    problem: &crate::jobs::alerts::Problem,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<crate::store::QueuedMail> {
    let renderer = Renderer::load(Some(&settings.templates.dir))?;
    let transport = Transport::from_settings(&settings.outbound)?;
    let mailer = crate::outbound::Mailer {
        settings,
        renderer: &renderer,
        tz: settings.timezone(),
    };
    let mail = crate::jobs::alerts::unqueued_alert(
        &mailer,
        crate::jobs::alerts::Component::Store,
        problem,
        now,
    )?;
    transport.send(&mail).await?;
    tracing::warn!("the administrator is alerted (directly): the database cannot be opened");
    Ok(mail)
}

/// Connects the IMAP source to intake and the cursor table.
struct Sink<'a> {
    daemon: &'a Daemon,
    report: &'a mut RunReport,
}

impl MailSink for Sink<'_> {
    fn take(&mut self, raw: &RawMail) -> anyhow::Result<Disposition> {
        let result = self.daemon.take(raw)?;
        self.report.count(&result);
        Ok(result.disposition)
    }

    fn take_batch(&mut self, raws: &[RawMail]) -> (Vec<Disposition>, Option<anyhow::Error>) {
        let (results, error) = self.daemon.take_batch(raws);
        for result in &results {
            self.report.count(result);
        }
        (results.into_iter().map(|r| r.disposition).collect(), error)
    }

    fn recorded(&mut self, source_key: &str) -> anyhow::Result<Option<Disposition>> {
        Ok(mails::recorded_source(self.daemon.store().conn(), source_key)?.map(|(_, d)| d))
    }

    fn cursor(&mut self, mailbox: &str) -> anyhow::Result<Option<Cursor>> {
        Ok(
            mails::imap_cursor(self.daemon.store().conn(), mailbox)?.map(
                |(uidvalidity, last_uid)| Cursor {
                    uidvalidity,
                    last_uid,
                },
            ),
        )
    }

    fn set_cursor(&mut self, mailbox: &str, cursor: Cursor) -> anyhow::Result<()> {
        self.daemon.store().transaction(|tx| {
            mails::set_imap_cursor(tx, mailbox, cursor.uidvalidity, cursor.last_uid)
        })
    }
}
