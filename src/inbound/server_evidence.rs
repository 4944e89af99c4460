//! What the receiving platform says about who sent a mail, read from the mail's trace
//! ([`super::trace`]): which results headers are the platform's own, every result about the
//! From domain combined per method, and the relay that handed the mail in. The rules:
//!
//! - Evidence *for* the From address (a login as that address, `dmarc=pass`, DKIM passing
//!   for an aligned domain) counts only from the platform's own headers.
//! - Evidence *against* the From domain counts from every results header in the mail,
//!   whoever wrote it: a header can only make klachtd stricter, and no outsider can add
//!   headers to a genuine staff mail.
//! - SPF passing proves nothing on its own; `ARC-Authentication-Results` never proves.
//!
//! Which headers are the platform's own depends on the platform ([`Receiver`]); see
//! docs/sender-proof.md for what each platform writes and what an administrator must check.

use super::authres::{self, AuthResults, MethodResult, aligned};
use super::trace::{TraceHeader, TraceKind};
use crate::domain::EmailAddress;
use crate::settings::{OwnServer, Platform, Security};

/// The server (or platform) that received the mail for us and whose results klachtd trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receiver {
    /// Nothing is trusted: only evidence against a sender counts.
    Untrusted,
    /// A server of our own that writes RFC 8601 headers with this authserv-id, laid out as
    /// its software writes them (docs/authstack.md has what each really writes).
    OwnServer { authserv_id: String, layout: Layout },
    /// Exchange Online: results without an authserv-id; the `X-MS-Exchange-Organization-*`
    /// headers, which Exchange's header firewall removes from mail arriving from outside.
    Microsoft365,
    /// Google Workspace: results by `mx.google.com`.
    Google,
}

/// Where a server of our own puts its results, relative to the `Received` line it writes
/// when a mail reaches it (its entry line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Postfix with milters and a policy service (OpenDKIM, OpenDMARC, policyd-spf): one
    /// header per checker, all above the entry line. A header with our id below it came with
    /// the mail (OpenDMARC removes none) and never counts.
    Milters,
    /// rspamd: one combined header right below the entry line; rspamd removes every results
    /// header that arrived with the mail, so the first one below the entry line is its own.
    Rspamd,
}

const GOOGLE_ID: &str = "mx.google.com";

impl Receiver {
    /// The receiver the configuration names (`security.platform`, `trusted_authserv_id`,
    /// `own_server`): whose results count as evidence for a sender.
    pub fn configured(security: &Security) -> Receiver {
        match (security.platform, &security.trusted_authserv_id) {
            (Platform::Microsoft365, _) => Receiver::Microsoft365,
            (Platform::Google, _) => Receiver::Google,
            (Platform::OwnServer, Some(id)) => Receiver::OwnServer {
                authserv_id: id.trim().to_string(),
                layout: match security.own_server {
                    OwnServer::Milters => Layout::Milters,
                    OwnServer::Rspamd => Layout::Rspamd,
                },
            },
            (Platform::OwnServer, None) => Receiver::Untrusted,
        }
    }

    /// The name people are shown.
    pub fn name(&self) -> String {
        match self {
            Receiver::Untrusted => "—".into(),
            Receiver::OwnServer { authserv_id, .. } => authserv_id.clone(),
            Receiver::Microsoft365 => "Microsoft 365".into(),
            Receiver::Google => "Google Workspace".into(),
        }
    }

    /// Whether a `Received` line's `by` host is one of the receiver's own.
    fn wrote(&self, by: &str) -> bool {
        match self {
            Receiver::Untrusted => false,
            Receiver::OwnServer { authserv_id, .. } => by.eq_ignore_ascii_case(authserv_id),
            Receiver::Microsoft365 => [".outlook.com", ".office365.com", ".outlook.office.com"]
                .iter()
                .any(|s| by.ends_with(s)),
            Receiver::Google => by == GOOGLE_ID || by.ends_with(".google.com"),
        }
    }
}

/// One result about the mail's sender, and who wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub method: String,
    pub result: String,
    /// The domain or identity the result is about (`header.from`, `header.d`,
    /// `smtp.mailfrom`, …), as written.
    pub about: Option<String>,
    /// The authserv-id of the header it stands in (empty when none was written).
    pub by: String,
    /// Written by the receiver we trust.
    pub trusted: bool,
}

