//! The checks of an installation (`klachtd check`): every precondition, in order — configuration,
//! store, templates, roles, the inbound mailbox, the outbound server — one line each with ✔ or
//! ✘ and, for each ✘, a plain fix. The daemon runs the local part ([`preflight`]) at start.

use crate::auth::diagnose::{self, Finding, Protocol};
use crate::auth::{LoginRefused, SmtpClient, TokenRefused};
use crate::inbound::imap::ImapSource;
use crate::settings::{InboundKind, OutboundKind, Settings, TlsMode};
use std::fmt;
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Free space below this on the store's file system is a ✘.
pub const MIN_FREE_BYTES: u64 = 50 * 1024 * 1024;

const NET_TIMEOUT: Duration = Duration::from_secs(15);

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub ok: bool,
    pub what: String,
    pub detail: String,
    pub fix: Option<String>,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.ok { '✔' } else { '✘' };
        write!(f, "{mark} {}: {}", self.what, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, " — fix: {fix}")?;
        }
        Ok(())
    }
}

/// All lines, in the order they were checked.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub lines: Vec<Line>,
}

impl Report {
    fn pass(&mut self, what: &str, detail: impl Into<String>) {
        self.lines.push(Line {
            ok: true,
            what: what.into(),
            detail: detail.into(),
            fix: None,
        });
    }

    fn fail(&mut self, what: &str, detail: impl Into<String>, fix: impl Into<String>) {
        self.lines.push(Line {
            ok: false,
            what: what.into(),
            detail: detail.into(),
            fix: Some(fix.into()),
        });
    }

    /// Every check passed.
    pub fn ok(&self) -> bool {
        self.lines.iter().all(|l| l.ok)
    }

    /// The first failing line.
    pub fn first_failure(&self) -> Option<&Line> {
        self.lines.iter().find(|l| !l.ok)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// Loads the configuration, reporting which file and which environment variables it came from.
pub fn configuration(
    file: Option<&Path>,
    env: &[(String, String)],
    report: &mut Report,
) -> Option<Settings> {
    let mut sources = vec!["built-in defaults".to_string()];
    if let Some(f) = file {
        sources.push(absolute(f).display().to_string());
    }
    let mut overrides: Vec<&str> = env
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| k.starts_with("KLACHTD__"))
        .collect();
    overrides.sort_unstable();
    let from = if overrides.is_empty() {
        sources.join(" + ")
    } else {
        format!(
            "{} + environment {}",
            sources.join(" + "),
            overrides.join(", ")
        )
    };
    match Settings::load_with_env(file, env.iter().cloned()) {
        Ok(s) => {
            report.pass("configuration", format!("{from}; every key valid"));
            Some(s)
        }
        Err(e) => {
            let msg = format!("{e:#}");
            report.fail(
                "configuration",
                format!("{from}: {msg}"),
                "correct that key (config/default.toml documents each one)",
            );
            None
        }
    }
}

/// The checks that need no network: store, templates, roles, the local mail directories.
pub fn local(settings: &Settings, report: &mut Report) {
    local_checks(settings, report, Integrity::WholeFile);
}

/// How much of the database a check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// `PRAGMA quick_check`: every page of the file (seconds on a register of 100,000 cases).
    WholeFile,
    /// The header and schema version only: a check that costs the same on any register.
    Header,
}

fn local_checks(settings: &Settings, report: &mut Report, integrity: Integrity) {
    store_with(&settings.store.path, report, integrity);
    templates(settings, report);
    roles(settings, report);
    sender_proof(settings, report);
    secrets(settings, report);
    if settings.inbound.kind == InboundKind::Maildir {
        writable_dir("inbound Maildir", &settings.inbound.maildir, report);
    }
    if settings.outbound.kind == OutboundKind::File {
        writable_dir("outbound directory", &settings.outbound.dir, report);
    }
}

/// A check that failed before start-up.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{line}")]
pub struct PreflightFailure {
    /// Which check (`store`, `templates`, `inbound Maildir`, …).
    pub what: String,
    pub line: String,
}

impl PreflightFailure {
    /// A failure the environment can mend while klachtd waits (the database cannot be
    /// opened or written, a directory is not writable), as opposed to a configuration that
    /// must be changed (templates, roles, secrets).
    pub fn mendable(&self) -> bool {
        matches!(
            self.what.as_str(),
            "store" | "inbound Maildir" | "outbound directory"
        )
    }
}

/// What klachtd checks before it runs: the local checks; the first failure stops it. Little
/// free space on the store's disk is only warned about: the writes themselves tell (a write
/// the disk cannot take loses nothing and is tried again). The daemon reads the whole file once
/// at start ([`Integrity::WholeFile`]); `run --once`, made to be run often, checks the header
/// only, so its cost does not grow with the register.
pub fn preflight(settings: &Settings, integrity: Integrity) -> Result<(), PreflightFailure> {
    let mut report = Report::default();
    local_checks(settings, &mut report, integrity);
    for line in report
        .lines
        .iter()
        .filter(|l| !l.ok && l.what == "store space")
    {
        tracing::warn!("{line}");
    }
    match report
        .lines
        .iter()
        .find(|l| !l.ok && l.what != "store space")
    {
        Some(line) => Err(PreflightFailure {
            what: line.what.clone(),
            line: line.to_string(),
        }),
        None => Ok(()),
    }
}

