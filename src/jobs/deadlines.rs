//! Watching the deadlines: reminders to the handler (or all staff) at the configured points
//! before each deadline, and one overdue alert per case per deadline to the director on the
//! next working morning, rolled up into one mail a day. Nothing goes out outside a working
//! morning. Idempotent and catching up.

use super::{Jobs, morning};
use crate::outbound::{Letter, Template, templates};
use crate::store::cases::{self, Deadline};
use crate::store::outbox::OutboxKind;
use crate::store::{CaseRecord, notices};
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde::Serialize;

/// What one pass sent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineReport {
    pub reminders: usize,
    pub overdue: usize,
}

#[derive(Serialize)]
struct OverdueLine {
    reference: String,
    subject: String,
    deadline: &'static str,
    due: String,
    handler: String,
    working_days_late: u32,
}

impl Jobs<'_> {
    /// Sends every reminder and overdue alert that is due at `now` and was not sent before.
    pub fn watch_deadlines(
        &self,
        tx: &Connection,
        now: DateTime<Utc>,
    ) -> anyhow::Result<DeadlineReport> {
        let mut report = DeadlineReport::default();
        let today = now.with_timezone(&self.intake.tz).date_naive();
        let calendar = self.intake.calendar;
        let settings = self.intake.settings;
        // Reminders and alerts go out on a working morning, never at a weekend or on a holiday
        // (a case reopened on a Saturday is reported on Monday), and catch up on the next one.
        let working_morning = calendar.is_working_day(today) && now >= morning(self.intake, today);
        let mut overdue = Vec::new();
        // Only on a working morning, and only the cases with a deadline running: the register
        // is not read at all on every other pass.
        let running = if working_morning {
            cases::with_running_deadline(tx)?
        } else {
            Vec::new()
        };
        for case in running {
            let Some((deadline, due)) = cases::running_deadline(&case) else {
                continue;
            };
            // Reminders: every point whose morning has come; several missed ones make one mail.
            let mut reminder_due = false;
            for &before in &settings.reminders.before_working_days {
                let day = calendar.working_days_before(due, before);
                let key = format!(
                    "reminder:{}:{}:{due}:{before}",
                    case.reference,
                    deadline.as_str()
                );
                if now >= morning(self.intake, day) && notices::claim(tx, &key, now)? {
                    reminder_due = true;
                }
            }
            if reminder_due {
                self.send_reminder(tx, &case, deadline, due, today, now)?;
                report.reminders += 1;
            }
            // Overdue: the working morning after the deadline day.
            let alert_day = calendar.next_working_day(due);
            let key = format!("overdue:{}:{}:{due}", case.reference, deadline.as_str());
            if today > due
                && now >= morning(self.intake, alert_day)
                && notices::claim(tx, &key, now)?
            {
                cases::add_event(
                    tx,
                    case.id,
                    now,
                    "overdue",
                    None,
                    &format!(
                        "{} uiterlijk {}",
                        deadline.dutch(),
                        due.format("%-d-%-m-%Y")
                    ),
                )?;
                overdue.push(OverdueLine {
                    reference: case.reference.to_string(),
                    subject: case.subject.clone(),
                    deadline: deadline.label(self.intake.settings.organisation.language),
                    due: templates::long_date(due, self.intake.settings.organisation.language),
                    handler: case.handler.clone().unwrap_or_else(|| "-".into()),
                    working_days_late: calendar.working_days_between(due, today),
                });
            }
        }
        if !overdue.is_empty() {
            report.overdue = overdue.len();
            let mailer = self.intake.mailer();
            let mut context = tera::Context::new();
            context.insert("organisation", &settings.organisation.name);
            context.insert("address", settings.organisation.address.as_str());
            context.insert(
                "today",
                &templates::long_date(today, mailer.staff_language()),
            );
            context.insert("cases", &overdue);
            context.insert(
                "recipient_name",
                &settings.roles.name_of(&settings.roles.director),
            );
            mailer.to_director_without_case(
                tx,
                Letter {
                    kind: OutboxKind::OverdueAlert,
                    template: Template::OverdueAlert,
                    case: None,
                    context,
                    attachments: &[],
                },
                now,
            )?;
            tracing::warn!(cases = overdue.len(), "overdue alert to the director");
        }
        Ok(report)
    }

    fn send_reminder(
        &self,
        tx: &Connection,
        case: &CaseRecord,
        deadline: Deadline,
        due: chrono::NaiveDate,
        today: chrono::NaiveDate,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let mailer = self.intake.mailer();
        let lang = mailer.staff_language();
        let mut context = mailer.case_context(case, lang);
        context.insert("deadline", deadline.label(lang));
        context.insert("is_reaction", &(deadline == Deadline::Reaction));
        context.insert("due", &templates::long_date(due, lang));
        context.insert("due_today", &(today == due));
        context.insert("overdue", &(today > due));
        let missing: Vec<String> = crate::casework::apply::missing_to_close(case)
            .into_iter()
            .map(|m| crate::domain::wording::missing_field(m, lang))
            .collect();
        context.insert("missing", &missing);
        mailer.to_roles(
            tx,
            Letter {
                kind: OutboxKind::Reminder,
                template: Template::Reminder,
                case: Some(case),
                context,
                attachments: &[],
            },
            &self.intake.handler_or_staff(case),
            now,
        )?;
        cases::add_event(
            tx,
            case.id,
            now,
            "reminder",
            None,
            &format!(
                "{} uiterlijk {}",
                deadline.dutch(),
                due.format("%-d-%-m-%Y")
            ),
        )?;
        tracing::info!(case = %case.reference, deadline = deadline.as_str(), "reminder sent");
        Ok(())
    }
}