impl Finding {
    fn of(r: &MethodResult, by: &str, trusted: bool) -> Finding {
        let about = [
            "header.from",
            "header.d",
            "header.i",
            "smtp.mailfrom",
            "smtp.auth",
        ]
        .iter()
        .find_map(|k| r.prop(k))
        .map(str::to_string);
        Finding {
            method: r.method.clone(),
            result: r.result.clone(),
            about,
            by: by.to_string(),
            trusted,
        }
    }

    /// `dmarc=fail header.from=example.org (mx.example.org)`, for people.
    pub fn line(&self) -> String {
        let mut s = format!("{}={}", self.method, self.result);
        if let Some(a) = &self.about {
            s.push_str(&format!(" ({a})"));
        }
        if !self.by.is_empty() {
            s.push_str(&format!(" [{}]", self.by));
        }
        s
    }
}

/// Everything the trace says about one From address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    /// The receiver's own results header is there (and could be read).
    pub trusted_present: bool,
    /// The receiver's own results header is there but could not be read.
    pub trusted_unreadable: bool,
    /// A login the receiver saw (`auth=pass smtp.auth=…`).
    pub login: Option<String>,
    /// Exchange says the sender logged in to the organisation (`AuthAs: Internal`).
    pub exchange_internal: bool,
    /// The receiver's results that speak for the From address.
    pub passes: Vec<Finding>,
    /// Results from any header that speak against the From domain.
    pub failures: Vec<Finding>,
    /// Every other result about the sender, for people to see.
    pub other: Vec<Finding>,
    /// The relay that handed the mail to the receiver (`from` of the receiver's first
    /// `Received`), when the receiver's lines can be told apart.
    pub handed_in_by: Option<String>,
    /// Why the receiver's own headers cannot be believed for this mail, when they cannot:
    /// text the sender controls (its envelope sender, the name its server gave) could have
    /// ended a comment in them and written a result of its own, or they contradict
    /// themselves. Then nothing in them proves the sender; what speaks against still counts.
    pub poisoned: Option<&'static str>,
}

/// What the platform's headers say about a mail's From address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvidence {
    /// No results header of the trusted receiver (or none configured).
    Absent,
    /// The receiver's header could not be read: counts as saying nothing.
    Unreadable,
    /// The sender logged in (`auth=pass`) as this user; it alone decides (unless a result
    /// speaks against the From domain).
    SmtpAuth { user: String, matches_from: bool },
    /// Exchange Online says the sender logged in to the organisation (`AuthAs: Internal`).
    OrganisationLogin,
    /// DMARC passed for the From domain, or DKIM passed with an aligned domain.
    Aligned { method: &'static str },
    /// Evidence against the From domain, from any header.
    Contrary { why: String },
    /// Nothing that proves or disproves the From address.
    Neutral,
}

