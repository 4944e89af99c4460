//! Real sender-authentication stacks for one test (issue 19): the organisation's mail server as
//! a Postfix with OpenDKIM + OpenDMARC + postfix-policyd-spf-python (stack A) or with rspamd
//! (stack B), as Debian 12 ships them, in front of a real Dovecot; a local DNS server for the test
//! domains; and the outside world (a bulk mailer that signs with its own domain, a mailing list
//! that ARC-seals). Started by `tests/mailserver/authstack.sh` on ports of their own, stopped on
//! drop (with the [`MailServer`] inside). See docs/authstack.md for what each stack writes.
//!
//! The test domains: `example.org` is the organisation (DMARC `p=reject`, SPF `ip4:127.0.0.1`,
//! DKIM selector `mail`); `bulkmailer.example.net` a bulk mailer (sends from 127.0.0.2);
//! `lists.example.com` a mailing list (sends from 127.0.0.3, list `leden@`, whose one member is
//! `info@example.org`); `forger.example.net` has no records at all. Staff submit from
//! [`STAFF_LAPTOP`]; forgers connect from [`FORGER_IP`].
#![allow(dead_code)] // each test binary uses a different part of the helpers

use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::time::Duration;

use super::mailserver::{MailServer, PASSWORD, Smtp, smtp_data};

/// Where a staff member's mail client connects from (not the server's own 127.0.0.1).
pub const STAFF_LAPTOP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 10);
/// Where a forger connects from: in no SPF record of the test domains.
pub const FORGER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 66);
/// The receiving server's name: Postfix's myhostname, and the authserv-id every milter is set to.
pub const AUTHSERV_ID: &str = "mx.example.org";
/// The mailing list's address (a post goes back to `info@example.org`).
pub const LIST_ADDRESS: &str = "leden@lists.example.com";

/// Which milters the receiving server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    /// OpenDKIM, OpenDMARC and postfix-policyd-spf-python.
    A,
    /// rspamd.
    B,
}

impl Stack {
    pub fn name(self) -> &'static str {
        match self {
            Stack::A => "a",
            Stack::B => "b",
        }
    }
}

/// How the receiving server is configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// With the settings docs/authstack.md tells an administrator to make (one authserv-id for
    /// every milter, SPF results as Authentication-Results, authenticated mail not judged by
    /// OpenDMARC, rspamd writing Authentication-Results).
    Administered,
    /// Debian's defaults for those settings.
    DebianDefaults,
}

pub struct AuthStack {
    /// The receiving Dovecot + Postfix; read mail with its `wait_for_subject`, `fetch_all`, ….
    pub mail: MailServer,
    pub stack: Stack,
    /// Submission (SMTP AUTH required) on the receiving server.
    pub submission_port: u16,
    /// The bulk mailer's SMTP port (relays anything to the receiving server from 127.0.0.2).
    pub relay_port: u16,
    /// The mailing list's SMTP port.
    pub list_port: u16,
}

impl AuthStack {
    /// Starts a stack set up as an administrator should (see [`Setup::Administered`]).
    pub fn start(stack: Stack) -> AuthStack {
        Self::start_with(stack, Setup::Administered)
    }

    pub fn start_with(stack: Stack, setup: Setup) -> AuthStack {
        require_stack_packages(stack);
        let defaults = if setup == Setup::DebianDefaults {
            "1"
        } else {
            ""
        };
        let (mail, ports) = MailServer::start_script(
            &["authstack.sh", "start", stack.name()],
            &[
                "MAILTEST_SUBMISSION_PORT",
                "MAILTEST_RELAY_PORT",
                "MAILTEST_LIST_PORT",
            ],
            &[("MAILTEST_AUTHSTACK_DEBIAN_DEFAULTS", defaults)],
        );
        AuthStack {
            mail,
            stack,
            submission_port: ports[0],
            relay_port: ports[1],
            list_port: ports[2],
        }
    }

    /// (a) A staff member's own mail: SMTP AUTH as `user` (password [`PASSWORD`]) on the
    /// submission port, from [`STAFF_LAPTOP`]; the server signs it with the organisation's key
    /// and delivers it (for `example.org` recipients: to Dovecot).
    pub fn submit(&self, user: &str, raw: &[u8], to: &[&str]) -> Result<(), String> {
        let mut smtp = connect_from(STAFF_LAPTOP, self.submission_port)?;
        smtp.reply("greeting")?;
        smtp.command("EHLO laptop.example.org")?;
        let plain = base64(format!("\0{user}\0{PASSWORD}").as_bytes());
        smtp.command(&format!("AUTH PLAIN {plain}"))?;
        transaction(&mut smtp, user, to, raw)
    }

