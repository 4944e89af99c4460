//! Classification: what an [`InboundMail`] is (a new complaint, a follow-up, a staff reply, a
//! machine, spam, unreadable, or not for us) and why. Pure: lookups come in through a trait.

use super::mail::InboundMail;
use crate::domain::{CaseRef, EmailAddress};
use crate::settings::{IntakeMode, Role, Settings};
use std::fmt;

/// What klachtd knows about mail it sent and cases it has; implemented by the store.
pub trait KnownCases {
    /// The case a Message-ID we sent belongs to.
    fn case_of_sent_message(&self, message_id: &str) -> Option<CaseRef>;
    /// Whether a case with this reference exists.
    fn case_exists(&self, case: CaseRef) -> bool;
    /// The complainant's address of a case (none once purged).
    fn complainant_of(&self, case: CaseRef) -> Option<String>;
    /// The case of a Message-ID we sent to that case's complainant.
    fn case_of_complainant_message(&self, message_id: &str) -> Option<CaseRef>;
}

/// How a reply was tied to its case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// `[KL-2026-0042]` in the subject.
    SubjectTag,
    /// In-Reply-To or References names a mail klachtd sent.
    Thread,
}

/// The kinds of machine-made mail that are never answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Automatic {
    AutoSubmitted(String),
    Precedence(String),
    MailingList,
    AutoResponseSuppress,
    AutoReplyHeader,
    Bounce,
    OwnMail,
}

/// Where a mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    NewComplaint,
    FollowUp {
        case: CaseRef,
        link: Link,
    },
    /// Names a case but is neither from its complainant nor an answer to our mail to them.
    ThirdParty {
        case: CaseRef,
        link: Link,
    },
    Staff {
        role: Role,
        case: Option<CaseRef>,
    },
    Automatic(Automatic),
    Spam,
    Malformed(String),
    NotAComplaint,
}

impl Classification {
    /// Stored next to the mail, so the register says why each mail went where it went.
    pub fn reason(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Classification::NewComplaint => f.write_str("new complaint"),
            Classification::FollowUp { case, link } => {
                let how = match link {
                    Link::SubjectTag => "subject tag",
                    Link::Thread => "In-Reply-To/References",
                };
                write!(f, "follow-up on {case} (by {how})")
            }
            Classification::ThirdParty { case, link } => {
                let how = match link {
                    Link::SubjectTag => "subject tag",
                    Link::Thread => "In-Reply-To/References",
                };
                write!(
                    f,
                    "third-party mail on {case} (by {how}; not the complainant)"
                )
            }
            Classification::Staff { role, case } => {
                let who = match role {
                    Role::Staff => "staff",
                    Role::Director => "director",
                    Role::Committee => "exam committee",
                };
                match case {
                    Some(c) => write!(f, "mail from {who} on {c}"),
                    None => write!(f, "mail from {who}, no case found"),
                }
            }
            Classification::Automatic(kind) => match kind {
                Automatic::AutoSubmitted(v) => write!(f, "automatic: Auto-Submitted: {v}"),
                Automatic::Precedence(v) => write!(f, "automatic: Precedence: {v}"),
                Automatic::MailingList => {
                    f.write_str("automatic: mailing list (List-Id/List-Unsubscribe)")
                }
                Automatic::AutoResponseSuppress => {
                    f.write_str("automatic: X-Auto-Response-Suppress")
                }
                Automatic::AutoReplyHeader => f.write_str("automatic: X-Autoreply"),
                Automatic::Bounce => {
                    f.write_str("automatic: delivery status notification (bounce)")
                }
                Automatic::OwnMail => f.write_str("automatic: our own mail"),
            },
            Classification::Spam => f.write_str("spam flagged by the server (X-Spam-Flag)"),
            Classification::Malformed(why) => write!(f, "malformed: {why}"),
            Classification::NotAComplaint => {
                f.write_str("not a complaint (intake keywords absent)")
            }
        }
    }
}

