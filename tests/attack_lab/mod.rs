//! A black-box lab for the attack tests: the klachtd binary on a temporary Maildir with the
//! file transport, configured only through `KLACHTD__…` environment variables, as an outsider
//! would run it. Mail goes in as files in `mail/new/`; what klachtd sends is read back from the
//! `.eml` files in the outbox.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Lab {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    n: usize,
}

/// One mail klachtd wrote to the outbox.
#[derive(Debug, Clone)]
pub struct Sent {
    pub file: String,
    pub raw: String,
    pub to: String,
    pub reply_to: Option<String>,
    pub message_id: String,
    pub text: String,
}

impl Sent {
    /// The `info+…@` address of the Reply-To header (the token address).
    pub fn token_address(&self) -> String {
        self.reply_to.clone().expect("a Reply-To with a token")
    }
}

impl Lab {
    pub fn new(extra: &[(&str, &str)]) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for sub in ["mail/new", "mail/cur", "mail/tmp", "outbox"] {
            std::fs::create_dir_all(p.join(sub)).unwrap();
        }
        let mut env: Vec<(String, String)> = vec![
            (
                "KLACHTD__INBOUND__MAILDIR".into(),
                p.join("mail").display().to_string(),
            ),
            (
                "KLACHTD__STORE__PATH".into(),
                p.join("k.sqlite").display().to_string(),
            ),
            (
                "KLACHTD__OUTBOUND__DIR".into(),
                p.join("outbox").display().to_string(),
            ),
            (
                "KLACHTD__ORGANISATION__ADDRESS".into(),
                "info@example.org".into(),
            ),
            (
                "KLACHTD__ROLES__STAFF".into(),
                "anna@example.org,piet@example.org".into(),
            ),
            (
                "KLACHTD__ROLES__DIRECTOR".into(),
                "directie@example.org".into(),
            ),
            (
                "KLACHTD__ROLES__COMMITTEE".into(),
                "commissie@example.org".into(),
            ),
            ("KLACHTD_LOG".into(), "info".into()),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Lab { dir, env, n: 0 }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_klachtd"));
        cmd.current_dir(self.path())
            .env_remove("KLACHTD_FAILPOINT")
            .env_remove("KLACHTD_CONFIG");
        for (k, _) in std::env::vars() {
            if k.starts_with("KLACHTD__") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn klachtd(&self, args: &[&str]) -> Output {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "klachtd {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Drops a mail into the Maildir (LF line ends are turned into CRLF).
    pub fn deliver(&mut self, mail: &str) {
        self.n += 1;
        let raw = mail.replace("\r\n", "\n").replace('\n', "\r\n");
        let name = format!("17960000{:04}.M{}P1.lab", self.n, self.n);
        let tmp = self.path().join("mail/tmp").join(&name);
        std::fs::write(&tmp, raw).unwrap();
        std::fs::rename(&tmp, self.path().join("mail/new").join(&name)).unwrap();
    }

    /// `run --once`; returns what was written to the outbox by this run.
    pub fn run(&mut self) -> Vec<Sent> {
        let before = self.outbox_files();
        self.klachtd(&["run", "--once"]);
        self.sent()
            .into_iter()
            .filter(|s| !before.contains(&s.file))
            .collect()
    }

    pub fn run_stderr(&mut self) -> String {
        let out = self.klachtd(&["run", "--once"]);
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn outbox_files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path().join("outbox"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Every mail in the outbox.
    pub fn sent(&self) -> Vec<Sent> {
        self.outbox_files()
            .into_iter()
            .map(|f| {
                let path: PathBuf = self.path().join("outbox").join(&f);
                let bytes = std::fs::read(&path).unwrap();
                let msg = mail_parser::MessageParser::default().parse(&bytes).unwrap();
                let first = |a: Option<&mail_parser::Address>| {
                    a.and_then(|a| a.first())
                        .and_then(|a| a.address())
                        .map(|s| s.to_string())
                };
                Sent {
                    to: first(msg.to()).unwrap_or_default(),
                    reply_to: first(msg.reply_to()),
                    message_id: msg.message_id().unwrap_or_default().to_string(),
                    text: msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
                    raw: String::from_utf8_lossy(&bytes).into_owned(),
                    file: f,
                }
            })
            .collect()
    }

    /// The newest mail to `to` whose file name starts with `prefix` (e.g. `kl-2026-0001.new`).
    pub fn last_to(&self, prefix: &str, to: &str) -> Sent {
        self.sent()
            .into_iter()
            .rfind(|s| s.file.starts_with(prefix) && s.to == to)
            .unwrap_or_else(|| panic!("no mail {prefix}… to {to}"))
    }

    pub fn case_json(&self, reference: &str) -> serde_json::Value {
        serde_json::from_slice(&self.klachtd(&["case", reference, "--json"]).stdout).unwrap()
    }

    pub fn case_text(&self, reference: &str) -> String {
        String::from_utf8(self.klachtd(&["case", reference]).stdout).unwrap()
    }

    pub fn cases_text(&self) -> String {
        String::from_utf8(self.klachtd(&["cases"]).stdout).unwrap()
    }

    /// A complaint from `from`; returns nothing, call `run` after.
    pub fn complaint(&mut self, from: &str, n: usize) {
        self.deliver(&format!(
            "From: Klager {n} <{from}>\nTo: info@example.org\nSubject: Klacht {n}\n\
             Message-ID: <complaint-{n}@example.net>\n\n\
             De les van dinsdag is zonder bericht uitgevallen. Ik wil mijn geld terug.\n"
        ));
    }
}
