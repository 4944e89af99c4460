//! `klachtd status`: is the daemon running, when did it last read the mailbox and send mail,
//! what waits in the queue, what the outbound budget held back, what failed or was quarantined,
//! how many cases are open or overdue, and which administrator alerts are open. Reads only;
//! never creates a database.

use crate::jobs::alerts::{Component, problem};
use crate::settings::Settings;
use crate::store::{budget, cases, service_state};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::fmt::Write;

/// The status report as text, judged as of `now`.
pub fn report(settings: &Settings, now: DateTime<Utc>) -> anyhow::Result<String> {
    let path = &settings.store.path;
    let store = crate::store::Store::open_existing(path)?;
    let conn = store.conn();
    let tz = settings.timezone();
    let at = |t: DateTime<Utc>| local(t, tz);
    let mut out = String::new();
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.clone());
    match crate::service::lock::holder(path)? {
        Some(pid) if pid > 0 => writeln!(out, "daemon        running (pid {pid})")?,
        Some(_) => writeln!(out, "daemon        running")?,
        None => writeln!(out, "daemon        NOT running")?,
    }
    writeln!(out, "store         {}", shown.display())?;
    // The daemon cannot record that its own disk refuses it: say it from the file system.
    let dir = shown.parent().unwrap_or(std::path::Path::new("."));
    if let Ok(fs) = rustix::fs::statvfs(dir) {
        let free = fs.f_bavail.saturating_mul(fs.f_frsize);
        if fs.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) {
            writeln!(
                out,
                "store disk    READ-ONLY: nothing can be recorded until it is writable"
            )?;
        } else if free < 1 << 20 {
            writeln!(
                out,
                "store disk    FULL ({} KB free): nothing can be recorded until there is room",
                free / 1024
            )?;
        }
    }

    let inbound = service_state::get(conn, Component::Inbound.as_str())?;
    writeln!(
        out,
        "last fetch    {}",
        inbound.last_ok.map(at).unwrap_or_else(|| "never".into())
    )?;
    if let Some(p) = problem(conn, Component::Inbound)? {
        writeln!(
            out,
            "mailbox       FAILING since {}{}: {}",
            at(p.since),
            if p.login_refused {
                " (login refused)"
            } else {
                ""
            },
            p.reason
        )?;
    }
    let outbox = service_state::outbox(conn)?;
    writeln!(
        out,
        "last send     {}",
        outbox.last_sent.map(at).unwrap_or_else(|| "never".into())
    )?;
    match outbox.oldest_queued {
        Some(oldest) => writeln!(
            out,
            "queue         {} mail(s), oldest queued {}",
            outbox.queued,
            at(oldest)
        )?,
        None => writeln!(out, "queue         empty")?,
    }
    if let Some(reason) = &outbox.paused {
        let since = problem(conn, Component::Outbound)?
            .map(|p| format!(" since {}", at(p.since)))
            .unwrap_or_default();
        writeln!(out, "sending       PAUSED{since}: {reason}")?;
    }
    if outbox.retrying > 0 {
        writeln!(
            out,
            "retrying      {} mail(s) wait for another attempt",
            outbox.retrying
        )?;
    }
    if let Some(p) = problem(conn, Component::Outbound)?.filter(|_| outbox.paused.is_none()) {
        writeln!(
            out,
            "sending       FAILING since {}{}: {}",
            at(p.since),
            if p.login_refused {
                " (login refused)"
            } else {
                ""
            },
            p.reason
        )?;
    }
    for component in Component::ALL {
        let label = match component {
            Component::Store => "store".to_string(),
            Component::Job(job) => format!("job {}", job.as_str()),
            Component::Inbound | Component::Outbound => continue,
        };
        if let Some(p) = problem(conn, component)? {
            writeln!(
                out,
                "{label:<13} FAILING since {}: {}",
                at(p.since),
                crate::inbound::one_line(&p.reason)
            )?;
        }
    }
    if settings.inbound.kind == crate::settings::InboundKind::Maildir {
        let odd = crate::inbound::maildir::oddities_in(&settings.inbound.maildir, &["new", "cur"])
            .unwrap_or_default();
        if !odd.is_empty() {
            let shown: Vec<String> = odd
                .iter()
                .take(5)
                .map(|o| format!("{} ({})", crate::inbound::one_line(&o.entry), o.kind))
                .collect();
            let more = odd.len().saturating_sub(shown.len());
            writeln!(
                out,
                "maildir       {} entr{} that {} not mail files, never read or followed: {}{}",
                odd.len(),
                if odd.len() == 1 { "y" } else { "ies" },
                if odd.len() == 1 { "is" } else { "are" },
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )?;
        }
    }
    let kept = crate::store::maintenance::kept_databases(path).unwrap_or_default();
    if let Some((oldest, at)) = kept.first() {
        writeln!(
            out,
            "kept          {} database(s) set aside by restore, the oldest {} ({}); each is removed {} year(s) after",
            kept.len(),
            oldest.file_name().unwrap_or_default().to_string_lossy(),
            local(*at, tz),
            settings.retention.years
        )?;
    }
    // Issue 22: what the outbound budget held back, and acknowledgements waiting for the
    // hourly maximum.
    let (held, mailboxes, unreported) =
        budget::held_back_since(conn, now - crate::outbound::budget::WINDOW)?;
    if held == 0 {
        writeln!(out, "held back     none in the last 24 h")?;
    } else {
        writeln!(
            out,
            "held back     {held} mail(s) caused by unproven senders in the last 24 h, to {mailboxes} address(es); {unreported} not yet in a summary"
        )?;
    }
    let (waiting, last) = budget::capped_backlog(conn, now)?;
    if let Some(last) = last.filter(|_| waiting > 0) {
        writeln!(
            out,
            "acks waiting  {waiting} acknowledgement(s) spread by outbound.acknowledgements_per_hour; the last leaves {}",
            at(last)
        )?;
    }
    writeln!(out, "failed mail   {}", outbox.failed)?;
    writeln!(out, "quarantined   {}", service_state::quarantined(conn)?)?;
    let today = now.with_timezone(&tz).date_naive();
    let (open, overdue) = cases::count_running(conn, today)?;
    writeln!(out, "cases         {open} open, {overdue} overdue")?;
    // issue 25: privacy requests and legal holds.
    let requests = crate::store::privacy::open_requests(conn)?;
    let late = requests
        .iter()
        .filter_map(|id| cases::by_id(conn, *id).ok().flatten())
        .filter(|c| {
            c.privacy
                .request
                .as_ref()
                .is_some_and(|r| r.overdue_on(today))
        })
        .count();
    let holds = crate::store::privacy::held(conn, today)?.len();
    writeln!(
        out,
        "privacy       {} open request(s), {late} overdue; {holds} case(s) under a legal hold",
        requests.len()
    )?;
    let after = chrono::Duration::minutes(i64::from(settings.alerts.after_minutes));
    let grace = chrono::Duration::minutes(i64::from(settings.alerts.login_grace_minutes));
    let refused_from = crate::jobs::alerts::refused_alert_from(conn, grace)?;
    for component in Component::ALL {
        let open = service_state::open_alert(conn, component.as_str())?;
        if let Some((since, _)) = open {
            writeln!(
                out,
                "alert         {} failing since {}: the director was told",
                component.as_str(),
                at(since)
            )?;
        } else if let crate::jobs::alerts::Action::Wait { until } =
            crate::jobs::alerts::decide(problem(conn, component)?, None, now, after, refused_from)
        {
            writeln!(
                out,
                "alert         {} login refused: the login settings changed recently, so the \
                 director is told at {} if it still fails then",
                component.as_str(),
                at(until)
            )?;
        }
    }
    Ok(out)
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// `klachtd status`'s arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Judge deadlines as of this moment (RFC 3339) instead of the real clock.
    #[arg(long, value_parser = super::parse_time)]
    now: Option<DateTime<Utc>>,
}

impl Args {
    /// Runs `klachtd status`.
    pub fn run(self, config: Option<&std::path::Path>) -> anyhow::Result<std::process::ExitCode> {
        let settings = Settings::load(config)?;
        print!("{}", report(&settings, super::clock_at(self.now).now())?);
        Ok(std::process::ExitCode::SUCCESS)
    }
}
