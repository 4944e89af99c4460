//! What intake and casework both do to the register, below both of them: registering a
//! complaint with its reference, its acknowledgement and the notice to staff (`register`); a
//! complainant's follow-up on their case (`follow_up`); a mail naming a purged case
//! (`purged_case_named`); who hears about a case — need to know (`readers`,
//! `handler_or_staff`), and what a notice may say of the people in it (`note_named`,
//! `people`, `confidential_note`); and the mailer every letter of theirs is queued through. Intake dispatches a mail to casework; neither imports the other's
//! internals — both stand on this module.

use crate::domain::CaseRef;
use crate::domain::Language;
use crate::domain::{Attachment, Disposition};
use crate::domain::{EmailAddress, WorkingCalendar};
use crate::inbound::{Encryption, InboundMail};
use crate::outbound::budget::Cause;
use crate::outbound::compose::AutoSubmitted;
use crate::outbound::mailer::{Files, Queued};
use crate::outbound::{Letter, Mailer, Renderer, Template, templates};
use crate::settings::Settings;
use crate::store::mails;
use crate::store::outbox::OutboxKind;
use crate::store::packed::Basis;
use crate::store::{CaseRecord, Complainant, MailOutcome, NewCase, cases};
use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;

/// Everything registering and writing need besides the database; borrowed from the daemon.
pub struct Registry<'a> {
    pub settings: &'a Settings,
    pub calendar: &'a WorkingCalendar,
    pub renderer: &'a Renderer,
    pub tz: Tz,
}

/// What became of a mail, before it is written to the ledger.
pub(crate) struct Settled {
    pub outcome: MailOutcome,
    pub reason: String,
    pub case: Option<(i64, CaseRef)>,
}

impl Settled {
    pub fn new(
        outcome: MailOutcome,
        reason: impl Into<String>,
        case: Option<(i64, CaseRef)>,
    ) -> Self {
        Self {
            outcome,
            reason: reason.into(),
            case,
        }
    }
}

/// A complaint to register: from a mail, or handed in by staff (`Klacht: <address>`).
pub(crate) struct NewComplaint<'a> {
    pub complainant: Complainant<'a>,
    pub name: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    pub attachments: &'a [Attachment],
    pub language: Language,
    pub received_at: DateTime<Utc>,
    pub mail_id: i64,
    /// The raw mail as just recorded under `mail_id`, when the caller holds it: then it is not
    /// read back from the store and inflated again (`None`: read back).
    pub raw: Option<&'a [u8]>,
    pub reason: &'a str,
    /// The receiving server vouches for the sender (SPF or DMARC pass for the From domain):
    /// only then does the acknowledgement quote what they wrote.
    pub sender_verified: bool,
    /// The trusted server vouches for the sender by DMARC or aligned DKIM: the hourly
    /// ceiling on acknowledgements never holds theirs back (issue 22).
    pub vouched: bool,
    /// What caused the mail registering it sends: unproven, unless staff handed it in.
    pub cause: Cause,
    /// The mail's MIME structure was broken and its text recovered (staff are told).
    pub repaired: bool,
    /// The mail names a case purged after the retention period: it is registered as a new
    /// complaint, and the acknowledgement and staff say so.
    pub names_purged: Option<CaseRef>,
    /// Its Message-ID was used before by another sender: the case of that mail, or `None`
    /// when it belonged to no case (staff are told: it can point to a forgery).
    pub message_id_reused: Option<Option<&'a str>>,
    /// The mail's HTML, read for staff names too (issue 25).
    pub html: Option<&'a str>,
    /// Who registered it on the complainant's behalf (`Klacht:`): their own name in it is
    /// their signature, not a complaint about them.
    pub registered_by: Option<&'a EmailAddress>,
    /// The mail was encrypted: the case, staff and the acknowledgement say so.
    pub encrypted: Option<Encryption>,
}

