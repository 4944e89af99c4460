//! Attack on `organisation.timezone` (issue 12, idle memory): only Europe's zones, the Dutch
//! Caribbean's and UTC are built in, and "a clear error for anything else". Zones outside that
//! set that are still accepted (kept in the binary as targets of the kept names' links) break
//! the promise; the names the README lists must all work.

use klachtd::settings::Settings;

fn load(zone: &str) -> Result<Settings, String> {
    Settings::load_with_env(
        None,
        vec![(
            "KLACHTD__ORGANISATION__TIMEZONE".to_string(),
            zone.to_string(),
        )],
    )
    .map_err(|e| format!("{e:#}"))
}

/// Every zone the README and the error message name, and a few of Europe's links, work and
/// keep their own name.
#[test]
fn the_promised_zones_are_accepted() {
    for zone in [
        "Europe/Amsterdam",
        "Europe/Brussels",
        "Europe/Kyiv",
        "Europe/Kiev",
        "Europe/Belfast",
        "Europe/Nicosia",
        "Europe/Istanbul",
        "America/Kralendijk",
        "America/Curacao",
        "America/Aruba",
        "America/Lower_Princes",
        "UTC",
    ] {
        let s = load(zone).unwrap_or_else(|e| panic!("{zone} refused: {e}"));
        assert_eq!(s.timezone().name(), zone);
    }
}

/// Odd values get the clear error naming the key.
#[test]
fn odd_values_get_a_clear_error() {
    for zone in [
        "",
        " Europe/Amsterdam",
        "europe/amsterdam",
        "Europe/",
        "Europe/../UTC",
        "Asia/Tokyo",
        "Mars/Olympus",
        "Europe/Amsterdam\n",
    ] {
        let e = load(zone)
            .err()
            .unwrap_or_else(|| panic!("{zone:?} accepted"));
        assert!(
            e.contains("organisation.timezone") && e.contains("Europe/Amsterdam"),
            "{zone:?}: {e}"
        );
    }
}

/// Zones that are neither Europe's, nor the Dutch Caribbean's, nor UTC must be refused with the
/// same clear error. They are accepted now: chrono-tz's filter keeps the targets of the kept
/// links (America/Puerto_Rico for the Caribbean names, Asia/Nicosia for Europe/Nicosia, and
/// the old aliases GMT, CET, Etc/GMT-1, Zulu …), so `organisation.timezone = "America/Puerto_Rico"`
/// starts klachtd without a word.
#[test]
fn zones_outside_the_promised_set_are_refused() {
    let accepted: Vec<&str> = [
        "America/Puerto_Rico",
        "Asia/Nicosia",
        "CET",
        "Etc/GMT-1",
        "Zulu",
    ]
    .into_iter()
    .filter(|zone| load(zone).is_ok())
    .collect();
    assert!(
        accepted.is_empty(),
        "accepted although outside Europe/*, the Dutch Caribbean and UTC: {accepted:?}"
    );
}
