//! Microsoft 365 and Google Workspace as klachtd meets them (issue 24), against the harness's
//! token server playing both providers and a real Dovecot and Postfix checking every token:
//! a certificate credential (client assertion) and a Google service account (JWT bearer grant,
//! domain-wide delegation) as sources; `klachtd oauth2 login` by device code (Microsoft) and by
//! browser with the loopback redirect or a pasted address (Google) — each ending in a real IMAP
//! and SMTP login; the providers' refusals (AADSTS codes, `invalid_grant`, `unauthorized_client`)
//! turned into the sentences `klachtd check` prints; a permission "not yet active" told apart
//! from one never granted; and the daemon's alert waiting out the grace after a change.
//! Keys and certificates are made with openssl at test time.

mod common;

use common::klachtd::{Klachtd, PATIENCE, from_local};
use common::mailserver::MailServer;
use common::token_server::{CLIENT_ID, CLIENT_SECRET, TestKeys, TokenServer};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

const MS_SCOPES: &str = "https://outlook.office.com/IMAP.AccessAsUser.All,https://outlook.office.com/SMTP.Send,offline_access";

/// klachtd with IMAP and SMTP logging in with OAuth2 (the passwords it has are wrong on purpose).
fn oauth2(k: &Klachtd<'_>, source: &str) -> Command {
    let mut cmd = k.command();
    cmd.env("KLACHTD__INBOUND__IMAP__AUTH", "oauth2")
        .env("KLACHTD__INBOUND__IMAP__PASSWORD", "not-the-password")
        .env("KLACHTD__OUTBOUND__SMTP__AUTH", "oauth2")
        .env("KLACHTD__OUTBOUND__SMTP__PASSWORD", "not-the-password")
        .env("KLACHTD__OAUTH2__SOURCE", source);
    cmd
}

fn deliver_complaint(server: &MailServer, n: usize) {
    let raw = from_local(
        "01_klacht_workshop_geannuleerd_thunderbird_plain_utf8.eml",
        "complainant@example.org",
    );
    let text = String::from_utf8(raw).unwrap();
    let raw = text.replacen("Message-ID: <", &format!("Message-ID: <prov{n}."), 1);
    server.deliver(
        raw.as_bytes(),
        "complainant@example.org",
        &["info@example.org"],
    );
    server.wait_for_messages("info@example.org", 1, PATIENCE);
}

/// `run --once` succeeds, takes the complaint in, answers it over SMTP, and both logins were
/// token logins (Dovecot's and Postfix's logs say so).
fn processes_a_complaint_with_tokens(server: &MailServer, k: &Klachtd<'_>, mut cmd: Command) {
    let out = cmd.args(["run", "--once"]).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("case_created: 1"), "{text}");
    assert_eq!(k.cases().len(), 1);
    let acks = server.wait_for_messages("complainant@example.org", 1, PATIENCE);
    assert_eq!(acks.len(), 1, "the acknowledgement went out over SMTP");
    let imap_log = std::fs::read_to_string(server.state_dir.join("dovecot/dovecot.log")).unwrap();
    assert!(
        imap_log.contains("user=<info@example.org>, method=XOAUTH2"),
        "{imap_log}"
    );
    let smtp_log = std::fs::read_to_string(server.state_dir.join("postfix/postfix.log")).unwrap();
    assert!(
        smtp_log.contains("sasl_method=XOAUTH2, sasl_username=info@example.org"),
        "{smtp_log}"
    );
    assert!(
        !shows_a_token(&text),
        "no token in klachtd's output: {text}"
    );
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

fn check(mut cmd: Command) -> (bool, String) {
    let out = cmd.arg("check").output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// The line of `klachtd check` that starts with `prefix`.
fn line<'t>(text: &'t str, prefix: &str) -> &'t str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{text}"))
}

