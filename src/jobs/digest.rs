//! The weekly digest to the director (and a configurable list): the past week's new, closed,
//! escalated and appealed cases, every open case with its deadline (overdue first), and the
//! counts that matter. Sent once per week at the configured day and time.

use super::{Jobs, at_local};
use crate::domain::Language;
use crate::outbound::{Letter, Template, templates};
use crate::store::cases::{self, Deadline, Stamp};
use crate::store::outbox::OutboxKind;
use crate::store::{CaseRecord, notices};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use rusqlite::Connection;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct DigestLine {
    pub reference: String,
    pub subject: String,
    pub status: String,
    pub handler: String,
    pub due: String,
    pub deadline: String,
    pub overdue: bool,
    pub agreement: String,
    /// The committee's verdict ("gegrond"/"ongegrond"), "-" when there is none.
    pub verdict: String,
    /// The complainant's address cannot receive mail: someone must answer another way.
    pub unreachable: bool,
    /// Role addresses the complaint concerns (issue 25): their copy shows no subject.
    #[serde(skip)]
    pub concerns: Vec<String>,
}

/// The digest's figures for the week ending at `end` (exclusive).
#[derive(Debug, Clone, Serialize)]
pub struct DigestContent {
    pub week: String,
    pub from: String,
    pub to: String,
    pub new_cases: Vec<DigestLine>,
    pub open_cases: Vec<DigestLine>,
    pub closed: Vec<DigestLine>,
    pub escalated: Vec<DigestLine>,
    pub appealed: Vec<DigestLine>,
    pub verdicts: Vec<DigestLine>,
    pub open_count: usize,
    pub overdue_count: usize,
    /// How many cases each list has in all (the lists stop at [`LIST_CAP`]) ...
    pub new_count: usize,
    pub closed_count: usize,
    /// ... and how many of them the list leaves out ("en nog N andere").
    pub open_more: usize,
    pub new_more: usize,
    pub closed_more: usize,
    pub escalated_more: usize,
    pub appealed_more: usize,
    pub verdicts_more: usize,
    /// Median working days from receipt to reaction over the cases reacted to this year.
    pub median_reaction_days: Option<f64>,
    /// Open privacy requests (issue 25), soonest deadline first, and how many are overdue.
    pub privacy_requests: Vec<PrivacyLine>,
    pub privacy_overdue: usize,
    /// Cases under a legal hold (issue 25), soonest end first.
    pub holds: Vec<HoldLine>,
}

/// An open privacy request as the digest lists it (issue 25).
#[derive(Debug, Clone, Serialize)]
pub struct PrivacyLine {
    pub reference: String,
    pub kind: String,
    pub received: String,
    pub due: String,
    pub overdue: bool,
    pub extended: bool,
}

/// A legal hold as the digest lists it (issue 25).
#[derive(Debug, Clone, Serialize)]
pub struct HoldLine {
    pub reference: String,
    pub until: String,
    pub reason: String,
    #[serde(skip)]
    pub concerns: Vec<String>,
}

impl DigestContent {
    /// The digest as `reader` gets it: the lines of cases that concern them keep their
    /// reference and dates, but not their subject (or a hold's reason). Counts are unchanged.
    pub fn for_reader(&self, reader: &str, lang: Language) -> DigestContent {
        let hidden = match lang {
            Language::Nl => "(vertrouwelijk)",
            Language::En => "(confidential)",
        };
        let mask = |lines: &[DigestLine]| -> Vec<DigestLine> {
            lines
                .iter()
                .map(|l| {
                    let mut l = l.clone();
                    if l.concerns.iter().any(|a| a.eq_ignore_ascii_case(reader)) {
                        l.subject = hidden.to_string();
                    }
                    l
                })
                .collect()
        };
        let mut out = self.clone();
        out.new_cases = mask(&self.new_cases);
        out.open_cases = mask(&self.open_cases);
        out.closed = mask(&self.closed);
        out.escalated = mask(&self.escalated);
        out.appealed = mask(&self.appealed);
        out.verdicts = mask(&self.verdicts);
        for h in &mut out.holds {
            if h.concerns.iter().any(|a| a.eq_ignore_ascii_case(reader)) {
                h.reason = hidden.to_string();
            }
        }
        out
    }
}

