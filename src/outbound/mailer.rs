//! Queuing the mail a change causes, inside the caller's transaction: rendering, addressing
//! and, for mail to staff, director and committee, the per-address token their replies prove
//! themselves with.

use super::compose::{self, AutoSubmitted, Draft};
use super::templates::{self, Renderer, Template};
use crate::domain::{CaseRef, EmailAddress};
use crate::inbound::Attachment;
use crate::settings::{Language, Settings};
use crate::store::outbox::{self, OutboxKind, Outgoing};
use crate::store::{CaseRecord, cases, tokens};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::message::Mailbox;
use rusqlite::Connection;
use tera::Context;

/// Everything needed to write mail; borrowed from the daemon.
pub struct Mailer<'a> {
    pub settings: &'a Settings,
    pub renderer: &'a Renderer,
    pub tz: Tz,
}

/// A mail to queue: which template, for which case, with what extra values.
pub struct Letter<'a> {
    pub kind: OutboxKind,
    pub template: Template,
    pub case: Option<&'a CaseRecord>,
    pub context: Context,
    pub attachments: &'a [Attachment],
}

impl Mailer<'_> {
    fn org(&self) -> &EmailAddress {
        &self.settings.organisation.address
    }

    fn our_mailbox(&self) -> anyhow::Result<Mailbox> {
        compose::mailbox(self.org(), Some(&self.settings.organisation.sender_name))
    }

    /// The language staff, director and committee read.
    pub fn staff_language(&self) -> Language {
        self.settings.organisation.language
    }

    /// The values every case template may use.
    pub fn case_context(&self, case: &CaseRecord, lang: Language) -> Context {
        let mut c = Context::new();
        c.insert("organisation", &self.settings.organisation.name);
        c.insert("address", self.org().as_str());
        c.insert("reference", &case.reference.to_string());
        c.insert("tag", &case.reference.tag());
        c.insert("subject", &case.subject);
        c.insert("name", &case.complainant_name);
        c.insert("complainant", &case.complainant_address);
        c.insert("body", &bounded_body(&case.body, lang));
        c.insert("quote", &templates::excerpt(&case.body, 600));
        c.insert(
            "received",
            &templates::long_datetime(case.received_at, self.tz, lang),
        );
        c.insert(
            "reaction_due",
            &templates::long_date(case.reaction_due, lang),
        );
        c.insert(
            "reaction_days",
            &self.settings.deadlines.reaction_working_days,
        );
        c.insert(
            "closing_days",
            &self.settings.deadlines.closing_working_days,
        );
        c.insert(
            "closing_due",
            &case.closing_due.map(|d| templates::long_date(d, lang)),
        );
        c.insert("status", case.status.label(lang));
        c.insert("handler", &case.handler);
        c.insert("category", &case.category);
        c.insert("cause", &case.cause);
        c.insert("solution", &case.solution);
        c.insert("measure", &case.measure);
        c.insert("agreement", &case.agreement);
        c.insert("verdict", &case.verdict);
        // Display forms for staff mail: "-" where nothing is recorded yet.
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        c.insert("handler_text", &dash(&case.handler));
        c.insert("category_text", &dash(&case.category));
        c.insert("cause_text", &dash(&case.cause));
        c.insert("solution_text", &dash(&case.solution));
        let agreement = match (case.agreement, lang) {
            (Some(true), Language::Nl) => "ja",
            (Some(false), Language::Nl) => "nee",
            (Some(true), Language::En) => "yes",
            (Some(false), Language::En) => "no",
            (None, _) => "-",
        };
        c.insert("agreement_text", agreement);
        c.insert("committee", self.settings.roles.committee.as_str());
        c.insert(
            "example_handler",
            self.settings
                .roles
                .staff
                .first()
                .map(EmailAddress::as_str)
                .unwrap_or_default(),
        );
        c.insert("attachments", &Vec::<String>::new());
        c
    }

    /// Queues a mail to the complainant of `case`: from info@, reply-to info@, threaded to
    /// their first mail, never showing a staff member's address.
    pub fn to_complainant(
        &self,
        tx: &Connection,
        letter: Letter<'_>,
        auto: AutoSubmitted,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.to_complainant_at(tx, letter, auto, now, now)
    }

    /// As [`Mailer::to_complainant`], not sent before `send_at`.
    pub fn to_complainant_at(
        &self,
        tx: &Connection,
        letter: Letter<'_>,
        auto: AutoSubmitted,
        now: DateTime<Utc>,
        send_at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let case = letter.case.expect("mail to a complainant is about a case");
        let Some(address) = case.complainant_address.as_deref() else {
            return Ok(()); // purged, or an address nobody can write to
        };
        let address: EmailAddress = address.parse()?;
        let lang = Language::parse(&case.language).unwrap_or_default();
        let rendered = self
            .renderer
            .render(letter.template, lang, &letter.context)?;
        let origin = cases::origin_message_id(tx, case.id)?;
        let references: Vec<String> = origin.iter().cloned().collect();
        let message_id = compose::new_message_id(
            Some(case.reference),
            letter.kind.id_tag(),
            self.org().domain(),
        );
        let draft = Draft {
            from: self.our_mailbox()?,
            to: vec![compose::mailbox(
                &address,
                case.complainant_name.as_deref(),
            )?],
            reply_to: None,
            case: Some(case.reference),
            rendered: &rendered,
            in_reply_to: origin.as_deref(),
            references: &references,
            attachments: letter.attachments,
            auto_submitted: auto,
        };
        self.queue(
            tx,
            &draft,
            &message_id,
            Some(case),
            letter.kind,
            &address,
            (now, send_at),
        )
    }

    /// Queues a mail to one role address (staff, director, committee) with a fresh token in
    /// its Reply-To and Message-ID, issued to that address; `held` ties the token to commands
    /// waiting for confirmation.
    ///
    /// Mail for a role about a case never goes to that case's complainant: on their own case a
    /// staff member, the director or the committee is the complainant, and gets only what a
    /// complainant gets (one choke point for every such letter).
    pub fn to_role(
        &self,
        tx: &Connection,
        letter: Letter<'_>,
        recipient: &EmailAddress,
        held: Option<i64>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        if letter.case.is_some_and(|c| is_complainant(c, recipient)) {
            tracing::info!(
                case = letter.case.map(|c| tracing::field::display(c.reference)),
                kind = letter.kind.as_str(),
                "not sent to a role address that is this case's complainant"
            );
            return Ok(());
        }
        let token = tokens::new_token();
        let case_ref = letter.case.map(|c| c.reference);
        tokens::issue(tx, &token, letter.case.map(|c| c.id), recipient, held, now)?;
        let rendered =
            self.renderer
                .render(letter.template, self.staff_language(), &letter.context)?;
        let message_id =
            token_message_id(case_ref, letter.kind.id_tag(), &token, self.org().domain());
        let reply_to = reply_address(self.org(), case_ref, &token)?;
        let draft = Draft {
            from: self.our_mailbox()?,
            to: vec![compose::mailbox(recipient, None)?],
            reply_to: Some(compose::mailbox(
                &reply_to,
                Some(&self.settings.organisation.sender_name),
            )?),
            case: case_ref,
            rendered: &rendered,
            in_reply_to: None,
            references: &[],
            attachments: letter.attachments,
            auto_submitted: AutoSubmitted::AutoGenerated,
        };
        self.queue(
            tx,
            &draft,
            &message_id,
            letter.case,
            letter.kind,
            recipient,
            (now, now),
        )
    }

    /// Queues the same letter to each address, each with its own token.
    pub fn to_roles(
        &self,
        tx: &Connection,
        letter: Letter<'_>,
        recipients: &[EmailAddress],
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        for r in recipients {
            let copy = Letter {
                kind: letter.kind,
                template: letter.template,
                case: letter.case,
                context: letter.context.clone(),
                attachments: letter.attachments,
            };
            self.to_role(tx, copy, r, None, now)?;
        }
        Ok(())
    }

    /// Queues a notice that belongs to no case (quarantine) to the director.
    pub fn to_director_without_case(
        &self,
        tx: &Connection,
        letter: Letter<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let rendered =
            self.renderer
                .render(letter.template, self.staff_language(), &letter.context)?;
        let director = &self.settings.roles.director;
        let draft = Draft {
            from: self.our_mailbox()?,
            to: vec![compose::mailbox(director, None)?],
            reply_to: None,
            case: None,
            rendered: &rendered,
            in_reply_to: None,
            references: &[],
            attachments: letter.attachments,
            auto_submitted: AutoSubmitted::AutoGenerated,
        };
        let message_id = compose::new_message_id(None, letter.kind.id_tag(), self.org().domain());
        self.queue(
            tx,
            &draft,
            &message_id,
            None,
            letter.kind,
            director,
            (now, now),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn queue(
        &self,
        tx: &Connection,
        draft: &Draft<'_>,
        message_id: &str,
        case: Option<&CaseRecord>,
        kind: OutboxKind,
        recipient: &EmailAddress,
        (now, send_at): (DateTime<Utc>, DateTime<Utc>),
    ) -> anyhow::Result<()> {
        let bytes = compose::build(draft, message_id, now)?;
        outbox::queue_at(
            tx,
            &Outgoing {
                message_id,
                case_id: case.map(|c| c.id),
                kind,
                envelope_from: self.org().as_str(),
                recipients: &[recipient.to_string()],
                raw: &bytes,
                basis: case.and_then(|c| c.basis.as_ref()),
            },
            now,
            send_at,
        )?;
        Ok(())
    }
}

/// Whether `address` is the complainant of `case` (the mailbox: no +tag, any case).
pub fn is_complainant(case: &CaseRecord, address: &EmailAddress) -> bool {
    case.complainant_address
        .as_deref()
        .and_then(|c| c.parse::<EmailAddress>().ok())
        .is_some_and(|c| c.without_tag() == address.without_tag())
}

/// At most this many characters of a text go into one mail; the rest is in the register.
/// Keeps the rendering of one mail bounded however long a complaint is.
pub const MAX_TEXT_IN_MAIL: usize = 100_000;

/// A complaint's text as mail shows it: whole, or cut at [`MAX_TEXT_IN_MAIL`] with a note
/// saying where the rest is.
pub fn bounded_body(text: &str, lang: Language) -> String {
    if text.len() <= MAX_TEXT_IN_MAIL {
        return text.to_string();
    }
    let note = match lang {
        Language::Nl => {
            "[De tekst is hier ingekort; de volledige tekst staat in het register: klachtd case <kenmerk>.]"
        }
        Language::En => {
            "[The text is shortened here; the full text is in the register: klachtd case <reference>.]"
        }
    };
    format!("{}\n\n{note}", templates::excerpt(text, MAX_TEXT_IN_MAIL))
}

/// `kl-2026-0042.transcript.<token>@domain`: a reply quoting it proves its sender.
pub fn token_message_id(case: Option<CaseRef>, tag: &str, token: &str, domain: &str) -> String {
    let prefix = case
        .map(|c| c.to_string().to_ascii_lowercase())
        .unwrap_or_else(|| "klachtd".into());
    format!("{prefix}.{tag}.{token}@{domain}")
}

/// What [`reply_address`] adds to the organisation's local part at most:
/// `+kl-2026-0042.` (14) and a 24-character token.
pub const REPLY_ADDRESS_EXTRA: usize = 14 + 24;

/// `info+kl-2026-0042.<token>@domain`: the Reply-To of mail to a role address.
pub fn reply_address(
    org: &EmailAddress,
    case: Option<CaseRef>,
    token: &str,
) -> anyhow::Result<EmailAddress> {
    let prefix = case
        .map(|c| c.to_string().to_ascii_lowercase())
        .unwrap_or_else(|| "klachtd".into());
    Ok(format!("{}+{prefix}.{token}@{}", org.local_part(), org.domain()).parse()?)
}
