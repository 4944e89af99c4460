//! A file that came with a mail (or that klachtd made itself: a chart, a report), as the
//! store keeps it and the outbound mail carries it.

/// A file that came with the mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    /// The decoded file; for an unreadable part, the part's bytes exactly as they came.
    pub data: Vec<u8>,
    /// False when the part's transfer encoding could not be decoded: the raw bytes are kept,
    /// the case says so, and the complaint is registered all the same.
    pub readable: bool,
}

impl Attachment {
    /// A readable file klachtd made itself (a chart, a report).
    pub fn new(filename: impl Into<String>, content_type: &str, data: Vec<u8>) -> Self {
        Self {
            filename: filename.into(),
            content_type: content_type.into(),
            data,
            readable: true,
        }
    }
}
