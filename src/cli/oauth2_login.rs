//! `klachtd oauth2 login`: signs in once as the mailbox (delegated access) with klachtd's own
//! app registration and stores the refresh token where `oauth2.refresh_token_file` says (0600).
//! Microsoft 365: the device-code flow (RFC 8628) at the tenant's endpoint — a code to enter at
//! microsoft.com/devicelogin on any device. Google: the installed-app flow with a loopback
//! redirect and PKCE (RFC 8252, RFC 7636), where the browser's answer reaches klachtd's
//! listener on 127.0.0.1 — or, when the browser runs on another machine, its address is pasted
//! here (Google ended the copy-the-code "out-of-band" flow in 2022–2023). The scopes granted are
//! checked before anything is stored.

use crate::auth::diagnose;
use crate::auth::grants::{self, Poll};
use crate::auth::http::{TokenAnswer, form_encode, parse_query};
use crate::auth::jwt;
use crate::settings::{OAuth2, Settings, TokenSourceKind};
use anyhow::Context;
use base64::Engine;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

/// The command line's choices.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The loopback port for the browser flow (0: any free one).
    pub port: u16,
}

/// Which sign-in the configuration leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    DeviceCode { url: String },
    Browser { url: String },
}

/// The device-code endpoint: `oauth2.device_code_url`, or the Microsoft token endpoint's sibling.
/// The authorization endpoint: `oauth2.authorize_url`, or Google's for Google's token endpoint.
pub fn flow(o: &OAuth2) -> anyhow::Result<Flow> {
    if !o.device_code_url.trim().is_empty() {
        return Ok(Flow::DeviceCode {
            url: o.device_code_url.trim().to_string(),
        });
    }
    if !o.authorize_url.trim().is_empty() {
        return Ok(Flow::Browser {
            url: o.authorize_url.trim().to_string(),
        });
    }
    let token = o.token_url.trim();
    if diagnose::microsoft_tenant(token).is_some()
        && let Some(base) = token.strip_suffix("/token")
    {
        return Ok(Flow::DeviceCode {
            url: format!("{base}/devicecode"),
        });
    }
    if token.starts_with("https://oauth2.googleapis.com/") {
        return Ok(Flow::Browser {
            url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
        });
    }
    anyhow::bail!(
        "klachtd cannot tell which sign-in {token:?} takes: set oauth2.device_code_url \
         (Microsoft: https://login.microsoftonline.com/<tenant id>/oauth2/v2.0/devicecode) or \
         oauth2.authorize_url (Google: https://accounts.google.com/o/oauth2/v2/auth)"
    )
}

