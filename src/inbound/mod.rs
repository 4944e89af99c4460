//! Step 1 of the flow: mail sources (a local Maildir, or IMAP with IDLE) hand over raw
//! messages; `mail` decodes them into [`InboundMail`] and `classify` says what each one is.

pub mod authres;
pub mod classify;
pub mod cms;
pub mod conventions;
pub mod imap;
pub mod mail;
pub mod maildir;
pub mod server_evidence;
pub mod tnef;
pub mod trace;

use chrono::{DateTime, Utc};

pub use classify::{Classification, classify};
pub use mail::{Encryption, InboundMail, one_line};

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
