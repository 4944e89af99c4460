//! The `klachtd` command: parses the command line, sets up logging and hands each subcommand
//! to its file in `klachtd::cli` (one file per subcommand or small group).
#![forbid(unsafe_code)]

use clap::Parser;
use klachtd::cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo tells its own story; the daemon logs what it does.
    logging(if matches!(cli.command, Command::Demo(_)) {
        "warn"
    } else {
        "info"
    });
    klachtd::install_crypto_provider();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("klachtd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr at `default_level`, or as KLACHTD_LOG says.
fn logging(default_level: &str) {
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
}

/// Each subcommand to its file in `klachtd::cli`.
fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Run(args) => args.run(config),
        Command::Digest(args) => args.run(config),
        Command::Report(args) => args.run(config),
        Command::Purge(args) => args.run(config),
        Command::Cases(args) => args.run(config),
        Command::Case(args) => args.run(config),
        Command::Attachment(args) => args.run(config),
        Command::HelpCommands(args) => args.run(config),
        Command::Demo(args) => args.run(config),
        Command::Check(args) => args.run(config),
        Command::Status(args) => args.run(config),
        Command::Backup(args) => args.run(config),
        Command::Restore(args) => args.run(config),
        Command::Dossier(args) => args.run(config),
        Command::Erase(args) => args.run(config),
        Command::Oauth2(args) => args.run(config),
    }
}