/// What a case and its staff notice say of an encrypted mail (issue 23).
pub(crate) const ENCRYPTED: &str = "versleuteld — niet leesbaar voor klachtd";

/// The text an encrypted mail leaves on its case, in the staff's language.
pub(crate) fn encrypted_text(lang: Language) -> &'static str {
    match lang {
        Language::Nl => "(versleuteld — niet leesbaar voor klachtd)",
        Language::En => "(encrypted — klachtd cannot read it)",
    }
}

impl Registry<'_> {
    pub(crate) fn mailer(&self) -> Mailer<'_> {
        Mailer {
            settings: self.settings,
            renderer: self.renderer,
            tz: self.tz,
        }
    }

    /// Registers a new case, keeps its attachments, and queues the acknowledgement (at most
    /// one per sender per day) and the notification to each staff member.
    pub(crate) fn register(
        &self,
        tx: &Connection,
        complaint: &NewComplaint<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<CaseRecord> {
        // Nothing klachtd sends goes to a look-alike of a role address (`аnna@…` with a
        // Cyrillic `а`): such a complainant is registered as one mail cannot answer.
        let imitation = match complaint.complainant {
            Complainant::Reachable(address) => self
                .settings
                .roles
                .imitated_by(address)
                .map(|role| format!("{address} (lijkt op {role})")),
            Complainant::Unreachable(_) => None,
        };
        let complainant = match &imitation {
            Some(text) => Complainant::Unreachable(text),
            None => complaint.complainant,
        };
        let received_day = complaint.received_at.with_timezone(&self.tz).date_naive();
        let reaction_due = self
            .calendar
            .deadline(received_day, self.settings.deadlines.reaction_working_days);
        let reference = cases::next_reference(tx, received_day.year())?;
        // The complaint's raw mail (kept unless over the size limit): its text, and the mail
        // queued for the case, are packed on it.
        let raw: Option<std::sync::Arc<[u8]>> = match complaint.raw {
            Some(raw) => {
                debug_assert_eq!(
                    mails::raw_of(tx, complaint.mail_id)?.as_deref(),
                    Some(raw).filter(|r| !r.is_empty()),
                    "the raw mail at hand is the one recorded"
                );
                Some(raw).filter(|r| !r.is_empty()).map(Into::into)
            }
            None => mails::raw_of(tx, complaint.mail_id)?.map(Into::into),
        };
        let basis = raw.map(|raw| Basis {
            mail_id: complaint.mail_id,
            raw,
        });
        let mut case = cases::insert_record(
            tx,
            reference,
            &NewCase {
                language: complaint.language.as_str(),
                complainant,
                complainant_name: complaint.name,
                subject: complaint.subject,
                body: complaint.body,
                received_at: complaint.received_at,
                reaction_due,
                basis: basis.as_ref(),
            },
        )?;
        let case_id = case.id;
        mails::settle(
            tx,
            complaint.mail_id,
            MailOutcome::CaseCreated,
            Disposition::Processed,
            complaint.reason,
            Some(case_id),
        )?;
        for attachment in complaint.attachments {
            cases::add_attachment(tx, case_id, complaint.mail_id, attachment)?;
        }
        cases::add_event(tx, case_id, now, "registered", None, complaint.reason)?;
        if let Some(purged) = complaint.names_purged {
            cases::add_event(
                tx,
                case_id,
                now,
                "names_purged",
                None,
                &format!(
                    "de e-mail noemt {purged}; die klacht is na de bewaartermijn verwijderd, dus deze e-mail is als nieuwe klacht geregistreerd"
                ),
            )?;
        }
        if let Some(encryption) = complaint.encrypted {
            cases::add_event(
                tx,
                case_id,
                now,
                "encrypted",
                None,
                &format!(
                    "{ENCRYPTED} ({}); het origineel is bewaard en de afzender is gevraagd het zonder versleuteling te sturen of te bellen",
                    encryption.name()
                ),
            )?;
        }
        if complaint.repaired {
            cases::add_event(
                tx,
                case_id,
                now,
                "repaired",
                None,
                "de opbouw (MIME) van het bericht was beschadigd; de tekst is hersteld, het origineel is bewaard",
            )?;
        }

        let mailer = self.mailer();
        let acknowledged = match complainant {
            Complainant::Reachable(_) => self.acknowledge(tx, &case, complaint, now)?,
            Complainant::Unreachable(_) => {
                cases::add_event(
                    tx,
                    case_id,
                    now,
                    "unreachable",
                    None,
                    if imitation.is_some() {
                        "het afzenderadres lijkt op het adres van een medewerker, de directie of de examencommissie, maar is een ander adres; er wordt niets naar verstuurd"
                    } else {
                        "het afzenderadres kan geen e-mail ontvangen; er is geen ontvangstbevestiging verstuurd"
                    },
                )?;
                Queued::NotSent
            }
        };
        // Need to know (issue 25): a staff member the complaint names never hears of it.
        let html = complaint.html.map(crate::commands::new_text::html_to_lines);
        let attached = readable_attachments(complaint.attachments);
        let mut texts = vec![complaint.subject, complaint.body];
        texts.extend(html.as_deref());
        texts.extend(attached.iter().map(String::as_str));
        self.note_named(tx, &mut case, &texts, complaint.registered_by, now)?;
        let mut context = mailer.case_context(&case, mailer.staff_language());
        context.insert(
            "confidential",
            &self.confidential_note(&case, mailer.staff_language()),
        );
        context.insert("acknowledged", &acknowledged.is_queued());
        // Spread by the hourly maximum: staff are told it leaves later, not that it went.
        if let Queued::At(at) = acknowledged
            && at > now
        {
            context.insert(
                "acknowledged_later",
                &templates::long_datetime(at, self.tz, mailer.staff_language()),
            );
        }
        context.insert("unreachable", &case.unreachable_from);
        context.insert("repaired", &complaint.repaired);
        context.insert(
            "purged_reference",
            &complaint.names_purged.map(|r| r.to_string()),
        );
        context.insert(
            "purged_on_request",
            &complaint
                .names_purged
                .is_some_and(|r| cases::erased_on_request(tx, r)),
        );
        if let Some(earlier) = complaint.message_id_reused {
            context.insert(
                "message_id_reused",
                &crate::domain::wording::earlier_mail(earlier, mailer.staff_language()),
            );
        }
        context.insert("encrypted", &complaint.encrypted.map(Encryption::name));
        mailer.to_roles(
            tx,
            Letter {
                kind: OutboxKind::StaffNotification,
                template: Template::StaffNotification,
                case: Some(&case),
                context,
                attachments: complaint.attachments,
                files: Files::Case {
                    first: first_attachment_number(tx, case_id, complaint.attachments.len())?,
                },
                cause: complaint.cause,
            },
            &self.handler_or_staff(&case),
            now,
        )?;

        // Debug, not info: the intake's "mail taken in" line names the case once the commit
        // has made it (this one would come before it, and for a case a failed commit undoes),
        // and every line to a pipe or the journal wakes its reader — one a complaint fewer
        // was 3 % of the embedded default's CPU (README, issue 26).
        tracing::debug!(case = %reference, acknowledged = acknowledged.is_queued(), "complaint registered");
        Ok(case)
    }

    /// Queues the acknowledgement (the budget decides: one a day per mailbox, the hourly
    /// ceiling for senders nobody vouches for), quoting the complainant's words and full
    /// subject only when the receiving server vouches for the sender — so a forged sender
    /// never gets someone else's text relayed to them from info@. What became of it.
    fn acknowledge(
        &self,
        tx: &Connection,
        case: &CaseRecord,
        complaint: &NewComplaint<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Queued> {
        let mailer = self.mailer();
        let mut context = mailer.case_context(case, complaint.language);
        context.insert("acknowledged", &true);
        context.insert(
            "purged_reference",
            &complaint.names_purged.map(|r| r.to_string()),
        );
        context.insert(
            "purged_on_request",
            &complaint
                .names_purged
                .is_some_and(|r| cases::erased_on_request(tx, r)),
        );
        context.insert("encrypted", &complaint.encrypted.map(Encryption::name));
        context.insert("phone", &self.settings.organisation.phone);
        if !complaint.sender_verified {
            context.insert("quote", "");
            context.insert("subject", &short_subject(&case.subject));
        }
        if context
            .get("quote")
            .and_then(|q| q.as_str())
            .is_some_and(|q| q.trim().is_empty())
        {
            context.insert("quote", "");
        }
        let queued = mailer.to_complainant(
            tx,
            Letter {
                kind: OutboxKind::Acknowledgement,
                template: Template::Acknowledgement,
                case: Some(case),
                context,
                attachments: &[],
                files: Files::None,
                cause: if complaint.vouched {
                    Cause::Vouched
                } else {
                    complaint.cause
                },
            },
            AutoSubmitted::AutoReplied,
            now,
        )?;
        let (kind, detail) = match queued {
            Queued::At(send_at) if send_at > now => (
                "acknowledged",
                format!(
                    "ontvangstbevestiging in de wachtrij (verzonden vanaf {}, vanwege het maximum per uur)",
                    templates::long_datetime(send_at, self.tz, mailer.staff_language())
                ),
            ),
            Queued::At(_) => ("acknowledged", "ontvangstbevestiging in de wachtrij".to_string()),
            Queued::NotSent => (
                "acknowledgement_skipped",
                "afzender kreeg vandaag al een ontvangstbevestiging".to_string(),
            ),
            Queued::HeldBack => (
                "acknowledgement_skipped",
                "geen ontvangstbevestiging: dit adres kreeg de afgelopen 24 uur al het maximum aan berichten voor niet-bewezen afzenders".to_string(),
            ),
        };
        cases::add_event(tx, case.id, now, kind, None, &detail)?;
        Ok(queued)
    }

    /// The case purged after the retention period that `mail` names, if any: by the tag in
    /// its subject, the case in the reply address it was sent to (`info+kl-2026-0042.…@`), or
    /// the case in one of our Message-IDs it answers (`<kl-2026-0042.ack.…@our domain>`). Only ever used to answer
    /// truthfully — a purged case is never linked to mail again.
    pub(crate) fn purged_case_named(&self, tx: &Connection, mail: &InboundMail) -> Option<CaseRef> {
        let org = &self.settings.organisation.address;
        let ours = |address: &str| -> Option<CaseRef> {
            let (local, domain) = address.rsplit_once('@')?;
            domain.eq_ignore_ascii_case(org.domain()).then_some(())?;
            let local = local
                .strip_prefix(&format!("{}+", org.local_part()))
                .unwrap_or(local);
            local.split('.').next()?.to_ascii_uppercase().parse().ok()
        };
        CaseRef::find_in_subject(&mail.subject)
            .into_iter()
            .chain(mail.recipients.iter().filter_map(|r| ours(r)))
            .chain(mail.thread_ids.iter().filter_map(|id| ours(id)))
            .find(|c| cases::is_purged(tx, *c))
    }

    /// Records the complainant's follow-up on their case, with its files, and passes it to
    /// those who hear about the case ([`Registry::handler_or_staff`]).
    pub(crate) fn follow_up(
        &self,
        tx: &Connection,
        case: &CaseRecord,
        mail: &InboundMail,
        mail_id: i64,
        received_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let new_text = match mail.encrypted {
            Some(_) if mail.text.trim().is_empty() => {
                crate::registration::encrypted_text(self.mailer().staff_language()).to_string()
            }
            _ => new_text_of(mail),
        };
        cases::add_event(tx, case.id, now, "follow_up", Some("klager"), &new_text)?;
        for attachment in &mail.attachments {
            cases::add_attachment(tx, case.id, mail_id, attachment)?;
        }
        // A colleague named in later mail never gets it either (issue 25); the handler, in
        // correspondence with the complainant, is not marked by being named.
        let mut case = case.clone();
        let case = &mut case;
        let registry = self;
        let handler = case
            .handler
            .as_deref()
            .and_then(|h| self.settings.roles.resolve(h));
        registry.note_named(
            tx,
            case,
            &[mail.subject.as_str(), new_text.as_str()],
            handler.as_ref(),
            now,
        )?;
        let mailer = self.mailer();
        let lang = mailer.staff_language();
        let mut context = mailer.case_context(case, lang);
        context.insert("confidential", &registry.confidential_note(case, lang));
        context.insert(
            "body",
            &crate::outbound::mailer::bounded_body(&new_text, lang),
        );
        context.insert(
            "received",
            &templates::long_datetime(received_at, self.tz, lang),
        );
        mailer.to_roles(
            tx,
            Letter {
                kind: OutboxKind::FollowUpNotification,
                template: Template::FollowUpNotification,
                case: Some(case),
                context,
                attachments: &mail.attachments,
                files: Files::Case {
                    first: first_attachment_number(tx, case.id, mail.attachments.len())?,
                },
                // A complainant's address proves nothing (issue 22: their mail is budgeted).
                cause: Cause::Unproven,
            },
            &self.handler_or_staff(case),
            now,
        )?;
        tracing::info!(case = %case.reference, "follow-up recorded");
        Ok(())
    }

    /// Who hears about a case: [`Registry::readers`] (need to know, issue 25; the name is
    /// older than need to know) — never its complainant (issue 21: a staff member's own
    /// complaint goes to the colleagues who would hear of it; with none left, to the director).
    pub(crate) fn handler_or_staff(&self, case: &CaseRecord) -> Vec<EmailAddress> {
        self.but_the_complainant(case, self.readers(case))
    }

    /// `people` but the case's complainant; the director when no one else is left (unless
    /// the director is the complainant).
    fn but_the_complainant(
        &self,
        case: &CaseRecord,
        people: Vec<EmailAddress>,
    ) -> Vec<EmailAddress> {
        let roles = &self.settings.roles;
        let not_complainant = |a: &EmailAddress| !crate::outbound::mailer::is_complainant(case, a);
        let chosen: Vec<EmailAddress> = people.into_iter().filter(not_complainant).collect();
        if chosen.is_empty() {
            [roles.director.clone()]
                .into_iter()
                .filter(not_complainant)
                .collect()
        } else {
            chosen
        }
    }

    // --- issue 25: need to know ---------------------------------------------------------

    /// Who hears about a case (need to know): its handler when that is a known address,
    /// otherwise whoever receives new complaints (`privacy.new_complaints_to`); never a staff
    /// member the complaint concerns — then the director hears of it instead. The director
    /// also once the case is escalated; the committee too when the complaint names the
    /// director (`privacy.director_named_to_committee`).
    pub(crate) fn readers(&self, case: &CaseRecord) -> Vec<EmailAddress> {
        let roles = &self.settings.roles;
        let excluded =
            |a: &EmailAddress| case.privacy.concerns(a.as_str()) && roles.kept_from_cases_about(a);
        let names_staff = case
            .privacy
            .concerns
            .iter()
            .filter_map(|a| a.parse::<EmailAddress>().ok())
            .any(|a| excluded(&a));
        let names_director = case.privacy.concerns(roles.director.as_str());
        let handler = case
            .handler
            .as_deref()
            .and_then(|h| roles.resolve(h))
            .filter(|h| !excluded(h));
        let mut to = match handler {
            Some(h) => vec![h],
            None => self.settings.intake_recipients(),
        };
        to.retain(|a| !excluded(a));
        if names_staff || case.escalated_at.is_some() || to.is_empty() {
            to.push(roles.director.clone());
        }
        if names_director && self.settings.privacy.director_named_to_committee {
            to.push(roles.committee.clone());
        }
        let mut seen = std::collections::BTreeSet::new();
        to.retain(|a| seen.insert(a.clone()));
        to
    }

    /// The staff names and addresses a text may name.
    pub(crate) fn staff_names(&self) -> crate::domain::mentions::StaffNames {
        let roles = &self.settings.roles;
        crate::domain::mentions::StaffNames::new(
            roles.names.iter().map(|(n, a)| (n.as_str(), a.as_str())),
            roles
                .staff
                .iter()
                .chain([&roles.director, &roles.committee])
                .map(EmailAddress::as_str),
        )
    }

    /// Marks on `case` the role addresses `texts` name (not `except`, and nobody once the
    /// director decided with `Betreft:`), with a line in its history and the handler's
    /// tokens for it revoked should the handler be among them. Returns whether anyone new
    /// was marked.
    pub(crate) fn note_named(
        &self,
        tx: &Connection,
        case: &mut CaseRecord,
        texts: &[&str],
        except: Option<&EmailAddress>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        if case.privacy.concerns_fixed {
            return Ok(false);
        }
        let roles = &self.settings.roles;
        let new: Vec<String> = self
            .staff_names()
            .named_in(texts)
            .into_iter()
            .filter(|a| except.is_none_or(|e| e.as_str() != a))
            .filter(|a| !case.privacy.concerns(a))
            // The complainant is who complains, not whom it is about (issue 21: a staff
            // member's own complaint).
            .filter(|a| {
                !a.parse::<EmailAddress>()
                    .is_ok_and(|a| crate::outbound::mailer::is_complainant(case, &a))
            })
            // Only role addresses are anyone to keep it from; the committee judges appeals.
            .filter(|a| {
                a.parse::<EmailAddress>()
                    .ok()
                    .and_then(|a| roles.role_of(&a))
                    .is_some_and(|r| r != crate::settings::Role::Committee)
            })
            .collect();
        if new.is_empty() {
            return Ok(false);
        }
        case.privacy.concerns.extend(new.iter().cloned());
        case.privacy.concerns.sort();
        crate::store::privacy::save(tx, case.id, &case.privacy)?;
        // What they were sent about it before (a notice to all staff) proves nothing now, for
        // those it is kept from (not the director, who oversees the procedure).
        for address in new.iter().filter(|a| {
            a.parse::<EmailAddress>()
                .is_ok_and(|a| roles.kept_from_cases_about(&a))
        }) {
            crate::store::tokens::revoke_for_case(tx, address, case.id, now)?;
        }
        cases::add_event(
            tx,
            case.id,
            now,
            "concerns",
            None,
            &format!("de klacht noemt {}", self.people(&new, Language::Nl)),
        )?;
        tracing::info!(case = %case.reference, named = new.len(), "complaint names staff: kept from them");
        Ok(true)
    }

    /// "Anna de Vries (anna@…) en Piet (piet@…)".
    pub(crate) fn people(&self, addresses: &[String], lang: Language) -> String {
        let names: Vec<String> = addresses
            .iter()
            .map(|a| {
                match a
                    .parse::<EmailAddress>()
                    .ok()
                    .and_then(|e| self.settings.roles.name_of(&e).map(str::to_string))
                {
                    Some(name) => format!("{name} ({a})"),
                    None => a.clone(),
                }
            })
            .collect();
        let and = match lang {
            Language::Nl => " en ",
            Language::En => " and ",
        };
        match names.split_last() {
            None => String::new(),
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{}{and}{last}", rest.join(", ")),
        }
    }

    /// The line that tells the readers of a case about a colleague it concerns, or why the
    /// committee reads it ("" when it concerns nobody).
    pub(crate) fn confidential_note(&self, case: &CaseRecord, lang: Language) -> String {
        let roles = &self.settings.roles;
        let staff: Vec<String> = case
            .privacy
            .concerns
            .iter()
            .filter(|a| **a != roles.director.as_str() && **a != roles.committee.as_str())
            .cloned()
            .collect();
        let mut lines = Vec::new();
        if !staff.is_empty() {
            let who = self.people(&staff, lang);
            lines.push(match lang {
                Language::Nl => format!(
                    "Vertrouwelijk: deze klacht gaat over {who}. Die krijgt geen berichten over deze klacht en kan haar niet behandelen; daarom ontvangt de directeur haar."
                ),
                Language::En => format!(
                    "Confidential: this complaint concerns {who}, who receives no messages about it and cannot handle it; the director receives it for that reason."
                ),
            });
        }
        if case.privacy.concerns(roles.director.as_str())
            && self.settings.privacy.director_named_to_committee
        {
            let who = self.people(&[roles.director.to_string()], lang);
            lines.push(match lang {
                Language::Nl => format!(
                    "Deze klacht noemt de directeur, {who}; daarom ontvangt ook de examencommissie haar."
                ),
                Language::En => format!(
                    "This complaint names the director, {who}; the exam committee receives it as well for that reason."
                ),
            });
        }
        lines.join("\n")
    }

    // --- end issue 25 --------------------------------------------------------------------
}

/// The text of the files of a complaint that are text (a letter as `.txt`, a forwarded
/// mail), to find staff names in too (issue 25); a PDF or Word file is not read.
fn readable_attachments(all: &[Attachment]) -> Vec<String> {
    all.iter()
        .filter(|a| a.readable && a.data.len() <= 2_000_000)
        .filter_map(|a| {
            let t = a.content_type.to_ascii_lowercase();
            if t.starts_with("message/rfc822") {
                InboundMail::parse(&a.data).map(|m| {
                    let html = m
                        .html
                        .as_deref()
                        .map(crate::commands::new_text::html_to_lines)
                        .unwrap_or_default();
                    format!("{}\n{}\n{html}", m.subject, m.text)
                })
            } else if t.starts_with("text/html") {
                Some(crate::commands::new_text::html_to_lines(
                    &String::from_utf8_lossy(&a.data),
                ))
            } else if t.starts_with("text/") {
                Some(String::from_utf8_lossy(&a.data).into_owned())
            } else {
                None
            }
        })
        .collect()
}

/// The number `klachtd case` gives the first of the `n` files just recorded on case `case_id`.
pub(crate) fn first_attachment_number(
    tx: &Connection,
    case_id: i64,
    n: usize,
) -> anyhow::Result<usize> {
    let total = cases::attachment_count(tx, case_id)?;
    Ok(total + 1 - n.min(total))
}

/// A subject as an unverified sender's acknowledgement repeats it: one line, nothing that
/// reads as a link or an address (`evil.example/buy`, `www.…`, `x@y`), at most 60 characters —
/// too little to carry spam.
pub(crate) fn short_subject(subject: &str) -> String {
    let words: Vec<&str> = subject
        .split_whitespace()
        // Nothing a mail client could make a link of: also not with the dots IDNA reads as
        // dots (`evil。example`), which `looks_like_link` does not see (issue 22).
        .filter(|w| {
            !crate::domain::display_name::looks_like_link(w)
                && crate::outbound::inert::inert(w) == *w
        })
        .collect();
    let joined = words.join(" ");
    if joined.chars().count() <= 60 {
        return joined;
    }
    let cut: String = joined.chars().take(59).collect();
    format!("{}…", cut.trim_end())
}

/// The new text of a reply: what stands above the quoted original and the signature.
pub(crate) fn new_text_of(mail: &InboundMail) -> String {
    let plain = mail.has_plain_text.then_some(mail.text.as_str());
    crate::commands::new_text(plain, mail.html.as_deref()).text
}
