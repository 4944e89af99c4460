//! Staff replies: finding the new text above the quoted original ([`reply`]) and reading the
//! command block at its top ([`grammar`]). Pure functions; applying them is `casework`'s job.

pub mod grammar;
pub mod reply;

pub use grammar::{
    Command, CommandBlock, CommandError, CommandLine, Keyword, Verdict, parse_block,
};
pub use reply::{ReplyText, new_text};
