//! klachtd as a separate process configured for a test's mail servers: IMAP (implicit TLS)
//! in, SMTP (STARTTLS with a login) out, its own database; plus sample mail made safe for them.
#![allow(dead_code)] // each test binary uses a different part of the helpers

use super::mailserver::MailServer;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Safety net for waiting on real delivery; never an assertion about speed.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

/// A sample with its From replaced by a local test mailbox, so our answer stays on loopback.
pub fn from_local(name: &str, sender: &str) -> Vec<u8> {
    let raw = fixture(name);
    let text = String::from_utf8_lossy(&raw);
    let mut out = String::new();
    let mut replaced = false;
    let mut in_from = false;
    for line in text.split_inclusive("\r\n") {
        if !replaced && line.to_ascii_lowercase().starts_with("from:") {
            out.push_str(&format!("From: Test Klager <{sender}>\r\n"));
            replaced = true;
            in_from = true;
            continue;
        }
        if in_from && line.starts_with([' ', '\t']) {
            continue;
        }
        in_from = false;
        out.push_str(line);
    }
    assert!(replaced, "{name} has a From header");
    out.into_bytes()
}

/// klachtd configured for the running servers: IMAP (implicit TLS) in, SMTP (STARTTLS, AUTH) out.
#[allow(dead_code)]
pub struct Klachtd<'a> {
    server: &'a MailServer,
    dir: tempfile::TempDir,
    /// More `KLACHTD__…` settings for this test.
    env: Vec<(String, String)>,
}

#[allow(dead_code)]
impl<'a> Klachtd<'a> {
    pub fn new(server: &'a MailServer) -> Self {
        Self::with_env(server, &[])
    }

    /// As [`Klachtd::new`], with more settings.
    pub fn with_env(server: &'a MailServer, env: &[(&str, &str)]) -> Self {
        Klachtd {
            server,
            dir: tempfile::tempdir().unwrap(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("klachtd.sqlite")
    }

    pub fn command(&self) -> Command {
        let s = self.server;
        let ca = s.ca_cert.display().to_string();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_klachtd"));
        cmd.current_dir(self.dir.path())
            .env_remove("KLACHTD_FAILPOINT")
            .env("KLACHTD_LOG", "info")
            .env("KLACHTD__STORE__PATH", self.db())
            .env("KLACHTD__ORGANISATION__ADDRESS", "info@example.org")
            .env(
                "KLACHTD__ROLES__STAFF",
                "staff@example.org,staff2@example.org",
            )
            .env("KLACHTD__ROLES__DIRECTOR", "director@example.org")
            .env("KLACHTD__ROLES__COMMITTEE", "committee@example.org")
            .env("KLACHTD__INBOUND__KIND", "imap")
            .env("KLACHTD__INBOUND__IMAP__HOST", "127.0.0.1")
            .env("KLACHTD__INBOUND__IMAP__PORT", s.imaps_port.to_string())
            .env("KLACHTD__INBOUND__IMAP__TLS", "implicit")
            .env("KLACHTD__INBOUND__IMAP__CA_FILE", &ca)
            .env("KLACHTD__INBOUND__IMAP__USERNAME", "info@example.org")
            .env("KLACHTD__INBOUND__IMAP__PASSWORD", "secret")
            .env("KLACHTD__INBOUND__IMAP__RECONNECT_MIN_SECONDS", "1")
            .env("KLACHTD__OUTBOUND__KIND", "smtp")
            .env("KLACHTD__OUTBOUND__SMTP__HOST", "127.0.0.1")
            .env("KLACHTD__OUTBOUND__SMTP__PORT", s.smtp_port.to_string())
            .env("KLACHTD__OUTBOUND__SMTP__TLS", "starttls")
            .env("KLACHTD__OUTBOUND__SMTP__CA_FILE", &ca)
            .env("KLACHTD__OUTBOUND__SMTP__USERNAME", "info@example.org")
            .env("KLACHTD__OUTBOUND__SMTP__PASSWORD", "secret")
            .env("KLACHTD__OUTBOUND__SMTP__TIMEOUT_SECONDS", "10")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "klachtd {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn run_once(&self) -> String {
        String::from_utf8(self.run(&["run", "--once"]).stdout).unwrap()
    }

    pub fn cases(&self) -> Vec<serde_json::Value> {
        serde_json::from_slice(&self.run(&["cases", "--json"]).stdout).unwrap()
    }

    pub fn case(&self, reference: &str) -> serde_json::Value {
        serde_json::from_slice(&self.run(&["case", reference, "--json"]).stdout).unwrap()
    }

    /// klachtd writing its outgoing mail as files to `outbox` (the intake attacks: thousands of
    /// acknowledgements would only load Postfix), logging at `ATTACK_LOG` (default warn).
    pub fn with_file_outbox(&self, outbox: &Path) -> Command {
        let mut cmd = self.command();
        cmd.env("KLACHTD__OUTBOUND__KIND", "file")
            .env("KLACHTD__OUTBOUND__DIR", outbox)
            .env(
                "KLACHTD_LOG",
                std::env::var("ATTACK_LOG").unwrap_or("warn".into()),
            );
        cmd
    }

    /// Starts `run --once` with a failpoint and SIGKILLs it once the point is reached.
    pub fn crash_at(&self, failpoint: &str) {
        assert!(
            kill_at_failpoint(self.command().args(["run", "--once"]), failpoint),
            "failpoint {failpoint} was never reached"
        );
    }
}

/// Runs `cmd` (klachtd, `run --once` or the daemon) with `KLACHTD_FAILPOINT=failpoint` (a name,
/// or `name@k` for its k-th hit) and SIGKILLs it once the point is reached. Returns whether it
/// was: a run that ends before it is left to end.
pub fn kill_at_failpoint(cmd: &mut Command, failpoint: &str) -> bool {
    let mut child: Child = cmd
        .env("KLACHTD_FAILPOINT", failpoint)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let name = failpoint.split('@').next().unwrap_or(failpoint);
    let reached = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains(&format!("failpoint reached: {name}")));
    if reached {
        child.kill().unwrap();
    }
    child.wait().unwrap();
    reached
}
