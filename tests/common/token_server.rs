//! The OAuth2 token server of the integration tests (`tests/mailserver/token_server.py`) as a
//! child process on a free loopback port, stopped on drop; plus its admin calls (issue a
//! refresh token, expire every access token, revoke every refresh token, approve a device code,
//! grant domain-wide delegation, make introspection refuse, read its counters), and test keys
//! and certificates made with openssl at test time.
#![allow(dead_code)] // each test binary uses a different part of the helpers

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The client the server knows (`--client-id`, `--client-secret` defaults of the script).
pub const CLIENT_ID: &str = "klachtd-test";
pub const CLIENT_SECRET: &str = "app-secret";

pub struct TokenServer {
    pub port: u16,
    child: Child,
}

impl TokenServer {
    /// Starts it; tokens are for `info@example.org` and live an hour unless expired by hand.
    pub fn start() -> TokenServer {
        Self::start_with(&[])
    }

    /// Starts it with more of the script's options (`--client-cert PEM`, `--jwt-tokens`, …).
    pub fn start_with(args: &[&str]) -> TokenServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mailserver/token_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 runs the token server (tests/mailserver/install.sh installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("TOKEN_PORT=")
            .unwrap_or_else(|| panic!("token server said {line:?}"))
            .parse()
            .unwrap();
        TokenServer { port, child }
    }

    /// Base URL (Dovecot's introspection is at `/introspect`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.url())
    }

    /// The tenant the server plays (`--tenant`, its default unless given).
    pub const TENANT: &'static str = "00000000-0000-4000-8000-000000000001";

    /// Microsoft's token endpoint of `tenant` on this server.
    pub fn ms_token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.url())
    }

    /// Microsoft's device-code endpoint of `tenant` on this server.
    pub fn ms_device_code_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/devicecode", self.url())
    }

    /// The pending device codes are signed in, as `user`.
    pub fn approve_device(&self, user: &str) {
        self.call("POST", &format!("/admin/device/approve?user={user}"));
    }

    /// Domain-wide delegation for the service account with this scope ("" withdraws it).
    pub fn delegate(&self, scope: &str) {
        let q: String = scope
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        self.call("POST", &format!("/admin/dwd?scope={q}"));
    }

    /// Dovecot's introspection refuses every token (`false`) or judges them again (`true`).
    pub fn introspection(&self, active: bool) {
        let v = if active { "yes" } else { "no" };
        self.call("POST", &format!("/admin/introspection?active={v}"));
    }

    /// The header and claims of the last assertion the server received.
    pub fn last_assertion(&self) -> serde_json::Value {
        serde_json::from_str(&self.call("GET", "/admin/last-assertion")).unwrap()
    }

    /// GETs `url` (on this server) as a browser would and returns the redirect's Location.
    pub fn follow(&self, url: &str) -> String {
        let path = url
            .strip_prefix(&self.url())
            .unwrap_or_else(|| panic!("{url} is not on the token server"));
        let out = raw_http(self.port, "GET", path);
        let (head, _) = out.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 302") || head.starts_with("HTTP/1.0 302"),
            "{head}"
        );
        head.lines()
            .find_map(|l| l.strip_prefix("Location: "))
            .expect("a Location")
            .trim()
            .to_string()
    }

    fn call(&self, method: &str, path: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
            "{head}"
        );
        body.to_string()
    }

    /// A refresh token, as the consent flow would hand it to the administrator.
    pub fn issue_refresh_token(&self) -> String {
        self.call("POST", "/admin/refresh-token")
    }

    /// Every access token issued so far stops being valid now.
    pub fn expire_all(&self) {
        self.call("POST", "/admin/expire");
    }

    /// Every refresh token is revoked.
    pub fn revoke_all(&self) {
        self.call("POST", "/admin/revoke");
    }

    /// Counters: issued, refreshed, introspected, refused.
    pub fn stats(&self) -> serde_json::Value {
        serde_json::from_str(&self.call("GET", "/admin/stats")).unwrap()
    }

    /// A fresh access token by client credentials (for a `token_command` to print).
    pub fn access_token(&self) -> String {
        let body = format!(
            "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
        );
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(out.split_once("\r\n\r\n").unwrap().1).unwrap();
        json["access_token"].as_str().unwrap().to_string()
    }
}

/// One HTTP/1.1 request on 127.0.0.1:`port`, the whole answer as text.
pub fn raw_http(port: u16, method: &str, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// An RSA key and a self-signed certificate for it, made with openssl in a temporary directory
/// (test-only; nothing is committed): `key.pem` (PKCS#8, mode 0600), `cert.pem`, `public.pem`.
pub struct TestKeys {
    pub dir: tempfile::TempDir,
}

impl TestKeys {
    pub fn new() -> TestKeys {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=klachtd-test"])
            .arg("-keyout")
            .arg(dir.path().join("key.pem"))
            .arg("-out")
            .arg(dir.path().join("cert.pem"))
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "openssl made the test certificate");
        let ok = Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(dir.path().join("key.pem"))
            .arg("-out")
            .arg(dir.path().join("public.pem"))
            .status()
            .unwrap()
            .success();
        assert!(ok);
        std::fs::set_permissions(
            dir.path().join("key.pem"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        TestKeys { dir }
    }

    pub fn key(&self) -> std::path::PathBuf {
        self.dir.path().join("key.pem")
    }

    pub fn cert(&self) -> std::path::PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn public(&self) -> std::path::PathBuf {
        self.dir.path().join("public.pem")
    }

    /// A Google service account key file (JSON, mode 0600) with this key, for `email`, whose
    /// token endpoint is `token_uri`.
    pub fn service_account_file(&self, email: &str, token_uri: &str) -> std::path::PathBuf {
        let pem = std::fs::read_to_string(self.key()).unwrap();
        let json = serde_json::json!({
            "type": "service_account",
            "project_id": "klachtd-test",
            "private_key_id": "test-key-1",
            "private_key": pem,
            "client_email": email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        });
        let path = self.dir.path().join("service-account.json");
        std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        path
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