#[test]
fn a_microsoft_certificate_credential_logs_in_to_imap_and_smtp() {
    let keys = TestKeys::new();
    let cert = keys.cert().display().to_string();
    let tokens = TokenServer::start_with(&["--client-cert", &cert, "--jwt-tokens"]);
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let token_url = tokens.ms_token_url(TokenServer::TENANT);
    let configured = || {
        let mut cmd = oauth2(&k, "client_certificate");
        cmd.env("KLACHTD__OAUTH2__TOKEN_URL", &token_url)
            .env("KLACHTD__OAUTH2__CLIENT_ID", CLIENT_ID)
            .env("KLACHTD__OAUTH2__CERTIFICATE_FILE", keys.cert())
            .env("KLACHTD__OAUTH2__PRIVATE_KEY_FILE", keys.key())
            .env(
                "KLACHTD__OAUTH2__SCOPES",
                "https://outlook.office365.com/.default",
            );
        cmd
    };
    let (ok, text) = check(configured());
    assert!(ok, "{text}");
    assert!(
        line(&text, "✔ OAuth2 certificate").contains("SHA-1 thumbprint"),
        "{text}"
    );
    let token = line(&text, "✔ OAuth2 token");
    assert!(
        token.contains(&format!("tenant {}", TokenServer::TENANT))
            && token.contains("permissions IMAP.AccessAsApp SMTP.SendAsApp"),
        "{token}"
    );
    // The assertion as Microsoft documents it: PS256 with the certificate's SHA-256 thumbprint;
    // aud the token endpoint, iss = sub = the client id, ten minutes valid.
    let a = tokens.last_assertion();
    assert_eq!(a["header"]["alg"], "PS256");
    assert!(
        a["header"]["x5t#S256"]
            .as_str()
            .is_some_and(|t| t.len() == 43),
        "{a}"
    );
    assert_eq!(a["claims"]["aud"], token_url.as_str());
    assert_eq!(a["claims"]["iss"], CLIENT_ID);
    assert_eq!(a["claims"]["sub"], CLIENT_ID);
    assert_eq!(
        a["claims"]["exp"].as_i64().unwrap() - a["claims"]["nbf"].as_i64().unwrap(),
        600
    );

    deliver_complaint(&server, 1);
    processes_a_complaint_with_tokens(&server, &k, configured());

    // Another certificate's key: named before any request, with the thumbprint to compare.
    let other = TestKeys::new();
    let mut cmd = configured();
    cmd.env("KLACHTD__OAUTH2__PRIVATE_KEY_FILE", other.key());
    let (ok, text) = check(cmd);
    assert!(!ok);
    assert!(
        line(&text, "✘ OAuth2 certificate").contains("is not the key of oauth2.certificate_file"),
        "{text}"
    );
    // A certificate the app does not know: Microsoft's AADSTS700027, and what to upload.
    let mut cmd = configured();
    cmd.env("KLACHTD__OAUTH2__CERTIFICATE_FILE", other.cert())
        .env("KLACHTD__OAUTH2__PRIVATE_KEY_FILE", other.key());
    let (ok, text) = check(cmd);
    assert!(!ok);
    let refused = line(&text, "✘ OAuth2 token");
    assert!(
        refused.contains("AADSTS700027")
            && refused.contains("Certificates & secrets → Certificates"),
        "{text}"
    );
}

#[test]
fn a_google_service_account_logs_in_once_domain_wide_delegation_is_granted() {
    let keys = TestKeys::new();
    let public = keys.public().display().to_string();
    let email = "klachtd@klachtd-test.iam.gserviceaccount.com";
    let tokens = TokenServer::start_with(&["--sa-public-key", &public, "--sa-email", email]);
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let key_file = keys.service_account_file(email, &tokens.token_url());
    let configured = || {
        let mut cmd = oauth2(&k, "service_account");
        cmd.env("KLACHTD__OAUTH2__SERVICE_ACCOUNT_KEY_FILE", &key_file)
            .env("KLACHTD__OAUTH2__SCOPES", "https://mail.google.com/");
        cmd
    };
    // No delegation yet: Google's unauthorized_client, named with where to grant it.
    let (ok, text) = check(configured());
    assert!(!ok);
    assert!(
        line(&text, "✔ OAuth2 service account")
            .contains(&format!("{email} acts as info@example.org")),
        "{text}"
    );
    let refused = line(&text, "✘ OAuth2 token");
    assert!(
        refused.contains("Google has no domain-wide delegation")
            && refused.contains("unauthorized_client: Client is unauthorized")
            && refused.contains("Manage Domain Wide Delegation"),
        "{text}"
    );
    // A mailbox that is no user of the Workspace.
    let mut cmd = configured();
    cmd.env("KLACHTD__OAUTH2__IMPERSONATE", "nobody@example.org");
    tokens.delegate("https://mail.google.com/");
    let (_, text) = check(cmd);
    assert!(
        line(&text, "✘ OAuth2 token").contains("Google knows no Workspace user nobody@example.org"),
        "{text}"
    );

    deliver_complaint(&server, 1);
    processes_a_complaint_with_tokens(&server, &k, configured());
    let a = tokens.last_assertion();
    assert_eq!(a["header"]["alg"], "RS256");
    assert_eq!(a["header"]["kid"], "test-key-1");
    assert_eq!(a["claims"]["iss"], email);
    assert_eq!(a["claims"]["sub"], "info@example.org");
    assert_eq!(a["claims"]["scope"], "https://mail.google.com/");
    assert_eq!(
        a["claims"]["exp"].as_i64().unwrap() - a["claims"]["iat"].as_i64().unwrap(),
        3600
    );

    // The key file readable by others: klachtd refuses to start, naming the chmod.
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = configured().args(["run", "--once"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("chmod 600 {}", key_file.display())),
        "{stderr}"
    );
}

