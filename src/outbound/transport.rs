//! Where outgoing mail goes: an SMTP server (lettre) or a directory of `.eml` files. Each
//! attempt ends in success, a temporary failure (retry later) or a permanent one.

use crate::settings::{Outbound, OutboundKind, TlsMode};
use crate::store::QueuedMail;
use anyhow::Context;
use lettre::address::Envelope;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

/// Why a send did not succeed, and so whether to try again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("temporary failure: {0}")]
    Transient(String),
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// The configured way out.
pub enum Transport {
    Smtp(crate::auth::SmtpClient),
    /// Writes `<message-id>.eml` files; rewriting the same mail replaces the file, so a resend
    /// after a crash never makes a second copy.
    File(PathBuf),
}

impl Transport {
    pub fn from_settings(settings: &Outbound) -> anyhow::Result<Transport> {
        match settings.kind {
            OutboundKind::File => {
                crate::fsutil::create_private_dir(&settings.dir).with_context(|| {
                    format!("cannot create outbound.dir {}", settings.dir.display())
                })?;
                Ok(Transport::File(settings.dir.clone()))
            }
            OutboundKind::Smtp => {
                let smtp = &settings.smtp;
                let mut params = TlsParameters::builder(smtp.host.clone());
                if let Some(ca) = &smtp.ca_file {
                    let pem = std::fs::read(ca).with_context(|| {
                        format!("outbound.smtp.ca_file: cannot read {}", ca.display())
                    })?;
                    params = params.add_root_certificate(
                        Certificate::from_pem(&pem)
                            .context("outbound.smtp.ca_file: not a PEM certificate")?,
                    );
                }
                let params = params.build().context("outbound.smtp: TLS set-up")?;
                let tls = match smtp.tls {
                    TlsMode::Implicit => Tls::Wrapper(params),
                    TlsMode::Starttls => Tls::Required(params),
                    TlsMode::None => Tls::None,
                };
                let builder =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
                        .port(smtp.port)
                        .tls(tls)
                        .timeout(Some(Duration::from_secs(smtp.timeout_seconds.max(1))));
                Ok(Transport::Smtp(crate::auth::SmtpClient::new(
                    builder, smtp,
                )?))
            }
        }
    }

    /// Hands one mail over. Success means the server accepted it (250) or the file is on disk.
    pub async fn send(&self, mail: &QueuedMail) -> Result<(), SendError> {
        match self {
            Transport::Smtp(smtp) => {
                let envelope = envelope(mail).map_err(|e| SendError::Permanent(e.to_string()))?;
                smtp.send_raw(&envelope, &mail.raw)
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        if e.is_permanent() {
                            SendError::Permanent(e.to_string())
                        } else {
                            SendError::Transient(e.to_string())
                        }
                    })
            }
            Transport::File(dir) => {
                let name: String = mail
                    .message_id
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || ".-_@".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let path = dir.join(format!("{name}.eml"));
                let raw = mail.raw.clone();
                tokio::task::spawn_blocking(move || {
                    crate::fsutil::write_private_atomic(&path, &raw)
                })
                .await
                .map_err(|e| SendError::Transient(e.to_string()))?
                .map_err(|e| SendError::Transient(format!("writing {}: {e}", dir.display())))
            }
        }
    }
}

fn envelope(mail: &QueuedMail) -> anyhow::Result<Envelope> {
    let to = mail
        .recipients
        .iter()
        .map(|r| r.parse())
        .collect::<Result<Vec<lettre::Address>, _>>()?;
    Ok(Envelope::new(Some(mail.envelope_from.parse()?), to)?)
}
