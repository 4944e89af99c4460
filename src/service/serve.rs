//! The long-lived service (`klachtd run`): the daemon runs until SIGTERM or SIGINT, then
//! finishes the mail in hand; systemd hears READY=1 once it is set up, the watchdog's
//! heartbeat while it runs, and STOPPING=1 on the way out.

use super::check::Integrity;
use super::daemon::Daemon;
use super::lock::StoreLock;
use super::notify;
use crate::clock::SystemClock;
use crate::settings::Settings;
use std::sync::Arc;

/// Starts the daemon (waiting, if it must, for a database it can write) and runs it until a
/// signal asks it to stop.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    // Registered before READY=1: a SIGTERM from then on always stops cleanly.
    let signalled = shutdown_signal();
    tokio::spawn(async move {
        signalled.await;
        tracing::info!("shutting down after the mail in hand");
        notify::tell("STOPPING=1");
        let _ = tx.send(true);
    });
    // One daemon per database: the daemon holds it from here on.
    let lock = StoreLock::acquire(&settings.store.path)?;
    // systemd (Type=notify): running (if waiting for its database, it waits as a running
    // service, alerting); then the watchdog's heartbeat.
    notify::tell("READY=1");
    tokio::spawn(notify::watchdog());
    let started = Daemon::start(
        settings,
        Arc::new(SystemClock),
        Integrity::WholeFile,
        lock,
        rx.clone(),
    )
    .await?;
    match started {
        Some(daemon) => Arc::new(daemon).run(rx).await,
        None => Ok(()),
    }
}

/// Installs the SIGTERM and SIGINT handlers now; the future completes on either signal.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
}
