//! The authority decision, in one pure function: from what a mail shows (its From address,
//! the trusted server's word, the tokens it carries, the case it is about) and the role table,
//! whether its sender is proven, in which role, and which tokens it shows to have leaked.
//! Every path that takes mail in calls [`decide`]; its truth table is tested below.

use crate::domain::EmailAddress;
use crate::inbound::server_evidence::ServerEvidence;
use crate::settings::{Role, Roles};
use crate::store::tokens::Issued;
use chrono::{DateTime, Duration, Utc};

/// What a mail shows about its sender, gathered by the caller (no I/O here).
#[derive(Debug, Clone)]
pub struct MailFacts<'a> {
    pub from: &'a EmailAddress,
    /// The trusted receiving server's newest Authentication-Results, read against `from`.
    pub server: ServerEvidence,
    /// The tokens the mail presents that klachtd issued (unknown values are left out).
    pub tokens: &'a [Issued],
    /// The existing case the mail is about, if any.
    pub case: Option<i64>,
    /// The mail names a case (subject tag, reply address) that does not exist.
    pub names_missing_case: bool,
    /// The mail also went to an address that has no role and is not ours.
    pub copied_to_outsider: bool,
    /// The mail also went to another role address: the sender's tokens in it are now known
    /// to a colleague. They prove this mail, then are revoked (quietly: the sender gets fresh
    /// ones with every mail klachtd sends them).
    pub copied_to_colleague: bool,
    /// The mail names more than one sender (several From headers, or several addresses in
    /// one): which one a server checked is anyone's guess, so nothing about it is proven.
    pub several_senders: bool,
    /// The From is written exactly as the role address is configured (up to ASCII case).
    /// Another spelling of it (`+tag`, full-width letters, another Unicode form) is that role
    /// address, but one a receiving server's DMARC check may not recognise as our domain: it
    /// never proves itself, and is answered at the configured address.
    pub configured_spelling: bool,
    pub now: DateTime<Utc>,
}

/// How the sender was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Token,
    SmtpAuth,
    /// Exchange Online: the sender logged in to the organisation (`AuthAs: Internal`).
    OrganisationLogin,
    Dmarc,
    Dkim,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// The sender is the From address, in this role (taken from the proven identity).
    Proven { role: Role, by: Method },
    /// A reply to a confirmation request from the address it went to: it may confirm (or
    /// refuse) that held mail, nothing else.
    Confirmation { role: Role, held_id: i64 },
    /// Nothing proves the sender; a role address's commands are held for confirmation.
    Unproven,
}

/// The decision, why, and the tokens to revoke because this mail shows they leaked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub proof: Proof,
    /// English, for the mail ledger.
    pub reason: String,
    /// Dutch, for the people who read the confirmation request and the case history.
    pub reason_nl: String,
    pub revoke: Vec<String>,
    /// Tokens revoked without telling their owner (shown to a colleague in Cc).
    pub revoke_quietly: Vec<String>,
}

