//! Test-only crash points: with `KLACHTD_FAILPOINT=<name>` set, the process stops dead at that
//! point (it prints a marker and waits to be SIGKILLed), so tests can prove that a crash there
//! loses nothing and duplicates nothing. The variable is read once per process (tests set it
//! when they start klachtd); unset, `hit` costs one comparison.

use std::sync::OnceLock;

/// The failpoint this process stops at, if any.
fn armed() -> Option<&'static str> {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    ARMED
        .get_or_init(|| std::env::var("KLACHTD_FAILPOINT").ok())
        .as_deref()
}

/// Stops here if the environment names this failpoint.
pub fn hit(name: &str) {
    if armed() == Some(name) {
        eprintln!("klachtd failpoint reached: {name}");
        // Wait to be killed; never continue past the crash point.
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}