/// Everything, as `klachtd check [--send-test ADDRESS]` does it.
pub async fn all(file: Option<&Path>, env: &[(String, String)], send_test: Option<&str>) -> Report {
    let mut report = Report::default();
    let Some(settings) = configuration(file, env, &mut report) else {
        return report;
    };
    local(&settings, &mut report);
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let mut setup = Setup {
        age: crate::auth::setup_changed_at(&settings, file).map(|t| now - t),
        grace: chrono::Duration::minutes(i64::from(settings.alerts.login_grace_minutes)),
        token_wrong: false,
    };
    if settings.oauth2_mailbox().is_some() {
        oauth2(&settings, &mut report, &mut setup).await;
    }
    if settings.inbound.kind == InboundKind::Imap {
        imap(&settings, &mut report, &setup).await;
    }
    if settings.outbound.kind == OutboundKind::Smtp {
        smtp(&settings, &mut report, &setup).await;
    }
    if let Some(address) = send_test {
        crate::service::check::send_test(&settings, address, &mut report).await;
    }
    report
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
fn store(path: &Path, report: &mut Report) {
    store_with(path, report, Integrity::WholeFile)
}

fn store_with(path: &Path, report: &mut Report, integrity: Integrity) {
    let shown = absolute(path);
    let dir = shown
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    if !path.exists() {
        match nearest_existing(&dir) {
            Some(existing) if writable(&existing) => report.pass(
                "store",
                format!(
                    "{} does not exist yet; it is created at the first start",
                    shown.display()
                ),
            ),
            _ => report.fail(
                "store",
                format!("{} does not exist and cannot be created", shown.display()),
                format!(
                    "create {} writable for this user, or set store.path",
                    dir.display()
                ),
            ),
        }
        return;
    }
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return report.fail(
                "store",
                format!("{}: {e}", shown.display()),
                "check the path and its permissions",
            );
        }
    };
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me && me != 0 {
        return report.fail(
            "store",
            format!(
                "{} belongs to uid {}, klachtd runs as uid {me}",
                shown.display(),
                meta.uid()
            ),
            format!(
                "chown the file to klachtd's user: chown klachtd: {}",
                shown.display()
            ),
        );
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return report.fail(
            "store",
            format!(
                "{} is readable by others (mode {mode:o}); it holds complaints",
                shown.display()
            ),
            format!("chmod 600 {}", shown.display()),
        );
    }
    match crate::store::maintenance::inspect(path, integrity == Integrity::WholeFile) {
        // A full or read-only disk is no damage: restoring a backup would be the wrong cure.
        Err(e) if crate::store::is_unwritable(&e) => report.fail(
            "store",
            format!(
                "{}: cannot be read now — its disk is full or read-only ({e:#})",
                shown.display()
            ),
            format!(
                "free space on the file system of {} or make it writable; nothing is lost meanwhile",
                dir.display()
            ),
        ),
        Err(e) => report.fail(
            "store",
            format!("{}: {e:#}", shown.display()),
            "restore the last backup (klachtd restore FILE)",
        ),
        Ok(i) if !i.intact => report.fail(
            "store",
            format!("{} fails SQLite's integrity check", shown.display()),
            "stop klachtd and restore the last backup (klachtd restore FILE)",
        ),
        Ok(i) if i.version > crate::store::maintenance::schema_version() => report.fail(
            "store",
            format!(
                "{} has schema {}, from a newer klachtd (this one knows {})",
                shown.display(),
                i.version,
                crate::store::maintenance::schema_version()
            ),
            "run the newer klachtd, or restore a backup made by this version",
        ),
        Ok(i) => {
            let known = crate::store::maintenance::schema_version();
            let schema = if i.version < known {
                format!(
                    "schema {} (migrated to {known} at the next start)",
                    i.version
                )
            } else {
                format!("schema {known}")
            };
            match free_bytes(&dir) {
                Some(free) if free < MIN_FREE_BYTES => report.fail(
                    "store space",
                    format!(
                        "{}: only {} MB free on its file system",
                        shown.display(),
                        free / 1_048_576
                    ),
                    format!("free disk space on the file system of {}", dir.display()),
                ),
                free => report.pass(
                    "store",
                    format!(
                        "{}, mode {mode:o}, {schema}, intact{}",
                        shown.display(),
                        free.map(|f| format!(", {} MB free", f / 1_048_576))
                            .unwrap_or_default()
                    ),
                ),
            }
        }
    }
}

fn nearest_existing(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find(|d| d.exists()).map(Path::to_path_buf)
}

fn writable(dir: &Path) -> bool {
    rustix::fs::access(
        dir,
        rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
    )
    .is_ok()
}

