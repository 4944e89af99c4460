//! What the register holds on one person (issue 25, for `klachtd dossier` and `klachtd
//! erase`): the cases they are the complainant of, every mail from their address in the
//! ledger, and every mail sent to them. A person is their mailbox: the address without a
//! `+tag`, in any case, as acknowledgements count it.

use super::{CaseRecord, cases, outbox, parse_ts};
use crate::domain::EmailAddress;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

/// Whether the stored address `stored` is `person`'s mailbox.
pub fn is(stored: &str, person: &EmailAddress) -> bool {
    stored
        .parse::<EmailAddress>()
        .is_ok_and(|a| a.without_tag() == person.without_tag())
}

/// The part every spelling of `person`'s address contains (a cheap filter before [`is`]).
fn needle(person: &EmailAddress) -> String {
    let base = person.without_tag();
    base.split('@').next().unwrap_or_default().to_string()
}

/// Every case whose complainant is `person`, oldest first.
pub fn cases_of(conn: &Connection, person: &EmailAddress) -> anyhow::Result<Vec<CaseRecord>> {
    let mut stmt = conn.prepare(
        "SELECT id, complainant_address FROM cases
         WHERE complainant_address IS NOT NULL AND instr(complainant_address, ?1) > 0
         ORDER BY year, seq",
    )?;
    let ids: Vec<i64> = stmt
        .query_map(params![needle(person)], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?
        .filter_map(|row| match row {
            Ok((id, address)) if is(&address, person) => Some(Ok(id)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(cases::by_id(conn, id)?);
    }
    Ok(out)
}

/// A mail in the ledger from the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TheirMail {
    pub id: i64,
    pub case_id: Option<i64>,
    pub received_at: DateTime<Utc>,
    pub outcome: String,
    pub source_key: String,
    pub message_id: Option<String>,
}

/// Every mail from `person`'s address in the ledger (complaints, follow-ups, third-party mail
/// on someone else's case, ignored and quarantined mail), in arrival order.
pub fn mails_from(conn: &Connection, person: &EmailAddress) -> anyhow::Result<Vec<TheirMail>> {
    let mut stmt = conn.prepare(
        "SELECT id, case_id, received_at, outcome, source_key, message_id, sender FROM mails
         WHERE sender IS NOT NULL AND instr(sender, ?1) > 0 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![needle(person)], |r| {
        Ok((
            TheirMail {
                id: r.get(0)?,
                case_id: r.get(1)?,
                received_at: parse_ts(&r.get::<_, String>(2)?)?,
                outcome: r.get(3)?,
                source_key: r.get(4)?,
                message_id: r.get(5)?,
            },
            r.get::<_, String>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (mail, sender) = row?;
        if is(&sender, person) {
            out.push(mail);
        }
    }
    Ok(out)
}

/// The mail queued or sent to `person` for the cases `case_ids`, oldest first.
pub fn sent_to(
    conn: &Connection,
    person: &EmailAddress,
    case_ids: &[i64],
) -> anyhow::Result<Vec<outbox::QueuedMail>> {
    let mut out = Vec::new();
    for id in case_ids {
        out.extend(
            outbox::for_case(conn, *id)?
                .into_iter()
                .filter(|m| m.recipients.iter().any(|r| is(r, person))),
        );
    }
    out.sort_by_key(|m| m.id);
    Ok(out)
}
