//! Real mail servers for one test: a private Dovecot (IMAP, IMAPS, LMTP) and Postfix (SMTP with
//! STARTTLS and AUTH, SMTPS) on 127.0.0.1, started by `tests/mailserver/start.sh` on ports of
//! their own and stopped on drop, plus minimal std-only SMTP and IMAP clients to put mail in and
//! read it back. Any number run at once: cargo runs tests in parallel threads, each test starts
//! its own. Needs root (Postfix) and the Debian packages `tests/mailserver/install.sh` installs.
//!
//! Users: those in `tests/mailserver/users` (info@, complainant@, complainant2@, complainant3@,
//! staff@, staff2@, director@, committee@, robot@ example.org) plus any passed to
//! [`MailServer::start_with_users`]; the password is always [`PASSWORD`]. Postfix takes mail for
//! their domains only and refuses every other domain at RCPT: nothing leaves loopback.
//!
//! `MAILTEST_KEEP=1` keeps each server's state dir (mail, logs, configs) after the test.
#![allow(dead_code)] // each test binary uses a different part of the helpers

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Every test user's password.
pub const PASSWORD: &str = "secret";

/// How long one SMTP or IMAP read may take before the helper gives up (a hang, not a slow server).
const IO_TIMEOUT: Duration = Duration::from_secs(60);

pub struct MailServer {
    /// STATE_DIR of start.sh: configs, logs (`dovecot/dovecot.log`, `postfix/postfix.log`), mail.
    pub state_dir: PathBuf,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub smtp_port: u16,
    pub smtps_port: u16,
    pub lmtp_port: u16,
    pub sasl_port: u16,
    /// The CA that signed the servers' certificate (for localhost and 127.0.0.1).
    pub ca_cert: PathBuf,
    /// Owns `state_dir`; `None` once kept for inspection (`MAILTEST_KEEP`).
    dir: Option<tempfile::TempDir>,
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mailserver")
        .join(name)
}

/// Panics with what to do when the servers cannot run here (never skips silently).
fn require_servers() {
    let missing: Vec<&str> = [
        "/usr/sbin/dovecot",
        "/usr/lib/dovecot/imap",
        "/usr/lib/dovecot/lmtp",
        "/usr/sbin/postfix",
        "/usr/bin/openssl",
    ]
    .into_iter()
    .filter(|p| !Path::new(p).exists())
    .collect();
    assert!(
        missing.is_empty(),
        "the integration tests need real Dovecot and Postfix, which are not installed here \
         (missing {missing:?}): run the README's test command, `scripts/test`, as root; it \
         installs them (tests/mailserver/install.sh) and then runs the tests"
    );
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .unwrap_or("0");
    assert!(
        euid == "0",
        "the integration tests start a private Postfix, which needs root: run the README's test \
         command, `scripts/test`, as root"
    );
}

/// The range the test servers' ports come from: below the kernel's ephemeral range (by default
/// 32768-60999), so no outgoing connection, ours or the servers', can take a chosen port before
/// the server binds it.
fn port_range() -> (u32, u32) {
    let range =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut it = range
        .split_whitespace()
        .filter_map(|n| n.parse::<u32>().ok());
    let (low, high) = (it.next().unwrap_or(32768), it.next().unwrap_or(60999));
    if low >= 12000 {
        (10000, low)
    } else if high <= 63000 {
        (high + 1, 65536)
    } else {
        (1024, 65536) // no room outside it: a clash is still caught and retried
    }
}