/// Spawns `klachtd oauth2 login` and returns it with a reader of its output lines.
fn login(mut cmd: Command) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = cmd
        .args(["oauth2", "login"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    (child, rx)
}

fn wait_for_line(rx: &std::sync::mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        let l = rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("klachtd oauth2 login never printed {needle:?}"));
        if l.contains(needle) {
            return l;
        }
    }
}

/// Waits for the command to end: whether it succeeded, the rest of its output, its errors.
fn finish(
    child: std::process::Child,
    rx: std::sync::mpsc::Receiver<String>,
) -> (bool, String, String) {
    let out = child.wait_with_output().unwrap();
    let rest: Vec<String> = rx.iter().collect();
    (
        out.status.success(),
        rest.join("\n"),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn microsofts_device_code_login_stores_a_refresh_token_that_logs_in() {
    let tokens = TokenServer::start_with(&["--jwt-tokens"]);
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oauth2-refresh-token");
    let configured = || {
        let mut cmd = oauth2(&k, "refresh_token");
        cmd.env(
            "KLACHTD__OAUTH2__TOKEN_URL",
            tokens.ms_token_url(TokenServer::TENANT),
        )
        .env(
            "KLACHTD__OAUTH2__DEVICE_CODE_URL",
            tokens.ms_device_code_url(TokenServer::TENANT),
        )
        .env("KLACHTD__OAUTH2__CLIENT_ID", CLIENT_ID)
        .env("KLACHTD__OAUTH2__SCOPES", MS_SCOPES)
        .env("KLACHTD__OAUTH2__REFRESH_TOKEN_FILE", &file);
        cmd
    };
    let (child, rx) = login(configured());
    let prompt = wait_for_line(&rx, "enter the code");
    assert!(
        prompt.starts_with(
            "To sign in as info@example.org, open https://microsoft.com/devicelogin in a browser"
        ),
        "{prompt}"
    );
    // The administrator signs in on another device.
    tokens.approve_device("info@example.org");
    let (ok, all, stderr) = finish(child, rx);
    assert!(ok, "{all}\n{stderr}");
    assert!(
        all.contains("Signed in as info@example.org. Granted: https://outlook.office.com/IMAP.AccessAsUser.All, https://outlook.office.com/SMTP.Send."),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "The refresh token is stored in {} (mode 0600)",
            file.display()
        )),
        "{all}"
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (ok, text) = check(configured());
    assert!(ok, "{text}");
    assert!(
        line(&text, "✔ OAuth2 token").contains("permissions IMAP.AccessAsUser.All SMTP.Send"),
        "{text}"
    );
    deliver_complaint(&server, 1);
    processes_a_complaint_with_tokens(&server, &k, configured());
}

#[test]
fn a_sign_in_without_a_permission_names_it_and_stores_nothing() {
    let tokens = TokenServer::start_with(&[
        "--grant-scopes",
        "https://outlook.office.com/IMAP.AccessAsUser.All offline_access",
    ]);
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oauth2-refresh-token");
    let mut cmd = oauth2(&k, "refresh_token");
    cmd.env(
        "KLACHTD__OAUTH2__TOKEN_URL",
        tokens.ms_token_url(TokenServer::TENANT),
    )
    .env("KLACHTD__OAUTH2__CLIENT_ID", CLIENT_ID)
    .env("KLACHTD__OAUTH2__SCOPES", MS_SCOPES)
    .env("KLACHTD__OAUTH2__REFRESH_TOKEN_FILE", &file);
    // No oauth2.device_code_url: klachtd takes the token endpoint's sibling, as Microsoft's are.
    let (child, rx) = login(cmd);
    wait_for_line(&rx, "enter the code");
    tokens.approve_device("info@example.org");
    let (ok, _, stderr) = finish(child, rx);
    assert!(!ok);
    assert!(
        stderr.contains("the sign-in did not grant https://outlook.office.com/SMTP.Send")
            && stderr.contains("nothing was stored")
            && stderr.contains("Delegated: IMAP.AccessAsUser.All, SMTP.Send"),
        "{stderr}"
    );
    assert!(!file.exists());
}

#[test]
fn googles_browser_login_takes_the_loopback_redirect_or_a_pasted_address() {
    let tokens = TokenServer::start();
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oauth2-refresh-token");
    let configured = || {
        let mut cmd = oauth2(&k, "refresh_token");
        cmd.env("KLACHTD__OAUTH2__TOKEN_URL", tokens.token_url())
            .env(
                "KLACHTD__OAUTH2__AUTHORIZE_URL",
                format!("{}/authorize", tokens.url()),
            )
            .env("KLACHTD__OAUTH2__CLIENT_ID", CLIENT_ID)
            .env("KLACHTD__OAUTH2__CLIENT_SECRET", CLIENT_SECRET)
            .env("KLACHTD__OAUTH2__SCOPES", "https://mail.google.com/")
            .env("KLACHTD__OAUTH2__REFRESH_TOKEN_FILE", &file);
        cmd
    };
    // The browser on this machine: Google's redirect reaches klachtd's listener.
    let (child, rx) = login(configured());
    let address = wait_for_line(&rx, "/authorize?").trim().to_string();
    assert!(
        address.contains("code_challenge_method=S256")
            && address.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A")
            && address.contains("login_hint=info%40example.org"),
        "{address}"
    );
    let redirect = tokens.follow(&address);
    let port: u16 = redirect
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let page =
        common::token_server::raw_http(port, "GET", &redirect[redirect.find("/?").unwrap()..]);
    assert!(page.contains("You can close this window"), "{page}");
    let (ok, stdout, stderr) = finish(child, rx);
    assert!(ok, "{stdout}\n{stderr}");
    let first = std::fs::read_to_string(&file).unwrap();
    assert!(first.starts_with("rt-"));

    // The browser on another machine: the address it could not open is pasted instead.
    let (mut child, rx) = login(configured());
    let address = wait_for_line(&rx, "/authorize?").trim().to_string();
    wait_for_line(&rx, "paste it here");
    let redirect = tokens.follow(&address);
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{redirect}").unwrap();
    let (ok, stdout, stderr) = finish(child, rx);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Signed in as info@example.org. Granted: https://mail.google.com/."),
        "{stdout}"
    );
    let second = std::fs::read_to_string(&file).unwrap();
    assert_ne!(second, first, "the new token replaced it");

    // Signed in with another Google account than the mailbox: refused, nothing stored.
    let (child, rx) = login(configured());
    let address = wait_for_line(&rx, "/authorize?").trim().to_string();
    let other = address.replace(
        "login_hint=info%40example.org",
        "login_hint=anna%40example.org",
    );
    let redirect = tokens.follow(&other);
    let port: u16 = redirect
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    common::token_server::raw_http(port, "GET", &redirect[redirect.find("/?").unwrap()..]);
    let (ok, _, stderr) = finish(child, rx);
    assert!(!ok);
    assert!(
        stderr.contains("you signed in as anna@example.org, not as info@example.org")
            && stderr.contains("nothing was stored"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), second);

    deliver_complaint(&server, 1);
    processes_a_complaint_with_tokens(&server, &k, configured());
}

