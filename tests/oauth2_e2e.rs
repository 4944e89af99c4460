//! OAuth2 logins against the real servers: Dovecot checks every XOAUTH2/OAUTHBEARER token with
//! the harness's token server (RFC 7662 introspection), and Postfix takes SMTP AUTH through
//! Dovecot's SASL. The passwords klachtd is given are wrong on purpose: only a token gets in.
//! Each token source logs in and processes a complaint; an access token that expires while the
//! daemon sits in IDLE is renewed; a revoked refresh token stops klachtd with a clear message.

mod common;

use common::klachtd::{Klachtd, PATIENCE, from_local};
use common::mailserver::MailServer;
use common::token_server::{CLIENT_ID, CLIENT_SECRET, TokenServer};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// klachtd's command with IMAP and SMTP switched to OAuth2 with `source`, and wrong passwords.
fn oauth2_command(k: &Klachtd<'_>, tokens: &TokenServer, source: &str) -> Command {
    let mut cmd = k.command();
    cmd.env("KLACHTD__INBOUND__IMAP__AUTH", "oauth2")
        .env("KLACHTD__INBOUND__IMAP__PASSWORD", "not-the-password")
        .env("KLACHTD__OUTBOUND__SMTP__AUTH", "oauth2")
        .env("KLACHTD__OUTBOUND__SMTP__PASSWORD", "not-the-password")
        .env("KLACHTD__OAUTH2__SOURCE", source)
        .env("KLACHTD__OAUTH2__TOKEN_URL", tokens.token_url())
        .env("KLACHTD__OAUTH2__CLIENT_ID", CLIENT_ID)
        .env("KLACHTD__OAUTH2__SCOPES", "https://mail.google.com/");
    cmd
}

