//! `klachtd demo`: a self-contained walk-through on a temporary Maildir. Complaints, an
//! out-of-office reply, a newsletter and a follow-up arrive; it prints what klachtd did with
//! each, the acknowledgement a complainant receives, and the register.

use crate::clock::{Clock, FixedClock, SharedClock};
use crate::inbound::maildir::Maildir;
use crate::service::daemon::Daemon;
use crate::settings::Settings;
use crate::store::{cases, mails, outbox};
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::io::Write;
use std::sync::Arc;

const COMPLAINT: &str = "From: Sanne Jansen <sanne.jansen@example.net>\r
To: info@example.org\r
Subject: Cursus Projectmanagement zonder bericht geannuleerd\r
Message-ID: <demo-1@example.net>\r
Date: Tue, 24 Nov 2026 10:12:00 +0100\r
Content-Type: text/plain; charset=utf-8\r
\r
Goedemorgen,\r
\r
Gisteravond stond ik om 19:00 voor een dichte deur: de cursus Projectmanagement\r
was geannuleerd, maar niemand had mij dat laten weten. Ik heb een vrije middag\r
opgenomen en € 20,70 aan reiskosten gemaakt.\r
\r
Met vriendelijke groet,\r
Sanne Jansen\r
";

const HTML_ONLY: &str = "From: Joke Meijer <joke.meijer@example.net>\r
To: info@example.org\r
Subject: Certificaat nog steeds niet ontvangen\r
Message-ID: <demo-2@example.net>\r
Date: Tue, 24 Nov 2026 10:30:00 +0100\r
Content-Type: text/html; charset=utf-8\r
\r
<html><body><p>Geachte heer, mevrouw,</p><p>Mijn certificaat zou binnen drie weken worden\r
opgestuurd. Het is nu zes weken later en ik heb <b>nog niets</b> ontvangen.</p>\r
<p>Vriendelijke groet,<br>Joke Meijer</p></body></html>\r
";

const OUT_OF_OFFICE: &str = "From: Lotte Dekker <lotte.dekker@example.net>\r
To: info@example.org\r
Subject: Automatisch antwoord: Ontvangstbevestiging [KL-2026-0001]\r
Message-ID: <demo-3@example.net>\r
Auto-Submitted: auto-replied\r
Date: Tue, 24 Nov 2026 10:31:00 +0100\r
Content-Type: text/plain; charset=utf-8\r
\r
Ik ben tot en met maandag afwezig.\r
";

const NEWSLETTER: &str = "From: Opleidingsvak <nieuws@example.com>\r
To: info@example.org\r
Subject: Nieuwsbrief: zo gaat u om met klachten\r
Message-ID: <demo-4@example.com>\r
List-Id: <nieuws.example.com>\r
List-Unsubscribe: <mailto:afmelden@example.com>\r
Precedence: bulk\r
Date: Tue, 24 Nov 2026 10:32:00 +0100\r
Content-Type: text/plain; charset=utf-8\r
\r
Deze maand: klachten van cursisten.\r
";

fn follow_up(reference: &str) -> String {
    format!(
        "From: Sanne Jansen <sanne.jansen@example.net>\r
To: info@example.org\r
Subject: Re: Ontvangstbevestiging [{reference}]: Cursus Projectmanagement zonder bericht geannuleerd\r
Message-ID: <demo-5@example.net>\r
Date: Tue, 24 Nov 2026 11:02:00 +0100\r
Content-Type: text/plain; charset=utf-8\r
\r
Nog een aanvulling: ik heb de cursus al in september betaald.\r
\r
Op 24 nov. 2026 om 10:12 heeft Klachtenregistratie het volgende geschreven:\r
> Hartelijk dank voor uw bericht.\r
"
    )
}

