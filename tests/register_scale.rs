//! The register at scale (issue 12). `cases`, the digest and the scheduler now read indexes
//! instead of the whole register; on random small registers they must show and do exactly
//! what the whole-register computations did (kept here as the reference), and a digest over
//! many open cases lists the 25 most urgent and counts the rest, in Dutch and in English.

mod common;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;
use common::world::World;
use klachtd::domain::CaseStatus;
use klachtd::domain::Language;
use klachtd::jobs::Jobs;
use klachtd::jobs::digest::LIST_CAP;
use klachtd::settings::Settings;
use klachtd::store::cases::{self, CaseRecord};
use klachtd::store::{Store, notices, outbox};
use proptest::prelude::*;
use rusqlite::params;
use std::collections::BTreeSet;
use std::fmt::Write;

fn settings(lang: &str) -> Settings {
    Settings::load_with_env(
        None,
        vec![
            (
                "KLACHTD__ROLES__STAFF".to_string(),
                "anna@example.org,pieter@example.org".to_string(),
            ),
            (
                "KLACHTD__ROLES__DIRECTOR".to_string(),
                "directie@example.org".to_string(),
            ),
            (
                "KLACHTD__ORGANISATION__LANGUAGE".to_string(),
                lang.to_string(),
            ),
        ],
    )
    .unwrap()
}

/// 09:00 in Amsterdam on `day`.
fn nine(day: NaiveDate) -> DateTime<Utc> {
    Amsterdam
        .from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn day(offset: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 2).unwrap() + Duration::days(offset)
}

/// A case as a register may hold it; day offsets from Monday 2 November 2026.
#[derive(Debug, Clone)]
struct Spec {
    status: usize,
    received: i64,
    reaction_due: i64,
    closing_due: Option<i64>,
    reacted: Option<i64>,
    closed: Option<i64>,
    escalated: Option<i64>,
    appealed: Option<i64>,
    verdict: Option<(i64, bool)>,
    handler: Option<u8>,
    unreachable: bool,
    failed_mail: u8,
}

fn spec() -> impl Strategy<Value = Spec> {
    let opt_day = || proptest::option::of(0i64..70);
    (
        (
            0usize..6,
            0i64..40,
            0i64..50,
            opt_day(),
            opt_day(),
            opt_day(),
        ),
        (
            opt_day(),
            opt_day(),
            proptest::option::of((0i64..40, any::<bool>())),
            proptest::option::of(0u8..3),
            any::<bool>(),
            0u8..3,
        ),
    )
        .prop_map(
            |(
                (status, received, reaction_due, closing_due, reacted, closed),
                (escalated, appealed, verdict, handler, unreachable, failed_mail),
            )| Spec {
                status,
                received,
                reaction_due,
                closing_due,
                reacted,
                closed,
                escalated,
                appealed,
                verdict,
                handler,
                unreachable,
                failed_mail,
            },
        )
}

