//! The running service: the daemon that wires the layers together ([`daemon`]), one process
//! per database ([`lock`]), its first log lines ([`startup`]) and systemd's notifications
//! ([`notify`]); [`serve`] runs it until a signal stops it.

pub mod daemon;
pub mod lock;
pub mod notify;
pub mod serve;
pub mod startup;
