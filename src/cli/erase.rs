//! `klachtd erase ADDRESS --reason TEXT` (issue 25, AVG art. 17): removes one person's
//! personal data as the retention purge removes a case's (`store::purge::purge_case`; the
//! anonymous facts stay for the analysis): their cases, every mail from their address in the
//! ledger (follow-ups, third-party mail on someone else's case, ignored and quarantined mail)
//! and what it caused, the mail sent to them, their attachments, the mailbox copies (queued
//! for removal like the purge's) and the file transport's copies; then the WAL is emptied, so
//! the bytes are gone from every file of the database. A record that an erasure happened
//! (date, reason, counts, references) stays, without the address. Open cases only with
//! `--include-open`; a case under a legal hold is kept, with the hold's reason. Backups it
//! cannot reach are named.

use crate::domain::privacy::Hold;
use crate::domain::{CaseRef, CaseStatus, EmailAddress};
use crate::inbound::InboundMail;
use crate::settings::{OutboundKind, Settings};
use crate::store::person::{self, TheirMail};
use crate::store::{CaseRecord, Store, cases, mails, outbox, privacy};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use std::path::PathBuf;

/// Why a case of the person is not erased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// Still running, and `--include-open` was not given.
    Open(CaseStatus),
    /// Under a legal hold.
    Held(Hold),
}

/// What an erasure would do (all of it with `--dry-run`).
#[derive(Debug, Clone)]
pub struct Plan {
    /// The cases to erase.
    pub erase: Vec<CaseRecord>,
    /// The cases kept, and why.
    pub kept: Vec<(CaseRef, Kept)>,
    /// Cases the retention purge already emptied.
    pub already_purged: Vec<CaseRef>,
    /// Their mail on someone else's case (third-party mail).
    pub on_other_cases: Vec<TheirMail>,
    /// Their mail that belongs to no case (ignored, quarantined, duplicates).
    pub loose: Vec<TheirMail>,
    /// How many mails of the ledger lose their content (those of the erased cases included).
    pub mails: usize,
}

/// What an erasure did.
#[derive(Debug, Clone)]
pub struct Report {
    pub plan: Plan,
    /// Mail klachtd sent that named the person, removed (notices to the director, digests,
    /// a handler's copy of their third-party mail).
    pub other_mail_removed: usize,
    /// The file transport's copies removed from `outbound.dir`.
    pub files_removed: usize,
    /// Mailbox copies queued for removal (removed by the caller or the daemon's next pass).
    pub mailbox_copies: usize,
    /// Of those, over IMAP, copies without a Message-ID: the server cannot be searched for them.
    pub unfindable_on_imap: usize,
    /// Whether the WAL could be emptied now (another process reading stops it).
    pub wal_emptied: bool,
    /// Copies klachtd cannot change that may hold the person's data: backups it made since
    /// their first mail, and a database put aside by `restore`.
    pub backups: Vec<(PathBuf, Option<DateTime<Utc>>)>,
    /// Other cases whose own text or history still mention the address (their
    /// complainant's data; not erased, for the administrator to look at).
    pub still_mentioned: Vec<CaseRef>,
}

/// Why the erasure was refused before anything changed.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("--reason must say why (it is kept in the register, without the address)")]
    NoReason,
    #[error(
        "--reason must not contain the address or the person's name: the reason is kept in the register after the erasure"
    )]
    ReasonNamesThePerson,
    #[error(
        "{0} has a role in klachtd (roles): erase is for complainants; take it out of roles first"
    )]
    RoleAddress(String),
}

fn is_open(status: CaseStatus) -> bool {
    matches!(
        status,
        CaseStatus::Open | CaseStatus::Reacted | CaseStatus::Appealed
    )
}