/// Writes the cases (and their failed mail) straight into the store.
fn seed(store: &mut Store, specs: &[Spec]) {
    let at = |d: Option<i64>| d.map(|d| klachtd_ts(nine(day(d)) + Duration::minutes(d * 7)));
    store
        .transaction(|tx| {
            for (i, s) in specs.iter().enumerate() {
                let seq = i as i64 + 1;
                tx.execute(
                    "INSERT INTO cases (reference, year, seq, status, language, complainant_address,
                         complainant_name, subject, body, received_at, reaction_due, reacted_at,
                         closing_due, closed_at, handler, agreement, escalated_at, appealed_at,
                         verdict, verdict_at, unreachable_from)
                     VALUES (?1, 2026, ?2, ?3, 'nl', ?4, 'Klager', ?5, 'tekst', ?6, ?7, ?8, ?9, ?10,
                         ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                    params![
                        format!("KL-2026-{seq:04}"),
                        seq,
                        CaseStatus::ALL[s.status].as_str(),
                        (!s.unreachable).then(|| format!("k{seq}@example.net")),
                        format!("Klacht {seq} over de cursus"),
                        at(Some(s.received)),
                        day(s.reaction_due).to_string(),
                        at(s.reacted),
                        s.closing_due.map(|d| day(d).to_string()),
                        at(s.closed),
                        s.handler.map(|h| format!("Behandelaar {h}")),
                        s.handler.map(|h| h % 2 == 0),
                        at(s.escalated),
                        at(s.appealed),
                        s.verdict.map(|(_, upheld)| if upheld {
                            "gegrond: zo is het"
                        } else {
                            "ongegrond"
                        }),
                        at(s.verdict.map(|(d, _)| d)),
                        s.unreachable.then_some("\"Klager\" <kapot@@>"),
                    ],
                )?;
                let id = tx.last_insert_rowid();
                if let Some(h) = s.handler {
                    tx.execute(
                        "UPDATE cases SET category = ?2, cause = ?3, measure = ?4 WHERE id = ?1",
                        params![
                            id,
                            format!("categorie {h}"),
                            (h != 0).then(|| format!("oorzaak {seq}")),
                            (h == 2).then(|| format!("maatregel {seq}")),
                        ],
                    )?;
                }
                if s.failed_mail == 1 {
                    tx.execute(
                        "INSERT INTO events (case_id, at, kind, detail) VALUES (?1, ?2, 'extended', 'x')",
                        params![id, at(Some(s.received))],
                    )?;
                }
                for n in 0..s.failed_mail {
                    tx.execute(
                        "INSERT INTO outbox (message_id, case_id, kind, envelope_from, recipients,
                             raw, status, next_attempt_at, created_at)
                         VALUES (?1, ?2, 'acknowledgement', 'info@example.org', '[]', x'00',
                             'failed', ?3, ?3)",
                        params![
                            format!("<f{seq}.{n}@example.org>"),
                            id,
                            at(Some(s.received))
                        ],
                    )?;
                }
            }
            Ok(())
        })
        .unwrap();
}

fn klachtd_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// ---- the whole-register computations, as they were before the indexes -------------------

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

/// `klachtd cases` as it was: every case read in full, then printed.
fn cases_before(store: &Store, settings: &Settings, now: DateTime<Utc>, json: bool) -> String {
    let printable = klachtd::cli::cases::printable;
    let all = cases::list(store.conn()).unwrap();
    let today = now.with_timezone(&settings.timezone()).date_naive();
    let failed = |id| outbox::failed_count(store.conn(), id).unwrap();
    let rfc3339 = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    if json {
        #[derive(serde::Serialize)]
        struct Row<'a> {
            reference: String,
            status: &'a str,
            complainant: Option<&'a str>,
            unreachable_from: Option<&'a str>,
            subject: &'a str,
            received_at: String,
            reaction_due: String,
            closing_due: Option<String>,
            overdue: bool,
            failed_mail: usize,
        }
        let rows: Vec<Row<'_>> = all
            .iter()
            .map(|c| Row {
                reference: c.reference.to_string(),
                status: c.status.as_str(),
                complainant: c.complainant_address.as_deref(),
                unreachable_from: c.unreachable_from.as_deref(),
                subject: &c.subject,
                received_at: rfc3339(c.received_at),
                reaction_due: c.reaction_due.to_string(),
                closing_due: c.closing_due.map(|d| d.to_string()),
                overdue: cases::is_overdue(c, today),
                failed_mail: failed(c.id),
            })
            .collect();
        return printable(&serde_json::to_string_pretty(&rows).unwrap()) + "\n";
    }
    if all.is_empty() {
        return "No cases registered yet.\n".into();
    }
    let tz = settings.timezone();
    let mut out = String::new();
    writeln!(
        out,
        "{:<13} {:<10} {:<32} {:<16} {:<10} {:<10}",
        "REFERENCE", "STATUS", "COMPLAINANT", "RECEIVED", "REACT BY", "CLOSE BY"
    )
    .unwrap();
    for c in &all {
        let cell = match (&c.complainant_address, &c.unreachable_from) {
            (Some(a), _) => a.clone(),
            (None, Some(raw)) => format!("UNREACHABLE {raw}"),
            (None, None) => "-".into(),
        };
        let n = failed(c.id);
        writeln!(
            out,
            "{:<13} {:<10} {:<32} {:<16} {:<10} {:<10}{}{}",
            c.reference.to_string(),
            c.status.as_str(),
            truncate(&cell, 32),
            c.received_at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
            c.reaction_due,
            c.closing_due
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into()),
            if cases::is_overdue(c, today) {
                "  OVERDUE"
            } else {
                ""
            },
            if n > 0 {
                format!("  ({n} mail failed)")
            } else {
                String::new()
            }
        )
        .unwrap();
    }
    printable(&out)
}

