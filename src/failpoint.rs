//! Test-only crash points: with `KLACHTD_FAILPOINT=<name>` set, the process stops dead at that
//! point (it prints a marker and waits to be SIGKILLed), so tests can prove that a crash there
//! loses nothing and duplicates nothing; `<name>@<k>` stops at the k-th time the point is
//! reached instead of the first, so a test can crash a run part-way through, whatever the
//! machine's speed. The variable is read once per process (tests set it when they start
//! klachtd); unset, `hit` costs one comparison.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The failpoint this process stops at, if any, and at which of its hits (1 = the first).
fn armed() -> Option<(&'static str, usize)> {
    static ARMED: OnceLock<Option<(String, usize)>> = OnceLock::new();
    ARMED
        .get_or_init(|| std::env::var("KLACHTD_FAILPOINT").ok().map(|v| parse(&v)))
        .as_ref()
        .map(|(name, k)| (name.as_str(), *k))
}

/// `name` or `name@k`; a `k` that is no positive number makes the whole value the name (a
/// failpoint that is never reached, rather than one reached at a moment the test did not ask).
fn parse(value: &str) -> (String, usize) {
    match value.rsplit_once('@') {
        Some((name, k)) => match k.parse::<usize>() {
            Ok(k) if k > 0 => (name.to_string(), k),
            _ => (value.to_string(), 1),
        },
        None => (value.to_string(), 1),
    }
}

/// Stops here if the environment names this failpoint (at its k-th hit, when it says so).
pub fn hit(name: &str) {
    static HITS: AtomicUsize = AtomicUsize::new(0);
    let Some((armed, at)) = armed() else {
        return;
    };
    if armed == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 == at {
        eprintln!("klachtd failpoint reached: {name}");
        // Wait to be killed; never continue past the crash point.
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_count_after_the_name_says_which_hit_stops() {
        assert_eq!(parse("after-commit"), ("after-commit".into(), 1));
        assert_eq!(parse("after-commit@3"), ("after-commit".into(), 3));
        assert_eq!(parse("after-commit@0"), ("after-commit@0".into(), 1));
        assert_eq!(parse("after-commit@x"), ("after-commit@x".into(), 1));
    }
}