/// Decides what `mail` is. The order matters: a machine's mail is never answered even when it
/// carries a case tag, and staff are recognised before anything that looks like a follow-up.
pub fn classify(mail: &InboundMail, settings: &Settings, known: &dyn KnownCases) -> Classification {
    if mail.sender().is_none() && mail.from_unusable.is_none() {
        return Classification::Malformed("no From address".into());
    }
    if let Some(defect) = mail.defects.first() {
        return Classification::Malformed(defect.describe().into());
    }
    if mail.signals.spam_flag {
        return Classification::Spam;
    }
    if let Some(kind) = automatic(mail, &settings.organisation.address) {
        return Classification::Automatic(kind);
    }
    let Some(sender) = mail.sender() else {
        // A person whose address klachtd cannot write to: registered all the same, marked
        // "cannot be answered by mail" (never a role, never a follow-up: nothing proves who).
        return match settings.intake.mode == IntakeMode::Keywords
            && !mentions_keyword(mail, &settings.intake.keywords)
        {
            true => Classification::NotAComplaint,
            false => Classification::NewComplaint,
        };
    };
    let case = linked_case(mail, known);
    if let Some(role) = settings.roles.role_of(sender) {
        return Classification::Staff {
            role,
            case: case.map(|(c, _)| c),
        };
    }
    if let Some((case, link)) = case {
        return if from_complainant(mail, sender, case, known) {
            Classification::FollowUp { case, link }
        } else {
            Classification::ThirdParty { case, link }
        };
    }
    if settings.intake.mode == IntakeMode::Keywords
        && !mentions_keyword(mail, &settings.intake.keywords)
    {
        return Classification::NotAComplaint;
    }
    Classification::NewComplaint
}

fn automatic(mail: &InboundMail, own: &EmailAddress) -> Option<Automatic> {
    let s = &mail.signals;
    // Our own address under any +tag (the reply addresses we hand out) is us as well: mail
    // "from" it is never answered, so a forger cannot make klachtd write to itself.
    if s.ours
        || mail
            .sender()
            .is_some_and(|sender| sender.without_tag() == own.without_tag())
    {
        return Some(Automatic::OwnMail);
    }
    if let Some(v) = s.auto_submitted.as_ref().filter(|v| v.as_str() != "no") {
        return Some(Automatic::AutoSubmitted(v.clone()));
    }
    if s.null_return_path || s.report {
        return Some(Automatic::Bounce);
    }
    let local = match (mail.sender(), &mail.from_unusable) {
        (Some(sender), _) => sender.local_part(),
        (None, Some(raw)) => raw.rsplit_once('@').map_or(raw.as_str(), |(l, _)| l),
        (None, None) => "",
    };
    if local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster") {
        return Some(Automatic::Bounce);
    }
    if let Some(v) = s
        .precedence
        .as_ref()
        .filter(|v| matches!(v.as_str(), "bulk" | "junk" | "list"))
    {
        return Some(Automatic::Precedence(v.clone()));
    }
    if s.list_id || s.list_unsubscribe {
        return Some(Automatic::MailingList);
    }
    if s.x_auto_response_suppress {
        return Some(Automatic::AutoResponseSuppress);
    }
    if s.x_autoreply {
        return Some(Automatic::AutoReplyHeader);
    }
    None
}

fn linked_case(mail: &InboundMail, known: &dyn KnownCases) -> Option<(CaseRef, Link)> {
    if let Some(case) = CaseRef::find_in_subject(&mail.subject).filter(|c| known.case_exists(*c)) {
        return Some((case, Link::SubjectTag));
    }
    mail.thread_ids
        .iter()
        .find_map(|id| known.case_of_sent_message(id))
        .map(|case| (case, Link::Thread))
}

/// The mailbox an address names: without its `+tag`, lower case, the domain in its one ASCII
/// form — `Jan+klacht@X.nl` → `jan@x.nl` ([`EmailAddress::without_tag`]).
pub fn base_address(address: &str) -> String {
    match address.parse::<EmailAddress>() {
        Ok(a) => a.without_tag(),
        Err(_) => address.trim().to_lowercase(),
    }
}

