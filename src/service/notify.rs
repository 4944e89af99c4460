//! systemd's service notifications (`sd_notify`): `READY=1` once the daemon is set up,
//! `WATCHDOG=1` at half the unit's `WatchdogSec` while its runtime lives, `STOPPING=1` on the
//! way out. A datagram to `$NOTIFY_SOCKET`; outside systemd (no such variable) nothing happens.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends `state` (e.g. `READY=1`) to the service manager; `Ok(false)` when there is none.
pub fn notify(state: &str) -> std::io::Result<bool> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let socket = UnixDatagram::unbound()?;
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
    if let Some(name) = bytes.strip_prefix(b"@") {
        // An abstract socket (systemd's usual one): "@" stands for the leading NUL.
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        socket.send_to_addr(state.as_bytes(), &addr)?;
    } else {
        socket.send_to(state.as_bytes(), &path)?;
    }
    Ok(true)
}

/// Logs instead of failing: a lost notification must not stop the daemon.
pub fn tell(state: &str) {
    if let Err(e) = notify(state) {
        tracing::warn!("telling systemd {state}: {e}");
    }
}

/// How often to send `WATCHDOG=1`: half of `$WATCHDOG_USEC`, when the watchdog is meant for us.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Sends `WATCHDOG=1` every [`watchdog_interval`] until the runtime ends (spawn it).
pub async fn watchdog() {
    let Some(every) = watchdog_interval() else {
        return;
    };
    loop {
        tell("WATCHDOG=1");
        tokio::time::sleep(every).await;
    }
}
