//! `klachtd check` against the real servers of the harness (Dovecot IMAP, Postfix SMTP): all
//! green with a good configuration, and the failing step named — with its fix — for a wrong
//! password, an untrusted certificate, and a refused token; `--send-test` mail arrives.

mod common;

use common::klachtd::{Klachtd, PATIENCE};
use common::mailserver::MailServer;
use common::token_server::{CLIENT_ID, CLIENT_SECRET, TokenServer};
use std::process::Command;

fn check(mut cmd: Command, extra: &[&str]) -> (bool, String) {
    let out = cmd.arg("check").args(extra).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn check_passes_against_the_real_servers_and_the_test_mail_arrives() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let (ok, text) = check(k.command(), &["--send-test", "complainant@example.org"]);
    assert!(ok, "{text}");
    for line in [
        "✔ IMAP DNS: 127.0.0.1 is 127.0.0.1",
        &format!(
            "✔ IMAP TCP: 127.0.0.1:{} accepts connections",
            server.imaps_port
        ),
        "✔ IMAP TLS: implicit TLS, certificate valid",
        "✔ IMAP login: as info@example.org (password)",
        "✔ IMAP folder: INBOX exists",
        "✔ IMAP folder: Verwerkt exists",
        "✔ IMAP folder: Quarantaine exists",
        "✔ IMAP IDLE: supported",
        "✔ SMTP TLS: STARTTLS, certificate valid",
        "✔ SMTP login: as info@example.org (password)",
        "✔ SMTP sender: the server takes mail from info@example.org",
        "✔ test mail: sent to complainant@example.org",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    assert!(!text.contains('✘'), "{text}");
    let mail = server.wait_for_messages("complainant@example.org", 1, PATIENCE);
    let parsed = klachtd::inbound::InboundMail::parse(&mail[0]).unwrap();
    assert!(
        parsed
            .subject
            .starts_with("Testbericht van de klachtenregistratie"),
        "{}",
        parsed.subject
    );
}

#[test]
fn check_names_a_refused_login_and_an_untrusted_certificate_with_their_fixes() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let mut cmd = k.command();
    cmd.env("KLACHTD__INBOUND__IMAP__PASSWORD", "wrong")
        .env("KLACHTD__OUTBOUND__SMTP__PASSWORD", "wrong");
    let (ok, text) = check(cmd, &[]);
    assert!(!ok);
    assert!(text.contains("✔ IMAP TLS"), "{text}");
    assert!(
        text.contains("✘ IMAP login: the IMAP server refused the login as info@example.org")
            && text.contains("— fix: correct the credentials (inbound.imap.password"),
        "{text}"
    );
    assert!(
        text.contains("✘ SMTP login: login refused: ")
            && text.contains("— fix: correct the credentials (outbound.smtp.password"),
        "{text}"
    );
    assert!(
        !text.contains("wrong"),
        "the password is never shown: {text}"
    );

    let mut cmd = k.command();
    cmd.env("KLACHTD__INBOUND__IMAP__FOLDER", "Klachtenbak");
    let (ok, text) = check(cmd, &[]);
    assert!(!ok);
    assert!(
        text.contains("✘ IMAP folder: Klachtenbak cannot be opened")
            && text.contains("set inbound.imap.folder to an existing folder"),
        "{text}"
    );

    let mut cmd = k.command();
    cmd.env_remove("KLACHTD__INBOUND__IMAP__CA_FILE")
        .env_remove("KLACHTD__OUTBOUND__SMTP__CA_FILE");
    let (ok, text) = check(cmd, &[]);
    assert!(!ok);
    assert!(
        text.contains("✘ IMAP TLS:") && text.contains("set inbound.imap.ca_file"),
        "{text}"
    );
    assert!(
        text.contains("✘ SMTP TLS:") && text.contains("set outbound.smtp.ca_file"),
        "{text}"
    );
}

#[test]
fn check_logs_in_with_oauth2_and_names_a_refused_client() {
    let tokens = TokenServer::start();
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let oauth2 = |secret: &str| {
        let mut cmd = k.command();
        cmd.env("KLACHTD__INBOUND__IMAP__AUTH", "oauth2")
            .env("KLACHTD__OUTBOUND__SMTP__AUTH", "oauth2")
            .env("KLACHTD__OAUTH2__TOKEN_URL", tokens.token_url())
            .env("KLACHTD__OAUTH2__CLIENT_ID", CLIENT_ID)
            .env("KLACHTD__OAUTH2__CLIENT_SECRET", secret)
            .env(
                "KLACHTD__OAUTH2__SCOPES",
                "https://outlook.office365.com/.default",
            );
        cmd
    };
    let (ok, text) = check(oauth2(CLIENT_SECRET), &[]);
    assert!(ok, "{text}");
    assert!(
        text.contains("✔ IMAP login: as info@example.org (oauth2)"),
        "{text}"
    );
    assert!(
        text.contains("✔ SMTP login: as info@example.org (oauth2)"),
        "{text}"
    );
    let (ok, text) = check(oauth2("not-it"), &[]);
    assert!(!ok);
    assert!(
        text.contains("✘ OAuth2 token: the provider refused oauth2.client_id klachtd-test"),
        "{text}"
    );
    assert!(
        text.contains("✘ IMAP login: no OAuth2 token to log in with (see the OAuth2 token line)")
            && text.contains("✘ SMTP login: no OAuth2 token to log in with"),
        "{text}"
    );
}
