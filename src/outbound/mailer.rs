//! Queuing the mail a change causes, inside the caller's transaction — the one place every
//! mail klachtd sends passes: the budget ([`super::budget`]) admits it, then it is rendered
//! (for staff, director and committee with the per-address token their replies prove
//! themselves with, and with words from outside made inert), kept within its hard size, rid
//! of any token issued to someone else, and queued.

use super::budget::{Admission, Budget, Cause, Request};
use super::compose::{self, AutoSubmitted, Draft};
use super::inert;
use super::templates::{self, Rendered, Renderer, Template};
use crate::domain::Attachment;
use crate::domain::Language;
use crate::domain::{CaseRef, EmailAddress};
use crate::settings::Settings;
use crate::store::outbox::{self, OutboxKind, Outgoing};
use crate::store::{CaseRecord, QueuedMail, cases, notices, tokens};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::message::Mailbox;
use rusqlite::Connection;
use serde::Serialize;
use tera::Context;

/// Everything needed to write mail; borrowed from the daemon.
pub struct Mailer<'a> {
    pub settings: &'a Settings,
    pub renderer: &'a Renderer,
    pub tz: Tz,
}

/// A mail to queue: which template, for which case, with what extra values, what caused it.
pub struct Letter<'a> {
    pub kind: OutboxKind,
    pub template: Template,
    pub case: Option<&'a CaseRecord>,
    pub context: Context,
    /// Files to enclose, as far as the mail's size allows; the rest are named.
    pub attachments: &'a [Attachment],
    /// Where those files are kept, so that one left out is named with how to fetch it.
    pub files: Files,
    /// What caused the mail: the budget limits mail caused by unproven senders.
    pub cause: Cause,
}

/// Where the files of a letter are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Files {
    /// Nowhere else (there are none, or they are not kept).
    None,
    /// On the letter's case, the first of them as number `first` (`klachtd attachment`).
    Case { first: usize },
    /// Made by `klachtd report --year YEAR`.
    Report { year: i32 },
}

/// What became of a letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// In the outbox, leaving at this moment.
    At(DateTime<Utc>),
    /// Held back by the budget (recorded; a summary reports it to a role address).
    HeldBack,
    /// An acknowledgement to a mailbox that had one today, or a summary not yet due.
    NotSent,
}

impl Queued {
    pub fn is_queued(self) -> bool {
        matches!(self, Queued::At(_))
    }
}

/// A file of a letter as its mail names it: enclosed, or kept elsewhere.
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentNote {
    /// 1-based number on the case (`klachtd attachment KL-… N`), 0 when not on a case.
    pub number: usize,
    pub name: String,
    pub size: String,
    pub attached: bool,
    pub readable: bool,
    /// The command that writes the file, when it is not enclosed.
    pub fetch: String,
}

/// The most a mail klachtd sends may take besides its enclosed files: text, HTML, headers.
pub const TEXT_ALLOWANCE: usize = 1024 * 1024;

/// Who a mail goes to, and how it is addressed.
struct Addressing<'a> {
    recipient: &'a EmailAddress,
    name: Option<&'a str>,
    /// Staff, director or committee: their language, words from outside made inert.
    role: bool,
    /// A token in the Reply-To and the Message-ID (tied to a held mail, if any).
    token: Option<Option<i64>>,
    /// Threaded to the case's first mail (the complainant's).
    threaded: bool,
    auto: AutoSubmitted,
}

