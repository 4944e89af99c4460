//! `klachtd purge`: the retention purge by hand — the personal data of cases that ended more
//! than `retention.years` ago is removed (or, with `--dry-run`, only listed).

use super::{clock_at, parse_time, runtime};
use crate::service::daemon::Daemon;
use crate::settings::Settings;
use chrono::{DateTime, Utc};
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Only list what would be purged.
    #[arg(long)]
    dry_run: bool,
    /// Act as of this moment (RFC 3339) instead of the real clock.
    #[arg(long, value_parser = parse_time)]
    now: Option<DateTime<Utc>>,
}

impl Args {
    /// Runs the subcommand.
    pub fn run(self, config: Option<&Path>) -> anyhow::Result<ExitCode> {
        let settings = Settings::load(config)?;
        let runtime = runtime()?;
        if self.dry_run {
            // Only looking never creates a database.
            crate::store::require_existing(&settings.store.path)?;
        }
        let daemon = Daemon::new(settings, clock_at(self.now))?;
        let at = daemon.now();
        if self.dry_run {
            let due = daemon.with_jobs(|jobs, store| jobs.purgeable(store.conn(), at))?;
            for p in &due {
                println!(
                    "{}  ended {}  {} mail(s)",
                    p.reference,
                    p.ended.format("%Y-%m-%d"),
                    p.mail.len()
                );
            }
            println!("{} case(s) would be purged", due.len());
        } else {
            let (due, loose) = daemon.with_jobs(|jobs, store| jobs.purge(store, at))?;
            let removed = runtime.block_on(daemon.remove_purged_mail())?;
            for p in &due {
                println!("{} purged", p.reference);
            }
            println!(
                "{} case(s) purged, {loose} other mail(s) emptied, {removed} mailbox copies removed",
                due.len()
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