/// The mistakes a first installation makes at Microsoft, each named in Microsoft's words with
/// its fix: the `common` endpoint, another tenant, another app id, the secret's ID for its value.
#[test]
fn microsofts_refusals_become_sentences_with_their_fix() {
    let tokens = TokenServer::start_with(&["--jwt-tokens"]);
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let app_only = |tenant: &str, client: &str, secret: &str| {
        let mut cmd = oauth2(&k, "client_credentials");
        cmd.env("KLACHTD__OAUTH2__TOKEN_URL", tokens.ms_token_url(tenant))
            .env("KLACHTD__OAUTH2__CLIENT_ID", client)
            .env("KLACHTD__OAUTH2__CLIENT_SECRET", secret)
            .env(
                "KLACHTD__OAUTH2__SCOPES",
                "https://outlook.office365.com/.default",
            );
        cmd
    };
    let (ok, text) = check(app_only(TokenServer::TENANT, CLIENT_ID, CLIENT_SECRET));
    assert!(ok, "{text}");
    for (tenant, client, secret, expected) in [
        (
            "common",
            CLIENT_ID,
            CLIENT_SECRET,
            "Microsoft refused the \"common\" or multi-tenant endpoint for this app (invalid_request: AADSTS50194",
        ),
        (
            "99999999-0000-4000-8000-000000000009",
            CLIENT_ID,
            CLIENT_SECRET,
            "Microsoft knows no tenant by the name in oauth2.token_url (invalid_request: AADSTS90002",
        ),
        (
            TokenServer::TENANT,
            "not-our-app",
            CLIENT_SECRET,
            "Microsoft knows no app with oauth2.client_id not-our-app in this tenant (unauthorized_client: AADSTS700016",
        ),
        (
            TokenServer::TENANT,
            CLIENT_ID,
            "4c9a1b2e-secret-id-not-value",
            "Microsoft refused the client secret (invalid_client: AADSTS7000215",
        ),
    ] {
        let (ok, text) = check(app_only(tenant, client, secret));
        assert!(!ok);
        let refused = line(&text, "✘ OAuth2 token");
        assert!(refused.contains(expected), "{expected}\n{text}");
        assert!(refused.contains("— fix: "), "{refused}");
        assert!(
            !text.contains("4c9a1b2e-secret"),
            "the secret is never shown"
        );
        assert!(
            line(&text, "✘ IMAP login").contains("no OAuth2 token to log in with"),
            "{text}"
        );
    }
    // The common endpoint is named from the configuration alone, before Microsoft answers.
    let (_, text) = check(app_only("common", CLIENT_ID, CLIENT_SECRET));
    assert!(
        line(&text, "✘ OAuth2 settings").contains("uses the \"common\" endpoint"),
        "{text}"
    );
    // A token of another tenant and app (from a helper with its own registration): named from
    // the token's claims.
    let helper_token = tokens.access_token();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &helper_token).unwrap();
    let mut cmd = oauth2(&k, "token_command");
    cmd.env(
        "KLACHTD__OAUTH2__TOKEN_COMMAND",
        format!("cat {}", token_file.display()),
    )
    .env(
        "KLACHTD__OAUTH2__TOKEN_URL",
        "https://login.microsoftonline.com/11111111-2222-4333-8444-555555555555/oauth2/v2.0/token",
    )
    .env("KLACHTD__OAUTH2__CLIENT_ID", "our-own-app");
    let (ok, text) = check(cmd);
    assert!(!ok);
    assert!(
        text.contains(&format!(
            "✘ OAuth2 token: the token is of tenant {}, oauth2.token_url names tenant 11111111-2222-4333-8444-555555555555",
            TokenServer::TENANT
        )) && text.contains("✘ OAuth2 token: the token was issued to app klachtd-test, not to oauth2.client_id our-own-app"),
        "{text}"
    );
}

