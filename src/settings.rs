//! Layered configuration: built-in `config/default.toml`, then `--config FILE`, then
//! `KLACHTD__SECTION__KEY` environment variables; checked once, so the rest of the program
//! only ever sees valid settings.

use crate::config_errors;
use crate::domain::{CalendarRules, EmailAddress, Language, LiberationDay, WorkingCalendar};
use anyhow::{Context, bail};
use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// The built-in defaults; every key is documented there.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub organisation: Organisation,
    pub inbound: Inbound,
    pub outbound: Outbound,
    pub store: Store,
    pub roles: Roles,
    pub calendar: Calendar,
    pub deadlines: Deadlines,
    pub intake: Intake,
    pub templates: Templates,
    pub security: Security,
    pub causes: Causes,
    pub reminders: Reminders,
    pub digest: Digest,
    pub retention: Retention,
    pub oauth2: OAuth2,
    pub alerts: Alerts,
    pub privacy: Privacy,
}

// --- issue 25: confidentiality (need to know) -------------------------------------------

/// Who hears of a complaint (need to know), and what a complaint about the director does.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Privacy {
    pub new_complaints_to: NewComplaintsTo,
    pub intake_group: Vec<EmailAddress>,
    pub director_named_to_committee: bool,
}

/// Who receives a new complaint (and every mail about a case without a handler).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NewComplaintsTo {
    /// Everyone in `roles.staff`.
    Staff,
    /// Only `privacy.intake_group`.
    Group,
    /// The director alone, who names a handler.
    Director,
}

impl Settings {
    /// Who receives a new complaint when it names nobody: by `privacy.new_complaints_to`.
    pub fn intake_recipients(&self) -> Vec<EmailAddress> {
        match self.privacy.new_complaints_to {
            NewComplaintsTo::Staff => self.roles.staff.clone(),
            NewComplaintsTo::Group => self.privacy.intake_group.clone(),
            NewComplaintsTo::Director => vec![self.roles.director.clone()],
        }
    }
}

// --- end issue 25 -------------------------------------------------------------------------

