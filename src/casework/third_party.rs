//! Mail that names a case but does not come from its complainant (and does not answer a mail
//! we sent them): recorded on the case as third-party mail with its real sender first, passed
//! to the handler as such — never as the complainant's words, never acknowledged. A stranger's
//! new complaint that happens to carry a case tag is not guessed at: the handler registers it
//! with `Klacht:` if it is one (README, "Who may add to a complaint"). Its files stay in the
//! mailbox: named in the notice, never sent on (issue 22).

use super::outcomes::Recorded;
use crate::domain::EmailAddress;
use crate::domain::Language;
use crate::inbound::InboundMail;
use crate::outbound::budget::Cause;
use crate::outbound::mailer::Files;
use crate::outbound::{Letter, Template, templates};
use crate::registration::{Registry, new_text_of};
use crate::store::outbox::OutboxKind;
use crate::store::{CaseRecord, cases};
use chrono::{DateTime, Utc};
use rusqlite::Connection;

/// Records `mail` on `case` as third-party mail and tells the handler (or all staff).
pub(crate) fn record(
    intake: &Registry<'_>,
    tx: &Connection,
    case: &CaseRecord,
    mail: &InboundMail,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mailer = intake.mailer();
    let lang = mailer.staff_language();
    let sender_in = |lang| match &mail.from {
        Some(m) => match &m.name {
            Some(n) if !n.trim().is_empty() => format!("{} <{}>", n.trim(), m.address),
            _ => m.address.to_string(),
        },
        None if lang == Language::Nl => "(onbekend)".to_string(),
        None => "(unknown)".to_string(),
    };
    let sender = sender_in(lang);
    let text = new_text_of(mail);
    let names: Vec<&str> = mail
        .attachments
        .iter()
        .map(|a| a.filename.as_str())
        .collect();
    // The history is a Dutch record (shown in English by `history`).
    let mut detail = format!(
        "{}\nOnderwerp: {}\n",
        Recorded::ThirdParty {
            sender: sender_in(Language::Nl)
        }
        .text(Language::Nl),
        mail.subject
    );
    if !names.is_empty() {
        detail.push_str(&format!(
            "Bijlagen (niet bij de klacht opgeslagen): {}\n",
            names.join(", ")
        ));
    }
    detail.push('\n');
    detail.push_str(&text);
    cases::add_event(
        tx,
        case.id,
        now,
        "third_party",
        mail.sender().map(|a| a.as_str()),
        &detail,
    )?;
    // A colleague named in it never gets it (issue 25). A stranger's mail does not decide who
    // may work a case, so it marks nobody: naming every colleague would otherwise lock them
    // all out of it. The handler still reads it.
    let handler = case
        .handler
        .as_deref()
        .and_then(|h| intake.settings.roles.resolve(h));
    let named = intake
        .staff_names()
        .named_in(&[mail.subject.as_str(), text.as_str()]);
    let mut readers: Vec<EmailAddress> = intake
        .handler_or_staff(case)
        .into_iter()
        .filter(|a| Some(a) == handler.as_ref() || !named.contains(a.as_str()))
        .collect();
    if readers.is_empty() {
        readers.push(intake.settings.roles.director.clone());
    }
    let mut context = mailer.case_context(case, lang);
    context.insert("confidential", &intake.confidential_note(case, lang));
    context.insert("sender", &sender);
    context.insert("mail_subject", &mail.subject);
    context.insert("body", &crate::outbound::mailer::bounded_body(&text, lang));
    // A stranger's files never leave info@ (it is no relay): named with their size only.
    let listed: Vec<String> = mail
        .attachments
        .iter()
        .map(|a| {
            format!(
                "{} ({})",
                crate::inbound::one_line(&a.filename),
                templates::human_size(a.data.len())
            )
        })
        .collect();
    context.insert("attachment_names", &listed);
    context.insert(
        "received",
        &templates::long_datetime(received_at, intake.tz, lang),
    );
    mailer.to_roles(
        tx,
        Letter {
            kind: OutboxKind::FollowUpNotification,
            template: Template::ThirdPartyNotification,
            case: Some(case),
            context,
            attachments: &[],
            files: Files::None,
            // A stranger's mail: never proven (issue 22: budgeted per recipient).
            cause: Cause::Unproven,
        },
        &readers,
        now,
    )?;
    tracing::info!(case = %case.reference, "third-party mail recorded");
    Ok(())
}
