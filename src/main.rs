//! The `klachtd` command: parses the command line, loads settings, starts logging and hands
//! over to the library.
#![forbid(unsafe_code)]

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use klachtd::clock::{FixedClock, SharedClock, SystemClock};
use klachtd::settings::Settings;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Runs the complaints procedure over e-mail: registers complaints, acknowledges them in
/// Dutch, and keeps the register the procedure asks for.
#[derive(Parser)]
#[command(name = "klachtd", version, about)]
struct Cli {
    /// A configuration file layered over the built-in defaults (see config/default.toml).
    #[arg(long, short, global = true, env = "KLACHTD_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: watch the mailbox, register complaints, send what is due.
    Run {
        /// Process what is waiting, send what is due, then exit.
        #[arg(long)]
        once: bool,
        /// With --once: act as of this moment (RFC 3339, e.g. 2026-12-01T09:00:00+01:00).
        #[arg(long, requires = "once", value_parser = parse_time)]
        now: Option<DateTime<Utc>>,
    },
    /// The weekly digest for the director: preview it, or send it now.
    Digest {
        /// Print the digest as it would be mailed (the default).
        #[arg(long, conflicts_with = "send_now")]
        print: bool,
        /// Queue the digest to the director now and send it.
        #[arg(long)]
        send_now: bool,
        /// Act as of this moment (RFC 3339) instead of the real clock.
        #[arg(long, value_parser = parse_time)]
        now: Option<DateTime<Utc>>,
    },
    /// The yearly analysis: figures, causes, measures, recommendations, charts, CSV.
    Report {
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
    },
    /// Retention: remove the personal data of cases that ended more than retention.years ago.
    Purge {
        /// Only list what would be purged.
        #[arg(long)]
        dry_run: bool,
        /// Act as of this moment (RFC 3339) instead of the real clock.
        #[arg(long, value_parser = parse_time)]
        now: Option<DateTime<Utc>>,
    },
    /// Show the register: every case with its status and reaction deadline.
    Cases {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Judge deadlines as of this moment (RFC 3339) instead of the real clock.
        #[arg(long, value_parser = parse_time)]
        now: Option<DateTime<Utc>>,
    },
    /// Show one case with its history.
    Case {
        /// The case reference, e.g. KL-2026-0042.
        reference: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Judge deadlines as of this moment (RFC 3339) instead of the real clock.
        #[arg(long, value_parser = parse_time)]
        now: Option<DateTime<Utc>>,
    },
    /// Write one of a case's attachments to a file (`klachtd case REF` lists them, numbered).
    Attachment {
        /// The case reference, e.g. KL-2026-0042.
        reference: String,
        /// The attachment's number in `klachtd case REF`, from 1.
        number: usize,
        /// The file to write; an existing file is not overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the guide for staff: how to work a complaint by replying, every command.
    HelpCommands {
        /// nl or en; without it, the configured organisation.language (nl by default).
        #[arg(long, value_parser = ["nl", "en"])]
        lang: Option<String>,
    },
    /// A self-contained walk-through on a temporary Maildir: complaints, an auto-reply and a
    /// newsletter arrive, and you see what klachtd does with each. It uses the built-in
    /// settings only, never a configuration (so it cannot reach your mailboxes).
    Demo,
    /// Check the installation: configuration, store, templates, roles, mailbox, mail server.
    /// One line per check (✔/✘ with a fix); exit status 0 only when all pass.
    Check {
        /// Also send one test mail to this address.
        #[arg(long, value_name = "ADDRESS")]
        send_test: Option<String>,
    },
    /// Is the daemon running; last fetch and send; queue, failed and quarantined mail; cases.
    Status {
        /// Judge deadlines as of this moment (RFC 3339) instead of the real clock.
        #[arg(long, value_parser = parse_time)]
        now: Option<DateTime<Utc>>,
    },
    /// Write a consistent copy of the database to FILE (safe while the daemon runs).
    Backup {
        /// The new file to write (must not exist).
        file: PathBuf,
    },
    /// Put a backup in place as the database (stop the daemon first); the current database
    /// is kept beside it as <store>.before-restore.
    Restore {
        /// The backup file written by `klachtd backup`.
        file: PathBuf,
    },
    /// AVG art. 15: write everything held on one person (cases, their mail as received, the
    /// mail sent to them, attachments) with a covering letter, into a private directory.
    Dossier {
        /// The person's e-mail address.
        address: String,
        /// The directory to write (new or empty; default dossier-<name>-<date>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The covering letter's language.
        #[arg(long, value_parser = ["nl", "en"])]
        lang: Option<String>,
    },
    /// AVG art. 17: erase one person's personal data as the retention purge does (the
    /// anonymous facts stay); a record that it happened stays, without the address.
    Erase {
        /// The person's e-mail address.
        address: String,
        /// Why (kept in the register; must not contain the address).
        #[arg(long)]
        reason: String,
        /// Only say what would be erased.
        #[arg(long)]
        dry_run: bool,
        /// Also erase cases still running (they are closed as of now).
        #[arg(long)]
        include_open: bool,
    },
    /// OAuth2 for Microsoft 365 and Google Workspace (docs/oauth2.md).
    Oauth2 {
        #[command(subcommand)]
        action: Oauth2Action,
    },
}

#[derive(Subcommand)]
enum Oauth2Action {
    /// Sign in once as the mailbox (delegated access, oauth2.source = "refresh_token") and
    /// store the refresh token in oauth2.refresh_token_file: Microsoft by a device code,
    /// Google in a browser.
    Login {
        /// Google: the 127.0.0.1 port the browser's answer comes to (default: any free one;
        /// give one to forward it over ssh -L).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

fn clock_at(now: Option<DateTime<Utc>>) -> SharedClock {
    match now {
        Some(at) => Arc::new(FixedClock::at(at)),
        None => Arc::new(SystemClock),
    }
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| {
            format!("'{s}' is not an RFC 3339 time ({e}); example: 2026-12-01T09:00:00+01:00")
        })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo tells its own story; the daemon logs what it does.
    let default_level = if matches!(cli.command, Command::Demo) {
        "warn"
    } else {
        "info"
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KLACHTD_LOG")
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, never into the journal or a file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // KLACHTD_LOG_FORMAT=json: one JSON object a line, for journald or Loki.
    if std::env::var("KLACHTD_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
    klachtd::install_crypto_provider();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("klachtd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Demo => {
            if let Some(config) = &cli.config {
                let from_env = std::env::var_os("KLACHTD_CONFIG").is_some_and(|v| *v == **config);
                if !from_env {
                    eprintln!(
                        "klachtd: the demo runs on a temporary Maildir with the built-in settings and never reads a configuration (so it cannot reach your mailboxes); run `klachtd demo` without --config"
                    );
                    return Ok(ExitCode::from(2));
                }
                eprintln!(
                    "klachtd: note: the demo uses the built-in settings, not KLACHTD_CONFIG ({})",
                    config.display()
                );
            }
            return klachtd::cli::demo::run(&mut std::io::stdout()).map(|()| ExitCode::SUCCESS);
        }
        Command::HelpCommands { lang } => {
            let lang = match lang.as_deref().and_then(klachtd::settings::Language::parse) {
                Some(lang) => lang,
                None => Settings::load(cli.config.as_deref())?.organisation.language,
            };
            print!("{}", klachtd::commands::help(lang));
            return Ok(ExitCode::SUCCESS);
        }
        Command::Oauth2 {
            action: Oauth2Action::Login { port },
        } => {
            let settings = Settings::load(cli.config.as_deref())?;
            klachtd::cli::oauth2_login::run(
                &settings,
                &klachtd::cli::oauth2_login::Options { port: *port },
                Box::new(std::io::BufReader::new(std::io::stdin())),
                &mut std::io::stdout(),
            )?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Check { send_test } => {
            let env: Vec<(String, String)> = std::env::vars().collect();
            let runtime = runtime()?;
            let report = runtime.block_on(klachtd::cli::check::all(
                cli.config.as_deref(),
                &env,
                send_test.as_deref(),
            ));
            print!("{report}");
            return Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        _ => {}
    }
    let settings = Settings::load(cli.config.as_deref())?;
    let runtime = runtime()?;
    // One daemon per database: held until the process ends.
    let _lock = match cli.command {
        Command::Run { .. } | Command::Restore { .. } => Some(
            klachtd::service::lock::StoreLock::acquire(&settings.store.path)?,
        ),
        _ => None,
    };
    // Commands that only look never create a database.
    let only_looks = matches!(
        cli.command,
        Command::Digest {
            send_now: false,
            ..
        } | Command::Report { send: false, .. }
            | Command::Purge { dry_run: true, .. }
            | Command::Backup { .. }
    );
    if only_looks {
        klachtd::service::lock::require_existing(&settings.store.path)?;
    }
    if matches!(cli.command, Command::Run { .. }) {
        let env_keys: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
        klachtd::service::startup::log(&settings, cli.config.as_deref(), &env_keys);
        // The checks that need no network; a failing one stops start-up with its line.
        let integrity = match cli.command {
            Command::Run { once: true, .. } => klachtd::cli::check::Integrity::Header,
            _ => klachtd::cli::check::Integrity::WholeFile,
        };
        klachtd::cli::check::preflight(&settings, integrity)?;
    }
    match cli.command {
        Command::Run { once: true, now } => {
            let daemon = klachtd::service::daemon::Daemon::new(settings, clock_at(now))?;
            let report = runtime.block_on(daemon.run_once())?;
            println!("{}", klachtd::cli::cases::run_summary(&report));
        }
        Command::Run { once: false, .. } => {
            let daemon = Arc::new(klachtd::service::daemon::Daemon::new(
                settings,
                Arc::new(SystemClock),
            )?);
            runtime.block_on(async move {
                let (tx, rx) = tokio::sync::watch::channel(false);
                // Registered before READY=1: a SIGTERM from then on always stops cleanly.
                let signalled = shutdown_signal();
                tokio::spawn(async move {
                    signalled.await;
                    tracing::info!("shutting down after the mail in hand");
                    klachtd::service::notify::tell("STOPPING=1");
                    let _ = tx.send(true);
                });
                // systemd (Type=notify): set up and running; then the watchdog's heartbeat.
                klachtd::service::notify::tell("READY=1");
                tokio::spawn(klachtd::service::notify::watchdog());
                daemon.run(rx).await
            })?;
        }
        Command::Cases { json, now } => {
            let store = klachtd::service::lock::open_existing(&settings.store.path)?;
            let now = clock_at(now).now();
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            klachtd::cli::cases::write_cases(&store, &settings, now, json, &mut out)?;
            std::io::Write::flush(&mut out)?;
        }
        Command::Digest {
            print: _,
            send_now,
            now,
        } => {
            let daemon = klachtd::service::daemon::Daemon::new(settings, clock_at(now))?;
            let at = daemon.now();
            if send_now {
                let content = daemon.with_jobs(|jobs, store| {
                    store.transaction(|tx| jobs.send_digest_now(tx, at))
                })?;
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
        }
        Command::Report {
            year,
            format,
            out,
            send,
            now,
        } => {
            let daemon = klachtd::service::daemon::Daemon::new(settings.clone(), clock_at(now))?;
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
                            std::fs::create_dir_all(dir)
                                .with_context(|| format!("cannot create {}", dir.display()))?;
                            let path = dir.join(format!("klachten-{year}.csv"));
                            klachtd::fsutil::write_private_atomic_with(&path, |w| {
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
                let rendered = daemon.render_report(jobs, &report)?;
                let main = if format == "md" {
                    (format!("klachtanalyse-{year}.md"), rendered.text)
                } else {
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
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                    for (name, content) in &files {
                        let path = dir.join(name);
                        // The analysis names handlers and causes: owner-only, like the database.
                        klachtd::fsutil::write_private_atomic(&path, content.as_bytes())
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
        }
        Command::Purge { dry_run, now } => {
            let daemon = klachtd::service::daemon::Daemon::new(settings, clock_at(now))?;
            let at = daemon.now();
            if dry_run {
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
        }
        Command::Case {
            reference,
            json,
            now,
        } => {
            let reference = reference.parse()?;
            let store = klachtd::service::lock::open_existing(&settings.store.path)?;
            let now = clock_at(now).now();
            match klachtd::cli::cases::case(&store, &settings, now, reference, json)? {
                Some(out) => print!("{out}"),
                None => {
                    eprintln!("klachtd: no case {reference}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
        Command::Attachment {
            reference,
            number,
            out,
        } => {
            let reference = reference.parse()?;
            let store = klachtd::service::lock::open_existing(&settings.store.path)?;
            let Some((name, data)) = klachtd::cli::cases::attachment(&store, reference, number)?
            else {
                eprintln!(
                    "klachtd: {reference} has no attachment {number} (see `klachtd case {reference}`)"
                );
                return Ok(ExitCode::from(2));
            };
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            // A complainant's file: readable by its owner only, like the database.
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&out)
                .and_then(|mut f| f.write_all(&data))
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("{name} ({} bytes) written to {}", data.len(), out.display());
        }
        Command::Status { now } => {
            print!(
                "{}",
                klachtd::cli::status::report(&settings, clock_at(now).now())?
            );
        }
        Command::Backup { file } => {
            let copy = klachtd::store::maintenance::backup(&settings.store.path, &file)?;
            // Remembered, so `erase` can name the copies it cannot reach (issue 25).
            if let Err(e) = klachtd::cli::erase::note_backup(&settings, &file, clock_at(None).now())
            {
                eprintln!("klachtd: note: the backup is not recorded for `erase` ({e:#})");
            }
            println!(
                "{} written (schema {}, intact)",
                file.display(),
                copy.version
            );
        }
        Command::Restore { file } => {
            let restored = klachtd::store::maintenance::restore(&file, &settings.store.path)?;
            println!(
                "{} restored as {} (schema {}, intact); the previous database is kept as {}.before-restore",
                file.display(),
                settings.store.path.display(),
                restored.version,
                settings.store.path.display()
            );
        }
        Command::Dossier { address, out, lang } => {
            let now = clock_at(None).now();
            print!(
                "{}",
                klachtd::cli::dossier::command(&settings, &address, out, lang.as_deref(), now)?
            );
        }
        Command::Erase {
            address,
            reason,
            dry_run,
            include_open,
        } => {
            let (text, code) = klachtd::cli::erase::command(
                settings,
                &address,
                &reason,
                dry_run,
                include_open,
                Arc::new(SystemClock),
            )?;
            print!("{text}");
            return Ok(ExitCode::from(code));
        }
        Command::Demo
        | Command::HelpCommands { .. }
        | Command::Check { .. }
        | Command::Oauth2 { .. } => {
            unreachable!("handled above")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One thread runs everything async (mail in, mail out, the scheduler): klachtd waits on the
/// network far more than it computes, and a second worker thread and its malloc arena only
/// cost memory (idle RSS). Blocking work (OAuth2 token exchange, file transport) still goes
/// to tokio's blocking threads, which end after ten idle seconds.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
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