/// Runs the sign-in: instructions to `out`, a pasted address read from `input`.
pub fn run(
    settings: &Settings,
    options: &Options,
    input: Box<dyn BufRead + Send>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let o = &settings.oauth2;
    if settings.oauth2_mailbox().is_none() {
        anyhow::bail!(
            "no server logs in with OAuth2: set auth = \"oauth2\" in [inbound.imap] and/or \
             [outbound.smtp] first (docs/oauth2.md)"
        );
    }
    if o.source != TokenSourceKind::RefreshToken {
        anyhow::bail!(
            "`klachtd oauth2 login` is for delegated access (oauth2.source = \"refresh_token\"); \
             oauth2.source = \"{}\" needs no sign-in: run `klachtd check`",
            crate::auth::source_name(o.source)
        );
    }
    if let Some(f) = diagnose::configuration(o).into_iter().next() {
        anyhow::bail!("{f}");
    }
    let file = o
        .refresh_token_file
        .clone()
        .context("oauth2.refresh_token_file: where to store the refresh token")?;
    // Where the token goes must take it, before anyone signs in.
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !dir.is_dir() {
        anyhow::bail!(
            "{} (the directory of oauth2.refresh_token_file) does not exist: create it for \
             klachtd's user first, e.g. install -d -o klachtd -m 700 {}",
            dir.display(),
            dir.display()
        );
    }
    let mailbox = settings.oauth2_mailbox().unwrap_or_default();
    let flow = flow(o)?;
    let answer = match &flow {
        Flow::DeviceCode { url } => device_code(o, url, &mailbox, out)?,
        Flow::Browser { url } => browser(o, url, &mailbox, options, input, out)?,
    };
    let refresh = answer.refresh_token.clone().with_context(|| {
        format!(
            "the provider gave no refresh token{}; nothing was stored",
            if o.scopes.iter().any(|s| s == "offline_access") || o.token_url.contains("google") {
                ""
            } else {
                ": add \"offline_access\" to oauth2.scopes (Microsoft)"
            }
        )
    })?;
    let missing = diagnose::missing_scopes(&o.scopes, answer.scope.as_deref(), true);
    if !missing.is_empty() {
        anyhow::bail!(
            "the sign-in did not grant {} (granted: {}); nothing was stored. {}",
            missing.join(", "),
            answer.scope.as_deref().unwrap_or("nothing named"),
            if o.token_url.contains("google") || o.client_id.contains("googleusercontent") {
                "Run `klachtd oauth2 login` again and tick every permission on Google's consent \
                 screen."
                    .to_string()
            } else {
                "Add the delegated permissions to the app registration (API permissions → \
                 Microsoft Graph → Delegated: IMAP.AccessAsUser.All, SMTP.Send, \
                 offline_access), grant admin consent, then run `klachtd oauth2 login` again."
                    .to_string()
            }
        );
    }
    let account = signed_in_as(&answer);
    if let (Some(account), Flow::Browser { .. }) = (&account, &flow)
        && !account.eq_ignore_ascii_case(&mailbox)
    {
        // Gmail opens only the signed-in account's own mailbox over IMAP.
        anyhow::bail!(
            "you signed in as {account}, not as {mailbox}: a token opens only its own \
             account's mailbox; nothing was stored. Run `klachtd oauth2 login` again and choose \
             {mailbox} in the browser's account chooser (or sign out of {account} there first)"
        );
    }
    if let Some(account) = &account
        && !account.eq_ignore_ascii_case(&mailbox)
    {
        writeln!(
            out,
            "Note: you signed in as {account}, and klachtd opens {mailbox}. That works only \
             when {mailbox} is a shared mailbox {account} has FullAccess to; otherwise run \
             `klachtd oauth2 login` again and sign in as {mailbox}."
        )?;
    }
    grants::store_refresh_token(&file, &refresh)?;
    writeln!(
        out,
        "Signed in{}. Granted: {}.",
        account.map(|a| format!(" as {a}")).unwrap_or_default(),
        answer
            .scope
            .as_deref()
            .map(|s| s
                .split_whitespace()
                // The sign-in's own scopes (which account signed in) are not klachtd's.
                .filter(|s| !["openid", "email", "profile"].contains(s) && !s.contains("userinfo"))
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_else(|| o.scopes.join(", "))
    )?;
    writeln!(
        out,
        "The refresh token is stored in {} (mode 0600); klachtd renews it from there.",
        file.display()
    )?;
    writeln!(
        out,
        "Next: `klachtd check` (as the user klachtd runs as, who must own that file)."
    )?;
    Ok(())
}

/// The account a token names: the access token's claims (Microsoft) or the id_token's.
fn signed_in_as(answer: &TokenAnswer) -> Option<String> {
    let from = |c: serde_json::Value| {
        ["upn", "unique_name", "preferred_username", "email"]
            .into_iter()
            .filter_map(|k| c.get(k).and_then(|v| v.as_str()).map(str::to_string))
            .find(|v| v.contains('@'))
    };
    jwt::claims(answer.access_token.expose())
        .and_then(from)
        .or_else(|| {
            answer
                .id_token
                .as_deref()
                .and_then(jwt::claims)
                .and_then(from)
        })
}

/// Microsoft's device-code flow: the code and address, then polling until the sign-in is done.
fn device_code(
    o: &OAuth2,
    url: &str,
    mailbox: &str,
    out: &mut dyn Write,
) -> anyhow::Result<TokenAnswer> {
    let code = grants::device_code(o, url)?;
    writeln!(
        out,
        "To sign in as {mailbox}, open {} in a browser (on any device) and enter the code {}",
        code.verification_uri, code.user_code
    )?;
    writeln!(
        out,
        "Sign in as {mailbox} itself (or as a user with FullAccess to it, for a shared mailbox) \
         and accept the permissions. The code is valid for {} minutes; klachtd waits here.",
        (code.expires_in / 60).max(1)
    )?;
    out.flush()?;
    let mut interval = code.interval.max(1);
    let mut waited = 0;
    loop {
        // The provider's pace (RFC 8628 §3.5): a sleep is what the protocol asks for here.
        std::thread::sleep(Duration::from_secs(interval));
        waited += interval;
        match grants::poll_device_code(o, &code)? {
            Poll::Token(t) => return Ok(t),
            Poll::Pending => {}
            Poll::SlowDown => interval += 5,
        }
        if waited > code.expires_in + interval {
            anyhow::bail!(
                "the code expired before the sign-in was finished: run `klachtd oauth2 login` \
                 again"
            );
        }
    }
}

/// What came back to the redirect address: a code (and the state it answers), or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Returned {
    Code { code: String, state: Option<String> },
    Error { error: String, description: String },
}