/// When the administrator (the director) is told that klachtd cannot work.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    pub after_minutes: u32,
    /// A refused login is alerted only once this long has passed since the login settings
    /// changed (issue 24): a provider takes a while to apply permissions just granted.
    pub login_grace_minutes: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reminders {
    pub before_working_days: Vec<u32>,
    pub morning: chrono::NaiveTime,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Digest {
    pub weekday: String,
    pub time: chrono::NaiveTime,
    pub extra_recipients: Vec<EmailAddress>,
}

impl Digest {
    pub fn weekday(&self) -> chrono::Weekday {
        self.weekday
            .parse()
            .expect("validated in Settings::validate")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub years: u32,
    pub time: chrono::NaiveTime,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// The platform that receives our mail and whose results klachtd reads
    /// (docs/sender-proof.md).
    pub platform: Platform,
    pub trusted_authserv_id: Option<String>,
    /// With `platform = "own-server"`: how that server writes its results.
    pub own_server: OwnServer,
    pub token_days: u32,
    /// Days a held command mail waits for its sender's confirmation.
    pub hold_days: u32,
}

/// The receiving platform (`security.platform`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Platform {
    #[serde(rename = "own-server")]
    OwnServer,
    #[serde(rename = "microsoft365")]
    Microsoft365,
    #[serde(rename = "google")]
    Google,
}

/// How a server of our own writes its results (`security.own_server`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OwnServer {
    Milters,
    Rspamd,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Causes {
    pub categories: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    pub name: String,
    pub address: EmailAddress,
    pub sender_name: String,
    pub timezone: String,
    pub language: Language,
    /// Telephone number complainants may call (issue 23: an encrypted complaint's
    /// acknowledgement offers it); empty: none is named.
    #[serde(default)]
    pub phone: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InboundKind {
    Maildir,
    Imap,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inbound {
    pub kind: InboundKind,
    pub maildir: PathBuf,
    pub maildir_poll_seconds: u64,
    pub max_message_bytes: usize,
    pub imap: Imap,
}

/// How a connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    Implicit,
    Starttls,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Imap {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    pub username: String,
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
    pub password_command: Option<String>,
    /// `password` or `oauth2` (a token from the `[oauth2]` section).
    pub auth: AuthKind,
    /// The `[oauth2]` section, copied here at load when `auth = "oauth2"`, so the IMAP source
    /// holds everything it needs to log in.
    #[serde(skip)]
    pub oauth2: Option<OAuth2>,
    pub folder: String,
    pub processed_folder: String,
    pub quarantine_folder: String,
    pub idle: bool,
    pub idle_renew_seconds: u64,
    pub poll_seconds: u64,
    pub reconnect_min_seconds: u64,
    pub reconnect_max_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboundKind {
    File,
    Smtp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outbound {
    pub kind: OutboundKind,
    pub dir: PathBuf,
    pub retry_min_seconds: u64,
    pub retry_max_seconds: u64,
    pub give_up_after_hours: u64,
    /// At most this many acknowledgements leave per hour; more wait in the queue.
    pub acknowledgements_per_hour: u32,
    /// Attachments larger than this are kept on the case and named in staff mail, not copied.
    pub attach_max_bytes: usize,
    // Issue 22: the outbound budget (outbound/budget.rs).
    /// At most this many mails caused by senders that are not proven go to one mailbox in any
    /// 24 hours; the rest are recorded and reported in one summary.
    pub unproven_per_day: u32,
    pub smtp: Smtp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
    pub password_command: Option<String>,
    /// `password` or `oauth2` (a token from the `[oauth2]` section).
    pub auth: AuthKind,
    /// The `[oauth2]` section, copied here at load when `auth = "oauth2"`.
    #[serde(skip)]
    pub oauth2: Option<OAuth2>,
    pub timeout_seconds: u64,
}

/// How klachtd logs in to a mail server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    Password,
    Oauth2,
}

/// Where OAuth2 access tokens come from (one configuration for IMAP and SMTP).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    pub source: TokenSourceKind,
    pub mechanism: SaslMechanism,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub client_secret_file: Option<PathBuf>,
    pub client_secret_command: Option<String>,
    pub scopes: Vec<String>,
    pub refresh_token_file: Option<PathBuf>,
    pub token_command: Option<String>,
    pub refresh_before_seconds: u64,
    pub token_command_cache_seconds: u64,
    // Issue 24: `klachtd oauth2 login`, Google service accounts, Microsoft certificates.
    /// The provider's device-code endpoint (`klachtd oauth2 login`, Microsoft); "" = derived
    /// from a Microsoft `token_url`.
    pub device_code_url: String,
    /// The provider's authorization endpoint (`klachtd oauth2 login`, Google); "" = derived
    /// from Google's `token_url`.
    pub authorize_url: String,
    /// `client_certificate`: the PEM private key and the PEM certificate registered with the app.
    pub private_key_file: Option<PathBuf>,
    pub certificate_file: Option<PathBuf>,
    /// `service_account`: the service account's JSON key file.
    pub service_account_key_file: Option<PathBuf>,
    /// `service_account`: the mailbox the service account acts as; filled in at load from the
    /// IMAP (or SMTP) username when not given.
    pub impersonate: Option<String>,
}

impl OAuth2 {
    /// Where the client secret comes from (same rules as a password).
    pub fn client_secret_source(&self) -> PasswordSource {
        PasswordSource {
            password: self.client_secret.clone(),
            password_file: self.client_secret_file.clone(),
            password_command: self.client_secret_command.clone(),
        }
    }
}

/// The grant (or command) that yields access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSourceKind {
    ClientCredentials,
    RefreshToken,
    TokenCommand,
    /// Microsoft app-only with a certificate: a client assertion signed with its key.
    ClientCertificate,
    /// Google Workspace: a service account with domain-wide delegation (JWT bearer grant).
    ServiceAccount,
}

/// The SASL mechanism an access token is presented with (IMAP; SMTP always uses XOAUTH2,
/// which both Microsoft 365 and Google accept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SaslMechanism {
    Xoauth2,
    Oauthbearer,
}

macro_rules! password_source {
    ($t:ty) => {
        impl $t {
            /// Where this server's password comes from.
            pub fn password_source(&self) -> PasswordSource {
                PasswordSource {
                    password: self.password.clone(),
                    password_file: self.password_file.clone(),
                    password_command: self.password_command.clone(),
                }
            }
        }
    };
}
password_source!(Imap);
password_source!(Smtp);

/// Where a password comes from: the TOML itself, a file, or a command's output.
#[derive(Clone, Default)]
pub struct PasswordSource {
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
    pub password_command: Option<String>,
}

impl fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordSource")
            .field("password", &self.password)
            .field("password_file", &self.password_file)
            .field("password_command", &self.password_command)
            .finish()
    }
}