/// Decides whether `facts` prove their sender. The rules, in order:
/// 1. A token presented by anyone but its owner, or in mail that also went to someone without
///    a role, has leaked: it is revoked and proves nothing.
/// 2. Only a role address can be proven (strangers have nothing to prove).
/// 3. The trusted server's `smtp.auth`, when present, alone decides: it must equal From.
/// 4. Server evidence against the From domain (`dmarc=fail`, or SPF/DKIM failing with nothing
///    aligned passing) outweighs any token.
/// 5. A token proves only for its owner, on the case it was issued for, while fresh, never
///    when the mail names a case that does not exist; a confirmation request's token makes the
///    mail a confirmation reply for that held mail only.
/// 6. Otherwise DMARC pass, or DKIM pass aligned with the From domain, proves the address.
pub fn decide(facts: &MailFacts<'_>, roles: &Roles, token_lifetime: Duration) -> Decision {
    // The owner's mailbox, however the From spells it (case, `+tag`, compatibility forms).
    let owned = |t: &Issued| {
        t.owner
            .parse::<EmailAddress>()
            .is_ok_and(|owner| owner.same_mailbox(facts.from))
    };
    let revoke: Vec<String> = facts
        .tokens
        .iter()
        .filter(|t| !t.revoked && (!owned(t) || facts.copied_to_outsider))
        .map(|t| t.token.clone())
        .collect();
    let revoke_quietly: Vec<String> = facts
        .tokens
        .iter()
        .filter(|t| !t.revoked && facts.copied_to_colleague && !revoke.contains(&t.token))
        .map(|t| t.token.clone())
        .collect();
    let decision = |proof, reason: &str| Decision {
        proof,
        reason: reason.to_string(),
        reason_nl: dutch(reason).to_string(),
        revoke: revoke.clone(),
        revoke_quietly: revoke_quietly.clone(),
    };
    let Some(role) = roles.role_of(facts.from) else {
        return decision(Proof::Unproven, "not a role address");
    };
    if facts.several_senders {
        return decision(Proof::Unproven, "the mail names more than one sender");
    }
    if !facts.configured_spelling {
        return decision(
            Proof::Unproven,
            "the sender address is written differently from the role address",
        );
    }
    let server = match &facts.server {
        ServerEvidence::SmtpAuth {
            matches_from: true, ..
        } => Some(Method::SmtpAuth),
        ServerEvidence::SmtpAuth {
            matches_from: false,
            ..
        } => {
            return decision(
                Proof::Unproven,
                "the trusted server saw a login (smtp.auth) by another address than From",
            );
        }
        ServerEvidence::Contrary { .. } => {
            return decision(
                Proof::Unproven,
                "the trusted server's results speak against the From domain; a token does not outweigh them",
            );
        }
        ServerEvidence::OrganisationLogin => Some(Method::OrganisationLogin),
        ServerEvidence::Aligned { method: "dmarc" } => Some(Method::Dmarc),
        ServerEvidence::Aligned { .. } => Some(Method::Dkim),
        ServerEvidence::Absent | ServerEvidence::Unreadable | ServerEvidence::Neutral => None,
    };
    let valid = |t: &&Issued| {
        owned(t)
            && !t.revoked
            && !facts.copied_to_outsider
            && !facts.names_missing_case
            && t.case_id == facts.case
            && facts.now - t.issued_at <= token_lifetime
            && t.issued_at <= facts.now
    };
    if let Some(held_id) = facts.tokens.iter().filter(valid).find_map(|t| t.held_id) {
        return decision(
            Proof::Confirmation { role, held_id },
            "reply to a confirmation request",
        );
    }
    if let Some(by) = server {
        return decision(
            Proof::Proven { role, by },
            match by {
                Method::SmtpAuth => "proven: logged in at the trusted server as the From address",
                Method::OrganisationLogin => {
                    "proven: Microsoft 365 saw the sender log in to the organisation"
                }
                Method::Dmarc => "proven: dmarc=pass at the trusted server",
                _ => "proven: DKIM aligned with the From domain at the trusted server",
            },
        );
    }
    if facts.tokens.iter().any(|t| valid(&t)) {
        return decision(
            Proof::Proven {
                role,
                by: Method::Token,
            },
            "proven: a token issued to this address for this case",
        );
    }
    let why = if facts.tokens.is_empty() {
        "no token and no proof from the trusted server"
    } else if facts.copied_to_outsider {
        "the token also went to an address without a role (leaked)"
    } else if facts.tokens.iter().all(|t| !owned(t)) {
        "the token belongs to another address"
    } else if facts.names_missing_case {
        "the mail names a case that does not exist"
    } else if facts.tokens.iter().any(|t| t.revoked) {
        "the token was revoked"
    } else if facts.tokens.iter().all(|t| t.case_id != facts.case) {
        "the token was issued for another case"
    } else {
        "the token has expired"
    };
    decision(Proof::Unproven, why)
}

impl Decision {
    /// The reason in words for the person who reads it.
    pub fn reason_in(&self, lang: crate::domain::Language) -> &'static str {
        match lang {
            crate::domain::Language::Nl => dutch(&self.reason),
            crate::domain::Language::En => english(&self.reason),
        }
    }
}

/// Every reason `decide` (and `evidence::prove`) gives for not proving a sender.
const UNPROVEN_REASONS: [&str; 14] = [
    "no sender",
    "not a role address",
    "the mail names more than one sender",
    "the sender address is written differently from the role address",
    "the trusted server saw a login (smtp.auth) by another address than From",
    "the trusted server's results speak against the From domain; a token does not outweigh them",
    "reply to a confirmation request",
    "no token and no proof from the trusted server",
    "the token also went to an address without a role (leaked)",
    "the token belongs to another address",
    "the mail names a case that does not exist",
    "the token was revoked",
    "the token was issued for another case",
    "the token has expired",
];

