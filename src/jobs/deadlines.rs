//! Watching the deadlines: reminders to the handler (or all staff) at the configured points
//! before each deadline, and one overdue alert per case per deadline to the director on the
//! next working morning, rolled up into one mail a day. Nothing goes out outside a working
//! morning. Idempotent and catching up.

use super::digest::LIST_CAP;
use super::{Jobs, morning};
use crate::domain::CaseRef;
use crate::outbound::{Letter, Template, templates};
use crate::store::cases::{self, Deadline};
use crate::store::outbox::OutboxKind;
use crate::store::{CaseRecord, notices};
use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
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

/// The day's overdue cases: the alert names the first [`LIST_CAP`] (oldest reference first)
/// and counts the rest, so a flood gone overdue is still a mail the director can read.
#[derive(Default)]
struct Overdue {
    first: std::collections::BTreeMap<CaseRef, OverdueLine>,
    count: usize,
}

impl Overdue {
    fn add(&mut self, reference: CaseRef, line: OverdueLine) {
        self.count += 1;
        self.first.insert(reference, line);
        if self.first.len() > LIST_CAP {
            self.first.pop_last();
        }
    }
}

/// How many cases the scheduler takes from the index at a time (memory stays flat).
const WATCH_BATCH: usize = 500;

/// The days on which a deadline on `due` owes something: each reminder point, and the
/// overdue alert on the working day after it.
pub fn watch_points(intake: &crate::intake::Intake<'_>, due: NaiveDate) -> Vec<NaiveDate> {
    let calendar = intake.calendar;
    let mut points: Vec<NaiveDate> = intake
        .settings
        .reminders
        .before_working_days
        .iter()
        .map(|&before| calendar.working_days_before(due, before))
        .collect();
    points.push(calendar.next_working_day(due));
    points
}

