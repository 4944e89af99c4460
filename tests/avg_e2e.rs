//! Issue 25 against real servers: the `klachtd` binary reads a real Dovecot over IMAP and sends
//! through Postfix. `klachtd dossier` writes the person's mail as the server handed it over;
//! `klachtd erase` removes their copies from the processed and quarantine folders (by
//! Message-ID) and leaves everyone else's where they are; a complaint naming a staff member
//! never lands in that member's mailbox.

mod common;

use common::klachtd::{Klachtd, PATIENCE, from_local};
use common::mailserver::MailServer;

fn raw(from: &str, subject: &str, body: &str, id: &str, extra: &str) -> Vec<u8> {
    format!(
        "{extra}From: <{from}>\r\nTo: info@example.org\r\nSubject: {subject}\r\nMessage-ID: <{id}@example.org>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

#[test]
fn dossier_and_erase_over_imap_and_a_colleague_named_never_gets_the_complaint() {
    let server = MailServer::start();
    let k = Klachtd::new(&server);
    let complainant = "complainant@example.org";
    let other = "complainant2@example.org";
    let complaint = from_local("02_klacht_factuur_gmail_alternative_qp.eml", complainant);
    server.deliver(&complaint, complainant, &["info@example.org"]);
    server.deliver(
        &raw(
            complainant,
            "spam",
            "quarantainetekst",
            "spam1",
            "X-Spam-Flag: YES\r\n",
        ),
        complainant,
        &["info@example.org"],
    );
    // Another complaint names staff2 by address: it goes to staff and the director, not to them.
    server.deliver(
        &raw(
            other,
            "Over de docent",
            "staff2@example.org gaf geen antwoord op mijn vragen.",
            "other1",
            "",
        ),
        other,
        &["info@example.org"],
    );
    server.wait_for_messages("info@example.org", 3, PATIENCE);
    k.run_once();
    assert_eq!(server.count_folder("info@example.org", "Verwerkt"), 2);
    assert_eq!(server.count_folder("info@example.org", "Quarantaine"), 1);
    server.wait_for_subject("director@example.org", "Nieuwe klacht", PATIENCE);
    server.wait_for_subject(
        "staff@example.org",
        "Nieuwe klacht [KL-2026-0002]",
        PATIENCE,
    );
    let store = klachtd::store::Store::open(&k.db()).unwrap();
    let to_staff2 = klachtd::store::outbox::all(store.conn())
        .unwrap()
        .into_iter()
        .filter(|m| m.recipients.iter().any(|r| r == "staff2@example.org"))
        .count();
    assert_eq!(
        to_staff2, 1,
        "only the first complaint's notice goes to staff2"
    );
    drop(store);
    for m in server.fetch_all("staff2@example.org") {
        let text = String::from_utf8_lossy(&m);
        assert!(
            !text.contains("Over de docent"),
            "staff2 got the complaint about them:\n{text}"
        );
    }

    // The dossier holds their complaint exactly as the server handed it over.
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("dossier");
    let said = k.run(&["dossier", complainant, "--out", dir.to_str().unwrap()]);
    let said = String::from_utf8(said.stdout).unwrap();
    assert!(said.contains("1 case(s), 2 mail(s) received"), "{said}");
    let received: Vec<Vec<u8>> = std::fs::read_dir(dir.join("ontvangen"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    let processed = server.fetch_folder("info@example.org", "Verwerkt");
    assert!(
        received.iter().any(|r| processed.contains(r)),
        "the complaint in the dossier is the server's copy, byte for byte"
    );
    assert!(dir.join("brief.txt").exists());

    // Erased: their copies leave both folders; the other complainant's stays.
    let out = k
        .command()
        .args([
            "erase",
            complainant,
            "--reason",
            "verzoek per e-mail",
            "--include-open",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("mailbox: 2 copies removed now"), "{text}");
    assert_eq!(server.count_folder("info@example.org", "Quarantaine"), 0);
    let left = server.fetch_folder("info@example.org", "Verwerkt");
    assert_eq!(left.len(), 1);
    assert!(String::from_utf8_lossy(&left[0]).contains("other1@example.org"));
    // The two complaints reach the mailbox in either order (Postfix delivers side by side):
    // one case is the other complainant's, the other's complainant is gone.
    let cases = k.cases();
    assert_eq!(cases.len(), 2, "{cases:?}");
    assert_eq!(
        cases.iter().filter(|c| c["complainant"].is_null()).count(),
        1,
        "{cases:?}"
    );
    assert_eq!(
        cases.iter().filter(|c| c["complainant"] == other).count(),
        1,
        "{cases:?}"
    );
}
