//! The yearly analysis the director owes the organisation: cases per month, category and
//! handler; deadline compliance with median and 90th percentile; agreement, escalations,
//! appeals and verdicts; causes, measures and recommendations; two charts; and a CSV of the
//! anonymous case data. Sent by itself in the first working week of January.

use super::Jobs;
use super::digest::Histogram;
use crate::domain::Attachment;
use crate::domain::CaseStatus;
use crate::domain::Language;
use crate::outbound::{Letter, Template};
use crate::store::outbox::OutboxKind;
use crate::store::{cases, notices};
use base64::Engine;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rusqlite::{Connection, params};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
];
const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A count with its label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    pub label: String,
    pub count: usize,
}

/// Working-day figures for one deadline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compliance {
    /// Cases measured (reacted/closed, or late without it).
    pub measured: usize,
    pub within: usize,
    pub share: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<u32>,
}

/// A recorded cause or measure, for the list in the analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub reference: String,
    pub category: String,
    pub text: String,
}

/// One line of the anonymous case data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseFacts {
    pub reference: String,
    pub received: NaiveDate,
    pub category: String,
    pub status: String,
    pub handler: String,
    pub reaction_days: Option<u32>,
    pub closing_days: Option<u32>,
    pub agreement: Option<bool>,
    pub escalated: bool,
    pub appealed: bool,
    pub verdict: Option<String>,
    pub extended: bool,
}

/// The analysis of one year.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YearReport {
    pub year: i32,
    pub total: usize,
    pub withdrawn: usize,
    pub per_month: Vec<Count>,
    pub per_category: Vec<Count>,
    pub per_handler: Vec<Count>,
    pub reaction: Compliance,
    pub closing: Compliance,
    pub agreement_yes: usize,
    pub agreement_no: usize,
    pub agreement_rate: Option<f64>,
    pub escalations: usize,
    pub appeals: usize,
    pub upheld: usize,
    pub rejected: usize,
    pub extensions: usize,
    /// The first [`FINDINGS_CAP`] causes and measures recorded ...
    pub causes: Vec<Finding>,
    pub measures: Vec<Finding>,
    /// ... and how many more there are.
    pub causes_more: usize,
    pub measures_more: usize,
    pub recommendations: Vec<String>,
}

/// 90th percentile, nearest rank, of counted values.
trait P90 {
    fn p90(&self) -> Option<u32>;
}

impl P90 for Histogram {
    fn p90(&self) -> Option<u32> {
        let rank = (self.len() as f64 * 0.9).ceil() as usize;
        self.nth(rank.saturating_sub(1).min(self.len().saturating_sub(1)))
    }
}

/// 90th percentile, nearest rank.
pub fn p90(values: &mut [u32]) -> Option<u32> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (values.len() as f64 * 0.9).ceil() as usize;
    Some(values[rank.saturating_sub(1).min(values.len() - 1)])
}