fn free_bytes(dir: &Path) -> Option<u64> {
    let at = nearest_existing(dir)?;
    let st = rustix::fs::statvfs(&at).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

fn writable_dir(what: &str, dir: &Path, report: &mut Report) {
    let shown = absolute(dir);
    match nearest_existing(&shown) {
        Some(existing) if writable(&existing) => report.pass(
            what,
            if existing == shown {
                format!("{} is writable", shown.display())
            } else {
                format!("{} is created at the first start", shown.display())
            },
        ),
        _ => report.fail(
            what,
            format!("{} is not writable for this user", shown.display()),
            format!(
                "create it, owned by klachtd's user: install -d -m 700 {}",
                shown.display()
            ),
        ),
    }
}

fn templates(settings: &Settings, report: &mut Report) {
    let dir = &settings.templates.dir;
    let known: Vec<String> = crate::outbound::Template::ALL
        .iter()
        .flat_map(|t| {
            ["subject", "txt", "html"].map(move |part| format!("{}.{part}.tera", t.name()))
        })
        .collect();
    let mut overridden = 0;
    let mut unknown = Vec::new();
    for lang in ["nl", "en"] {
        let Ok(entries) = std::fs::read_dir(dir.join(lang)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if known.contains(&name) {
                overridden += 1;
            } else if name.ends_with(".tera") {
                unknown.push(format!("{lang}/{name}"));
            }
        }
    }
    match crate::outbound::Renderer::load(Some(dir)) {
        Err(e) => report.fail(
            "templates",
            format!("{e:#}"),
            format!(
                "correct that template in {}, or remove it to use the built-in one",
                dir.display()
            ),
        ),
        Ok(_) if !unknown.is_empty() => report.fail(
            "templates",
            format!(
                "{} in {} are not template names klachtd knows, so they are never used",
                unknown.join(", "),
                absolute(dir).display()
            ),
            "rename each to the built-in name it should replace (templates/nl lists them)",
        ),
        Ok(_) => report.pass(
            "templates",
            if overridden == 0 {
                "the built-in set".to_string()
            } else {
                format!(
                    "the built-in set, {overridden} file(s) from {}, all parse",
                    absolute(dir).display()
                )
            },
        ),
    }
}

/// The files holding passwords, the client secret and the refresh token: readable, private
/// (0600), and — for a refresh token the provider rotates — rewritable where they are.
fn secrets(settings: &Settings, report: &mut Report) {
    use crate::settings::TokenSourceKind;
    let credentials = crate::auth::credential_files(settings);
    let mut files: Vec<(&str, &Path, bool)> = credential_files_checked(&credentials);
    if settings.oauth2_mailbox().is_some() {
        let o = &settings.oauth2;
        if let Some(p) = o
            .refresh_token_file
            .as_deref()
            .filter(|_| o.source == TokenSourceKind::RefreshToken)
        {
            files.push(("oauth2.refresh_token_file", p, true));
        }
    }
    if files.is_empty() {
        return;
    }
    for (key, path, rewritten) in &files {
        let shown = absolute(path);
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if *key == "oauth2.refresh_token_file" => {
                return report.fail(
                    "secrets",
                    format!("{key} {}: {e}", shown.display()),
                    "run `klachtd oauth2 login` as klachtd's user: it signs in and writes this \
                     file (mode 0600)",
                );
            }
            Err(e) => {
                return report.fail(
                    "secrets",
                    format!("{key} {}: {e}", shown.display()),
                    format!(
                        "create it, mode 0600, owned by klachtd's user: install -m 600 -o klachtd /dev/null {}",
                        shown.display()
                    ),
                );
            }
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return report.fail(
                "secrets",
                format!(
                    "{key} {} is readable by others (mode {mode:o})",
                    shown.display()
                ),
                format!("chmod 600 {}", shown.display()),
            );
        }
        if rustix::fs::access(*path, rustix::fs::Access::READ_OK).is_err() {
            return report.fail(
                "secrets",
                format!("{key} {} cannot be read by this user", shown.display()),
                format!(
                    "chown it to klachtd's user: chown klachtd: {}",
                    shown.display()
                ),
            );
        }
        let dir = shown.parent().unwrap_or(Path::new("/"));
        if *rewritten && !writable(dir) {
            return report.fail(
                "secrets",
                format!(
                    "{key} {}: klachtd rewrites it when the provider rotates the token, but {} \
                     is not writable for it",
                    shown.display(),
                    dir.display()
                ),
                "keep the refresh token in klachtd's state directory, e.g. \
                 /var/lib/klachtd/oauth2-refresh-token",
            );
        }
    }
    let keys: Vec<&str> = files.iter().map(|(k, _, _)| *k).collect();
    report.pass(
        "secrets",
        format!("{}: private (0600) and readable", keys.join(", ")),
    );
}

/// The credential files whose mode matters: all but the certificate, which is public.
fn credential_files_checked<'a>(
    files: &'a [(&'static str, PathBuf)],
) -> Vec<(&'static str, &'a Path, bool)> {
    files
        .iter()
        .filter(|(key, _)| *key != "oauth2.certificate_file")
        .map(|(key, path)| (*key, path.as_path(), false))
        .collect()
}

fn roles(settings: &Settings, report: &mut Report) {
    let r = &settings.roles;
    let ours = &settings.organisation.address;
    let everyone = r
        .staff
        .iter()
        .chain([&r.director, &r.committee])
        .chain(r.names.values());
    if let Some(loop_) = everyone.into_iter().find(|a| *a == ours) {
        return report.fail(
            "roles",
            format!("{loop_} is also organisation.address: klachtd would mail itself"),
            "give each role a person's own address",
        );
    }
    report.pass(
        "roles",
        format!(
            "{} staff ({}), director {}, committee {}",
            r.staff.len(),
            r.staff
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            r.director,
            r.committee
        ),
    );
}

