//! The Dutch working-day calendar: public holidays computed from the year (Easter by the
//! anonymous Gregorian algorithm), the organisation's own closed days, and the working-day
//! arithmetic that deadlines and the analysis are built on.

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The most working days one deadline can be extended by, in all (the procedure's rule, in
/// `casework::procedure`; the words of its refusal in `casework::outcomes`).
pub const MAX_EXTENSION: u32 = 60;

/// When Bevrijdingsdag (5 May) is a day off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LiberationDay {
    /// Only in years divisible by five (2025, 2030, …), as most collective agreements have it.
    #[default]
    Lustrum,
    Yearly,
    Never,
}

impl LiberationDay {
    fn is_day_off(self, year: i32) -> bool {
        match self {
            LiberationDay::Lustrum => year.rem_euclid(5) == 0,
            LiberationDay::Yearly => true,
            LiberationDay::Never => false,
        }
    }
}

/// A day off. The declaration order is also the order of precedence when two fall on one
/// date (Hemelvaartsdag can be 5 May, as in 2016).
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

/// Working days of a Dutch organisation: Monday to Friday, except holidays and closed days.
#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    rules: CalendarRules,
}

fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid calendar date")
}

fn after(date: NaiveDate) -> NaiveDate {
    date.succ_opt().expect("date within chrono's range")
}

