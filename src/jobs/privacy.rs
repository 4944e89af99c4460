//! Watching privacy requests (issue 25) like the procedure's deadlines: a reminder to whoever
//! reads the case at the configured points before the legal deadline (one calendar month after
//! receipt, or the extended one), and on the working morning after it a notice that it passed,
//! to them and the director. Only on a working morning, once each (a `notices` key), catching
//! up after downtime.

use super::{Jobs, morning};
use crate::outbound::{Letter, Template, templates};
use crate::store::outbox::OutboxKind;
use crate::store::{CaseRecord, cases, notices};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Connection;

impl Jobs<'_> {
    /// Sends the privacy-request reminders and overdue notices due at `now`; returns how many
    /// reminders and how many overdue notices went.
    pub fn watch_privacy_requests(
        &self,
        tx: &Connection,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(usize, usize)> {
        let today = now.with_timezone(&self.intake.tz).date_naive();
        let calendar = self.intake.calendar;
        if !calendar.is_working_day(today) || now < morning(self.intake, today) {
            return Ok((0, 0));
        }
        let (mut reminders, mut overdue) = (0, 0);
        for id in crate::store::privacy::open_requests(tx)? {
            let Some(case) = cases::by_id(tx, id)?.filter(|c| c.purged_at.is_none()) else {
                continue;
            };
            let Some(request) = case.privacy.request.clone() else {
                continue;
            };
            let due = request.due;
            let reference = case.reference;
            let mut remind = false;
            for &before in &self.intake.settings.reminders.before_working_days {
                let day = calendar.working_days_before(due, before);
                let key = format!("privacy-reminder:{reference}:{due}:{before}");
                if today <= due
                    && now >= morning(self.intake, day)
                    && notices::claim(tx, &key, now)?
                {
                    remind = true;
                }
            }
            let alert_day = calendar.next_working_day(due);
            let key = format!("privacy-overdue:{reference}:{due}");
            let late = today > due
                && now >= morning(self.intake, alert_day)
                && notices::claim(tx, &key, now)?;
            if late {
                self.send_privacy_reminder(tx, &case, due, today, true, now)?;
                overdue += 1;
            } else if remind {
                self.send_privacy_reminder(tx, &case, due, today, false, now)?;
                reminders += 1;
            }
        }
        Ok((reminders, overdue))
    }

    fn send_privacy_reminder(
        &self,
        tx: &Connection,
        case: &CaseRecord,
        due: NaiveDate,
        today: NaiveDate,
        late: bool,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let request = case.privacy.request.as_ref().expect("an open request");
        let registry = self.intake.registry();
        let mailer = self.intake.mailer();
        let lang = mailer.staff_language();
        let mut context = mailer.case_context(case, lang);
        context.insert(
            "request_kind",
            request.kind.label(lang == crate::domain::Language::Nl),
        );
        context.insert(
            "access",
            &(request.kind == crate::domain::privacy::RequestKind::Access),
        );
        context.insert(
            "request_received",
            &templates::long_date(request.received, lang),
        );
        context.insert("due", &templates::long_date(due, lang));
        context.insert("due_today", &(today == due));
        context.insert("overdue", &late);
        context.insert("extended", &request.extended_months.is_some());
        context.insert("confidential", &registry.confidential_note(case, lang));
        let mut to = registry.readers(case);
        if late && !to.contains(&self.intake.settings.roles.director) {
            to.push(self.intake.settings.roles.director.clone());
        }
        mailer.to_roles(
            tx,
            Letter {
                kind: OutboxKind::Reminder,
                template: Template::PrivacyReminder,
                case: Some(case),
                context,
                attachments: &[],
                files: crate::outbound::mailer::Files::None,
                // A privacy request a proven staff member or the director recorded.
                cause: crate::outbound::budget::Cause::Proven,
            },
            &to,
            now,
        )?;
        cases::add_event(
            tx,
            case.id,
            now,
            if late {
                "privacy_overdue"
            } else {
                "privacy_reminder"
            },
            None,
            &format!(
                "verzoek om {} uiterlijk {}",
                request.kind.label(true),
                due.format("%-d-%-m-%Y")
            ),
        )?;
        tracing::info!(case = %case.reference, overdue = late, "privacy request reminder sent");
        Ok(())
    }
}
