//! Real mail servers for one test: a private Dovecot and Postfix on 127.0.0.1 (started by
//! `tests/mailserver/start.sh`, stopped on drop), with minimal std-only SMTP and IMAP clients
//! to put mail in and read it back.
#![allow(dead_code)] // each test binary uses a different part of the helpers

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[allow(dead_code)]
pub struct MailServer {
    _dir: tempfile::TempDir,
    pub state_dir: PathBuf,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub smtp_port: u16,
    pub smtps_port: u16,
    /// The CA that signed the servers' certificate.
    pub ca_cert: PathBuf,
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mailserver")
        .join(name)
}

fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

#[allow(dead_code)]
impl MailServer {
    /// Starts Dovecot and Postfix on free ports. Panics (never skips) when they cannot run.
    pub fn start() -> MailServer {
        assert!(
            Path::new("/usr/sbin/dovecot").exists() && Path::new("/usr/sbin/postfix").exists(),
            "Dovecot and Postfix are not installed: run the README's test command (scripts/test), \
             which installs them"
        );
        let dir = tempfile::Builder::new()
            .prefix("klachtd-mail-")
            .tempdir()
            .unwrap();
        // Dovecot drops to an unprivileged user, who must be able to traverse the directory.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o711),
        )
        .unwrap();
        let state_dir = dir.path().join("state");
        for attempt in 1..=5 {
            let p = free_ports(6);
            let out = Command::new("bash")
                .arg(script("start.sh"))
                .arg(&state_dir)
                .env("MAILTEST_IMAP_PORT", p[0].to_string())
                .env("MAILTEST_IMAPS_PORT", p[1].to_string())
                .env("MAILTEST_SMTP_PORT", p[2].to_string())
                .env("MAILTEST_SMTPS_PORT", p[3].to_string())
                .env("MAILTEST_LMTP_PORT", p[4].to_string())
                .env("MAILTEST_SASL_PORT", p[5].to_string())
                .output()
                .unwrap();
            if out.status.success() {
                return MailServer {
                    ca_cert: state_dir.join("tls/ca.pem"),
                    state_dir,
                    _dir: dir,
                    imap_port: p[0],
                    imaps_port: p[1],
                    smtp_port: p[2],
                    smtps_port: p[3],
                };
            }
            let _ = Command::new("bash")
                .arg(script("stop.sh"))
                .arg(&state_dir)
                .status();
            // Exit code 3: a port was taken between choosing and binding; choose again.
            if out.status.code() != Some(3) || attempt == 5 {
                panic!(
                    "the test mail servers did not start: {}\n{}",
                    String::from_utf8_lossy(&out.stderr),
                    std::fs::read_to_string(state_dir.join("dovecot/dovecot.log"))
                        .unwrap_or_default()
                );
            }
        }
        unreachable!()
    }

    /// Hands a message to Postfix over plain SMTP.
    pub fn deliver(&self, raw: &[u8], from: &str, to: &[&str]) {
        let stream = TcpStream::connect(("127.0.0.1", self.smtp_port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let expect = |reader: &mut BufReader<TcpStream>, what: &str| loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert!(
                line.starts_with('2') || line.starts_with('3'),
                "SMTP {what}: {line}"
            );
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        };
        expect(&mut reader, "greeting");
        let mut command = |reader: &mut BufReader<TcpStream>, line: String| {
            writer.write_all(line.as_bytes()).unwrap();
            expect(reader, line.trim());
        };
        command(&mut reader, "EHLO test.example.org\r\n".into());
        command(&mut reader, format!("MAIL FROM:<{from}>\r\n"));
        for rcpt in to {
            command(&mut reader, format!("RCPT TO:<{rcpt}>\r\n"));
        }
        command(&mut reader, "DATA\r\n".into());
        let mut data = Vec::with_capacity(raw.len() + 16);
        for line in raw.split_inclusive(|b| *b == b'\n') {
            if line.starts_with(b".") {
                data.push(b'.');
            }
            data.extend_from_slice(line);
        }
        if !data.ends_with(b"\r\n") {
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b".\r\n");
        let mut w = reader.get_ref().try_clone().unwrap();
        w.write_all(&data).unwrap();
        expect(&mut reader, "end of DATA");
        w.write_all(b"QUIT\r\n").unwrap();
    }

    pub fn stop_smtp(&self) {
        assert!(
            Command::new("bash")
                .arg(script("smtp.sh"))
                .arg(&self.state_dir)
                .arg("stop")
                .status()
                .unwrap()
                .success()
        );
    }

    pub fn start_smtp(&self) {
        assert!(
            Command::new("bash")
                .arg(script("smtp.sh"))
                .arg(&self.state_dir)
                .arg("start")
                .status()
                .unwrap()
                .success()
        );
    }

    pub fn stop_dovecot(&self) {
        assert!(
            Command::new("bash")
                .arg(script("dovecot.sh"))
                .arg(&self.state_dir)
                .arg("stop")
                .status()
                .unwrap()
                .success()
        );
    }

    pub fn start_dovecot(&self) {
        assert!(
            Command::new("bash")
                .arg(script("dovecot.sh"))
                .arg(&self.state_dir)
                .arg("start")
                .status()
                .unwrap()
                .success()
        );
    }

    /// Runs one IMAP command as `user` (CREATE, DELETE, …); panics unless it answers OK.
    pub fn imap_command(&self, user: &str, command: &str) {
        let mut imap = self.imap(user);
        imap.command(command);
        imap.command("LOGOUT");
    }

    fn imap(&self, user: &str) -> Imap {
        let stream = TcpStream::connect(("127.0.0.1", self.imap_port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut imap = Imap {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
            tag: 0,
        };
        imap.read_line();
        imap.command(&format!("LOGIN \"{user}\" secret"));
        imap
    }

    /// Every message in `user`'s INBOX, raw.
    pub fn fetch_all(&self, user: &str) -> Vec<Vec<u8>> {
        self.fetch_folder(user, "INBOX")
    }

    /// Every message in one of `user`'s folders, raw.
    pub fn fetch_folder(&self, user: &str, folder: &str) -> Vec<Vec<u8>> {
        let mut imap = self.imap(user);
        imap.command(&format!("EXAMINE \"{folder}\""));
        let (_, literals) = imap.command("UID FETCH 1:* BODY.PEEK[]");
        imap.command("LOGOUT");
        literals
    }

    pub fn count(&self, user: &str) -> usize {
        self.fetch_all(user).len()
    }

    /// Waits (polling) until `user`'s INBOX holds at least `count` messages. The timeout is a
    /// safety net against a hang, not a measurement.
    pub fn wait_for_messages(&self, user: &str, count: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let start = Instant::now();
        loop {
            let all = self.fetch_all(user);
            if all.len() >= count {
                return all;
            }
            assert!(
                start.elapsed() < timeout,
                "{user} has {} of {count} messages after {timeout:?}",
                all.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Puts a message straight into a mailbox folder (IMAP APPEND).
    pub fn append(&self, user: &str, folder: &str, raw: &[u8]) {
        let mut imap = self.imap(user);
        imap.tag += 1;
        let tag = format!("a{}", imap.tag);
        imap.writer
            .write_all(format!("{tag} APPEND \"{folder}\" {{{}}}\r\n", raw.len()).as_bytes())
            .unwrap();
        let line = imap.read_line();
        assert!(line.starts_with("+"), "APPEND refused: {line}");
        imap.writer.write_all(raw).unwrap();
        imap.writer.write_all(b"\r\n").unwrap();
        imap.read_until_tagged(&tag);
        imap.command("LOGOUT");
    }

    /// The user's Maildir on disk.
    pub fn maildir(&self, user: &str) -> PathBuf {
        let (local, domain) = user.split_once('@').unwrap();
        self.state_dir
            .join("dovecot/mail")
            .join(domain)
            .join(local)
            .join("Maildir")
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script("stop.sh"))
            .arg(&self.state_dir)
            .status();
    }
}

/// Just enough IMAP for tests: tagged commands, and literals in responses.
struct Imap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
}

impl Imap {
    fn read_line(&mut self) -> String {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).unwrap();
        assert!(!line.is_empty(), "IMAP server closed the connection");
        String::from_utf8_lossy(&line).into_owned()
    }

    /// Reads responses up to the tagged completion; returns its line and any literals.
    fn read_until_tagged(&mut self, tag: &str) -> (String, Vec<Vec<u8>>) {
        let mut literals = Vec::new();
        loop {
            let line = self.read_line();
            if let Some(size) = line
                .trim_end()
                .strip_suffix('}')
                .and_then(|l| l.rsplit_once('{'))
                .and_then(|(_, n)| n.parse::<usize>().ok())
            {
                let mut literal = vec![0; size];
                self.reader.read_exact(&mut literal).unwrap();
                literals.push(literal);
                continue;
            }
            if line.starts_with(&format!("{tag} ")) {
                assert!(line.starts_with(&format!("{tag} OK")), "IMAP: {line}");
                return (line, literals);
            }
        }
    }

    fn command(&mut self, command: &str) -> (String, Vec<Vec<u8>>) {
        self.tag += 1;
        let tag = format!("a{}", self.tag);
        self.writer
            .write_all(format!("{tag} {command}\r\n").as_bytes())
            .unwrap();
        self.read_until_tagged(&tag)
    }
}
