//! Showing the register to the administrator: `klachtd cases`, `klachtd case REF`, `klachtd
//! attachment REF N` and the summary of `run --once`, as aligned text or JSON.

use crate::domain::CaseRef;
use crate::service::daemon::RunReport;
use crate::settings::Settings;
use crate::store::{Store, cases, outbox};
use std::fmt::Write;

/// The register: one line per case (`klachtd cases`), as one string. For small registers
/// and tests; the command itself streams with [`write_cases`].
pub fn cases(
    store: &Store,
    settings: &Settings,
    now: chrono::DateTime<chrono::Utc>,
    json: bool,
) -> anyhow::Result<String> {
    let mut out = Vec::new();
    write_cases(store, settings, now, json, &mut out)?;
    Ok(String::from_utf8(out).expect("written as UTF-8"))
}

/// Writes the register to `out` one case at a time: however many cases there are, only one
/// line is in memory (read from an index, without the complaint's text).
pub fn write_cases(
    store: &Store,
    settings: &Settings,
    now: chrono::DateTime<chrono::Utc>,
    json: bool,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let tz = settings.timezone();
    let today = now.with_timezone(&tz).date_naive();
    let mut first = true;
    if json {
        #[derive(serde::Serialize)]
        struct Row<'a> {
            reference: String,
            status: &'a str,
            complainant: Option<&'a str>,
            /// What the From header said when klachtd cannot write to it.
            unreachable_from: Option<&'a str>,
            subject: &'a str,
            received_at: String,
            reaction_due: String,
            closing_due: Option<String>,
            overdue: bool,
            failed_mail: usize,
        }
        out.write_all(b"[")?;
        cases::for_each_in_register(store.conn(), |c| {
            let row = Row {
                reference: c.reference.to_string(),
                status: c.status.as_str(),
                complainant: c.complainant_address.as_deref(),
                unreachable_from: c.unreachable_from.as_deref(),
                subject: &c.subject,
                received_at: rfc3339(c.received_at),
                reaction_due: c.reaction_due.to_string(),
                closing_due: c.closing_due.map(|d| d.to_string()),
                overdue: c.is_overdue(today),
                failed_mail: c.failed_mail,
            };
            // The same text as pretty-printing the whole array: each element indented by two.
            let mut element = String::from(if first { "\n" } else { ",\n" });
            first = false;
            for (i, line) in serde_json::to_string_pretty(&row)?.lines().enumerate() {
                if i > 0 {
                    element.push('\n');
                }
                element.push_str("  ");
                element.push_str(line);
            }
            out.write_all(printable(&element).as_bytes())?;
            Ok(())
        })?;
        out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
        return Ok(());
    }
    cases::for_each_in_register(store.conn(), |c| {
        let mut line = String::new();
        if first {
            first = false;
            writeln!(
                line,
                "{:<13} {:<10} {:<32} {:<16} {:<10} {:<10}",
                "REFERENCE", "STATUS", "COMPLAINANT", "RECEIVED", "REACT BY", "CLOSE BY"
            )?;
        }
        writeln!(
            line,
            "{:<13} {:<10} {:<32} {:<16} {:<10} {:<10}{}{}",
            c.reference.to_string(),
            c.status.as_str(),
            truncate(
                &complainant_cell(c.complainant_address.as_ref(), c.unreachable_from.as_ref()),
                32
            ),
            c.received_at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
            c.reaction_due,
            c.closing_due
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into()),
            if c.is_overdue(today) { "  OVERDUE" } else { "" },
            if c.failed_mail > 0 {
                format!("  ({} mail failed)", c.failed_mail)
            } else {
                String::new()
            }
        )?;
        out.write_all(printable(&line).as_bytes())?;
        Ok(())
    })?;
    if first {
        out.write_all(b"No cases registered yet.\n")?;
    }
    Ok(())
}

/// The register's complainant column: the address, or what the From said with a mark when
/// nobody can write to it.
fn complainant_cell(address: Option<&String>, unreachable_from: Option<&String>) -> String {
    match (address, unreachable_from) {
        (Some(a), _) => a.clone(),
        (None, Some(raw)) => format!("UNREACHABLE {raw}"),
        (None, None) => "-".into(),
    }
}

/// RFC 3339 in UTC with `Z`, as serde writes the times in `case --json`.
fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// What `case` shows of a stored attachment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttachmentInfo {
    /// 1-based, as `klachtd attachment REF N` takes it.
    pub number: usize,
    pub filename: String,
    pub content_type: String,
    pub size: usize,
    /// Whether the stored bytes are what the type says (a PDF starts as a PDF, text is UTF-8 …).
    pub readable: bool,
    /// Why not, when not.
    pub problem: Option<String>,
}