/// `n` free ports, none handed out before by this process (a counter walks the range from a
/// per-process starting point; another process's servers are caught by the bind test, or by
/// start.sh's exit status 3).
fn free_ports(n: usize) -> Vec<u16> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (lo, hi) = port_range();
    let span = hi - lo;
    let seed = std::process::id().wrapping_mul(2_654_435_761) % span;
    let mut ports = Vec::with_capacity(n);
    for _ in 0..span {
        let i = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(lo + (seed + i) % span).unwrap();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            ports.push(port);
            if ports.len() == n {
                return ports;
            }
        }
    }
    panic!("no {n} free ports on 127.0.0.1 in {lo}..{hi}");
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn run_script(name: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
    let out = Command::new("bash")
        .arg(script(name))
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {name}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{name} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl MailServer {
    /// Starts Dovecot and Postfix with the default users on free ports. Panics, with the
    /// servers' logs, if they do not start; panics telling what to do if they are not installed.
    pub fn start() -> MailServer {
        Self::start_with_users(&[])
    }

    /// Like [`MailServer::start`], with extra users (any domain; password [`PASSWORD`]).
    pub fn start_with_users(extra_users: &[&str]) -> MailServer {
        Self::start_with(extra_users, None)
    }

    /// Like [`MailServer::start`], and Dovecot (IMAP, and SMTP AUTH through its SASL) also takes
    /// XOAUTH2 and OAUTHBEARER logins, checking tokens with the token server at `oauth2_url`
    /// (see `tests/common/token_server.rs`).
    pub fn start_with_oauth2(oauth2_url: &str) -> MailServer {
        Self::start_with(&[], Some(oauth2_url))
    }

    fn start_with(extra_users: &[&str], oauth2_url: Option<&str>) -> MailServer {
        let users = extra_users.join(" ");
        let env = [
            ("MAILTEST_USERS", users.as_str()),
            ("MAILTEST_OAUTH2_URL", oauth2_url.unwrap_or_default()),
        ];
        Self::start_script(&["start.sh"], &[], &env).0
    }

    /// Starts servers with a script of `tests/mailserver` (`args` = the script and its arguments
    /// before STATE_DIR, e.g. `["authstack.sh", "start", "a"]`), on free ports: start.sh's six
    /// plus one for each of `extra_ports` (environment variable names), returned in that order.
    /// Retries on other ports when the script exits with status 3 (a port was taken).
    pub fn start_script(
        args: &[&str],
        extra_ports: &[&str],
        env: &[(&str, &str)],
    ) -> (MailServer, Vec<u16>) {
        require_servers();
        let dir = tempfile::Builder::new()
            .prefix("klachtd-mail-")
            .tempdir()
            .unwrap();
        // Dovecot runs as an unprivileged user, who must be able to traverse the directory.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o711),
        )
        .unwrap();
        let state_dir = dir.path().join("state");
        let mut clashes = Vec::new();
        for _attempt in 0..10 {
            let p = free_ports(6 + extra_ports.len());
            let mut command = Command::new("bash");
            command
                .arg(script(args[0]))
                .args(&args[1..])
                .arg(&state_dir)
                .env("MAILTEST_IMAP_PORT", p[0].to_string())
                .env("MAILTEST_IMAPS_PORT", p[1].to_string())
                .env("MAILTEST_SMTP_PORT", p[2].to_string())
                .env("MAILTEST_SMTPS_PORT", p[3].to_string())
                .env("MAILTEST_LMTP_PORT", p[4].to_string())
                .env("MAILTEST_SASL_PORT", p[5].to_string())
                // Should this process die without dropping us (Ctrl-C), the servers stop anyway.
                .env("MAILTEST_OWNER_PID", std::process::id().to_string());
            for (var, port) in extra_ports.iter().zip(&p[6..]) {
                command.env(var, port.to_string());
            }
            command.envs(env.iter().copied());
            let out = command
                .output()
                .unwrap_or_else(|e| panic!("cannot run tests/mailserver/{}: {e}", args[0]));
            if out.status.success() {
                let server = MailServer {
                    ca_cert: state_dir.join("tls/ca.pem"),
                    state_dir,
                    dir: Some(dir),
                    imap_port: p[0],
                    imaps_port: p[1],
                    smtp_port: p[2],
                    smtps_port: p[3],
                    lmtp_port: p[4],
                    sasl_port: p[5],
                };
                return (server, p[6..].to_vec());
            }
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            let _ = run_script("stop.sh", &[state_dir.as_os_str()]);
            // Exit status 3: a port was taken between choosing and binding it; choose again.
            if out.status.code() != Some(3) {
                let keep = dir.keep();
                panic!(
                    "the test mail servers did not start ({}): {stderr}\n\
                     == dovecot.log\n{}\n== postfix.log\n{}\n(state kept in {})",
                    out.status,
                    tail(&state_dir.join("dovecot/dovecot.log"), 40),
                    tail(&state_dir.join("postfix/postfix.log"), 40),
                    keep.display()
                );
            }
            clashes.push(stderr);
        }
        panic!("the test mail servers found no free ports in 10 attempts: {clashes:?}");
    }

    /// Hands a message to Postfix over plain SMTP (no TLS, no login: 127.0.0.1 may send), and
    /// panics unless every reply is 2xx/3xx. Lines are sent with CRLF endings, dot-stuffed.
    pub fn deliver(&self, raw: &[u8], from: &str, to: &[&str]) {
        if let Err(e) = self.try_deliver(raw, from, to) {
            panic!("SMTP delivery to 127.0.0.1:{} failed: {e}", self.smtp_port);
        }
    }

    /// [`MailServer::deliver`] that returns the failure instead: connection refused while SMTP
    /// is stopped, or the first reply that is not 2xx/3xx.
    pub fn try_deliver(&self, raw: &[u8], from: &str, to: &[&str]) -> Result<(), String> {
        let mut smtp = Smtp::connect(self.smtp_port)?;
        smtp.reply("greeting")?;
        smtp.command("EHLO test.example.org")?;
        smtp.command(&format!("MAIL FROM:<{from}>"))?;
        for rcpt in to {
            smtp.command(&format!("RCPT TO:<{rcpt}>"))?;
        }
        smtp.command("DATA")?;
        smtp.send(&smtp_data(raw))?;
        smtp.reply("end of DATA")?;
        smtp.command("QUIT")?;
        Ok(())
    }

    /// Stops only Postfix (its ports refuse connections until [`MailServer::start_smtp`]).
    /// Mail it had accepted but not yet delivered stays in its queue.
    pub fn stop_smtp(&self) {
        run_script("smtp.sh", &[self.state_dir.as_os_str(), "stop".as_ref()])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Starts Postfix again on the same ports.
    pub fn start_smtp(&self) {
        run_script("smtp.sh", &[self.state_dir.as_os_str(), "start".as_ref()])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Stops only Dovecot (connected clients get `* BYE`; IMAP and LMTP then refuse).
    pub fn stop_dovecot(&self) {
        run_script("dovecot.sh", &[self.state_dir.as_os_str(), "stop".as_ref()])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Starts Dovecot again on the same ports; the mail is still there.
    pub fn start_dovecot(&self) {
        run_script(
            "dovecot.sh",
            &[self.state_dir.as_os_str(), "start".as_ref()],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }

    fn imap(&self, user: &str) -> Imap {
        Imap::login(self.imap_port, user).unwrap_or_else(|e| panic!("IMAP as {user}: {e}"))
    }

    /// Runs one IMAP command as `user` (CREATE, DELETE, …); panics unless it answers OK.
    pub fn imap_command(&self, user: &str, command: &str) {
        let mut imap = self.imap(user);
        imap.command(command)
            .unwrap_or_else(|e| panic!("IMAP {command} as {user}: {e}"));
        imap.logout();
    }

    /// Runs IMAP commands in turn in one session as `user` (`SELECT INBOX`, then `UID COPY
    /// …`); panics unless each answers OK.
    pub fn imap_session(&self, user: &str, commands: &[&str]) {
        let mut imap = self.imap(user);
        for command in commands {
            imap.command(command)
                .unwrap_or_else(|e| panic!("IMAP {command} as {user}: {e}"));
        }
        imap.logout();
    }

    /// Every message in `user`'s INBOX, raw RFC 822, in UID order.
    pub fn fetch_all(&self, user: &str) -> Vec<Vec<u8>> {
        self.fetch_folder(user, "INBOX")
    }

    /// Every message in one of `user`'s folders, raw RFC 822, in UID order.
    pub fn fetch_folder(&self, user: &str, folder: &str) -> Vec<Vec<u8>> {
        let mut imap = self.imap(user);
        imap.command(&format!("EXAMINE {}", quoted(folder)))
            .unwrap_or_else(|e| panic!("IMAP EXAMINE {folder} as {user}: {e}"));
        let response = imap
            .command("UID FETCH 1:* (UID BODY.PEEK[])")
            .unwrap_or_else(|e| panic!("IMAP FETCH in {folder} as {user}: {e}"));
        imap.logout();
        let mut messages = response.bodies;
        messages.sort_by_key(|(uid, _)| *uid);
        messages.into_iter().map(|(_, body)| body).collect()
    }

    /// How many messages `user`'s INBOX holds (IMAP STATUS).
    pub fn count(&self, user: &str) -> usize {
        self.count_folder(user, "INBOX")
    }

    /// How many messages one of `user`'s folders holds (IMAP STATUS).
    pub fn count_folder(&self, user: &str, folder: &str) -> usize {
        let mut imap = self.imap(user);
        let response = imap
            .command(&format!("STATUS {} (MESSAGES)", quoted(folder)))
            .unwrap_or_else(|e| panic!("IMAP STATUS {folder} as {user}: {e}"));
        imap.logout();
        response
            .lines
            .iter()
            .find_map(|l| {
                let rest = &l[l.find("(MESSAGES ")? + "(MESSAGES ".len()..];
                rest[..rest.find(')')?].trim().parse().ok()
            })
            .unwrap_or_else(|| panic!("no MESSAGES in the STATUS reply: {:?}", response.lines))
    }

    /// The newest message in `user`'s INBOX whose subject starts with `prefix`, waiting up to
    /// `timeout` for it. Waiting for a count alone races: mail from klachtd to one address
    /// (a notification, a confirmation request, a transcript) arrives in any order.
    #[allow(dead_code)] // not every test binary uses it
    pub fn wait_for_subject(&self, user: &str, prefix: &str, timeout: Duration) -> Vec<u8> {
        let start = Instant::now();
        loop {
            if let Some(m) = self
                .fetch_all(user)
                .into_iter()
                .rev()
                .find(|m| subject(m).starts_with(prefix))
            {
                return m;
            }
            if start.elapsed() >= timeout {
                let subjects: Vec<String> =
                    self.fetch_all(user).iter().map(|m| subject(m)).collect();
                panic!("no mail '{prefix}…' for {user} after {timeout:?}; subjects: {subjects:#?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `user`'s INBOX holds at least `count` messages and returns them all (raw, in
    /// UID order). The timeout is a safety net against a hang, not a measurement: on expiry it
    /// panics with what it saw and the end of the Postfix log.
    pub fn wait_for_messages(&self, user: &str, count: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let start = Instant::now();
        loop {
            // STATUS is cheap; fetch only once enough is there (and check again: mail may move).
            if self.count(user) >= count {
                let all = self.fetch_all(user);
                if all.len() >= count {
                    return all;
                }
            }
            if start.elapsed() >= timeout {
                let all = self.fetch_all(user);
                let subjects: Vec<String> = all.iter().map(|m| subject(m)).collect();
                panic!(
                    "{user} has {} of {count} messages after {timeout:?}; subjects: {subjects:#?}\n\
                     == end of postfix.log\n{}",
                    all.len(),
                    tail(&self.state_dir.join("postfix/postfix.log"), 15)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Puts a message straight into one of `user`'s folders (IMAP APPEND), creating the folder
    /// if it does not exist yet.
    pub fn append(&self, user: &str, folder: &str, raw: &[u8]) {
        let mut imap = self.imap(user);
        let mut result = imap.append(folder, raw);
        if matches!(&result, Err(e) if e.contains("TRYCREATE")) {
            imap.command(&format!("CREATE {}", quoted(folder)))
                .unwrap_or_else(|e| panic!("IMAP CREATE {folder} as {user}: {e}"));
            result = imap.append(folder, raw);
        }
        result.unwrap_or_else(|e| panic!("IMAP APPEND to {folder} as {user}: {e}"));
        imap.logout();
    }

    /// Where Dovecot keeps `user`'s Maildir (for debugging; read mail over IMAP in tests).
    pub fn maildir(&self, user: &str) -> PathBuf {
        let user = user.to_lowercase();
        let (local, domain) = user.split_once('@').expect("user is an address");
        self.state_dir
            .join("dovecot/mail")
            .join(domain)
            .join(local)
            .join("Maildir")
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        if let Err(e) = run_script("stop.sh", &[self.state_dir.as_os_str()]) {
            eprintln!("stopping the test mail servers: {e}");
        }
        if std::env::var_os("MAILTEST_KEEP").is_some_and(|v| !v.is_empty() && v != "0")
            && let Some(dir) = self.dir.take()
        {
            eprintln!(
                "MAILTEST_KEEP: mail server state kept in {}",
                dir.keep().display()
            );
        }
    }
}

/// The Subject header of a raw message (for diagnostics).
fn subject(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            l.get(..8)
                .filter(|h| h.eq_ignore_ascii_case("subject:"))
                .map(|_| l[8..].trim().to_string())
        })
        .unwrap_or_else(|| "(no subject)".into())
}

/// A message as SMTP DATA: every line ending in CRLF, lines starting with "." doubled, and the
/// terminating ".".
pub fn smtp_data(raw: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(raw.len() + raw.len() / 32 + 8);
    for line in raw.split_inclusive(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b".") {
            data.push(b'.');
        }
        data.extend_from_slice(line);
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    data
}

/// An IMAP quoted string.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Just enough SMTP for tests.
pub struct Smtp {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Smtp {
    pub fn connect(port: u16) -> Result<Smtp, String> {
        let stream =
            TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
        Ok(Self::over(stream))
    }

    /// An SMTP client on a connection already made (e.g. from another loopback address).
    pub fn over(stream: TcpStream) -> Smtp {
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        Smtp {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.writer
            .write_all(bytes)
            .map_err(|e| format!("write: {e}"))
    }

    /// Reads one (possibly multi-line) reply; Err unless it is 2xx or 3xx.
    pub fn reply(&mut self, after: &str) -> Result<String, String> {
        let mut reply = String::new();
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .map_err(|e| format!("reading the reply to {after}: {e}"))?;
            if n == 0 {
                return Err(format!("connection closed after {after}: {reply}"));
            }
            reply.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        if reply.starts_with('2') || reply.starts_with('3') {
            Ok(reply)
        } else {
            Err(format!("{after}: {}", reply.trim_end()))
        }
    }

    pub fn command(&mut self, command: &str) -> Result<String, String> {
        self.send(format!("{command}\r\n").as_bytes())?;
        self.reply(command)
    }
}

/// A tagged IMAP command's result: untagged lines, and FETCH bodies by UID.
struct Response {
    lines: Vec<String>,
    bodies: Vec<(u32, Vec<u8>)>,
}

/// Just enough IMAP for tests: LOGIN, tagged commands, literals in responses, APPEND.
struct Imap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
}

impl Imap {
    fn login(port: u16, user: &str) -> Result<Imap, String> {
        let stream =
            TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut imap = Imap {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
            tag: 0,
        };
        let greeting = imap.read_line()?;
        if !greeting.starts_with("* OK") {
            return Err(format!("greeting: {greeting}"));
        }
        imap.command(&format!("LOGIN {} {}", quoted(user), quoted(PASSWORD)))?;
        Ok(imap)
    }

    fn read_line(&mut self) -> Result<String, String> {
        let mut line = Vec::new();
        self.reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("read: {e}"))?;
        if line.is_empty() {
            return Err("the server closed the connection".into());
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("a{}", self.tag)
    }

    /// Reads responses up to the tagged completion of `tag`; Err unless it is OK. A line that
    /// ends in a literal `{n}` is followed by n raw bytes and then the rest of that response.
    fn read_until_tagged(&mut self, tag: &str) -> Result<Response, String> {
        let mut response = Response {
            lines: Vec::new(),
            bodies: Vec::new(),
        };
        let done = format!("{tag} ");
        loop {
            let line = self.read_line()?;
            let text = line.trim_end();
            if let Some((head, size)) = text
                .strip_suffix('}')
                .and_then(|l| l.rsplit_once('{'))
                .and_then(|(head, n)| Some((head, n.parse::<usize>().ok()?)))
            {
                let mut literal = vec![0; size];
                self.reader
                    .read_exact(&mut literal)
                    .map_err(|e| format!("reading a {size}-byte literal: {e}"))?;
                if head.ends_with("BODY[] ") {
                    let uid = head
                        .split_once("UID ")
                        .and_then(|(_, r)| r.split(|c: char| !c.is_ascii_digit()).next())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    response.bodies.push((uid, literal));
                }
                response.lines.push(head.to_string());
                continue;
            }
            if let Some(status) = text.strip_prefix(&done) {
                return if status.starts_with("OK") {
                    Ok(response)
                } else {
                    Err(text.to_string())
                };
            }
            response.lines.push(text.to_string());
        }
    }

    fn command(&mut self, command: &str) -> Result<Response, String> {
        let tag = self.next_tag();
        self.writer
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .map_err(|e| format!("write: {e}"))?;
        self.read_until_tagged(&tag)
    }

    fn append(&mut self, folder: &str, raw: &[u8]) -> Result<(), String> {
        let tag = self.next_tag();
        self.writer
            .write_all(format!("{tag} APPEND {} {{{}}}\r\n", quoted(folder), raw.len()).as_bytes())
            .map_err(|e| format!("write: {e}"))?;
        let line = self.read_line()?;
        if !line.starts_with('+') {
            return Err(line.trim_end().to_string());
        }
        self.writer
            .write_all(raw)
            .and_then(|()| self.writer.write_all(b"\r\n"))
            .map_err(|e| format!("write: {e}"))?;
        self.read_until_tagged(&tag).map(|_| ())
    }

    fn logout(mut self) {
        let _ = self.command("LOGOUT");
    }
}