/// A secret file as an administrator makes it: mode 0600 (klachtd refuses to start otherwise).
fn write_private(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn deliver_complaint(server: &MailServer, n: usize) {
    let mut raw = from_local(
        "01_klacht_workshop_geannuleerd_thunderbird_plain_utf8.eml",
        "complainant@example.org",
    );
    // A distinct Message-ID per complaint, so a second one is not a duplicate.
    let text = String::from_utf8(raw).unwrap();
    raw = text
        .replacen("Message-ID: <", &format!("Message-ID: <oauth{n}."), 1)
        .into_bytes();
    server.deliver(&raw, "complainant@example.org", &["info@example.org"]);
}

fn run_ok(mut cmd: Command) -> String {
    let out = cmd.args(["run", "--once"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "klachtd run --once failed:\n{stderr}");
    String::from_utf8(out.stdout).unwrap() + &stderr
}

fn dovecot_log(server: &MailServer) -> String {
    std::fs::read_to_string(server.state_dir.join("dovecot/dovecot.log")).unwrap()
}

fn assert_processed_with_tokens(server: &MailServer, k: &Klachtd<'_>, output: &str, method: &str) {
    assert!(output.contains("case_created: 1"), "{output}");
    assert_eq!(k.cases().len(), 1);
    let acks = server.wait_for_messages("complainant@example.org", 1, PATIENCE);
    assert_eq!(acks.len(), 1, "the acknowledgement went out over SMTP");
    let log = dovecot_log(server);
    assert!(
        log.contains(&format!("user=<info@example.org>, method={method}")),
        "IMAP login by {method}:\n{log}"
    );
    let smtp_log = std::fs::read_to_string(server.state_dir.join("postfix/postfix.log")).unwrap();
    assert!(
        smtp_log.contains("sasl_method=XOAUTH2, sasl_username=info@example.org"),
        "SMTP AUTH through Dovecot's SASL with XOAUTH2:\n{smtp_log}"
    );
    assert!(!shows_a_token(output), "no token in klachtd's output");
}

#[test]
fn client_credentials_log_in_to_imap_and_smtp_and_a_complaint_is_processed() {
    let tokens = TokenServer::start();
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    deliver_complaint(&server, 1);
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    let mut cmd = oauth2_command(&k, &tokens, "client_credentials");
    cmd.env("KLACHTD__OAUTH2__CLIENT_SECRET", CLIENT_SECRET);
    let output = run_ok(cmd);
    assert_processed_with_tokens(&server, &k, &output, "XOAUTH2");
    assert_eq!(
        tokens.stats()["issued"],
        1,
        "one token served IMAP and SMTP (cached, not fetched per login)"
    );
}

#[test]
fn a_wrong_client_secret_is_named_and_nothing_is_logged_in() {
    let tokens = TokenServer::start();
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let mut cmd = oauth2_command(&k, &tokens, "client_credentials");
    cmd.env("KLACHTD__OAUTH2__CLIENT_SECRET", "wrong-secret-value");
    let out = cmd.args(["run", "--once"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("refused oauth2.client_id klachtd-test or its secret"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong-secret-value"),
        "the secret is never shown"
    );
}

#[test]
fn a_refresh_token_logs_in_with_oauthbearer_and_is_rotated_in_its_file() {
    let tokens = TokenServer::start();
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("refresh-token");
    let first = tokens.issue_refresh_token();
    write_private(&file, &format!("{first}\n"));
    deliver_complaint(&server, 1);
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    let mut cmd = oauth2_command(&k, &tokens, "refresh_token");
    cmd.env("KLACHTD__OAUTH2__REFRESH_TOKEN_FILE", &file)
        .env("KLACHTD__OAUTH2__MECHANISM", "oauthbearer");
    let output = run_ok(cmd);
    assert_processed_with_tokens(&server, &k, &output, "OAUTHBEARER");

    let rotated = std::fs::read_to_string(&file).unwrap();
    assert!(rotated.starts_with("rt-") && rotated != first, "rotated");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The next run logs in with the rotated one (the first was spent by the rotation).
    deliver_complaint(&server, 2);
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    let mut cmd = oauth2_command(&k, &tokens, "refresh_token");
    cmd.env("KLACHTD__OAUTH2__REFRESH_TOKEN_FILE", &file);
    let output = run_ok(cmd);
    assert!(output.contains("case_created: 1"), "{output}");
    assert_eq!(tokens.stats()["refreshed"], 2);
}

#[test]
fn a_revoked_refresh_token_stops_klachtd_with_a_clear_message() {
    let tokens = TokenServer::start();
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("refresh-token");
    write_private(&file, &tokens.issue_refresh_token());
    tokens.revoke_all();
    let mut cmd = oauth2_command(&k, &tokens, "refresh_token");
    cmd.env("KLACHTD__OAUTH2__REFRESH_TOKEN_FILE", &file);
    let out = cmd.args(["run", "--once"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "the provider refused the refresh token in {}",
            file.display()
        )) && stderr.contains("revoked or has expired"),
        "{stderr}"
    );
}

#[test]
fn a_token_command_logs_in() {
    let tokens = TokenServer::start();
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, tokens.access_token()).unwrap();
    deliver_complaint(&server, 1);
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    let mut cmd = oauth2_command(&k, &tokens, "token_command");
    cmd.env(
        "KLACHTD__OAUTH2__TOKEN_COMMAND",
        format!("cat {}", token_file.display()),
    );
    let output = run_ok(cmd);
    assert_processed_with_tokens(&server, &k, &output, "XOAUTH2");
}

/// The daemon sits in IDLE; its token expires at the server, and the server then drops the
/// connection (as Exchange Online does when a token's life ends). klachtd's cached token is
/// refused on reconnecting: it renews it, logs in, and takes in and answers the next complaint.
#[test]
fn a_token_that_expires_during_idle_is_renewed_and_the_daemon_carries_on() {
    let tokens = TokenServer::start();
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let mut cmd = oauth2_command(&k, &tokens, "client_credentials");
    cmd.env("KLACHTD__OAUTH2__CLIENT_SECRET", CLIENT_SECRET)
        .env("KLACHTD__INBOUND__IMAP__RECONNECT_MAX_SECONDS", "1")
        .arg("run")
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    let wait_for = |needle: &str, log: &mut Vec<String>| loop {
        let line = rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("waiting for {needle:?}; log so far:\n{}", log.join("\n")));
        log.push(line.clone());
        if line.contains(needle) {
            return;
        }
    };
    wait_for("connected to IMAP", &mut log);

    tokens.expire_all();
    server.stop_dovecot();
    server.start_dovecot();
    wait_for("renewing it", &mut log);
    wait_for("connected to IMAP", &mut log);

    deliver_complaint(&server, 1);
    let acks = server.wait_for_messages("complainant@example.org", 1, PATIENCE);
    assert_eq!(acks.len(), 1, "the complaint was taken in and answered");
    let start = Instant::now();
    while k.cases().is_empty() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(k.cases().len(), 1);
    let stats = tokens.stats();
    assert!(stats["issued"].as_u64().unwrap() >= 2, "{stats}");
    assert!(stats["refused"].as_u64().unwrap() >= 1, "{stats}");

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "clean shutdown");
    let all = log.join("\n");
    assert!(!shows_a_token(&all), "no token in the log");
}

