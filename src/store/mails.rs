//! The `mails` ledger: every message that reached the mailbox, recorded once with its outcome
//! and the raw original, so nothing is ever lost and nothing is processed twice.

use super::ts;
use crate::domain::Disposition;
use crate::domain::EmailAddress;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use std::fmt;
use std::str::FromStr;

/// What became of a mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailOutcome {
    /// It opened a new case.
    CaseCreated,
    /// It was added to an existing case (follow-up, staff mail).
    AddedToCase,
    /// Deliberately not acted on (automatic mail, duplicate, not a complaint).
    Ignored,
    /// Set aside: spam or unreadable; moved to the quarantine folder.
    Quarantined,
}

impl MailOutcome {
    pub const ALL: [MailOutcome; 4] = [
        Self::CaseCreated,
        Self::AddedToCase,
        Self::Ignored,
        Self::Quarantined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CaseCreated => "case_created",
            Self::AddedToCase => "added_to_case",
            Self::Ignored => "ignored",
            Self::Quarantined => "quarantined",
        }
    }
}

impl fmt::Display for MailOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MailOutcome {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown mail outcome '{s}'"))
    }
}

/// A ledger row, for reports and tests.
#[derive(Debug, Clone)]
pub struct RecordedMail {
    pub source_key: String,
    pub outcome: MailOutcome,
    pub reason: String,
    pub case_id: Option<i64>,
}

/// The ledger row to write.
pub struct MailEntry<'a> {
    pub source_key: &'a str,
    pub message_id: Option<&'a str>,
    pub fingerprint: &'a str,
    pub sender: Option<&'a str>,
    pub received_at: DateTime<Utc>,
    pub outcome: MailOutcome,
    pub disposition: Disposition,
    pub reason: &'a str,
    pub case_id: Option<i64>,
    pub raw: &'a [u8],
    /// SHA-256 of the bytes as they sat in the mailbox: tells a reused file name or IMAP UID
    /// with other content from the same copy seen again.
    pub content_sha256: &'a str,
}

/// Records a mail; returns its row id.
pub fn record(conn: &Connection, entry: &MailEntry<'_>) -> anyhow::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO mails (source_key, message_id, fingerprint, sender, received_at, outcome, disposition, reason, case_id, raw, content_sha256)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
            entry.source_key,
            entry.message_id,
            entry.fingerprint,
            entry.sender,
            ts(entry.received_at),
            entry.outcome.as_str(),
            entry.disposition.as_str(),
            entry.reason,
            entry.case_id,
            &[] as &[u8],
            entry.content_sha256,
    ])?;
    let id = conn.last_insert_rowid();
    if !entry.raw.is_empty() {
        conn.prepare_cached("INSERT INTO mail_bodies (mail_id, deflated) VALUES (?1, ?2)")?
            .execute(params![id, super::packed::pack(entry.raw)])?;
    }
    Ok(id)
}

/// Settles what became of a recorded mail (recorded first so attachments can point at it).
pub fn settle(
    conn: &Connection,
    mail_id: i64,
    outcome: MailOutcome,
    disposition: Disposition,
    reason: &str,
    case_id: Option<i64>,
) -> anyhow::Result<()> {
    conn.prepare_cached(
        "UPDATE mails SET outcome = ?2, disposition = ?3, reason = ?4, case_id = ?5 WHERE id = ?1",
    )?
    .execute(params![
        mail_id,
        outcome.as_str(),
        disposition.as_str(),
        reason,
        case_id
    ])?;
    Ok(())
}

