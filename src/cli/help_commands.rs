//! `klachtd help-commands`: the guide for staff — how to work a complaint by replying, every
//! command — in Dutch or English.

use crate::domain::Language;
use crate::settings::Settings;
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// nl or en; without it, the configured organisation.language (nl by default).
    #[arg(long, value_parser = ["nl", "en"])]
    lang: Option<String>,
}

impl Args {
    /// Runs the subcommand.
    pub fn run(self, config: Option<&Path>) -> anyhow::Result<ExitCode> {
        let lang = match self.lang.as_deref().and_then(Language::parse) {
            Some(lang) => lang,
            None => Settings::load(config)?.organisation.language,
        };
        print!("{}", crate::commands::help(lang));
        Ok(ExitCode::SUCCESS)
    }
}