/// A token the servers refuse while everything klachtd can see is right: within the grace after
/// the set-up changed it is "not yet active" (wait, then check again); later, the list of
/// provider-side settings that each give this answer, with how to check each.
#[test]
fn a_permission_just_granted_is_not_yet_active_and_later_named_as_missing() {
    let tokens = TokenServer::start_with(&["--jwt-tokens"]);
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("klachtd.toml");
    std::fs::write(
        &config,
        format!(
            "[inbound.imap]\nauth = \"oauth2\"\n\n[outbound.smtp]\nauth = \"oauth2\"\n\n[oauth2]\nsource = \"client_credentials\"\ntoken_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\nscopes = [\"https://outlook.office365.com/.default\"]\n",
            tokens.ms_token_url(TokenServer::TENANT)
        ),
    )
    .unwrap();
    // Exchange has not applied the service principal's mailbox permission yet.
    tokens.introspection(false);
    let checked = || {
        let mut cmd = k.command();
        cmd.arg("--config").arg(&config);
        check(cmd)
    };
    let (ok, text) = checked();
    assert!(!ok);
    assert!(
        line(&text, "✔ OAuth2 token").contains("IMAP.AccessAsApp"),
        "{text}"
    );
    let imap = line(&text, "✘ IMAP login");
    assert!(
        imap.contains("the set-up changed 0 minute(s) ago")
            && imap.contains("30 minutes to 2 hours, says Microsoft")
            && imap.contains("— fix: wait about 120 more minute(s), then `klachtd check` again"),
        "{text}"
    );
    assert!(line(&text, "✘ SMTP login").contains("wait about"), "{text}");
    // Three hours later, still refused: not a delay any more — the settings to look at.
    let status = Command::new("touch")
        .args(["-d", "3 hours ago"])
        .arg(&config)
        .status()
        .unwrap();
    assert!(status.success());
    let (ok, text) = checked();
    assert!(!ok);
    let imap = line(&text, "✘ IMAP login");
    assert!(
        imap.contains("refused a fresh token for info@example.org and names no cause")
            && imap.contains("New-ServicePrincipal -AppId <client id> -ObjectId <enterprise application object ID>")
            && imap.contains("-AccessRights FullAccess")
            && imap.contains("ImapEnabled"),
        "{imap}"
    );
    assert!(
        line(&text, "✘ SMTP login").contains("SmtpClientAuthenticationDisabled"),
        "{text}"
    );
    // Once Exchange has applied it, everything passes.
    tokens.introspection(true);
    let (ok, text) = checked();
    assert!(ok, "{text}");
}