/// Whether `data` looks like a file of `content_type`; the problem when it does not.
pub fn check_attachment(content_type: &str, data: &[u8]) -> Option<String> {
    if data.is_empty() {
        return Some("empty".into());
    }
    let t = content_type.to_ascii_lowercase();
    let magic: &[(&str, &[&[u8]])] = &[
        ("application/pdf", &[b"%PDF-"]),
        ("image/png", &[b"\x89PNG\r\n\x1a\n"]),
        ("image/jpeg", &[b"\xff\xd8\xff"]),
        ("image/gif", &[b"GIF87a", b"GIF89a"]),
        ("application/zip", &[b"PK\x03\x04"]),
        ("application/vnd.openxmlformats", &[b"PK\x03\x04"]),
        ("message/rfc822", &[]),
    ];
    if let Some((_, signatures)) = magic.iter().find(|(prefix, _)| t.starts_with(prefix)) {
        if !signatures.is_empty() && !signatures.iter().any(|m| data.starts_with(m)) {
            return Some(format!("content is not {content_type}"));
        }
        return None;
    }
    if t.starts_with("text/") && std::str::from_utf8(data).is_err() {
        // Legacy charsets are readable too, as long as it is not binary.
        if data.contains(&0) {
            return Some("binary content in a text attachment".into());
        }
    }
    None
}

fn attachment_infos(store: &Store, case_id: i64) -> anyhow::Result<Vec<AttachmentInfo>> {
    Ok(cases::attachments_of(store.conn(), case_id)?
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let problem = if a.readable {
                check_attachment(&a.content_type, &a.data)
            } else {
                Some("its transfer encoding could not be decoded; kept as received".into())
            };
            AttachmentInfo {
                number: i + 1,
                filename: a.filename,
                content_type: a.content_type,
                size: a.data.len(),
                readable: problem.is_none(),
                problem,
            }
        })
        .collect())
}

/// Attachment `number` (1-based) of case `reference`: its name and bytes.
pub fn attachment(
    store: &Store,
    reference: CaseRef,
    number: usize,
) -> anyhow::Result<Option<(String, Vec<u8>)>> {
    let Some(c) = cases::get(store.conn(), reference)? else {
        return Ok(None);
    };
    let all = cases::attachments_of(store.conn(), c.id)?;
    Ok(number
        .checked_sub(1)
        .and_then(|i| all.into_iter().nth(i))
        .map(|a| (a.filename, a.data)))
}

