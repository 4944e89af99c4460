//! The Dutch working-day calendar: public holidays computed from the year (Easter by the
//! Gregorian computus), the organisation's own closed days, and deadline arithmetic on top.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// When Bevrijdingsdag (5 May) is a day off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LiberationDay {
    /// Every fifth year (2025, 2030, …), as most collective agreements have it.
    #[default]
    Lustrum,
    Yearly,
    Never,
}

/// A day on which nobody works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holiday {
    NewYear,
    GoodFriday,
    EasterSunday,
    EasterMonday,
    KingsDay,
    LiberationDay,
    AscensionDay,
    WhitSunday,
    WhitMonday,
    ChristmasDay,
    BoxingDay,
    /// A closed day from the configuration.
    ClosedDay,
}

impl Holiday {
    pub fn dutch_name(&self) -> &'static str {
        match self {
            Holiday::NewYear => "Nieuwjaarsdag",
            Holiday::GoodFriday => "Goede Vrijdag",
            Holiday::EasterSunday => "Eerste Paasdag",
            Holiday::EasterMonday => "Tweede Paasdag",
            Holiday::KingsDay => "Koningsdag",
            Holiday::LiberationDay => "Bevrijdingsdag",
            Holiday::AscensionDay => "Hemelvaartsdag",
            Holiday::WhitSunday => "Eerste Pinksterdag",
            Holiday::WhitMonday => "Tweede Pinksterdag",
            Holiday::ChristmasDay => "Eerste Kerstdag",
            Holiday::BoxingDay => "Tweede Kerstdag",
            Holiday::ClosedDay => "Sluitingsdag",
        }
    }
}

/// What the configuration says about days off.
#[derive(Debug, Clone, Default)]
pub struct CalendarRules {
    pub good_friday: bool,
    pub liberation_day: LiberationDay,
    pub closed_days: BTreeSet<NaiveDate>,
}

/// Working days of a Dutch organisation.
#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    rules: CalendarRules,
}

fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid calendar date")
}

impl WorkingCalendar {
    pub fn new(rules: CalendarRules) -> Self {
        Self { rules }
    }

    /// Easter Sunday by the anonymous Gregorian algorithm (Meeus/Jones/Butcher).
    pub fn easter_sunday(year: i32) -> NaiveDate {
        let a = year % 19;
        let b = year / 100;
        let c = year % 100;
        let d = b / 4;
        let e = b % 4;
        let f = (b + 8) / 25;
        let g = (b - f + 1) / 3;
        let h = (19 * a + b - d - g + 15) % 30;
        let i = c / 4;
        let k = c % 4;
        let l = (32 + 2 * e + 2 * i - h - k) % 7;
        let m = (a + 11 * h + 22 * l) / 451;
        let month = (h + l - 7 * m + 114) / 31;
        let day = (h + l - 7 * m + 114) % 31 + 1;
        ymd(year, month as u32, day as u32)
    }

    /// The holidays of `year` that are days off under these rules, in date order.
    pub fn holidays_in(&self, year: i32) -> Vec<(NaiveDate, Holiday)> {
        let easter = Self::easter_sunday(year);
        let shift = |days: i64| {
            if days >= 0 {
                easter + Days::new(days as u64)
            } else {
                easter - Days::new((-days) as u64)
            }
        };
        let kings_day = match ymd(year, 4, 27).weekday() {
            Weekday::Sun => ymd(year, 4, 26),
            _ => ymd(year, 4, 27),
        };
        let mut days = vec![
            (ymd(year, 1, 1), Holiday::NewYear),
            (easter, Holiday::EasterSunday),
            (shift(1), Holiday::EasterMonday),
            (kings_day, Holiday::KingsDay),
            (shift(39), Holiday::AscensionDay),
            (shift(49), Holiday::WhitSunday),
            (shift(50), Holiday::WhitMonday),
            (ymd(year, 12, 25), Holiday::ChristmasDay),
            (ymd(year, 12, 26), Holiday::BoxingDay),
        ];
        if self.rules.good_friday {
            days.push((shift(-2), Holiday::GoodFriday));
        }
        let liberation = match self.rules.liberation_day {
            LiberationDay::Lustrum => year % 5 == 0,
            LiberationDay::Yearly => true,
            LiberationDay::Never => false,
        };
        if liberation {
            days.push((ymd(year, 5, 5), Holiday::LiberationDay));
        }
        for closed in self.rules.closed_days.iter().filter(|d| d.year() == year) {
            if !days.iter().any(|(d, _)| d == closed) {
                days.push((*closed, Holiday::ClosedDay));
            }
        }
        days.sort_by_key(|(d, _)| *d);
        days
    }

