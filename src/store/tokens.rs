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
    crate::hex::encode(&bytes)
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
    conn.prepare_cached(
        "INSERT INTO tokens (token, case_id, address, held_id, issued_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![token, case_id, address.as_str(), held_id, ts(now)])?;
    Ok(())
}

/// A token as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub token: String,
    /// The address it was given to.
    pub owner: String,
    pub case_id: Option<i64>,
    pub held_id: Option<i64>,
    pub issued_at: DateTime<Utc>,
    pub revoked: bool,
}

/// The token with this value, whoever it was issued to.
pub fn find(conn: &Connection, token: &str) -> anyhow::Result<Option<Issued>> {
    Ok(conn
        .query_row(
            "SELECT token, address, case_id, held_id, issued_at, revoked_at IS NOT NULL FROM tokens WHERE token = ?1",
            params![token],
            |r| {
                Ok(Issued {
                    token: r.get(0)?,
                    owner: r.get(1)?,
                    case_id: r.get(2)?,
                    held_id: r.get(3)?,
                    issued_at: parse_ts(&r.get::<_, String>(4)?)?,
                    revoked: r.get(5)?,
                })
            },
        )
        .optional()?)
}

/// Revokes a token; true when it was valid until now (so its owner is told once).
pub fn revoke(conn: &Connection, token: &str, now: DateTime<Utc>) -> anyhow::Result<bool> {
    let n = conn.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE token = ?1 AND revoked_at IS NULL",
        params![token, ts(now)],
    )?;
    Ok(n == 1)
}

/// Revokes every token `address` holds for case `case_id` (the complaint turned out to
/// concern them, issue 25); how many were valid.
pub fn revoke_for_case(
    conn: &Connection,
    address: &str,
    case_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    Ok(conn.execute(
        "UPDATE tokens SET revoked_at = ?3 WHERE address = ?1 AND case_id = ?2 AND revoked_at IS NULL",
        params![address, case_id, ts(now)],
    )?)
}

/// A fresh confirmation code: four digits, typed by the sender as `Bevestig 4821`. Guessing
/// it is not the protection (the request's token is); it makes a reply mean "yes" only when
/// the sender says so, for this held mail.
pub fn new_code() -> String {
    format!("{:04}", rand::rng().random_range(0..10_000u32))
}

/// A mail held for confirmation.
#[derive(Debug, Clone)]
pub struct Held {
    pub id: i64,
    pub case_id: Option<i64>,
    pub address: String,
    pub mail_id: i64,
    pub subject: String,
    pub new_text: String,
    pub code: String,
    pub held_at: DateTime<Utc>,
    /// `confirmed`, `refused` or `expired` once settled.
    pub outcome: Option<String>,
}

#[allow(clippy::too_many_arguments)]
pub fn hold(
    conn: &Connection,
    case_id: Option<i64>,
    address: &EmailAddress,
    mail_id: i64,
    subject: &str,
    new_text: &str,
    code: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    conn.execute(
        "INSERT INTO held_commands (case_id, address, mail_id, subject, new_text, code, held_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![case_id, address.as_str(), mail_id, subject, new_text, code, ts(now)],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn held(conn: &Connection, id: i64) -> anyhow::Result<Option<Held>> {
    Ok(conn
        .query_row(
            "SELECT id, case_id, address, mail_id, subject, new_text, code, held_at, outcome FROM held_commands WHERE id = ?1",
            params![id],
            |r| {
                Ok(Held {
                    id: r.get(0)?,
                    case_id: r.get(1)?,
                    address: r.get(2)?,
                    mail_id: r.get(3)?,
                    subject: r.get(4)?,
                    new_text: r.get(5)?,
                    code: r.get(6)?,
                    held_at: parse_ts(&r.get::<_, String>(7)?)?,
                    outcome: r.get(8)?,
                })
            },
        )
        .optional()?)
}

/// Settles a held mail once: `confirmed`, `refused` or `expired`.
pub fn settle_held(
    conn: &Connection,
    id: i64,
    outcome: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    conn.execute(
        "UPDATE held_commands SET resolved_at = ?2, outcome = ?3 WHERE id = ?1 AND resolved_at IS NULL",
        params![id, ts(now), outcome],
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