/// A secret that never shows up in `Debug` output or logs.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl PasswordSource {
    fn configured(&self) -> usize {
        [
            self.password.is_some(),
            self.password_file.is_some(),
            self.password_command.is_some(),
        ]
        .into_iter()
        .filter(|x| *x)
        .count()
    }

    /// Reads the password from wherever it is configured to come from.
    pub fn resolve(&self, key: &str) -> anyhow::Result<Option<Secret>> {
        self.resolve_as(key, "password")
    }

    /// As [`PasswordSource::resolve`], for keys named `{name}`, `{name}_file`, `{name}_command`.
    pub fn resolve_as(&self, key: &str, name: &str) -> anyhow::Result<Option<Secret>> {
        if let Some(p) = &self.password {
            return Ok(Some(p.clone()));
        }
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{key}.{name}_file: cannot read {}", path.display()))?;
            return Ok(Some(Secret(
                text.trim_end_matches(['\r', '\n']).to_string(),
            )));
        }
        if let Some(cmd) = &self.password_command {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .output()
                .with_context(|| format!("{key}.{name}_command: cannot run it"))?;
            if !out.status.success() {
                bail!("{key}.{name}_command exited with {}", out.status);
            }
            let text = String::from_utf8(out.stdout)
                .with_context(|| format!("{key}.{name}_command: output is not UTF-8"))?;
            let line = text.lines().next().unwrap_or_default().to_string();
            return Ok(Some(Secret(line)));
        }
        Ok(None)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    pub staff: Vec<EmailAddress>,
    pub director: EmailAddress,
    pub committee: EmailAddress,
    #[serde(default)]
    pub names: std::collections::BTreeMap<String, EmailAddress>,
}

/// The role an address plays in the procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Staff,
    Director,
    Committee,
}

impl Roles {
    /// The address behind a handler as typed: an address, or a configured name.
    pub fn resolve(&self, typed: &str) -> Option<EmailAddress> {
        typed.parse().ok().or_else(|| {
            let wanted = typed.trim().to_lowercase();
            self.names
                .iter()
                .find(|(name, _)| name.to_lowercase() == wanted)
                .map(|(_, a)| a.clone())
        })
    }

    /// The configured name (`[roles.names]`) of `address`, if it has one.
    pub fn name_of(&self, address: &EmailAddress) -> Option<&str> {
        self.names
            .iter()
            .find(|(_, a)| a.same_mailbox(address))
            .map(|(name, _)| name.as_str())
    }

    /// Whether a case that concerns `address` is kept from them (README, "A complaint about a
    /// colleague"): a staff member's is; the director's never, as she oversees the procedure,
    /// nor the committee's, which judges appeals. Only from whom it is kept do the tokens they
    /// held for it stop proving anything.
    pub fn kept_from_cases_about(&self, address: &EmailAddress) -> bool {
        !matches!(
            self.role_of(address),
            Some(Role::Director | Role::Committee)
        )
    }

    /// The role of `address`, if it has one: compared as mail systems deliver (case, `+tag`,
    /// Unicode compatibility forms, IDNA — [`EmailAddress::mailbox`]), so every spelling of a
    /// role address is that role address. The director and committee are also staff when
    /// they are listed there; the most specific role wins.
    pub fn role_of(&self, address: &EmailAddress) -> Option<Role> {
        self.role_address(address).map(|(role, _)| role)
    }

    /// The role of `address` and the role address as configured: what klachtd writes to and
    /// records, never the spelling a mail used.
    pub fn role_address(&self, address: &EmailAddress) -> Option<(Role, &EmailAddress)> {
        if self.committee.same_mailbox(address) {
            Some((Role::Committee, &self.committee))
        } else if self.director.same_mailbox(address) {
            Some((Role::Director, &self.director))
        } else {
            self.staff
                .iter()
                .find(|s| s.same_mailbox(address))
                .map(|s| (Role::Staff, s))
        }
    }