    /// The holiday on `date`, if it is one.
    pub fn holiday(&self, date: NaiveDate) -> Option<Holiday> {
        self.holidays_in(date.year())
            .into_iter()
            .find(|(d, _)| *d == date)
            .map(|(_, h)| h)
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && self.holiday(date).is_none()
    }

    /// `date` itself when it is a working day, else the first working day after it.
    pub fn working_day_on_or_after(&self, date: NaiveDate) -> NaiveDate {
        let mut d = date;
        while !self.is_working_day(d) {
            d = d.succ_opt().expect("date in range");
        }
        d
    }

    /// The first working day strictly after `date`.
    pub fn next_working_day(&self, date: NaiveDate) -> NaiveDate {
        self.working_day_on_or_after(date.succ_opt().expect("date in range"))
    }

    /// The working day `n` working days before `date` (`date` itself, made a working day by
    /// stepping back, when `n` is 0): for reminders "one working day before the deadline".
    pub fn working_days_before(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let back = |d: NaiveDate| d.pred_opt().expect("date in range");
        let mut d = date;
        while !self.is_working_day(d) {
            d = back(d);
        }
        for _ in 0..n {
            d = back(d);
            while !self.is_working_day(d) {
                d = back(d);
            }
        }
        d
    }

    /// The `n`-th working day after day 0, where day 0 is `day0` or, when that is no working
    /// day, the next working day.
    pub fn add_working_days(&self, day0: NaiveDate, n: u32) -> NaiveDate {
        (0..n).fold(self.working_day_on_or_after(day0), |d, _| {
            self.next_working_day(d)
        })
    }

    /// The deadline for something received on `received` with `working_days` to answer:
    /// the end of the returned day.
    pub fn deadline(&self, received: NaiveDate, working_days: u32) -> NaiveDate {
        self.add_working_days(received, working_days)
    }

