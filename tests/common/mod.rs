//! Helpers shared by the integration-test binaries.

pub mod invariants;
pub mod klachtd;
pub mod mailserver;
pub mod smallfs;
pub mod token_server;
pub mod world;
