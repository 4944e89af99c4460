//! Removing a person's data from the register: the per-case and per-mail purges (retention,
//! and `klachtd erase` after it) and the one rule they delete by — a row goes only after every
//! row that references it, in an order read from the schema's own foreign keys
//! (`pragma_foreign_key_list`), never from a list kept by hand. Files and mailbox copies are
//! queued for removal in the same transaction (`mailbox_removals`, `sent_file_removals`) and
//! removed after the commit until they are gone.

use super::ts;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, ToSql, params};

/// A foreign key pointing at a table: `child.from` references `parent.to`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    child: String,
    from: String,
    to: String,
    /// `ON DELETE SET NULL` / `SET DEFAULT`: SQLite detaches such rows itself.
    detaches: bool,
}

/// Every foreign key in the schema that points at `parent`.
fn references_to(conn: &Connection, parent: &str) -> anyhow::Result<Vec<Reference>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.name, p.\"from\", p.\"to\", p.on_delete
         FROM sqlite_schema m, pragma_foreign_key_list(m.name) p
         WHERE m.type = 'table' AND p.\"table\" = ?1
         ORDER BY m.name, p.id",
    )?;
    let rows = stmt.query_map([parent], |r| {
        let on_delete: String = r.get(3)?;
        Ok(Reference {
            child: r.get(0)?,
            from: r.get(1)?,
            // A foreign key naming no column points at the parent's primary key.
            to: r
                .get::<_, Option<String>>(2)?
                .unwrap_or_else(|| "rowid".into()),
            detaches: matches!(on_delete.as_str(), "SET NULL" | "SET DEFAULT"),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes the rows of `table` that `condition` (an SQL expression over its columns, with
/// numbered parameters `?1`, `?2`… bound to `params`) selects — after deleting, first and
/// recursively, every row anywhere in the schema that references one of them. Returns how many
/// rows of `table` went. This is the only way the purges delete: adding a table that points at
/// a purged one never needs a change here, and no foreign key can stop a purge half-way.
pub fn delete_with_dependents(
    tx: &Connection,
    table: &str,
    condition: &str,
    params: &[&dyn ToSql],
) -> anyhow::Result<usize> {
    delete_in_order(tx, table, condition, params, &mut Vec::new())
}

fn delete_in_order(
    tx: &Connection,
    table: &str,
    condition: &str,
    params: &[&dyn ToSql],
    path: &mut Vec<String>,
) -> anyhow::Result<usize> {
    anyhow::ensure!(
        !path.iter().any(|t| t == table),
        "the foreign keys form a cycle through {table} ({}): no order deletes it",
        path.join(" → ")
    );
    path.push(table.to_string());
    for r in references_to(tx, table)? {
        if r.detaches {
            continue;
        }
        let child_condition = format!(
            "\"{}\" IN (SELECT \"{}\" FROM \"{table}\" WHERE {condition})",
            r.from, r.to
        );
        delete_in_order(tx, &r.child, &child_condition, params, path)?;
    }
    path.pop();
    let deleted = tx.execute(
        &format!("DELETE FROM \"{table}\" WHERE {condition}"),
        params,
    )?;
    Ok(deleted)
}

/// The mails of a case, as an SQL set over `?1` = the case's id.
const CASE_MAILS: &str = "SELECT id FROM mails WHERE case_id = ?1";

/// Removes the personal data of one case: the complainant's address and name, the subject,
/// every text (the complaint, the history's details, the solution, held mail), attachments,
/// raw mail, every mail sent or queued for it, tokens and acknowledgements. What the
/// analysis needs stays (dates, status, category, handler, cause, measure, agreement, the
/// verdict's outcome). Its mailbox copies and the file transport's copies of its mail are
/// queued for removal in this transaction. Idempotent.
pub fn purge_case(tx: &Connection, case_id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
    purge_case_noting(tx, case_id, now, None)
}

/// [`purge_case`], with one last line in the case's history (`kind`, `detail`) written just
/// before the case is sealed as purged — `klachtd erase` says there why (a text that names
/// nobody). On a case already purged it changes nothing, that line included.
pub fn purge_case_noting(
    tx: &Connection,
    case_id: i64,
    now: DateTime<Utc>,
    note: Option<(&str, &str)>,
) -> anyhow::Result<()> {
    let at = ts(now);
    queue_mailbox_copies(tx, &format!("id IN ({CASE_MAILS})"), &[&case_id], &at)?;
    queue_sent_files(tx, "case_id = ?1", &[&case_id], &at)?;
    let id: &[&dyn ToSql] = &[&case_id];
    delete_with_dependents(tx, "outbox", "case_id = ?1", id)?;
    delete_with_dependents(tx, "case_texts", "case_id = ?1", id)?;
    delete_with_dependents(tx, "attachments", "case_id = ?1", id)?;
    delete_with_dependents(tx, "acknowledgements", "case_id = ?1", id)?;
    delete_with_dependents(tx, "tokens", "case_id = ?1", id)?;
    delete_with_dependents(
        tx,
        "held_commands",
        &format!("case_id = ?1 OR mail_id IN ({CASE_MAILS})"),
        id,
    )?;
    empty_mails(tx, &format!("id IN ({CASE_MAILS})"), id)?;
    tx.execute(
        "UPDATE events SET detail = '', actor = NULL WHERE case_id = ?1",
        params![case_id],
    )?;
    tx.execute(
        "UPDATE recommendations SET case_id = NULL WHERE case_id = ?1",
        params![case_id],
    )?;
    // Issue 25's row: whom the complaint concerned (a purged case is never linked to mail
    // again, so nobody needs to be kept from it) and the director's reasons (free text) go;
    // that a request was made, and when it was done, stay.
    tx.execute(
        "UPDATE case_privacy SET concerns = '', hold_until = NULL, hold_reason = NULL,
             request_extension_reason = NULL
         WHERE case_id = ?1 AND (concerns != '' OR hold_until IS NOT NULL
             OR hold_reason IS NOT NULL OR request_extension_reason IS NOT NULL)",
        params![case_id],
    )?;
    if let Some((kind, detail)) = note {
        tx.execute(
            "INSERT INTO events (case_id, at, kind, actor, detail)
             SELECT id, ?2, ?3, NULL, ?4 FROM cases WHERE id = ?1 AND purged_at IS NULL",
            params![case_id, at, kind, detail],
        )?;
    }
    // The verdict keeps its outcome ("gegrond"), not the committee's reasons after the colon.
    tx.execute(
        "UPDATE cases SET complainant_address = NULL, complainant_name = NULL,
             unreachable_from = NULL, subject = '(verwijderd)', body = '', solution = NULL,
             verdict = CASE WHEN instr(verdict, ':') > 0
                 THEN trim(substr(verdict, 1, instr(verdict, ':') - 1)) ELSE trim(verdict) END,
             purged_at = ?2
         WHERE id = ?1 AND purged_at IS NULL",
        params![case_id, at],
    )?;
    Ok(())
}

/// Removes the personal data of one received mail that belongs to no case (or of one mail of a
/// case): its raw bytes, sender and Message-ID, its attachments, a held command mail it
/// carried (and the confirmation token pointing at that). Its ledger row stays — the register
/// keeps that the mail came and what became of it — and its mailbox copy is queued for removal.
pub fn purge_mail(tx: &Connection, mail_id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
    purge_mails_where(tx, "id = ?1", &[&mail_id], now).map(|_| ())
}

/// [`purge_mail`] for every mail `condition` (over `mails`, parameters from `?2` on — `?1` is
/// taken by the moment) selects; returns how many still held something.
fn purge_mails_where(
    tx: &Connection,
    condition: &str,
    params: &[&dyn ToSql],
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let at = ts(now);
    let mut all: Vec<&dyn ToSql> = vec![&at];
    all.extend_from_slice(params);
    let shifted = shift_params(condition, 1);
    let holding = format!(
        "({shifted}) AND (length(raw) > 0 OR sender IS NOT NULL OR message_id IS NOT NULL
              OR id IN (SELECT mail_id FROM mail_bodies))"
    );
    let count: usize = tx.query_row(
        &format!("SELECT COUNT(*) FROM mails WHERE {holding}"),
        &all[..],
        |r| r.get(0),
    )?;
    queue_mailbox_copies_at(tx, &holding, &all)?;
    let set = format!("SELECT id FROM mails WHERE {shifted}");
    delete_with_dependents(tx, "held_commands", &format!("mail_id IN ({set})"), &all)?;
    delete_with_dependents(tx, "attachments", &format!("mail_id IN ({set})"), &all)?;
    empty_mails(tx, &shifted, &all)?;
    Ok(count)
}

/// Everything that belonged to no case and is older than `cutoff`: received mail (robots,
/// duplicates, spam, quarantined mail, held staff mail that named no case), mail sent to no
/// case (digests, notices to the director), held mail and tokens. Returns how many received
/// mails lost their content.
pub fn purge_caseless_before(
    tx: &Connection,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let before = ts(cutoff);
    let mails = purge_mails_where(tx, "case_id IS NULL AND received_at < ?1", &[&before], now)?;
    let at = ts(now);
    queue_sent_files(tx, "case_id IS NULL AND created_at < ?1", &[&before], &at)?;
    delete_with_dependents(
        tx,
        "outbox",
        "case_id IS NULL AND created_at < ?1",
        &[&before],
    )?;
    // Held mail and tokens past the period, whatever they belong to (a case still open
    // after years keeps its history, not a staff member's unconfirmed mail).
    delete_with_dependents(tx, "held_commands", "held_at < ?1", &[&before])?;
    delete_with_dependents(tx, "tokens", "issued_at < ?1", &[&before])?;
    Ok(mails)
}

/// Empties the ledger rows `condition` selects: bytes, sender, Message-ID, and a reason that
/// quotes an address (an error text). The row itself stays.
fn empty_mails(tx: &Connection, condition: &str, params: &[&dyn ToSql]) -> anyhow::Result<()> {
    delete_with_dependents(
        tx,
        "mail_bodies",
        &format!("mail_id IN (SELECT id FROM mails WHERE {condition})"),
        params,
    )?;
    tx.execute(
        &format!(
            "UPDATE mails SET raw = x'', sender = NULL, message_id = NULL,
                 reason = CASE WHEN reason LIKE '%@%' THEN outcome || ' (verwijderd)' ELSE reason END
             WHERE ({condition}) AND (length(raw) > 0 OR sender IS NOT NULL
                 OR message_id IS NOT NULL OR reason LIKE '%@%')"
        ),
        params,
    )?;
    Ok(())
}

fn queue_mailbox_copies(
    tx: &Connection,
    condition: &str,
    params: &[&dyn ToSql],
    at: &str,
) -> anyhow::Result<()> {
    let mut all: Vec<&dyn ToSql> = vec![&at];
    all.extend_from_slice(params);
    queue_mailbox_copies_at(tx, &shift_params(condition, 1), &all)
}

/// Queues the mailbox copies of the mails `condition` selects (`?1` = the moment).
fn queue_mailbox_copies_at(
    tx: &Connection,
    condition: &str,
    params: &[&dyn ToSql],
) -> anyhow::Result<()> {
    tx.execute(
        &format!(
            "INSERT OR IGNORE INTO mailbox_removals (source_key, message_id, since)
             SELECT source_key, message_id, ?1 FROM mails WHERE {condition}"
        ),
        params,
    )?;
    Ok(())
}

/// Queues the file transport's copies (`<Message-ID>.eml` in `outbound.dir`) of the outbox
/// rows `condition` selects; `at` is bound after `params`.
fn queue_sent_files(
    tx: &Connection,
    condition: &str,
    params: &[&dyn ToSql],
    at: &str,
) -> anyhow::Result<()> {
    let mut all: Vec<&dyn ToSql> = vec![&at];
    all.extend_from_slice(params);
    tx.execute(
        &format!(
            "INSERT OR IGNORE INTO sent_file_removals (message_id, since)
             SELECT message_id, ?1 FROM outbox WHERE {}",
            shift_params(condition, 1)
        ),
        &all[..],
    )?;
    Ok(())
}

/// `?1` → `?{1+by}` … in an SQL text, so a condition's parameters can follow others.
fn shift_params(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '?' {
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            if let Ok(n) = digits.parse::<usize>() {
                out.push_str(&(n + by).to_string());
            } else {
                out.push_str(&digits);
            }
        }
    }
    out
}

/// A file transport copy still to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentFile {
    pub message_id: String,
}

/// Up to `limit` file transport copies still to remove, after `after` (a Message-ID).
pub fn pending_sent_files(
    conn: &Connection,
    after: &str,
    limit: usize,
) -> anyhow::Result<Vec<SentFile>> {
    let mut stmt = conn.prepare_cached(
        "SELECT message_id FROM sent_file_removals WHERE message_id > ?1
         ORDER BY message_id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit as i64], |r| {
        Ok(SentFile {
            message_id: r.get(0)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// These file copies are gone.
pub fn sent_files_removed(conn: &Connection, message_ids: &[String]) -> anyhow::Result<()> {
    let mut stmt = conn.prepare_cached("DELETE FROM sent_file_removals WHERE message_id = ?1")?;
    for id in message_ids {
        stmt.execute(params![id])?;
    }
    Ok(())
}

/// The tables that hold a person's data, each reached by the purges above, and those that
/// never do. Every table of the schema is in exactly one list (a test holds this), so a new
/// table is sorted by whoever adds it, not forgotten by the purge.
pub const PURGED_TABLES: &[&str] = &[
    "cases",
    "mails",
    "mail_bodies",
    "attachments",
    "events",
    "outbox",
    "outbox_bodies",
    "case_texts",
    "acknowledgements",
    "held_commands",
    "tokens",
    "recommendations",
    "case_privacy",
];

/// Tables without personal data: counters, cursors, schedules, health, the login settings'
/// fingerprint, the record of erasures (without the address) and of backups, and the removal queues
/// (which empty themselves once the copies are gone).
pub const TABLES_WITHOUT_PERSONAL_DATA: &[&str] = &[
    "case_sequences",
    "imap_cursor",
    "notices",
    "outbox_pause",
    "case_watch",
    "mailbox_removals",
    "sent_file_removals",
    "health",
    "alerts",
    "erasures",
    "backups_made",
    "login_setup",
];

/// Tables that name a mailbox for days only: the outbound budget's counts and what it held
/// back (issue 22), pruned by the budget itself after two days (and by every purge).
pub const TABLES_KEPT_FOR_DAYS: &[&str] = &["outbox_budget", "outbox_rollup"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn every_table_is_either_purged_or_holds_no_personal_data() {
        let store = Store::open_in_memory().unwrap();
        // The tables made on first write.
        crate::store::service_state::record_ok(
            store.conn(),
            "inbound",
            "2026-12-01T09:00:00Z".parse::<DateTime<Utc>>().unwrap(),
        )
        .unwrap();
        crate::store::service_state::raise_alert(
            store.conn(),
            "inbound",
            "2026-12-01T09:00:00Z".parse::<DateTime<Utc>>().unwrap(),
            "x",
        )
        .unwrap();
        let mut tables: Vec<String> = store
            .conn()
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        tables.sort();
        let mut known: Vec<String> = PURGED_TABLES
            .iter()
            .chain(TABLES_WITHOUT_PERSONAL_DATA)
            .chain(TABLES_KEPT_FOR_DAYS)
            .map(|t| t.to_string())
            .collect();
        known.sort();
        assert_eq!(tables, known);
    }

    #[test]
    fn dependents_go_first_in_the_order_the_foreign_keys_give() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE a (id INTEGER PRIMARY KEY);
             CREATE TABLE b (id INTEGER PRIMARY KEY, a INTEGER NOT NULL REFERENCES a(id));
             CREATE TABLE c (id INTEGER PRIMARY KEY, b INTEGER REFERENCES b(id),
                             a INTEGER REFERENCES a(id));
             CREATE TABLE d (id INTEGER PRIMARY KEY, a INTEGER REFERENCES a(id) ON DELETE SET NULL);
             INSERT INTO a VALUES (1), (2);
             INSERT INTO b VALUES (10, 1), (20, 2);
             INSERT INTO c VALUES (100, 10, NULL), (200, 20, NULL), (300, NULL, 1);
             INSERT INTO d VALUES (1000, 1);",
        )
        .unwrap();
        let n = delete_with_dependents(&conn, "a", "id = ?1", &[&1]).unwrap();
        assert_eq!(n, 1);
        let left = |sql: &str| -> Vec<i64> {
            conn.prepare(sql)
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert_eq!(left("SELECT id FROM a"), [2]);
        assert_eq!(left("SELECT id FROM b"), [20]);
        assert_eq!(left("SELECT id FROM c"), [200]);
        // ON DELETE SET NULL: kept, detached by SQLite.
        assert_eq!(left("SELECT id FROM d WHERE a IS NULL"), [1000]);
    }

    #[test]
    fn a_cycle_is_an_error_not_a_loop() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE a (id INTEGER PRIMARY KEY, b INTEGER REFERENCES b(id));
             CREATE TABLE b (id INTEGER PRIMARY KEY, a INTEGER REFERENCES a(id));",
        )
        .unwrap();
        let e = delete_with_dependents(&conn, "a", "id = 1", &[]).unwrap_err();
        assert!(e.to_string().contains("cycle"), "{e}");
    }

    #[test]
    fn parameters_shift() {
        assert_eq!(shift_params("a = ?1 AND b < ?12", 1), "a = ?2 AND b < ?13");
        assert_eq!(shift_params("x = ?", 1), "x = ?");
    }
}