    /// Working days after `from` up to and including `to` (0 when `to` is not after `from`).
    /// For a working day `d`: `working_days_between(d, add_working_days(d, n)) == n`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut count = 0;
        let mut d = from;
        while d < to {
            d = d.succ_opt().expect("date in range");
            if self.is_working_day(d) {
                count += 1;
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn standard() -> WorkingCalendar {
        WorkingCalendar::new(CalendarRules::default())
    }

    #[test]
    fn easter_sundays_2025_to_2031() {
        let expected = [
            (2025, "2025-04-20"),
            (2026, "2026-04-05"),
            (2027, "2027-03-28"),
            (2028, "2028-04-16"),
            (2029, "2029-04-01"),
            (2030, "2030-04-21"),
            (2031, "2031-04-13"),
        ];
        for (year, date) in expected {
            assert_eq!(WorkingCalendar::easter_sunday(year), d(date), "{year}");
        }
    }

    /// Every holiday 2025–2030 by date and name, under the default rules (Bevrijdingsdag in
    /// lustrum years only, no Goede Vrijdag).
    #[test]
    #[rustfmt::skip]
    fn every_dutch_holiday_2025_to_2030() {
        let expected: &[(i32, &[(&str, &str)])] = &[
            (2025, &[
                ("2025-01-01", "Nieuwjaarsdag"), ("2025-04-20", "Eerste Paasdag"), ("2025-04-21", "Tweede Paasdag"),
                ("2025-04-26", "Koningsdag"), ("2025-05-05", "Bevrijdingsdag"), ("2025-05-29", "Hemelvaartsdag"),
                ("2025-06-08", "Eerste Pinksterdag"), ("2025-06-09", "Tweede Pinksterdag"),
                ("2025-12-25", "Eerste Kerstdag"), ("2025-12-26", "Tweede Kerstdag"),
            ]),
            (2026, &[
                ("2026-01-01", "Nieuwjaarsdag"), ("2026-04-05", "Eerste Paasdag"), ("2026-04-06", "Tweede Paasdag"),
                ("2026-04-27", "Koningsdag"), ("2026-05-14", "Hemelvaartsdag"),
                ("2026-05-24", "Eerste Pinksterdag"), ("2026-05-25", "Tweede Pinksterdag"),
                ("2026-12-25", "Eerste Kerstdag"), ("2026-12-26", "Tweede Kerstdag"),
            ]),
            (2027, &[
                ("2027-01-01", "Nieuwjaarsdag"), ("2027-03-28", "Eerste Paasdag"), ("2027-03-29", "Tweede Paasdag"),
                ("2027-04-27", "Koningsdag"), ("2027-05-06", "Hemelvaartsdag"),
                ("2027-05-16", "Eerste Pinksterdag"), ("2027-05-17", "Tweede Pinksterdag"),
                ("2027-12-25", "Eerste Kerstdag"), ("2027-12-26", "Tweede Kerstdag"),
            ]),
            (2028, &[
                ("2028-01-01", "Nieuwjaarsdag"), ("2028-04-16", "Eerste Paasdag"), ("2028-04-17", "Tweede Paasdag"),
                ("2028-04-27", "Koningsdag"), ("2028-05-25", "Hemelvaartsdag"),
                ("2028-06-04", "Eerste Pinksterdag"), ("2028-06-05", "Tweede Pinksterdag"),
                ("2028-12-25", "Eerste Kerstdag"), ("2028-12-26", "Tweede Kerstdag"),
            ]),
            (2029, &[
                ("2029-01-01", "Nieuwjaarsdag"), ("2029-04-01", "Eerste Paasdag"), ("2029-04-02", "Tweede Paasdag"),
                ("2029-04-27", "Koningsdag"), ("2029-05-10", "Hemelvaartsdag"),
                ("2029-05-20", "Eerste Pinksterdag"), ("2029-05-21", "Tweede Pinksterdag"),
                ("2029-12-25", "Eerste Kerstdag"), ("2029-12-26", "Tweede Kerstdag"),
            ]),
            (2030, &[
                ("2030-01-01", "Nieuwjaarsdag"), ("2030-04-21", "Eerste Paasdag"), ("2030-04-22", "Tweede Paasdag"),
                ("2030-04-27", "Koningsdag"), ("2030-05-05", "Bevrijdingsdag"), ("2030-05-30", "Hemelvaartsdag"),
                ("2030-06-09", "Eerste Pinksterdag"), ("2030-06-10", "Tweede Pinksterdag"),
                ("2030-12-25", "Eerste Kerstdag"), ("2030-12-26", "Tweede Kerstdag"),
            ]),
        ];
        let cal = standard();
        for (year, days) in expected {
            let got: Vec<(String, &str)> = cal
                .holidays_in(*year)
                .into_iter()
                .map(|(date, h)| (date.to_string(), h.dutch_name()))
                .collect();
            let want: Vec<(String, &str)> = days.iter().map(|(date, name)| (date.to_string(), *name)).collect();
            assert_eq!(got, want, "{year}");
        }
    }

    #[test]
    fn kings_day_moves_to_saturday_when_the_27th_is_a_sunday() {
        let cal = standard();
        assert_eq!(cal.holiday(d("2031-04-26")), Some(Holiday::KingsDay));
        assert_eq!(cal.holiday(d("2031-04-27")), None);
        assert_eq!(cal.holiday(d("2025-04-26")), Some(Holiday::KingsDay));
    }

    #[test]
    fn liberation_day_and_good_friday_follow_the_rules() {
        let with = |liberation_day, good_friday| {
            WorkingCalendar::new(CalendarRules {
                good_friday,
                liberation_day,
                closed_days: BTreeSet::new(),
            })
        };
        let lustrum = with(LiberationDay::Lustrum, false);
        let yearly = with(LiberationDay::Yearly, true);
        let never = with(LiberationDay::Never, false);
        for year in 2025..=2030 {
            let may5 = ymd(year, 5, 5);
            assert_eq!(lustrum.holiday(may5).is_some(), year % 5 == 0, "{year}");
            assert_eq!(yearly.holiday(may5), Some(Holiday::LiberationDay), "{year}");
            assert_eq!(never.holiday(may5), None, "{year}");
        }
        assert_eq!(yearly.holiday(d("2026-04-03")), Some(Holiday::GoodFriday));
        assert!(
            lustrum.is_working_day(d("2026-04-03")),
            "Goede Vrijdag is off only when configured"
        );
        assert!(
            !yearly.is_working_day(d("2026-05-05")),
            "Tuesday 5 May 2026, yearly"
        );
        assert!(lustrum.is_working_day(d("2026-05-05")));
    }

    #[test]
    fn reaction_deadlines() {
        let cal = standard();
        // Tuesday → the Tuesday after.
        assert_eq!(cal.deadline(d("2026-11-24"), 5), d("2026-12-01"));
        // Received on Saturday or Sunday: day 0 is Monday.
        assert_eq!(cal.deadline(d("2026-11-28"), 5), d("2026-12-07"));
        assert_eq!(cal.deadline(d("2026-11-29"), 5), d("2026-12-07"));
        // Across Easter 2026: Thursday 2 April, skipping Easter Monday 6 April.
        assert_eq!(cal.deadline(d("2026-04-02"), 5), d("2026-04-10"));
        // Received on Easter Monday itself: day 0 is Tuesday 7 April.
        assert_eq!(cal.deadline(d("2026-04-06"), 5), d("2026-04-14"));
        // Across Koningsdag (Monday 27 April 2026).
        assert_eq!(cal.deadline(d("2026-04-24"), 5), d("2026-05-04"));
        // Across Hemelvaart (Thursday 14 May 2026) and Pinksteren (Monday 25 May 2026).
        assert_eq!(cal.deadline(d("2026-05-13"), 5), d("2026-05-21"));
        assert_eq!(cal.deadline(d("2026-05-20"), 5), d("2026-05-28"));
        // Christmas to New Year: Wednesday 23 December 2026 → 25, 26 (Sat), 1 Jan off.
        assert_eq!(cal.deadline(d("2026-12-23"), 5), d("2026-12-31"));
        assert_eq!(cal.deadline(d("2026-12-24"), 5), d("2027-01-04"));
        // The 14-working-day closing deadline after a reaction on Tuesday 1 December 2026.
        assert_eq!(cal.deadline(d("2026-12-01"), 14), d("2026-12-21"));
        assert_eq!(cal.deadline(d("2026-12-10"), 14), d("2026-12-31"));
    }

    #[test]
    fn counting_back_for_reminders() {
        let cal = standard();
        // Tuesday 7 April 2026 minus one working day skips Easter Monday.
        assert_eq!(cal.working_days_before(d("2026-04-07"), 1), d("2026-04-03"));
        assert_eq!(cal.working_days_before(d("2026-04-07"), 0), d("2026-04-07"));
        // Monday → the Friday before.
        assert_eq!(cal.working_days_before(d("2026-11-30"), 1), d("2026-11-27"));
    }

    #[test]
    fn closed_days_from_the_configuration_count() {
        let cal = WorkingCalendar::new(CalendarRules {
            closed_days: [
                d("2026-12-28"),
                d("2026-12-29"),
                d("2026-12-30"),
                d("2026-12-31"),
            ]
            .into(),
            ..Default::default()
        });
        assert_eq!(cal.holiday(d("2026-12-29")), Some(Holiday::ClosedDay));
        assert_eq!(cal.deadline(d("2026-12-23"), 5), d("2027-01-07"));
    }

    #[test]
    fn brute_force_consistency_2025_to_2031() {
        let cal = WorkingCalendar::new(CalendarRules {
            good_friday: true,
            ..Default::default()
        });
        let mut day = d("2025-01-01");
        while day <= d("2031-12-31") {
            let start = cal.working_day_on_or_after(day);
            assert!(cal.is_working_day(start));
            assert!(start >= day && (start - day).num_days() < 7, "{day}");
            let mut previous = start;
            for n in 1..=15 {
                let due = cal.add_working_days(day, n);
                assert!(cal.is_working_day(due), "{day} + {n}");
                assert!(due > previous, "{day} + {n}");
                assert_eq!(cal.working_days_between(start, due), n, "{day} + {n}");
                previous = due;
            }
            day = day.succ_opt().unwrap();
        }
    }
}