/// What erasing `who` would do on `today`.
pub fn plan(
    conn: &Connection,
    who: &EmailAddress,
    include_open: bool,
    today: chrono::NaiveDate,
) -> anyhow::Result<Plan> {
    let mut erase = Vec::new();
    let mut kept = Vec::new();
    let mut already_purged = Vec::new();
    for c in person::cases_of(conn, who)? {
        if c.purged_at.is_some() {
            already_purged.push(c.reference);
        } else if let Some(hold) = c.privacy.hold_on(today) {
            kept.push((c.reference, Kept::Held(hold.clone())));
        } else if is_open(c.status) && !include_open {
            kept.push((c.reference, Kept::Open(c.status)));
        } else {
            erase.push(c);
        }
    }
    let theirs: Vec<i64> = person::cases_of(conn, who)?.iter().map(|c| c.id).collect();
    let mut on_other_cases = Vec::new();
    let mut loose = Vec::new();
    for m in person::mails_from(conn, who)? {
        match m.case_id {
            Some(id) if theirs.contains(&id) => {}
            Some(_) => on_other_cases.push(m),
            None => loose.push(m),
        }
    }
    let mut mails = on_other_cases.len() + loose.len();
    for c in &erase {
        mails += conn.query_row(
            "SELECT COUNT(*) FROM mails WHERE case_id = ?1",
            params![c.id],
            |r| r.get::<_, i64>(0),
        )? as usize;
    }
    Ok(Plan {
        erase,
        kept,
        already_purged,
        on_other_cases,
        loose,
        mails,
    })
}