fn share(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn counts(map: BTreeMap<String, usize>) -> Vec<Count> {
    let mut v: Vec<Count> = map
        .into_iter()
        .map(|(label, count)| Count { label, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));
    v
}

/// The most causes and measures the analysis lists by name; the rest are counted.
pub const FINDINGS_CAP: usize = 50;

impl Jobs<'_> {
    /// The instants the local `year` begins and ends.
    fn year_bounds(&self, year: i32) -> (DateTime<Utc>, DateTime<Utc>) {
        let jan1 = |y| NaiveDate::from_ymd_opt(y, 1, 1).expect("valid");
        (
            super::at_local(self.intake, jan1(year), chrono::NaiveTime::MIN),
            super::at_local(self.intake, jan1(year + 1), chrono::NaiveTime::MIN),
        )
    }

    /// The anonymous facts of one case as of `today`.
    fn facts(&self, c: &cases::FactsRow) -> CaseFacts {
        let tz = self.intake.tz;
        let cal = self.intake.calendar;
        let english = self.intake.settings.organisation.language == Language::En;
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
        let received = local(c.received_at);
        let day0 = cal.working_day_on_or_after(received);
        CaseFacts {
            reference: c.reference.to_string(),
            received,
            category: c.category.clone().unwrap_or_else(|| {
                if english {
                    "(no category)"
                } else {
                    "(geen categorie)"
                }
                .into()
            }),
            status: c.status.as_str().into(),
            handler: c.handler.clone().unwrap_or_else(|| {
                if english {
                    "(no handler)"
                } else {
                    "(geen behandelaar)"
                }
                .into()
            }),
            reaction_days: c
                .reacted_at
                .map(|r| cal.working_days_between(day0, local(r))),
            closing_days: match (c.reacted_at, c.closed_at) {
                (Some(r), Some(cl)) => Some(cal.working_days_between(local(r), local(cl))),
                _ => None,
            },
            agreement: c.agreement,
            escalated: c.escalated,
            appealed: c.appealed,
            verdict: c
                .verdict
                .as_deref()
                .map(|v| v.split(':').next().unwrap_or(v).to_string()),
            extended: c.extended,
        }
    }

    /// Hands the facts of every complaint (withdrawn ones left out) received in the local
    /// `year` to `f`, one at a time, oldest reference first.
    fn for_each_complaint(
        &self,
        tx: &Connection,
        year: i32,
        mut f: impl FnMut(&cases::FactsRow, CaseFacts) -> anyhow::Result<()>,
    ) -> anyhow::Result<usize> {
        let (from, to) = self.year_bounds(year);
        let mut withdrawn = 0;
        cases::for_each_received(tx, from, to, |row| {
            if row.status == CaseStatus::Withdrawn {
                withdrawn += 1;
                return Ok(());
            }
            let facts = self.facts(&row);
            f(&row, facts)
        })?;
        Ok(withdrawn)
    }

    /// Computes the analysis of `year` as of `today`: aggregated one case at a time, so its
    /// memory does not grow with the register; causes and measures are listed up to
    /// [`FINDINGS_CAP`] each and counted.
    pub fn year_report(
        &self,
        tx: &Connection,
        year: i32,
        today: NaiveDate,
    ) -> anyhow::Result<YearReport> {
        let deadlines = &self.intake.settings.deadlines;
        let english = self.intake.settings.organisation.language == Language::En;
        let mut total = 0;
        let mut per_month = [0usize; 12];
        let mut per_category = BTreeMap::new();
        let mut per_handler = BTreeMap::new();
        let (mut reaction_days, mut closing_days) = (Histogram::default(), Histogram::default());
        let (mut reaction_within, mut reaction_late_open) = (0, 0);
        let (mut closing_within, mut closing_late_open) = (0, 0);
        let (mut agreement_yes, mut agreement_no) = (0, 0);
        let (mut escalations, mut appeals, mut upheld, mut rejected, mut extensions) =
            (0, 0, 0, 0, 0);
        let (mut causes, mut measures) = (Vec::new(), Vec::new());
        let (mut causes_count, mut measures_count) = (0, 0);
        let withdrawn = self.for_each_complaint(tx, year, |c, f| {
            total += 1;
            per_month[f.received.month0() as usize] += 1;
            *per_category.entry(f.category).or_insert(0) += 1;
            *per_handler.entry(f.handler).or_insert(0) += 1;
            match f.reaction_days {
                Some(d) => {
                    reaction_days.add(d);
                    reaction_within += usize::from(d <= deadlines.reaction_working_days);
                }
                None if today > c.reaction_due => reaction_late_open += 1,
                None => {}
            }
            match f.closing_days {
                Some(d) => {
                    closing_days.add(d);
                    closing_within += usize::from(d <= deadlines.closing_working_days);
                }
                // Still to be closed and late (a case the committee decided is not).
                None if c.closing_due.is_some_and(|due| today > due)
                    && c.closed_at.is_none()
                    && c.status != CaseStatus::Final =>
                {
                    closing_late_open += 1
                }
                None => {}
            }
            agreement_yes += usize::from(c.agreement == Some(true));
            agreement_no += usize::from(c.agreement == Some(false));
            escalations += usize::from(c.escalated);
            appeals += usize::from(c.appealed);
            let verdict = c.verdict.as_deref().unwrap_or_default();
            upheld += usize::from(verdict.starts_with("gegrond"));
            rejected += usize::from(verdict.starts_with("ongegrond"));
            extensions += usize::from(c.extended);
            for (text, list, count) in [
                (&c.cause, &mut causes, &mut causes_count),
                (&c.measure, &mut measures, &mut measures_count),
            ] {
                if let Some(text) = text {
                    *count += 1;
                    if list.len() < FINDINGS_CAP {
                        list.push(Finding {
                            reference: c.reference.to_string(),
                            category: c.category.clone().unwrap_or_else(|| "-".into()),
                            text: text.clone(),
                        });
                    }
                }
            }
            Ok(())
        })?;
        let compliance = |days: &Histogram, within: usize, late_open: usize| Compliance {
            measured: days.len() + late_open,
            within,
            share: share(within, days.len() + late_open),
            median: days.median(),
            p90: days.p90(),
        };
        let recommendations = {
            let mut stmt = tx.prepare("SELECT at, text FROM recommendations ORDER BY at")?;
            stmt.query_map(params![], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .filter_map(Result::ok)
            .filter(|(at, _)| at.starts_with(&year.to_string()))
            .map(|(_, text)| text)
            .collect()
        };
        Ok(YearReport {
            year,
            total,
            withdrawn,
            per_month: per_month
                .iter()
                .enumerate()
                .map(|(i, n)| Count {
                    label: if english { MONTHS_EN[i] } else { MONTHS[i] }.into(),
                    count: *n,
                })
                .collect(),
            per_category: counts(per_category),
            per_handler: counts(per_handler),
            reaction: compliance(&reaction_days, reaction_within, reaction_late_open),
            closing: compliance(&closing_days, closing_within, closing_late_open),
            agreement_yes,
            agreement_no,
            agreement_rate: share(agreement_yes, agreement_yes + agreement_no),
            escalations,
            appeals,
            upheld,
            rejected,
            extensions,
            causes_more: causes_count - causes.len(),
            measures_more: measures_count - measures.len(),
            causes,
            measures,
            recommendations,
        })
    }

    /// The anonymous case data of `year` as CSV (RFC 4180, comma-separated, UTF-8), written
    /// to `out` one case at a time.
    pub fn write_report_csv(
        &self,
        tx: &Connection,
        year: i32,
        out: &mut dyn std::io::Write,
    ) -> anyhow::Result<()> {
        let opt = |v: Option<u32>| v.map(|d| d.to_string()).unwrap_or_default();
        let english = self.intake.settings.organisation.language == Language::En;
        let yes_no = |b: bool| match (b, english) {
            (true, false) => "ja",
            (false, false) => "nee",
            (true, true) => "yes",
            (false, true) => "no",
        };
        out.write_all(if english {
            b"reference,received,month,category,status,handler,working_days_to_reply,working_days_to_close,agreement,escalated,appeal,verdict,extended\r\n"
        } else {
            b"kenmerk,ontvangen,maand,categorie,status,behandelaar,werkdagen_tot_reactie,werkdagen_tot_afhandeling,akkoord,geescaleerd,beroep,uitspraak,verlengd\r\n"
        })?;
        self.for_each_complaint(tx, year, |_, f| {
            write!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
                csv_field(&f.reference),
                f.received,
                f.received.month(),
                csv_field(&f.category),
                f.status,
                csv_field(&f.handler),
                opt(f.reaction_days),
                opt(f.closing_days),
                f.agreement.map(yes_no).unwrap_or(""),
                yes_no(f.escalated),
                yes_no(f.appealed),
                csv_field(f.verdict.as_deref().unwrap_or("")),
                yes_no(f.extended),
            )?;
            Ok(())
        })?;
        Ok(())
    }

    /// [`Self::write_report_csv`] as one string (the attachment of the yearly mail).
    pub fn report_csv(&self, tx: &Connection, year: i32) -> anyhow::Result<String> {
        let mut out = Vec::new();
        self.write_report_csv(tx, year, &mut out)?;
        Ok(String::from_utf8(out).expect("written as UTF-8"))
    }

    /// The two charts as SVG: cases per month, and deadline compliance (no bar where nothing
    /// was measured, as the summary's "-").
    pub fn report_charts(&self, report: &YearReport) -> Vec<(String, String)> {
        let english = self.intake.settings.organisation.language == Language::En;
        let deadlines = &self.intake.settings.deadlines;
        let months: Vec<(String, Option<f64>)> = report
            .per_month
            .iter()
            .map(|c| (c.label.clone(), Some(c.count as f64)))
            .collect();
        let pct = |c: &Compliance| c.share.map(|s| s * 100.0);
        let (reaction, closing, per_month, within, files) = if english {
            (
                "reply",
                "closure",
                "Complaints per month",
                "Within the period",
                ("complaints-per-month", "deadlines"),
            )
        } else {
            (
                "reactie",
                "afhandeling",
                "Klachten per maand",
                "Binnen de termijn",
                ("klachten-per-maand", "termijnen"),
            )
        };
        // A chart with nothing to show says so in words, never as an empty frame.
        let (no_complaints, nothing_measured) = if english {
            (
                format!("No complaints in {}.", report.year),
                "Nothing measured yet: no complaint had its reply or closure due or given."
                    .to_string(),
            )
        } else {
            (
                format!("Geen klachten in {}.", report.year),
                "Nog niets gemeten: bij geen enkele klacht was de reactie of afhandeling gegeven of verlopen."
                    .to_string(),
            )
        };
        let wd = "wd";
        let compliance = vec![
            (
                format!("{reaction} ≤ {} {wd}", deadlines.reaction_working_days),
                pct(&report.reaction),
            ),
            (
                format!("{closing} ≤ {} {wd}", deadlines.closing_working_days),
                pct(&report.closing),
            ),
        ];
        vec![
            (
                format!("{}-{}.svg", files.0, report.year),
                bar_chart(
                    &format!("{per_month}, {}", report.year),
                    &months,
                    None,
                    &no_complaints,
                ),
            ),
            (
                format!("{}-{}.svg", files.1, report.year),
                bar_chart(
                    &format!("{within}, {} (%)", report.year),
                    &compliance,
                    Some(100.0),
                    &nothing_measured,
                ),
            ),
        ]
    }

    /// The context for the report templates, charts embedded as images.
    pub fn report_context(&self, report: &YearReport) -> tera::Context {
        let mut context = tera::Context::from_serialize(report).expect("serialisable");
        let pct = |s: Option<f64>| {
            s.map(|v| format!("{:.0}%", v * 100.0))
                .unwrap_or_else(|| "-".into())
        };
        let num = |m: Option<f64>| {
            m.map(|v| format!("{v:.1}").replace('.', ","))
                .unwrap_or_else(|| "-".into())
        };
        context.insert("organisation", &self.intake.settings.organisation.name);
        context.insert("reaction_share", &pct(report.reaction.share));
        context.insert("closing_share", &pct(report.closing.share));
        context.insert("reaction_median", &num(report.reaction.median));
        context.insert("closing_median", &num(report.closing.median));
        context.insert("agreement_share", &pct(report.agreement_rate));
        context.insert(
            "reaction_days",
            &self.intake.settings.deadlines.reaction_working_days,
        );
        context.insert(
            "closing_days",
            &self.intake.settings.deadlines.closing_working_days,
        );
        let charts: Vec<String> = self
            .report_charts(report)
            .into_iter()
            .map(|(_, svg)| {
                format!(
                    "data:image/svg+xml;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(svg)
                )
            })
            .collect();
        context.insert("charts", &charts);
        context
    }

    /// Queues the analysis of last year once the first working day of January has come.
    pub fn report_if_due(&self, tx: &Connection, now: DateTime<Utc>) -> anyhow::Result<bool> {
        let today = now.with_timezone(&self.intake.tz).date_naive();
        let first_working_day = self
            .intake
            .calendar
            .working_day_on_or_after(NaiveDate::from_ymd_opt(today.year(), 1, 1).expect("valid"));
        let year = today.year() - 1;
        let installed_year = notices::installed_at(tx, now)?
            .with_timezone(&self.intake.tz)
            .year();
        if now < super::morning(self.intake, first_working_day)
            || installed_year > year
            || notices::done(tx, &format!("report:{year}"))?
        {
            return Ok(false);
        }
        notices::claim(tx, &format!("report:{year}"), now)?;
        self.send_report(tx, year, today, now)?;
        Ok(true)
    }

    /// Queues the analysis of `year` to the director, with the charts, the HTML and the CSV.
    pub fn send_report(
        &self,
        tx: &Connection,
        year: i32,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let report = self.year_report(tx, year, today)?;
        let csv = self.report_csv(tx, year)?;
        let context = self.report_context(&report);
        let html = self
            .intake
            .renderer
            .render(
                Template::AnnualReport,
                self.intake.settings.organisation.language,
                &context,
            )?
            .html;
        let mut attachments: Vec<Attachment> = self
            .report_charts(&report)
            .into_iter()
            .map(|(filename, svg)| Attachment::new(filename, "image/svg+xml", svg.into_bytes()))
            .collect();
        attachments.push(Attachment::new(
            format!("klachtanalyse-{year}.html"),
            "text/html",
            html.into_bytes(),
        ));
        attachments.push(Attachment::new(
            format!("klachten-{year}.csv"),
            "text/csv",
            csv.into_bytes(),
        ));
        self.intake.mailer().to_role(
            tx,
            Letter {
                kind: OutboxKind::AnnualReport,
                template: Template::AnnualReport,
                case: None,
                context,
                attachments: &attachments,
                files: crate::outbound::mailer::Files::Report { year },
                cause: crate::outbound::budget::Cause::Proven,
            },
            &self.intake.settings.roles.director,
            None,
            now,
        )?;
        tracing::info!(year, "yearly analysis queued");
        Ok(())
    }
}

