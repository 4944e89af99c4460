//! `klachtd check`: every check of the installation (`service::check`), one line each with ✔
//! or ✘ and a fix; exit status 0 only when all pass.

use crate::service::check;
use std::path::Path;

/// `klachtd check`'s arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Also send one test mail to this address.
    #[arg(long, value_name = "ADDRESS")]
    send_test: Option<String>,
}

impl Args {
    /// Runs `klachtd check`: exit status 0 only when every check passes.
    pub fn run(self, config: Option<&Path>) -> anyhow::Result<std::process::ExitCode> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let runtime = super::runtime()?;
        let report = runtime.block_on(check::all(config, &env, self.send_test.as_deref()));
        print!("{report}");
        Ok(if report.ok() {
            std::process::ExitCode::SUCCESS
        } else {
            std::process::ExitCode::FAILURE
        })
    }
}