/// Reads a mail's trace for `from`, trusting `receiver`.
pub fn read(trace: &[TraceHeader], receiver: &Receiver, from: &EmailAddress) -> Reading {
    let ascii = from.ascii_domain();
    let domain = ascii.as_str();
    let trusted = trusted_results(trace, receiver);
    let entry = entry_line(trace, receiver);
    let authenticated_hop = entry.is_some_and(|i| trace[i].authenticated_hop());
    let mut reading = Reading {
        handed_in_by: handed_in_by(trace, receiver),
        login: entry_login(trace, receiver),
        exchange_internal: *receiver == Receiver::Microsoft365 && exchange_internal(trace),
        poisoned: poisoned(trace, entry),
        ..Reading::default()
    };
    let mut all: Vec<(AuthResults, bool)> = Vec::new();
    for (i, h) in trace.iter().enumerate() {
        if !h.kind.is_results() {
            continue;
        }
        let is_trusted = trusted.contains(&i);
        let parsed = match (is_trusted, receiver) {
            (true, Receiver::OwnServer { .. } | Receiver::Google) => match authres::parse(&h.value)
            {
                Ok(ar) => ar,
                Err(_) => {
                    reading.trusted_unreadable = true;
                    authres::parse_lenient(&h.value)
                }
            },
            _ => authres::parse_lenient(&h.value),
        };
        if is_trusted {
            reading.trusted_present = true;
        }
        // An unreadable header of the receiver proves nothing, but its failures still count.
        let trusted_for = is_trusted && !reading.trusted_unreadable;
        all.push((parsed, trusted_for));
    }
    let is =
        |r: &MethodResult, m: &str, res: &[&str]| r.method == m && res.contains(&r.result.as_str());
    let about_from = |r: &MethodResult, keys: &[&str]| {
        keys.iter()
            .find_map(|k| r.prop(k))
            .is_none_or(|d| aligned(d, domain))
    };
    // Evidence for, from the receiver's own headers only.
    for (ar, trusted) in all.iter().filter(|(_, t)| *t) {
        for r in &ar.results {
            // A login the server reports, only for a session it recorded as authenticated
            // (its entry line's protocol ESMTPA, ESMTPSA, …: RFC 3848).
            if is(r, "auth", &["pass"])
                && let Some(user) = r.prop("smtp.auth")
            {
                match &reading.login {
                    _ if !authenticated_hop => {
                        reading.poisoned =
                            Some("a login reported for a session that was not authenticated");
                    }
                    Some(seen) if !seen.eq_ignore_ascii_case(user) => {
                        reading.poisoned =
                            Some("the server's own headers name two different logins");
                    }
                    _ => reading.login = Some(user.to_string()),
                }
            }
            let pass = (is(r, "dmarc", &["pass"])
                && r.prop("header.from")
                    .is_some_and(|d| d.eq_ignore_ascii_case(domain)))
                || (is(r, "dkim", &["pass"])
                    && ["header.d", "header.i"]
                        .iter()
                        .find_map(|k| r.prop(k))
                        .is_some_and(|d| aligned(d, domain)));
            if pass {
                reading
                    .passes
                    .push(Finding::of(r, &ar.authserv_id, *trusted));
            }
        }
    }
    // A value in the server's own results that holds a character ending a comment or a
    // result: sender-controlled text (an envelope sender, echoed) that may have written more.
    if all
        .iter()
        .filter(|(_, t)| *t)
        .flat_map(|(ar, _)| ar.results.iter())
        .flat_map(|r| r.props.iter())
        .any(|(_, v)| v.contains(['(', ')', ';', '"']))
    {
        reading.poisoned =
            Some("a value in the server's own header holds text that can end a comment");
    }
    // One DMARC verdict per mail: two different ones for the From domain in the server's own
    // headers mean one of them is not the server's.
    let mut dmarc_verdicts: Vec<&str> = all
        .iter()
        .filter(|(_, t)| *t)
        .flat_map(|(ar, _)| ar.results.iter())
        .filter(|r| r.method == "dmarc" && about_from(r, &["header.from"]))
        .map(|r| r.result.as_str())
        .collect();
    dmarc_verdicts.sort_unstable();
    dmarc_verdicts.dedup();
    if dmarc_verdicts.len() > 1 {
        reading.poisoned = Some("the server's own headers give two different DMARC verdicts");
    }
    let aligned_pass = !reading.passes.is_empty() && reading.poisoned.is_none();
    // Evidence against, from every header.
    for (ar, trusted) in &all {
        for r in &ar.results {
            let against = (is(r, "dmarc", &["fail", "quarantine", "reject"])
                && about_from(r, &["header.from"]))
                || (is(r, "compauth", &["fail"]) && about_from(r, &["header.from"]))
                || (!aligned_pass
                    && is(r, "dkim", &["fail"])
                    && about_from(r, &["header.d", "header.i"]))
                || (!aligned_pass
                    && is(r, "spf", &["fail", "softfail"])
                    && about_from(r, &["smtp.mailfrom", "smtp.helo"]));
            let finding = Finding::of(r, &ar.authserv_id, *trusted);
            if against {
                reading.failures.push(finding);
            } else if *trusted && !reading.passes.contains(&finding) {
                reading.other.push(finding);
            }
        }
    }
    reading
}

