//! The `tokens` and `held_commands` tables: the secrets klachtd hands to role addresses in the
//! mail it sends them, and staff commands waiting for their sender to confirm them.

use super::{parse_ts, ts};
use crate::domain::EmailAddress;
use chrono::{DateTime, Utc};
use rand::Rng;
use rusqlite::{Connection, OptionalExtension, params};

/// A fresh token: 96 random bits as 24 lower-case hex digits.
pub fn new_token() -> String {
    let bytes: [u8; 12] = rand::rng().random();
    crate::inbound::hex(&bytes)
}

/// Records that `token` was given to `address` for a case (and, for a confirmation request,
/// for which held mail).
pub fn issue(
    conn: &Connection,
    token: &str,
    case_id: Option<i64>,
    address: &EmailAddress,
    held_id: Option<i64>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO tokens (token, case_id, address, held_id, issued_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token, case_id, address.as_str(), held_id, ts(now)],
    )?;
    Ok(())
}

/// A token as issued.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub case_id: Option<i64>,
    pub held_id: Option<i64>,
    pub issued_at: DateTime<Utc>,
}

/// Every token issued to `address`, newest first (a handful per case at most).
pub fn issued_to(conn: &Connection, address: &EmailAddress) -> anyhow::Result<Vec<Issued>> {
    let mut stmt = conn.prepare(
        "SELECT token, case_id, held_id, issued_at FROM tokens WHERE address = ?1 ORDER BY issued_at DESC",
    )?;
    let rows = stmt.query_map(params![address.as_str()], |r| {
        Ok(Issued {
            token: r.get(0)?,
            case_id: r.get(1)?,
            held_id: r.get(2)?,
            issued_at: parse_ts(&r.get::<_, String>(3)?)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A mail held for confirmation.
#[derive(Debug, Clone)]
pub struct Held {
    pub id: i64,
    pub case_id: Option<i64>,
    pub address: String,
    pub subject: String,
    pub new_text: String,
    pub resolved: bool,
}

pub fn hold(
    conn: &Connection,
    case_id: Option<i64>,
    address: &EmailAddress,
    mail_id: i64,
    subject: &str,
    new_text: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    conn.execute(
        "INSERT INTO held_commands (case_id, address, mail_id, subject, new_text, held_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![case_id, address.as_str(), mail_id, subject, new_text, ts(now)],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn held(conn: &Connection, id: i64) -> anyhow::Result<Option<Held>> {
    Ok(conn
        .query_row(
            "SELECT id, case_id, address, subject, new_text, resolved_at IS NOT NULL FROM held_commands WHERE id = ?1",
            params![id],
            |r| {
                Ok(Held {
                    id: r.get(0)?,
                    case_id: r.get(1)?,
                    address: r.get(2)?,
                    subject: r.get(3)?,
                    new_text: r.get(4)?,
                    resolved: r.get(5)?,
                })
            },
        )
        .optional()?)
}

pub fn resolve_held(conn: &Connection, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
    conn.execute(
        "UPDATE held_commands SET resolved_at = ?2 WHERE id = ?1",
        params![id, ts(now)],
    )?;
    Ok(())
}

/// Stores a recommendation of the director's for the yearly analysis.
pub fn add_recommendation(
    conn: &Connection,
    author: &EmailAddress,
    case_id: Option<i64>,
    text: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO recommendations (at, author, case_id, text) VALUES (?1, ?2, ?3, ?4)",
        params![ts(now), author.as_str(), case_id, text],
    )?;
    Ok(())
}