/// Reads `code`, `state`, `error` from a redirect address, a query string, or a bare code.
fn returned(text: &str) -> Option<Returned> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let query = match text.split_once('?') {
        Some((_, q)) => q,
        None if text.contains('=') => text,
        // A bare code, as a provider's page may show it.
        None => {
            return Some(Returned::Code {
                code: text.to_string(),
                state: None,
            });
        }
    };
    let query = query.split('#').next().unwrap_or_default();
    let pairs = parse_query(query);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let Some(error) = get("error") {
        return Some(Returned::Error {
            error,
            description: get("error_description").unwrap_or_default(),
        });
    }
    Some(Returned::Code {
        code: get("code")?,
        state: get("state"),
    })
}

/// Google's installed-app flow: a loopback listener and a paste prompt, whichever answers first.
fn browser(
    o: &OAuth2,
    url: &str,
    mailbox: &str,
    options: &Options,
    input: Box<dyn BufRead + Send>,
    out: &mut dyn Write,
) -> anyhow::Result<TokenAnswer> {
    let listener = TcpListener::bind(("127.0.0.1", options.port)).with_context(|| {
        format!(
            "cannot listen on 127.0.0.1:{} for the browser's answer (choose another --port)",
            options.port
        )
    })?;
    let port = listener.local_addr()?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}");
    let verifier = jwt::random_id(48);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    let state = jwt::random_id(16);
    // `openid email` besides the mail scope: the answer then names the account signed in with,
    // so signing in with another account than the mailbox is caught before anything is stored.
    let mut scopes = o.scopes.clone();
    for extra in ["openid", "email"] {
        if !scopes.iter().any(|s| s == extra) {
            scopes.push(extra.to_string());
        }
    }
    let scope = scopes.join(" ");
    let query = form_encode(&[
        ("client_id", o.client_id.trim()),
        ("redirect_uri", &redirect_uri),
        ("response_type", "code"),
        ("scope", &scope),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("state", &state),
        ("login_hint", mailbox),
        // A refresh token, also when this account consented before (Google).
        ("access_type", "offline"),
        ("prompt", "consent"),
    ]);
    let separator = if url.contains('?') { '&' } else { '?' };
    writeln!(
        out,
        "To sign in as {mailbox}, open this address in a browser:"
    )?;
    writeln!(out)?;
    writeln!(out, "  {url}{separator}{query}")?;
    writeln!(out)?;
    writeln!(
        out,
        "klachtd listens on {redirect_uri} for the answer. If the browser runs on another \
         machine, either forward that port first (ssh -L {port}:127.0.0.1:{port} this-server, \
         then open the address), or sign in, and when the browser says it cannot reach \
         127.0.0.1, copy the address from its address bar (it starts with {redirect_uri}/?) \
         and paste it here:"
    )?;
    out.flush()?;
    let (tx, rx) = mpsc::channel::<Returned>();
    let from_browser = tx.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Some(r) = answer_browser(stream)
                && from_browser.send(r).is_err()
            {
                return;
            }
        }
    });
    std::thread::spawn(move || {
        for line in input.lines().map_while(Result::ok) {
            if let Some(r) = returned(&line)
                && tx.send(r).is_err()
            {
                return;
            }
        }
    });
    loop {
        let r = rx
            .recv()
            .context("neither the browser nor the terminal gave an answer")?;
        match r {
            Returned::Error { error, description } => {
                let e = crate::auth::http::ProviderError {
                    status: 400,
                    error,
                    description,
                    ..Default::default()
                };
                anyhow::bail!("{}", diagnose::token_endpoint(&e, o, None));
            }
            Returned::Code { state: Some(s), .. } if s != state => {
                writeln!(
                    out,
                    "That answer belongs to another sign-in (its state differs); open the \
                     address above and paste the new one."
                )?;
            }
            Returned::Code { code, .. } => {
                return grants::authorization_code(o, &code, &verifier, &redirect_uri);
            }
        }
    }
}

