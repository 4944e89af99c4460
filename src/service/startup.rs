//! The daemon's first log lines: where it reads its configuration, which store it uses, which
//! mailbox it watches and where its mail goes — so an administrator reading the journal knows
//! at once what this instance is looking at.

use crate::settings::{AuthKind, InboundKind, OutboundKind, Settings, TlsMode};
use std::path::{Path, PathBuf};

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn tls(mode: TlsMode) -> &'static str {
    match mode {
        TlsMode::Implicit => "implicit TLS",
        TlsMode::Starttls => "STARTTLS",
        TlsMode::None => "no TLS",
    }
}

fn auth(kind: AuthKind) -> &'static str {
    match kind {
        AuthKind::Password => "password",
        AuthKind::Oauth2 => "OAuth2",
    }
}

/// The lines, as (topic, text); secrets never appear (only variable names, not values).
pub fn describe(
    settings: &Settings,
    file: Option<&Path>,
    env_keys: &[String],
) -> Vec<(&'static str, String)> {
    let mut config = vec!["built-in defaults".to_string()];
    if let Some(f) = file {
        config.push(absolute(f).display().to_string());
    }
    let mut vars: Vec<&str> = env_keys
        .iter()
        .map(String::as_str)
        .filter(|k| k.starts_with("KLACHTD__"))
        .collect();
    vars.sort_unstable();
    if !vars.is_empty() {
        config.push(format!("environment {}", vars.join(", ")));
    }
    let mailbox = match settings.inbound.kind {
        InboundKind::Maildir => {
            format!("Maildir {}", absolute(&settings.inbound.maildir).display())
        }
        InboundKind::Imap => {
            let i = &settings.inbound.imap;
            format!(
                "IMAP {}:{} ({}) folder {} as {} ({} login)",
                i.host,
                i.port,
                tls(i.tls),
                i.folder,
                i.username,
                auth(i.auth)
            )
        }
    };
    let transport = match settings.outbound.kind {
        OutboundKind::File => format!(
            ".eml files in {}",
            absolute(&settings.outbound.dir).display()
        ),
        OutboundKind::Smtp => {
            let s = &settings.outbound.smtp;
            match &s.username {
                Some(u) => format!(
                    "SMTP {}:{} ({}) as {u} ({} login)",
                    s.host,
                    s.port,
                    tls(s.tls),
                    auth(s.auth)
                ),
                None => format!("SMTP {}:{} ({}), no login", s.host, s.port, tls(s.tls)),
            }
        }
    };
    vec![
        ("configuration", config.join(" + ")),
        (
            "store",
            absolute(&settings.store.path).display().to_string(),
        ),
        ("mailbox", mailbox),
        ("transport", transport),
    ]
}

/// Logs [`describe`]'s lines at info.
pub fn log(settings: &Settings, file: Option<&Path>, env_keys: &[String]) {
    for (topic, text) in describe(settings, file, env_keys) {
        tracing::info!("{topic}: {text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_name_file_store_mailbox_and_transport_without_values_of_variables() {
        let env = vec![
            ("KLACHTD__INBOUND__KIND".to_string(), "imap".to_string()),
            (
                "KLACHTD__INBOUND__IMAP__PASSWORD".to_string(),
                "hunter2".to_string(),
            ),
            (
                "KLACHTD__INBOUND__IMAP__FOLDER".to_string(),
                "Klachten".to_string(),
            ),
        ];
        let s = Settings::load_with_env(None, env.clone()).unwrap();
        let keys: Vec<String> = env.into_iter().map(|(k, _)| k).collect();
        let lines = describe(&s, None, &keys);
        let text = format!("{lines:?}");
        assert!(!text.contains("hunter2"));
        assert_eq!(lines[0].0, "configuration");
        assert!(lines[0].1.contains("KLACHTD__INBOUND__IMAP__PASSWORD"));
        assert!(lines[1].1.ends_with("var/klachtd.sqlite"));
        assert!(
            lines[2].1.starts_with("IMAP localhost:993") && lines[2].1.contains("folder Klachten"),
            "{}",
            lines[2].1
        );
        assert!(lines[3].1.starts_with(".eml files in /"), "{}", lines[3].1);
    }
}
