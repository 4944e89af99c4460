//! `InboundMail`: a received message converted into klachtd's own type. This is the only
//! module that touches `mail_parser`; everything after it works on plain Rust values.

use crate::domain::EmailAddress;
use chrono::{DateTime, Utc};
use mail_parser::{
    Addr, Address, HeaderName, HeaderValue, Message, MessageParser, MimeHeaders, PartType,
};
use sha2::{Digest, Sha256};

/// A sender or recipient with the display name they gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub address: EmailAddress,
    pub name: Option<String>,
}

/// A file that came with the mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Why a message cannot be trusted to say what its sender wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Defect {
    /// A multipart whose declared boundary never occurs in the body.
    BoundaryNotFound,
    /// A part whose transfer encoding could not be decoded cleanly.
    UndecodableBody,
}

impl Defect {
    pub fn describe(&self) -> &'static str {
        match self {
            Defect::BoundaryNotFound => "MIME boundary declared but never found",
            Defect::UndecodableBody => {
                "a body part could not be decoded (invalid transfer encoding)"
            }
        }
    }
}

/// The header signals that tell a person from a machine (RFC 3834 and common practice).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub list_id: bool,
    pub list_unsubscribe: bool,
    pub x_auto_response_suppress: bool,
    pub x_autoreply: bool,
    /// `Return-Path: <>`: a bounce or other delivery notification.
    pub null_return_path: bool,
    /// `multipart/report` (DSN, MDN).
    pub report: bool,
    pub spam_flag: bool,
    /// Our own `X-Klachtd-Case` header: a mail klachtd itself sent.
    pub ours: bool,
}

/// A received message, decoded.
#[derive(Debug, Clone)]
pub struct InboundMail {
    /// Message-ID without angle brackets, if the mail has one.
    pub message_id: Option<String>,
    pub from: Option<Mailbox>,
    pub subject: String,
    pub date: Option<DateTime<Utc>>,
    /// Every address the mail was sent to: To, Cc, Delivered-To, X-Original-To (lower-case).
    pub recipients: Vec<String>,
    /// In-Reply-To and References, newest first, without angle brackets.
    pub thread_ids: Vec<String>,
    /// The text of the mail: text parts joined, or the HTML converted to text.
    pub text: String,
    /// Whether `text` came from text/plain parts (false: converted from HTML).
    pub has_plain_text: bool,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    pub content_language: Option<String>,
    pub signals: Signals,
    /// Raw `Authentication-Results` values, topmost (newest) first.
    pub authentication_results: Vec<String>,
    pub defects: Vec<Defect>,
    /// Identity for duplicate detection: Message-ID plus content, trace headers excluded.
    pub fingerprint: String,
}

impl InboundMail {
    /// Decodes a raw RFC 5322 message. Never panics; a message mail-parser cannot make
    /// anything of comes back as `None`.
    pub fn parse(raw: &[u8]) -> Option<InboundMail> {
        let message = MessageParser::default().parse(raw)?;
        let mut mail = InboundMail {
            message_id: message
                .message_id()
                .map(clean_id)
                .filter(|id| !id.is_empty()),
            from: first_mailbox(message.from()),
            subject: message.subject().map(one_line).unwrap_or_default(),
            date: message
                .date()
                .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0)),
            recipients: recipients(&message),
            thread_ids: thread_ids(&message),
            text: String::new(),
            has_plain_text: message
                .text_bodies()
                .any(|p| matches!(p.body, PartType::Text(_))),
            html: None,
            attachments: Vec::new(),
            content_language: header_text(&message, "Content-Language")
                .map(|s| s.to_ascii_lowercase()),
            signals: signals(&message),
            authentication_results: message
                .header_values("Authentication-Results")
                .filter_map(|v| v.as_text().map(str::to_string))
                .collect(),
            defects: defects(&message),
            fingerprint: fingerprint(&message, raw),
        };
        mail.text = body_text(&message);
        mail.html = message
            .html_bodies()
            .find(|p| p.is_text_html())
            .and_then(|p| p.text_contents())
            .map(|h| h.replace('\0', ""));
        mail.attachments = attachments(&message);
        Some(mail)
    }

    /// The sender's address, if the mail names one.
    pub fn sender(&self) -> Option<&EmailAddress> {
        self.from.as_ref().map(|m| &m.address)
    }
}