/// Which sender-proof rules are active (`security.platform`; docs/sender-proof.md).
fn sender_proof(settings: &Settings, report: &mut Report) {
    use crate::inbound::server_evidence::Receiver;
    let always = "evidence against a sender (dmarc=fail, or SPF/DKIM failing for its domain) counts from every header";
    let detail = match Receiver::configured(&settings.security) {
        Receiver::Untrusted => format!(
            "tokens only (security.platform = \"own-server\", no trusted_authserv_id): a reply to klachtd's mail proves itself by its reply address; staff mail written new is held until its sender confirms; {always}"
        ),
        Receiver::OwnServer { authserv_id, .. } => format!(
            "tokens, and {authserv_id}'s own Authentication-Results (auth=pass as the sender decides; dmarc=pass or DKIM pass aligned with the sender's domain), read above its own Received line; {always}. Check that {authserv_id} removes incoming Authentication-Results with its id (docs/sender-proof.md)"
        ),
        Receiver::Microsoft365 => format!(
            "tokens, Exchange Online's Authentication-Results (dmarc=pass or DKIM pass aligned with the sender's domain; compauth=fail counts against) and X-MS-Exchange-Organization-AuthAs: Internal; {always}"
        ),
        Receiver::Google => format!(
            "tokens and mx.google.com's Authentication-Results (dmarc=pass or DKIM pass aligned with the sender's domain); {always}"
        ),
    };
    report.pass("sender proof", detail);
}

/// DNS, then TCP: returns false (after a ✘ line) when the server cannot be reached.
async fn reach(what: &str, key: &str, host: &str, port: u16, report: &mut Report) -> bool {
    let addrs: Vec<SocketAddr> =
        match tokio::time::timeout(NET_TIMEOUT, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => {
                report.fail(
                    &format!("{what} DNS"),
                    format!("{host} does not resolve: {e}"),
                    format!("check {key}.host"),
                );
                return false;
            }
            Err(_) => {
                report.fail(
                    &format!("{what} DNS"),
                    format!("looking up {host} timed out"),
                    "check the machine's DNS resolver",
                );
                return false;
            }
        };
    let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    report.pass(
        &format!("{what} DNS"),
        format!("{host} is {}", shown.join(", ")),
    );
    match tokio::time::timeout(NET_TIMEOUT, tokio::net::TcpStream::connect(&addrs[..])).await {
        Ok(Ok(_)) => {
            report.pass(
                &format!("{what} TCP"),
                format!("{host}:{port} accepts connections"),
            );
            true
        }
        Ok(Err(e)) => {
            report.fail(
                &format!("{what} TCP"),
                format!("cannot reach {host}:{port}: {e}"),
                format!("check {key}.port and that a firewall lets klachtd out to it"),
            );
            false
        }
        Err(_) => {
            report.fail(
                &format!("{what} TCP"),
                format!("{host}:{port} did not answer"),
                format!("check {key}.port and that a firewall lets klachtd out to it"),
            );
            false
        }
    }
}

fn tls_label(mode: TlsMode) -> &'static str {
    match mode {
        TlsMode::Implicit => "implicit TLS",
        TlsMode::Starttls => "STARTTLS",
        TlsMode::None => "no TLS",
    }
}

async fn imap(settings: &Settings, report: &mut Report, setup: &Setup) {
    let s = &settings.inbound.imap;
    if !reach("IMAP", "inbound.imap", &s.host, s.port, report).await {
        return;
    }
    let source = match ImapSource::from_settings(s) {
        Ok(source) => source,
        Err(e) => {
            return report.fail(
                "IMAP login",
                format!("{e:#}"),
                "correct inbound.imap (password or [oauth2])",
            );
        }
    };
    let session = tokio::time::timeout(NET_TIMEOUT * 2, source.connect()).await;
    let mut session = match session {
        Err(_) => {
            return report.fail(
                "IMAP TLS",
                format!("{}:{} did not complete the handshake", s.host, s.port),
                "check inbound.imap.tls and inbound.imap.port (993 implicit, 143 starttls)",
            );
        }
        Ok(Err(e)) => {
            let msg = format!("{e:#}");
            if msg.contains("TLS handshake") || msg.contains("STARTTLS") {
                return report.fail(
                    "IMAP TLS",
                    msg,
                    "check inbound.imap.tls and port; for a private CA set inbound.imap.ca_file",
                );
            }
            report.pass(
                "IMAP TLS",
                format!("{}, certificate valid", tls_label(s.tls)),
            );
            if let Some(t) = e.downcast_ref::<TokenRefused>() {
                let f = judge(t.protocol, &t.answer, &t.user, settings, setup);
                return report.fail("IMAP login", f.detail, f.fix);
            }
            if e.downcast_ref::<crate::auth::token::GrantRefused>()
                .is_some()
            {
                return report.fail(
                    "IMAP login",
                    "no OAuth2 token to log in with (see the OAuth2 token line)",
                    "fix what the OAuth2 token line says",
                );
            }
            let fix = if e.downcast_ref::<LoginRefused>().is_some() {
                "correct the credentials (inbound.imap.password…, or [oauth2]; docs/oauth2.md)"
            } else {
                "see the message; klachtd check again once fixed"
            };
            return report.fail("IMAP login", msg, fix);
        }
        Ok(Ok(session)) => session,
    };
    report.pass(
        "IMAP TLS",
        format!("{}, certificate valid", tls_label(s.tls)),
    );
    report.pass(
        "IMAP login",
        format!("as {} ({:?})", s.username, s.auth).to_lowercase(),
    );
    match session.examine(&s.folder).await {
        Ok(mailbox) => report.pass(
            "IMAP folder",
            format!("{} exists ({} messages)", s.folder, mailbox.exists),
        ),
        Err(e)
            if s.auth == crate::settings::AuthKind::Oauth2
                && crate::auth::mailbox_refused(&anyhow::Error::msg(e.to_string())) =>
        {
            let f = judge(Protocol::Imap, &e.to_string(), &s.username, settings, setup);
            report.fail("IMAP folder", f.detail, f.fix)
        }
        Err(e) => report.fail(
            "IMAP folder",
            format!("{} cannot be opened: {e}", s.folder),
            "set inbound.imap.folder to an existing folder (usually INBOX)",
        ),
    }
    for (key, folder) in [
        ("processed_folder", &s.processed_folder),
        ("quarantine_folder", &s.quarantine_folder),
    ] {
        if folder.is_empty() {
            continue;
        }
        let exists = match session.list(None, Some(folder)).await {
            Ok(stream) => {
                use futures::TryStreamExt;
                let names: Vec<_> = stream.try_collect().await.unwrap_or_default();
                !names.is_empty()
            }
            Err(_) => false,
        };
        if exists {
            report.pass("IMAP folder", format!("{folder} exists"));
        } else {
            report.fail(
                "IMAP folder",
                format!("{folder} does not exist and could not be created"),
                format!("create it in the mailbox, or set inbound.imap.{key}"),
            );
        }
    }
    match session.capabilities().await {
        Ok(caps) if caps.has_str("IDLE") => {
            report.pass("IMAP IDLE", "supported: new mail is seen at once")
        }
        Ok(_) => report.pass(
            "IMAP IDLE",
            format!(
                "not offered by the server: klachtd polls every {} s",
                s.poll_seconds
            ),
        ),
        Err(e) => report.fail(
            "IMAP IDLE",
            format!("CAPABILITY failed: {e}"),
            "see the server's log",
        ),
    }
    let _ = session.logout().await;
}

