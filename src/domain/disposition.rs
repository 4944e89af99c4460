//! What a mail source does with a message once it is recorded (mark it processed, move it to
//! quarantine, leave it unread for people): decided by intake, kept in the store's ledger,
//! carried out by the Maildir and IMAP sources.

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
