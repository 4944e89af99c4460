//! The IMAP intake's handling of server answers: klachtd's pass over a folder
//! (`ImapSource::process_folder` — SELECT and its UIDVALIDITY, the UID searches, the sizes, the
//! batched and mail-by-mail FETCHes, the flags and moves) against a server whose answers are the
//! fuzzer's bytes: one chunk (split at NUL) is sent before the tagged OK of each command the
//! client sends; when they run out the server says nothing more, its connection open. Nothing
//! may panic or hang — the connection is `Patient`, as every connection klachtd makes, and the
//! clock is tokio's paused one, so a stall costs no real time — and the cursor never moves back
//! within one UIDVALIDITY. This target found klachtd waiting for ever on an answer cut short
//! (`inbound::imap::tests::a_server_that_stalls_in_the_middle_of_an_answer_ends_the_pass`) and
//! the IMAP parser panicking on a status text, which ended klachtd
//! (`…::an_answer_the_imap_parser_panics_on_is_an_error_of_the_pass`).
#![no_main]

use klachtd::inbound::imap::{Cursor, ImapSource, MailSink};
use klachtd::domain::Disposition;
use klachtd::inbound::RawMail;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

struct Sink {
    cursor: Option<Cursor>,
}

impl MailSink for Sink {
    fn take(&mut self, raw: &RawMail) -> anyhow::Result<Disposition> {
        assert!(raw.source_key.starts_with("imap:INBOX/"), "{}", raw.source_key);
        Ok(if raw.bytes.len() % 3 == 0 {
            Disposition::Quarantine
        } else {
            Disposition::Processed
        })
    }
    fn recorded(&mut self, _: &str) -> anyhow::Result<Option<Disposition>> {
        Ok(None)
    }
    fn cursor(&mut self, _: &str) -> anyhow::Result<Option<Cursor>> {
        Ok(self.cursor)
    }
    fn set_cursor(&mut self, _: &str, cursor: Cursor) -> anyhow::Result<()> {
        if let Some(old) = self.cursor
            && old.uidvalidity == cursor.uidvalidity
        {
            assert!(cursor.last_uid >= old.last_uid, "{old:?} -> {cursor:?}");
        }
        self.cursor = Some(cursor);
        Ok(())
    }
}

fn source() -> &'static ImapSource {
    static S: OnceLock<ImapSource> = OnceLock::new();
    S.get_or_init(|| {
        // A panic of the IMAP parser (imap-proto) is caught by klachtd and made an error of the
        // connection (`inbound::imap::guarded`); any other panic is a find, as libFuzzer's hook
        // (which aborts even on a panic caught later) makes it.
        let libfuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.location().is_some_and(|l| l.file().contains("imap-proto")) {
                libfuzzer_hook(info)
            }
        }));
        klachtd::install_crypto_provider();
        let env = [
            ("KLACHTD__INBOUND__KIND", "imap"),
            ("KLACHTD__INBOUND__IMAP__HOST", "127.0.0.1"),
            // Nothing listens: a second connection klachtd opens is refused at once.
            ("KLACHTD__INBOUND__IMAP__PORT", "9"),
            ("KLACHTD__INBOUND__IMAP__TLS", "none"),
            ("KLACHTD__INBOUND__IMAP__PASSWORD", "x"),
        ];
        let settings = klachtd::settings::Settings::load_with_env(
            None,
            env.map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap();
        ImapSource::from_settings(&settings.inbound.imap).unwrap()
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static R: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    R.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap()
    })
}

/// Answers each command with the next chunk and a tagged OK; then says nothing more.
async fn server(io: tokio::io::DuplexStream, chunks: Vec<Vec<u8>>) {
    let (read, mut write) = tokio::io::split(io);
    let mut lines = BufReader::new(read);
    if write.write_all(b"* OK ready\r\n").await.is_err() {
        return;
    }
    let mut chunks = chunks.into_iter();
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let tag = line
            .split(|b| *b == b' ')
            .next()
            .unwrap_or_default()
            .to_vec();
        let answer = if line.windows(5).any(|w| w.eq_ignore_ascii_case(b"LOGIN")) {
            Vec::new()
        } else {
            match chunks.next() {
                Some(chunk) => chunk,
                None => std::future::pending().await,
            }
        };
        let mut out = answer;
        out.extend_from_slice(&tag);
        out.extend_from_slice(b" OK done\r\n");
        if write.write_all(&out).await.is_err() {
            return;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let startup = first & 1 == 1;
    let chunks: Vec<Vec<u8>> = rest.split(|b| *b == 0).map(<[u8]>::to_vec).take(64).collect();
    runtime().block_on(async {
        let (client_io, server_io) = tokio::io::duplex(1 << 16);
        let serving = tokio::spawn(server(server_io, chunks));
        let mut client = async_imap::Client::new(source().patient(Box::new(client_io)));
        if client.read_response().await.ok().flatten().is_none() {
            return;
        }
        let Ok(mut session) = client.login("u", "p").await.map_err(|(e, _)| e) else {
            return;
        };
        let mut sink = Sink {
            cursor: (first & 2 == 2).then_some(Cursor {
                uidvalidity: 1,
                last_uid: u32::from(first >> 2),
            }),
        };
        let _ = source().process_folder(&mut session, &mut sink, startup).await;
        drop(session);
        serving.abort();
    });
});
