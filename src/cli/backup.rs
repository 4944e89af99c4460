//! `klachtd backup FILE` and `klachtd restore FILE`: a consistent copy of the database
//! (safe while the daemon runs), and putting one back in place (the daemon stopped; the
//! current database kept beside it as `<store>.before-restore-<time>`, never overwritten).

use super::clock_at;
use crate::clock::SystemClock;
use crate::service::lock;
use crate::settings::Settings;
use crate::store::maintenance;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct BackupArgs {
    /// The new file to write (must not exist).
    file: PathBuf,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup file written by `klachtd backup`.
    file: PathBuf,
}

impl BackupArgs {
    /// Runs `klachtd backup`.
    pub fn run(self, config: Option<&Path>) -> anyhow::Result<ExitCode> {
        let settings = Settings::load(config)?;
        // Only looking never creates a database.
        crate::store::require_existing(&settings.store.path)?;
        let file = self.file;
        let copy = maintenance::backup(&settings.store.path, &file)?;
        // Remembered, so `erase` can name the copies it cannot reach (issue 25).
        if let Err(e) = super::erase::note_backup(&settings, &file, clock_at(None).now()) {
            eprintln!("klachtd: note: the backup is not recorded for `erase` ({e:#})");
        }
        println!(
            "{} written (schema {}, intact)",
            file.display(),
            copy.version
        );
        Ok(ExitCode::SUCCESS)
    }
}

impl RestoreArgs {
    /// Runs `klachtd restore`.
    pub fn run(self, config: Option<&Path>) -> anyhow::Result<ExitCode> {
        let settings = Settings::load(config)?;
        // No daemon may hold the database while it is replaced.
        let _lock = lock::StoreLock::acquire(&settings.store.path)?;
        let file = self.file;
        let now = crate::clock::Clock::now(&SystemClock);
        let restored = maintenance::restore(&file, &settings.store.path, now)?;
        let kept = match &restored.kept {
            Some(kept) => format!("the previous database is kept as {}", kept.display()),
            None => "there was no database before".to_string(),
        };
        println!(
            "{} restored as {} (schema {}, intact); {kept}",
            file.display(),
            settings.store.path.display(),
            restored.inspection.version,
        );
        Ok(ExitCode::SUCCESS)
    }
}
