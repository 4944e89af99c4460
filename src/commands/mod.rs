//! Staff replies: finding the new text above the quoted original ([`new_text`], with the
//! clients' attribution and separator lines in [`quote_forms`]) and parsing the command block
//! at its top ([`grammar`], [`parse_block`]). Pure functions; applying them is `casework`'s job.

pub mod grammar;
pub mod new_text;
pub mod quote_forms;

pub use grammar::{
    Allowed, Command, CommandBlock, CommandError, CommandLine, Keyword, RequestAction, Verdict,
    parse_block,
};
pub use new_text::{ReplyText, new_text};

/// The staff guide to the commands (`klachtd help-commands`).
pub fn help(lang: crate::domain::Language) -> &'static str {
    match lang {
        crate::domain::Language::Nl => include_str!("../../templates/nl/help_commands.txt"),
        crate::domain::Language::En => include_str!("../../templates/en/help_commands.txt"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Language;

    #[test]
    fn both_guides_list_every_keyword_and_give_an_example() {
        for k in Keyword::all() {
            assert!(help(Language::Nl).contains(k.dutch()), "nl guide lacks {k}");
            assert!(
                help(Language::En).contains(k.english()),
                "en guide lacks {k:?}"
            );
        }
        assert!(help(Language::Nl).contains("Voorbeeld"));
        assert!(help(Language::En).contains("Example"));
    }
}
