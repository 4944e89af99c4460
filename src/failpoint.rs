//! Test-only crash points: with `KLACHTD_FAILPOINT=<name>` set, the process stops dead at that
//! point (it prints a marker and waits to be SIGKILLed), so tests can prove that a crash there
//! loses nothing and duplicates nothing. Unset, `hit` costs one environment lookup.

/// Stops here if the environment names this failpoint.
pub fn hit(name: &str) {
    if std::env::var("KLACHTD_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("klachtd failpoint reached: {name}");
        // Wait to be killed; never continue past the crash point.
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}