/// A plain SVG bar chart, readable in any browser and mail client that shows images. With
/// nothing to show (no bar, or only zeros) it says `nothing` in words across the chart.
fn bar_chart(
    title: &str,
    bars: &[(String, Option<f64>)],
    max: Option<f64>,
    nothing: &str,
) -> String {
    let (width, height, top, bottom, left) = (640.0, 320.0, 40.0, 40.0, 40.0);
    let max = max.unwrap_or_else(|| bars.iter().filter_map(|b| b.1).fold(1.0, f64::max));
    let slot = (width - left - 10.0) / bars.len().max(1) as f64;
    let plot = height - top - bottom;
    let esc = crate::outbound::templates::escape_typed;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"Arial, sans-serif\" font-size=\"12\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/><text x=\"{left}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{}</text>\
         <line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>",
        esc(title),
        height - bottom,
        width - 10.0,
        height - bottom
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let x = left + i as f64 * slot + slot * 0.15;
        let centre = x + slot * 0.35;
        match value {
            Some(value) => {
                let h = if max > 0.0 { value / max * plot } else { 0.0 };
                let y = height - bottom - h;
                let _ = write!(
                    svg,
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#2f6f9f\"/>\
                     <text x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{value:.0}</text>",
                    slot * 0.7,
                    y - 4.0,
                );
            }
            // Nothing measured: no bar, a dash.
            None => {
                let _ = write!(
                    svg,
                    "<text x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\">-</text>",
                    height - bottom - 4.0,
                );
            }
        }
        let _ = write!(
            svg,
            "<text x=\"{centre:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            height - bottom + 16.0,
            esc(label)
        );
    }
    if bars.iter().all(|(_, v)| v.is_none_or(|v| v == 0.0)) {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"14\">{}</text>",
            width / 2.0,
            top + plot / 2.0,
            esc(nothing)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One CSV cell (RFC 4180), neutralised against formula injection.
pub fn csv_field(s: &str) -> String {
    // A cell a spreadsheet would read as a formula is prefixed with ' (OWASP, CSV
    // injection): = + - @ TAB CR.
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    let s = s.as_str();
    if s.contains([',', '"', '\n', '\r', '\t']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// No cell, once a spreadsheet unquotes it, starts a formula.
        #[test]
        fn no_csv_cell_is_a_formula(v in "[=+@\t\r,\"a-z -]{0,12}") {
            let cell = csv_field(&v);
            let inner = cell
                .strip_prefix('"')
                .and_then(|c| c.strip_suffix('"'))
                .map(|c| c.replace("\"\"", "\""))
                .unwrap_or(cell.clone());
            prop_assert!(!inner.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell:?}");
            prop_assert!(inner.trim_start_matches('\'').len() == v.len() || inner == v);
        }
    }

    #[test]
    fn a_hyperlink_formula_is_text() {
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(csv_field("Anna"), "Anna");
    }
    use super::*;

    proptest! {
        /// The counted 90th percentile is the sorted one.
        #[test]
        fn counted_p90_is_the_sorted_p90(values in proptest::collection::vec(0u32..40, 0..200)) {
            let mut h = Histogram::default();
            for &v in &values {
                h.add(v);
            }
            prop_assert_eq!(h.p90(), p90(&mut values.clone()));
        }
    }

    #[test]
    fn percentile_by_nearest_rank() {
        assert_eq!(p90(&mut []), None);
        assert_eq!(p90(&mut [7]), Some(7));
        assert_eq!(p90(&mut (1..=10).collect::<Vec<_>>()), Some(9));
        assert_eq!(p90(&mut (1..=20).collect::<Vec<_>>()), Some(18));
    }

    #[test]
    fn charts_are_svg() {
        let svg = bar_chart(
            "Klachten <test>",
            &[("jan".into(), Some(3.0)), ("feb".into(), Some(0.0))],
            None,
            "niets",
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("Klachten &#60;test&#62;"));
        assert_eq!(svg.matches("<rect").count(), 3, "background and two bars");
    }

    #[test]
    fn nothing_measured_draws_no_bar() {
        let svg = bar_chart(
            "Binnen de termijn (%)",
            &[("reactie".into(), Some(80.0)), ("afhandeling".into(), None)],
            Some(100.0),
            "Nog niets gemeten",
        );
        assert_eq!(svg.matches("<rect").count(), 2, "background and one bar");
        assert!(svg.contains(">-</text>"));
        assert!(!svg.contains(">0</text>"));
        assert!(!svg.contains("Nog niets gemeten"), "there is a bar to show");
    }

    #[test]
    fn a_chart_with_nothing_to_show_says_so_in_words() {
        let none = [("reactie".into(), None), ("afhandeling".into(), None)];
        let zeros = [("jan".into(), Some(0.0)), ("feb".into(), Some(0.0))];
        for (bars, words) in [
            (&none[..], "Nog niets gemeten: &#60;niets&#62;"),
            (&zeros[..], "Nog niets gemeten: &#60;niets&#62;"),
        ] {
            let svg = bar_chart(
                "Binnen de termijn (%)",
                bars,
                Some(100.0),
                "Nog niets gemeten: <niets>",
            );
            assert!(svg.contains(words), "{svg}");
        }
    }
}
