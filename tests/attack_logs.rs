//! README: "The log names case references and outcomes, never an address, at any level of
//! klachtd's own modules (an address in an error text is replaced by a short hash,
//! `<addr:1a2b3c4d>`)." An SMTP server's refusal echoes the recipient, as Postfix does
//! (`550 5.1.1 <jan&els.devries@example.net>: Recipient address rejected`); for an address whose
//! local part holds a character such as `&`, `/`, `=`, `{` or `|` (all allowed in atext), only
//! the tail is hashed and the rest of the address is logged: `<jan&<addr:…>>`.
//!
//! Reproduce: outbound.kind = smtp to a loopback server that answers RCPT with
//! `550 5.1.1 <ADDRESS>: Recipient address rejected`; a complaint from
//! `jan&els.devries@example.net`; `klachtd run --once` logs "jan&" (and `a/b=` for
//! `a/b=c.devries@…`).

mod attack_lab;

use attack_lab::Lab;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

/// A loopback SMTP server that refuses every recipient, echoing it the way Postfix does.
fn refusing_smtp() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::new(stream);
                let _ = w.write_all(b"220 fake ESMTP\r\n");
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let up = line.to_ascii_uppercase();
                    let reply = if up.starts_with("EHLO") {
                        "250-fake\r\n250 8BITMIME\r\n".to_string()
                    } else if up.starts_with("RCPT") {
                        let addr = line
                            .split_once('<')
                            .and_then(|(_, rest)| rest.split_once('>'))
                            .map(|(a, _)| a.to_string())
                            .unwrap_or_default();
                        format!("550 5.1.1 <{addr}>: Recipient address rejected: User unknown\r\n")
                    } else if up.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n");
                        break;
                    } else {
                        "250 ok\r\n".to_string()
                    };
                    let _ = w.write_all(reply.as_bytes());
                }
            });
        }
    });
    port
}

#[test]
fn a_refused_recipient_with_an_ampersand_is_logged_only_as_a_hash() {
    let port = refusing_smtp().to_string();
    let mut lab = Lab::new(&[
        ("KLACHTD__OUTBOUND__KIND", "smtp"),
        ("KLACHTD__OUTBOUND__SMTP__HOST", "127.0.0.1"),
        ("KLACHTD__OUTBOUND__SMTP__PORT", port.as_str()),
        ("KLACHTD__OUTBOUND__SMTP__TLS", "none"),
        ("KLACHTD_LOG", "debug"),
    ]);
    lab.complaint("jan&els.devries@example.net", 1);
    lab.complaint("a/b=c.devries@example.net", 2);
    let log = lab.run_stderr();
    assert!(log.contains("permanent"), "the server refused: {log}");
    for part in ["jan&", "a/b="] {
        assert!(
            !log.contains(part),
            "the log holds part of the complainant's address ({part:?}):\n{log}"
        );
    }
}
