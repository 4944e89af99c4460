//! `klachtd run`: the daemon, long-lived under systemd or `--once` (process what is waiting,
//! send what is due, print a summary). One daemon per database; the checks that need no
//! network run first, and a failing one stops start-up with its line.

use super::{cases, check, clock_at, parse_time, runtime};
use crate::clock::SystemClock;
use crate::service::daemon::Daemon;
use crate::service::{lock, serve, startup};
use crate::settings::Settings;
use chrono::{DateTime, Utc};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// Process what is waiting, send what is due, then exit.
    #[arg(long)]
    once: bool,
    /// With --once: act as of this moment (RFC 3339, e.g. 2026-12-01T09:00:00+01:00).
    #[arg(long, requires = "once", value_parser = parse_time)]
    now: Option<DateTime<Utc>>,
}

impl Args {
    /// Runs the subcommand.
    pub fn run(self, config: Option<&Path>) -> anyhow::Result<ExitCode> {
        let settings = Settings::load(config)?;
        let runtime = runtime()?;
        // One daemon per database: held until the process ends.
        let _lock = lock::StoreLock::acquire(&settings.store.path)?;
        let env_keys: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
        startup::log(&settings, config, &env_keys);
        // The checks that need no network; a failing one stops start-up with its line.
        let integrity = if self.once {
            check::Integrity::Header
        } else {
            check::Integrity::WholeFile
        };
        check::preflight(&settings, integrity)?;
        if self.once {
            let daemon = Daemon::new(settings, clock_at(self.now))?;
            let report = runtime.block_on(daemon.run_once())?;
            println!("{}", cases::run_summary(&report));
        } else {
            let daemon = Arc::new(Daemon::new(settings, Arc::new(SystemClock))?);
            runtime.block_on(serve::serve(daemon))?;
        }
        Ok(ExitCode::SUCCESS)
    }
}
