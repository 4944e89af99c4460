//! klachtd runs a small organisation's complaints procedure over e-mail.
//!
//! The path of a complaint is visible in the modules:
//!
//! 1. [`inbound`] — a mail source (a local [`inbound::maildir`], or [`inbound::imap`] with IDLE)
//!    hands over raw messages; [`inbound::mail`] decodes them and [`inbound::classify`] says
//!    what each one is: a new complaint, a follow-up, a staff reply, a machine, spam, or junk.
//! 2. [`intake`] — takes one classified mail through in one transaction together with the
//!    mail it causes: a new complaint it hands to [`registration`] (which gives it its
//!    reference and writes the acknowledgement and the notice to staff), mail from staff,
//!    director or committee to [`casework`] (sender proof in [`casework::proof`], a staff
//!    reply's commands tried by the procedure's model in [`casework::procedure`] and carried
//!    out in `casework::apply`, transcripts); the rest it records, ignores or quarantines. [`registration`] also chooses
//!    who hears of a case (need to know); the words of every mail are Tera templates
//!    (templates/).
//! 3. [`store`] — SQLite: cases and their history, the ledger of every mail received, the
//!    outbox. Written with WAL and `synchronous=FULL` before any mail is marked as processed.
//! 4. [`outbound`] — Tera templates become messages, queued in the outbox and sent by a worker
//!    over SMTP (or written as files), with retry and backoff. Every mail is queued by
//!    [`outbound::mailer`], where the one budget ([`outbound::budget`]) admits it, words from
//!    outside are made inert, its size is held and foreign tokens are removed.
//! 5. [`jobs`] — on a schedule beside the path: deadline reminders and overdue alerts, the
//!    weekly digest, the yearly analysis, the retention purge.
//!
//! Around the path: [`service`] runs it all (the daemon, one per database, under systemd) and
//! [`cli`] is the `klachtd` command, one file per subcommand — the register views, `check`,
//! `status`, `demo`, backup and restore, the analysis, and a person's rights under the AVG
//! ([`cli::dossier`], [`cli::erase`]).
//!
//! The layers, lowest first; a module imports only its own layer and those below it, and no
//! file reaches itself through others (tests/architecture.rs holds the table):
//!
//! | layer | modules |
//! |---|---|
//! | leaf utilities | [`clock`] (the one reader of the time), [`failpoint`], [`fsutil`], [`hex`], [`redact`], `config_errors` |
//! | domain | [`domain`]: pure types — addresses, case references, states, the working-day calendar, display names, languages, attachments, the words for events |
//! | settings | [`settings`]: the layered configuration |
//! | store | [`store`] |
//! | mail in and out | [`inbound`], [`outbound`], [`auth`] (logging in to the mail servers) |
//! | commands | [`commands`]: a staff reply's new text ([`commands::new_text`]) and its command block ([`commands::grammar`]) |
//! | registration | [`registration`] |
//! | intake, casework | [`intake`], [`casework`] |
//! | jobs | [`jobs`] |
//! | service | [`service`] |
//! | command line | [`cli`] (and `main.rs`, which parses, logs and dispatches) |
#![forbid(unsafe_code)]

pub mod auth;
pub mod casework;
pub mod cli;
pub mod clock;
pub mod commands;
pub(crate) mod config_errors;
pub mod domain;
pub mod failpoint;
pub mod fsutil;
pub mod hex;
pub mod inbound;
pub mod intake;
pub mod jobs;
pub mod outbound;
pub mod redact;
pub mod registration;
pub mod service;
pub mod settings;
pub mod store;

/// Installs ring as the process-wide rustls crypto provider (the only one compiled in).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