/// The daemon started on a new set-up whose login is refused: it does not alert the director at
/// once (the provider may still be applying the permissions); `klachtd status` says when it will.
/// The same refusal on a set-up unchanged for longer than the grace is alerted at once.
#[test]
fn a_refused_login_right_after_a_change_waits_out_the_grace_before_the_alert() {
    let tokens = TokenServer::start();
    let server = MailServer::start_with_oauth2(&tokens.url());
    let k = Klachtd::new(&server);
    tokens.introspection(false);
    let daemon = || {
        // IMAP by token (refused), SMTP by password (so the alert can go out).
        let mut cmd = k.command();
        cmd.env("KLACHTD__INBOUND__IMAP__AUTH", "oauth2")
            .env("KLACHTD__OAUTH2__SOURCE", "client_credentials")
            .env("KLACHTD__OAUTH2__TOKEN_URL", tokens.token_url())
            .env("KLACHTD__OAUTH2__CLIENT_ID", CLIENT_ID)
            .env("KLACHTD__OAUTH2__CLIENT_SECRET", CLIENT_SECRET)
            .env("KLACHTD__OAUTH2__SCOPES", "https://mail.google.com/")
            .env("KLACHTD__INBOUND__IMAP__RECONNECT_MAX_SECONDS", "1")
            .args(["run"])
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let lines = BufReader::new(child.stderr.take().unwrap())
            .lines()
            .map_while(Result::ok);
        (child, lines)
    };
    let stop = |mut child: std::process::Child| {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        assert!(child.wait().unwrap().success());
    };
    let (child, mut lines) = daemon();
    let waiting = lines
        .find(|l| l.contains("the director is alerted at"))
        .expect("the daemon says the alert waits");
    assert!(
        waiting.contains("login settings changed less than"),
        "{waiting}"
    );
    let status = String::from_utf8(k.run(&["status"]).stdout).unwrap();
    assert!(
        status.contains("(login refused)")
            && status.contains("alert         inbound login refused: the login settings changed recently, so the director is told at"),
        "{status}"
    );
    stop(child);
    assert!(
        server.fetch_all("director@example.org").is_empty(),
        "no alert yet"
    );

    // The same set-up, first seen long ago: the refusal is alerted at once.
    let conn = rusqlite::Connection::open(k.db()).unwrap();
    conn.execute("UPDATE login_setup SET since = '2020-01-01T00:00:00Z'", [])
        .unwrap();
    drop(conn);
    let (child, lines) = daemon();
    std::thread::spawn(move || for _ in lines {});
    let alerts = server.wait_for_messages("director@example.org", 1, PATIENCE);
    let alert = klachtd::inbound::InboundMail::parse(&alerts[0]).unwrap();
    assert_eq!(
        alert.subject,
        "Storing klachtenregistratie: de mailserver weigert de aanmelding voor de mailbox"
    );
    stop(child);
}
