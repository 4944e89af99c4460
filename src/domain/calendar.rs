//! TEMPORARY placeholder until the calendar module lands (being written in parallel).
use chrono::{Datelike, NaiveDate, Weekday};
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LiberationDay {
    #[default]
    Lustrum,
    Yearly,
    Never,
}
#[derive(Debug, Clone, Default)]
pub struct CalendarRules {
    pub good_friday: bool,
    pub liberation_day: LiberationDay,
    pub closed_days: std::collections::BTreeSet<NaiveDate>,
}
#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    rules: CalendarRules,
}
impl WorkingCalendar {
    pub fn new(rules: CalendarRules) -> Self {
        Self { rules }
    }
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !self.rules.closed_days.contains(&d)
    }
    pub fn deadline(&self, received: NaiveDate, n: u32) -> NaiveDate {
        let mut d = received;
        while !self.is_working_day(d) {
            d = d.succ_opt().unwrap();
        }
        let mut left = n;
        while left > 0 {
            d = d.succ_opt().unwrap();
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }
}