async fn smtp(settings: &Settings, report: &mut Report, setup: &Setup) {
    let s = &settings.outbound.smtp;
    if !reach("SMTP", "outbound.smtp", &s.host, s.port, report).await {
        return;
    }
    let transport = match crate::outbound::Transport::from_settings(&settings.outbound) {
        Ok(crate::outbound::Transport::Smtp(client, _)) => client,
        Ok(_) => return,
        Err(e) => {
            return report.fail(
                "SMTP login",
                format!("{e:#}"),
                "correct outbound.smtp (password or [oauth2])",
            );
        }
    };
    smtp_login(&transport, settings, report, setup).await;
}

async fn smtp_login(client: &SmtpClient, settings: &Settings, report: &mut Report, setup: &Setup) {
    let s = &settings.outbound.smtp;
    match client.test_login().await {
        Ok(true) => {
            report.pass(
                "SMTP TLS",
                format!("{}, certificate valid", tls_label(s.tls)),
            );
            let who = s
                .username
                .as_ref()
                .map(|u| format!("as {u} ({:?})", s.auth).to_lowercase())
                .unwrap_or_else(|| "no login configured".into());
            report.pass("SMTP login", who);
            let from = settings.organisation.address.as_str();
            match client.probe_sender(from).await {
                Ok(()) => report.pass("SMTP sender", format!("the server takes mail from {from}")),
                Err(e) => match diagnose::server_answer(
                    Protocol::Smtp,
                    &format!("{e:#}"),
                    s.username.as_deref().unwrap_or(from),
                ) {
                    Some(f) => report.fail("SMTP sender", f.detail, f.fix),
                    None => report.fail(
                        "SMTP sender",
                        format!("{e:#}"),
                        "let organisation.address send through this server (Send As for the \
                         mailbox, or the account's own address as organisation.address)",
                    ),
                },
            }
        }
        Ok(false) => report.fail(
            "SMTP",
            "the server did not answer NOOP",
            "check outbound.smtp.host and port",
        ),
        Err(e) => {
            // A refused certificate surfaces as lettre's TLS error or, during STARTTLS, as a
            // connection error naming the certificate.
            let tls = matches!(&e, crate::auth::SmtpSendError::Smtp(inner)
                if inner.is_tls() || inner.to_string().contains("certificate"));
            if tls {
                report.fail(
                    "SMTP TLS",
                    e.to_string(),
                    "check outbound.smtp.tls and port (587 starttls, 465 implicit); for a \
                     private CA set outbound.smtp.ca_file",
                );
            } else if e.is_login_refused() {
                report.pass(
                    "SMTP TLS",
                    format!("{}, certificate valid", tls_label(s.tls)),
                );
                let oauth2 = s.auth == crate::settings::AuthKind::Oauth2;
                match &e {
                    crate::auth::SmtpSendError::Token(_) => report.fail(
                        "SMTP login",
                        "no OAuth2 token to log in with (see the OAuth2 token line)",
                        "fix what the OAuth2 token line says",
                    ),
                    _ if oauth2 => {
                        let user = s.username.clone().unwrap_or_default();
                        let words = crate::auth::smtp_words(&e.to_string());
                        let f = judge(Protocol::Smtp, &words, &user, settings, setup);
                        report.fail("SMTP login", f.detail, f.fix);
                    }
                    _ => report.fail(
                        "SMTP login",
                        e.to_string(),
                        "correct the credentials (outbound.smtp.password…, or [oauth2]; \
                         docs/oauth2.md)",
                    ),
                }
            } else {
                report.fail(
                    "SMTP",
                    e.to_string(),
                    "see the message; check again once fixed",
                );
            }
        }
    }
}

/// What `check` knows of the OAuth2 set-up when it judges a refused login.
struct Setup {
    /// How long ago the configuration or a credential file last changed.
    age: Option<chrono::Duration>,
    /// `alerts.login_grace_minutes`: how long a provider may take to apply a change.
    grace: chrono::Duration,
    /// The token itself was found wrong (another tenant or app, no permission): a server's
    /// refusal then needs no other explanation.
    token_wrong: bool,
}

