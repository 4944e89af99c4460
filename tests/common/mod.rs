//! Helpers shared by the integration-test binaries.

pub mod klachtd;
pub mod mailserver;
