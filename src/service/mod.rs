//! The running service: the daemon that wires the layers together ([`daemon`]), one process
//! per database ([`lock`]), its first log lines ([`startup`]), the checks it runs as it starts
//! (and `klachtd check` runs in full: [`check`]), the watch on its database's disk
//! ([`store_watch`]) and systemd's notifications ([`notify`]); [`serve`] runs it until a
//! signal stops it.

pub mod check;
pub mod daemon;
pub mod lock;
pub mod notify;
pub mod serve;
pub mod startup;
pub mod store_watch;
