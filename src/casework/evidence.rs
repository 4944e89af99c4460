//! Gathering what a mail shows about its sender — the tokens it presents (in the Reply-To
//! klachtd wrote, or in the Message-IDs a reply quotes), the trusted receiving server's
//! Authentication-Results, who else it went to — for [`proof::decide`], which rules on it.
//! A From header alone proves nothing.

use super::proof::{self, Decision, MailFacts};
use crate::domain::Language;
use crate::domain::{CaseRef, EmailAddress};
use crate::inbound::InboundMail;
use crate::inbound::server_evidence::{self, Reading};
use crate::settings::{Roles, Settings};
use crate::store::tokens::{self, Issued};
use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;

/// Tokens a mail presents: in a recipient address `info+kl-2026-0042.<token>@domain`, and in
/// the Message-IDs it replies to, `kl-2026-0042.<kind>.<token>@domain`.
pub fn presented_tokens(mail: &InboundMail, org: &EmailAddress) -> Vec<String> {
    let plus = format!("{}+", org.local_part());
    let from_addresses = mail.recipients.iter().filter_map(|r| {
        let (local, domain) = r.rsplit_once('@')?;
        (domain == org.domain()).then_some(())?;
        let detail = local.strip_prefix(&plus)?;
        detail.rsplit_once('.').map(|(_, token)| token.to_string())
    });
    let from_ids = mail.thread_ids.iter().filter_map(|id| {
        let (local, domain) = id.rsplit_once('@')?;
        (domain.eq_ignore_ascii_case(org.domain())).then_some(())?;
        local
            .rsplit_once('.')
            .map(|(_, token)| token.to_ascii_lowercase())
    });
    let mut all: Vec<String> = from_addresses
        .chain(from_ids)
        .filter(|t| t.len() == 24 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Compares two secrets without leaking, through timing, how much of them matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The tokens klachtd issued among those the mail presents, whoever they were issued to.
pub fn issued_tokens(
    conn: &Connection,
    mail: &InboundMail,
    org: &EmailAddress,
) -> anyhow::Result<Vec<Issued>> {
    let mut found = Vec::new();
    for candidate in presented_tokens(mail, org) {
        // Looked up by value (an index), then compared in constant time for good measure.
        if let Some(t) = tokens::find(conn, &candidate)?
            && constant_time_eq(t.token.as_bytes(), candidate.as_bytes())
        {
            found.push(t);
        }
    }
    Ok(found)
}

/// Whether the mail also went to someone who has no role and is not us (a reply-all with
/// the complainant in Cc hands them the token).
pub fn copied_to_outsider(mail: &InboundMail, org: &EmailAddress, roles: &Roles) -> bool {
    let plus = format!("{}+", org.local_part());
    mail.recipients.iter().any(|r| {
        let ours = r.rsplit_once('@').is_some_and(|(local, domain)| {
            domain.eq_ignore_ascii_case(org.domain())
                && (local == org.local_part() || local.starts_with(&plus))
        });
        let role = r
            .parse::<EmailAddress>()
            .ok()
            .and_then(|a| roles.role_of(&a))
            .is_some();
        !ours && !role
    })
}

/// Whether the mail also went to another role address than its sender's (a reply-all with a
/// colleague in Cc hands them the sender's token: it proves this mail, then is revoked).
pub fn copied_to_colleague(mail: &InboundMail, roles: &Roles) -> bool {
    let Some(from) = mail.sender() else {
        return false;
    };
    mail.recipients.iter().any(|r| {
        r.parse::<EmailAddress>()
            .ok()
            .is_some_and(|a| roles.role_of(&a).is_some() && !a.same_mailbox(from))
    })
}

/// Gathers what `mail` shows about its sender and decides ([`proof::decide`]).
pub fn prove(
    conn: &Connection,
    mail: &InboundMail,
    settings: &Settings,
    case: Option<i64>,
    names_missing_case: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<Decision> {
    let org = &settings.organisation.address;
    let Some(from) = mail.sender() else {
        return Ok(Decision {
            proof: proof::Proof::Unproven,
            reason: "no sender".into(),
            reason_nl: "geen afzender".into(),
            revoke: Vec::new(),
            revoke_quietly: Vec::new(),
        });
    };
    let tokens = issued_tokens(conn, mail, org)?;
    let server = reading(mail, settings, from).evidence(from);
    Ok(proof::decide(
        &MailFacts {
            from,
            server,
            tokens: &tokens,
            case,
            names_missing_case,
            copied_to_outsider: copied_to_outsider(mail, org, &settings.roles),
            copied_to_colleague: copied_to_colleague(mail, &settings.roles),
            several_senders: mail.several_senders,
            configured_spelling: settings
                .roles
                .role_address(from)
                .is_some_and(|(_, configured)| configured == from),
            now,
        },
        &settings.roles,
        Duration::days(i64::from(settings.security.token_days)),
    ))
}

/// What the receiving platform wrote about `mail`'s sender (`security.platform`).
pub fn reading(mail: &InboundMail, settings: &Settings, from: &EmailAddress) -> Reading {
    server_evidence::read(
        &mail.trace,
        &server_evidence::Receiver::configured(&settings.security),
        from,
    )
}

/// Where a mail came from, in one plain line for people: the relay that handed it to our
/// receiving server, and every result about the sender's domain, failures first.
pub fn origin_line(mail: &InboundMail, settings: &Settings, lang: Language) -> String {
    let nl = lang == Language::Nl;
    let Some(from) = mail.sender() else {
        return if nl { "geen afzender" } else { "no sender" }.into();
    };
    let reading = reading(mail, settings, from);
    let hop = reading.handed_in_by.clone().unwrap_or_else(|| {
        if nl {
            "onbekend (geen ontvangstregel)"
        } else {
            "unknown (no Received line)"
        }
        .into()
    });
    let hop = if nl {
        format!("afgeleverd door {hop}")
    } else {
        format!("handed in by {hop}")
    };
    let results = reading.results_for_people();
    let results = match (
        server_evidence::Receiver::configured(&settings.security),
        results.is_empty(),
    ) {
        (server_evidence::Receiver::Untrusted, true) if nl => {
            "controle door de eigen mailserver: niet ingesteld (security.platform)".to_string()
        }
        (server_evidence::Receiver::Untrusted, true) => {
            "checks by our own mail server: not configured (security.platform)".to_string()
        }
        (_, true) if nl => "geen controleresultaten voor de afzender".to_string(),
        (_, true) => "no check results for the sender".to_string(),
        (_, false) if nl => format!("controles: {}", results.join(", ")),
        (_, false) => format!("checks: {}", results.join(", ")),
    };
    let line = format!("{hop}; {results}");
    line.chars().take(600).collect()
}

/// Whether the receiving platform vouches for the From address (a login as it, DMARC pass
/// or aligned DKIM pass, and nothing against it). Decides only whether an acknowledgement
/// may quote the sender's words and whether it waits behind a flood; never authority,
/// which is [`prove`]'s.
pub fn sender_vouched(mail: &InboundMail, settings: &Settings) -> bool {
    mail.sender()
        .is_some_and(|from| reading(mail, settings, from).vouches(from))
}

/// The reference a mail's tokens point at, when the mail has no tag or thread of its own.
pub fn case_of_reply_address(mail: &InboundMail, org: &EmailAddress) -> Option<CaseRef> {
    let plus = format!("{}+", org.local_part());
    mail.recipients.iter().find_map(|r| {
        let (local, _) = r.rsplit_once('@')?;
        let detail = local.strip_prefix(&plus)?;
        detail.rsplit_once('.')?.0.to_ascii_uppercase().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail_with(headers: &str) -> InboundMail {
        let raw = format!(
            "{headers}From: anna@example.org\r\nTo: info@example.org\r\nSubject: x\r\n\r\nbody\r\n"
        );
        InboundMail::parse(raw.as_bytes()).unwrap()
    }

    #[test]
    fn tokens_are_found_in_reply_addresses_and_quoted_ids() {
        let token = "0123456789abcdef01234567";
        let m = mail_with(&format!(
            "In-Reply-To: <kl-2026-0042.new.{token}@example.org>\r\nCc: info+kl-2026-0042.{token}@example.org\r\n"
        ));
        let org: EmailAddress = "info@example.org".parse().unwrap();
        assert_eq!(presented_tokens(&m, &org), vec![token.to_string()]);
        let foreign = mail_with(&format!(
            "In-Reply-To: <kl-2026-0042.new.{token}@elsewhere.example>\r\n"
        ));
        assert!(presented_tokens(&foreign, &org).is_empty());
        assert_eq!(
            case_of_reply_address(&m, &org),
            Some(CaseRef::new(2026, 42))
        );
    }

    #[test]
    fn constant_time_comparison_is_still_a_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