/// A server's refusal of a fresh token, judged: the cause its words name; the token's own
/// fault when the OAuth2 lines found one; "not yet active" when the set-up is recent; else the
/// provider-side settings that each give this answer.
fn judge(
    protocol: Protocol,
    answer: &str,
    user: &str,
    settings: &Settings,
    setup: &Setup,
) -> Finding {
    let named = diagnose::server_answer(protocol, answer, user);
    let ambiguous = named
        .as_ref()
        .is_none_or(|f| f.cause == diagnose::Cause::MailboxAccessMissing);
    if ambiguous && setup.token_wrong {
        return Finding {
            cause: diagnose::Cause::Other,
            detail: format!(
                "the server refused the token ({}), which is wrong itself",
                answer.trim()
            ),
            fix: "fix what the OAuth2 lines above say first".into(),
        };
    }
    match named {
        Some(f) if !ambiguous => f,
        Some(f) if setup.age.is_none_or(|a| a >= setup.grace) => f,
        _ => diagnose::unexplained(
            protocol,
            answer,
            user,
            Some(&settings.oauth2),
            setup.age,
            setup.grace,
        ),
    }
}

/// The OAuth2 lines: the configuration, the certificate or service account key, and a token —
/// obtained, and what its claims say against the configuration.
async fn oauth2(settings: &Settings, report: &mut Report, setup: &mut Setup) {
    use crate::settings::{AuthKind, TokenSourceKind};
    let o = &settings.oauth2;
    for f in diagnose::configuration(o) {
        setup.token_wrong = true;
        report.fail("OAuth2 settings", f.detail, f.fix);
    }
    match o.source {
        TokenSourceKind::ClientCertificate => match crate::auth::grants::certificate_credentials(o)
        {
            Ok((_, cert)) => report.pass(
                "OAuth2 certificate",
                format!(
                    "{} and its key; SHA-1 thumbprint {} (the app registration must list it \
                     under Certificates & secrets → Certificates)",
                    o.certificate_file
                        .as_deref()
                        .map(|p| absolute(p).display().to_string())
                        .unwrap_or_default(),
                    cert.sha1_hex()
                ),
            ),
            Err(e) => {
                setup.token_wrong = true;
                report.fail(
                    "OAuth2 certificate",
                    format!("{e:#}"),
                    "give the PEM certificate uploaded to the app registration and its own \
                     private key (docs/oauth2.md, certificate)",
                );
            }
        },
        TokenSourceKind::ServiceAccount => {
            let read = o.service_account_key_file.as_deref().map(|p| {
                std::fs::read_to_string(p)
                    .map_err(anyhow::Error::from)
                    .and_then(|t| crate::auth::jwt::ServiceAccountKey::from_json(&t))
                    .map_err(|e| e.context(format!("{}", absolute(p).display())))
            });
            match read {
                Some(Ok(key)) => report.pass(
                    "OAuth2 service account",
                    format!(
                        "{} acts as {}",
                        key.client_email,
                        o.impersonate.as_deref().unwrap_or_default()
                    ),
                ),
                Some(Err(e)) => {
                    setup.token_wrong = true;
                    report.fail(
                        "OAuth2 service account",
                        format!("{e:#}"),
                        "download a JSON key of the service account (Cloud console → IAM & \
                         Admin → Service accounts → Keys → Add key → JSON)",
                    );
                }
                None => {}
            }
        }
        _ => {}
    }
    let tokens = crate::auth::token::shared(o);
    let facts = match tokio::time::timeout(NET_TIMEOUT * 2, tokens.facts()).await {
        Err(_) => {
            setup.token_wrong = true;
            return report.fail(
                "OAuth2 token",
                "the token endpoint did not answer in time",
                "check that this server may reach the provider (https, port 443)",
            );
        }
        Ok(Err(e)) => {
            setup.token_wrong = true;
            let msg = format!("{e:#}");
            let (detail, fix) = match msg.split_once(" — fix: ") {
                Some((d, f)) => (d.to_string(), f.to_string()),
                None => (
                    msg,
                    "see the message; docs/oauth2.md lists the causes".to_string(),
                ),
            };
            return report.fail("OAuth2 token", detail, fix);
        }
        Ok(Ok(facts)) => facts,
    };
    let mailbox = settings.oauth2_mailbox().unwrap_or_default();
    let imap = settings.inbound.kind == InboundKind::Imap
        && settings.inbound.imap.auth == AuthKind::Oauth2;
    let smtp = settings.outbound.kind == OutboundKind::Smtp
        && settings.outbound.smtp.auth == AuthKind::Oauth2;
    let mut findings = facts
        .claims
        .as_ref()
        .map(|c| diagnose::claims(c, o, &mailbox, imap, smtp))
        .unwrap_or_default();
    if o.source == TokenSourceKind::RefreshToken
        && let Some(granted) = facts.scope.as_deref()
    {
        let missing = diagnose::missing_scopes(&o.scopes, Some(granted), true);
        if !missing.is_empty() && facts.claims.is_none() {
            findings.push(Finding {
                cause: diagnose::Cause::PermissionMissing,
                detail: format!("the token grants {granted}, not {}", missing.join(", ")),
                fix: "run `klachtd oauth2 login` again and accept every permission asked".into(),
            });
        }
    }
    report.pass("OAuth2 token", describe_token(o, &facts));
    for f in findings {
        setup.token_wrong = true;
        report.fail("OAuth2 token", f.detail, f.fix);
    }
}