/// The first of `points` after `today` (None: nothing more is owed). On a working morning
/// everything up to today has been done, so this is when the scheduler must look again.
pub fn next_watch(points: &[NaiveDate], today: NaiveDate) -> Option<NaiveDate> {
    points.iter().copied().filter(|&p| p > today).min()
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
        // The first LIST_CAP overdue cases by reference (the oldest), and how many there are.
        let mut overdue = Overdue::default();
        // Only on a working morning, and only the cases whose `watch_on` day has come: the
        // register is not read on every other pass, nor the cases with nothing due.
        // Each case looked at gets a day after today, so every batch is new and this ends.
        if working_morning {
            loop {
                let batch = cases::due_for_watch(tx, today, WATCH_BATCH)?;
                if batch.is_empty() {
                    break;
                }
                for watched in batch {
                    self.watch_case(tx, &watched, now, &mut report, &mut overdue)?;
                }
            }
        }
        if overdue.count > 0 {
            report.overdue = overdue.count;
            let mailer = self.intake.mailer();
            let mut context = tera::Context::new();
            context.insert("organisation", &settings.organisation.name);
            context.insert("address", settings.organisation.address.as_str());
            context.insert(
                "today",
                &templates::long_date(today, mailer.staff_language()),
            );
            context.insert("count", &overdue.count);
            context.insert("more", &(overdue.count - overdue.first.len()));
            let lines: Vec<&OverdueLine> = overdue.first.values().collect();
            context.insert("cases", &lines);
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
                    files: crate::outbound::mailer::Files::None,
                    cause: crate::outbound::budget::Cause::Proven,
                },
                now,
            )?;
            tracing::warn!(cases = overdue.count, "overdue alert to the director");
        }
        Ok(report)
    }

    /// Sends what one case is owed at `now` (reminders, its overdue alert line) and records
    /// the next day it may be owed something, which is always after today.
    fn watch_case(
        &self,
        tx: &Connection,
        watched: &cases::Watched,
        now: DateTime<Utc>,
        report: &mut DeadlineReport,
        overdue: &mut Overdue,
    ) -> anyhow::Result<()> {
        let today = now.with_timezone(&self.intake.tz).date_naive();
        let calendar = self.intake.calendar;
        let Some((deadline, due)) =
            cases::deadline_of(watched.status, watched.reaction_due, watched.closing_due)
        else {
            return cases::set_watch_on(tx, watched.id, None);
        };
        let reference = watched.reference;
        let points = watch_points(self.intake, due);
        let mut case: Option<CaseRecord> = None;
        let mut load = |tx: &Connection| -> anyhow::Result<CaseRecord> {
            if case.is_none() {
                case = cases::by_id(tx, watched.id)?;
            }
            case.clone().context("a watched case vanished")
        };
        // Reminders: every point whose morning has come; several missed ones make one mail.
        let mut reminder_due = false;
        for &before in &self.intake.settings.reminders.before_working_days {
            let day = calendar.working_days_before(due, before);
            let key = format!("reminder:{reference}:{}:{due}:{before}", deadline.as_str());
            if now >= morning(self.intake, day) && notices::claim(tx, &key, now)? {
                reminder_due = true;
            }
        }
        if reminder_due {
            let case = load(tx)?;
            self.send_reminder(tx, &case, deadline, due, today, now)?;
            report.reminders += 1;
        }
        // Overdue: the working morning after the deadline day.
        let alert_day = calendar.next_working_day(due);
        let key = format!("overdue:{reference}:{}:{due}", deadline.as_str());
        if today > due && now >= morning(self.intake, alert_day) && notices::claim(tx, &key, now)? {
            let case = load(tx)?;
            deadline_event(tx, case.id, now, "overdue", deadline, due)?;
            overdue.add(
                reference,
                OverdueLine {
                    reference: reference.to_string(),
                    subject: case.subject.clone(),
                    deadline: deadline.label(self.intake.settings.organisation.language),
                    due: templates::long_date(due, self.intake.settings.organisation.language),
                    handler: case.handler.clone().unwrap_or_else(|| "-".into()),
                    working_days_late: calendar.working_days_between(due, today),
                },
            );
        }
        cases::set_watch_on(tx, watched.id, next_watch(&points, today))
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
        let missing: Vec<String> = crate::casework::plan::missing_to_close(case)
            .into_iter()
            .map(|m| crate::domain::wording::missing_field(m, lang))
            .collect();
        context.insert("missing", &missing);
        context.insert(
            "confidential",
            &self.intake.registry().confidential_note(case, lang),
        );
        mailer.to_roles(
            tx,
            Letter {
                kind: OutboxKind::Reminder,
                template: Template::Reminder,
                case: Some(case),
                context,
                attachments: &[],
                files: crate::outbound::mailer::Files::None,
                // A case no proven staff member has taken on exists only because of mail from
                // a sender who is not proven: its reminders count against the budget (a flood
                // of complaints never becomes a flood of reminders); once a handler is set,
                // they never do (issue 22).
                cause: if case.handler.is_some() {
                    crate::outbound::budget::Cause::Proven
                } else {
                    crate::outbound::budget::Cause::Unproven
                },
            },
            &self.intake.handler_or_staff(case),
            now,
        )?;
        deadline_event(tx, case.id, now, "reminder", deadline, due)?;
        tracing::info!(case = %case.reference, deadline = deadline.as_str(), "reminder sent");
        Ok(())
    }
}

/// Records in a case's history that a deadline's reminder or alert went out (`kind`).
fn deadline_event(
    tx: &Connection,
    case_id: i64,
    now: DateTime<Utc>,
    kind: &str,
    deadline: Deadline,
    due: chrono::NaiveDate,
) -> anyhow::Result<()> {
    let detail = format!(
        "{} uiterlijk {}",
        deadline.dutch(),
        due.format("%-d-%-m-%Y")
    );
    cases::add_event(tx, case_id, now, kind, None, &detail)
}