/// Runs the walk-through, writing the story to `out`.
pub fn run(out: &mut dyn Write) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("klachtd-demo-").tempdir()?;
    let root = dir.path();
    let env = [
        ("KLACHTD__INBOUND__MAILDIR", root.join("mail")),
        ("KLACHTD__OUTBOUND__DIR", root.join("outbox")),
        ("KLACHTD__STORE__PATH", root.join("klachtd.sqlite")),
        ("KLACHTD__TEMPLATES__DIR", root.join("templates")),
    ]
    .map(|(k, v)| (k.to_string(), v.display().to_string()));
    let settings = Settings::load_with_env(None, env)?;
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-24T10:35:00+01:00")?.to_utc();
    let clock = FixedClock::at(start);
    let shared: SharedClock = Arc::new(clock.clone());
    let daemon = Daemon::new(settings.clone(), shared)?;
    let maildir = Maildir::open(&settings.inbound.maildir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    writeln!(
        out,
        "klachtd demo — a temporary Maildir in {}",
        root.display()
    )?;
    writeln!(
        out,
        "The clock is set to Tuesday 24 November 2026, 10:35 (Europe/Amsterdam).\n"
    )?;
    writeln!(out, "Four mails arrive at info@example.org:")?;
    for (label, mail) in [
        ("a complaint in plain text", COMPLAINT),
        ("a complaint written in HTML only", HTML_ONLY),
        ("an out-of-office reply", OUT_OF_OFFICE),
        ("a newsletter", NEWSLETTER),
    ] {
        maildir.deliver(mail.as_bytes(), start)?;
        writeln!(out, "  - {label}")?;
    }
    let report = runtime.block_on(daemon.run_once())?;
    writeln!(
        out,
        "\n$ klachtd run --once\n{}\n",
        crate::cli::cases::run_summary(&report)
    )?;
    describe_ledger(&daemon, out)?;

    let first = cases::list(daemon.store().conn())?
        .into_iter()
        .next()
        .context("the demo registers a case")?;
    writeln!(
        out,
        "\nThe acknowledgement {} receives (text part):\n",
        first.complainant_address.as_deref().unwrap_or("")
    )?;
    let ack = outbox::for_case(daemon.store().conn(), first.id)?
        .into_iter()
        .find(|m| m.kind == outbox::OutboxKind::Acknowledgement)
        .context("an acknowledgement was queued")?;
    let parsed = crate::inbound::InboundMail::parse(&ack.raw).context("our own mail parses")?;
    writeln!(out, "  Subject: {}\n", parsed.subject)?;
    for line in parsed.text.lines() {
        writeln!(out, "  | {line}")?;
    }

    clock.advance(chrono::Duration::minutes(30));
    maildir.deliver(
        follow_up(&first.reference.to_string()).as_bytes(),
        clock.now(),
    )?;
    writeln!(
        out,
        "\nHalf an hour later the complainant replies to the acknowledgement."
    )?;
    let report = runtime.block_on(daemon.run_once())?;
    writeln!(
        out,
        "$ klachtd run --once\n{}",
        crate::cli::cases::run_summary(&report)
    )?;
    writeln!(
        out,
        "The reply was added to {} and forwarded to staff; no new case, no second acknowledgement.\n",
        first.reference
    )?;

    writeln!(out, "$ klachtd cases")?;
    write!(
        out,
        "{}",
        crate::cli::cases::cases(&daemon.store(), &settings, clock.now(), false)?
    )?;
    writeln!(
        out,
        "\nMail written to the outbox directory ({}):",
        settings.outbound.dir.display()
    )?;
    let mut files: Vec<String> = std::fs::read_dir(&settings.outbound.dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    files.sort();
    for f in files {
        writeln!(out, "  {f}")?;
    }
    writeln!(
        out,
        "\nThe demo directory is removed again. Run `klachtd run` to watch var/mail for real."
    )?;
    Ok(())
}

fn describe_ledger(daemon: &Daemon, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(out, "What klachtd did with each mail:")?;
    let store = daemon.store();
    for m in mails::all(store.conn())? {
        writeln!(out, "  {:<13} {}", m.outcome.as_str(), m.reason)?;
    }
    Ok(())
}

/// `klachtd demo` takes no arguments of its own.
#[derive(clap::Args)]
pub struct Args {}

impl Args {
    /// Runs `klachtd demo`, which never reads a configuration: one given with `--config` is
    /// refused (exit status 2); one from `KLACHTD_CONFIG` is noted and left unread.
    pub fn run(self, config: Option<&std::path::Path>) -> anyhow::Result<std::process::ExitCode> {
        if let Some(config) = config {
            let from_env = std::env::var_os("KLACHTD_CONFIG").is_some_and(|v| *v == *config);
            if !from_env {
                eprintln!(
                    "klachtd: the demo runs on a temporary Maildir with the built-in settings and never reads a configuration (so it cannot reach your mailboxes); run `klachtd demo` without --config"
                );
                return Ok(std::process::ExitCode::from(2));
            }
            eprintln!(
                "klachtd: note: the demo uses the built-in settings, not KLACHTD_CONFIG ({})",
                config.display()
            );
        }
        run(&mut std::io::stdout()).map(|()| std::process::ExitCode::SUCCESS)
    }
}