/// What a token is, in one line: where from, and what its claims or scope say.
fn describe_token(o: &crate::settings::OAuth2, facts: &crate::auth::token::TokenFacts) -> String {
    let mut out = format!("obtained ({})", crate::auth::source_name(o.source));
    if let Some(c) = &facts.claims {
        let text = |k: &str| {
            c.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let roles: Vec<String> = c
            .get("roles")
            .and_then(|r| r.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let granted = if roles.is_empty() {
            text("scp")
        } else {
            roles.join(" ")
        };
        for (label, value) in [
            ("tenant", text("tid")),
            (
                "app",
                [text("appid"), text("azp")]
                    .into_iter()
                    .find(|a| !a.is_empty())
                    .unwrap_or_default(),
            ),
            ("for", text("aud")),
            (
                "user",
                [text("upn"), text("unique_name")]
                    .into_iter()
                    .find(|a| !a.is_empty())
                    .unwrap_or_default(),
            ),
            ("permissions", granted),
        ] {
            if !value.is_empty() {
                out.push_str(&format!(", {label} {value}"));
            }
        }
    } else if let Some(scope) = &facts.scope {
        out.push_str(&format!(", scope {scope}"));
    }
    out
}

/// Sends one test mail to `address` through the configured transport (not the outbox).
pub async fn send_test(settings: &Settings, address: &str, report: &mut Report) {
    match send_test_mail(settings, address).await {
        Ok(message_id) => report.pass(
            "test mail",
            format!("sent to {address} (Message-ID <{message_id}>); look for it there"),
        ),
        Err(e) => report.fail(
            "test mail",
            format!("to {address}: {e:#}"),
            "if the server refused our From, let organisation.address send through it",
        ),
    }
}

async fn send_test_mail(settings: &Settings, address: &str) -> anyhow::Result<String> {
    use crate::outbound::{AutoSubmitted, Draft, Template, compose};
    let to: crate::domain::EmailAddress = address
        .parse()
        .map_err(|e| anyhow::anyhow!("{address} is not an e-mail address: {e}"))?;
    let renderer = crate::outbound::Renderer::load(Some(&settings.templates.dir))?;
    let lang = settings.organisation.language;
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let mut context = tera::Context::new();
    context.insert("organisation", &settings.organisation.name);
    context.insert(
        "sent",
        &crate::outbound::templates::long_datetime(now, settings.timezone(), lang),
    );
    let server = match settings.outbound.kind {
        OutboundKind::Smtp => settings.outbound.smtp.host.clone(),
        OutboundKind::File => absolute(&settings.outbound.dir).display().to_string(),
    };
    context.insert("server", &server);
    let rendered = renderer.render(Template::TestMail, lang, &context)?;
    let ours = &settings.organisation.address;
    let draft = Draft {
        from: compose::mailbox(ours, Some(&settings.organisation.sender_name))?,
        to: vec![compose::mailbox(&to, None)?],
        reply_to: None,
        case: None,
        rendered: &rendered,
        in_reply_to: None,
        references: &[],
        attachments: &[],
        auto_submitted: AutoSubmitted::AutoGenerated,
    };
    let message_id = compose::new_message_id(None, "test", ours.domain());
    let raw = compose::build(&draft, &message_id, now)?;
    let transport = crate::outbound::Transport::from_settings(&settings.outbound)?;
    let mail = crate::store::QueuedMail {
        id: 0,
        message_id: message_id.clone(),
        case: None,
        kind: crate::store::OutboxKind::DirectorNotice,
        envelope_from: ours.to_string(),
        recipients: vec![to.to_string()],
        raw,
        status: crate::store::OutboxStatus::Queued,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        created_at: now,
        sent_at: None,
    };
    transport.send(&mail).await?;
    Ok(message_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_bad_key_is_one_failing_line_naming_it_and_nothing_else_runs() {
        let report = block(all(None, &env(&[("KLACHTD__RETENTION__YEARS", "0")]), None));
        assert_eq!(report.lines.len(), 1);
        assert!(!report.ok());
        let text = report.to_string();
        assert!(
            text.starts_with("✘ configuration:") && text.contains("retention.years"),
            "{text}"
        );
        assert!(
            text.contains("KLACHTD__RETENTION__YEARS"),
            "names where it came from"
        );
    }

    #[test]
    fn a_fresh_installation_passes_and_names_where_things_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("var/k.sqlite");
        let e = env(&[
            ("KLACHTD__STORE__PATH", store.to_str().unwrap()),
            (
                "KLACHTD__INBOUND__MAILDIR",
                dir.path().join("mail").to_str().unwrap(),
            ),
            (
                "KLACHTD__OUTBOUND__DIR",
                dir.path().join("out").to_str().unwrap(),
            ),
            (
                "KLACHTD__TEMPLATES__DIR",
                dir.path().join("t").to_str().unwrap(),
            ),
        ]);
        let report = block(all(None, &e, None));
        assert!(report.ok(), "{report}");
        let text = report.to_string();
        assert!(
            text.contains(&format!("{} does not exist yet", store.display())),
            "{text}"
        );
        assert!(text.contains("✔ templates: the built-in set"), "{text}");
        assert!(text.contains("✔ sender proof: tokens only"), "{text}");
    }

    #[test]
    fn the_sender_proof_line_names_the_rules_of_each_platform() {
        for (platform, id, expected) in [
            (
                "own-server",
                Some("mx.example.org"),
                "mx.example.org's own Authentication-Results",
            ),
            (
                "microsoft365",
                None,
                "X-MS-Exchange-Organization-AuthAs: Internal",
            ),
            ("google", None, "mx.google.com's Authentication-Results"),
        ] {
            let mut pairs = vec![("KLACHTD__SECURITY__PLATFORM", platform)];
            if let Some(id) = id {
                pairs.push(("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", id));
            }
            let settings = Settings::load_with_env(None, env(&pairs)).unwrap();
            let mut report = Report::default();
            sender_proof(&settings, &mut report);
            let text = report.to_string();
            assert!(text.contains(expected), "{platform}: {text}");
        }
        let refused = Settings::load_with_env(
            None,
            env(&[
                ("KLACHTD__SECURITY__PLATFORM", "google"),
                ("KLACHTD__SECURITY__TRUSTED_AUTHSERV_ID", "mx.example.org"),
            ]),
        );
        assert!(format!("{:#}", refused.unwrap_err()).contains("only for security.platform"));
    }

    #[test]
    fn a_store_readable_by_others_fails_with_the_chmod_that_fixes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.sqlite");
        drop(crate::store::Store::open(&path).unwrap());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut report = Report::default();
        store(&path, &mut report);
        assert!(!report.ok());
        assert!(
            report
                .to_string()
                .contains(&format!("chmod 600 {}", path.display()))
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut report = Report::default();
        store(&path, &mut report);
        assert!(report.ok(), "{report}");
        assert!(report.to_string().contains("intact"));
    }

    #[test]
    fn a_corrupt_store_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.sqlite");
        std::fs::write(&path, b"this is not a database at all, but sixteen+ bytes").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut report = Report::default();
        store(&path, &mut report);
        assert!(!report.ok());
        assert!(report.to_string().contains("klachtd restore"), "{report}");
    }

    #[test]
    fn a_misnamed_template_override_fails() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("nl")).unwrap();
        std::fs::write(dir.path().join("nl/acknowledgment.txt.tera"), "x").unwrap();
        let mut s = Settings::load_with_env(None, Vec::new()).unwrap();
        s.templates.dir = dir.path().to_path_buf();
        let mut report = Report::default();
        templates(&s, &mut report);
        assert!(
            report.to_string().contains("nl/acknowledgment.txt.tera"),
            "{report}"
        );
        assert!(!report.ok());
        std::fs::remove_file(dir.path().join("nl/acknowledgment.txt.tera")).unwrap();
        std::fs::write(dir.path().join("nl/acknowledgement.txt.tera"), "{% if %}").unwrap();
        let mut report = Report::default();
        templates(&s, &mut report);
        assert!(!report.ok(), "a template that does not parse fails");
    }

    #[test]
    fn a_password_file_others_can_read_fails_with_its_chmod() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("imap-password");
        std::fs::write(&file, "secret\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let s = Settings::load_with_env(
            None,
            env(&[
                ("KLACHTD__INBOUND__KIND", "imap"),
                (
                    "KLACHTD__INBOUND__IMAP__PASSWORD_FILE",
                    file.to_str().unwrap(),
                ),
            ]),
        )
        .unwrap();
        let mut report = Report::default();
        secrets(&s, &mut report);
        assert!(!report.ok());
        let text = report.to_string();
        assert!(
            text.contains(&format!("chmod 600 {}", file.display())),
            "{text}"
        );
        assert!(!text.contains("secret\n"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut report = Report::default();
        secrets(&s, &mut report);
        assert!(report.ok(), "{report}");
        std::fs::remove_file(&file).unwrap();
        let mut report = Report::default();
        secrets(&s, &mut report);
        assert!(report.to_string().contains("install -m 600"), "{report}");
    }

    #[test]
    fn a_role_at_our_own_address_fails() {
        let s = Settings::load_with_env(
            None,
            env(&[("KLACHTD__ROLES__DIRECTOR", "info@example.org")]),
        )
        .unwrap();
        let mut report = Report::default();
        roles(&s, &mut report);
        assert!(!report.ok());
        assert!(report.to_string().contains("would mail itself"));
    }

    #[test]
    fn an_unreachable_server_fails_at_tcp_and_stops_there() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(); // closed again at once: nobody listens there
        let mut report = Report::default();
        let reached = block(reach(
            "IMAP",
            "inbound.imap",
            "127.0.0.1",
            port,
            &mut report,
        ));
        assert!(!reached);
        assert_eq!(report.lines.len(), 2);
        assert!(report.lines[0].ok, "DNS of an IP literal passes");
        assert!(
            report.lines[1]
                .to_string()
                .starts_with("✘ IMAP TCP: cannot reach 127.0.0.1")
        );
    }

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    proptest! {
        /// A report passes exactly when every line does, and every ✘ line carries a fix.
        #[test]
        fn a_report_passes_only_when_every_line_passes(oks in proptest::collection::vec(any::<bool>(), 0..12)) {
            let mut report = Report::default();
            for (i, ok) in oks.iter().enumerate() {
                if *ok { report.pass("x", format!("{i}")) } else { report.fail("x", format!("{i}"), "do y") }
            }
            prop_assert_eq!(report.ok(), oks.iter().all(|o| *o));
            let text = report.to_string();
            prop_assert_eq!(text.lines().count(), oks.len());
            for (line, ok) in text.lines().zip(&oks) {
                prop_assert_eq!(line.starts_with('✔'), *ok);
                prop_assert_eq!(line.contains("— fix: "), !*ok);
            }
        }
    }
}