    /// (b) Through the bulk mailer: it signs with its own domain (d=bulkmailer.example.net,
    /// whatever the From says) and hands the mail to port 25 from 127.0.0.2.
    pub fn send_via_bulk_mailer(
        &self,
        envelope_from: &str,
        raw: &[u8],
        to: &[&str],
    ) -> Result<(), String> {
        let mut smtp = connect_from(Ipv4Addr::LOCALHOST, self.relay_port)?;
        smtp.reply("greeting")?;
        smtp.command("EHLO client.bulkmailer.example.net")?;
        transaction(&mut smtp, envelope_from, to, raw)
    }

    /// (c), (d) Straight to the receiving server's port 25 from `ip` (e.g. [`FORGER_IP`]),
    /// greeting with `helo`; the mail as given (no signature is added).
    pub fn send_direct(
        &self,
        ip: Ipv4Addr,
        helo: &str,
        envelope_from: &str,
        raw: &[u8],
        to: &[&str],
    ) -> Result<(), String> {
        let mut smtp = connect_from(ip, self.mail.smtp_port)?;
        smtp.reply("greeting")?;
        smtp.command(&format!("EHLO {helo}"))?;
        transaction(&mut smtp, envelope_from, to, raw)
    }

    /// (e) A staff member posts to the outside list ([`LIST_ADDRESS`]): submitted as in
    /// [`AuthStack::submit`] (signed by the organisation), relayed by the organisation's server
    /// to the list, which checks it, tags the subject (`[leden] `), adds a footer, ARC-seals and
    /// signs it as lists.example.com and sends it to `info@example.org` from 127.0.0.3.
    pub fn post_to_list(&self, user: &str, raw: &[u8]) -> Result<(), String> {
        self.submit(user, raw, &[LIST_ADDRESS])
    }

    /// The newest message in `user`'s INBOX whose subject starts with `prefix`, exactly as
    /// Dovecot stored it (raw bytes over IMAP).
    pub fn delivered(&self, user: &str, prefix: &str) -> Vec<u8> {
        self.mail
            .wait_for_subject(user, prefix, Duration::from_secs(60))
    }
}

/// Panics with what to do when a stack's packages are missing (never skips silently).
fn require_stack_packages(stack: Stack) {
    let mut needed = vec![
        "/usr/sbin/dnsmasq",
        "/usr/sbin/opendkim",
        "/usr/bin/unshare",
    ];
    needed.extend(match stack {
        Stack::A => ["/usr/sbin/opendmarc", "/usr/bin/policyd-spf"],
        Stack::B => ["/usr/bin/rspamd", "/usr/bin/rspamd"],
    });
    let lists = "/usr/lib/python3/dist-packages/authheaders";
    let missing: Vec<&str> = needed
        .into_iter()
        .chain([lists])
        .filter(|p| !std::path::Path::new(p).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "the sender-authentication stacks need Debian packages that are not installed here \
         (missing {missing:?}): run `scripts/test` as root; it installs them \
         (tests/mailserver/install.sh)"
    );
}

/// A TCP connection to 127.0.0.1:`port` from the loopback address `ip` (servers and SPF see
/// that address as the client).
fn connect_from(ip: Ipv4Addr, port: u16) -> Result<Smtp, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddrV4::new(ip, 0).into())?;
        let stream = socket
            .connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into())
            .await?;
        let stream = stream.into_std()?;
        stream.set_nonblocking(false)?;
        Ok::<TcpStream, std::io::Error>(stream)
    });
    stream
        .map(Smtp::over)
        .map_err(|e| format!("connect from {ip} to 127.0.0.1:{port}: {e}"))
}

/// MAIL, RCPT, DATA, QUIT; Err with the first reply that is not 2xx/3xx.
fn transaction(smtp: &mut Smtp, from: &str, to: &[&str], raw: &[u8]) -> Result<(), String> {
    smtp.command(&format!("MAIL FROM:<{from}>"))?;
    for rcpt in to {
        smtp.command(&format!("RCPT TO:<{rcpt}>"))?;
    }
    smtp.command("DATA")?;
    smtp.send(&smtp_data(raw))?;
    smtp.reply("end of DATA")?;
    let _ = smtp.command("QUIT");
    Ok(())
}

/// Standard base64 with padding (for AUTH PLAIN).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One header field of a message's header section, in order (top = newest): its name as
/// written and its value unfolded (CRLF + whitespace taken out, runs of whitespace as one space).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub value: String,
}

impl Field {
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// For Authentication-Results: the authserv-id (the text before the first `;`).
    pub fn authserv_id(&self) -> &str {
        self.value.split(';').next().unwrap_or("").trim()
    }
}

/// The header fields of a raw message, top first.
pub fn fields(raw: &[u8]) -> Vec<Field> {
    let text = String::from_utf8_lossy(raw);
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .split("\n\n")
        .next()
        .unwrap_or("");
    let mut fields: Vec<Field> = Vec::new();
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.value.push(' ');
                last.value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push(Field {
                name: name.to_string(),
                value: value.trim().to_string(),
            });
        }
    }
    for f in &mut fields {
        f.value = f.value.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    fields
}