/// Strips angle brackets and white space from a message id.
pub fn clean_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

/// Removes CR, LF and other control characters (a header-injection attempt hides here)
/// and collapses runs of white space.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn header_text(message: &Message<'_>, name: &str) -> Option<String> {
    message
        .header(name)
        .and_then(|v| match v {
            HeaderValue::Text(t) => Some(t.to_string()),
            HeaderValue::TextList(l) => Some(l.join(", ")),
            _ => None,
        })
        .or_else(|| message.header_raw(name).map(|s| s.trim().to_string()))
}

fn first_mailbox(address: Option<&Address<'_>>) -> Option<Mailbox> {
    let addr: &Addr<'_> = match address? {
        Address::List(list) => list.first()?,
        Address::Group(groups) => groups.iter().flat_map(|g| g.addresses.iter()).next()?,
    };
    let address = addr.address.as_deref()?.parse().ok()?;
    let name = addr
        .name
        .as_deref()
        .and_then(crate::domain::display_name::clean);
    Some(Mailbox { address, name })
}

fn recipients(message: &Message<'_>) -> Vec<String> {
    let mut out: Vec<String> = message
        .to()
        .into_iter()
        .chain(message.cc())
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address.as_deref())
        .map(|a| a.trim().to_lowercase())
        .collect();
    for name in ["Delivered-To", "X-Original-To"] {
        out.extend(
            message
                .header_values(name)
                .filter_map(|v| v.as_text())
                .map(|v| clean_id(v).to_lowercase()),
        );
    }
    out.sort();
    out.dedup();
    out
}

fn ids_of(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![clean_id(t)],
        HeaderValue::TextList(list) => list.iter().map(|t| clean_id(t)).collect(),
        _ => Vec::new(),
    }
}

fn thread_ids(message: &Message<'_>) -> Vec<String> {
    let mut ids = ids_of(message.in_reply_to());
    let mut refs = ids_of(message.references());
    refs.reverse();
    ids.extend(refs);
    ids.retain(|id| !id.is_empty());
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    ids
}