/// "12 KB", "1.4 MB".
pub(crate) fn human_size(bytes: usize) -> String {
    crate::outbound::templates::human_size(bytes)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

/// One case in full: the registration, its history and its mail.
pub fn case(
    store: &Store,
    settings: &Settings,
    now: chrono::DateTime<chrono::Utc>,
    reference: CaseRef,
    json: bool,
) -> anyhow::Result<Option<String>> {
    let Some(c) = cases::get(store.conn(), reference)? else {
        return Ok(None);
    };
    let events = cases::events(store.conn(), c.id)?;
    let mail = outbox::for_case(store.conn(), c.id)?;
    let attachments = attachment_infos(store, c.id)?;
    if json {
        #[derive(serde::Serialize)]
        struct Mail {
            kind: &'static str,
            status: String,
            recipients: Vec<String>,
            attempts: u32,
            last_error: Option<String>,
        }
        let mail: Vec<Mail> = mail
            .into_iter()
            .map(|m| Mail {
                kind: m.kind.as_str(),
                status: m.status.to_string(),
                recipients: m.recipients,
                attempts: m.attempts,
                last_error: m.last_error,
            })
            .collect();
        let today = now.with_timezone(&settings.timezone()).date_naive();
        let value = serde_json::json!({
            "case": c,
            "overdue": cases::is_overdue(&c, today),
            "events": events,
            "attachments": attachments,
            "mail": mail,
        });
        return Ok(Some(
            printable(&serde_json::to_string_pretty(&value)?) + "\n",
        ));
    }
    let tz = settings.timezone();
    let at = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut out = String::new();
    writeln!(out, "{}  {}", c.reference, c.subject)?;
    writeln!(out, "  status:        {} ({})", c.status, c.status.dutch())?;
    writeln!(
        out,
        "  complainant:   {} {}",
        opt(&c.complainant_name),
        match (&c.complainant_address, &c.unreachable_from) {
            (Some(a), _) => format!("<{a}>"),
            (None, Some(raw)) => format!("{raw} (cannot be answered by mail)"),
            (None, None) => String::new(),
        }
    )?;
    writeln!(out, "  received:      {}", at(c.received_at))?;
    let today = now.with_timezone(&tz).date_naive();
    let overdue = if cases::is_overdue(&c, today) {
        "  OVERDUE"
    } else {
        ""
    };
    let open = c.status == crate::domain::CaseStatus::Open;
    writeln!(
        out,
        "  reaction due:  {}{}",
        c.reaction_due,
        if open { overdue } else { "" }
    )?;
    if let Some(due) = c.closing_due {
        writeln!(
            out,
            "  closing due:   {due}{}",
            if open { "" } else { overdue }
        )?;
    }
    writeln!(out, "  handler:       {}", opt(&c.handler))?;
    writeln!(out, "  cause:         {}", opt(&c.cause))?;
    writeln!(out, "  solution:      {}", opt(&c.solution))?;
    writeln!(
        out,
        "  agreement:     {}",
        c.agreement
            .map(|a| if a { "yes" } else { "no" })
            .unwrap_or("-")
    )?;
    // issue 25: whom it concerns, a legal hold, a privacy request.
    let roles = &settings.roles;
    if !c.privacy.concerns.is_empty() {
        let who: Vec<String> = c
            .privacy
            .concerns
            .iter()
            .map(|a| {
                a.parse()
                    .ok()
                    .and_then(|e| roles.name_of(&e))
                    .map(|n| format!("{n} <{a}>"))
                    .unwrap_or_else(|| a.clone())
            })
            .collect();
        writeln!(
            out,
            "  concerns:      {} ({}; they receive nothing about it)",
            who.join(", "),
            if c.privacy.concerns_fixed {
                "set by the director"
            } else {
                "named in the complaint"
            }
        )?;
    } else if c.privacy.concerns_fixed {
        writeln!(
            out,
            "  concerns:      no staff member (set by the director)"
        )?;
    }
    if let Some(h) = &c.privacy.hold {
        let today = now.with_timezone(&tz).date_naive();
        writeln!(
            out,
            "  legal hold:    until {} — {}{}",
            h.until,
            h.reason,
            if h.until < today { " (ended)" } else { "" }
        )?;
    }
    if let Some(r) = &c.privacy.request {
        let today = now.with_timezone(&tz).date_naive();
        writeln!(
            out,
            "  privacy request: {} received {}, due {}{}{}",
            r.kind.label(false),
            r.received,
            r.due,
            if r.extended_months.is_some() {
                " (extended)"
            } else {
                ""
            },
            match r.done_at {
                Some(done) => format!(", answered {}", at(done)),
                None if r.overdue_on(today) => "  OVERDUE".to_string(),
                None => String::new(),
            }
        )?;
    }
    writeln!(out, "\nHistory:")?;
    for e in &events {
        let first_line = e.detail.lines().next().unwrap_or_default();
        writeln!(
            out,
            "  {}  {:<24} {}{}",
            at(e.at),
            e.kind,
            e.actor
                .as_deref()
                .map(|a| format!("[{a}] "))
                .unwrap_or_default(),
            truncate(first_line, 80)
        )?;
    }
    writeln!(out, "\nAttachments:")?;
    if attachments.is_empty() {
        writeln!(out, "  none")?;
    }
    for a in &attachments {
        writeln!(
            out,
            "  {:>2}. {}  ({}, {}){}",
            a.number,
            a.filename,
            a.content_type,
            human_size(a.size),
            a.problem
                .as_deref()
                .map(|p| format!("  NOT READABLE: {p}"))
                .unwrap_or_default()
        )?;
    }
    if !attachments.is_empty() {
        writeln!(
            out,
            "  (write one out with: klachtd attachment {} N --out FILE)",
            c.reference
        )?;
    }
    writeln!(out, "\nMail:")?;
    for m in &mail {
        writeln!(
            out,
            "  {:<24} {:<7} to {}{}",
            m.kind.as_str(),
            m.status,
            m.recipients.join(", "),
            m.last_error
                .as_deref()
                .map(|e| format!("  ({e})"))
                .unwrap_or_default()
        )?;
    }
    writeln!(out, "\nText:\n{}", c.body)?;
    Ok(Some(printable(&out)))
}

/// Text for a terminal: control characters (escape sequences above all) and invisible
/// format characters (bidi overrides) from mail content are dropped; line breaks and tabs stay.
pub fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| {
            (!c.is_control() || *c == '\n' || *c == '\t')
                && !crate::inbound::mail::is_invisible_format(*c)
        })
        .collect()
}

