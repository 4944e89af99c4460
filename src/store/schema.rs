//! The database schema as numbered migrations; `PRAGMA user_version` records how far a file is.

/// Each entry moves the schema one version up. Never edit a released entry: add a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: intake — cases, the mail ledger, attachments, events, the outbox, the IMAP cursor.
    r#"
    CREATE TABLE cases (
        id                  INTEGER PRIMARY KEY,
        reference           TEXT NOT NULL UNIQUE,
        year                INTEGER NOT NULL,
        seq                 INTEGER NOT NULL,
        status              TEXT NOT NULL,
        language            TEXT NOT NULL,
        complainant_address TEXT,
        complainant_name    TEXT,
        subject             TEXT NOT NULL,
        body                TEXT NOT NULL,
        received_at         TEXT NOT NULL,
        reaction_due        TEXT NOT NULL,
        reacted_at          TEXT,
        closing_due         TEXT,
        closed_at           TEXT,
        handler             TEXT,
        category            TEXT,
        cause               TEXT,
        solution            TEXT,
        measure             TEXT,
        agreement           INTEGER,
        escalated_at        TEXT,
        appealed_at         TEXT,
        verdict             TEXT,
        verdict_at          TEXT,
        UNIQUE (year, seq)
    );
    CREATE TABLE case_sequences (
        year INTEGER PRIMARY KEY,
        last INTEGER NOT NULL
    );
    -- Every mail that reached the mailbox, once, with what became of it.
    CREATE TABLE mails (
        id           INTEGER PRIMARY KEY,
        source_key   TEXT NOT NULL UNIQUE,
        message_id   TEXT,
        fingerprint  TEXT NOT NULL,
        sender       TEXT,
        received_at  TEXT NOT NULL,
        outcome      TEXT NOT NULL,
        disposition  TEXT NOT NULL,
        reason       TEXT NOT NULL,
        case_id      INTEGER REFERENCES cases(id),
        raw          BLOB NOT NULL
    );
    CREATE INDEX mails_fingerprint ON mails (fingerprint);
    CREATE INDEX mails_case ON mails (case_id);
    CREATE TABLE attachments (
        id           INTEGER PRIMARY KEY,
        case_id      INTEGER NOT NULL REFERENCES cases(id),
        mail_id      INTEGER NOT NULL REFERENCES mails(id),
        filename     TEXT NOT NULL,
        content_type TEXT NOT NULL,
        data         BLOB NOT NULL
    );
    CREATE TABLE events (
        id       INTEGER PRIMARY KEY,
        case_id  INTEGER NOT NULL REFERENCES cases(id),
        at       TEXT NOT NULL,
        kind     TEXT NOT NULL,
        actor    TEXT,
        detail   TEXT NOT NULL
    );
    CREATE INDEX events_case ON events (case_id);
    -- Outgoing mail, written in the same transaction as the change that caused it.
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        message_id      TEXT NOT NULL UNIQUE,
        case_id         INTEGER REFERENCES cases(id),
        kind            TEXT NOT NULL,
        envelope_from   TEXT NOT NULL,
        recipients      TEXT NOT NULL,
        raw             BLOB NOT NULL,
        status          TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error      TEXT,
        created_at      TEXT NOT NULL,
        sent_at         TEXT
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    -- At most one acknowledgement per sender per (local) day.
    CREATE TABLE acknowledgements (
        address TEXT NOT NULL,
        day     TEXT NOT NULL,
        case_id INTEGER NOT NULL REFERENCES cases(id),
        PRIMARY KEY (address, day)
    );
    CREATE TABLE imap_cursor (
        mailbox     TEXT PRIMARY KEY,
        uidvalidity INTEGER NOT NULL,
        last_uid    INTEGER NOT NULL
    );
    "#,
    // 2: staff work cases by reply — tokens that prove a sender, and commands held for
    // confirmation when a mail from a role address carries no proof.
    r#"
    CREATE TABLE held_commands (
        id          INTEGER PRIMARY KEY,
        case_id     INTEGER REFERENCES cases(id),
        address     TEXT NOT NULL,
        mail_id     INTEGER NOT NULL REFERENCES mails(id),
        subject     TEXT NOT NULL,
        new_text    TEXT NOT NULL,
        held_at     TEXT NOT NULL,
        resolved_at TEXT
    );
    CREATE TABLE tokens (
        token     TEXT PRIMARY KEY,
        case_id   INTEGER REFERENCES cases(id),
        address   TEXT NOT NULL,
        held_id   INTEGER REFERENCES held_commands(id),
        issued_at TEXT NOT NULL
    );
    CREATE INDEX tokens_owner ON tokens (address, case_id);
    CREATE TABLE recommendations (
        id       INTEGER PRIMARY KEY,
        at       TEXT NOT NULL,
        author   TEXT NOT NULL,
        case_id  INTEGER REFERENCES cases(id),
        text     TEXT NOT NULL
    );
    "#,
    // 3: scheduled work — what was sent once (reminders, alerts, digests, reports, purges),
    // and when a case's personal data was purged.
    r#"
    CREATE TABLE notices (
        key     TEXT PRIMARY KEY,
        done_at TEXT NOT NULL
    );
    ALTER TABLE cases ADD COLUMN purged_at TEXT;
    "#,
    // 4: isolation and fairness (issue 8) — attachments that did not decode are kept and
    // marked; a complainant whose From address cannot be answered; sending pauses as a whole
    // only for the server, while one recipient's temporary failure backs off that mail alone.
    r#"
    ALTER TABLE attachments ADD COLUMN readable INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE cases ADD COLUMN unreachable_from TEXT;
    ALTER TABLE mails ADD COLUMN content_sha256 TEXT;
    CREATE INDEX outbox_case ON outbox (case_id);
    CREATE INDEX outbox_kind_due ON outbox (kind, next_attempt_at);
    CREATE TABLE outbox_pause (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        until    TEXT NOT NULL,
        reason   TEXT NOT NULL,
        failures INTEGER NOT NULL
    );
    "#,
    // 5: sender proof — a token can be revoked (it leaked); a held mail carries the code its
    // sender must type to confirm it, and what became of it.
    r#"
    ALTER TABLE tokens ADD COLUMN revoked_at TEXT;
    ALTER TABLE held_commands ADD COLUMN code TEXT NOT NULL DEFAULT '';
    ALTER TABLE held_commands ADD COLUMN outcome TEXT;
    "#,
    // 6: throughput (issue 12) — the queued mail in id order, so finding what to send next
    // walks only what is still queued, not every mail ever sent.
    r#"
    CREATE INDEX outbox_queued ON outbox (id) WHERE status = 'queued';
    "#,
    // 7: storage (issue 12) — bodies apart from the rows that change, DEFLATE-compressed
    // (store/packed.rs), so marking a mail sent, settling a mail's outcome or updating a case
    // rewrites a small row, not its text; the outbox indexes hold only the rows their queries
    // look for.
    r#"
    CREATE TABLE mail_bodies (
        mail_id  INTEGER PRIMARY KEY REFERENCES mails(id) ON DELETE CASCADE,
        deflated BLOB NOT NULL
    );
    CREATE TABLE case_texts (
        case_id  INTEGER PRIMARY KEY REFERENCES cases(id) ON DELETE CASCADE,
        deflated BLOB NOT NULL
    );
    CREATE TABLE outbox_bodies (
        outbox_id INTEGER PRIMARY KEY REFERENCES outbox(id) ON DELETE CASCADE,
        deflated  BLOB NOT NULL
    );
    DROP INDEX outbox_due;
    CREATE INDEX outbox_queued_due ON outbox (next_attempt_at) WHERE status = 'queued';
    CREATE INDEX outbox_failed ON outbox (case_id) WHERE status = 'failed';
    CREATE INDEX outbox_sent ON outbox (sent_at) WHERE status = 'sent';
    CREATE INDEX mails_quarantined ON mails (id) WHERE outcome = 'quarantined';
    "#,
    // 8: a register of 100,000 cases costs nothing extra (issue 12) — nothing that runs
    // per pass or per command reads every case with its body (in rows written before schema 7
    // the text lies in overflow pages before most columns, so any scan of `cases` reads it). `case_watch` holds, per case, the
    // first local day on which the scheduler may owe it a reminder or an alert ('' = look at
    // it now): triggers put every new case and every changed deadline or status there, and
    // the scheduler moves the day on (a small row of its own, so the big one is never
    // rewritten). The indexes (partial where only a few rows matter, so that taking in a
    // complaint writes as few of them as it can) cover the register, the digest's counts and
    // lists, the yearly analysis, the retention purge (and its nightly token sweep), and the
    // check that a staff member's command mail applies once (by Message-ID).
    r#"
    CREATE TABLE case_watch (
        case_id  INTEGER PRIMARY KEY REFERENCES cases(id) ON DELETE CASCADE,
        watch_on TEXT NOT NULL
    );
    CREATE INDEX case_watch_due ON case_watch (watch_on);
    INSERT INTO case_watch (case_id, watch_on)
        SELECT id, '' FROM cases WHERE status IN ('open', 'reacted');
    CREATE TRIGGER case_watch_new AFTER INSERT ON cases BEGIN
        INSERT OR REPLACE INTO case_watch (case_id, watch_on) VALUES (new.id, '');
    END;
    CREATE TRIGGER case_watch_changed AFTER UPDATE OF status, reaction_due, closing_due ON cases
    WHEN old.status IS NOT new.status OR old.reaction_due IS NOT new.reaction_due
        OR old.closing_due IS NOT new.closing_due
    BEGIN
        INSERT OR REPLACE INTO case_watch (case_id, watch_on) VALUES (new.id, '');
    END;
    CREATE INDEX cases_register ON cases (year, seq, reference, status, received_at,
        reaction_due, closing_due, complainant_address, unreachable_from, subject);
    CREATE INDEX cases_status_due ON cases (status, reaction_due, closing_due, year, seq);
    CREATE INDEX cases_received ON cases (received_at, year, seq);
    CREATE INDEX cases_closed ON cases (closed_at) WHERE closed_at IS NOT NULL;
    CREATE INDEX cases_verdict ON cases (verdict_at) WHERE verdict_at IS NOT NULL;
    CREATE INDEX cases_escalated ON cases (escalated_at) WHERE escalated_at IS NOT NULL;
    CREATE INDEX cases_appealed ON cases (appealed_at) WHERE appealed_at IS NOT NULL;
    CREATE INDEX cases_reacted ON cases (reacted_at, received_at) WHERE reacted_at IS NOT NULL;
    CREATE INDEX cases_ended ON cases (status, purged_at, closed_at, verdict_at, received_at)
        WHERE status IN ('closed', 'final', 'withdrawn');
    CREATE INDEX tokens_issued ON tokens (issued_at);
    CREATE INDEX mails_message_id ON mails (message_id);
    "#,
    // 9: retention — the mailbox copies of purged mail wait here until they are gone: removal is
    // tried on every pass, so a crash or a refused delete after the purge's commit never leaves
    // a complaint in the mailbox for good.
    r#"
    CREATE TABLE mailbox_removals (
        source_key TEXT PRIMARY KEY,
        message_id TEXT,
        since      TEXT NOT NULL
    );
    "#,
    // 10: storage (issue 12) — a case's text and the mail queued for a case are packed on the
    // case's complaint (store/packed.rs): `basis` names the complaint whose raw mail is their
    // dictionary, and its foreign key keeps that mail's body as long as they need it.
    r#"
    ALTER TABLE case_texts ADD COLUMN basis INTEGER REFERENCES mail_bodies(mail_id);
    ALTER TABLE outbox_bodies ADD COLUMN basis INTEGER REFERENCES mail_bodies(mail_id);
    CREATE INDEX case_texts_basis ON case_texts (basis);
    CREATE INDEX outbox_bodies_basis ON outbox_bodies (basis);
    "#,
    // issue 25: confidentiality and the AVG — per case, whom the complaint concerns (they
    // never hear of it), a legal hold and a privacy request with its deadline, in a small row
    // of its own; the record that an erasure happened (without the address); the backups
    // `klachtd backup` made, so `erase` can name the copies it cannot reach.
    r#"
    CREATE TABLE case_privacy (
        case_id                  INTEGER PRIMARY KEY REFERENCES cases(id) ON DELETE CASCADE,
        concerns                 TEXT NOT NULL DEFAULT '',
        concerns_fixed           INTEGER NOT NULL DEFAULT 0,
        hold_until               TEXT,
        hold_reason              TEXT,
        request_kind             TEXT,
        request_received         TEXT,
        request_due              TEXT,
        request_extended_months  INTEGER,
        request_extension_reason TEXT,
        request_done_at          TEXT
    );
    CREATE INDEX case_privacy_open_requests ON case_privacy (request_due, case_id)
        WHERE request_kind IS NOT NULL AND request_done_at IS NULL;
    CREATE INDEX case_privacy_holds ON case_privacy (hold_until, case_id)
        WHERE hold_until IS NOT NULL;
    CREATE TABLE erasures (
        id      INTEGER PRIMARY KEY,
        at      TEXT NOT NULL,
        reason  TEXT NOT NULL,
        cases   INTEGER NOT NULL,
        mails   INTEGER NOT NULL,
        refs    TEXT NOT NULL
    );
    CREATE TABLE backups_made (
        path    TEXT PRIMARY KEY,
        made_at TEXT NOT NULL
    );
    "#,
    // Issue 22: one outbound budget (outbound/budget.rs). `outbox_budget` holds, for two days,
    // each queued mail's normalised recipient and whether unproven mail caused it (the budget
    // per recipient per 24 hours), and for acknowledgements under the hourly maximum when
    // they leave (`capped`). `outbox_rollup` records each mail the budget held back (never
    // dropped from the register): to whom, what and for which case, and the summary that
    // reported it. Neither references another table: both are pruned within days by the
    // budget itself, so the purge need not know them.
    r#"
    CREATE TABLE outbox_budget (
        id        INTEGER PRIMARY KEY,
        outbox_id INTEGER NOT NULL,
        mailbox   TEXT NOT NULL,
        kind      TEXT NOT NULL,
        unproven  INTEGER NOT NULL,
        capped    INTEGER NOT NULL,
        queued_at TEXT NOT NULL,
        due_at    TEXT NOT NULL
    );
    CREATE INDEX outbox_budget_unproven ON outbox_budget (mailbox, queued_at) WHERE unproven = 1;
    CREATE INDEX outbox_budget_capped ON outbox_budget (due_at) WHERE capped = 1;
    CREATE INDEX outbox_budget_summaries ON outbox_budget (mailbox, queued_at)
        WHERE kind = 'summary';
    CREATE TABLE outbox_rollup (
        id        INTEGER PRIMARY KEY,
        mailbox   TEXT NOT NULL,
        recipient TEXT NOT NULL,
        kind      TEXT NOT NULL,
        reference TEXT,
        at        TEXT NOT NULL,
        reported  INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_rollup_open ON outbox_rollup (mailbox, at) WHERE reported = 0;
    CREATE INDEX outbox_rollup_at ON outbox_rollup (at);
    "#,
    // Issue 20: retention — the file transport's copies (`<Message-ID>.eml` in `outbound.dir`)
    // of purged mail wait here until they are gone, like the mailbox copies above.
    r#"
    CREATE TABLE sent_file_removals (
        message_id TEXT PRIMARY KEY,
        since      TEXT NOT NULL
    );
    "#,
    // Issue 21: the procedure's rules over any sequence of commands — how far the director
    // extended each deadline, in all (bounded by the model); and one definition of the
    // reaction, the first letter of substance to the complainant (a `Reactie`, the closing
    // letter or the verdict): cases closed or decided before it counted are given theirs, from
    // their history.
    r#"
    ALTER TABLE cases ADD COLUMN reaction_extended INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE cases ADD COLUMN closing_extended INTEGER NOT NULL DEFAULT 0;
    UPDATE cases SET reacted_at = (SELECT MIN(e.at) FROM events e
            WHERE e.case_id = cases.id AND e.kind IN ('reaction', 'closed', 'verdict'))
        WHERE reacted_at IS NULL AND status IN ('reacted', 'closed', 'appealed', 'final');
    UPDATE cases SET
        reaction_extended = (SELECT COALESCE(SUM(CAST(e.detail AS INTEGER)), 0) FROM events e
            WHERE e.case_id = cases.id AND e.kind = 'extended'
              AND (cases.reacted_at IS NULL OR e.at < cases.reacted_at)),
        closing_extended = (SELECT COALESCE(SUM(CAST(e.detail AS INTEGER)), 0) FROM events e
            WHERE e.case_id = cases.id AND e.kind = 'extended'
              AND cases.reacted_at IS NOT NULL AND e.at >= cases.reacted_at)
        WHERE id IN (SELECT case_id FROM events WHERE kind = 'extended');
    "#,
    // Issue 20: a purged case stays purged — nothing changes it or adds to it again, whatever
    // path a mail or a job takes (the yearly analysis of its year stays as it is, and no new
    // text lands where no purge looks). Only a new purge (a new `purged_at`) may touch it.
    r#"
    CREATE TRIGGER purged_case_unchanged BEFORE UPDATE ON cases
    WHEN old.purged_at IS NOT NULL AND new.purged_at IS old.purged_at
    BEGIN SELECT RAISE(ABORT, 'case purged after the retention period: it is never changed again'); END;
    CREATE TRIGGER purged_case_no_events BEFORE INSERT ON events
    WHEN (SELECT purged_at FROM cases WHERE id = new.case_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'case purged after the retention period: nothing is added to it'); END;
    CREATE TRIGGER purged_case_no_attachments BEFORE INSERT ON attachments
    WHEN (SELECT purged_at FROM cases WHERE id = new.case_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'case purged after the retention period: nothing is added to it'); END;
    CREATE TRIGGER purged_case_no_mail_out BEFORE INSERT ON outbox
    WHEN (SELECT purged_at FROM cases WHERE id = new.case_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'case purged after the retention period: nothing is added to it'); END;
    CREATE TRIGGER purged_case_no_mail_in BEFORE INSERT ON mails
    WHEN (SELECT purged_at FROM cases WHERE id = new.case_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'case purged after the retention period: nothing is added to it'); END;
    CREATE TRIGGER purged_case_no_mail_linked BEFORE UPDATE OF case_id ON mails
    WHEN (SELECT purged_at FROM cases WHERE id = new.case_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'case purged after the retention period: nothing is added to it'); END;
    CREATE TRIGGER purged_case_no_held BEFORE INSERT ON held_commands
    WHEN (SELECT purged_at FROM cases WHERE id = new.case_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'case purged after the retention period: nothing is added to it'); END;
    CREATE TRIGGER purged_case_no_tokens BEFORE INSERT ON tokens
    WHEN (SELECT purged_at FROM cases WHERE id = new.case_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'case purged after the retention period: nothing is added to it'); END;
    CREATE TRIGGER purged_case_no_texts BEFORE INSERT ON case_texts
    WHEN (SELECT purged_at FROM cases WHERE id = new.case_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'case purged after the retention period: nothing is added to it'); END;
    CREATE TRIGGER purged_case_no_acknowledgements BEFORE INSERT ON acknowledgements
    WHEN (SELECT purged_at FROM cases WHERE id = new.case_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'case purged after the retention period: nothing is added to it'); END;
    CREATE TRIGGER purged_case_no_recommendations BEFORE INSERT ON recommendations
    WHEN (SELECT purged_at FROM cases WHERE id = new.case_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'case purged after the retention period: nothing is added to it'); END;
    CREATE TRIGGER purged_case_no_privacy BEFORE INSERT ON case_privacy
    WHEN (SELECT purged_at FROM cases WHERE id = new.case_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'case purged after the retention period: nothing is added to it'); END;
    CREATE TRIGGER purged_case_privacy_unchanged BEFORE UPDATE ON case_privacy
    WHEN (SELECT purged_at FROM cases WHERE id = old.case_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'case purged after the retention period: it is never changed again'); END;
    "#,
];

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;
    use rusqlite::Connection;

    /// Issue 21's migration gives each case closed or decided before the closing letter and the
    /// verdict counted as the reaction its reaction, from its history, and each case the days
    /// its deadlines were extended by (before the reaction: the reaction deadline).
    #[test]
    fn the_reaction_and_the_extensions_come_from_the_history() {
        let mine = MIGRATIONS
            .iter()
            .position(|m| m.contains("reaction_extended"))
            .unwrap();
        let conn = Connection::open_in_memory().unwrap();
        for m in &MIGRATIONS[..mine] {
            conn.execute_batch(m).unwrap();
        }
        let case = |id: i64, status: &str, reacted: Option<&str>| {
            conn.execute(
                "INSERT INTO cases (id, reference, year, seq, status, language, subject, body,
                     received_at, reaction_due, reacted_at)
                 VALUES (?1, 'KL-2026-000' || ?1, 2026, ?1, ?2, 'nl', 's', '',
                     '2026-11-02T09:00:00Z', '2026-11-09', ?3)",
                rusqlite::params![id, status, reacted],
            )
            .unwrap();
        };
        let event = |id: i64, at: &str, kind: &str, detail: &str| {
            conn.execute(
                "INSERT INTO events (case_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![id, at, kind, detail],
            )
            .unwrap();
        };
        // Closed straight away, extended before: the closing letter was the reaction.
        case(1, "closed", None);
        event(
            1,
            "2026-11-03T10:00:00Z",
            "extended",
            "5 werkdagen: docent ziek",
        );
        event(
            1,
            "2026-11-04T10:00:00Z",
            "closed",
            "afsluitende brief in de wachtrij",
        );
        // Reacted, then extended twice (closing deadline).
        case(2, "reacted", Some("2026-11-03T10:00:00Z"));
        event(2, "2026-11-03T10:00:00Z", "reaction", "Beste klant");
        event(2, "2026-11-05T10:00:00Z", "extended", "10 werkdagen: -");
        event(2, "2026-11-06T10:00:00Z", "extended", "3 werkdagen: -");
        // Appealed while open (old rules), then decided: the verdict was the reaction.
        case(3, "final", None);
        event(3, "2026-11-20T10:00:00Z", "appealed", "");
        event(3, "2026-12-01T10:00:00Z", "verdict", "gegrond");
        // Still open, never extended.
        case(4, "open", None);
        conn.execute_batch(MIGRATIONS[mine]).unwrap();
        let got: Vec<(i64, Option<String>, u32, u32)> = conn
            .prepare(
                "SELECT id, reacted_at, reaction_extended, closing_extended FROM cases ORDER BY id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let at = |s: &str| Some(s.to_string());
        assert_eq!(
            got,
            [
                (1, at("2026-11-04T10:00:00Z"), 5, 0),
                (2, at("2026-11-03T10:00:00Z"), 0, 13),
                (3, at("2026-12-01T10:00:00Z"), 0, 0),
                (4, None, 0, 0),
            ]
        );
    }
}
