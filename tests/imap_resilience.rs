//! The IMAP source under trouble, against real Dovecot: the connection cut dozens of times (in
//! IDLE, while fetching), Dovecot restarted under the running daemon, the watched mailbox
//! recreated with a new UIDVALIDITY, and the daemon SIGKILLed at random while mail arrives.
//! No mail lost, none processed twice.

mod common;

use common::klachtd::{Klachtd, PATIENCE};
use common::mailserver::MailServer;
use std::io::{BufRead, BufReader};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn long() -> bool {
    std::env::var("KLACHTD_LONG").is_ok_and(|v| v == "1")
}

/// A TCP relay on loopback in front of Dovecot that can cut every open connection at once.
struct CutProxy {
    port: u16,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl CutProxy {
    fn start(upstream: u16) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let registry = open.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue; // Dovecot is down: the client sees the connection close
                };
                registry
                    .lock()
                    .unwrap()
                    .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        CutProxy { port, open }
    }

    /// Waits (briefly) until the daemon has reconnected through the relay.
    fn wait_connected(&self) {
        let start = Instant::now();
        while self.open.lock().unwrap().is_empty() && start.elapsed() < Duration::from_secs(15) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Cuts every connection open now; returns how many there were.
    fn cut(&self) -> usize {
        let mut open = self.open.lock().unwrap();
        let n = open.len() / 2;
        for s in open.drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        n
    }
}

/// Starts `klachtd run` and waits until it has connected.
fn start_daemon(k: &Klachtd<'_>, port: u16) -> Child {
    let mut child = k
        .command()
        .arg("run")
        .env("KLACHTD__INBOUND__IMAP__PORT", port.to_string())
        .env("KLACHTD__INBOUND__IMAP__RECONNECT_MAX_SECONDS", "2")
        .env("KLACHTD__INBOUND__IMAP__POLL_SECONDS", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        let line = rx.recv_timeout(PATIENCE).expect("the daemon connects");
        if line.contains("connected to IMAP") {
            break;
        }
    }
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in rx {});
    child
}

/// Waits until the register holds `n` cases (the timeout is only a safety net).
fn wait_for_cases(k: &Klachtd<'_>, n: usize) {
    let start = Instant::now();
    loop {
        if k.cases().len() >= n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "only {} of {n} cases",
            k.cases().len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn complaint(n: usize) -> Vec<u8> {
    format!(
        "From: Klager <complainant@example.org>\r\nTo: info@example.org\r\nSubject: Klacht {n}\r\nMessage-ID: <resilience-{n}@example.org>\r\n\r\nKlacht nummer {n}.\r\n"
    )
    .into_bytes()
}

#[test]
fn cuts_in_idle_and_fetch_and_a_dovecot_restart_lose_nothing_and_duplicate_nothing() {
    let n = if long() { 100 } else { 24 };
    let server = MailServer::start();
    let proxy = CutProxy::start(server.imaps_port);
    let k = Klachtd::new(&server);
    let mut daemon = start_daemon(&k, proxy.port);
    let mut cuts = 0;
    for i in 0..n {
        server.deliver(
            &complaint(i),
            "complainant@example.org",
            &["info@example.org"],
        );
        // Cut at varying moments: in IDLE, or while the new mail is being fetched.
        std::thread::sleep(Duration::from_millis((i as u64 * 137) % 900));
        proxy.wait_connected();
        cuts += usize::from(proxy.cut() > 0);
        if i == n / 2 {
            server.stop_dovecot();
            std::thread::sleep(Duration::from_millis(500));
            server.start_dovecot();
        }
    }
    wait_for_cases(&k, n);
    assert!(
        Command::new("kill")
            .args(["-TERM", &daemon.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(daemon.wait().unwrap().success());
    assert_eq!(k.cases().len(), n, "each mail made exactly one case");
    assert_eq!(server.count("info@example.org"), 0, "everything left INBOX");
    let store = klachtd::store::Store::open(&k.db()).unwrap();
    let summary = common::invariants::check(&store);
    assert_eq!(summary.mails, n, "recorded exactly once each");
    assert!(
        cuts >= n * 3 / 4,
        "the connection was really cut ({cuts} times)"
    );
    eprintln!(
        "IMAP resilience: {n} mails, {cuts} connection cuts and a Dovecot restart: none lost, none twice"
    );
}

#[test]
fn a_recreated_mailbox_with_a_new_uidvalidity_is_rescanned_without_duplicates() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    server.imap_command("info@example.org", "CREATE Klachten");
    let run = |k: &Klachtd<'_>| {
        let out = k
            .command()
            .args(["run", "--once"])
            .env("KLACHTD__INBOUND__IMAP__FOLDER", "Klachten")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for i in 0..3 {
        server.append("info@example.org", "Klachten", &complaint(i));
    }
    assert!(run(&k).contains("case_created: 3"));
    // The folder is deleted and recreated (new UIDVALIDITY) with the old mail back in it and
    // one new mail.
    server.imap_command("info@example.org", "DELETE Klachten");
    server.imap_command("info@example.org", "CREATE Klachten");
    for i in 0..4 {
        server.append("info@example.org", "Klachten", &complaint(i));
    }
    let summary = run(&k);
    assert!(
        summary.contains("case_created: 1") && summary.contains("ignored: 3"),
        "{summary}"
    );
    assert_eq!(k.cases().len(), 4);
    let store = klachtd::store::Store::open(&k.db()).unwrap();
    common::invariants::check(&store);
}

#[test]
fn sigkilled_at_random_while_mail_arrives_over_imap() {
    let (n, kills_wanted) = if long() { (300, 100) } else { (40, 20) };
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let points = ["after-commit", "after-mark", "before-send", "after-send"];
    let mut kills = 0;
    let mut delivered = 0;
    let mut round = 0;
    while kills < kills_wanted || delivered < n {
        round += 1;
        assert!(round < kills_wanted * 10, "no progress");
        for _ in 0..2 {
            if delivered < n {
                server.append("info@example.org", "INBOX", &complaint(delivered));
                delivered += 1;
            }
        }
        let point = points[round % points.len()];
        if common::klachtd::kill_at_failpoint(
            k.command()
                .args(["run", "--once"])
                .env("KLACHTD_LOG", "warn"),
            point,
        ) {
            kills += 1;
        }
    }
    let last = k.command().args(["run", "--once"]).output().unwrap();
    assert!(last.status.success());
    assert_eq!(
        server.count("info@example.org"),
        0,
        "everything recorded and moved"
    );
    let store = klachtd::store::Store::open(&k.db()).unwrap();
    let summary = common::invariants::check(&store);
    assert_eq!(
        summary.mails, n,
        "every appended mail recorded exactly once"
    );
    eprintln!("IMAP crash suite: {n} mails, {kills} SIGKILLs at the failpoints: invariants hold");
}