/// Only the complainant adds to a complaint: the mail comes from the complainant's address
/// (without +tag, case-insensitive), or answers a mail we sent the complainant on this case.
fn from_complainant(
    mail: &InboundMail,
    sender: &EmailAddress,
    case: CaseRef,
    known: &dyn KnownCases,
) -> bool {
    let same_address = known
        .complainant_of(case)
        .is_some_and(|c| base_address(&c) == base_address(sender.as_str()));
    same_address
        || mail
            .thread_ids
            .iter()
            .any(|id| known.case_of_complainant_message(id) == Some(case))
}

fn mentions_keyword(mail: &InboundMail, keywords: &[String]) -> bool {
    let subject = mail.subject.to_lowercase();
    let text = mail.text.to_lowercase();
    keywords.iter().map(|k| k.to_lowercase()).any(|k| {
        let is_word = |hay: &str| {
            hay.match_indices(&k).any(|(i, _)| {
                let before = hay[..i].chars().next_back();
                !before.is_some_and(char::is_alphanumeric)
            })
        };
        is_word(&subject) || is_word(&text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct OneCase {
        complainant: String,
        our_ack: String,
    }

    impl KnownCases for OneCase {
        fn case_of_sent_message(&self, id: &str) -> Option<CaseRef> {
            (id == self.our_ack || id == "staff-notification@example.org")
                .then(|| CaseRef::new(2026, 1))
        }
        fn case_exists(&self, case: CaseRef) -> bool {
            case == CaseRef::new(2026, 1)
        }
        fn complainant_of(&self, _: CaseRef) -> Option<String> {
            Some(self.complainant.clone())
        }
        fn case_of_complainant_message(&self, id: &str) -> Option<CaseRef> {
            (id == self.our_ack).then(|| CaseRef::new(2026, 1))
        }
    }

    fn settings() -> Settings {
        Settings::load_with_env(None, Vec::<(String, String)>::new()).unwrap()
    }

    proptest! {
        /// A mail naming the case is the complainant's only from the complainant's address
        /// (any +tag, any case) or in answer to our mail to them; otherwise third-party.
        #[test]
        fn only_the_complainant_adds_to_a_complaint(
            local in "[a-z]{1,6}",
            other in "[a-z]{1,6}",
            tag in proptest::option::of("[a-z0-9]{1,5}"),
            upper in any::<bool>(),
            thread in prop_oneof![Just(None), Just(Some("ack@example.org")), Just(Some("staff-notification@example.org"))],
            by_subject in any::<bool>(),
        ) {
            let known = OneCase { complainant: format!("{local}@example.net"), our_ack: "ack@example.org".into() };
            let mut sender = format!("{other}{}@example.net", tag.map(|t| format!("+{t}")).unwrap_or_default());
            if upper {
                sender = sender.to_uppercase();
            }
            let subject = if by_subject || thread.is_none() { "RE: [KL-2026-0001] x" } else { "RE: x" };
            let raw = format!(
                "From: <{sender}>\r\nTo: info@example.org\r\nSubject: {subject}\r\n{}Message-ID: <m@x>\r\n\r\nTekst\r\n",
                thread.map(|t| format!("In-Reply-To: <{t}>\r\n")).unwrap_or_default()
            );
            let mail = InboundMail::parse(raw.as_bytes()).unwrap();
            let c = classify(&mail, &settings(), &known);
            let complainant = other == local || thread == Some("ack@example.org");
            match c {
                Classification::FollowUp { .. } => prop_assert!(complainant),
                Classification::ThirdParty { .. } => prop_assert!(!complainant),
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }

    #[test]
    fn base_addresses() {
        assert_eq!(base_address("Jan+Klacht@X.NL"), "jan@x.nl");
        assert_eq!(base_address("jan@x.nl"), "jan@x.nl");
    }
}