fn before(date: NaiveDate) -> NaiveDate {
    date.pred_opt().expect("date within chrono's range")
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

impl WorkingCalendar {
    pub fn new(rules: CalendarRules) -> Self {
        Self { rules }
    }

    pub fn rules(&self) -> &CalendarRules {
        &self.rules
    }

    /// Easter Sunday by the anonymous Gregorian algorithm (Meeus/Jones/Butcher).
    pub fn easter_sunday(year: i32) -> NaiveDate {
        // Euclidean division keeps the algorithm valid for the proleptic years before 0.
        let a = year.rem_euclid(19);
        let b = year.div_euclid(100);
        let c = year.rem_euclid(100);
        let d = b.div_euclid(4);
        let e = b.rem_euclid(4);
        let f = (b + 8).div_euclid(25);
        let g = (b - f + 1).div_euclid(3);
        let h = (19 * a + b - d - g + 15).rem_euclid(30);
        let i = c / 4;
        let k = c % 4;
        let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
        let m = (a + 11 * h + 22 * l) / 451;
        let month = (h + l - 7 * m + 114) / 31;
        let day = (h + l - 7 * m + 114) % 31 + 1;
        ymd(year, month as u32, day as u32)
    }

    /// The public holidays of `year` in order of precedence, `None` where the rules give no
    /// day off. A fixed array so that `holiday` needs no allocation.
    fn public_holidays(&self, year: i32) -> [(Option<NaiveDate>, Holiday); 11] {
        let easter = Self::easter_sunday(year);
        let plus = |days: u64| Some(easter + Days::new(days));
        let kings_day = match ymd(year, 4, 27).weekday() {
            Weekday::Sun => ymd(year, 4, 26),
            _ => ymd(year, 4, 27),
        };
        [
            (Some(ymd(year, 1, 1)), Holiday::NewYear),
            (
                self.rules.good_friday.then(|| easter - Days::new(2)),
                Holiday::GoodFriday,
            ),
            (Some(easter), Holiday::EasterSunday),
            (plus(1), Holiday::EasterMonday),
            (Some(kings_day), Holiday::KingsDay),
            (
                self.rules
                    .liberation_day
                    .is_day_off(year)
                    .then(|| ymd(year, 5, 5)),
                Holiday::LiberationDay,
            ),
            (plus(39), Holiday::AscensionDay),
            (plus(49), Holiday::WhitSunday),
            (plus(50), Holiday::WhitMonday),
            (Some(ymd(year, 12, 25)), Holiday::ChristmasDay),
            (Some(ymd(year, 12, 26)), Holiday::BoxingDay),
        ]
    }

    /// Every day off of `year` under these rules, weekends included, in date order. Two
    /// public holidays on one date are both listed, in order of precedence; a closed day that
    /// is already a public holiday is not listed again.
    pub fn holidays_in(&self, year: i32) -> Vec<(NaiveDate, Holiday)> {
        let mut days: Vec<(NaiveDate, Holiday)> = self
            .public_holidays(year)
            .into_iter()
            .filter_map(|(date, holiday)| date.map(|d| (d, holiday)))
            .collect();
        let closed: Vec<NaiveDate> = self
            .rules
            .closed_days
            .range(ymd(year, 1, 1)..=ymd(year, 12, 31))
            .filter(|closed| !days.iter().any(|(d, _)| d == *closed))
            .copied()
            .collect();
        days.extend(closed.into_iter().map(|d| (d, Holiday::ClosedDay)));
        // Stable, so a shared date keeps the order of precedence.
        days.sort_by_key(|(d, _)| *d);
        days
    }

    /// The holiday or closed day on `date`, if it is one (whatever the day of the week).
    pub fn holiday(&self, date: NaiveDate) -> Option<Holiday> {
        self.public_holidays(date.year())
            .into_iter()
            .find(|(d, _)| *d == Some(date))
            .map(|(_, holiday)| holiday)
            .or_else(|| {
                self.rules
                    .closed_days
                    .contains(&date)
                    .then_some(Holiday::ClosedDay)
            })
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !is_weekend(date) && self.holiday(date).is_none()
    }

    /// `date` itself when it is a working day, else the first working day after it.
    pub fn working_day_on_or_after(&self, date: NaiveDate) -> NaiveDate {
        let mut d = date;
        while !self.is_working_day(d) {
            d = after(d);
        }
        d
    }

    /// The first working day strictly after `date`.
    pub fn next_working_day(&self, date: NaiveDate) -> NaiveDate {
        self.working_day_on_or_after(after(date))
    }

    /// The working day `n` working days before `date` (`date` itself, made a working day by
    /// stepping back, when `n` is 0): for reminders "one working day before the deadline".
    pub fn working_days_before(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let on_or_before = |mut d: NaiveDate| {
            while !self.is_working_day(d) {
                d = before(d);
            }
            d
        };
        (0..n).fold(on_or_before(date), |d, _| on_or_before(before(d)))
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
            d = after(d);
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
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    fn standard() -> WorkingCalendar {
        WorkingCalendar::new(CalendarRules::default())
    }

    fn with(liberation_day: LiberationDay, good_friday: bool) -> WorkingCalendar {
        WorkingCalendar::new(CalendarRules {
            good_friday,
            liberation_day,
            closed_days: BTreeSet::new(),
        })
    }

    /// Claus Tøndering's formulation of the Gregorian computus, independent of the one under
    /// test.
    fn easter_tondering(y: i32) -> NaiveDate {
        let g = y % 19;
        let c = y / 100;
        let h = (c - c / 4 - (8 * c + 13) / 25 + 19 * g + 15) % 30;
        let i = h - (h / 28) * (1 - (29 / (h + 1)) * ((21 - g) / 11));
        let j = (y + y / 4 + i + 2 - c + c / 4) % 7;
        let l = i - j;
        let month = 3 + (l + 40) / 44;
        let day = l + 28 - 31 * (month / 4);
        ymd(y, month as u32, day as u32)
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

    #[test]
    fn easter_at_the_edges_of_its_range() {
        // The earliest (22 March) and latest (25 April) possible Easter Sundays.
        assert_eq!(WorkingCalendar::easter_sunday(1818), d("1818-03-22"));
        assert_eq!(WorkingCalendar::easter_sunday(2285), d("2285-03-22"));
        assert_eq!(WorkingCalendar::easter_sunday(1943), d("1943-04-25"));
        assert_eq!(WorkingCalendar::easter_sunday(2038), d("2038-04-25"));
        assert_eq!(WorkingCalendar::easter_sunday(2000), d("2000-04-23"));
        assert_eq!(WorkingCalendar::easter_sunday(2008), d("2008-03-23"));
    }

    #[test]
    fn easter_agrees_with_an_independent_computus_and_is_a_sunday() {
        for year in 1583..=4099 {
            let easter = WorkingCalendar::easter_sunday(year);
            assert_eq!(easter, easter_tondering(year), "{year}");
            assert_eq!(easter.weekday(), Weekday::Sun, "{year}");
            assert!(
                easter >= ymd(year, 3, 22) && easter <= ymd(year, 4, 25),
                "{year}"
            );
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
            for (date, name) in *days {
                let holiday = cal.holiday(d(date));
                assert_eq!(holiday.map(|h| h.dutch_name()), Some(*name), "{date}");
            }
        }
    }

    #[test]
    fn holiday_is_none_on_ordinary_days() {
        let cal = standard();
        // A Wednesday, a Saturday, a Sunday, Christmas Eve and New Year's Eve.
        for date in [
            "2026-11-25",
            "2026-11-28",
            "2026-11-29",
            "2026-12-24",
            "2026-12-31",
        ] {
            assert_eq!(cal.holiday(d(date)), None, "{date}");
        }
        assert!(cal.is_working_day(d("2026-11-25")));
        assert!(!cal.is_working_day(d("2026-11-28")));
        assert!(!cal.is_working_day(d("2026-11-29")));
    }

    #[test]
    fn holidays_on_a_weekday_are_no_working_days() {
        let cal = standard();
        for date in [
            "2026-01-01",
            "2026-04-06",
            "2026-04-27",
            "2026-05-14",
            "2026-05-25",
            "2026-12-25",
        ] {
            assert!(!is_weekend(d(date)), "{date} is a weekday");
            assert!(!cal.is_working_day(d(date)), "{date}");
        }
    }

    #[test]
    fn kings_day_moves_to_saturday_when_the_27th_is_a_sunday() {
        let cal = standard();
        assert_eq!(cal.holiday(d("2025-04-26")), Some(Holiday::KingsDay));
        assert_eq!(cal.holiday(d("2025-04-27")), None);
        assert_eq!(cal.holiday(d("2031-04-26")), Some(Holiday::KingsDay));
        assert_eq!(cal.holiday(d("2031-04-27")), None);
        // On a Saturday the 27th it stays.
        assert_eq!(cal.holiday(d("2030-04-27")), Some(Holiday::KingsDay));
        assert_eq!(cal.holiday(d("2030-04-26")), None);
        assert!(cal.is_working_day(d("2030-04-26")));
    }

    #[test]
    fn liberation_day_follows_the_rule() {
        let lustrum = with(LiberationDay::Lustrum, false);
        let yearly = with(LiberationDay::Yearly, false);
        let never = with(LiberationDay::Never, false);
        for year in 2025..=2031 {
            let may5 = ymd(year, 5, 5);
            let lustrum_year = year == 2025 || year == 2030;
            assert_eq!(
                lustrum.holiday(may5),
                lustrum_year.then_some(Holiday::LiberationDay),
                "{year}"
            );
            assert_eq!(yearly.holiday(may5), Some(Holiday::LiberationDay), "{year}");
            assert_eq!(never.holiday(may5), None, "{year}");
            let listed = |cal: &WorkingCalendar| {
                cal.holidays_in(year)
                    .iter()
                    .any(|(_, h)| *h == Holiday::LiberationDay)
            };
            assert_eq!(listed(&lustrum), lustrum_year, "{year}");
            assert!(listed(&yearly), "{year}");
            assert!(!listed(&never), "{year}");
        }
        // Monday 5 May 2025 and Tuesday 5 May 2026.
        assert!(!lustrum.is_working_day(d("2025-05-05")));
        assert!(never.is_working_day(d("2025-05-05")));
        assert!(lustrum.is_working_day(d("2026-05-05")));
        assert!(!yearly.is_working_day(d("2026-05-05")));
    }

    #[test]
    fn good_friday_only_when_enabled() {
        let off = standard();
        let on = with(LiberationDay::Lustrum, true);
        let good_fridays = [
            "2025-04-18",
            "2026-04-03",
            "2027-03-26",
            "2028-04-14",
            "2029-03-30",
            "2030-04-19",
        ];
        for date in good_fridays {
            let date = d(date);
            assert_eq!(date.weekday(), Weekday::Fri);
            assert_eq!(off.holiday(date), None, "{date}");
            assert!(off.is_working_day(date), "{date}");
            assert_eq!(on.holiday(date), Some(Holiday::GoodFriday), "{date}");
            assert!(!on.is_working_day(date), "{date}");
            assert!(
                on.holidays_in(date.year())
                    .contains(&(date, Holiday::GoodFriday))
            );
            assert!(
                !off.holidays_in(date.year())
                    .iter()
                    .any(|(_, h)| *h == Holiday::GoodFriday)
            );
        }
        assert_eq!(Holiday::GoodFriday.dutch_name(), "Goede Vrijdag");
    }

    #[test]
    fn ascension_on_liberation_day_lists_both() {
        // 5 May 2016 was Hemelvaartsdag and, with a yearly Bevrijdingsdag, that too.
        let cal = with(LiberationDay::Yearly, false);
        let may5 = d("2016-05-05");
        assert_eq!(cal.holiday(may5), Some(Holiday::LiberationDay));
        let on_may5: Vec<Holiday> = cal
            .holidays_in(2016)
            .into_iter()
            .filter(|(date, _)| *date == may5)
            .map(|(_, h)| h)
            .collect();
        assert_eq!(on_may5, [Holiday::LiberationDay, Holiday::AscensionDay]);
        assert_eq!(
            with(LiberationDay::Never, false).holiday(may5),
            Some(Holiday::AscensionDay)
        );
    }

    #[test]
    fn dutch_names() {
        let all = [
            (Holiday::NewYear, "Nieuwjaarsdag"),
            (Holiday::GoodFriday, "Goede Vrijdag"),
            (Holiday::EasterSunday, "Eerste Paasdag"),
            (Holiday::EasterMonday, "Tweede Paasdag"),
            (Holiday::KingsDay, "Koningsdag"),
            (Holiday::LiberationDay, "Bevrijdingsdag"),
            (Holiday::AscensionDay, "Hemelvaartsdag"),
            (Holiday::WhitSunday, "Eerste Pinksterdag"),
            (Holiday::WhitMonday, "Tweede Pinksterdag"),
            (Holiday::ChristmasDay, "Eerste Kerstdag"),
            (Holiday::BoxingDay, "Tweede Kerstdag"),
            (Holiday::ClosedDay, "Sluitingsdag"),
        ];
        for (holiday, name) in all {
            assert_eq!(holiday.dutch_name(), name);
        }
    }

    #[test]
    fn liberation_day_setting_deserialises_from_lowercase() {
        let parse = |s: &'static str| {
            let de: StrDeserializer<'_, DeError> = s.into_deserializer();
            LiberationDay::deserialize(de)
        };
        assert_eq!(parse("lustrum").unwrap(), LiberationDay::Lustrum);
        assert_eq!(parse("yearly").unwrap(), LiberationDay::Yearly);
        assert_eq!(parse("never").unwrap(), LiberationDay::Never);
        assert!(parse("Yearly").is_err());
        assert!(parse("sometimes").is_err());
        assert_eq!(LiberationDay::default(), LiberationDay::Lustrum);
    }

    #[test]
    fn default_rules() {
        let rules = CalendarRules::default();
        assert!(!rules.good_friday);
        assert_eq!(rules.liberation_day, LiberationDay::Lustrum);
        assert!(rules.closed_days.is_empty());
    }

    #[test]
    fn stepping_to_working_days() {
        let cal = standard();
        // Working day stays; Saturday and Sunday go to Monday.
        assert_eq!(
            cal.working_day_on_or_after(d("2026-11-27")),
            d("2026-11-27")
        );
        assert_eq!(
            cal.working_day_on_or_after(d("2026-11-28")),
            d("2026-11-30")
        );
        assert_eq!(
            cal.working_day_on_or_after(d("2026-11-29")),
            d("2026-11-30")
        );
        // Easter Saturday 2026 → Tuesday after Easter Monday.
        assert_eq!(
            cal.working_day_on_or_after(d("2026-04-04")),
            d("2026-04-07")
        );
        // 1 January 2028 is a Saturday: the first working day of the year is Monday 3rd.
        assert_eq!(
            cal.working_day_on_or_after(d("2028-01-01")),
            d("2028-01-03")
        );
        // Strictly after.
        assert_eq!(cal.next_working_day(d("2026-11-26")), d("2026-11-27"));
        assert_eq!(cal.next_working_day(d("2026-11-27")), d("2026-11-30"));
        assert_eq!(cal.next_working_day(d("2026-12-24")), d("2026-12-28"));
        assert_eq!(cal.next_working_day(d("2026-12-31")), d("2027-01-04"));
    }

    #[test]
    fn deadline_is_add_working_days_and_zero_is_day_zero() {
        let cal = standard();
        assert_eq!(cal.add_working_days(d("2026-11-24"), 0), d("2026-11-24"));
        assert_eq!(cal.add_working_days(d("2026-11-28"), 0), d("2026-11-30"));
        assert_eq!(cal.add_working_days(d("2026-11-24"), 1), d("2026-11-25"));
        let mut day = d("2026-01-01");
        while day <= d("2026-12-31") {
            for n in [0, 1, 5, 14] {
                assert_eq!(cal.deadline(day, n), cal.add_working_days(day, n), "{day}");
            }
            day = after(day);
        }
    }

    #[test]
    fn reaction_deadline_five_working_days() {
        let cal = standard();
        // Tuesday → the Tuesday after.
        assert_eq!(cal.deadline(d("2026-11-24"), 5), d("2026-12-01"));
        // Received on Saturday or Sunday: day 0 is Monday, the deadline the next Monday.
        assert_eq!(cal.deadline(d("2026-11-28"), 5), d("2026-12-07"));
        assert_eq!(cal.deadline(d("2026-11-29"), 5), d("2026-12-07"));
        // Friday → the Friday after.
        assert_eq!(cal.deadline(d("2026-11-27"), 5), d("2026-12-04"));
    }

    #[test]
    fn deadlines_across_easter_2026() {
        let cal = standard();
        // Thursday 2 April: Fri 3, (Easter Monday 6 skipped), Tue 7, Wed 8, Thu 9, Fri 10.
        assert_eq!(cal.deadline(d("2026-04-02"), 5), d("2026-04-10"));
        // With Goede Vrijdag off as well, one more day.
        let good_friday = with(LiberationDay::Lustrum, true);
        assert_eq!(good_friday.deadline(d("2026-04-02"), 5), d("2026-04-13"));
        // Received on Good Friday (off), Easter Saturday, Easter Sunday or Easter Monday:
        // day 0 is Tuesday 7 April.
        for received in ["2026-04-04", "2026-04-05", "2026-04-06"] {
            assert_eq!(cal.deadline(d(received), 5), d("2026-04-14"), "{received}");
        }
        for received in ["2026-04-03", "2026-04-04", "2026-04-05", "2026-04-06"] {
            assert_eq!(
                good_friday.deadline(d(received), 5),
                d("2026-04-14"),
                "{received}"
            );
        }
        // Without Goede Vrijdag off, Friday 3 April is itself day 0.
        assert_eq!(cal.deadline(d("2026-04-03"), 5), d("2026-04-13"));
    }

    #[test]
    fn deadlines_across_kings_day_and_liberation_day() {
        let cal = standard();
        // Friday 24 April 2026, Koningsdag Monday 27th: Tue 28 .. Fri 1 May, Mon 4 May.
        assert_eq!(cal.deadline(d("2026-04-24"), 5), d("2026-05-04"));
        // Received on Koningsdag itself.
        assert_eq!(cal.deadline(d("2026-04-27"), 5), d("2026-05-05"));
        // Koningsdag 2025 is Saturday the 26th; Monday 5 May 2025 (lustrum) is off too.
        assert_eq!(cal.deadline(d("2025-04-26"), 5), d("2025-05-06"));
        assert_eq!(
            with(LiberationDay::Never, false).deadline(d("2025-04-26"), 5),
            d("2025-05-05")
        );
        // 2026 is no lustrum year, unless Bevrijdingsdag is yearly.
        assert_eq!(cal.deadline(d("2026-04-30"), 5), d("2026-05-07"));
        assert_eq!(
            with(LiberationDay::Yearly, false).deadline(d("2026-04-30"), 5),
            d("2026-05-08")
        );
    }

    #[test]
    fn deadlines_across_ascension_and_whitsun() {
        let cal = standard();
        // Hemelvaartsdag Thursday 14 May 2026.
        assert_eq!(cal.deadline(d("2026-05-13"), 5), d("2026-05-21"));
        assert_eq!(cal.deadline(d("2026-05-14"), 5), d("2026-05-22"));
        // Tweede Pinksterdag Monday 25 May 2026.
        assert_eq!(cal.deadline(d("2026-05-20"), 5), d("2026-05-28"));
        // Received on Whit Sunday: day 0 is Tuesday 26 May.
        assert_eq!(cal.deadline(d("2026-05-24"), 5), d("2026-06-02"));
        // Both in one period: from Wednesday 13 May, 14 working days.
        assert_eq!(cal.deadline(d("2026-05-13"), 14), d("2026-06-04"));
        // 2030: Hemelvaartsdag Thursday 30 May, Tweede Pinksterdag Monday 10 June.
        assert_eq!(cal.deadline(d("2030-05-29"), 5), d("2030-06-06"));
        assert_eq!(cal.deadline(d("2030-06-06"), 5), d("2030-06-14"));
    }

    #[test]
    fn deadlines_across_christmas_and_new_year() {
        let cal = standard();
        // Wednesday 23 December 2026: Thu 24, (Fri 25 off), Mon 28, Tue 29, Wed 30, Thu 31.
        assert_eq!(cal.deadline(d("2026-12-23"), 5), d("2026-12-31"));
        // One more step runs over Nieuwjaarsdag (Friday 1 January 2027) to Monday 4 January.
        assert_eq!(cal.deadline(d("2026-12-23"), 6), d("2027-01-04"));
        assert_eq!(cal.deadline(d("2026-12-24"), 5), d("2027-01-04"));
        // Received on Christmas Day, Boxing Day (a Saturday) or New Year's Day.
        assert_eq!(cal.deadline(d("2026-12-25"), 5), d("2027-01-05"));
        assert_eq!(cal.deadline(d("2026-12-26"), 5), d("2027-01-05"));
        assert_eq!(cal.deadline(d("2027-01-01"), 5), d("2027-01-11"));
        // 2025: Christmas on Thursday and Friday, 1 January 2026 a Thursday.
        assert_eq!(cal.deadline(d("2025-12-23"), 5), d("2026-01-02"));
    }

    #[test]
    fn closing_deadline_fourteen_working_days() {
        let cal = standard();
        // After a reaction on Tuesday 1 December 2026: no holidays in between.
        assert_eq!(cal.deadline(d("2026-12-01"), 14), d("2026-12-21"));
        // Thursday 10 December: over Christmas.
        assert_eq!(cal.deadline(d("2026-12-10"), 14), d("2026-12-31"));
        // Thursday 17 December: over Christmas and New Year.
        assert_eq!(cal.deadline(d("2026-12-17"), 14), d("2027-01-08"));
        // Friday 10 April 2026: over Koningsdag.
        assert_eq!(cal.deadline(d("2026-04-10"), 14), d("2026-05-01"));
    }

    #[test]
    fn closed_days_from_the_configuration() {
        let closed: BTreeSet<NaiveDate> = [
            d("2026-12-28"),
            d("2026-12-29"),
            d("2026-12-30"),
            d("2026-12-31"),
            // Already a holiday, and a Saturday: neither changes anything.
            d("2026-12-25"),
            d("2027-01-02"),
        ]
        .into();
        let cal = WorkingCalendar::new(CalendarRules {
            closed_days: closed,
            ..Default::default()
        });
        assert_eq!(cal.holiday(d("2026-12-29")), Some(Holiday::ClosedDay));
        assert_eq!(cal.holiday(d("2026-12-25")), Some(Holiday::ChristmasDay));
        assert_eq!(cal.holiday(d("2027-01-02")), Some(Holiday::ClosedDay));
        assert!(!cal.is_working_day(d("2026-12-29")));
        // Wednesday 23 December: Thu 24, then closed until Monday 4 January 2027.
        assert_eq!(cal.deadline(d("2026-12-23"), 5), d("2027-01-07"));
        // Received during the closure: day 0 is Monday 4 January.
        assert_eq!(cal.deadline(d("2026-12-29"), 5), d("2027-01-11"));
        assert_eq!(
            cal.working_days_between(d("2026-12-24"), d("2027-01-04")),
            1
        );
        let closed_2026: Vec<(NaiveDate, Holiday)> = cal
            .holidays_in(2026)
            .into_iter()
            .filter(|(date, _)| *date >= d("2026-12-25"))
            .collect();
        assert_eq!(
            closed_2026,
            [
                (d("2026-12-25"), Holiday::ChristmasDay),
                (d("2026-12-26"), Holiday::BoxingDay),
                (d("2026-12-28"), Holiday::ClosedDay),
                (d("2026-12-29"), Holiday::ClosedDay),
                (d("2026-12-30"), Holiday::ClosedDay),
                (d("2026-12-31"), Holiday::ClosedDay),
            ]
        );
        assert!(
            cal.holidays_in(2027)
                .contains(&(d("2027-01-02"), Holiday::ClosedDay))
        );
        // The standard calendar is untouched.
        assert_eq!(standard().deadline(d("2026-12-23"), 5), d("2026-12-31"));
    }

    #[test]
    fn holidays_in_is_sorted_and_matches_holiday() {
        let cal = WorkingCalendar::new(CalendarRules {
            good_friday: true,
            liberation_day: LiberationDay::Yearly,
            closed_days: [d("2016-05-05"), d("2027-07-15"), d("2099-01-01")].into(),
        });
        for year in 1900..=2100 {
            let days = cal.holidays_in(year);
            assert!(days.windows(2).all(|w| w[0].0 <= w[1].0), "{year}");
            assert!(days.iter().all(|(date, _)| date.year() == year), "{year}");
            for (date, holiday) in &days {
                assert_ne!(cal.holiday(*date), None, "{date} {holiday:?}");
            }
            let mut date = ymd(year, 1, 1);
            while date.year() == year {
                let first = days.iter().find(|(d, _)| *d == date).map(|(_, h)| *h);
                assert_eq!(cal.holiday(date), first, "{date}");
                date = after(date);
            }
        }
    }

    #[test]
    fn working_days_between_counts_after_from_up_to_and_including_to() {
        let cal = standard();
        assert_eq!(
            cal.working_days_between(d("2026-11-24"), d("2026-11-24")),
            0
        );
        assert_eq!(
            cal.working_days_between(d("2026-12-01"), d("2026-11-24")),
            0
        );
        assert_eq!(
            cal.working_days_between(d("2026-11-24"), d("2026-11-25")),
            1
        );
        assert_eq!(
            cal.working_days_between(d("2026-11-24"), d("2026-12-01")),
            5
        );
        // Over a weekend and Easter Monday: only Tuesday 7 April counts.
        assert_eq!(
            cal.working_days_between(d("2026-04-03"), d("2026-04-07")),
            1
        );
        // Ending on a day off counts nothing for that day.
        assert_eq!(
            cal.working_days_between(d("2026-04-02"), d("2026-04-06")),
            1
        );
        // From a Saturday: Monday is the first day counted.
        assert_eq!(
            cal.working_days_between(d("2026-11-28"), d("2026-11-30")),
            1
        );
        // A whole year: 2026 has 261 weekdays, of which 6 are holidays (1 Jan, Easter
        // Monday, Koningsdag, Hemelvaart, Whit Monday, Christmas Day).
        assert_eq!(
            cal.working_days_between(d("2025-12-31"), d("2026-12-31")),
            255
        );
    }

    #[test]
    fn working_days_between_round_trips_the_deadlines() {
        let cal = standard();
        let cases = [
            ("2026-11-24", 5),
            ("2026-04-02", 5),
            ("2026-04-24", 5),
            ("2026-05-13", 14),
            ("2026-12-23", 5),
            ("2026-12-17", 14),
            ("2025-04-25", 5),
        ];
        for (day0, n) in cases {
            let day0 = d(day0);
            assert!(cal.is_working_day(day0), "{day0}");
            assert_eq!(
                cal.working_days_between(day0, cal.add_working_days(day0, n)),
                n,
                "{day0} + {n}"
            );
        }
    }

    #[test]
    fn counting_back_for_reminders() {
        let cal = standard();
        // Tuesday 7 April 2026 minus one working day skips Easter Monday.
        assert_eq!(cal.working_days_before(d("2026-04-07"), 1), d("2026-04-03"));
        assert_eq!(cal.working_days_before(d("2026-04-07"), 0), d("2026-04-07"));
        // Monday → the Friday before; a Sunday with n = 0 → the Friday before.
        assert_eq!(cal.working_days_before(d("2026-11-30"), 1), d("2026-11-27"));
        assert_eq!(cal.working_days_before(d("2026-11-29"), 0), d("2026-11-27"));
        // Monday 4 January 2027 minus two: over Nieuwjaarsdag to Wednesday 30 December.
        assert_eq!(cal.working_days_before(d("2027-01-04"), 2), d("2026-12-30"));
    }

    /// Weekends plus the holidays as tabulated by hand for 2025–2031 (default rules plus
    /// Goede Vrijdag), to check the computed calendar against.
    #[rustfmt::skip]
    const DAYS_OFF_2025_2031: &[&str] = &[
        "2025-01-01", "2025-04-18", "2025-04-20", "2025-04-21", "2025-04-26", "2025-05-05", "2025-05-29",
        "2025-06-08", "2025-06-09", "2025-12-25", "2025-12-26",
        "2026-01-01", "2026-04-03", "2026-04-05", "2026-04-06", "2026-04-27", "2026-05-14", "2026-05-24",
        "2026-05-25", "2026-12-25", "2026-12-26",
        "2027-01-01", "2027-03-26", "2027-03-28", "2027-03-29", "2027-04-27", "2027-05-06", "2027-05-16",
        "2027-05-17", "2027-12-25", "2027-12-26",
        "2028-01-01", "2028-04-14", "2028-04-16", "2028-04-17", "2028-04-27", "2028-05-25", "2028-06-04",
        "2028-06-05", "2028-12-25", "2028-12-26",
        "2029-01-01", "2029-03-30", "2029-04-01", "2029-04-02", "2029-04-27", "2029-05-10", "2029-05-20",
        "2029-05-21", "2029-12-25", "2029-12-26",
        "2030-01-01", "2030-04-19", "2030-04-21", "2030-04-22", "2030-04-27", "2030-05-05", "2030-05-30",
        "2030-06-09", "2030-06-10", "2030-12-25", "2030-12-26",
        "2031-01-01", "2031-04-11", "2031-04-13", "2031-04-14", "2031-04-26", "2031-05-22", "2031-06-01",
        "2031-06-02", "2031-12-25", "2031-12-26",
    ];

    #[test]
    fn brute_force_consistency_2025_to_2031() {
        let cal = WorkingCalendar::new(CalendarRules {
            good_friday: true,
            ..Default::default()
        });
        let table: BTreeSet<NaiveDate> = DAYS_OFF_2025_2031.iter().map(|s| d(s)).collect();
        let first = d("2025-01-01");
        let last = d("2031-12-31");
        let mut day = first;
        while day <= last {
            // The computed calendar agrees with the hand-made table.
            let expected_working = !is_weekend(day) && !table.contains(&day);
            assert_eq!(cal.is_working_day(day), expected_working, "{day}");
            assert_eq!(cal.holiday(day).is_some(), table.contains(&day), "{day}");

            let start = cal.working_day_on_or_after(day);
            assert!(cal.is_working_day(start), "{day}");
            assert!(start >= day, "{day}");
            assert_eq!(start == day, cal.is_working_day(day), "{day}");
            // Nothing between `day` and `start` is a working day.
            assert_eq!(cal.working_days_between(day, before(start)), 0, "{day}");
            assert_eq!(
                cal.next_working_day(day),
                cal.working_day_on_or_after(after(day))
            );

            let mut previous = start;
            for n in 0..=20 {
                let due = cal.add_working_days(day, n);
                assert!(cal.is_working_day(due), "{day} + {n}");
                if n > 0 {
                    assert!(due > previous, "{day} + {n}");
                    assert_eq!(due, cal.next_working_day(previous), "{day} + {n}");
                }
                assert_eq!(cal.deadline(day, n), due, "{day} + {n}");
                assert_eq!(cal.working_days_between(start, due), n, "{day} + {n}");
                // From a day off, day 0 itself is one of the days counted.
                let from_day = n + u32::from(!cal.is_working_day(day));
                assert_eq!(cal.working_days_between(day, due), from_day, "{day} + {n}");
                assert_eq!(cal.working_days_between(due, start), 0, "{day} + {n}");
                assert_eq!(cal.working_days_before(due, n), start, "{day} - {n}");
                previous = due;
            }
            day = after(day);
        }
    }

    #[test]
    fn working_days_between_is_additive() {
        let cal = standard();
        let a = d("2025-03-01");
        let c = d("2027-02-01");
        let total = cal.working_days_between(a, c);
        let mut b = a;
        while b <= c {
            assert_eq!(
                cal.working_days_between(a, b) + cal.working_days_between(b, c),
                total,
                "{b}"
            );
            b = b + Days::new(7);
        }
    }
}