/// One line saying what `run --once` did.
pub fn run_summary(report: &RunReport) -> String {
    let taken: Vec<String> = report
        .taken
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    let taken = if taken.is_empty() {
        "none".to_string()
    } else {
        taken.join(", ")
    };
    let j = &report.jobs;
    let d = &report.delivery;
    format!(
        "mail taken in: {taken}; reminders: {}, overdue alerts: {}, digests: {}, reports: {}, purged: {}; mail sent: {}, deferred: {}, failed: {}",
        j.reminders, j.overdue, j.digests, j.reports, j.purged, d.sent, d.deferred, d.failed
    )
}

// The subcommands: `klachtd cases`, `klachtd case REF`, `klachtd attachment REF N`.

#[derive(clap::Args)]
pub struct CasesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Judge deadlines as of this moment (RFC 3339) instead of the real clock.
    #[arg(long, value_parser = super::parse_time)]
    now: Option<chrono::DateTime<chrono::Utc>>,
}

impl CasesArgs {
    /// Runs `klachtd cases`: the register, streamed.
    pub fn run(self, config: Option<&std::path::Path>) -> anyhow::Result<std::process::ExitCode> {
        let settings = Settings::load(config)?;
        let store = crate::store::Store::open_existing(&settings.store.path)?;
        let now = super::clock_at(self.now).now();
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        write_cases(&store, &settings, now, self.json, &mut out)?;
        std::io::Write::flush(&mut out)?;
        Ok(std::process::ExitCode::SUCCESS)
    }
}

#[derive(clap::Args)]
pub struct CaseArgs {
    /// The case reference, e.g. KL-2026-0042.
    reference: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Judge deadlines as of this moment (RFC 3339) instead of the real clock.
    #[arg(long, value_parser = super::parse_time)]
    now: Option<chrono::DateTime<chrono::Utc>>,
}

impl CaseArgs {
    /// Runs `klachtd case REF`: one case in full; exit status 2 when there is no such case.
    pub fn run(self, config: Option<&std::path::Path>) -> anyhow::Result<std::process::ExitCode> {
        let settings = Settings::load(config)?;
        let reference = self.reference.parse()?;
        let store = crate::store::Store::open_existing(&settings.store.path)?;
        let now = super::clock_at(self.now).now();
        match case(&store, &settings, now, reference, self.json)? {
            Some(out) => print!("{out}"),
            None => {
                eprintln!("klachtd: no case {reference}");
                return Ok(std::process::ExitCode::from(2));
            }
        }
        Ok(std::process::ExitCode::SUCCESS)
    }
}

#[derive(clap::Args)]
pub struct AttachmentArgs {
    /// The case reference, e.g. KL-2026-0042.
    reference: String,
    /// The attachment's number in `klachtd case REF`, from 1.
    number: usize,
    /// The file to write; an existing file is not overwritten.
    #[arg(long)]
    out: std::path::PathBuf,
}

impl AttachmentArgs {
    /// Runs `klachtd attachment REF N --out FILE`; exit status 2 when there is no such file.
    pub fn run(self, config: Option<&std::path::Path>) -> anyhow::Result<std::process::ExitCode> {
        use anyhow::Context as _;
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let settings = Settings::load(config)?;
        let Self {
            reference,
            number,
            out,
        } = self;
        let reference = reference.parse()?;
        let store = crate::store::Store::open_existing(&settings.store.path)?;
        let Some((name, data)) = attachment(&store, reference, number)? else {
            eprintln!(
                "klachtd: {reference} has no attachment {number} (see `klachtd case {reference}`)"
            );
            return Ok(std::process::ExitCode::from(2));
        };
        // A complainant's file: readable by its owner only, like the database.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&out)
            .and_then(|mut f| f.write_all(&data))
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("{name} ({} bytes) written to {}", data.len(), out.display());
        Ok(std::process::ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_and_bidi_overrides_never_reach_the_terminal() {
        assert_eq!(
            printable("a\u{1b}[2J\u{1b}]0;x\u{7}b\r\n\tc\u{202e}fdp.exe\u{9b}"),
            "a[2J]0;xb\n\tcfdp.exe"
        );
    }

    proptest::proptest! {
        #[test]
        fn nothing_invisible_or_controlling_survives(s in "\\PC{0,40}|[\u{0}-\u{1f}\u{7f}-\u{9f}\u{200b}-\u{200f}\u{202a}-\u{202e}\u{2066}-\u{2069}a-z\n]{0,40}") {
            let out = printable(&s);
            proptest::prop_assert!(out.chars().all(|c| (!c.is_control() || c == '\n' || c == '\t')
                && !crate::inbound::mail::is_invisible_format(c)));
        }
    }
}