impl Mailer<'_> {
    fn org(&self) -> &EmailAddress {
        &self.settings.organisation.address
    }

    fn our_mailbox(&self) -> anyhow::Result<Mailbox> {
        compose::mailbox(self.org(), Some(&self.settings.organisation.sender_name))
    }

    fn budget(&self) -> Budget<'_> {
        Budget {
            settings: self.settings,
            tz: self.tz,
        }
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
        // Why a reader gets a case that concerns a colleague (issue 25); set by the sender.
        c.insert("confidential", "");
        c.insert("omitted", &Vec::<String>::new());
        c.insert("late", &false);
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
    ) -> anyhow::Result<Queued> {
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
    ) -> anyhow::Result<Queued> {
        let case = letter.case.expect("mail to a complainant is about a case");
        let Some(address) = case.complainant_address.as_deref() else {
            return Ok(Queued::NotSent); // purged, or an address nobody can write to
        };
        let address: EmailAddress = address.parse()?;
        self.queue(
            tx,
            letter,
            &Addressing {
                recipient: &address,
                name: case.complainant_name.as_deref(),
                role: false,
                token: None,
                threaded: true,
                auto,
            },
            now,
            send_at,
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
    ) -> anyhow::Result<Queued> {
        if letter.case.is_some_and(|c| is_complainant(c, recipient)) {
            tracing::info!(
                case = letter.case.map(|c| tracing::field::display(c.reference)),
                kind = letter.kind.as_str(),
                "not sent to a role address that is this case's complainant"
            );
            return Ok(Queued::NotSent);
        }
        self.queue(
            tx,
            letter,
            &Addressing {
                recipient,
                name: None,
                role: true,
                token: Some(held),
                threaded: false,
                auto: AutoSubmitted::AutoGenerated,
            },
            now,
            now,
        )
    }

    /// Queues the same letter to each address, each with its own token; what became of each.
    pub fn to_roles(
        &self,
        tx: &Connection,
        letter: Letter<'_>,
        recipients: &[EmailAddress],
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Queued>> {
        let mut out = Vec::with_capacity(recipients.len());
        for r in recipients {
            let copy = Letter {
                kind: letter.kind,
                template: letter.template,
                case: letter.case,
                context: letter.context.clone(),
                attachments: letter.attachments,
                files: letter.files,
                cause: letter.cause,
            };
            out.push(self.to_role(tx, copy, r, None, now)?);
        }
        Ok(out)
    }

    /// Queues a notice that belongs to no case (quarantine, alerts) to the director.
    pub fn to_director_without_case(
        &self,
        tx: &Connection,
        letter: Letter<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Queued> {
        self.queue(
            tx,
            letter,
            &Addressing {
                recipient: &self.settings.roles.director,
                name: None,
                role: true,
                token: None,
                threaded: false,
                auto: AutoSubmitted::AutoGenerated,
            },
            now,
            now,
        )
    }

    /// A notice to the director that belongs to no case, finished but not queued: its
    /// Message-ID and bytes (for an alert that cannot wait in the outbox).
    pub fn director_mail(
        &self,
        letter: Letter<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(String, Vec<u8>)> {
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
        let bytes = compose::build(&draft, &message_id, now)?;
        Ok((message_id, bytes))
    }

    /// Puts on record a notice [`Mailer::director_mail`] finished and the transport sent
    /// directly while the database could not be written: admitted by the budget like every
    /// mail (klachtd's own alert, `Cause::Proven`: never held back; already sent, it is
    /// recorded whatever the budget says), written to the outbox and marked sent.
    pub fn record_sent_directly(&self, tx: &Connection, mail: &QueuedMail) -> anyhow::Result<()> {
        let request = Request {
            kind: mail.kind,
            cause: Cause::Proven,
            recipient: &self.settings.roles.director,
            case: None,
            now: mail.created_at,
            not_before: mail.created_at,
        };
        let (at, capped) = match self.budget().admit(tx, &request)? {
            Admission::Queue { at, capped } => (at, capped),
            _ => (mail.created_at, false),
        };
        let id = outbox::queue_at(
            tx,
            &Outgoing {
                message_id: &mail.message_id,
                case_id: None,
                kind: mail.kind,
                envelope_from: &mail.envelope_from,
                recipients: &mail.recipients,
                raw: &mail.raw,
                basis: None,
            },
            mail.created_at,
            at,
        )?;
        self.budget().counted(tx, id, &request, at, capped)?;
        outbox::mark_sent(tx, id, mail.created_at)
    }

    /// The one way into the outbox.
    fn queue(
        &self,
        tx: &Connection,
        mut letter: Letter<'_>,
        to: &Addressing<'_>,
        now: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> anyhow::Result<Queued> {
        let request = Request {
            kind: letter.kind,
            cause: letter.cause,
            recipient: to.recipient,
            case: letter.case,
            now,
            not_before,
        };
        let (at, capped) = match self.budget().admit(tx, &request)? {
            Admission::Queue { at, capped } => (at, capped),
            Admission::HeldBack => {
                // Never dropped from the register: the case's history says so too.
                if let Some(case) = letter.case {
                    cases::add_event(
                        tx,
                        case.id,
                        now,
                        "not_sent",
                        None,
                        &format!(
                            "{} aan {} niet afzonderlijk verstuurd: het maximum van {} berichten per 24 uur voor niet-bewezen afzenders was bereikt; opgenomen in de samenvatting",
                            letter.kind.as_str(),
                            to.recipient,
                            self.settings.outbound.unproven_per_day
                        ),
                    )?;
                }
                tracing::info!(
                    case = letter.case.map(|c| tracing::field::display(c.reference)),
                    kind = letter.kind.as_str(),
                    "held back by the outbound budget (unproven senders); recorded for the summary"
                );
                return Ok(Queued::HeldBack);
            }
            Admission::AlreadyAcknowledged | Admission::SummaryWaits => {
                return Ok(Queued::NotSent);
            }
        };
        if letter.kind == OutboxKind::Acknowledgement && capped {
            self.watch_flood(tx, at, now)?;
        }
        let lang = match (to.role, letter.case) {
            (false, Some(case)) => Language::parse(&case.language).unwrap_or_default(),
            _ => self.staff_language(),
        };
        // A letter leaving on or after the deadline it names says so rather than name it.
        if let Some(case) = letter.case
            && at > now
        {
            let leaves = at.with_timezone(&self.tz).date_naive();
            letter
                .context
                .insert("late", &(leaves >= case.reaction_due));
        }
        let (attached, mut notes) = self.fit(&letter, lang);
        name_files(&mut letter.context, &notes);
        if to.role {
            // Taken, not cloned: the context holds the complaint's text (twice).
            let mut value = std::mem::replace(&mut letter.context, Context::new()).into_json();
            let extra: &[&str] = if letter.template == Template::ThirdPartyNotification {
                &["body"]
            } else {
                &[]
            };
            let keys: Vec<&str> = inert::INERT_KEYS.iter().chain(extra).copied().collect();
            inert::make_inert(&mut value, &keys);
            letter.context = Context::from_value(value)?;
        }

        let case_ref = letter.case.map(|c| c.reference);
        let (message_id, reply_to) = match to.token {
            Some(held) => {
                let token = tokens::new_token();
                tokens::issue(
                    tx,
                    &token,
                    letter.case.map(|c| c.id),
                    to.recipient,
                    held,
                    now,
                )?;
                (
                    token_message_id(case_ref, letter.kind.id_tag(), &token, self.org().domain()),
                    Some(compose::mailbox(
                        &reply_address(self.org(), case_ref, &token)?,
                        Some(&self.settings.organisation.sender_name),
                    )?),
                )
            }
            None => (
                compose::new_message_id(case_ref, letter.kind.id_tag(), self.org().domain()),
                None,
            ),
        };
        let origin = match (to.threaded, letter.case) {
            (true, Some(case)) => cases::origin_message_id(tx, case.id)?,
            _ => None,
        };
        let references: Vec<String> = origin.iter().cloned().collect();
        let mut foreign: Vec<String> = Vec::new();
        let mut files = attached;
        for file in &mut files {
            scrub_file(tx, file, to.recipient, &mut foreign)?;
        }
        let cap = self.settings.outbound.attach_max_bytes + TEXT_ALLOWANCE;
        let mut limit = MAX_TEXT_IN_MAIL;
        let mut rendered = self
            .renderer
            .render(letter.template, lang, &letter.context)?;
        if rendered.text.len() > MAX_TEXT_IN_MAIL + MAX_TEXT_IN_MAIL / 5 {
            rendered = self.render_bounded(&letter, lang, limit)?;
        }
        let bytes = loop {
            let scrubbed = scrub_rendered(tx, &rendered, to.recipient, lang, &mut foreign)?;
            let draft = Draft {
                from: self.our_mailbox()?,
                to: vec![compose::mailbox(to.recipient, to.name)?],
                reply_to: reply_to.clone(),
                case: case_ref,
                rendered: scrubbed.as_ref().unwrap_or(&rendered),
                in_reply_to: origin.as_deref(),
                references: &references,
                attachments: &files,
                auto_submitted: to.auto,
            };
            let bytes = compose::build(&draft, &message_id, now)?;
            if bytes.len() <= cap {
                break bytes;
            }
            // Over the hard size: the texts from outside cut shorter, and at the last the
            // files left out too (the fit leaves room, so only an extreme text gets here).
            if limit <= 1_000 {
                anyhow::ensure!(
                    !files.is_empty(),
                    "a mail stays over its size limit ({} > {cap} bytes) with every text cut",
                    bytes.len()
                );
                // The files go too, and the mail says so.
                files.clear();
                notes.iter_mut().for_each(|n| n.attached = false);
                name_files(&mut letter.context, &notes);
            } else {
                limit /= 4;
            }
            rendered = self.render_bounded(&letter, lang, limit)?;
        };
        let id = outbox::queue_at(
            tx,
            &Outgoing {
                message_id: &message_id,
                case_id: letter.case.map(|c| c.id),
                kind: letter.kind,
                envelope_from: self.org().as_str(),
                recipients: &[to.recipient.to_string()],
                raw: &bytes,
                basis: letter.case.and_then(|c| c.basis.as_ref()),
            },
            now,
            at,
        )?;
        self.budget().counted(tx, id, &request, at, capped)?;
        self.revoke_foreign(tx, &foreign, letter.cause, now)?;
        Ok(Queued::At(at))
    }

    /// Renders `letter` with every text in its context cut at `limit` characters and every list
    /// at a matching length.
    fn render_bounded(
        &self,
        letter: &Letter<'_>,
        lang: Language,
        limit: usize,
    ) -> anyhow::Result<Rendered> {
        let mut value = letter.context.clone().into_json();
        bound_texts(&mut value, limit, lang);
        self.renderer
            .render(letter.template, lang, &Context::from_value(value)?)
    }

    /// Which files go with the mail: readable ones, in order, while their total as sent stays
    /// within `outbound.attach_max_bytes`; and how the mail names each.
    fn fit(&self, letter: &Letter<'_>, lang: Language) -> (Vec<Attachment>, Vec<AttachmentNote>) {
        let mut room = self.settings.outbound.attach_max_bytes;
        let mut attached = Vec::new();
        let mut notes = Vec::new();
        for (i, a) in letter.attachments.iter().enumerate() {
            let size = sent_size(a);
            let fits = a.readable && size <= room;
            if fits {
                room -= size;
                attached.push(a.clone());
            }
            let (number, fetch) = match letter.files {
                Files::Case { first } => {
                    let reference = letter
                        .case
                        .map(|c| c.reference.to_string())
                        .unwrap_or_default();
                    let file = match lang {
                        Language::Nl => "<bestand>",
                        Language::En => "<file>",
                    };
                    (
                        first + i,
                        format!("klachtd attachment {reference} {} --out {file}", first + i),
                    )
                }
                Files::Report { year } => {
                    let dir = match lang {
                        Language::Nl => "<map>",
                        Language::En => "<directory>",
                    };
                    (0, format!("klachtd report --year {year} --out {dir}"))
                }
                Files::None => (0, String::new()),
            };
            notes.push(AttachmentNote {
                number,
                name: crate::inbound::one_line(&a.filename),
                size: templates::human_size(a.data.len()),
                attached: fits,
                readable: a.readable,
                fetch,
            });
        }
        (attached, notes)
    }

    /// The first acknowledgement the hourly maximum delays opens a flood: the director hears
    /// of it once (`klachtd status` shows the backlog meanwhile); the first that leaves at once
    /// again ends it.
    fn watch_flood(
        &self,
        tx: &Connection,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        const KEY: &str = "acknowledgement-flood";
        if at <= now {
            if notices::done(tx, KEY)? {
                notices::release(tx, KEY)?;
            }
            return Ok(());
        }
        if !notices::claim(tx, KEY, now)? {
            return Ok(());
        }
        let lang = self.staff_language();
        let mut context = Context::new();
        context.insert("organisation", &self.settings.organisation.name);
        context.insert(
            "per_hour",
            &self.settings.outbound.acknowledgements_per_hour,
        );
        context.insert("first_at", &templates::long_datetime(at, self.tz, lang));
        self.to_director_without_case(
            tx,
            Letter {
                kind: OutboxKind::DirectorNotice,
                template: Template::AcknowledgementFlood,
                case: None,
                context,
                attachments: &[],
                files: Files::None,
                // Caused by strangers' mail: the director's budget bounds it as well.
                cause: Cause::Unproven,
            },
            now,
        )?;
        Ok(())
    }

    /// Revokes the tokens a mail was rid of (issued to someone else), and tells each owner
    /// once.
    fn revoke_foreign(
        &self,
        tx: &Connection,
        foreign: &[String],
        cause: Cause,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let why = match self.staff_language() {
            Language::Nl => {
                "het stond in een e-mail die klachtd aan iemand anders zou sturen (bijvoorbeeld geciteerd in een reactie aan de klager); het is uit die e-mail verwijderd"
            }
            Language::En => {
                "it appeared in a mail klachtd was about to send to someone else (for example quoted in a reply to the complainant); it was removed from that mail"
            }
        };
        self.revoke_and_tell(
            tx,
            foreign,
            &Revocation {
                kind: OutboxKind::Transcript,
                why,
                cause,
                log: "a token was about to leave in mail to someone else: removed from it and revoked",
            },
            now,
        )
    }

    /// Revokes `tokens` and tells each owner once (the `token_revoked` letter, saying `why`):
    /// the one way a leaked token ends, whoever found the leak (a mail about to leave, or
    /// mail that showed someone else's token).
    pub(crate) fn revoke_and_tell(
        &self,
        tx: &Connection,
        tokens: &[String],
        revocation: &Revocation<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let mut told: Vec<String> = Vec::new();
        for token in tokens {
            if !tokens::revoke(tx, token, now)? {
                continue;
            }
            let Some(t) = tokens::find(tx, token)? else {
                continue;
            };
            let case = match t.case_id {
                Some(id) => cases::by_id(tx, id)?,
                None => None,
            };
            tracing::warn!(
                case = case.as_ref().map(|c| tracing::field::display(c.reference)),
                "{}",
                revocation.log
            );
            if told.contains(&t.owner) {
                continue;
            }
            told.push(t.owner.clone());
            let owner: EmailAddress = t.owner.parse()?;
            let lang = self.staff_language();
            let mut context = match &case {
                Some(c) => self.case_context(c, lang),
                None => {
                    let mut c = Context::new();
                    c.insert("organisation", &self.settings.organisation.name);
                    c.insert("address", self.org().as_str());
                    c.insert("reference", "");
                    c.insert("tag", "");
                    c.insert("subject", "");
                    c
                }
            };
            context.insert("why", revocation.why);
            self.to_role(
                tx,
                Letter {
                    kind: revocation.kind,
                    template: Template::TokenRevoked,
                    case: case.as_ref(),
                    context,
                    attachments: &[],
                    files: Files::None,
                    cause: revocation.cause,
                },
                &owner,
                None,
                now,
            )?;
        }
        Ok(())
    }
}

/// How a leaked token's owner is told ([`Mailer::revoke_and_tell`]).
pub(crate) struct Revocation<'a> {
    /// The letter's kind in the outbox.
    pub kind: OutboxKind,
    /// Why it was revoked, in the staff's language.
    pub why: &'a str,
    /// What caused the letter, for the outbound budget.
    pub cause: Cause,
    /// The log line (never an address or a text).
    pub log: &'static str,
}

/// Tells the templates which files a mail names: all of them (`attachments`, when there are
/// any), and those not enclosed (`omitted`).
fn name_files(context: &mut Context, notes: &[AttachmentNote]) {
    if !notes.is_empty() {
        context.insert("attachments", notes);
    }
    context.insert(
        "omitted",
        &notes.iter().filter(|n| !n.attached).collect::<Vec<_>>(),
    );
}

/// Bytes a file takes in a mail as sent: base64 in lines of 76 characters and CRLF, and the
/// headers of its part.
pub fn sent_size(a: &Attachment) -> usize {
    let base64 = a.data.len().div_ceil(3) * 4;
    base64 + base64.div_ceil(76) * 2 + 600 + 3 * a.filename.len()
}

/// Cuts every text in `value` at `limit` characters (with a note saying where the rest is),
/// and every list at `limit / 100` entries (at least 10).
fn bound_texts(value: &mut serde_json::Value, limit: usize, lang: Language) {
    use serde_json::Value;
    match value {
        Value::String(s) if s.len() > limit => *s = bounded_text(s, limit, lang),
        Value::Array(items) => {
            let keep = (limit / 100).max(10);
            if items.len() > keep {
                let more = items.len() - keep;
                items.truncate(keep);
                if items.iter().all(Value::is_string) {
                    items.push(Value::String(match lang {
                        Language::Nl => format!("… en nog {more}; zie klachtd case <kenmerk>"),
                        Language::En => format!("… and {more} more; see klachtd case <reference>"),
                    }));
                }
            }
            items.iter_mut().for_each(|v| bound_texts(v, limit, lang));
        }
        Value::Object(map) => map.values_mut().for_each(|v| bound_texts(v, limit, lang)),
        _ => {}
    }
}

/// Scans `text` for the tokens klachtd issued (24 hex digits standing alone) that belong to
/// someone other than `recipient`; returns them.
fn foreign_tokens(
    tx: &Connection,
    text: &str,
    recipient: &EmailAddress,
) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for candidate in hex_runs(text.as_bytes()) {
        let candidate = candidate.to_ascii_lowercase();
        if out.contains(&candidate) {
            continue;
        }
        if let Some(t) = tokens::find(tx, &candidate)?
            && !t.owner.eq_ignore_ascii_case(recipient.as_str())
        {
            out.push(candidate);
        }
    }
    Ok(out)
}

/// Every run of exactly 24 hexadecimal digits with no letter or digit on either side.
///
/// Looks only where a token can be: a run of 24 that starts at or after `i` holds byte
/// `i + 23`, so when that byte is no hexadecimal digit none starts in `i..=i + 23` and the
/// scan jumps past it (most bytes of a text are looked at once in 24). Otherwise the word of
/// letters and digits around it is the only candidate, judged whole, and the scan goes on
/// after it. Finds exactly what reading every word would (a property test holds it to that).
fn hex_runs(bytes: &[u8]) -> Vec<&str> {
    const LEN: usize = 24;
    let mut out = Vec::new();
    let mut i = 0;
    while i + LEN <= bytes.len() {
        let probe = i + LEN - 1;
        if !bytes[probe].is_ascii_hexdigit() {
            i = probe + 1;
            continue;
        }
        // Its word: it may start before `i` (the jumps pass over letters that are no hex
        // digit), never in a word judged before (a word is judged whole and `i` set after it).
        let mut start = probe;
        while start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
            start -= 1;
        }
        let mut end = probe + 1;
        while end < bytes.len() && bytes[end].is_ascii_alphanumeric() {
            end += 1;
        }
        let word = &bytes[start..end];
        if word.len() == LEN && word.iter().all(u8::is_ascii_hexdigit) {
            out.push(std::str::from_utf8(word).expect("ASCII"));
        }
        i = end;
    }
    out
}

/// The rendered mail with every address or Message-ID that carries a token of someone else
/// replaced by a note, when it has any (the tokens found are added to `foreign`).
fn scrub_rendered(
    tx: &Connection,
    rendered: &Rendered,
    recipient: &EmailAddress,
    lang: Language,
    foreign: &mut Vec<String>,
) -> anyhow::Result<Option<Rendered>> {
    let mut found = Vec::new();
    for part in [&rendered.subject, &rendered.text, &rendered.html] {
        for t in foreign_tokens(tx, part, recipient)? {
            if !found.contains(&t) {
                found.push(t);
            }
        }
    }
    if found.is_empty() {
        return Ok(None);
    }
    let note = match lang {
        Language::Nl => "[antwoordadres van klachtd verwijderd]",
        Language::En => "[klachtd reply address removed]",
    };
    let scrub = |s: &str| remove_tokens(s, &found, note);
    for t in &found {
        if !foreign.contains(t) {
            foreign.push(t.clone());
        }
    }
    Ok(Some(Rendered {
        subject: scrub(&rendered.subject),
        text: scrub(&rendered.text),
        html: scrub(&rendered.html),
    }))
}

/// `text` with each address-like run (letters, digits and `.+-_=%@`) that holds one of
/// `tokens` replaced by `note`.
fn remove_tokens(text: &str, tokens: &[String], note: &str) -> String {
    let is_part = |c: char| c.is_ascii_alphanumeric() || ".+-_=%@".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest.find(is_part).unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(|c: char| !is_part(c)).unwrap_or(rest.len());
        let run = &rest[..end];
        let lower = run.to_ascii_lowercase();
        if hex_runs(lower.as_bytes())
            .iter()
            .any(|h| tokens.iter().any(|t| t == h))
        {
            out.push_str(note);
        } else {
            out.push_str(run);
        }
        rest = &rest[end..];
    }
    out
}