/// The English wording of a reason stored in its Dutch wording (`Decision::reason_nl`).
pub fn english_of_dutch_reason(dutch_reason: &str) -> Option<&'static str> {
    UNPROVEN_REASONS
        .into_iter()
        .find(|r| dutch(r) == dutch_reason)
        .map(english)
}

/// The English wording for staff of each reason `decide` gives.
fn english(reason: &str) -> &'static str {
    match reason {
        "no sender" => "the e-mail has no sender",
        "not a role address" => "not an address with a role",
        "the mail names more than one sender" => {
            "the e-mail names more than one sender (several From lines)"
        }
        "the sender address is written differently from the role address" => {
            "the sender's address is written differently from the address klachtd knows (other characters or a +tag)"
        }
        "the trusted server saw a login (smtp.auth) by another address than From" => {
            "our own mail server saw a login by another address than the sender"
        }
        "the trusted server's results speak against the From domain; a token does not outweigh them" => {
            "our own mail server reports that the sender does not check out (dmarc/spf/dkim failed)"
        }
        "reply to a confirmation request" => "a reply to a confirmation request",
        "no token and no proof from the trusted server" => {
            "not a reply to a message of ours and not sent through our own mail server"
        }
        "the token also went to an address without a role (leaked)" => {
            "the e-mail also went to someone without a role, so the key in the reply address leaked and was revoked"
        }
        "the token belongs to another address" => {
            "the reply address belongs to a message to someone else"
        }
        "the mail names a case that does not exist" => {
            "the e-mail names a complaint that does not exist"
        }
        "the token was revoked" => "the key in the reply address was revoked",
        "the token was issued for another case" => "the reply address belongs to another complaint",
        "the token has expired" => "the message you replied to is too old",
        _ => "sender proven",
    }
}

