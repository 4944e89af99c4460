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
    /// Show the register: every case with its status and reaction deadline.
    Cases {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one case with its history.
    Case {
        /// The case reference, e.g. KL-2026-0042.
        reference: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the guide for staff: how to work a complaint by replying, every command.
    HelpCommands {
        /// nl (default) or en.
        #[arg(long, default_value = "nl", value_parser = ["nl", "en"])]
        lang: String,
    },
    /// A self-contained walk-through on a temporary Maildir: complaints, an auto-reply and a
    /// newsletter arrive, and you see what klachtd does with each.
    Demo,
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KLACHTD_LOG")
                .unwrap_or_else(|_| default_level.into()),
        )
        .with_writer(std::io::stderr)
        .init();
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
            return klachtd::demo::run(&mut std::io::stdout()).map(|()| ExitCode::SUCCESS);
        }
        Command::HelpCommands { lang } => {
            let lang = klachtd::settings::Language::parse(lang).unwrap_or_default();
            print!("{}", klachtd::commands::help(lang));
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let settings = Settings::load(cli.config.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match cli.command {
        Command::Run { once: true, now } => {
            let clock: SharedClock = match now {
                Some(at) => Arc::new(FixedClock::at(at)),
                None => Arc::new(SystemClock),
            };
            let daemon = klachtd::daemon::Daemon::new(settings, clock)?;
            let report = runtime.block_on(daemon.run_once())?;
            println!("{}", klachtd::register::run_summary(&report));
        }
        Command::Run { once: false, .. } => {
            let daemon = Arc::new(klachtd::daemon::Daemon::new(
                settings,
                Arc::new(SystemClock),
            )?);
            runtime.block_on(async move {
                let (tx, rx) = tokio::sync::watch::channel(false);
                tokio::spawn(async move {
                    shutdown_signal().await;
                    tracing::info!("shutting down after the mail in hand");
                    let _ = tx.send(true);
                });
                daemon.run(rx).await
            })?;
        }
        Command::Cases { json } => {
            let store = klachtd::store::Store::open(&settings.store.path)?;
            let out = klachtd::register::cases(&store, &settings, json)?;
            print!("{out}");
        }
        Command::Case { reference, json } => {
            let reference = reference.parse()?;
            let store = klachtd::store::Store::open(&settings.store.path)?;
            match klachtd::register::case(&store, &settings, reference, json)? {
                Some(out) => print!("{out}"),
                None => {
                    eprintln!("klachtd: no case {reference}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
        Command::Demo | Command::HelpCommands { .. } => unreachable!("handled above"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
