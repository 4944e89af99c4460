//! The one outbound budget: every mail klachtd queues is admitted here first, keyed by its
//! recipient's mailbox and by what caused it. The limits, each a rule of this one table:
//!
//! | rule | mail | limit | over it |
//! | --- | --- | --- | --- |
//! | unproven | caused by mail whose sender is not proven | `outbound.unproven_per_day` per mailbox in any 24 hours | held back: recorded, reported in one summary later |
//! | one a day | acknowledgements | one per mailbox (without `+tag`) per local day | not sent (the case says so) |
//! | hourly | acknowledgements to senders the trusted server does not vouch for, who had no case before | `outbound.acknowledgements_per_hour` in any hour | delayed in the queue, none dropped |
//! | summary | the summary of held-back mail | one per mailbox in any 24 hours | waits |
//!
//! Mail caused by proven people (a staff member's own transcript, a letter a handler ordered)
//! and by klachtd's own schedule (reminders, the digest) is never held back: it is not counted
//! against the unproven budget.

use crate::domain::EmailAddress;
use crate::settings::Settings;
use crate::store::budget::{self as counts, Counted, HeldBack};
use crate::store::outbox::OutboxKind;
use crate::store::{CaseRecord, cases};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use rusqlite::Connection;

/// What caused a mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Mail whose sender is not proven: a complaint or follow-up (its sender is never proven
    /// in klachtd's sense), third-party mail, a forged or unproven role mail, an unreadable
    /// mail, a token shown by someone else. Limited per recipient.
    Unproven,
    /// An acknowledgement to a sender the trusted server vouches for (DMARC pass or aligned
    /// DKIM pass): counted like unproven mail, never delayed by the hourly maximum.
    Vouched,
    /// A proven staff member, director or committee, or klachtd's own schedule.
    Proven,
}

/// The window of the per-recipient rules.
pub const WINDOW: Duration = Duration::hours(24);

/// How long after the first held-back mail its summary goes (then at most one a day).
pub const SUMMARY_AFTER: Duration = Duration::hours(1);

/// A mail about to be queued.
pub struct Request<'a> {
    pub kind: OutboxKind,
    pub cause: Cause,
    pub recipient: &'a EmailAddress,
    pub case: Option<&'a CaseRecord>,
    pub now: DateTime<Utc>,
    /// Not before this moment (a letter scheduled for later).
    pub not_before: DateTime<Utc>,
}

/// The budget's word on one mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Queue it, due at `at`; `capped` when the hourly maximum placed it.
    Queue { at: DateTime<Utc>, capped: bool },
    /// Over the unproven budget of its recipient: recorded, and reported in a summary when
    /// the recipient has a role.
    HeldBack,
    /// An acknowledgement to a mailbox that had one today.
    AlreadyAcknowledged,
    /// A summary to a mailbox that had one in the last 24 hours.
    SummaryWaits,
}

/// The budget, read from the settings.
pub struct Budget<'a> {
    pub settings: &'a Settings,
    pub tz: Tz,
}