impl Reading {
    /// The evidence for the sender decision.
    pub fn evidence(&self, from: &EmailAddress) -> ServerEvidence {
        if let Some(user) = &self.login
            && !user.eq_ignore_ascii_case(from.as_str())
        {
            return ServerEvidence::SmtpAuth {
                user: user.clone(),
                matches_from: false,
            };
        }
        if let Some(f) = self.failures.first() {
            return ServerEvidence::Contrary { why: f.line() };
        }
        if self.poisoned.is_some() {
            return ServerEvidence::Unreadable;
        }
        if let Some(user) = &self.login {
            return ServerEvidence::SmtpAuth {
                user: user.clone(),
                matches_from: true,
            };
        }
        if self.exchange_internal {
            return ServerEvidence::OrganisationLogin;
        }
        if self.passes.iter().any(|p| p.method == "dmarc") {
            return ServerEvidence::Aligned { method: "dmarc" };
        }
        if !self.passes.is_empty() {
            return ServerEvidence::Aligned { method: "dkim" };
        }
        if self.trusted_unreadable {
            return ServerEvidence::Unreadable;
        }
        if self.trusted_present {
            return ServerEvidence::Neutral;
        }
        ServerEvidence::Absent
    }

    /// Whether the receiver vouches for the From address: a login as that address, an
    /// organisation login, DMARC pass or aligned DKIM pass — and nothing against it. Decides
    /// only what an acknowledgement may quote and whether it waits behind a flood; never
    /// authority.
    pub fn vouches(&self, from: &EmailAddress) -> bool {
        matches!(
            self.evidence(from),
            ServerEvidence::SmtpAuth {
                matches_from: true,
                ..
            } | ServerEvidence::OrganisationLogin
                | ServerEvidence::Aligned { .. }
        )
    }

    /// Every result about the sender for people: failures first, then passes, then the rest.
    pub fn results_for_people(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.failures.iter().map(Finding::line).collect();
        lines.extend(self.passes.iter().map(Finding::line));
        lines.extend(self.other.iter().map(Finding::line));
        if let Some(user) = &self.login {
            lines.push(format!("auth=pass ({user})"));
        }
        if self.exchange_internal {
            lines.push("X-MS-Exchange-Organization-AuthAs: Internal".into());
        }
        if let Some(why) = self.poisoned {
            lines.insert(0, format!("not believed: {why}"));
        }
        lines.dedup();
        lines
    }
}

/// The indices (into `trace`) of the results headers the receiver wrote itself.
///
/// - Own server with milters: the headers with its authserv-id above its entry line (the
///   `Received` line it wrote when the mail reached it). With rspamd: the first header with
///   its id right below the entry line (rspamd removes all that arrived with the mail). When
///   no entry line can be found, only its topmost header counts.
/// - Google: the topmost `mx.google.com` header (Google writes one per delivery, on top of
///   whatever the mail carried).
/// - Microsoft 365: the topmost `Authentication-Results` (Exchange Online writes one, on
///   top), read in Microsoft's syntax.
fn trusted_results(trace: &[TraceHeader], receiver: &Receiver) -> Vec<usize> {
    let results = || {
        trace
            .iter()
            .enumerate()
            .filter(|(_, h)| h.kind == TraceKind::AuthResults)
    };
    match receiver {
        Receiver::Untrusted => Vec::new(),
        Receiver::OwnServer {
            authserv_id,
            layout,
        } => {
            let ours = |(_, h): &(usize, &TraceHeader)| authserv_id_is(&h.value, authserv_id);
            match (entry_line(trace, receiver), layout) {
                (Some(entry), Layout::Milters) => results()
                    .filter(ours)
                    .take_while(|(i, _)| *i < entry)
                    .map(|(i, _)| i)
                    .collect(),
                (Some(entry), Layout::Rspamd) => {
                    let next_received = trace
                        .iter()
                        .enumerate()
                        .skip(entry + 1)
                        .find(|(_, h)| h.kind == TraceKind::Received)
                        .map_or(trace.len(), |(i, _)| i);
                    results()
                        .filter(|(i, _)| *i > entry && *i < next_received)
                        .filter(ours)
                        .map(|(i, _)| i)
                        .take(1)
                        .collect()
                }
                (None, _) => results().filter(ours).map(|(i, _)| i).take(1).collect(),
            }
        }
        Receiver::Google => results()
            .find(|(_, h)| authserv_id_is(&h.value, GOOGLE_ID))
            .map(|(i, _)| vec![i])
            .unwrap_or_default(),
        Receiver::Microsoft365 => results()
            .next()
            .filter(|(_, h)| authres::parse_lenient(&h.value).authserv_id.is_empty())
            .map(|(i, _)| vec![i])
            .unwrap_or_default(),
    }
}