/// Whether an earlier mail from `sender` had this Message-ID (a command mail applies once).
pub fn seen_message_id(
    conn: &Connection,
    message_id: &str,
    sender: &str,
    except: i64,
) -> anyhow::Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM mails WHERE message_id = ?1 AND sender = ?2 AND id != ?3 LIMIT 1",
        )?
        .query_row(params![message_id, sender, except], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Whether this Message-ID was first used by another mailbox than `sender` (compared as
/// [`EmailAddress::mailbox`] does): `Some(case)` with the reference of the case that first
/// mail belongs to (`None` when it belongs to none). Another sender reusing a Message-ID is
/// the one trace a spoofing attempt leaves (a stranger "withdrawing" someone else's
/// complaint); the first sender sending it again is a resend.
pub fn reused_by_another_sender(
    conn: &Connection,
    message_id: &str,
    sender: Option<&EmailAddress>,
    except: i64,
) -> anyhow::Result<Option<Option<String>>> {
    let first: Option<(Option<String>, Option<String>)> = conn
        .prepare_cached(
            "SELECT m.sender, c.reference FROM mails m LEFT JOIN cases c ON c.id = m.case_id
             WHERE m.message_id = ?1 AND m.id != ?2 ORDER BY m.id LIMIT 1",
        )?
        .query_row(params![message_id, except], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((first_sender, case)) = first else {
        return Ok(None);
    };
    let first_sender = first_sender
        .as_deref()
        .and_then(|e| e.parse::<EmailAddress>().ok())
        .map(|e| e.mailbox());
    Ok((first_sender != sender.map(EmailAddress::mailbox)).then_some(case))
}

/// What was recorded for this copy of a mail in the mailbox, if it was.
pub fn recorded_source(
    conn: &Connection,
    source_key: &str,
) -> anyhow::Result<Option<(MailOutcome, Disposition)>> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT outcome, disposition FROM mails WHERE source_key = ?1",
            params![source_key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(o, d)| Ok((o.parse()?, Disposition::parse(&d)?)))
        .transpose()
}

/// A copy recorded under `source_key`: its outcome, disposition and content hash (`None`
/// for rows recorded before klachtd kept it).
pub fn recorded_copy(
    conn: &Connection,
    source_key: &str,
) -> anyhow::Result<Option<(MailOutcome, Disposition, Option<String>)>> {
    let row: Option<(String, String, Option<String>)> = conn
        .prepare_cached(
            "SELECT outcome, disposition, content_sha256 FROM mails WHERE source_key = ?1",
        )?
        .query_row(params![source_key], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    row.map(|(o, d, sha)| Ok((o.parse()?, Disposition::parse(&d)?, sha)))
        .transpose()
}

/// The first mail with this fingerprint that was acted on, if any: a redelivery of it is a
/// duplicate. Its source key, and the SHA-256 of its bytes (`None` for rows recorded before
/// klachtd kept it).
pub fn original_of(
    conn: &Connection,
    fingerprint: &str,
) -> anyhow::Result<Option<(String, Option<String>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT source_key, content_sha256 FROM mails WHERE fingerprint = ?1 ORDER BY id LIMIT 1",
        )?
        .query_row(params![fingerprint], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// The raw bytes of a recorded mail (empty over the size limit; `None` once purged).
pub fn raw_of(conn: &Connection, id: i64) -> anyhow::Result<Option<Vec<u8>>> {
    let row: Option<(Vec<u8>, bool)> = conn
        .prepare_cached(
            "SELECT COALESCE(b.deflated, m.raw), b.deflated IS NOT NULL
             FROM mails m LEFT JOIN mail_bodies b ON b.mail_id = m.id WHERE m.id = ?1",
        )?
        .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let raw = row
        .map(|(bytes, packed)| super::packed::stored(bytes, packed))
        .transpose()?;
    Ok(raw.filter(|raw| !raw.is_empty()))
}

/// Mailbox copies to remove (purged mail): queued in the purge's transaction, removed from the
/// mailbox by the daemon, forgotten only once they are gone.
pub fn queue_removal(
    conn: &Connection,
    source_key: &str,
    message_id: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO mailbox_removals (source_key, message_id, since) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![source_key, message_id, ts(now)])?;
    Ok(())
}

/// A mailbox copy still to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRemoval {
    pub source_key: String,
    pub message_id: Option<String>,
    /// SHA-256 of the bytes as they sat in the mailbox (none for mail recorded before schema 4):
    /// over IMAP the copy is recognised by it.
    pub content_sha256: Option<String>,
    /// Another mail the register still keeps cannot be told apart from this one in the
    /// mailbox: it has the same bytes (the same message under a new UID), or — for a mail
    /// without a content hash — the same Message-ID. Removal over IMAP would take that mail's
    /// copy too, so it waits until that one is purged as well.
    pub id_still_kept: bool,
}

/// A ledger row that still holds what the purge empties.
const KEPT: &str = "(k.sender IS NOT NULL OR k.message_id IS NOT NULL OR length(k.raw) > 0
     OR k.id IN (SELECT mail_id FROM mail_bodies))";

/// Up to `limit` mailbox copies still to remove, in source-key order after `after`.
pub fn pending_removals(
    conn: &Connection,
    after: &str,
    limit: usize,
) -> anyhow::Result<Vec<PendingRemoval>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT r.source_key, r.message_id, m.content_sha256,
             CASE WHEN m.content_sha256 IS NOT NULL
                 THEN EXISTS (SELECT 1 FROM mails k WHERE k.content_sha256 = m.content_sha256
                              AND k.source_key <> r.source_key AND {KEPT})
                 ELSE r.message_id IS NOT NULL
                      AND EXISTS (SELECT 1 FROM mails k WHERE k.message_id = r.message_id) END
         FROM mailbox_removals r LEFT JOIN mails m ON m.source_key = r.source_key
         WHERE r.source_key > ?1 ORDER BY r.source_key LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![after, limit as i64], |r| {
        Ok(PendingRemoval {
            source_key: r.get(0)?,
            message_id: r.get(1)?,
            content_sha256: r.get(2)?,
            id_still_kept: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// These copies are gone from the mailbox.
pub fn removed(conn: &Connection, source_keys: &[String]) -> anyhow::Result<()> {
    let mut stmt = conn.prepare_cached("DELETE FROM mailbox_removals WHERE source_key = ?1")?;
    for key in source_keys {
        stmt.execute(params![key])?;
    }
    Ok(())
}

/// The whole ledger, in arrival order.
pub fn all(conn: &Connection) -> anyhow::Result<Vec<RecordedMail>> {
    let mut stmt =
        conn.prepare("SELECT source_key, outcome, reason, case_id FROM mails ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get(2)?,
            r.get(3)?,
        ))
    })?;
    rows.map(|row| {
        let (source_key, outcome, reason, case_id) = row?;
        Ok(RecordedMail {
            source_key,
            outcome: outcome.parse()?,
            reason,
            case_id,
        })
    })
    .collect()
}

/// The IMAP cursor of `mailbox`: its UIDVALIDITY and the last UID taken in.
pub fn imap_cursor(conn: &Connection, mailbox: &str) -> anyhow::Result<Option<(u32, u32)>> {
    Ok(conn
        .query_row(
            "SELECT uidvalidity, last_uid FROM imap_cursor WHERE mailbox = ?1",
            params![mailbox],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

pub fn set_imap_cursor(
    conn: &Connection,
    mailbox: &str,
    uidvalidity: u32,
    last_uid: u32,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO imap_cursor (mailbox, uidvalidity, last_uid) VALUES (?1, ?2, ?3)
         ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid",
        params![mailbox, uidvalidity, last_uid],
    )?;
    Ok(())
}
