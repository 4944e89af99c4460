//! The database's own health. When it cannot be written (its disk full, its file system
//! read-only) nothing is marked processed or sent that it has not recorded, and klachtd keeps
//! trying; but the administrator cannot be alerted through the outbox, which lies in that very
//! database. So the alert goes straight out through the transport, once per outage, and is put
//! on record — with the failure, so the all-clear follows the usual way — once the database
//! takes writes again and has taken them for a minute without a failure in between.

use crate::jobs::alerts::Problem;
use crate::store::{QueuedMail, WriteHealth};
use chrono::{DateTime, Duration, Utc};
use std::sync::Mutex;

/// How long writes must go through, after the last one that failed, before the outage counts
/// as over: a full disk lets a small write through now and then, which must not end it.
pub const QUIET: Duration = Duration::minutes(1);

/// What the watch says to do after a look.
#[derive(Debug, Clone)]
pub enum Step {
    Nothing,
    /// Alert the administrator directly, now.
    Alert(Problem),
    /// The outage is over: put it on record (and the alert sent, if any).
    Recovered {
        since: DateTime<Utc>,
        reason: String,
        alert: Option<Box<QueuedMail>>,
    },
}

#[derive(Debug, Default)]
struct State {
    since: Option<DateTime<Utc>>,
    reason: String,
    last_failure: Option<DateTime<Utc>>,
    /// A write went through after the last failure.
    written_since: bool,
    /// The store's counters at the last look.
    seen: WriteHealth,
    /// The alert sent directly in this outage.
    alert: Option<Box<QueuedMail>>,
    /// An alert is being sent (the daemon's loops look concurrently: one sends it).
    sending: bool,
}

/// The watch over one database, kept by the daemon from before the store is even open.
#[derive(Debug, Default)]
pub struct StoreWatch {
    state: Mutex<State>,
}

impl StoreWatch {
    /// The database could not be opened or written at `now` (seen outside its counters: at
    /// start, before it is open).
    pub fn failed(&self, now: DateTime<Utc>, reason: &str) {
        let mut st = self.state.lock().expect("store watch");
        st.since.get_or_insert(now);
        st.last_failure = Some(now);
        st.written_since = false;
        st.reason = reason.to_string();
    }

    /// Looks at the store's write counters at `now`: what is due.
    pub fn observe(&self, writes: &WriteHealth, now: DateTime<Utc>) -> Step {
        let mut st = self.state.lock().expect("store watch");
        if writes.failed > st.seen.failed {
            st.since.get_or_insert(now);
            st.last_failure = Some(now);
            st.written_since = false;
            st.reason = writes.last_error.clone();
        } else if writes.committed > st.seen.committed {
            st.written_since = true;
        }
        st.seen = writes.clone();
        let Some(since) = st.since else {
            return Step::Nothing;
        };
        let quiet = st
            .last_failure
            .is_none_or(|at| now - at >= QUIET || now < at);
        if st.written_since && quiet && !st.sending {
            let done = std::mem::take(&mut *st);
            st.seen = done.seen;
            return Step::Recovered {
                since,
                reason: done.reason,
                alert: done.alert,
            };
        }
        if st.alert.is_some() || st.sending {
            return Step::Nothing;
        }
        st.sending = true;
        Step::Alert(Problem {
            since,
            reason: st.reason.clone(),
            login_refused: false,
        })
    }

    /// The alert for the current outage went out.
    pub fn alerted(&self, mail: QueuedMail) {
        let mut st = self.state.lock().expect("store watch");
        st.alert = Some(Box::new(mail));
        st.sending = false;
    }

    /// Sending the alert failed: it is asked for again at the next look.
    pub fn alert_failed(&self) {
        self.state.lock().expect("store watch").sending = false;
    }

    /// Recording the end of the outage failed: it is not over yet.
    pub fn not_over(
        &self,
        since: DateTime<Utc>,
        reason: String,
        alert: Option<Box<QueuedMail>>,
        now: DateTime<Utc>,
    ) {
        let mut st = self.state.lock().expect("store watch");
        st.since = Some(since);
        st.reason = reason;
        st.alert = alert;
        st.last_failure = Some(now);
        st.written_since = false;
    }

    /// Whether the database is failing now, as far as the watch knows.
    pub fn failing(&self) -> bool {
        self.state.lock().expect("store watch").since.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        "2026-12-01T09:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::seconds(seconds)
    }

    proptest! {
        /// Over any sequence of failed and committed writes, looked at every few seconds: one
        /// alert per outage (asked for until it is sent, never again after), an outage ends only
        /// after a minute of writes without a failure, and only an outage that began ends.
        #[test]
        fn one_alert_per_outage_and_it_ends_only_after_a_quiet_minute(
            steps in proptest::collection::vec((0u8..3, 1i64..40, any::<bool>()), 1..200),
        ) {
            let watch = StoreWatch::default();
            let mut writes = WriteHealth::default();
            let mut now = 0;
            let mut in_outage = false;
            let mut alerted = false;
            let mut last_failure = None;
            for (what, gap, send_ok) in steps {
                now += gap;
                match what {
                    0 => { writes.failed += 1; writes.last_error = "disk full".into(); last_failure = Some(now); in_outage = true; }
                    1 => writes.committed += 1,
                    _ => {}
                }
                match watch.observe(&writes, t(now)) {
                    Step::Nothing => {}
                    Step::Alert(p) => {
                        prop_assert!(in_outage && !alerted);
                        prop_assert_eq!(p.reason, "disk full");
                        if send_ok {
                            watch.alerted(QueuedMail {
                                id: 0, message_id: "a@b".into(), case: None,
                                kind: crate::store::OutboxKind::DirectorNotice,
                                envelope_from: "x@y".into(), recipients: vec![], raw: vec![],
                                status: crate::store::OutboxStatus::Queued, attempts: 0,
                                next_attempt_at: t(now), last_error: None, created_at: t(now), sent_at: None,
                            });
                            alerted = true;
                        } else {
                            watch.alert_failed();
                        }
                    }
                    Step::Recovered { alert, .. } => {
                        prop_assert!(in_outage);
                        prop_assert!(now - last_failure.unwrap() >= 60);
                        prop_assert_eq!(alert.is_some(), alerted);
                        in_outage = false;
                        alerted = false;
                    }
                }
                prop_assert_eq!(watch.failing(), in_outage);
            }
        }
    }
}
