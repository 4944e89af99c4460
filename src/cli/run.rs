//! `klachtd run`: the daemon, long-lived under systemd or `--once` (process what is waiting,
//! send what is due, print a summary). One daemon per database; the checks that need no
//! network run first, and a failing one stops start-up with its line.

use super::{cases, clock_at, parse_time, runtime};
use crate::inbound::one_line;
use crate::redact;
use crate::service::check;
use crate::service::daemon::Daemon;
use crate::service::{lock, serve, startup};
use crate::settings::Settings;
use chrono::{DateTime, Utc};
use std::path::Path;
use std::process::ExitCode;

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
        // One daemon per database: held until the process ends. The long-lived daemon takes
        // it as it starts (it may have to wait for its disk).
        let _lock = if self.once {
            Some(lock::StoreLock::acquire(&settings.store.path)?)
        } else {
            None
        };
        let env_keys: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
        startup::log(&settings, config, &env_keys);
        if !self.once {
            runtime.block_on(serve::serve(settings))?;
            return Ok(ExitCode::SUCCESS);
        }
        // The checks that need no network; a failing one stops `run --once` with its line
        // (the daemon runs them as it starts, waiting for a database it cannot write yet).
        check::preflight(&settings, check::Integrity::Header)?;
        let daemon = Daemon::new(settings, clock_at(self.now))?;
        daemon.remove_unnamed_files();
        let report = runtime.block_on(daemon.run_once())?;
        println!("{}", cases::run_summary(&report));
        // Everything else ran; cron sees what failed.
        let failures = report.failures();
        if !failures.is_empty() {
            for failure in &failures {
                eprintln!("klachtd: {}", redact::addresses(&one_line(failure)));
            }
            return Ok(ExitCode::FAILURE);
        }
        Ok(ExitCode::SUCCESS)
    }
}
