//! Proof that a mail from a role address really comes from it: a token klachtd issued to that
//! address (in the Reply-To it wrote, or in the Message-ID a reply quotes), or the trusted
//! receiving server's Authentication-Results. A From header alone proves nothing.

use crate::domain::{CaseRef, EmailAddress};
use crate::inbound::InboundMail;
use crate::store::tokens;
use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;

/// How a sender was proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// A token issued to the sender; `held` when it came with a confirmation request.
    Token {
        case_id: Option<i64>,
        held: Option<i64>,
    },
    /// The trusted server's Authentication-Results, with the method that passed.
    AuthenticationResults(String),
}

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
    all.dedup();
    all
}

/// Compares two secrets without leaking, through timing, how much of them matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Finds a valid token issued to `sender` among those the mail presents. `case_id` limits
/// it to one case (a token for another case proves nothing about this one).
pub fn token_proof(
    conn: &Connection,
    mail: &InboundMail,
    org: &EmailAddress,
    sender: &EmailAddress,
    case_id: Option<i64>,
    valid_for: Duration,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Proof>> {
    let presented = presented_tokens(mail, org);
    if presented.is_empty() {
        return Ok(None);
    }
    let issued = tokens::issued_to(conn, sender)?;
    for candidate in &presented {
        for t in &issued {
            let fresh = now - t.issued_at <= valid_for;
            let same_case = case_id.is_none() || t.case_id == case_id || t.held_id.is_some();
            if constant_time_eq(t.token.as_bytes(), candidate.as_bytes()) && fresh && same_case {
                return Ok(Some(Proof::Token {
                    case_id: t.case_id,
                    held: t.held_id,
                }));
            }
        }
    }
    Ok(None)
}

/// Reads the newest Authentication-Results of the trusted server (RFC 8601): only that one
/// header counts, and only when its authserv-id is the configured one.
pub fn authentication_results_proof(
    mail: &InboundMail,
    trusted_authserv_id: &str,
    sender: &EmailAddress,
) -> Option<Proof> {
    let header = mail.authentication_results.iter().find(|h| {
        h.split(';')
            .next()
            .map(|id| id.split_whitespace().next().unwrap_or_default())
            .is_some_and(|id| id.eq_ignore_ascii_case(trusted_authserv_id))
    })?;
    for result in header.split(';').skip(1) {
        let mut words = result.split_whitespace();
        let Some((method, outcome)) = words.next().and_then(|w| w.split_once('=')) else {
            continue;
        };
        if !outcome.eq_ignore_ascii_case("pass") {
            continue;
        }
        let props: Vec<(String, String)> = result
            .split_whitespace()
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    v.trim_matches(['"', ';']).to_ascii_lowercase(),
                )
            })
            .collect();
        let prop = |key: &str| {
            props
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let domain_aligned = |d: &str| {
            let d = d.trim_start_matches('@');
            let d = d.rsplit_once('@').map_or(d, |(_, dom)| dom);
            d == sender.domain() || sender.domain().ends_with(&format!(".{d}"))
        };
        let ok = match method.to_ascii_lowercase().as_str() {
            "auth" => prop("smtp.auth").is_some_and(|user| user == sender.as_str()),
            "dmarc" => prop("header.from").is_some_and(domain_aligned),
            "dkim" => prop("header.d")
                .or(prop("header.i"))
                .is_some_and(domain_aligned),
            _ => false,
        };
        if ok {
            return Some(Proof::AuthenticationResults(method.to_ascii_lowercase()));
        }
    }
    None
}

/// Whether the trusted server's newest Authentication-Results vouches for the From domain:
/// `dmarc=pass` with `header.from` equal to it, or `spf=pass` with `smtp.mailfrom` in it.
/// Used to decide whether an acknowledgement may quote the sender (never for authority).
pub fn sender_domain_passes(
    mail: &InboundMail,
    trusted_authserv_id: &str,
    sender: &EmailAddress,
) -> bool {
    let Some(header) = mail.authentication_results.iter().find(|h| {
        h.split(';')
            .next()
            .and_then(|id| id.split_whitespace().next())
            .is_some_and(|id| id.eq_ignore_ascii_case(trusted_authserv_id))
    }) else {
        return false;
    };
    header.split(';').skip(1).any(|result| {
        let words: Vec<(String, String)> = result
            .split_whitespace()
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    v.trim_matches('"').to_ascii_lowercase(),
                )
            })
            .collect();
        let Some((method, outcome)) = words.first() else {
            return false;
        };
        let prop = |key: &str| {
            words
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let domain_of = |v: &str| v.rsplit_once('@').map_or(v, |(_, d)| d).to_string();
        outcome == "pass"
            && match method.as_str() {
                "dmarc" => prop("header.from").is_some_and(|d| domain_of(d) == sender.domain()),
                "spf" => prop("smtp.mailfrom").is_some_and(|d| domain_of(d) == sender.domain()),
                _ => false,
            }
    })
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

    fn anna() -> EmailAddress {
        "anna@example.org".parse().unwrap()
    }

    #[test]
    fn only_the_newest_header_of_the_trusted_server_counts() {
        let ok = mail_with(
            "Authentication-Results: mail.example.org; auth=pass (plain) smtp.auth=anna@example.org\r\n",
        );
        assert_eq!(
            authentication_results_proof(&ok, "mail.example.org", &anna()),
            Some(Proof::AuthenticationResults("auth".into()))
        );
        let other_user = mail_with(
            "Authentication-Results: mail.example.org; auth=pass smtp.auth=pieter@example.org\r\n",
        );
        assert_eq!(
            authentication_results_proof(&other_user, "mail.example.org", &anna()),
            None
        );
        let other_server = mail_with(
            "Authentication-Results: evil.example; auth=pass smtp.auth=anna@example.org\r\n",
        );
        assert_eq!(
            authentication_results_proof(&other_server, "mail.example.org", &anna()),
            None
        );
        // A forger's copied header sits below the newest one our server added.
        let copied = mail_with(
            "Authentication-Results: mail.example.org; dkim=none\r\nAuthentication-Results: mail.example.org; auth=pass smtp.auth=anna@example.org\r\n",
        );
        assert_eq!(
            authentication_results_proof(&copied, "mail.example.org", &anna()),
            None
        );
        let dmarc = mail_with(
            "Authentication-Results: mail.example.org; dmarc=pass (p=none) header.from=example.org\r\n",
        );
        assert!(authentication_results_proof(&dmarc, "mail.example.org", &anna()).is_some());
        let dkim_other = mail_with(
            "Authentication-Results: mail.example.org; dkim=pass header.d=gmail.example\r\n",
        );
        assert_eq!(
            authentication_results_proof(&dkim_other, "mail.example.org", &anna()),
            None
        );
        let dmarc_fail = mail_with(
            "Authentication-Results: mail.example.org; dmarc=fail header.from=example.org\r\n",
        );
        assert_eq!(
            authentication_results_proof(&dmarc_fail, "mail.example.org", &anna()),
            None
        );
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