/// Reads one request from the browser and answers it with a short page.
fn answer_browser(stream: TcpStream) -> Option<Returned> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    // The rest of the request head is not needed; read it so the browser sees a clean answer.
    let mut header = String::new();
    while reader.read_line(&mut header).ok()? > 2 {
        header.clear();
    }
    let target = line.split_whitespace().nth(1).unwrap_or_default();
    let found = target.split_once('?').and_then(|(_, q)| returned(q));
    let body = match &found {
        Some(Returned::Code { .. }) => {
            "klachtd received the sign-in. You can close this window and return to the terminal."
        }
        Some(Returned::Error { .. }) => {
            "The sign-in was not completed; the terminal says why. You can close this window."
        }
        None => "klachtd waits for the provider's answer here.",
    };
    let mut stream = &stream;
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    found
}

/// `klachtd oauth2`'s arguments.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// Sign in once as the mailbox (delegated access, oauth2.source = "refresh_token") and
    /// store the refresh token in oauth2.refresh_token_file: Microsoft by a device code,
    /// Google in a browser.
    Login {
        /// Google: the 127.0.0.1 port the browser's answer comes to (default: any free one;
        /// give one to forward it over ssh -L).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

impl Args {
    /// Runs `klachtd oauth2 login`.
    pub fn run(self, config: Option<&std::path::Path>) -> anyhow::Result<std::process::ExitCode> {
        let Action::Login { port } = self.action;
        let settings = Settings::load(config)?;
        run(
            &settings,
            &Options { port },
            Box::new(BufReader::new(std::io::stdin())),
            &mut std::io::stdout(),
        )?;
        Ok(std::process::ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn settings(token_url: &str) -> OAuth2 {
        let mut o = Settings::load_with_env(None, Vec::new()).unwrap().oauth2;
        o.token_url = token_url.into();
        o
    }

    #[test]
    fn the_flow_follows_the_provider() {
        assert_eq!(
            flow(&settings("http://127.0.0.1:8080/t/oauth2/v2.0/token")).unwrap(),
            Flow::DeviceCode {
                url: "http://127.0.0.1:8080/t/oauth2/v2.0/devicecode".into()
            }
        );
        assert_eq!(
            flow(&settings("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")).unwrap(),
            Flow::DeviceCode {
                url: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode".into()
            }
        );
        assert_eq!(
            flow(&settings("https://oauth2.googleapis.com/token")).unwrap(),
            Flow::Browser {
                url: "https://accounts.google.com/o/oauth2/v2/auth".into()
            }
        );
        assert!(flow(&settings("https://idp.example.org/token")).is_err());
    }

    #[test]
    fn a_pasted_address_a_query_and_a_bare_code_are_read() {
        assert_eq!(
            returned(
                "http://127.0.0.1:8765/?state=abc&code=4%2F0Ad&scope=https%3A%2F%2Fmail.google.com%2F"
            ),
            Some(Returned::Code {
                code: "4/0Ad".into(),
                state: Some("abc".into())
            })
        );
        assert_eq!(
            returned("  4/0AdXyz  "),
            Some(Returned::Code {
                code: "4/0AdXyz".into(),
                state: None
            })
        );
        assert_eq!(
            returned("http://127.0.0.1:1/?error=access_denied&state=s"),
            Some(Returned::Error {
                error: "access_denied".into(),
                description: String::new()
            })
        );
        assert_eq!(returned(""), None);
        assert_eq!(returned("http://127.0.0.1:1/?state=s"), None);
    }

    proptest! {
        /// Any code and state survive the trip through a redirect address.
        #[test]
        fn any_code_and_state_are_read_back(code in "[!-~]{1,60}", state in "[A-Za-z0-9_-]{1,30}") {
            let q = form_encode(&[("state", &state), ("code", &code)]);
            let r = returned(&format!("http://127.0.0.1:9/?{q}"));
            prop_assert_eq!(r, Some(Returned::Code { code, state: Some(state) }));
        }
    }
}