/// True if `text` holds something shaped like one of the token server's access tokens.
fn shows_a_token(text: &str) -> bool {
    text.match_indices("at-").any(|(i, _)| {
        text[i + 3..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
            .count()
            >= 24
    }) || text.contains("Bearer")
}

/// The SMTP server refuses the token klachtd holds (it expired at the provider): klachtd
/// renews it and the same mail goes out on the second login, once.
#[test]
fn a_token_refused_by_smtp_is_renewed_and_the_mail_sent_once() {
    let tokens = TokenServer::start();
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let (current, next) = (dir.path().join("current"), dir.path().join("next"));
    std::fs::write(&current, tokens.access_token()).unwrap();
    tokens.expire_all();
    std::fs::write(&next, tokens.access_token()).unwrap();
    deliver_complaint(&server, 1);
    server.wait_for_messages("info@example.org", 1, PATIENCE);
    // IMAP logs in with its password; SMTP with a token_command that hands out the expired
    // token first and the valid one after.
    let mut cmd = k.command();
    cmd.env("KLACHTD__OUTBOUND__SMTP__AUTH", "oauth2")
        .env("KLACHTD__OAUTH2__SOURCE", "token_command")
        .env(
            "KLACHTD__OAUTH2__TOKEN_COMMAND",
            format!(
                "cat {c}; cp {n} {c}",
                c = current.display(),
                n = next.display()
            ),
        );
    let output = run_ok(cmd);
    assert!(
        output.contains("the SMTP server refused the OAuth2 token; renewing it"),
        "{output}"
    );
    assert!(output.contains("case_created: 1"), "{output}");
    let acks = server.wait_for_messages("complainant@example.org", 1, PATIENCE);
    assert_eq!(acks.len(), 1, "sent once");
    assert!(!shows_a_token(&output));
}

/// The daemon's mailbox login is refused (the refresh token was revoked): it keeps running and
/// retrying, the log says why without "connection lost", `klachtd status` shows the refused
/// login, and the director gets the alert at once, by SMTP (which still works).
#[test]
fn a_revoked_refresh_token_in_the_daemon_alerts_the_director() {
    let tokens = TokenServer::start();
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("refresh-token");
    write_private(&file, &tokens.issue_refresh_token());
    tokens.revoke_all();
    // IMAP by the revoked token; SMTP still by password, so the alert can go out. A set-up in
    // place for longer than alerts.login_grace_minutes (here: no grace): alerted at once.
    let mut cmd = k.command();
    cmd.env("KLACHTD__ALERTS__LOGIN_GRACE_MINUTES", "0")
        .env("KLACHTD__INBOUND__IMAP__AUTH", "oauth2")
        .env("KLACHTD__OAUTH2__SOURCE", "refresh_token")
        .env("KLACHTD__OAUTH2__TOKEN_URL", tokens.token_url())
        .env("KLACHTD__OAUTH2__CLIENT_ID", CLIENT_ID)
        .env("KLACHTD__OAUTH2__REFRESH_TOKEN_FILE", &file)
        .arg("run")
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok);
    let refused = lines
        .find(|l| l.contains("refused the refresh token"))
        .expect("the daemon logs the refusal");
    assert!(
        refused.contains("cannot reach the IMAP server") && !refused.contains("connection lost"),
        "{refused}"
    );
    std::thread::spawn(move || for _ in lines {});
    let alerts = server.wait_for_messages("director@example.org", 1, PATIENCE);
    let alert = klachtd::inbound::InboundMail::parse(&alerts[0]).unwrap();
    assert_eq!(
        alert.subject,
        "Storing klachtenregistratie: de mailserver weigert de aanmelding voor de mailbox"
    );
    assert!(
        alert.text.contains("refused the refresh token"),
        "{}",
        alert.text
    );
    assert!(alert.text.contains("docs/oauth2.md"));
    let status = String::from_utf8(k.run(&["status"]).stdout).unwrap();
    assert!(
        status.contains("mailbox       FAILING since")
            && status.contains("(login refused)")
            && status.contains("alert         inbound failing since"),
        "{status}"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
    assert_eq!(
        server.fetch_all("director@example.org").len(),
        1,
        "one alert, however often the daemon retried"
    );
}

/// The provider's token service is down, so Dovecot cannot check the token: its
/// `NO [UNAVAILABLE]` is a temporary failure, not a refused login (no alert at once).
#[test]
fn a_server_that_cannot_check_the_token_is_a_temporary_failure_not_a_refusal() {
    let tokens = TokenServer::start();
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write_private(&token_file, &tokens.access_token());
    drop(tokens);
    let mut cmd = k.command();
    cmd.env("KLACHTD__INBOUND__IMAP__AUTH", "oauth2")
        .env("KLACHTD__OAUTH2__SOURCE", "token_command")
        .env(
            "KLACHTD__OAUTH2__TOKEN_COMMAND",
            format!("cat {}", token_file.display()),
        );
    let out = cmd.args(["run", "--once"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("the IMAP server cannot check logins now")
            && stderr.contains("[UNAVAILABLE]"),
        "{stderr}"
    );
    assert!(!stderr.contains("refused"), "{stderr}");
}