/// The index of the receiver's entry line: the topmost `Received` line it wrote for a hop
/// over SMTP (its own later hops — Dovecot's LMTP delivery, Exchange's internal HTTPS and
/// MAPI hops — come above it and are skipped by their protocol, never by the name a client
/// gave, which the client chooses). Every header below it was in the mail before the
/// receiver had it; a forger can add lines that look like it only down there.
fn entry_line(trace: &[TraceHeader], receiver: &Receiver) -> Option<usize> {
    trace.iter().position(|h| {
        h.kind == TraceKind::Received
            && h.by.as_deref().is_some_and(|b| receiver.wrote(b))
            && !h.internal_hop()
    })
}

/// The relay that handed the mail in: `from` of the receiver's entry line; when its lines
/// cannot be recognised, of the topmost `Received` line.
fn handed_in_by(trace: &[TraceHeader], receiver: &Receiver) -> Option<String> {
    entry_line(trace, receiver)
        .map(|i| &trace[i])
        .or_else(|| trace.iter().find(|h| h.kind == TraceKind::Received))
        .and_then(|h| h.from.clone())
}

/// The login the receiver's entry line reports (Postfix with `smtpd_sasl_authenticated_header
/// = yes`: `(Authenticated sender: anna@example.org)` in its `from` clause of an ESMTPA or
/// ESMTPSA hop); only a server of our own.
fn entry_login(trace: &[TraceHeader], receiver: &Receiver) -> Option<String> {
    if !matches!(receiver, Receiver::OwnServer { .. }) {
        return None;
    }
    let line = &trace[entry_line(trace, receiver)?];
    if !line.authenticated_hop() {
        return None;
    }
    line.from_comments.iter().find_map(|c| {
        let (label, user) = c.split_once(':')?;
        let user = user.trim();
        (label.trim().eq_ignore_ascii_case("authenticated sender") && !user.is_empty())
            .then(|| user.to_string())
    })
}

/// Exchange's word that the sender logged in to the organisation: every `AuthAs` header in
/// the mail says `Internal`, and none is written in a way Exchange's header firewall might
/// not have recognised.
fn exchange_internal(trace: &[TraceHeader]) -> bool {
    let auth_as: Vec<&TraceHeader> = trace
        .iter()
        .filter(|h| h.kind == TraceKind::ExchangeAuthAs)
        .collect();
    !auth_as.is_empty()
        && auth_as
            .iter()
            .all(|h| !h.odd_name && h.value.trim().eq_ignore_ascii_case("internal"))
}

/// Whether text the sender controls could have written into the receiver's own headers:
/// the envelope sender (the topmost `Return-Path`) holding a character that ends a comment
/// or starts a result (`(`, `)`, `;`, `"`, `\`), or the name the sending host gave in the
/// entry line holding anything a host name cannot (Postfix shows such characters as `?`).
/// Servers write both into comments of their results (policyd-spf, rspamd, Gmail).
fn poisoned(trace: &[TraceHeader], entry: Option<usize>) -> Option<&'static str> {
    let unsafe_char = |c: char| "();\"\\".contains(c);
    let envelope = trace.iter().find(|h| h.kind == TraceKind::ReturnPath);
    if envelope.is_some_and(|h| h.value.chars().any(unsafe_char)) {
        return Some(
            "the envelope sender holds characters that can end a comment in the server's own header",
        );
    }
    let host_char = |c: char| c.is_ascii_alphanumeric() || ".-_:[]".contains(c);
    if let Some(i) = entry
        && trace[i]
            .from_host()
            .is_some_and(|h| !h.chars().all(host_char))
    {
        return Some("the sending host gave a name no host can have");
    }
    None
}

fn authserv_id_is(value: &str, id: &str) -> bool {
    authres::parse_lenient(value)
        .authserv_id
        .eq_ignore_ascii_case(id)
}

#[cfg(test)]
mod tests;