/// The digest's lists and figures as they were: every case read, filtered and sorted in
/// memory, nothing capped.
fn digest_before(jobs: &Jobs<'_>, store: &Store, end: DateTime<Utc>) -> serde_json::Value {
    let intake = jobs.intake;
    let tz = intake.tz;
    let lang = intake.settings.organisation.language;
    let today = end.with_timezone(&tz).date_naive();
    let start = klachtd::jobs::at_local(intake, today - Duration::days(7), chrono::NaiveTime::MIN);
    let end = klachtd::jobs::at_local(intake, today, chrono::NaiveTime::MIN);
    let all = cases::list(store.conn()).unwrap();
    let in_week = |t: Option<DateTime<Utc>>| t.is_some_and(|t| t >= start && t < end);
    // Each list as it was, then cut at the cap, with the number it held.
    let pick = |f: &dyn Fn(&CaseRecord) -> bool| -> serde_json::Value {
        let all: Vec<serde_json::Value> = all
            .iter()
            .filter(|c| f(c))
            .map(|c| serde_json::to_value(jobs.digest_line(c, today, lang)).unwrap())
            .collect();
        serde_json::json!({"count": all.len(), "first": all[..all.len().min(LIST_CAP)]})
    };
    let mut open: Vec<&CaseRecord> = all.iter().filter(|c| c.status.is_active()).collect();
    open.sort_by_key(|c| {
        (
            !cases::is_overdue(c, today),
            cases::running_deadline(c).map(|(_, d)| d),
            c.reference,
        )
    });
    let cal = intake.calendar;
    let mut reaction_days: Vec<u32> = all
        .iter()
        .filter(|c| {
            c.reacted_at.is_some_and(|r| {
                chrono::Datelike::year(&r.with_timezone(&tz)) == chrono::Datelike::year(&today)
            })
        })
        .map(|c| {
            let received = c.received_at.with_timezone(&tz).date_naive();
            let reacted = c.reacted_at.unwrap().with_timezone(&tz).date_naive();
            cal.working_days_between(cal.working_day_on_or_after(received), reacted)
        })
        .collect();
    serde_json::json!({
        "new_cases": pick(&|c| c.received_at >= start && c.received_at < end),
        "open_count": open.len(),
        "overdue_count": open.iter().filter(|c| cases::is_overdue(c, today)).count(),
        "open_cases": open
            .iter()
            .take(LIST_CAP)
            .map(|c| serde_json::to_value(jobs.digest_line(c, today, lang)).unwrap())
            .collect::<Vec<_>>(),
        "closed": pick(&|c| in_week(c.closed_at) || in_week(c.verdict_at)),
        "escalated": pick(&|c| in_week(c.escalated_at)),
        "appealed": pick(&|c| in_week(c.appealed_at)),
        "verdicts": pick(&|c| in_week(c.verdict_at)),
        "median_reaction_days": klachtd::jobs::digest::median(&mut reaction_days),
    })
}

/// The digest as it is now, in the same shape.
fn digest_now(jobs: &Jobs<'_>, store: &Store, end: DateTime<Utc>) -> serde_json::Value {
    let c = jobs.digest_content(store.conn(), end).unwrap();
    let list = |lines: &Vec<klachtd::jobs::digest::DigestLine>, more: usize| serde_json::json!({"count": lines.len() + more, "first": lines});
    assert_eq!(c.new_count, c.new_cases.len() + c.new_more);
    assert_eq!(c.closed_count, c.closed.len() + c.closed_more);
    assert_eq!(c.open_count, c.open_cases.len() + c.open_more);
    serde_json::json!({
        "new_cases": list(&c.new_cases, c.new_more),
        "open_count": c.open_count,
        "overdue_count": c.overdue_count,
        "open_cases": c.open_cases,
        "closed": list(&c.closed, c.closed_more),
        "escalated": list(&c.escalated, c.escalated_more),
        "appealed": list(&c.appealed, c.appealed_more),
        "verdicts": list(&c.verdicts, c.verdicts_more),
        "median_reaction_days": c.median_reaction_days,
    })
}