/// The Dutch wording of each reason `decide` gives.
fn dutch(reason: &str) -> &'static str {
    match reason {
        "no sender" => "geen afzender",
        "not a role address" => "geen adres met een rol",
        "the mail names more than one sender" => {
            "de e-mail noemt meer dan één afzender (meerdere From-regels)"
        }
        "the sender address is written differently from the role address" => {
            "het afzenderadres is anders geschreven dan het adres dat klachtd kent (andere tekens of een +toevoeging)"
        }
        "the trusted server saw a login (smtp.auth) by another address than From" => {
            "de eigen mailserver zag een aanmelding met een ander adres dan de afzender"
        }
        "the trusted server's results speak against the From domain; a token does not outweigh them" => {
            "de eigen mailserver meldt dat de afzender niet klopt (dmarc/spf/dkim mislukt)"
        }
        "reply to a confirmation request" => "antwoord op een bevestigingsverzoek",
        "no token and no proof from the trusted server" => {
            "geen antwoord op een bericht van ons en niet via de eigen mailserver verstuurd"
        }
        "the token also went to an address without a role (leaked)" => {
            "de e-mail ging ook naar iemand zonder rol; de sleutel in het antwoordadres is daarmee uitgelekt en ingetrokken"
        }
        "the token belongs to another address" => {
            "het antwoordadres hoort bij een bericht aan iemand anders"
        }
        "the mail names a case that does not exist" => {
            "de e-mail noemt een klacht die niet bestaat"
        }
        "the token was revoked" => "de sleutel in het antwoordadres is ingetrokken",
        "the token was issued for another case" => "het antwoordadres hoort bij een andere klacht",
        "the token has expired" => "het bericht waarop u antwoordde is te oud",
        _ => "afzender bewezen",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roles() -> Roles {
        let mut s = crate::settings::Settings::load_with_env(None, Vec::<(String, String)>::new())
            .unwrap()
            .roles;
        s.staff = vec![
            "anna@example.org".parse().unwrap(),
            "pieter@example.org".parse().unwrap(),
        ];
        s.director = "directie@example.org".parse().unwrap();
        s.committee = "examencommissie@example.org".parse().unwrap();
        s
    }

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn token(owner: &str, case_id: Option<i64>, held: Option<i64>, age_days: i64) -> Issued {
        Issued {
            token: format!("{owner}-{case_id:?}-{held:?}"),
            owner: owner.into(),
            case_id,
            held_id: held,
            issued_at: t0() - Duration::days(age_days),
            revoked: false,
        }
    }

    fn run(from: &str, server: ServerEvidence, tokens: &[Issued], case: Option<i64>) -> Decision {
        let from: EmailAddress = from.parse().unwrap();
        decide(
            &MailFacts {
                from: &from,
                server,
                tokens,
                case,
                names_missing_case: false,
                copied_to_outsider: false,
                copied_to_colleague: false,
                several_senders: false,
                configured_spelling: true,
                now: t0(),
            },
            &roles(),
            Duration::days(30),
        )
    }

    const ANNA: &str = "anna@example.org";

    /// The truth table: one row per rule, in the order `decide` applies them.
    #[test]
    fn truth_table() {
        use ServerEvidence::*;
        let own = || vec![token(ANNA, Some(1), None, 1)];
        let proven = |by| Proof::Proven {
            role: Role::Staff,
            by,
        };
        let auth = |user: &str, m| SmtpAuth {
            user: user.into(),
            matches_from: m,
        };
        let contrary = || Contrary {
            why: "dmarc=fail".into(),
        };
        type Row<'a> = (&'a str, ServerEvidence, Vec<Issued>, Option<i64>, Proof);
        let rows: Vec<Row<'_>> = vec![
            // No evidence at all.
            (ANNA, Absent, vec![], Some(1), Proof::Unproven),
            (ANNA, Neutral, vec![], Some(1), Proof::Unproven),
            (ANNA, Unreadable, vec![], Some(1), Proof::Unproven),
            // A stranger is never proven, whatever the server says.
            (
                "x@evil.example",
                auth("x@evil.example", true),
                vec![],
                Some(1),
                Proof::Unproven,
            ),
            // smtp.auth alone decides.
            (
                ANNA,
                auth(ANNA, true),
                vec![],
                Some(1),
                proven(Method::SmtpAuth),
            ),
            (
                ANNA,
                auth("ANNA@example.org", true),
                vec![],
                None,
                proven(Method::SmtpAuth),
            ),
            (
                ANNA,
                auth("pieter@example.org", false),
                own(),
                Some(1),
                Proof::Unproven,
            ),
            // Contrary evidence outweighs a good token.
            (ANNA, contrary(), own(), Some(1), Proof::Unproven),
            // Aligned DMARC / DKIM.
            (
                ANNA,
                Aligned { method: "dmarc" },
                vec![],
                Some(1),
                proven(Method::Dmarc),
            ),
            (
                ANNA,
                Aligned { method: "dkim" },
                vec![],
                Some(1),
                proven(Method::Dkim),
            ),
            // A token: own, this case, fresh.
            (ANNA, Absent, own(), Some(1), proven(Method::Token)),
            (ANNA, Neutral, own(), Some(1), proven(Method::Token)),
            (ANNA, Absent, own(), Some(2), Proof::Unproven),
            (ANNA, Absent, own(), None, Proof::Unproven),
            (
                ANNA,
                Absent,
                vec![token(ANNA, Some(1), None, 31)],
                Some(1),
                Proof::Unproven,
            ),
            (
                ANNA,
                Absent,
                vec![token(ANNA, Some(1), None, -1)],
                Some(1),
                Proof::Unproven,
            ),
            (
                ANNA,
                Absent,
                vec![token("pieter@example.org", Some(1), None, 1)],
                Some(1),
                Proof::Unproven,
            ),
            (
                ANNA,
                Absent,
                vec![Issued {
                    revoked: true,
                    ..token(ANNA, Some(1), None, 1)
                }],
                Some(1),
                Proof::Unproven,
            ),
            // A caseless token for caseless mail.
            (
                ANNA,
                Absent,
                vec![token(ANNA, None, None, 1)],
                None,
                proven(Method::Token),
            ),
            // A confirmation request's token: a confirmation reply, for its own case only.
            (
                ANNA,
                Absent,
                vec![token(ANNA, Some(1), Some(7), 1)],
                Some(1),
                Proof::Confirmation {
                    role: Role::Staff,
                    held_id: 7,
                },
            ),
            (
                ANNA,
                Absent,
                vec![token(ANNA, Some(1), Some(7), 1)],
                Some(2),
                Proof::Unproven,
            ),
            (
                ANNA,
                auth(ANNA, true),
                vec![token(ANNA, Some(1), Some(7), 1)],
                Some(1),
                Proof::Confirmation {
                    role: Role::Staff,
                    held_id: 7,
                },
            ),
            (
                ANNA,
                contrary(),
                vec![token(ANNA, Some(1), Some(7), 1)],
                Some(1),
                Proof::Unproven,
            ),
            // The role comes from the proven identity.
            (
                "directie@example.org",
                auth("directie@example.org", true),
                vec![],
                None,
                Proof::Proven {
                    role: Role::Director,
                    by: Method::SmtpAuth,
                },
            ),
            (
                "examencommissie@example.org",
                auth("pieter@example.org", false),
                vec![],
                Some(1),
                Proof::Unproven,
            ),
        ];
        for (i, (from, server, tokens, case, want)) in rows.into_iter().enumerate() {
            let got = run(from, server, &tokens, case);
            assert_eq!(got.proof, want, "row {i}: {}", got.reason);
            if got.proof == Proof::Unproven {
                assert_ne!(
                    got.reason_nl, "afzender bewezen",
                    "row {i}: a refusal says why, in Dutch"
                );
            }
        }
    }

    #[test]
    fn a_token_shown_by_someone_else_or_copied_to_an_outsider_is_revoked() {
        let annas = token(ANNA, Some(1), None, 1);
        let d = run(
            "klager@example.net",
            ServerEvidence::Absent,
            std::slice::from_ref(&annas),
            Some(1),
        );
        assert_eq!(d.revoke, vec![annas.token.clone()]);
        let d = run(
            "pieter@example.org",
            ServerEvidence::Absent,
            std::slice::from_ref(&annas),
            Some(1),
        );
        assert_eq!((d.proof, d.revoke.len()), (Proof::Unproven, 1));
        let from: EmailAddress = ANNA.parse().unwrap();
        let tokens = [annas.clone()];
        let d = decide(
            &MailFacts {
                from: &from,
                server: ServerEvidence::Absent,
                tokens: &tokens,
                case: Some(1),
                names_missing_case: false,
                copied_to_outsider: true,
                copied_to_colleague: false,
                several_senders: false,
                configured_spelling: true,
                now: t0(),
            },
            &roles(),
            Duration::days(30),
        );
        assert_eq!(d.proof, Proof::Unproven);
        assert_eq!(d.revoke, vec![annas.token]);
        let d = decide(
            &MailFacts {
                copied_to_outsider: false,
                copied_to_colleague: false,
                names_missing_case: true,
                case: None,
                tokens: &[token(ANNA, None, None, 1)],
                from: &from,
                server: ServerEvidence::Absent,
                several_senders: false,
                configured_spelling: true,
                now: t0(),
            },
            &roles(),
            Duration::days(30),
        );
        assert_eq!(
            d.proof,
            Proof::Unproven,
            "a token never works for a case that does not exist"
        );
        let d = decide(
            &MailFacts {
                copied_to_outsider: false,
                copied_to_colleague: false,
                names_missing_case: false,
                case: None,
                tokens: &[token(ANNA, None, None, 1)],
                from: &from,
                server: ServerEvidence::Aligned { method: "dmarc" },
                several_senders: true,
                configured_spelling: true,
                now: t0(),
            },
            &roles(),
            Duration::days(30),
        );
        assert_eq!(
            d.proof,
            Proof::Unproven,
            "with several From headers neither a token nor the server proves anything"
        );
    }

    fn evidence() -> impl Strategy<Value = ServerEvidence> {
        prop_oneof![
            Just(ServerEvidence::Absent),
            Just(ServerEvidence::Neutral),
            Just(ServerEvidence::Unreadable),
            Just(ServerEvidence::Contrary { why: "x".into() }),
            Just(ServerEvidence::Aligned { method: "dkim" }),
            Just(ServerEvidence::Aligned { method: "dmarc" }),
            Just(ServerEvidence::OrganisationLogin),
            prop_oneof![
                Just(ANNA),
                Just("pieter@example.org"),
                Just("x@evil.example")
            ]
            .prop_map(|u| ServerEvidence::SmtpAuth {
                user: u.into(),
                matches_from: false
            }),
        ]
    }

    fn issued() -> impl Strategy<Value = Issued> {
        (
            prop_oneof![
                Just(ANNA),
                Just("pieter@example.org"),
                Just("directie@example.org")
            ],
            proptest::option::of(1i64..4),
            proptest::option::of(1i64..4),
            -2i64..60,
            any::<bool>(),
        )
            .prop_map(|(o, c, h, age, revoked)| Issued {
                revoked,
                ..token(o, c, h, age)
            })
    }

    proptest! {
        /// Over every combination: no proof for a stranger, none against contrary evidence or
        /// another login, a token never proves for another owner or case, and a leaked token
        /// is always revoked.
        #[test]
        fn the_decision_never_trusts_what_it_must_not(
            from in prop_oneof![Just(ANNA), Just("directie@example.org"), Just("x@evil.example")],
            server in evidence(),
            tokens in proptest::collection::vec(issued(), 0..4),
            case in proptest::option::of(1i64..4),
            missing in any::<bool>(),
            outsider in any::<bool>(),
        ) {
            let addr: EmailAddress = from.parse().unwrap();
            let server = match server {
                ServerEvidence::SmtpAuth { user, .. } => {
                    let m = user == from;
                    ServerEvidence::SmtpAuth { user, matches_from: m }
                }
                other => other,
            };
            let d = decide(&MailFacts { from: &addr, server: server.clone(), tokens: &tokens, case, names_missing_case: missing, copied_to_outsider: outsider, copied_to_colleague: false, several_senders: false, configured_spelling: true, now: t0() }, &roles(), Duration::days(30));
            let by_token = matches!(d.proof, Proof::Confirmation { .. } | Proof::Proven { by: Method::Token, .. });
            if from == "x@evil.example" {
                prop_assert_eq!(&d.proof, &Proof::Unproven);
            }
            if matches!(server, ServerEvidence::Contrary { .. } | ServerEvidence::SmtpAuth { matches_from: false, .. }) {
                prop_assert_eq!(&d.proof, &Proof::Unproven);
            }
            if by_token {
                prop_assert!(!missing && !outsider);
                prop_assert!(tokens.iter().any(|t| t.owner == from && t.case_id == case && !t.revoked));
            }
            if let Proof::Proven { role, .. } | Proof::Confirmation { role, .. } = d.proof {
                prop_assert_eq!(Some(role), roles().role_of(&addr));
            }
            for t in &tokens {
                if !t.revoked && (t.owner != from || outsider) {
                    prop_assert!(d.revoke.contains(&t.token));
                }
            }
        }
    }

    proptest! {
        /// Whatever leaves a sender unproven is told as such in both languages (never as
        /// "sender proven"), and its stored Dutch wording reads back to the English one.
        #[test]
        fn every_unproven_reason_is_worded_in_both_languages(
            from in prop_oneof![Just(ANNA), Just("directie@example.org"), Just("x@evil.example")],
            server in evidence(),
            tokens in proptest::collection::vec(issued(), 0..4),
            case in proptest::option::of(1i64..4),
            missing in any::<bool>(),
            outsider in any::<bool>(),
            several in any::<bool>(),
            spelled in any::<bool>(),
        ) {
            let addr: EmailAddress = from.parse().unwrap();
            let d = decide(&MailFacts { from: &addr, server, tokens: &tokens, case, names_missing_case: missing, copied_to_outsider: outsider, copied_to_colleague: false, several_senders: several, configured_spelling: spelled, now: t0() }, &roles(), Duration::days(30));
            // Another spelling of a role address never proves itself.
            if !spelled {
                prop_assert_eq!(&d.proof, &Proof::Unproven);
            }
            if d.proof == Proof::Unproven {
                prop_assert!(UNPROVEN_REASONS.contains(&d.reason.as_str()), "{}", d.reason);
                let en = d.reason_in(crate::domain::Language::En);
                prop_assert_ne!(d.reason_in(crate::domain::Language::Nl), "afzender bewezen");
                prop_assert_ne!(en, "sender proven");
                prop_assert_eq!(english_of_dutch_reason(&d.reason_nl), Some(en));
            }
        }
    }
}
