//! The binary on a Maildir, for what people see outside mail: no address in the log at any
//! level, no terminal escape codes or bidi overrides from mail in `case`/`cases`, report files
//! only the owner can read, and no clear-text connection to a remote server.

use std::path::PathBuf;
use std::process::{Command, Output};

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
            .env("KLACHTD__ROLES__STAFF", "anna.devries@example.org")
            .env("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", "mail.example.org")
            .env("KLACHTD__INBOUND__MAILDIR", "mail")
            .env("KLACHTD_LOG", "klachtd=trace");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "klachtd {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn deliver(&self, name: &str, bytes: &[u8]) {
        let tmp = self.path(&format!("mail/tmp/{name}"));
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, self.path(&format!("mail/new/{name}"))).unwrap();
    }
}

#[test]
fn no_address_in_the_log_and_no_escape_codes_on_the_terminal() {
    let k = Install::new();
    k.deliver(
        "1.eml",
        b"From: \"Jan\xe2\x80\xae Smit\" <jan.smit@example.net>\r\nTo: info@example.org\r\nSubject: Klacht\r\nMessage-ID: <1@example.net>\r\n\r\nIk ben niet tevreden.\r\n",
    );
    // A follow-up carrying terminal escape codes (clear screen, set the title, bidi).
    k.deliver(
        "2.eml",
        b"From: <jan.smit@example.net>\r\nTo: info@example.org\r\nSubject: RE: [KL-2026-0001]\r\nMessage-ID: <2@example.net>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNog iets \x1b[2J\x1b]0;pwned\x07 en factuur\xe2\x80\xaefdp.exe\r\n",
    );
    // A complaint registered by phone: the old log line named the complainant.
    k.deliver(
        "3.eml",
        b"Authentication-Results: mail.example.org; auth=pass smtp.auth=anna.devries@example.org\r\nReceived: from laptop.example.org (unknown [192.0.2.10]) by mail.example.org (Postfix) with ESMTPSA id 4F1C2A0; Mon, 7 Dec 2026 09:00:00 +0100\r\nFrom: <anna.devries@example.org>\r\nTo: info@example.org\r\nSubject: Telefonische klacht\r\nMessage-ID: <3@example.org>\r\n\r\nKlacht: piet.derde@example.com\r\n\r\nMeneer belde over zijn examen.\r\n",
    );
    // A stranger on the case.
    k.deliver(
        "4.eml",
        b"From: <mallory@evil.example>\r\nTo: info@example.org\r\nSubject: [KL-2026-0001] intrekken\r\nMessage-ID: <4@evil.example>\r\n\r\nIk trek de klacht in.\r\n",
    );
    let out = k.run(&["run", "--once"]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("KL-2026-0002"),
        "the log names references: {log}"
    );
    for address in [
        "jan.smit",
        "anna.devries",
        "piet.derde",
        "mallory",
        "example.net",
        "evil.example",
    ] {
        assert!(!log.contains(address), "{address} in the log:\n{log}");
    }

    for args in [
        vec!["case", "KL-2026-0001"],
        vec!["case", "KL-2026-0001", "--json"],
        vec!["cases"],
        vec!["cases", "--json"],
    ] {
        let shown = String::from_utf8(k.run(&args).stdout).unwrap();
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
            "{args:?}: {shown:?}"
        );
        assert!(!shown.contains('\u{202e}'), "{args:?}: bidi override shown");
    }
    let case = String::from_utf8(k.run(&["case", "KL-2026-0001"]).stdout).unwrap();
    assert!(case.contains("factuurfdp.exe"), "{case}");
    assert!(
        case.contains("Jan Smit"),
        "the display name without its override"
    );
}

#[test]
fn report_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let k = Install::new();
    k.deliver(
        "1.eml",
        b"From: <jan@example.net>\r\nTo: info@example.org\r\nSubject: Klacht\r\nMessage-ID: <1@example.net>\r\n\r\nKlacht.\r\n",
    );
    k.run(&["run", "--once"]);
    for format in ["csv", "html", "md"] {
        // A directory klachtd makes for them is owner-only too (issue 21: it was 0755).
        let dir = format!("rapport/{format}");
        let out = k.run(&[
            "report", "--year", "2026", "--format", format, "--out", &dir,
        ]);
        let listed = String::from_utf8(out.stdout).unwrap();
        assert!(!listed.is_empty());
        for made in [dir.as_str(), "rapport"] {
            let mode = std::fs::metadata(k.dir.path().join(made))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o700, "{made}");
        }
        for path in listed.lines() {
            let mode = std::fs::metadata(k.dir.path().join(path))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{path}");
        }
    }
}

#[test]
fn clear_text_to_a_remote_server_is_refused() {
    let k = Install::new();
    let out = k
        .command()
        .args(["run", "--once"])
        .env("KLACHTD__OUTBOUND__KIND", "smtp")
        .env("KLACHTD__OUTBOUND__SMTP__HOST", "mail.example.org")
        .env("KLACHTD__OUTBOUND__SMTP__TLS", "none")
        .env("KLACHTD__OUTBOUND__SMTP__USERNAME", "info")
        .env("KLACHTD__OUTBOUND__SMTP__PASSWORD", "geheim")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("outbound.smtp.tls"), "{err}");
    assert!(!err.contains("geheim"));
}