    /// The role address `address` imitates — looks like to a reader but does not deliver to
    /// (`аnna@…` with a Cyrillic `а`) — if any. Nothing klachtd sends goes to such an address.
    pub fn imitated_by(&self, address: &EmailAddress) -> Option<&EmailAddress> {
        if self.role_of(address).is_some() {
            return None;
        }
        let looks = address.appearance();
        [&self.committee, &self.director]
            .into_iter()
            .chain(self.staff.iter())
            .find(|r| r.appearance() == looks)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    pub closed_days: Vec<NaiveDate>,
    pub good_friday: bool,
    pub liberation_day: LiberationDay,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    pub reaction_working_days: u32,
    pub closing_working_days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntakeMode {
    All,
    Keywords,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intake {
    pub mode: IntakeMode,
    pub keywords: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Templates {
    pub dir: PathBuf,
}

impl Settings {
    /// Defaults, then `file` (if any), then the process environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        Self::load_with_env(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given explicitly (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Settings> {
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(path) = file {
            if !path.exists() {
                bail!("configuration file {} does not exist", path.display());
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("KLACHTD__"))
            .collect();
        let env_keys: Vec<String> = env.keys().cloned().collect();
        builder = builder.add_source(
            config::Environment::with_prefix("KLACHTD")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("roles.staff")
                .with_list_parse_key("calendar.closed_days")
                .with_list_parse_key("intake.keywords")
                .with_list_parse_key("causes.categories")
                .with_list_parse_key("reminders.before_working_days")
                .with_list_parse_key("digest.extra_recipients")
                .with_list_parse_key("oauth2.scopes")
                .with_list_parse_key("privacy.intake_group")
                .try_parsing(true)
                .source(Some(env)),
        );
        let mut settings: Settings =
            builder
                .build()
                .and_then(|c| c.try_deserialize())
                .map_err(|e| {
                    anyhow::anyhow!(
                        "invalid configuration: {}",
                        config_errors::explain(&e.to_string(), file, &env_keys)
                    )
                })?;
        settings.validate().map_err(|e| {
            anyhow::anyhow!(
                "{e}{}",
                config_errors::origin_of_message(&e.to_string(), file, &env_keys)
            )
        })?;
        if settings.oauth2.impersonate.is_none() {
            settings.oauth2.impersonate = settings.oauth2_mailbox();
        }
        if settings.inbound.imap.auth == AuthKind::Oauth2 {
            settings.inbound.imap.oauth2 = Some(settings.oauth2.clone());
        }
        if settings.outbound.smtp.auth == AuthKind::Oauth2 {
            settings.outbound.smtp.oauth2 = Some(settings.oauth2.clone());
        }
        Ok(settings)
    }

    /// Checks what types alone cannot; each message names the key.
    fn validate(&self) -> anyhow::Result<()> {
        let fail =
            |key: &str, why: &str| Err(anyhow::anyhow!("invalid configuration: {key}: {why}"));
        if !known_time_zone(&self.organisation.timezone) {
            return fail(
                "organisation.timezone",
                "not a time zone klachtd knows: one of Europe's (e.g. Europe/Amsterdam), \
                 the Dutch Caribbean's (America/Kralendijk, America/Curacao, America/Aruba, \
                 America/Lower_Princes) or UTC",
            );
        }
        if self.organisation.name.trim().is_empty() {
            return fail("organisation.name", "must not be empty");
        }
        if self.organisation.sender_name.contains(['\r', '\n']) {
            return fail("organisation.sender_name", "must be one line");
        }
        if self.deadlines.reaction_working_days == 0 || self.deadlines.reaction_working_days > 60 {
            return fail(
                "deadlines.reaction_working_days",
                "must be between 1 and 60",
            );
        }
        if self.deadlines.closing_working_days == 0 || self.deadlines.closing_working_days > 120 {
            return fail(
                "deadlines.closing_working_days",
                "must be between 1 and 120",
            );
        }
        let org_local = self.organisation.address.local_part().len();
        if org_local + crate::domain::address::REPLY_ADDRESS_EXTRA
            > crate::domain::address::MAX_LOCAL_PART
        {
            return fail(
                "organisation.address",
                &format!(
                    "the local part (before the @) may be at most {} characters: klachtd adds \
                     '+kl-2026-0042.<token>' to it for replies, and a local part may not exceed {}",
                    crate::domain::address::MAX_LOCAL_PART
                        - crate::domain::address::REPLY_ADDRESS_EXTRA,
                    crate::domain::address::MAX_LOCAL_PART
                ),
            );
        }
        if self.outbound.acknowledgements_per_hour == 0 {
            return fail("outbound.acknowledgements_per_hour", "must be at least 1");
        }
        if self.outbound.unproven_per_day == 0 {
            return fail("outbound.unproven_per_day", "must be at least 1");
        }
        if self.inbound.max_message_bytes < 1024 {
            return fail("inbound.max_message_bytes", "must be at least 1024");
        }
        if self.intake.mode == IntakeMode::Keywords && self.intake.keywords.is_empty() {
            return fail(
                "intake.keywords",
                "needs at least one word when intake.mode = \"keywords\"",
            );
        }
        if self.digest.weekday.parse::<chrono::Weekday>().is_err() {
            return fail("digest.weekday", "a day of the week, e.g. \"monday\"");
        }
        if !(1..=50).contains(&self.retention.years) {
            return fail("retention.years", "must be between 1 and 50");
        }
        if self.inbound.maildir_poll_seconds == 0 || self.inbound.maildir_poll_seconds > 3600 {
            return fail("inbound.maildir_poll_seconds", "must be between 1 and 3600");
        }
        if self.outbound.smtp.timeout_seconds == 0 || self.outbound.smtp.timeout_seconds > 600 {
            return fail("outbound.smtp.timeout_seconds", "must be between 1 and 600");
        }
        if self.outbound.give_up_after_hours == 0 {
            return fail("outbound.give_up_after_hours", "must be at least 1");
        }
        if self.security.token_days > 3650 {
            return fail("security.token_days", "must be between 1 and 3650");
        }
        if self.reminders.before_working_days.iter().any(|d| *d > 30) {
            return fail(
                "reminders.before_working_days",
                "each value must be 0 to 30 working days",
            );
        }
        if self.alerts.login_grace_minutes > 1440 {
            return fail(
                "alerts.login_grace_minutes",
                "must be between 0 and 1440 (a day)",
            );
        }
        if !(1..=10_080).contains(&self.alerts.after_minutes) {
            return fail(
                "alerts.after_minutes",
                "must be between 1 and 10080 (a week)",
            );
        }
        if self.security.token_days == 0 {
            return fail("security.token_days", "must be at least 1");
        }
        if self.security.hold_days == 0 || self.security.hold_days > 60 {
            return fail("security.hold_days", "must be between 1 and 60");
        }
        if self
            .security
            .trusted_authserv_id
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            return fail(
                "security.trusted_authserv_id",
                "must not be empty (leave it out to switch it off)",
            );
        }
        if self.security.platform != Platform::OwnServer
            && self.security.trusted_authserv_id.is_some()
        {
            return fail(
                "security.trusted_authserv_id",
                "is only for security.platform = \"own-server\"; Microsoft 365 and Google Workspace are read by what they write (docs/sender-proof.md)",
            );
        }
        if self.causes.categories.is_empty() {
            return fail("causes.categories", "needs at least one category");
        }
        if self.roles.staff.is_empty() {
            return fail("roles.staff", "needs at least one staff address to notify");
        }
        if self.privacy.new_complaints_to == NewComplaintsTo::Group {
            if self.privacy.intake_group.is_empty() {
                return fail(
                    "privacy.intake_group",
                    "needs at least one address when privacy.new_complaints_to = \"group\"",
                );
            }
            if let Some(a) = self
                .privacy
                .intake_group
                .iter()
                .find(|a| self.roles.role_of(a).is_none())
            {
                return fail(
                    "privacy.intake_group",
                    &format!(
                        "{a} is not in roles.staff (nor the director or committee): only they can work a case by reply"
                    ),
                );
            }
        }
        if self.inbound.kind == InboundKind::Imap {
            let imap = &self.inbound.imap;
            if imap.host.trim().is_empty() {
                return fail("inbound.imap.host", "required when inbound.kind = \"imap\"");
            }
            if imap.username.trim().is_empty() {
                return fail(
                    "inbound.imap.username",
                    "required when inbound.kind = \"imap\"",
                );
            }
            if imap.auth == AuthKind::Password && imap.password_source().configured() != 1 {
                return fail(
                    "inbound.imap.password",
                    "give exactly one of password, password_file or password_command",
                );
            }
            if imap.idle_renew_seconds == 0 || imap.idle_renew_seconds > 600 {
                return fail(
                    "inbound.imap.idle_renew_seconds",
                    "must be between 1 and 600",
                );
            }
            if imap.poll_seconds == 0 {
                return fail("inbound.imap.poll_seconds", "must be at least 1");
            }
            if imap.tls == TlsMode::None && !is_loopback(&imap.host) {
                return fail(
                    "inbound.imap.tls",
                    "\"none\" sends the password in clear text; only for a loopback host (127.0.0.1, ::1, localhost)",
                );
            }
            if imap.folder == imap.quarantine_folder || imap.folder == imap.processed_folder {
                return fail(
                    "inbound.imap.processed_folder",
                    "must differ from inbound.imap.folder",
                );
            }
        }
        if self.outbound.kind == OutboundKind::Smtp {
            let smtp = &self.outbound.smtp;
            if smtp.host.trim().is_empty() {
                return fail(
                    "outbound.smtp.host",
                    "required when outbound.kind = \"smtp\"",
                );
            }
            if smtp.tls == TlsMode::None && !is_loopback(&smtp.host) {
                return fail(
                    "outbound.smtp.tls",
                    "\"none\" sends mail (and any password) in clear text; only for a loopback host (127.0.0.1, ::1, localhost)",
                );
            }
            if smtp.auth == AuthKind::Password
                && smtp.username.is_some()
                && smtp.password_source().configured() != 1
            {
                return fail(
                    "outbound.smtp.password",
                    "give exactly one of password, password_file or password_command",
                );
            }
            if smtp.auth == AuthKind::Oauth2 && smtp.username.is_none() {
                return fail(
                    "outbound.smtp.username",
                    "required when outbound.smtp.auth = \"oauth2\" (the mailbox the token is for)",
                );
            }
        }
        let imap_oauth2 =
            self.inbound.kind == InboundKind::Imap && self.inbound.imap.auth == AuthKind::Oauth2;
        let smtp_oauth2 =
            self.outbound.kind == OutboundKind::Smtp && self.outbound.smtp.auth == AuthKind::Oauth2;
        if imap_oauth2 || smtp_oauth2 {
            self.validate_oauth2()?;
        }
        if self.outbound.retry_min_seconds == 0
            || self.outbound.retry_max_seconds < self.outbound.retry_min_seconds
        {
            return fail(
                "outbound.retry_max_seconds",
                "retry_min_seconds must be ≥ 1 and ≤ retry_max_seconds",
            );
        }
        Ok(())
    }

    /// The `[oauth2]` section, checked only when a server logs in with it.
    fn validate_oauth2(&self) -> anyhow::Result<()> {
        let o = &self.oauth2;
        let fail =
            |key: &str, why: &str| Err(anyhow::anyhow!("invalid configuration: {key}: {why}"));
        let needs_url = matches!(
            o.source,
            TokenSourceKind::ClientCredentials
                | TokenSourceKind::RefreshToken
                | TokenSourceKind::ClientCertificate
        );
        let url = o.token_url.trim();
        // A service account's key file names its token endpoint; token_url may override it.
        if (needs_url || !url.is_empty()) && !allowed_endpoint(url) {
            return fail(
                "oauth2.token_url",
                "the provider's token endpoint, https://… (e.g. \
                 https://login.microsoftonline.com/TENANT/oauth2/v2.0/token)",
            );
        }
        for (key, value) in [
            ("oauth2.device_code_url", &o.device_code_url),
            ("oauth2.authorize_url", &o.authorize_url),
        ] {
            if !value.trim().is_empty() && !allowed_endpoint(value.trim()) {
                return fail(
                    key,
                    "an https:// address of the provider (or leave it empty)",
                );
            }
        }
        if needs_url && o.client_id.trim().is_empty() {
            return fail("oauth2.client_id", "required for this oauth2.source");
        }
        // Exchange Online offers only XOAUTH2 for IMAP (its CAPABILITY: AUTH=PLAIN AUTH=XOAUTH2).
        let microsoft_imap = ["outlook.office365.com", "outlook.office.com"]
            .contains(&self.inbound.imap.host.trim().to_ascii_lowercase().as_str());
        if o.mechanism == SaslMechanism::Oauthbearer && microsoft_imap {
            return fail(
                "oauth2.mechanism",
                "Exchange Online takes only \"xoauth2\" for IMAP (it does not offer OAUTHBEARER)",
            );
        }
        let secrets = o.client_secret_source().configured();
        match o.source {
            TokenSourceKind::ClientCredentials => {
                if secrets != 1 {
                    return fail(
                        "oauth2.client_secret",
                        "give exactly one of client_secret, client_secret_file or \
                         client_secret_command",
                    );
                }
            }
            TokenSourceKind::RefreshToken => {
                if secrets > 1 {
                    return fail(
                        "oauth2.client_secret",
                        "give at most one of client_secret, client_secret_file or \
                         client_secret_command",
                    );
                }
                if o.refresh_token_file.is_none() {
                    return fail(
                        "oauth2.refresh_token_file",
                        "required when oauth2.source = \"refresh_token\" (a file klachtd may \
                         rewrite, e.g. /var/lib/klachtd/oauth2-refresh-token)",
                    );
                }
            }
            TokenSourceKind::TokenCommand => {
                if o.token_command
                    .as_deref()
                    .is_none_or(|c| c.trim().is_empty())
                {
                    return fail(
                        "oauth2.token_command",
                        "required when oauth2.source = \"token_command\"",
                    );
                }
            }
            TokenSourceKind::ClientCertificate => {
                if secrets != 0 {
                    return fail(
                        "oauth2.client_secret",
                        "not used with oauth2.source = \"client_certificate\" (the certificate \
                         replaces the secret): remove it",
                    );
                }
                if o.private_key_file.is_none() {
                    return fail(
                        "oauth2.private_key_file",
                        "required when oauth2.source = \"client_certificate\" (the PEM private \
                         key of the certificate uploaded to the app registration)",
                    );
                }
                if o.certificate_file.is_none() {
                    return fail(
                        "oauth2.certificate_file",
                        "required when oauth2.source = \"client_certificate\" (the PEM \
                         certificate uploaded to the app registration)",
                    );
                }
            }
            TokenSourceKind::ServiceAccount => {
                if o.service_account_key_file.is_none() {
                    return fail(
                        "oauth2.service_account_key_file",
                        "required when oauth2.source = \"service_account\" (the JSON key file \
                         of the service account, mode 0600)",
                    );
                }
                if o.impersonate.is_none() && self.oauth2_mailbox().is_none() {
                    return fail(
                        "oauth2.impersonate",
                        "the mailbox the service account acts as (e.g. info@example.org)",
                    );
                }
            }
        }
        let app_only = matches!(
            o.source,
            TokenSourceKind::ClientCredentials
                | TokenSourceKind::ClientCertificate
                | TokenSourceKind::ServiceAccount
        );
        if app_only && o.scopes.is_empty() {
            return fail(
                "oauth2.scopes",
                "this oauth2.source needs a scope, e.g. \
                 [\"https://outlook.office365.com/.default\"] (Microsoft) or \
                 [\"https://mail.google.com/\"] (Google)",
            );
        }
        if !(10..=3000).contains(&o.refresh_before_seconds) {
            return fail(
                "oauth2.refresh_before_seconds",
                "must be between 10 and 3000",
            );
        }
        if !(1..=3600).contains(&o.token_command_cache_seconds) {
            return fail(
                "oauth2.token_command_cache_seconds",
                "must be between 1 and 3600",
            );
        }
        Ok(())
    }

    /// The mailbox an OAuth2 token is for: the IMAP username when IMAP logs in with a token,
    /// else the SMTP one.
    pub fn oauth2_mailbox(&self) -> Option<String> {
        if self.inbound.kind == InboundKind::Imap && self.inbound.imap.auth == AuthKind::Oauth2 {
            return Some(self.inbound.imap.username.clone());
        }
        if self.outbound.kind == OutboundKind::Smtp && self.outbound.smtp.auth == AuthKind::Oauth2 {
            return self.outbound.smtp.username.clone();
        }
        None
    }

    pub fn timezone(&self) -> Tz {
        self.organisation
            .timezone
            .parse()
            .expect("validated in Settings::validate")
    }

    pub fn working_calendar(&self) -> WorkingCalendar {
        WorkingCalendar::new(CalendarRules {
            good_friday: self.calendar.good_friday,
            liberation_day: self.calendar.liberation_day,
            closed_days: self
                .calendar
                .closed_days
                .iter()
                .copied()
                .collect::<BTreeSet<_>>(),
        })
    }
}

/// Whether `host` is this machine: `localhost` or a loopback IP address.
/// A provider endpoint: https, or plain http on 127.0.0.1 (the test harness's token server).
fn allowed_endpoint(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://127.0.0.1")
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The time zones klachtd knows: Europe's, the Dutch Caribbean's and UTC, the ones built in
/// (`.cargo/config.toml`). The binary holds a few more, as targets of those names' links
/// (America/Puerto_Rico, Asia/Nicosia, …): those are refused too, so what is accepted is
/// what the documentation promises.
fn known_time_zone(name: &str) -> bool {
    const OTHERS: [&str; 6] = [
        "UTC",
        "Etc/UTC",
        "America/Aruba",
        "America/Curacao",
        "America/Kralendijk",
        "America/Lower_Princes",
    ];
    (name.starts_with("Europe/") || OTHERS.contains(&name)) && name.parse::<Tz>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 24: the new sources' required keys, and OAUTHBEARER refused for Exchange Online.
    #[test]
    fn the_oauth2_sources_name_what_they_miss() {
        let load = |pairs: &[(&str, &str)]| {
            let mut env: Vec<(String, String)> = [
                ("KLACHTD__INBOUND__KIND", "imap"),
                ("KLACHTD__INBOUND__IMAP__AUTH", "oauth2"),
                ("KLACHTD__INBOUND__IMAP__USERNAME", "info@example.org"),
                (
                    "KLACHTD__OAUTH2__SCOPES",
                    "https://outlook.office365.com/.default",
                ),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            env.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            Settings::load_with_env(None, env).map_err(|e| format!("{e:#}"))
        };
        let ms = [
            ("KLACHTD__OAUTH2__SOURCE", "client_certificate"),
            (
                "KLACHTD__OAUTH2__TOKEN_URL",
                "https://login.microsoftonline.com/t/oauth2/v2.0/token",
            ),
            ("KLACHTD__OAUTH2__CLIENT_ID", "c"),
        ];
        let err = load(&ms).unwrap_err();
        assert!(err.contains("oauth2.private_key_file: required"), "{err}");
        let mut full = ms.to_vec();
        full.push(("KLACHTD__OAUTH2__PRIVATE_KEY_FILE", "/k.pem"));
        full.push(("KLACHTD__OAUTH2__CERTIFICATE_FILE", "/c.pem"));
        assert!(load(&full).is_ok());
        full.push(("KLACHTD__OAUTH2__CLIENT_SECRET", "s"));
        assert!(
            load(&full)
                .unwrap_err()
                .contains("the certificate replaces the secret")
        );

        let err = load(&[("KLACHTD__OAUTH2__SOURCE", "service_account")]).unwrap_err();
        assert!(
            err.contains("oauth2.service_account_key_file: required"),
            "{err}"
        );
        let s = load(&[
            ("KLACHTD__OAUTH2__SOURCE", "service_account"),
            ("KLACHTD__OAUTH2__SERVICE_ACCOUNT_KEY_FILE", "/sa.json"),
        ])
        .unwrap();
        assert_eq!(s.oauth2.impersonate.as_deref(), Some("info@example.org"));

        let mut exchange = full[..full.len() - 1].to_vec();
        exchange.push(("KLACHTD__INBOUND__IMAP__HOST", "outlook.office365.com"));
        exchange.push(("KLACHTD__OAUTH2__MECHANISM", "oauthbearer"));
        assert!(
            load(&exchange)
                .unwrap_err()
                .contains("Exchange Online takes only \"xoauth2\" for IMAP")
        );
    }

    #[test]
    fn clear_text_is_refused_for_a_remote_host() {
        for (host, ok) in [
            ("127.0.0.1", true),
            ("::1", true),
            ("localhost", true),
            ("127.0.0.2", true),
            ("mail.example.org", false),
            ("10.0.0.1", false),
            ("127.0.0.1.evil.example", false),
        ] {
            assert_eq!(is_loopback(host), ok, "{host}");
            let r = Settings::load_with_env(
                None,
                env(&[
                    ("KLACHTD__OUTBOUND__KIND", "smtp"),
                    ("KLACHTD__OUTBOUND__SMTP__HOST", host),
                    ("KLACHTD__OUTBOUND__SMTP__TLS", "none"),
                ]),
            );
            assert_eq!(r.is_ok(), ok, "{host}: {:?}", r.err());
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_load_and_are_the_embedded_maildir_setup() {
        let s = Settings::load_with_env(None, env(&[])).unwrap();
        assert_eq!(s.inbound.kind, InboundKind::Maildir);
        assert_eq!(s.outbound.kind, OutboundKind::File);
        assert_eq!(s.organisation.language, Language::Nl);
        assert_eq!(s.timezone(), chrono_tz::Europe::Amsterdam);
        assert_eq!(s.deadlines.reaction_working_days, 5);
        assert_eq!(s.deadlines.closing_working_days, 14);
        assert_eq!(s.store.path, PathBuf::from("var/klachtd.sqlite"));
    }

    #[test]
    fn environment_overrides_including_lists() {
        let s = Settings::load_with_env(
            None,
            env(&[
                ("KLACHTD__ORGANISATION__LANGUAGE", "en"),
                (
                    "KLACHTD__ROLES__STAFF",
                    "Anna@example.org,pieter@example.org",
                ),
                ("KLACHTD__DEADLINES__REACTION_WORKING_DAYS", "3"),
                ("OTHER__THING", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(s.organisation.language, Language::En);
        assert_eq!(s.roles.staff.len(), 2);
        assert_eq!(s.roles.staff[0].as_str(), "anna@example.org");
        assert_eq!(s.deadlines.reaction_working_days, 3);
    }

    #[test]
    fn a_file_layers_on_top() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(&path, "[organisation]\nname = \"Testinstituut\"\n").unwrap();
        let s = Settings::load_with_env(Some(&path), env(&[])).unwrap();
        assert_eq!(s.organisation.name, "Testinstituut");
        assert_eq!(s.organisation.address.as_str(), "info@example.org");
    }

    fn error_of(pairs: &[(&str, &str)]) -> String {
        format!(
            "{:#}",
            Settings::load_with_env(None, env(pairs)).unwrap_err()
        )
    }

    #[test]
    fn bad_values_name_their_key() {
        assert!(
            error_of(&[("KLACHTD__ORGANISATION__TIMEZONE", "Mars/Olympus")])
                .contains("organisation.timezone")
        );
        // The zones built in (.cargo/config.toml): Europe's, the Dutch Caribbean's and UTC.
        for zone in [
            "Europe/Amsterdam",
            "Europe/Brussels",
            "America/Kralendijk",
            "UTC",
        ] {
            let s =
                Settings::load_with_env(None, env(&[("KLACHTD__ORGANISATION__TIMEZONE", zone)]))
                    .unwrap();
            assert_eq!(s.timezone().name(), zone);
        }
        assert!(
            error_of(&[("KLACHTD__ORGANISATION__TIMEZONE", "Asia/Tokyo")])
                .contains("Europe/Amsterdam")
        );
        assert!(error_of(&[("KLACHTD__INBOUND__KIND", "pop3")]).contains("inbound.kind"));
        assert!(
            error_of(&[("KLACHTD__ROLES__DIRECTOR", "not an address")]).contains("roles.director")
        );
        assert!(
            error_of(&[("KLACHTD__INBOUND__KIND", "imap")]).contains("inbound.imap.password"),
            "imap without a password"
        );
        assert!(
            error_of(&[("KLACHTD__ORGANISATION__LANGUAGE", "de")])
                .contains("organisation.language")
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(&path, "[deadlines]\nreaction_workingdays = 4\n").unwrap();
        let err = format!(
            "{:#}",
            Settings::load_with_env(Some(&path), env(&[])).unwrap_err()
        );
        assert!(err.contains("reaction_workingdays"), "{err}");
    }

    #[test]
    fn passwords_never_show_in_debug() {
        let src = PasswordSource {
            password: Some(Secret("hunter2".into())),
            ..Default::default()
        };
        assert!(!format!("{src:?}").contains("hunter2"));
        let secret = src.resolve("x").unwrap().unwrap();
        assert_eq!(secret.expose(), "hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