/// The most cases a digest lists under one heading; the rest are counted
/// ("en nog N andere; zie `klachtd cases`").
pub const LIST_CAP: usize = 25;

/// Counts of small numbers (working days): the median and percentiles of any number of cases
/// in constant memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: std::collections::BTreeMap<u32, usize>,
    total: usize,
}

impl Histogram {
    pub fn add(&mut self, value: u32) {
        *self.counts.entry(value).or_insert(0) += 1;
        self.total += 1;
    }

    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The value at 0-based `rank` in sorted order.
    pub fn nth(&self, rank: usize) -> Option<u32> {
        let mut seen = 0;
        for (&value, &n) in &self.counts {
            seen += n;
            if rank < seen {
                return Some(value);
            }
        }
        None
    }

    /// As [`median`] of all values added.
    pub fn median(&self) -> Option<f64> {
        let n = self.total;
        if n == 0 {
            return None;
        }
        let at = |i| f64::from(self.nth(i).expect("in range"));
        Some(if n % 2 == 1 {
            at(n / 2)
        } else {
            (at(n / 2 - 1) + at(n / 2)) / 2.0
        })
    }
}

/// Median of a list of numbers (None when empty).
pub fn median(values: &mut [u32]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    Some(if n % 2 == 1 {
        f64::from(values[n / 2])
    } else {
        (f64::from(values[n / 2 - 1]) + f64::from(values[n / 2])) / 2.0
    })
}

