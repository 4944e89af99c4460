//! `klachtd digest`: the director's weekly digest, printed as it would be mailed, or queued
//! to the director and sent now.

use super::{clock_at, parse_time, runtime};
use crate::service::daemon::Daemon;
use crate::settings::Settings;
use chrono::{DateTime, Utc};
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Print the digest as it would be mailed (the default).
    #[arg(long, conflicts_with = "send_now")]
    print: bool,
    /// Queue the digest to the director now and send it.
    #[arg(long)]
    send_now: bool,
    /// Act as of this moment (RFC 3339) instead of the real clock.
    #[arg(long, value_parser = parse_time)]
    now: Option<DateTime<Utc>>,
}

impl Args {
    /// Runs the subcommand.
    pub fn run(self, config: Option<&Path>) -> anyhow::Result<ExitCode> {
        let settings = Settings::load(config)?;
        let runtime = runtime()?;
        if !self.send_now {
            // Only looking never creates a database.
            crate::store::require_existing(&settings.store.path)?;
        }
        let daemon = Daemon::new(settings, clock_at(self.now))?;
        let at = daemon.now();
        if self.send_now {
            let content = daemon
                .with_jobs(|jobs, store| store.transaction(|tx| jobs.send_digest_now(tx, at)))?;
            let delivery = runtime.block_on(daemon.deliver())?;
            println!(
                "digest {} queued; mail sent: {}, deferred: {}",
                content.week, delivery.sent, delivery.deferred
            );
        } else {
            let text = daemon.with_jobs(|jobs, store| {
                let content = jobs.digest_content(store.conn(), at)?;
                jobs.digest_text(&content)
            })?;
            print!("{text}");
        }
        Ok(ExitCode::SUCCESS)
    }
}
