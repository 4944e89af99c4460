//! What a case holds beyond the procedure's registration for confidentiality and the AVG
//! (issue 25): the staff members the complaint is about (who never hear of it), a legal hold
//! that keeps it past the retention period and erasure, and a privacy request (access, art.
//! 15, or erasure, art. 17) with its legal deadline.

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::Serialize;

/// The privacy side of a case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Privacy {
    /// Role addresses the complaint names (found in it, or set by the director with
    /// `Betreft:`): they receive nothing about it, cannot handle it, their commands on it are
    /// refused.
    pub concerns: Vec<String>,
    /// The director decided (`Betreft: …` or `Betreft: niemand`): later mail on the case no
    /// longer adds anyone by itself.
    pub concerns_fixed: bool,
    /// A legal hold (`Bewaren tot: …`).
    pub hold: Option<Hold>,
    /// The latest privacy request (`Verzoek: inzage` / `Verzoek: verwijdering`).
    pub request: Option<PrivacyRequest>,
}

impl Privacy {
    /// Whether `address` is one the complaint is about.
    pub fn concerns(&self, address: &str) -> bool {
        self.concerns
            .iter()
            .any(|a| a.eq_ignore_ascii_case(address))
    }

    /// The hold in force on `today` (a hold ends after its last day).
    pub fn hold_on(&self, today: NaiveDate) -> Option<&Hold> {
        self.hold.as_ref().filter(|h| h.until >= today)
    }
}

/// A legal hold: the case is kept, whatever the retention period or an erasure request say,
/// until and including `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    pub until: NaiveDate,
    pub reason: String,
}

/// What a data subject asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    /// Art. 15: a copy of what is held (`klachtd dossier`).
    Access,
    /// Art. 17: erasure (`klachtd erase`).
    Erasure,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Access => "inzage",
            RequestKind::Erasure => "verwijdering",
        }
    }

    pub fn parse(s: &str) -> Option<RequestKind> {
        match s {
            "inzage" => Some(RequestKind::Access),
            "verwijdering" => Some(RequestKind::Erasure),
            _ => None,
        }
    }

    /// "inzage" / "access", "verwijdering" / "erasure".
    pub fn label(self, dutch: bool) -> &'static str {
        match (self, dutch) {
            (RequestKind::Access, true) => "inzage",
            (RequestKind::Access, false) => "access",
            (RequestKind::Erasure, true) => "verwijdering",
            (RequestKind::Erasure, false) => "erasure",
        }
    }
}

/// The most a request's period can be extended (AVG art. 12(3)): two further months.
pub const MAX_EXTENSION_MONTHS: u32 = 2;

/// A privacy request and its legal deadline: one calendar month after receipt, extendable
/// once by up to two months (the requester told within the first month, with the reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrivacyRequest {
    pub kind: RequestKind,
    pub received: NaiveDate,
    /// The deadline now in force.
    pub due: NaiveDate,
    pub extended_months: Option<u32>,
    pub extension_reason: Option<String>,
    pub done_at: Option<DateTime<Utc>>,
}

impl PrivacyRequest {
    /// A request received on `received`: due one calendar month later (31 January → the last
    /// day of February).
    pub fn new(kind: RequestKind, received: NaiveDate) -> PrivacyRequest {
        PrivacyRequest {
            kind,
            received,
            due: one_month_after(received),
            extended_months: None,
            extension_reason: None,
            done_at: None,
        }
    }

    /// The first month's end: until then an extension may be told.
    pub fn first_due(&self) -> NaiveDate {
        one_month_after(self.received)
    }

    pub fn is_open(&self) -> bool {
        self.done_at.is_none()
    }

    /// Whether the deadline has passed on `today` (the due day itself counts as in time).
    pub fn overdue_on(&self, today: NaiveDate) -> bool {
        self.is_open() && today > self.due
    }
}

/// One calendar month after `day` (clamped to the month's last day).
pub fn one_month_after(day: NaiveDate) -> NaiveDate {
    day.checked_add_months(Months::new(1)).unwrap_or(day)
}

/// `months` calendar months after `day` (clamped to the month's last day).
pub fn months_after(day: NaiveDate, months: u32) -> NaiveDate {
    day.checked_add_months(Months::new(months)).unwrap_or(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn one_calendar_month_clamped_to_the_months_end() {
        assert_eq!(one_month_after(d(2026, 11, 24)), d(2026, 12, 24));
        assert_eq!(one_month_after(d(2027, 1, 31)), d(2027, 2, 28));
        assert_eq!(one_month_after(d(2028, 1, 31)), d(2028, 2, 29));
        assert_eq!(one_month_after(d(2026, 12, 15)), d(2027, 1, 15));
        let r = PrivacyRequest::new(RequestKind::Access, d(2026, 11, 24));
        assert!(!r.overdue_on(d(2026, 12, 24)));
        assert!(r.overdue_on(d(2026, 12, 25)));
    }

    #[test]
    fn a_hold_lasts_through_its_last_day() {
        let p = Privacy {
            hold: Some(Hold {
                until: d(2029, 6, 30),
                reason: "lopende procedure".into(),
            }),
            ..Privacy::default()
        };
        assert!(p.hold_on(d(2029, 6, 30)).is_some());
        assert!(p.hold_on(d(2029, 7, 1)).is_none());
    }
}