/// The yearly analysis as it was: every case read in full, the year's kept in memory.
fn report_before(
    jobs: &Jobs<'_>,
    store: &Store,
    year: i32,
    today: NaiveDate,
) -> (serde_json::Value, String) {
    use chrono::Datelike;
    use klachtd::jobs::digest::median;
    use klachtd::jobs::report::{csv_field, p90};
    let intake = jobs.intake;
    let tz = intake.tz;
    let cal = intake.calendar;
    let deadlines = &intake.settings.deadlines;
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
    let all: Vec<CaseRecord> = cases::list(store.conn())
        .unwrap()
        .into_iter()
        .filter(|c| local(c.received_at).year() == year)
        .collect();
    let extended: Vec<i64> = {
        let mut stmt = store
            .conn()
            .prepare("SELECT DISTINCT case_id FROM events WHERE kind = 'extended'")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let withdrawn = all
        .iter()
        .filter(|c| c.status == CaseStatus::Withdrawn)
        .count();
    let complaints: Vec<&CaseRecord> = all
        .iter()
        .filter(|c| c.status != CaseStatus::Withdrawn)
        .collect();
    let mut per_month = [0usize; 12];
    let mut per_category = std::collections::BTreeMap::new();
    let mut per_handler = std::collections::BTreeMap::new();
    let (mut reaction_days, mut closing_days) = (Vec::new(), Vec::new());
    let (mut reaction_within, mut reaction_late_open) = (0, 0);
    let (mut closing_within, mut closing_late_open) = (0, 0);
    let mut csv = String::from(
        "kenmerk,ontvangen,maand,categorie,status,behandelaar,werkdagen_tot_reactie,werkdagen_tot_afhandeling,akkoord,geescaleerd,beroep,uitspraak,verlengd\r\n",
    );
    let yes_no = |b: bool| if b { "ja" } else { "nee" };
    let opt = |v: Option<u32>| v.map(|d| d.to_string()).unwrap_or_default();
    for c in &complaints {
        let received = local(c.received_at);
        per_month[received.month0() as usize] += 1;
        let category = c
            .category
            .clone()
            .unwrap_or_else(|| "(geen categorie)".into());
        *per_category.entry(category.clone()).or_insert(0usize) += 1;
        let handler = c
            .handler
            .clone()
            .unwrap_or_else(|| "(geen behandelaar)".into());
        *per_handler.entry(handler.clone()).or_insert(0usize) += 1;
        let day0 = cal.working_day_on_or_after(received);
        let r_days = c
            .reacted_at
            .map(|r| cal.working_days_between(day0, local(r)));
        match r_days {
            Some(d) => {
                reaction_days.push(d);
                reaction_within += usize::from(d <= deadlines.reaction_working_days);
            }
            None if today > c.reaction_due => reaction_late_open += 1,
            None => {}
        }
        let c_days = match (c.reacted_at, c.closed_at) {
            (Some(r), Some(cl)) => Some(cal.working_days_between(local(r), local(cl))),
            _ => None,
        };
        match c_days {
            Some(d) => {
                closing_days.push(d);
                closing_within += usize::from(d <= deadlines.closing_working_days);
            }
            // A case the committee decided is not closing late (issue 21).
            None if c.closing_due.is_some_and(|due| today > due)
                && c.closed_at.is_none()
                && c.status != CaseStatus::Final =>
            {
                closing_late_open += 1
            }
            None => {}
        }
        write!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
            csv_field(&c.reference.to_string()),
            received,
            received.month(),
            csv_field(&category),
            c.status.as_str(),
            csv_field(&handler),
            opt(r_days),
            opt(c_days),
            c.agreement.map(yes_no).unwrap_or(""),
            yes_no(c.escalated_at.is_some()),
            yes_no(c.appealed_at.is_some()),
            csv_field(
                c.verdict
                    .as_deref()
                    .map(|v| v.split(':').next().unwrap_or(v))
                    .unwrap_or("")
            ),
            yes_no(extended.contains(&c.id)),
        )
        .unwrap();
    }
    let counts = |map: std::collections::BTreeMap<String, usize>| {
        let mut v: Vec<(String, usize)> = map.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter()
            .map(|(label, count)| serde_json::json!({"label": label, "count": count}))
            .collect::<Vec<_>>()
    };
    let share = |part: usize, whole: usize| (whole > 0).then(|| part as f64 / whole as f64);
    let compliance = |days: &mut Vec<u32>, within: usize, late_open: usize| {
        serde_json::json!({
            "measured": days.len() + late_open,
            "within": within,
            "share": share(within, days.len() + late_open),
            "median": median(&mut days.clone()),
            "p90": p90(days),
        })
    };
    let yes = complaints
        .iter()
        .filter(|c| c.agreement == Some(true))
        .count();
    let no = complaints
        .iter()
        .filter(|c| c.agreement == Some(false))
        .count();
    let findings = |f: &dyn Fn(&CaseRecord) -> Option<String>| {
        complaints
            .iter()
            .filter_map(|c| {
                f(c).map(|t| {
                    serde_json::json!({
                        "reference": c.reference.to_string(),
                        "category": c.category.clone().unwrap_or_else(|| "-".into()),
                        "text": t,
                    })
                })
            })
            .collect::<Vec<_>>()
    };
    let verdict = |p: &str| {
        complaints
            .iter()
            .filter(|c| c.verdict.as_deref().is_some_and(|v| v.starts_with(p)))
            .count()
    };
    let value = serde_json::json!({
        "total": complaints.len(),
        "withdrawn": withdrawn,
        "per_month": per_month.to_vec(),
        "per_category": counts(per_category),
        "per_handler": counts(per_handler),
        "reaction": compliance(&mut reaction_days, reaction_within, reaction_late_open),
        "closing": compliance(&mut closing_days, closing_within, closing_late_open),
        "agreement_yes": yes,
        "agreement_no": no,
        "agreement_rate": share(yes, yes + no),
        "escalations": complaints.iter().filter(|c| c.escalated_at.is_some()).count(),
        "appeals": complaints.iter().filter(|c| c.appealed_at.is_some()).count(),
        "upheld": verdict("gegrond"),
        "rejected": verdict("ongegrond"),
        "extensions": complaints.iter().filter(|c| extended.contains(&c.id)).count(),
        "causes": findings(&|c| c.cause.clone()),
        "measures": findings(&|c| c.measure.clone()),
    });
    (value, csv)
}

