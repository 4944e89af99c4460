//! The OAuth2 token server of the integration tests (`tests/mailserver/token_server.py`) as a
//! child process on a free loopback port, stopped on drop; plus its admin calls (issue a
//! refresh token, expire every access token, revoke every refresh token, read its counters).
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
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mailserver/token_server.py");
        let mut child = Command::new("python3")
            .arg(script)
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

impl Drop for TokenServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
