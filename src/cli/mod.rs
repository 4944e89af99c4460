//! The `klachtd` command line: one file per subcommand or small group. `main.rs` parses the
//! arguments, sets up logging and hands each subcommand to its file here.

pub mod cases;
pub mod check;
pub mod demo;
pub mod dossier;
pub mod erase;
pub mod oauth2_login;
pub mod status;