/// The analysis as it is now, in the shape of [`report_before`].
fn report_now(
    jobs: &Jobs<'_>,
    store: &Store,
    year: i32,
    today: NaiveDate,
) -> (serde_json::Value, String) {
    let r = jobs.year_report(store.conn(), year, today).unwrap();
    assert_eq!(
        (r.causes_more, r.measures_more),
        (0, 0),
        "a small register is listed whole"
    );
    let mut value = serde_json::to_value(&r).unwrap();
    let map = value.as_object_mut().unwrap();
    for key in ["year", "recommendations", "causes_more", "measures_more"] {
        map.remove(key);
    }
    map.insert(
        "per_month".into(),
        serde_json::json!(r.per_month.iter().map(|c| c.count).collect::<Vec<_>>()),
    );
    (value, jobs.report_csv(store.conn(), year).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// `cases` and `cases --json` print, character for character, what they printed when
    /// they read every case in full.
    #[test]
    fn the_register_prints_as_before(specs in proptest::collection::vec(spec(), 0..12), at in 0i64..45) {
        let world = World::new(settings("nl"));
        let mut store = Store::open_in_memory().unwrap();
        seed(&mut store, &specs);
        let now = nine(day(at));
        for json in [false, true] {
            let now_text = klachtd::cli::cases::cases(&store, &world.settings, now, json).unwrap();
            prop_assert_eq!(now_text, cases_before(&store, &world.settings, now, json));
        }
    }

    /// The digest has the same figures as the whole-register digest, and its lists are the
    /// first 25 of the whole-register lists, in the same order (the most urgent open cases
    /// first), with the count of the rest; below the cap, the same lists.
    #[test]
    fn the_digest_is_the_whole_register_digest_cut_at_the_cap(
        specs in proptest::collection::vec(spec(), 0..60),
        at in 0i64..45,
        english in any::<bool>(),
    ) {
        let world = World::new(settings(if english { "en" } else { "nl" }));
        let intake = world.intake();
        let jobs = Jobs { intake: &intake };
        let mut store = Store::open_in_memory().unwrap();
        seed(&mut store, &specs);
        let end = nine(day(at));
        prop_assert_eq!(digest_now(&jobs, &store, end), digest_before(&jobs, &store, end));
    }

    /// The yearly analysis and its CSV, aggregated row by row, are what they were when every
    /// case of the year was held in memory (both years a register spans).
    #[test]
    fn the_yearly_analysis_of_a_small_register_is_as_before(
        specs in proptest::collection::vec(spec(), 0..20),
        at in 0i64..80,
    ) {
        let world = World::new(settings("nl"));
        let intake = world.intake();
        let jobs = Jobs { intake: &intake };
        let mut store = Store::open_in_memory().unwrap();
        seed(&mut store, &specs);
        for year in [2026, 2027] {
            let (now_value, now_csv) = report_now(&jobs, &store, year, day(at));
            let (before_value, before_csv) = report_before(&jobs, &store, year, day(at));
            prop_assert_eq!(now_value, before_value);
            prop_assert_eq!(now_csv, before_csv);
        }
    }

    /// The scheduler, finding cases by their watch day, claims exactly the reminders and
    /// overdue alerts that looking at every running case on every pass claimed: pass by pass
    /// over six weeks of mornings (and some nights), with deadlines moved and cases closed
    /// and reopened half-way.
    #[test]
    fn the_scheduler_claims_exactly_what_is_due(
        specs in proptest::collection::vec(spec(), 1..10),
        changes in proptest::collection::vec((0usize..10, 0i64..42, 0usize..6, 0i64..50), 0..6),
    ) {
        let world = World::new(settings("nl"));
        let intake = world.intake();
        let jobs = Jobs { intake: &intake };
        let mut store = Store::open_in_memory().unwrap();
        seed(&mut store, &specs);
        let cal = intake.calendar;
        let reminders = intake.settings.reminders.before_working_days.clone();
        // What the whole-register scheduler has claimed so far.
        let mut expected: BTreeSet<String> = BTreeSet::new();
        for d in 0..42 {
            let today = day(d);
            for &(which, when, status, due) in &changes {
                if when == d && which < specs.len() {
                    // A handler's reply moves the deadline and the status (as casework does).
                    let mut case = cases::list(store.conn()).unwrap().remove(which);
                    case.status = CaseStatus::ALL[status];
                    case.reaction_due = day(due);
                    case.closing_due = Some(day(due + 10));
                    store.transaction(|tx| cases::update(tx, &case)).unwrap();
                }
            }
            for now in [nine(today) - Duration::hours(8), nine(today)] {
                store.transaction(|tx| jobs.watch_deadlines(tx, now)).unwrap();
                if cal.is_working_day(today) && now >= klachtd::jobs::morning(&intake, today) {
                    for c in cases::list(store.conn()).unwrap() {
                        let Some((deadline, due)) = cases::running_deadline(&c) else { continue };
                        for &before in &reminders {
                            let point = cal.working_days_before(due, before);
                            if now >= klachtd::jobs::morning(&intake, point) {
                                expected.insert(format!("reminder:{}:{}:{due}:{before}", c.reference, deadline.as_str()));
                            }
                        }
                        if today > due && now >= klachtd::jobs::morning(&intake, cal.next_working_day(due)) {
                            expected.insert(format!("overdue:{}:{}:{due}", c.reference, deadline.as_str()));
                        }
                    }
                }
                let claimed: BTreeSet<String> = {
                    let mut stmt = store.conn().prepare("SELECT key FROM notices WHERE key LIKE 'reminder:%' OR key LIKE 'overdue:%'").unwrap();
                    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
                };
                prop_assert_eq!(&claimed, &expected, "after the pass at {}", now);
            }
        }
        // And every claim is one the store knows (no key for a case that does not exist).
        for key in &expected {
            prop_assert!(notices::done(store.conn(), key).unwrap());
        }
    }
}

/// Opens `n` cases (all open, received the same Monday) and returns the digest's text.
fn digest_of_many(lang: &str, n: usize) -> (String, klachtd::jobs::digest::DigestContent) {
    let world = World::new(settings(lang));
    let intake = world.intake();
    let jobs = Jobs { intake: &intake };
    let mut store = Store::open_in_memory().unwrap();
    let specs: Vec<Spec> = (0..n)
        .map(|i| Spec {
            status: 0,
            received: 21,
            reaction_due: 14 + (i as i64 * 7) % 20,
            closing_due: None,
            reacted: None,
            closed: None,
            escalated: None,
            appealed: None,
            verdict: None,
            handler: None,
            unreachable: false,
            failed_mail: 0,
        })
        .collect();
    seed(&mut store, &specs);
    // Monday 30 November: the week of 23–29 November, with all n received on the 23rd.
    let content = jobs.digest_content(store.conn(), nine(day(28))).unwrap();
    (jobs.digest_text(&content).unwrap(), content)
}

#[test]
fn a_digest_over_many_open_cases_lists_the_25_most_urgent_and_counts_the_rest() {
    for (lang, more) in [
        ("nl", "en nog 75 andere; zie `klachtd cases`"),
        ("en", "and 75 more; see `klachtd cases`"),
    ] {
        let (text, content) = digest_of_many(lang, 100);
        assert_eq!(content.open_count, 100);
        assert_eq!(content.open_cases.len(), LIST_CAP);
        assert_eq!(content.open_more, 75);
        assert_eq!(
            (content.new_count, content.new_cases.len()),
            (100, LIST_CAP)
        );
        assert_eq!(content.new_more, 75);
        // The 25 listed are the most urgent: overdue first, earliest deadline first.
        let overdue = content.open_cases.iter().filter(|l| l.overdue).count();
        assert_eq!(overdue, content.overdue_count.min(LIST_CAP));
        assert_eq!(
            text.matches(more).count(),
            2,
            "{lang}: open and new lists end with the count of the rest:\n{text}"
        );
        assert!(text.contains(&format!("{}", content.open_count)));
        // A readable mail: 25 open lines (two lines each) and 25 new ones, not 100 of each.
        assert!(
            text.lines().count() < 2 * LIST_CAP + LIST_CAP + 40,
            "{text}"
        );
        let refs_listed = text.matches("KL-2026-").count();
        assert_eq!(refs_listed, 2 * LIST_CAP, "{lang}");
    }
    // In HTML too.
    let world = World::new(settings("nl"));
    let intake = world.intake();
    let jobs = Jobs { intake: &intake };
    let (_, content) = digest_of_many("nl", 30);
    let html = world
        .renderer
        .render(
            klachtd::outbound::Template::Digest,
            Language::Nl,
            &jobs.digest_context(&content),
        )
        .unwrap()
        .html;
    assert!(
        html.contains("en nog 5 andere; zie <code>klachtd cases</code>"),
        "{html}"
    );
}

#[test]
fn a_digest_at_the_cap_says_nothing_about_others() {
    let (text, content) = digest_of_many("nl", LIST_CAP);
    assert_eq!(content.open_more, 0);
    assert!(!text.contains("en nog"), "{text}");
}

/// A flood gone overdue on one day: every case is recorded as overdue, and the director gets
/// one alert naming the 25 oldest and counting the rest, in Dutch and in English.
#[test]
fn an_overdue_alert_over_many_cases_names_25_and_counts_the_rest() {
    for (lang, more) in [
        ("nl", "… en nog 5 andere; zie `klachtd cases`"),
        ("en", "… and 5 more; see `klachtd cases`"),
    ] {
        let world = World::new(settings(lang));
        let intake = world.intake();
        let jobs = Jobs { intake: &intake };
        let mut store = Store::open_in_memory().unwrap();
        let specs: Vec<Spec> = (0..30)
            .map(|i| Spec {
                status: 0,
                received: 0,
                reaction_due: 7 + i % 3,
                closing_due: None,
                reacted: None,
                closed: None,
                escalated: None,
                appealed: None,
                verdict: None,
                handler: None,
                unreachable: false,
                failed_mail: 0,
            })
            .collect();
        seed(&mut store, &specs);
        // Monday 16 November: every deadline (9–11 November) has passed.
        let report = store
            .transaction(|tx| jobs.watch_deadlines(tx, nine(day(14))))
            .unwrap();
        assert_eq!(report.overdue, 30);
        let alerts: Vec<String> = outbox::all(store.conn())
            .unwrap()
            .into_iter()
            .filter(|m| m.kind == outbox::OutboxKind::OverdueAlert)
            .map(|m| klachtd::inbound::InboundMail::parse(&m.raw).unwrap().text)
            .collect();
        assert_eq!(alerts.len(), 1, "one roll-up mail");
        let text = &alerts[0];
        assert_eq!(text.matches("KL-2026-").count(), LIST_CAP, "{text}");
        assert!(text.contains("KL-2026-0001") && text.contains("KL-2026-0025"));
        assert!(!text.contains("KL-2026-0026"), "the oldest 25 are named");
        assert!(text.contains(more), "{lang}: {text}");
        assert!(text.contains("30"), "the total is given: {text}");
        // Every case has its overdue event, named or not.
        let events: i64 = store
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM events WHERE kind = 'overdue'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(events, 30);
    }
}