impl Jobs<'_> {
    /// How the digest shows one case.
    pub fn digest_line(&self, case: &CaseRecord, today: NaiveDate, lang: Language) -> DigestLine {
        let (deadline, due) = match cases::running_deadline(case) {
            Some((d, due)) => (d, Some(due)),
            None => (Deadline::Reaction, None),
        };
        DigestLine {
            reference: case.reference.to_string(),
            subject: templates::excerpt(&case.subject, 70),
            status: case.status.label(lang).to_string(),
            handler: case.handler.clone().unwrap_or_else(|| "-".into()),
            due: due
                .map(|d| templates::long_date(d, lang))
                .unwrap_or_else(|| "-".into()),
            deadline: deadline.label(lang).to_string(),
            overdue: cases::is_overdue(case, today),
            unreachable: case.unreachable_from.is_some(),
            concerns: case.privacy.concerns.clone(),
            agreement: match (case.agreement, lang) {
                (Some(true), Language::Nl) => "ja".into(),
                (Some(false), Language::Nl) => "nee".into(),
                (Some(true), Language::En) => "yes".into(),
                (Some(false), Language::En) => "no".into(),
                (None, _) => "-".into(),
            },
            verdict: match (
                case.verdict.as_deref().and_then(|v| v.split(':').next()),
                lang,
            ) {
                (Some("gegrond"), Language::En) => "upheld".into(),
                (Some("ongegrond"), Language::En) => "rejected".into(),
                (Some(v), _) => v.to_string(),
                (None, _) => "-".into(),
            },
        }
    }

    /// The digest for the 7 whole days before the day of `end` (sent on a Monday: Monday to
    /// Sunday of the week before). Totals come from SQL; each list holds at most
    /// [`LIST_CAP`] cases (the most urgent open ones first), so a digest over 100,000 open
    /// cases is still a mail a director can read.
    pub fn digest_content(
        &self,
        tx: &Connection,
        end: DateTime<Utc>,
    ) -> anyhow::Result<DigestContent> {
        let tz = self.intake.tz;
        let lang = self.intake.settings.organisation.language;
        let today = end.with_timezone(&tz).date_naive();
        let first_day = today - Duration::days(7);
        let last_day = today - Duration::days(1);
        let start = at_local(self.intake, first_day, NaiveTime::MIN);
        let end = at_local(self.intake, today, NaiveTime::MIN);
        let lines = |found: Vec<CaseRecord>| -> Vec<DigestLine> {
            found
                .iter()
                .map(|c| self.digest_line(c, today, lang))
                .collect()
        };
        let list = |stamp: Stamp| -> anyhow::Result<(usize, Vec<DigestLine>)> {
            let (count, found) = cases::stamped_between(tx, stamp, start, end, LIST_CAP)?;
            Ok((count, lines(found)))
        };
        let (open_count, overdue_count) = cases::count_active(tx, today)?;
        let open_cases = lines(cases::most_urgent(tx, today, LIST_CAP)?);
        let calendar = self.intake.calendar;
        let year_start = |year: i32| {
            at_local(
                self.intake,
                NaiveDate::from_ymd_opt(year, 1, 1).expect("valid"),
                NaiveTime::MIN,
            )
        };
        let mut reaction_days = Histogram::default();
        cases::for_each_reacted(
            tx,
            year_start(today.year()),
            year_start(today.year() + 1),
            |received, reacted| {
                let received = received.with_timezone(&tz).date_naive();
                let reacted = reacted.with_timezone(&tz).date_naive();
                reaction_days.add(
                    calendar
                        .working_days_between(calendar.working_day_on_or_after(received), reacted),
                );
            },
        )?;
        let (new_count, new_cases) = list(Stamp::Received)?;
        // A final, binding verdict ends a case as much as closing it does.
        let (closed_count, closed) = list(Stamp::Ended)?;
        let (escalated_count, escalated) = list(Stamp::Escalated)?;
        let (appealed_count, appealed) = list(Stamp::Appealed)?;
        let (verdicts_count, verdicts) = list(Stamp::Verdict)?;
        let (privacy_requests, privacy_overdue, holds) = self.privacy_lines(tx, today, lang)?;
        // Named after the week it covers.
        let iso = first_day.iso_week();
        Ok(DigestContent {
            week: format!("{}-W{:02}", iso.year(), iso.week()),
            from: templates::long_date(first_day, lang),
            to: templates::long_date(last_day, lang),
            open_more: open_count - open_cases.len(),
            new_more: new_count - new_cases.len(),
            closed_more: closed_count - closed.len(),
            escalated_more: escalated_count - escalated.len(),
            appealed_more: appealed_count - appealed.len(),
            verdicts_more: verdicts_count - verdicts.len(),
            new_cases,
            new_count,
            open_cases,
            open_count,
            overdue_count,
            closed,
            closed_count,
            escalated,
            appealed,
            verdicts,
            median_reaction_days: reaction_days.median(),
            privacy_requests,
            privacy_overdue,
            holds,
        })
    }

    /// The open privacy requests (and how many are overdue) and the legal holds in force
    /// (issue 25): a few rows each, from their own indexes.
    #[allow(clippy::type_complexity)]
    fn privacy_lines(
        &self,
        tx: &Connection,
        today: NaiveDate,
        lang: Language,
    ) -> anyhow::Result<(Vec<PrivacyLine>, usize, Vec<HoldLine>)> {
        let mut requests = Vec::new();
        let mut overdue = 0;
        for id in crate::store::privacy::open_requests(tx)? {
            let Some(case) = cases::by_id(tx, id)? else {
                continue;
            };
            let Some(r) = &case.privacy.request else {
                continue;
            };
            overdue += usize::from(r.overdue_on(today));
            if requests.len() < LIST_CAP {
                requests.push(PrivacyLine {
                    reference: case.reference.to_string(),
                    kind: r.kind.label(lang == Language::Nl).to_string(),
                    received: templates::long_date(r.received, lang),
                    due: templates::long_date(r.due, lang),
                    overdue: r.overdue_on(today),
                    extended: r.extended_months.is_some(),
                });
            }
        }
        let mut holds = Vec::new();
        for id in crate::store::privacy::held(tx, today)?
            .into_iter()
            .take(LIST_CAP)
        {
            let Some(case) = cases::by_id(tx, id)? else {
                continue;
            };
            if let Some(h) = &case.privacy.hold {
                holds.push(HoldLine {
                    reference: case.reference.to_string(),
                    until: templates::long_date(h.until, lang),
                    reason: h.reason.clone(),
                    concerns: case.privacy.concerns.clone(),
                });
            }
        }
        Ok((requests, overdue, holds))
    }

    /// The moment this week's digest falls due.
    fn digest_moment(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let settings = &self.intake.settings.digest;
        let today = now.with_timezone(&self.intake.tz).date_naive();
        let back = (7 + today.weekday().num_days_from_monday()
            - settings.weekday().num_days_from_monday())
            % 7;
        let day = today - Duration::days(i64::from(back));
        at_local(self.intake, day, settings.time)
    }

    /// Queues this week's digest if its moment has come and it was not sent yet.
    pub fn digest_if_due(&self, tx: &Connection, now: DateTime<Utc>) -> anyhow::Result<bool> {
        let moment = self.digest_moment(now);
        if now < moment || moment < notices::installed_at(tx, now)? {
            return Ok(false);
        }
        let content = self.digest_content(tx, moment)?;
        if !notices::claim(tx, &format!("digest:{}", content.week), now)? {
            return Ok(false);
        }
        self.queue_digest(tx, &content, now)?;
        Ok(true)
    }

    /// Queues a digest now, whatever the schedule (`klachtd digest --send-now`).
    pub fn send_digest_now(
        &self,
        tx: &Connection,
        now: DateTime<Utc>,
    ) -> anyhow::Result<DigestContent> {
        let content = self.digest_content(tx, now)?;
        notices::claim(tx, &format!("digest:{}", content.week), now)?;
        self.queue_digest(tx, &content, now)?;
        Ok(content)
    }

    fn queue_digest(
        &self,
        tx: &Connection,
        content: &DigestContent,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let settings = self.intake.settings;
        let mut recipients = vec![settings.roles.director.clone()];
        recipients.extend(settings.digest.extra_recipients.iter().cloned());
        recipients.dedup();
        for recipient in &recipients {
            // Each reader's own copy: a case that concerns them shows no subject (issue 25).
            let content = content.for_reader(recipient.as_str(), settings.organisation.language);
            self.intake.mailer().to_role(
                tx,
                Letter {
                    kind: OutboxKind::Digest,
                    template: Template::Digest,
                    case: None,
                    context: self.digest_context(&content),
                    attachments: &[],
                    files: crate::outbound::mailer::Files::None,
                    cause: crate::outbound::budget::Cause::Proven,
                },
                recipient,
                None,
                now,
            )?;
        }
        tracing::info!(week = %content.week, "weekly digest queued");
        Ok(())
    }

    pub fn digest_context(&self, content: &DigestContent) -> tera::Context {
        let mut context = tera::Context::from_serialize(content).expect("serialisable");
        context.insert("organisation", &self.intake.settings.organisation.name);
        context.insert(
            "address",
            self.intake.settings.organisation.address.as_str(),
        );
        context.insert(
            "median_text",
            &content
                .median_reaction_days
                .map(|m| format!("{m:.1}").replace('.', ","))
                .unwrap_or_else(|| "-".into()),
        );
        context
    }

    /// The digest's text, as it would be mailed (`klachtd digest --print`).
    pub fn digest_text(&self, content: &DigestContent) -> anyhow::Result<String> {
        let rendered = self.intake.renderer.render(
            Template::Digest,
            self.intake.settings.organisation.language,
            &self.digest_context(content),
        )?;
        let label = match self.intake.settings.organisation.language {
            Language::Nl => "Onderwerp",
            Language::En => "Subject",
        };
        Ok(format!(
            "{label}: {}\n\n{}",
            rendered.subject, rendered.text
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{Histogram, median};
    use proptest::prelude::*;

    proptest! {
        /// Counting values gives the median and every rank that sorting them all gives.
        #[test]
        fn a_histogram_ranks_as_the_sorted_values(values in proptest::collection::vec(0u32..30, 0..200)) {
            let mut h = Histogram::default();
            for &v in &values {
                h.add(v);
            }
            let mut sorted = values.clone();
            prop_assert_eq!(h.median(), median(&mut sorted));
            prop_assert_eq!(h.len(), values.len());
            for (rank, &v) in sorted.iter().enumerate() {
                prop_assert_eq!(h.nth(rank), Some(v));
            }
            prop_assert_eq!(h.nth(values.len()), None);
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3]), Some(3.0));
        assert_eq!(median(&mut [5, 1, 3]), Some(3.0));
        assert_eq!(median(&mut [4, 1, 3, 2]), Some(2.5));
    }
}