/// A text file (or a mail) enclosed with this mail, with any token of someone else in it
/// overwritten (same length, so the file keeps its form); the tokens found are added to
/// `foreign`. Other files are not read: no client shows text in them as an address.
fn scrub_file(
    tx: &Connection,
    file: &mut Attachment,
    recipient: &EmailAddress,
    foreign: &mut Vec<String>,
) -> anyhow::Result<()> {
    let ct = file.content_type.to_ascii_lowercase();
    if !(ct.starts_with("text/") || ct.starts_with("message/")) {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&file.data).into_owned();
    let found = foreign_tokens(tx, &text, recipient)?;
    if found.is_empty() {
        return Ok(());
    }
    let lower = file.data.to_ascii_lowercase();
    for t in &found {
        let mut from = 0;
        while let Some(at) = memchr::memmem::find(&lower[from..], t.as_bytes()) {
            let at = from + at;
            file.data[at..at + t.len()].fill(b'x');
            from = at + t.len();
        }
        if !foreign.contains(t) {
            foreign.push(t.clone());
        }
    }
    Ok(())
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
    bounded_text(text, MAX_TEXT_IN_MAIL, lang)
}

/// A text as mail shows it: whole, or cut at `limit` characters with a note saying where the
/// rest is.
pub fn bounded_text(text: &str, limit: usize, lang: Language) -> String {
    if text.len() <= limit {
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
    format!("{}\n\n{note}", templates::excerpt(text, limit))
}

/// `kl-2026-0042.transcript.<token>@domain`: a reply quoting it proves its sender.
pub fn token_message_id(case: Option<CaseRef>, tag: &str, token: &str, domain: &str) -> String {
    let prefix = case
        .map(|c| c.to_string().to_ascii_lowercase())
        .unwrap_or_else(|| "klachtd".into());
    format!("{prefix}.{tag}.{token}@{domain}")
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_standing_alone_only() {
        let t = "0123456789abcdef01234567";
        let text = format!(
            "a {t} b info+kl-2026-0001.{t}@example.org <kl-2026-0001.new.{}@example.org> x{t} {t}0",
            t.to_uppercase()
        );
        assert_eq!(hex_runs(text.as_bytes()), vec![t, t, &t.to_uppercase()]);
        let out = remove_tokens(&text, &[t.to_string()], "[weg]");
        assert_eq!(out, format!("a [weg] b [weg] <[weg]> x{t} {t}0"));
    }

    /// Every word read, one by one: what [`hex_runs`] must find.
    fn hex_runs_word_by_word(bytes: &[u8]) -> Vec<&str> {
        bytes
            .split(|b| !b.is_ascii_alphanumeric())
            .filter(|w| w.len() == 24 && w.iter().all(u8::is_ascii_hexdigit))
            .map(|w| std::str::from_utf8(w).expect("ASCII"))
            .collect()
    }

    proptest::proptest! {
        /// The scan that jumps finds exactly the tokens reading every word finds, in order,
        /// in any text: runs of hex digits of every length near 24, letters that are no hex
        /// digit inside or beside them, separators of one byte or several (UTF-8 too).
        #[test]
        fn hex_runs_finds_what_reading_every_word_finds(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    "[0-9a-fA-F]{20,28}",
                    "[0-9a-f]{0,30}",
                    "[g-zG-Z]{1,3}",
                    "[0-9a-z]{1,40}",
                    "[ .@+<>\n-]{1,3}",
                    "[é€ ]{1,2}",
                ],
                0..40,
            )
        ) {
            let text = pieces.concat();
            proptest::prop_assert_eq!(
                hex_runs(text.as_bytes()),
                hex_runs_word_by_word(text.as_bytes())
            );
        }
    }

    #[test]
    fn long_texts_and_lists_are_bounded() {
        let mut v = serde_json::json!({
            "body": "woord ".repeat(1000),
            "history": (0..50).map(|i| format!("regel {i}")).collect::<Vec<_>>(),
            "n": 3,
        });
        bound_texts(&mut v, 1000, Language::Nl);
        let body = v["body"].as_str().unwrap();
        assert!(body.len() < 1200 && body.contains("klachtd case"), "{body}");
        let history = v["history"].as_array().unwrap();
        assert_eq!(history.len(), 11);
        assert_eq!(history[10], "… en nog 40; zie klachtd case <kenmerk>");
        assert_eq!(v["n"], 3);
    }

    #[test]
    fn sent_size_is_what_lettre_writes() {
        for n in [0usize, 1, 57, 1000, 100_000] {
            let a = Attachment::new("scan.pdf", "application/pdf", vec![0xAB; n]);
            let r = Rendered {
                subject: "s".into(),
                text: "t".into(),
                html: "<p>t</p>".into(),
            };
            let draft = |files: &[Attachment]| {
                compose::build(
                    &Draft {
                        from: compose::mailbox(&"info@example.org".parse().unwrap(), None).unwrap(),
                        to: vec![
                            compose::mailbox(&"k@example.net".parse().unwrap(), None).unwrap(),
                        ],
                        reply_to: None,
                        case: None,
                        rendered: &r,
                        in_reply_to: None,
                        references: &[],
                        attachments: files,
                        auto_submitted: AutoSubmitted::AutoGenerated,
                    },
                    "x@example.org",
                    DateTime::UNIX_EPOCH,
                )
                .unwrap()
                .len()
            };
            let with = draft(std::slice::from_ref(&a));
            let without = draft(&[]);
            assert!(with - without <= sent_size(&a), "{n}: {}", with - without);
        }
    }
}