impl Budget<'_> {
    /// Decides whether `req` may be queued, and when; records what it holds back. For an
    /// acknowledgement it also claims the day's one acknowledgement of its mailbox.
    pub fn admit(&self, tx: &Connection, req: &Request<'_>) -> anyhow::Result<Admission> {
        let mailbox = req.recipient.delivery_key();
        let outbound = &self.settings.outbound;
        if req.kind == OutboxKind::Summary {
            return Ok(
                match counts::last_summary_since(tx, &mailbox, req.now - WINDOW)? {
                    Some(_) => Admission::SummaryWaits,
                    None => Admission::Queue {
                        at: req.not_before.max(req.now),
                        capped: false,
                    },
                },
            );
        }
        if req.cause != Cause::Proven {
            let limit = outbound.unproven_per_day;
            if counts::unproven_reached(tx, &mailbox, req.now - WINDOW, limit)? {
                let to_report = self.settings.roles.role_of(req.recipient).is_some();
                counts::roll_up(
                    tx,
                    &HeldBack {
                        mailbox: &mailbox,
                        recipient: req.recipient.as_str(),
                        kind: req.kind.as_str(),
                        case: req.case.map(|c| c.reference),
                        at: req.now,
                        to_report,
                    },
                )?;
                return Ok(Admission::HeldBack);
            }
        }
        let mut at = req.not_before.max(req.now);
        let mut capped = false;
        if req.kind == OutboxKind::Acknowledgement {
            let today = req.now.with_timezone(&self.tz).date_naive();
            let case_id = req.case.map_or(0, |c| c.id);
            if !cases::claim_acknowledgement(tx, req.recipient, today, case_id)? {
                return Ok(Admission::AlreadyAcknowledged);
            }
            if req.cause == Cause::Unproven {
                let slot = counts::capped_slot(tx, at, outbound.acknowledgements_per_hour)?;
                // Genuine complainants first: someone who had a case before is never kept
                // waiting behind a flood (asked only when the maximum would delay them).
                if slot > at && !cases::acknowledged_before(tx, req.recipient, today)? {
                    at = slot;
                    capped = true;
                } else if slot == at {
                    capped = true;
                }
            }
        }
        Ok(Admission::Queue { at, capped })
    }

    /// Records a mail queued under `admission` (outbox row `outbox_id`).
    pub fn counted(
        &self,
        tx: &Connection,
        outbox_id: i64,
        req: &Request<'_>,
        at: DateTime<Utc>,
        capped: bool,
    ) -> anyhow::Result<()> {
        counts::count(
            tx,
            &Counted {
                outbox_id,
                mailbox: &req.recipient.delivery_key(),
                kind: req.kind.as_str(),
                unproven: req.cause != Cause::Proven,
                capped,
                queued_at: req.now,
                due_at: at,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn settings(env: &[(&str, &str)]) -> Settings {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>();
        Settings::load_with_env(None, env).unwrap()
    }

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000 + minute * 60, 0).unwrap()
    }

    /// Admits `req` and, when admitted, counts it as queued.
    fn offer(
        budget: &Budget<'_>,
        store: &mut Store,
        kind: OutboxKind,
        cause: Cause,
        to: &str,
        now: DateTime<Utc>,
    ) -> Admission {
        let recipient: EmailAddress = to.parse().unwrap();
        store
            .transaction(|tx| {
                let req = Request {
                    kind,
                    cause,
                    recipient: &recipient,
                    case: None,
                    now,
                    not_before: now,
                };
                let admission = budget.admit(tx, &req)?;
                if let Admission::Queue { at, capped } = admission {
                    budget.counted(tx, 0, &req, at, capped)?;
                }
                Ok(admission)
            })
            .unwrap()
    }

    proptest::proptest! {
        /// Whatever mail is offered to whomever, in any order over any span of time: no
        /// mailbox is sent more unproven mail in any 24 hours than its budget; proven mail is
        /// never held back; every mail offered is queued or recorded as held back.
        #[test]
        fn no_mailbox_gets_more_unproven_mail_than_its_budget(
            offers in proptest::collection::vec(
                (0u8..4, proptest::bool::weighted(0.7), 0i64..20), 1..120),
            budget_size in 1u32..7,
        ) {
            let settings = settings(&[
                ("KLACHTD__OUTBOUND__UNPROVEN_PER_DAY", &budget_size.to_string()),
                ("KLACHTD__ROLES__STAFF", "staff@example.org"),
            ]);
            let budget = Budget { settings: &settings, tz: settings.timezone() };
            let mut store = Store::open_in_memory().unwrap();
            let mut minute = 0;
            let mut sent: Vec<(String, DateTime<Utc>)> = Vec::new();
            let mut held = 0;
            for (who, unproven, step) in offers {
                minute += step * 37;
                let to = match who {
                    0 => "staff@example.org",
                    1 => "staff+x@example.org",
                    2 => "directie@example.org",
                    _ => "klager@example.net",
                };
                let cause = if unproven { Cause::Unproven } else { Cause::Proven };
                match offer(&budget, &mut store, OutboxKind::Transcript, cause, to, at(minute)) {
                    Admission::Queue { .. } if unproven => {
                        sent.push((to.replace("+x", ""), at(minute)));
                    }
                    Admission::Queue { .. } => {}
                    Admission::HeldBack => {
                        proptest::prop_assert!(unproven, "proven mail held back");
                        held += 1;
                    }
                    other => proptest::prop_assert!(false, "{other:?}"),
                }
            }
            for (to, t) in &sent {
                let in_window = sent
                    .iter()
                    .filter(|(o, u)| o == to && *u <= *t && *t - *u < WINDOW)
                    .count();
                proptest::prop_assert!(in_window as u32 <= budget_size, "{to}: {in_window}");
            }
            let recorded: i64 = store
                .conn()
                .query_row("SELECT COUNT(*) FROM outbox_rollup", [], |r| r.get(0))
                .unwrap();
            proptest::prop_assert_eq!(recorded, held);
        }
    }

    #[test]
    fn vouched_and_earlier_complainants_pass_the_hourly_maximum() {
        let settings = settings(&[("KLACHTD__OUTBOUND__ACKNOWLEDGEMENTS_PER_HOUR", "2")]);
        let budget = Budget {
            settings: &settings,
            tz: settings.timezone(),
        };
        let mut store = Store::open_in_memory().unwrap();
        // The acknowledgements name no case here.
        store
            .conn()
            .pragma_update(None, "foreign_keys", "OFF")
            .unwrap();
        let ack = |store: &mut Store, cause, to: &str, minute| {
            offer(
                &budget,
                store,
                OutboxKind::Acknowledgement,
                cause,
                to,
                at(minute),
            )
        };
        // A complainant of yesterday.
        store
            .transaction(|tx| {
                let old: EmailAddress = "eerder@example.net".parse().unwrap();
                let yesterday = (at(0) - Duration::days(1))
                    .with_timezone(&settings.timezone())
                    .date_naive();
                cases::claim_acknowledgement(tx, &old, yesterday, 0)?;
                Ok(())
            })
            .unwrap();
        for i in 0..2 {
            assert_eq!(
                ack(&mut store, Cause::Unproven, &format!("s{i}@example.net"), 0),
                Admission::Queue {
                    at: at(0),
                    capped: true
                }
            );
        }
        // The third unvouched one waits an hour.
        assert_eq!(
            ack(&mut store, Cause::Unproven, "s2@example.net", 0),
            Admission::Queue {
                at: at(60),
                capped: true
            }
        );
        // A vouched sender and an earlier complainant do not.
        assert_eq!(
            ack(&mut store, Cause::Vouched, "echt@example.com", 0),
            Admission::Queue {
                at: at(0),
                capped: false
            }
        );
        assert_eq!(
            ack(&mut store, Cause::Unproven, "eerder@example.net", 0),
            Admission::Queue {
                at: at(0),
                capped: false
            }
        );
        // One a day per mailbox, whatever its tags.
        assert_eq!(
            ack(&mut store, Cause::Vouched, "echt+2@example.com", 5),
            Admission::AlreadyAcknowledged
        );
    }

    #[test]
    fn one_summary_a_day() {
        let settings = settings(&[]);
        let budget = Budget {
            settings: &settings,
            tz: settings.timezone(),
        };
        let mut store = Store::open_in_memory().unwrap();
        let summary = |store: &mut Store, minute| {
            offer(
                &budget,
                store,
                OutboxKind::Summary,
                Cause::Proven,
                "staff@example.org",
                at(minute),
            )
        };
        assert!(matches!(summary(&mut store, 0), Admission::Queue { .. }));
        assert_eq!(summary(&mut store, 60), Admission::SummaryWaits);
        assert_eq!(summary(&mut store, 24 * 60 - 1), Admission::SummaryWaits);
        assert!(matches!(
            summary(&mut store, 24 * 60),
            Admission::Queue { .. }
        ));
    }
}
