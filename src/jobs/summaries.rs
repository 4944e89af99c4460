//! The summary of mail the outbound budget held back: to each role address, an hour after the
//! first mail held back for it and then at most once a day, how many mails of which kind were
//! not sent separately and which cases they were about — references only, never a sender's
//! words. Also forgets what the budget no longer needs (`store::budget::prune`).

use super::Jobs;
use crate::domain::EmailAddress;
use crate::outbound::budget::{Cause, SUMMARY_AFTER};
use crate::outbound::mailer::{Files, Queued};
use crate::outbound::{Letter, Template, templates};
use crate::store::OutboxKind;
use crate::store::budget;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde::Serialize;

/// A summary names at most this many cases per kind of mail, then counts the rest.
const NAMED: usize = 25;

/// One kind of held-back mail in a summary.
#[derive(Serialize)]
struct Group {
    kind: String,
    count: usize,
    references: Vec<String>,
    more: usize,
}

impl Jobs<'_> {
    /// Queues the summaries that are due; returns how many.
    pub fn send_summaries(&self, tx: &Connection, now: DateTime<Utc>) -> anyhow::Result<usize> {
        budget::prune(tx, now)?;
        let settings = self.intake.settings;
        let mailer = self.intake.mailer();
        let lang = mailer.staff_language();
        let mut sent = 0;
        for open in budget::unreported(tx)? {
            if now < open.since + SUMMARY_AFTER {
                continue;
            }
            let Ok(recipient) = open.recipient.parse::<EmailAddress>() else {
                budget::mark_reported(tx, &open.mailbox)?;
                continue;
            };
            let groups: Vec<Group> = budget::unreported_for(tx, &open.mailbox)?
                .into_iter()
                .map(|(kind, count, mut references)| {
                    let more = references.len().saturating_sub(NAMED);
                    references.truncate(NAMED);
                    Group {
                        kind,
                        count,
                        references,
                        more,
                    }
                })
                .collect();
            let total: usize = groups.iter().map(|g| g.count).sum();
            let mut context = tera::Context::new();
            context.insert("organisation", &settings.organisation.name);
            context.insert("address", settings.organisation.address.as_str());
            context.insert("total", &total);
            context.insert("groups", &groups);
            context.insert("per_day", &settings.outbound.unproven_per_day);
            context.insert(
                "since",
                &templates::long_datetime(open.since, self.intake.tz, lang),
            );
            context.insert("recipient_name", &settings.roles.name_of(&recipient));
            let queued = mailer.to_role(
                tx,
                Letter {
                    kind: OutboxKind::Summary,
                    template: Template::Summary,
                    case: None,
                    context,
                    attachments: &[],
                    files: Files::None,
                    cause: Cause::Proven,
                },
                &recipient,
                None,
                now,
            )?;
            if let Queued::At(_) = queued {
                budget::mark_reported(tx, &open.mailbox)?;
                sent += 1;
            }
        }
        Ok(sent)
    }
}
