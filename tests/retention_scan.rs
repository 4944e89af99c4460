//! The retention purge reads only ended, unpurged cases (never the whole register into memory),
//! and still finds exactly the cases the procedure says are due: for any register of cases in
//! any state, closed, given a verdict or withdrawn at any time, purged or not, `purgeable`
//! equals the rule applied to every case of the register.

mod common;

use chrono::{DateTime, Duration, Months, TimeZone, Utc};
use chrono_tz::Europe::Amsterdam;
use common::world::World;
use klachtd::domain::CaseStatus;
use klachtd::jobs::Jobs;
use klachtd::store::{CaseRecord, Store, cases};
use proptest::prelude::*;

fn now() -> DateTime<Utc> {
    Amsterdam
        .with_ymd_and_hms(2026, 11, 30, 3, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// The procedure's rule, on one case: ended (closed, final or withdrawn) more than
/// `retention.years` (2) ago and not purged yet.
fn due(case: &CaseRecord, now: DateTime<Utc>) -> bool {
    let ended = match case.status {
        CaseStatus::Closed => case.closed_at,
        CaseStatus::Final => case.verdict_at.or(case.closed_at),
        CaseStatus::Withdrawn => Some(case.received_at),
        CaseStatus::Open | CaseStatus::Reacted | CaseStatus::Appealed => None,
    };
    let cutoff = now.checked_sub_months(Months::new(24)).unwrap();
    case.purged_at.is_none() && ended.is_some_and(|e| e < cutoff)
}

fn status() -> impl Strategy<Value = CaseStatus> {
    prop_oneof![
        Just(CaseStatus::Open),
        Just(CaseStatus::Reacted),
        Just(CaseStatus::Appealed),
        Just(CaseStatus::Closed),
        Just(CaseStatus::Final),
        Just(CaseStatus::Withdrawn),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn purgeable_is_the_rule_applied_to_every_case(
        register in proptest::collection::vec(
            (
                status(),
                0i64..1600,                          // received, days before now
                proptest::option::of(0i64..400),    // closed, days after receipt
                proptest::option::of(0i64..400),    // verdict, days after receipt
                any::<bool>(),                      // purged already
            ),
            0..24,
        ),
    ) {
        let world = World::with_env(&[]);
        let intake = world.intake();
        let jobs = Jobs { intake: &intake };
        let mut store = Store::open_in_memory().unwrap();
        let now = now();
        for (i, (status, received, closed, verdict, purged)) in register.iter().enumerate() {
            let at = now - Duration::days(*received);
            let reference = world.complaint(&mut store, &format!("c{i}"), &format!("k{i}@example.net"), at);
            store
                .transaction(|tx| {
                    let mut c = cases::get(tx, reference)?.unwrap();
                    c.status = *status;
                    c.closed_at = closed.map(|d| at + Duration::days(d));
                    c.verdict_at = verdict.map(|d| at + Duration::days(d));
                    cases::update(tx, &c)?;
                    if *purged {
                        let at = (now - Duration::days(1))
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                        tx.execute(
                            "UPDATE cases SET purged_at = ?2 WHERE id = ?1",
                            rusqlite::params![c.id, at],
                        )?;
                    }
                    Ok(())
                })
                .unwrap();
        }
        let found: Vec<_> = jobs
            .purgeable(store.conn(), now)
            .unwrap()
            .into_iter()
            .map(|p| p.reference)
            .collect();
        let expected: Vec<_> = cases::list(store.conn())
            .unwrap()
            .into_iter()
            .filter(|c| due(c, now))
            .map(|c| c.reference)
            .collect();
        prop_assert_eq!(found, expected);
    }
}
