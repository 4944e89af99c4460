//! The `klachtd` command line: the arguments ([`Cli`], one [`Command`] per subcommand) and one
//! file per subcommand or small group, each with its arguments and a `run` that `main.rs`
//! calls.
//! To add a subcommand: a variant here, its file beside this one, one line in `main.rs`.

pub mod backup;
pub mod cases;
pub mod check;
pub mod demo;
pub mod digest;
pub mod dossier;
pub mod erase;
pub mod help_commands;
pub mod oauth2_login;
pub mod purge;
pub mod report;
pub mod run;
pub mod status;

use crate::clock::{FixedClock, SharedClock, SystemClock};
use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

/// Runs the complaints procedure over e-mail: registers complaints, acknowledges them in
/// Dutch, and keeps the register the procedure asks for.
#[derive(Parser)]
#[command(name = "klachtd", version, about)]
pub struct Cli {
    /// A configuration file layered over the built-in defaults (see config/default.toml).
    #[arg(long, short, global = true, env = "KLACHTD_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the daemon: watch the mailbox, register complaints, send what is due.
    Run(run::Args),
    /// The weekly digest for the director: preview it, or send it now.
    Digest(digest::Args),
    /// The yearly analysis: figures, causes, measures, recommendations, charts, CSV.
    Report(report::Args),
    /// Retention: remove the personal data of cases that ended more than retention.years ago.
    Purge(purge::Args),
    /// Show the register: every case with its status and reaction deadline.
    Cases(cases::CasesArgs),
    /// Show one case with its history.
    Case(cases::CaseArgs),
    /// Write one of a case's attachments to a file (`klachtd case REF` lists them, numbered).
    Attachment(cases::AttachmentArgs),
    /// Print the guide for staff: how to work a complaint by replying, every command.
    HelpCommands(help_commands::Args),
    /// A self-contained walk-through on a temporary Maildir: complaints, an auto-reply and a
    /// newsletter arrive, and you see what klachtd does with each. It uses the built-in
    /// settings only, never a configuration (so it cannot reach your mailboxes).
    Demo(demo::Args),
    /// Check the installation: configuration, store, templates, roles, mailbox, mail server.
    /// One line per check (✔/✘ with a fix); exit status 0 only when all pass.
    Check(check::Args),
    /// Is the daemon running; last fetch and send; queue, failed and quarantined mail; cases.
    Status(status::Args),
    /// Write a consistent copy of the database to FILE (safe while the daemon runs).
    Backup(backup::BackupArgs),
    /// Put a backup in place as the database (stop the daemon first); the current database
    /// is kept beside it as <store>.before-restore-<time>, never overwritten.
    Restore(backup::RestoreArgs),
    /// AVG art. 15: write everything held on one person (cases, their mail as received, the
    /// mail sent to them, attachments) with a covering letter, into a private directory.
    Dossier(dossier::Args),
    /// AVG art. 17: erase one person's personal data as the retention purge does (the
    /// anonymous facts stay); a record that it happened stays, without the address.
    Erase(erase::Args),
    /// OAuth2 for Microsoft 365 and Google Workspace (docs/oauth2.md).
    Oauth2(oauth2_login::Args),
}

/// The clock a subcommand acts by: fixed at `--now`, or the real one.
pub fn clock_at(now: Option<DateTime<Utc>>) -> SharedClock {
    match now {
        Some(at) => Arc::new(FixedClock::at(at)),
        None => Arc::new(SystemClock),
    }
}

/// Parses `--now`: an RFC 3339 time.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| {
            format!("'{s}' is not an RFC 3339 time ({e}); example: 2026-12-01T09:00:00+01:00")
        })
}

/// One thread runs everything async (mail in, mail out, the scheduler): klachtd waits on the
/// network far more than it computes, and a second worker thread and its malloc arena only
/// cost memory (idle RSS). Blocking work (OAuth2 token exchange, file transport) still goes
/// to tokio's blocking threads, which end after ten idle seconds.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
