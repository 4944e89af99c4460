//! Helpers shared by the integration-test binaries.

pub mod authstack;
pub mod avg;
pub mod invariants;
pub mod klachtd;
pub mod mailserver;
pub mod run;
pub mod smallfs;
pub mod token_server;
pub mod world;