/// Erases what [`plan`] finds for `who` (nothing with `dry_run`), and the file transport's
/// copies; the caller removes the queued mailbox copies (`Daemon::remove_purged_mail`).
pub fn run(
    store: &mut Store,
    settings: &Settings,
    who: &EmailAddress,
    reason: &str,
    include_open: bool,
    dry_run: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<Report> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Refused::NoReason.into());
    }
    let lower = reason.to_lowercase();
    if lower.contains(who.as_str()) || lower.contains(&who.without_tag()) {
        return Err(Refused::ReasonNamesThePerson.into());
    }
    if settings.roles.role_of(who).is_some()
        || settings
            .roles
            .staff
            .iter()
            .any(|s| person::is(s.as_str(), who))
    {
        return Err(Refused::RoleAddress(who.to_string()).into());
    }
    let today = now.with_timezone(&settings.timezone()).date_naive();
    let plan = plan(store.conn(), who, include_open, today)?;
    // Nor their name as their cases give it.
    let named = plan
        .erase
        .iter()
        .chain(person::cases_of(store.conn(), who)?.iter())
        .filter_map(|c| c.complainant_name.as_deref())
        .map(|n| n.trim().to_lowercase())
        .filter(|n| n.chars().count() >= 3)
        .any(|n| lower.contains(&n));
    if named {
        return Err(Refused::ReasonNamesThePerson.into());
    }
    let first_seen = first_seen(store.conn(), who)?;
    let mut report = Report {
        plan,
        other_mail_removed: 0,
        files_removed: 0,
        mailbox_copies: 0,
        unfindable_on_imap: 0,
        wal_emptied: true,
        backups: Vec::new(),
        still_mentioned: Vec::new(),
    };
    report.backups = backups(store.conn(), settings, first_seen)?;
    if dry_run {
        report.still_mentioned = crate::cli::dossier::mentioned_elsewhere(
            store.conn(),
            who,
            &report.plan.erase.iter().map(|c| c.id).collect::<Vec<_>>(),
        )?;
        return Ok(report);
    }
    let mut sent_ids: Vec<String> = Vec::new();
    let kept_ids: Vec<i64> = report
        .plan
        .kept
        .iter()
        .filter_map(|(r, _)| cases::get(store.conn(), *r).ok().flatten().map(|c| c.id))
        .collect();
    let (removed, copies, unfindable) = store.transaction(|tx| {
        let mut copies = 0;
        let mut unfindable = 0;
        let mut queue = |tx: &Connection, key: &str, id: Option<&str>| -> anyhow::Result<()> {
            mails::queue_removal(tx, key, id, now)?;
            copies += 1;
            unfindable += usize::from(id.is_none());
            Ok(())
        };
        let references: Vec<String> = report
            .plan
            .erase
            .iter()
            .map(|c| c.reference.to_string())
            .collect();
        for c in &report.plan.erase {
            let mut stmt = tx.prepare("SELECT source_key, message_id FROM mails WHERE case_id = ?1")?;
            let copies_of: Vec<(String, Option<String>)> = stmt
                .query_map(params![c.id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            for (key, id) in &copies_of {
                queue(tx, key, id.as_deref())?;
            }
            let mut stmt = tx.prepare("SELECT message_id FROM outbox WHERE case_id = ?1")?;
            sent_ids.extend(
                stmt.query_map(params![c.id], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?,
            );
            erase_case(tx, c, who, reason, now)?;
        }
        // Their mail on someone else's case (third-party mail, or a reply to our mail to that
        // complainant): its content, its attachments, the line it made in that case's
        // history and the handler's copy of it go; the rest of that case stays as it is.
        let mut removed = 0;
        for m in &report.plan.on_other_cases {
            let Some(case_id) = m.case_id else { continue };
            let text = mails::raw_of(tx, m.id)?
                .and_then(|raw| InboundMail::parse(&raw))
                .map(|mail| crate::registration::new_text_of(&mail))
                .unwrap_or_default();
            let text = text.trim();
            crate::store::purge::delete_with_dependents(
                tx,
                "attachments",
                "mail_id = ?1",
                &[&m.id],
            )?;
            let mut stmt = tx.prepare(
                "SELECT id, kind, actor, detail FROM events
                 WHERE case_id = ?1 AND kind IN ('third_party', 'follow_up')",
            )?;
            let lines: Vec<(i64, String, Option<String>, String)> = stmt
                .query_map(params![case_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect::<Result<_, _>>()?;
            for (id, kind, actor, detail) in lines {
                let theirs = match kind.as_str() {
                    "third_party" => actor.as_deref().is_some_and(|a| person::is(a, who)),
                    _ => !text.is_empty() && detail.trim() == text,
                };
                if theirs {
                    tx.execute(
                        "UPDATE events SET actor = NULL, detail = ?2 WHERE id = ?1",
                        params![
                            id,
                            "e-mail van een ander adres; verwijderd op verzoek van die persoon (AVG artikel 17)"
                        ],
                    )?;
                }
            }
            for sent in outbox::for_case(tx, case_id)? {
                let quotes = text.chars().count() >= 12 && names_text(&sent.raw, text);
                if names(&sent.raw, who, &[]) || quotes {
                    sent_ids.push(sent.message_id.clone());
                    crate::store::purge::delete_with_dependents(
                        tx,
                        "outbox",
                        "id = ?1",
                        &[&sent.id],
                    )?;
                    removed += 1;
                }
            }
            queue(tx, &m.source_key, m.message_id.as_deref())?;
            empty_mail(tx, m.id, now)?;
        }
        for m in &report.plan.loose {
            queue(tx, &m.source_key, m.message_id.as_deref())?;
            empty_mail(tx, m.id, now)?;
        }
        // Mail to staff or the director that belongs to no case but names them: a notice
        // of their quarantined mail, a digest listing their cases.
        let mut stmt = tx.prepare("SELECT id FROM outbox WHERE case_id IS NULL ORDER BY id")?;
        let loose_out: Vec<i64> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for id in loose_out {
            let Some((message_id, raw)) = outbox_by_id(tx, id)? else {
                continue;
            };
            if names(&raw, who, &references) {
                sent_ids.push(message_id);
                crate::store::purge::delete_with_dependents(tx, "outbox", "id = ?1", &[&id])?;
                removed += 1;
            }
        }
        // The daily acknowledgement slot of their mailbox (cases kept keep theirs).
        let mut stmt = tx.prepare("SELECT address, case_id FROM acknowledgements")?;
        let slots: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (address, case_id) in slots {
            if person::is(&address, who) && !kept_ids.contains(&case_id) {
                crate::store::purge::delete_with_dependents(
                    tx,
                    "acknowledgements",
                    "address = ?1 AND case_id = ?2",
                    &[&address, &case_id],
                )?;
            }
        }
        // What the outbound budget counted for their mailbox (issue 22): days of rows, but
        // an address all the same. Their budget starts afresh; nobody else's changes.
        crate::store::budget::forget(tx, |stored| {
            person::is(stored, who)
                || stored
                    .parse::<EmailAddress>()
                    .is_ok_and(|a| a.delivery_key() == who.delivery_key())
        })?;
        if !report.plan.erase.is_empty() || report.plan.mails > 0 {
            privacy::record_erasure(
                tx,
                &privacy::Erasure {
                    at: now,
                    reason: reason.to_string(),
                    cases: report.plan.erase.len(),
                    mails: report.plan.mails,
                    references,
                },
            )?;
        }
        Ok((removed, copies, unfindable))
    })?;
    report.other_mail_removed = removed;
    report.mailbox_copies = copies;
    if settings.inbound.kind == crate::settings::InboundKind::Imap {
        report.unfindable_on_imap = unfindable;
    }
    // What a page's earlier rebalancing left in its unused space is not zeroed by
    // secure_delete: the database is rewritten whole, as after the retention purge.
    if let Err(e) = store.conn().execute_batch("VACUUM") {
        tracing::warn!("rewriting the database after the erasure (VACUUM) failed: {e}");
    }
    // Old pages out of the WAL: with secure_delete they are zeroed in the database itself.
    let (busy, _, _): (i64, i64, i64) =
        store
            .conn()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
    report.wal_emptied = busy == 0;
    if settings.outbound.kind == OutboundKind::File {
        for id in &sent_ids {
            let path = crate::outbound::transport::file_copy(&settings.outbound.dir, id);
            match std::fs::remove_file(&path) {
                Ok(()) => report.files_removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(anyhow::anyhow!("cannot remove {}: {e}", path.display()));
                }
            }
        }
    }
    report.still_mentioned = crate::cli::dossier::mentioned_elsewhere(store.conn(), who, &[])?;
    tracing::info!(
        cases = report.plan.erase.len(),
        kept = report.plan.kept.len(),
        mails = report.plan.mails,
        "personal data erased on request (AVG art. 17)"
    );
    Ok(report)
}

/// One case of the person, erased: a running one is ended first (closed as of now, so the
/// scheduler owes it nothing), what the anonymous facts say of them is blanked, then the
/// retention purge's own routine takes the rest.
fn erase_case(
    tx: &Connection,
    c: &CaseRecord,
    who: &EmailAddress,
    reason: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    if is_open(c.status) {
        tx.execute(
            "UPDATE cases SET status = ?2, closed_at = ?3 WHERE id = ?1",
            params![c.id, CaseStatus::Closed.as_str(), crate::store::ts(now)],
        )?;
    }
    // The facts kept for the analysis are staff's words; where they name the person, the
    // name goes.
    let mut words: Vec<String> = vec![who.as_str().to_string(), who.without_tag()];
    words.extend(
        c.complainant_name
            .iter()
            .filter(|n| n.trim().chars().count() >= 3)
            .map(|n| n.trim().to_string()),
    );
    let scrub = |v: &Option<String>| v.as_deref().map(|t| scrubbed(t, &words));
    tx.execute(
        "UPDATE cases SET cause = ?2, measure = ?3, handler = ?4 WHERE id = ?1",
        params![c.id, scrub(&c.cause), scrub(&c.measure), scrub(&c.handler)],
    )?;
    let mut stmt = tx.prepare("SELECT id, text FROM recommendations WHERE case_id = ?1")?;
    let recs: Vec<(i64, String)> = stmt
        .query_map(params![c.id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, text) in recs {
        tx.execute(
            "UPDATE recommendations SET text = ?2 WHERE id = ?1",
            params![id, scrubbed(&text, &words)],
        )?;
    }
    let mut case = cases::by_id(tx, c.id)?.expect("the case being erased");
    let verdict = case.verdict.as_deref().map(|v| scrubbed(v, &words));
    tx.execute(
        "UPDATE cases SET verdict = ?2 WHERE id = ?1",
        params![c.id, verdict],
    )?;
    // A privacy request on it is answered by this.
    if let Some(r) = case.privacy.request.as_mut().filter(|r| r.is_open()) {
        r.done_at = Some(now);
        privacy::save(tx, c.id, &case.privacy)?;
    }
    // The retention purge's own routine takes the rest (one deletion routine, in the order
    // the schema's foreign keys give): from then on the case is purged like any other —
    // nothing changes it or adds to it again (issue 20).
    crate::store::purge::purge_case_noting(
        tx,
        c.id,
        now,
        Some((
            "erased",
            &format!("persoonsgegevens verwijderd op verzoek (AVG artikel 17): {reason}"),
        )),
    )
}

/// `text` with every whole-word occurrence of `words` (any case) replaced by "(verwijderd)",
/// in one pass (what it puts in is never looked at again).
fn scrubbed(text: &str, words: &[String]) -> String {
    let mut needles: Vec<Vec<char>> = words
        .iter()
        .map(|w| w.to_lowercase().chars().collect::<Vec<char>>())
        .filter(|w| !w.is_empty())
        .collect();
    needles.sort_by_key(|w| std::cmp::Reverse(w.len()));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut previous: Option<char> = None;
    while at < text.len() {
        let boundary = previous.is_none_or(|p| !p.is_alphanumeric());
        let found = boundary
            .then(|| needles.iter().find_map(|n| match_at(&text[at..], n)))
            .flatten()
            .filter(|len| {
                text[at + len..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric())
            });
        match found {
            Some(len) => {
                out.push_str("(verwijderd)");
                previous = text[..at + len].chars().next_back();
                at += len;
            }
            None => {
                let c = text[at..].chars().next().expect("inside the text");
                out.push(c);
                previous = Some(c);
                at += c.len_utf8();
            }
        }
    }
    out
}

/// The byte length of `needle` (lower-case chars) at the start of `hay`, in any case.
fn match_at(hay: &str, needle: &[char]) -> Option<usize> {
    let mut matched = 0;
    for (offset, c) in hay.char_indices() {
        for l in c.to_lowercase() {
            if needle.get(matched) != Some(&l) {
                return None;
            }
            matched += 1;
        }
        if matched == needle.len() {
            return Some(offset + c.len_utf8());
        }
    }
    None
}

/// Whether a mail klachtd wrote quotes `text` (what someone wrote).
fn names_text(raw: &[u8], text: &str) -> bool {
    let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    InboundMail::parse(raw).is_some_and(|mail| {
        let shown = format!(
            "{}\n{}",
            mail.text,
            crate::commands::new_text::html_to_lines(mail.html.as_deref().unwrap_or_default())
        );
        squeeze(&shown).contains(&squeeze(text))
    })
}

/// A mail of the person's: emptied by the purge's own routine ([`crate::store::purge::purge_mail`]:
/// its content, sender, Message-ID, attachments, a held command it carried and the token
/// pointing at that); the row (that it came, and what became of it) stays, as the purge leaves
/// mail of no case.
fn empty_mail(tx: &Connection, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
    crate::store::purge::purge_mail(tx, id, now)?;
    tx.execute(
        "UPDATE mails SET reason = 'verwijderd (AVG)' WHERE id = ?1",
        params![id],
    )?;
    Ok(())
}

/// Whether a mail klachtd wrote names `who` (any spelling of the address) or one of
/// `references`.
fn names(raw: &[u8], who: &EmailAddress, references: &[String]) -> bool {
    let mut text = String::from_utf8_lossy(raw).to_lowercase();
    if let Some(mail) = InboundMail::parse(raw) {
        text.push('\n');
        text.push_str(
            &crate::cli::cases::printable(&format!(
                "{}\n{}\n{}",
                mail.subject,
                mail.text,
                mail.html.unwrap_or_default()
            ))
            .to_lowercase(),
        );
    }
    text.contains(who.as_str())
        || text.contains(&who.without_tag())
        || references.iter().any(|r| text.contains(&r.to_lowercase()))
}

/// The Message-ID and bytes of outbox row `id` (one row at a time: memory stays flat), read
/// as the outbox reads it, so a body packed on a complaint is read too.
fn outbox_by_id(conn: &Connection, id: i64) -> anyhow::Result<Option<(String, Vec<u8>)>> {
    Ok(crate::store::outbox::by_id(conn, id)?.map(|m| (m.message_id, m.raw)))
}

/// When the register first held anything of `who`'s (their first mail), if ever.
fn first_seen(conn: &Connection, who: &EmailAddress) -> anyhow::Result<Option<DateTime<Utc>>> {
    let mails = person::mails_from(conn, who)?;
    let cases = person::cases_of(conn, who)?;
    Ok(mails
        .iter()
        .map(|m| m.received_at)
        .chain(cases.iter().map(|c| c.received_at))
        .min())
}

/// Copies of the database klachtd cannot change: backups `klachtd backup` made since
/// `since`, and the databases put aside by `restore`.
fn backups(
    conn: &Connection,
    settings: &Settings,
    since: Option<DateTime<Utc>>,
) -> anyhow::Result<Vec<(PathBuf, Option<DateTime<Utc>>)>> {
    let mut out = Vec::new();
    if let Some(since) = since {
        for (path, at) in privacy::backups_since(conn, since)? {
            let path = PathBuf::from(path);
            if path.exists() {
                out.push((path, Some(at)));
            }
        }
    }
    // Every database `restore` set aside (each under its own time-stamped name, issue 20),
    // and one an older klachtd set aside under the plain name.
    for (path, _) in crate::store::maintenance::kept_databases(&settings.store.path)? {
        out.push((path, None));
    }
    let mut aside = settings.store.path.as_os_str().to_owned();
    aside.push(".before-restore");
    let aside = PathBuf::from(aside);
    if aside.exists() {
        out.push((aside, None));
    }
    Ok(out)
}

/// Notes a backup `klachtd backup` wrote, so a later erasure can name it.
pub fn note_backup(
    settings: &Settings,
    backup: &std::path::Path,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let store = crate::store::Store::open_existing(&settings.store.path)?;
    let shown = std::path::absolute(backup).unwrap_or_else(|_| backup.to_path_buf());
    privacy::record_backup(store.conn(), &shown.display().to_string(), now)
}

/// `klachtd erase`: runs the erasure (or the dry run), removes the mailbox copies at once,
/// and says what it did. Exit status 3 when a case was kept (open, or under a legal hold).
pub fn command(
    settings: Settings,
    address: &str,
    reason: &str,
    dry_run: bool,
    include_open: bool,
    clock: crate::clock::SharedClock,
) -> anyhow::Result<(String, u8)> {
    let who: EmailAddress = address
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}: give the address as the person wrote from"))?;
    crate::store::require_existing(&settings.store.path)?;
    let daemon = crate::service::daemon::Daemon::new(settings.clone(), clock)?;
    let now = daemon.now();
    let report = run(
        &mut daemon.store(),
        &settings,
        &who,
        reason,
        include_open,
        dry_run,
        now,
    )?;
    let mut removed = 0;
    if !dry_run && report.mailbox_copies > 0 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        removed = runtime.block_on(daemon.remove_purged_mail())?;
    }
    Ok((
        describe(&report, &who, &settings, dry_run, removed),
        u8::from(!report.plan.kept.is_empty()) * 3,
    ))
}

/// What an erasure did (or would do), for the administrator.
fn describe(
    r: &Report,
    who: &EmailAddress,
    settings: &Settings,
    dry_run: bool,
    mailbox_removed: usize,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "erase {who}{}",
        if dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    );
    let verb = if dry_run { "would be erased" } else { "erased" };
    for c in &r.plan.erase {
        let _ = writeln!(
            out,
            "  {}  {verb}{}",
            c.reference,
            if is_open(c.status) {
                " (it was still running: closed as of now)"
            } else {
                ""
            }
        );
    }
    for (reference, why) in &r.plan.kept {
        let _ = match why {
            Kept::Open(status) => writeln!(
                out,
                "  {reference}  KEPT: still {} — erase it too with --include-open",
                status.as_str()
            ),
            Kept::Held(h) => writeln!(
                out,
                "  {reference}  KEPT: legal hold until {} — {} (the director lifts it with \"Bewaren: nee\")",
                h.until, h.reason
            ),
        };
    }
    for reference in &r.plan.already_purged {
        let _ = writeln!(out, "  {reference}  already purged by the retention period");
    }
    let _ = writeln!(
        out,
        "  {} mail(s) in the ledger {}: {} on their own cases, {} on other people's cases, {} on no case",
        r.plan.mails,
        if dry_run {
            "would be emptied"
        } else {
            "emptied"
        },
        r.plan.mails - r.plan.on_other_cases.len() - r.plan.loose.len(),
        r.plan.on_other_cases.len(),
        r.plan.loose.len()
    );
    if !dry_run {
        let _ = writeln!(
            out,
            "  {} other mail(s) klachtd sent that named them removed; {} file transport copies removed from {}",
            r.other_mail_removed,
            r.files_removed,
            settings.outbound.dir.display()
        );
        let _ = writeln!(
            out,
            "  mailbox: {} copies removed now{}",
            mailbox_removed,
            if mailbox_removed < r.mailbox_copies {
                format!(
                    ", {} more queued (removed on the daemon's next pass)",
                    r.mailbox_copies - mailbox_removed
                )
            } else {
                String::new()
            }
        );
        if r.unfindable_on_imap > 0 {
            let _ = writeln!(
                out,
                "  NOTE: {} of their mails had no Message-ID: the IMAP server cannot be searched for them; remove them from {} and {} by hand",
                r.unfindable_on_imap,
                settings.inbound.imap.processed_folder,
                settings.inbound.imap.quarantine_folder
            );
        }
        let _ = writeln!(
            out,
            "  database: deleted data overwritten (secure_delete); {}",
            if r.wal_emptied {
                "the write-ahead log emptied"
            } else {
                "the write-ahead log could NOT be emptied now (another process reads the database); run `klachtd erase` again with --dry-run later, or restart the daemon, to empty it"
            }
        );
    }
    if r.backups.is_empty() {
        let _ = writeln!(
            out,
            "  backups: none made with `klachtd backup` since their first mail; copies made otherwise (file-system snapshots, off-site) are out of klachtd's reach"
        );
    } else {
        let _ = writeln!(
            out,
            "  backups klachtd cannot change, which may still hold their data (they go by your backup rotation; after a restore, erase again):"
        );
        for (path, at) in &r.backups {
            let _ = writeln!(
                out,
                "    {}{}",
                path.display(),
                at.map(|t| format!(
                    " (made {})",
                    t.with_timezone(&settings.timezone())
                        .format("%Y-%m-%d %H:%M")
                ))
                .unwrap_or_else(|| " (the database put aside by `klachtd restore`)".into())
            );
        }
    }
    if !r.still_mentioned.is_empty() {
        let refs: Vec<String> = r.still_mentioned.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  still mentioned in other complainants' cases (their data, not erased; look at them): {}",
            refs.join(", ")
        );
    }
    crate::cli::cases::printable(&out)
}

