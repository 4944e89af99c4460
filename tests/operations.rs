//! Running klachtd as an administrator would: one instance per database, read-only commands
//! that never create one, `klachtd check`, `klachtd status`, `klachtd backup` and restore.
//! Each test is a private installation in a temporary directory (Maildir in, files out).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A private klachtd installation in a temporary directory.
struct Install {
    dir: tempfile::TempDir,
}

impl Install {
    fn new() -> Install {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["mail/new", "mail/cur", "mail/tmp"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Install { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_klachtd"));
        cmd.current_dir(self.dir.path())
            .env_remove("KLACHTD_FAILPOINT")
            .env_remove("KLACHTD_CONFIG")
            .env("KLACHTD__ROLES__STAFF", "staff@example.org")
            .env("KLACHTD__INBOUND__MAILDIR", "mail")
            .env(
                "KLACHTD__TEMPLATES__DIR",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"),
            )
            .env("KLACHTD_LOG", "info");
        cmd
    }

    fn output(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "klachtd {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn deliver(&self, name: &str, bytes: &[u8]) {
        let tmp = self.path(&format!("mail/tmp/{name}"));
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, self.path(&format!("mail/new/{name}"))).unwrap();
    }

    /// Starts `klachtd run` and returns once it watches the Maildir.
    fn start_daemon(&self) -> Child {
        let mut child = self
            .command()
            .arg("run")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the daemon starts");
            if line.contains("watching the Maildir") {
                break;
            }
        }
        std::thread::spawn(move || for _ in rx {});
        child
    }
}

/// Stops a daemon (SIGTERM; whether its handler was installed yet does not matter here).
fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
}

fn complaint(n: usize) -> Vec<u8> {
    format!(
        "From: Klager {n} <klager{n}@example.net>\r\nTo: info@example.org\r\n\
         Subject: Klacht nummer {n}\r\nMessage-ID: <ops-{n}@example.net>\r\n\
         Date: Mon, 30 Nov 2026 10:00:00 +0100\r\n\r\nIk ben ontevreden over cursus {n}.\r\n"
    )
    .into_bytes()
}

#[test]
fn a_second_daemon_on_the_same_database_exits_at_once_naming_the_first() {
    let k = Install::new();
    let first = k.start_daemon();
    let out = k.output(&["run", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "another klachtd (pid {}) is already running",
            first.id()
        )) && err.contains("klachtd.sqlite.lock"),
        "{err}"
    );
    stop(first);
    k.run(&["run", "--once"]);
}

#[test]
fn daemons_started_together_on_a_new_database_leave_exactly_one_running() {
    let k = Install::new();
    let children: Vec<Child> = (0..4)
        .map(|_| {
            k.command()
                .arg("run")
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // The losers exit by themselves; the winner keeps running until told.
    let mut running = Vec::new();
    let mut refused = 0;
    for mut child in children {
        let mut stderr = String::new();
        let reader = BufReader::new(child.stderr.take().unwrap());
        let mut lines = reader.lines().map_while(Result::ok);
        let verdict =
            lines.find(|l| l.contains("watching the Maildir") || l.contains("already running"));
        match verdict {
            Some(l) if l.contains("already running") => {
                assert!(!child.wait().unwrap().success());
                refused += 1;
            }
            Some(_) => {
                std::thread::spawn(move || for _ in lines {});
                running.push(child);
            }
            None => {
                stderr.push_str("no verdict");
                panic!("{stderr}");
            }
        }
    }
    assert_eq!((running.len(), refused), (1, 3));
    stop(running.pop().unwrap());
}

#[test]
fn read_only_commands_never_create_a_database_and_say_where_they_looked() {
    let k = Install::new();
    for args in [&["cases"][..], &["case", "KL-2026-0001"]] {
        let out = k.output(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            err.contains(&format!(
                "no database at {}",
                k.path("var/klachtd.sqlite").display()
            )),
            "{args:?}: {err}"
        );
    }
    assert!(!k.path("var").exists(), "nothing was created");
    k.deliver("1.eml", &complaint(1));
    k.run(&["run", "--once"]);
    assert!(k.run(&["cases"]).contains("KL-2026-0001"));
}
