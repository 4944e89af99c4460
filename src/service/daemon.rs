//! The running service: wires settings, the clock, the store, the mail source and the outbox
//! worker together; `run_once` for `klachtd run --once`, `run` for the long-lived daemon.

use crate::clock::SharedClock;
use crate::domain::Disposition;
use crate::domain::WorkingCalendar;
use crate::inbound::RawMail;
use crate::inbound::imap::{BATCH_BYTES, BATCH_MAILS, Cursor, ImapSource, MailSink};
use crate::inbound::maildir::{Maildir, Pending};
use crate::intake::{Intake, IntakeResult};
use crate::jobs::{JobReport, Jobs};
use crate::outbound::{DeliveryReport, Renderer, RetryPolicy, Transport, deliver_due};
use crate::settings::{InboundKind, Settings};
use crate::store::{Store, mails, outbox};
use anyhow::Context;
use chrono_tz::Tz;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

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
}

/// What one `run --once` did.
#[derive(Debug, Default, Clone)]
pub struct RunReport {
    pub taken: BTreeMap<&'static str, usize>,
    pub jobs: JobReport,
    pub delivery: DeliveryReport,
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
        })
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
                self.take_maildir_batch(maildir, std::mem::take(&mut batch), report)?;
                bytes = 0;
            }
            bytes += size;
            batch.push((pending, raw));
            if batch.len() >= BATCH_MAILS {
                self.take_maildir_batch(maildir, std::mem::take(&mut batch), report)?;
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            self.take_maildir_batch(maildir, batch, report)?;
        }
        Ok(())
    }

    /// Records one batch of Maildir mail with one commit, then moves each recorded mail out
    /// of `new/` as its disposition says. A failure of the store stops it after the mail
    /// recorded before the failure is moved (the rest stays in `new/` for the next pass).
    fn take_maildir_batch(
        &self,
        maildir: &Maildir,
        batch: Vec<(Pending, RawMail)>,
        report: &mut RunReport,
    ) -> anyhow::Result<()> {
        let (pendings, raws): (Vec<Pending>, Vec<RawMail>) = batch.into_iter().unzip();
        let (results, failure) = self.take_batch(&raws);
        drop(raws);
        if !results.is_empty() {
            crate::failpoint::hit("after-commit");
        }
        for (pending, result) in pendings.iter().zip(&results) {
            maildir.finish(pending, &result.source_key, result.disposition)?;
            crate::failpoint::hit("after-mark");
            report.count(result);
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Runs the scheduled jobs that are due now (reminders, alerts, digest, report, purge).
    pub fn run_jobs(&self) -> anyhow::Result<JobReport> {
        let now = self.clock.now();
        let intake = self.intake();
        let jobs = Jobs { intake: &intake };
        let mut store = self.store();
        let report = jobs.run_due(&mut store, now)?;
        drop(store);
        if report != JobReport::default() {
            tracing::info!(?report, "scheduled jobs ran");
            self.outbox_ready.notify_one();
        }
        Ok(report)
    }

    /// Judges the health at once (a refused login is alerted without waiting for the next
    /// scheduler pass) and wakes the outbox worker for the alert.
    fn watch_health_now(&self) {
        let now = self.clock.now();
        match self.with_jobs(|jobs, store| store.transaction(|tx| jobs.watch_health(tx, now))) {
            Ok(0) => {}
            Ok(_) => self.outbox_ready.notify_one(),
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
        let mut removed = 0;
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
                    // By Message-ID: never one that a mail still kept carries as well.
                    let ready: Vec<mails::PendingRemoval> =
                        pending.into_iter().filter(|p| !p.id_still_kept).collect();
                    let ids: Vec<&str> = ready
                        .iter()
                        .filter_map(|p| p.message_id.as_deref())
                        .collect();
                    if !ids.is_empty() {
                        let source = ImapSource::from_settings(&self.settings.inbound.imap)?;
                        let mut session = source.connect().await?;
                        removed += source.expunge_message_ids(&mut session, &ids).await?;
                        let _ = session.logout().await;
                    }
                    ready.into_iter().map(|p| p.source_key).collect()
                }
            };
            self.store().transaction(|tx| mails::removed(tx, &done))?;
        }
    }

    /// Sends what is due now.
    pub async fn deliver(&self) -> anyhow::Result<DeliveryReport> {
        deliver_due(&self.store, &self.transport, &self.policy, self.clock.now()).await
    }

    /// Records since when the login settings are as they are (a refused login right after a
    /// change waits out `alerts.login_grace_minutes` before the director is told).
    fn note_login_setup(&self) {
        let fingerprint = crate::auth::login_fingerprint(&self.settings);
        let now = self.clock.now();
        match crate::store::health::note_login_setup(self.store().conn(), &fingerprint, now) {
            Ok(since) if since == now => {
                tracing::info!(
                    "login settings new or changed: a refused login is alerted after alerts.login_grace_minutes"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::error!("recording the login settings: {e:#}"),
        }
    }

    /// Processes what is waiting, sends what is due, and returns.
    pub async fn run_once(&self) -> anyhow::Result<RunReport> {
        self.note_login_setup();
        let mut report = RunReport::default();
        match self.settings.inbound.kind {
            InboundKind::Maildir => self.process_maildir(&self.maildir()?, &mut report)?,
            InboundKind::Imap => {
                let source = ImapSource::from_settings(&self.settings.inbound.imap)?;
                let mut session = source.connect().await?;
                let mut sink = Sink {
                    daemon: self,
                    report: &mut report,
                };
                source.process_folder(&mut session, &mut sink, true).await?;
                let _ = session.logout().await;
            }
        }
        crate::jobs::alerts::inbound_ok(&self.store(), self.clock.now());
        report.jobs = self.run_jobs()?;
        if let Err(e) = self.remove_purged_mail().await {
            // Kept queued: tried again on the next pass.
            tracing::error!(
                "retention: removing purged mail from the mailbox: {}",
                crate::redact::addresses(&format!("{e:#}"))
            );
        }
        report.delivery = self.deliver().await?;
        crate::jobs::alerts::outbound_observed(&self.store(), self.clock.now());
        Ok(report)
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
            match self.run_jobs() {
                Ok(_) => {
                    if let Err(e) = self.remove_purged_mail().await {
                        tracing::error!(
                            "retention: removing purged mail from the mailbox: {}",
                            crate::redact::addresses(&format!("{e:#}"))
                        );
                    }
                }
                Err(e) => tracing::error!(
                    "scheduled jobs: {}",
                    crate::redact::addresses(&format!("{e:#}"))
                ),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    async fn maildir_loop(&self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let maildir = self.maildir()?;
        let poll = Duration::from_secs(self.settings.inbound.maildir_poll_seconds.max(1));
        tracing::info!("watching the Maildir");
        loop {
            let mut report = RunReport::default();
            match self.process_maildir(&maildir, &mut report) {
                Ok(()) => crate::jobs::alerts::inbound_ok(&self.store(), self.clock.now()),
                Err(e) => {
                    crate::jobs::alerts::inbound_failed(&self.store(), self.clock.now(), &e);
                    self.watch_health_now();
                    tracing::error!(
                        "reading the Maildir failed: {}",
                        crate::redact::addresses(&format!("{e:#}"))
                    );
                }
            }
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
            if let Err(e) = self.deliver().await {
                tracing::error!(
                    "outbox worker: {}",
                    crate::redact::addresses(&format!("{e:#}"))
                );
            }
            let now = self.clock.now();
            crate::jobs::alerts::outbound_observed(&self.store(), now);
            let resume = outbox::resume_at(self.store().conn(), now)?;
            if resume.is_none() {
                // Nothing queued: the page cache can go until the next mail.
                self.store().release_memory();
            }
            let wait = resume
                .map(|at| (at - now).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(60))
                .clamp(Duration::from_millis(200), Duration::from_secs(60));
            if *shutdown.borrow() {
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.outbox_ready.notified() => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }
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
