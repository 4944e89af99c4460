//! Step 1 of the flow: mail sources (a local Maildir, or IMAP with IDLE) hand over raw
//! messages; `mail` decodes them into [`InboundMail`] and `classify` says what each one is.

pub mod authres;
pub mod classify;
pub mod cms;
pub mod conventions;
pub mod imap;
pub mod mail;
pub mod maildir;
pub mod provenance;
pub mod tnef;
pub mod trace;

use chrono::{DateTime, Utc};

pub use classify::{Classification, classify};
pub use mail::{Attachment, Encryption, InboundMail, hex, one_line};

/// A message as it sits in the mailbox, before anything is decoded.
#[derive(Debug, Clone)]
pub struct RawMail {
    /// Identifies this copy in its mailbox, stable across restarts: the Maildir file's unique
    /// name, or IMAP `mailbox/UIDVALIDITY/UID`.
    pub source_key: String,
    pub bytes: Vec<u8>,
    /// When the mailbox received it (IMAP INTERNALDATE, Maildir file time), if known.
    pub arrived_at: Option<DateTime<Utc>>,
}

/// What the mail source does with a message once it is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Mark it processed (seen / moved to the processed folder).
    Processed,
    /// Move it to quarantine.
    Quarantine,
    /// Leave it unread for people (not a complaint in `keywords` mode).
    LeaveUnread,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Processed => "processed",
            Disposition::Quarantine => "quarantine",
            Disposition::LeaveUnread => "leave_unread",
        }
    }

    pub fn parse(s: &str) -> anyhow::Result<Disposition> {
        [Self::Processed, Self::Quarantine, Self::LeaveUnread]
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown disposition '{s}'"))
    }
}