fn signals(message: &Message<'_>) -> Signals {
    let has = |name: &str| message.header(name).is_some() || message.header_raw(name).is_some();
    let lower = |name: &str| header_text(message, name).map(|s| s.trim().to_ascii_lowercase());
    let return_path_null = message.headers().iter().any(|h| {
        matches!(h.name, HeaderName::ReturnPath)
            && match &h.value {
                HeaderValue::Text(t) => clean_id(t).is_empty(),
                HeaderValue::Empty => true,
                _ => false,
            }
    });
    let report = message
        .content_type()
        .map(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
        .unwrap_or(false);
    Signals {
        auto_submitted: lower("Auto-Submitted"),
        precedence: lower("Precedence"),
        list_id: has("List-Id"),
        list_unsubscribe: has("List-Unsubscribe"),
        x_auto_response_suppress: has("X-Auto-Response-Suppress"),
        x_autoreply: has("X-Autoreply") || has("X-Autorespond"),
        null_return_path: return_path_null,
        report,
        spam_flag: lower("X-Spam-Flag").is_some_and(|v| v.starts_with("yes"))
            || lower("X-Spam-Status").is_some_and(|v| v.starts_with("yes")),
        ours: has(crate::outbound::CASE_HEADER),
    }
}

fn defects(message: &Message<'_>) -> Vec<Defect> {
    let mut found = Vec::new();
    let raw = message.raw_message();
    for part in &message.parts {
        if let Some(ct) = part.content_type()
            && ct.ctype().eq_ignore_ascii_case("multipart")
            && let Some(boundary) = ct.attribute("boundary")
        {
            let body = raw
                .get(part.offset_body as usize..part.offset_end as usize)
                .unwrap_or_default();
            let marker = format!("--{boundary}");
            if !contains(body, marker.as_bytes()) && found.is_empty() {
                found.push(Defect::BoundaryNotFound);
            }
        }
        let declared_base64 = part
            .content_transfer_encoding()
            .is_some_and(|cte| cte.trim().eq_ignore_ascii_case("base64"));
        let undecodable = part.is_encoding_problem
            || (declared_base64
                && !part.is_multipart()
                && !is_clean_base64(
                    raw.get(part.offset_body as usize..part.offset_end as usize)
                        .unwrap_or_default(),
                ));
        if undecodable && !found.contains(&Defect::UndecodableBody) {
            found.push(Defect::UndecodableBody);
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Strict check of a base64 body: alphabet, padding only at the very end, whole groups.
fn is_clean_base64(body: &[u8]) -> bool {
    let mut count = 0usize;
    let mut padding = 0usize;
    for &b in body {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' if padding == 0 => count += 1,
            b'=' if padding < 2 => {
                padding += 1;
                count += 1;
            }
            b'\r' | b'\n' | b' ' | b'\t' => {}
            // A multipart's closing boundary may follow the last part's body.
            b'-' if padding > 0 || count.is_multiple_of(4) => break,
            _ => return false,
        }
    }
    count.is_multiple_of(4)
}

fn body_text(message: &Message<'_>) -> String {
    let mut text = String::new();
    for part in message.text_bodies() {
        let piece = match &part.body {
            PartType::Text(t) => t.to_string(),
            PartType::Html(h) => mail_parser::decoders::html::html_to_text(h),
            _ => continue,
        };
        let piece = if is_flowed(part) {
            unflow(&piece, delsp(part))
        } else {
            piece
        };
        if !text.is_empty() && !piece.trim().is_empty() {
            text.push('\n');
        }
        text.push_str(&piece);
    }
    for part in &message.parts {
        if let PartType::Message(inner) = &part.body {
            let inner_text = body_text(inner);
            text.push_str(&format!(
                "\n\n---------- Doorgestuurd bericht ----------\nVan: {}\nOnderwerp: {}\n\n{}",
                first_mailbox(inner.from())
                    .map(|m| m.address.to_string())
                    .unwrap_or_default(),
                inner.subject().map(one_line).unwrap_or_default(),
                inner_text
            ));
        }
    }
    clean_text(&text)
}

/// Removes NUL and other stray control characters while keeping line structure.
fn clean_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .map(|c| if c == '\u{feff}' { ' ' } else { c })
        .collect::<String>()
        .trim_matches('\n')
        .to_string()
}

fn is_flowed(part: &mail_parser::MessagePart<'_>) -> bool {
    part.content_type()
        .and_then(|ct| ct.attribute("format"))
        .is_some_and(|f| f.eq_ignore_ascii_case("flowed"))
}

fn delsp(part: &mail_parser::MessagePart<'_>) -> bool {
    part.content_type()
        .and_then(|ct| ct.attribute("delsp"))
        .is_some_and(|f| f.eq_ignore_ascii_case("yes"))
}

/// RFC 3676 `format=flowed`: joins soft-broken lines (those ending in a space).
pub fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut paragraph = String::new();
    let mut depth_of_paragraph = None;
    for raw_line in text.split('\n') {
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        let depth = line.chars().take_while(|c| *c == '>').count();
        let mut content = &line[depth..];
        content = content.strip_prefix(' ').unwrap_or(content);
        if depth_of_paragraph.is_some_and(|d| d != depth) {
            out.push_str(&paragraph);
            out.push('\n');
            paragraph.clear();
        }
        depth_of_paragraph = Some(depth);
        if paragraph.is_empty() && depth > 0 {
            paragraph.push_str(&">".repeat(depth));
            paragraph.push(' ');
        }
        let soft = content.ends_with(' ') && content != "-- ";
        if soft {
            let kept = if delsp {
                &content[..content.len() - 1]
            } else {
                content
            };
            paragraph.push_str(kept);
        } else {
            paragraph.push_str(content);
            out.push_str(&paragraph);
            out.push('\n');
            paragraph.clear();
            depth_of_paragraph = None;
        }
    }
    out.push_str(&paragraph);
    out.truncate(out.trim_end_matches('\n').len());
    out
}

fn attachments(message: &Message<'_>) -> Vec<Attachment> {
    message
        .attachments()
        .filter_map(|part| {
            let data = match &part.body {
                PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
                PartType::Text(t) | PartType::Html(t) => t.as_bytes().to_vec(),
                PartType::Message(m) => m.raw_message().to_vec(),
                PartType::Multipart(_) => return None,
            };
            let content_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_ascii_lowercase();
            let filename = part
                .attachment_name()
                .map(one_line)
                .map(|n| n.replace(['/', '\\'], "_"))
                .unwrap_or_else(|| "bijlage".into());
            Some(Attachment {
                filename,
                content_type,
                data,
            })
        })
        .collect()
}

/// Headers that servers add or rewrite on the way in; they differ between two deliveries
/// of the same message and so stay out of the fingerprint.
const TRACE_HEADERS: [&str; 4] = ["received", "return-path", "delivered-to", "x-original-to"];

/// SHA-256 over the Message-ID, the identifying headers and the raw body.
fn fingerprint(message: &Message<'_>, raw: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(b"message-id:");
    hash.update(message.message_id().unwrap_or_default().as_bytes());
    for (name, value) in message.headers_raw() {
        let lname = name.to_ascii_lowercase();
        if TRACE_HEADERS.contains(&lname.as_str())
            || lname.starts_with("x-spam")
            || lname.starts_with("arc-")
            || lname == "authentication-results"
        {
            continue;
        }
        hash.update(lname.as_bytes());
        hash.update(b":");
        hash.update(value.trim().as_bytes());
        hash.update(b"\n");
    }
    let body_start = message.root_part().offset_body as usize;
    hash.update(raw.get(body_start..).unwrap_or_default());
    hex(&hash.finalize())
}

/// Lower-case hex of a byte string.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unflow_joins_soft_breaks_and_keeps_hard_ones() {
        let flowed = "Dit is een lange \nzin die doorloopt.\nNieuwe regel.\n-- \nsig";
        assert_eq!(
            unflow(flowed, false),
            "Dit is een lange zin die doorloopt.\nNieuwe regel.\n-- \nsig"
        );
        assert_eq!(unflow("> a \n> b\nc", false), "> a b\nc");
    }

    #[test]
    fn one_line_defuses_header_injection() {
        assert_eq!(
            one_line("Klacht\r\nBcc: x@y.z\r\n\r\nGratis"),
            "Klacht Bcc: x@y.z Gratis"
        );
    }

    #[test]
    fn strict_base64() {
        assert!(is_clean_base64(b"SGVsbG8g\r\nd29ybGQ=\r\n"));
        assert!(!is_clean_base64(b"SGVsbG8g!*~%\r\n"));
        assert!(!is_clean_base64(b"SGVs=bG8g\r\n"));
        assert!(!is_clean_base64(b"SGVsbG8\r\n"));
    }

    #[test]
    fn fingerprint_ignores_trace_headers_only() {
        let a = b"Received: from a\r\nFrom: x@example.org\r\nMessage-ID: <1@x>\r\nSubject: s\r\n\r\nbody\r\n";
        let b = b"Received: from b\r\nFrom: x@example.org\r\nMessage-ID: <1@x>\r\nSubject: s\r\n\r\nbody\r\n";
        let c = b"Received: from b\r\nFrom: x@example.org\r\nMessage-ID: <1@x>\r\nSubject: s\r\n\r\nother\r\n";
        let fp = |raw: &[u8]| InboundMail::parse(raw).unwrap().fingerprint;
        assert_eq!(fp(a), fp(b));
        assert_ne!(
            fp(a),
            fp(c),
            "a reused Message-ID with other content is another mail"
        );
    }
}
