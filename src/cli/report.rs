//! `klachtd report --year Y`: the yearly analysis as HTML (with charts), Markdown or CSV (the
//! anonymous case data, streamed), printed or written into a directory readable by its owner
//! only; `--send` also queues it to the director and sends it.

use super::{clock_at, parse_time, runtime};
use crate::fsutil;
use crate::service::daemon::Daemon;
use crate::settings::Settings;
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The year to analyse.
    #[arg(long)]
    year: i32,
    /// html (with charts), md, or csv (the anonymous case data).
    #[arg(long, default_value = "html", value_parser = ["html", "md", "csv"])]
    format: String,
    /// Write the file into this directory instead of printing it (charts too, for html).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also queue the analysis to the director and send it.
    #[arg(long)]
    send: bool,
    /// Act as of this moment (RFC 3339) instead of the real clock.
    #[arg(long, value_parser = parse_time)]
    now: Option<DateTime<Utc>>,
}

impl Args {
    /// Runs the subcommand.
    pub fn run(self, config: Option<&Path>) -> anyhow::Result<ExitCode> {
        let Args {
            year,
            format,
            out,
            send,
            now,
        } = self;
        let settings = Settings::load(config)?;
        let runtime = runtime()?;
        if !send {
            // Only looking never creates a database.
            crate::store::require_existing(&settings.store.path)?;
        }
        let daemon = Daemon::new(settings.clone(), clock_at(now))?;
        let at = daemon.now();
        let today = at.with_timezone(&settings.timezone()).date_naive();
        if format == "csv" {
            // The anonymous case data, one line per case: streamed, never whole in memory.
            daemon.with_jobs(|jobs, store| {
                if send {
                    store.transaction(|tx| jobs.send_report(tx, year, today, at))?;
                }
                match &out {
                    Some(dir) => {
                        fsutil::create_private_dir(dir)
                            .with_context(|| format!("cannot create {}", dir.display()))?;
                        let path = dir.join(format!("klachten-{year}.csv"));
                        fsutil::write_private_atomic_with(&path, |w| {
                            jobs.write_report_csv(store.conn(), year, w)
                        })
                        .with_context(|| format!("cannot write {}", path.display()))?;
                        println!("{}", path.display());
                    }
                    None => {
                        let stdout = std::io::stdout();
                        let mut w = std::io::BufWriter::new(stdout.lock());
                        jobs.write_report_csv(store.conn(), year, &mut w)?;
                        std::io::Write::flush(&mut w)?;
                    }
                }
                Ok(())
            })?;
            if send {
                let delivery = runtime.block_on(daemon.deliver())?;
                eprintln!(
                    "analysis {year} queued to the director; mail sent: {}",
                    delivery.sent
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        let files = daemon.with_jobs(|jobs, store| {
            let report = jobs.year_report(store.conn(), year, today)?;
            if send {
                store.transaction(|tx| jobs.send_report(tx, year, today, at))?;
            }
            let main = if format == "md" {
                let md = daemon.render_report_markdown(jobs, &report)?;
                (format!("klachtanalyse-{year}.md"), md)
            } else {
                let rendered = daemon.render_report(jobs, &report)?;
                (format!("klachtanalyse-{year}.html"), rendered.html)
            };
            let mut files = vec![main];
            if format == "html" {
                files.extend(jobs.report_charts(&report));
            }
            Ok(files)
        })?;
        match out {
            Some(dir) => {
                // Owner-only, like every directory klachtd makes (it holds the analysis).
                fsutil::create_private_dir(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                for (name, content) in &files {
                    let path = dir.join(name);
                    // The analysis names handlers and causes: owner-only, like the database.
                    fsutil::write_private_atomic(&path, content.as_bytes())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    println!("{}", path.display());
                }
            }
            None => print!("{}", files[0].1),
        }
        if send {
            let delivery = runtime.block_on(daemon.deliver())?;
            eprintln!(
                "analysis {year} queued to the director; mail sent: {}",
                delivery.sent
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