/// `klachtd erase`'s arguments.
#[derive(clap::Args)]
pub struct Args {
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
}

impl Args {
    /// Runs `klachtd erase ADDRESS --reason TEXT`; exit status 3 when a case was kept.
    pub fn run(self, config: Option<&std::path::Path>) -> anyhow::Result<std::process::ExitCode> {
        let settings = Settings::load(config)?;
        let (text, code) = command(
            settings,
            &self.address,
            &self.reason,
            self.dry_run,
            self.include_open,
            std::sync::Arc::new(crate::clock::SystemClock),
        )?;
        print!("{text}");
        Ok(std::process::ExitCode::from(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubbing_replaces_every_spelling_and_never_loops() {
        let words = vec![
            "jan@example.net".to_string(),
            "Jan Jansen".to_string(),
            "der".to_string(),
        ];
        assert_eq!(
            scrubbed(
                "Jan@Example.NET belde; JAN JANSEN was boos. Verder: niets",
                &words
            ),
            "(verwijderd) belde; (verwijderd) was boos. Verder: niets"
        );
        assert_eq!(scrubbed("der der", &words), "(verwijderd) (verwijderd)");
        assert_eq!(
            scrubbed("İstanbul", &["i̇stanbul".to_string()]),
            "(verwijderd)"
        );
        assert_eq!(scrubbed("", &words), "");
    }
}
