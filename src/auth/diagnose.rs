//! What Microsoft's and Google's answers mean, and what to do about each: a token endpoint's
//! error payload (AADSTS codes, Google's `invalid_grant` and friends), the IMAP and SMTP
//! servers' refusals (Exchange Online's `AUTHENTICATE failed`, `5.7.139`, Gmail's `[ALERT]`s),
//! and what an access token's own claims say (tenant, app, permissions). One place, so `klachtd
//! check`, the daemon's log and the director's alert name the same cause with the same fix.
//! Sources: Microsoft Entra's AADSTS reference (learn.microsoft.com/entra/identity-platform/
//! reference-error-codes), Exchange Online's SMTP AUTH page, Google's OAuth 2.0 and XOAUTH2
//! documentation; docs/oauth2.md lists them.

use super::http::ProviderError;
use crate::settings::{OAuth2, TokenSourceKind};
use std::path::Path;

/// The causes `check` tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The token was asked of another tenant (or `common`) than the app's.
    WrongTenant,
    /// The client id is unknown there, or a token belongs to another app.
    WrongClient,
    WrongSecret,
    SecretExpired,
    CertificateNotRegistered,
    ClockSkew,
    /// Admin consent was not given for the permissions.
    ConsentMissing,
    /// The permission (IMAP/SMTP, app-only or delegated) is not on the app, or not in the token.
    PermissionMissing,
    ScopeInvalid,
    /// The refresh token no longer works: sign in again.
    GrantRevoked,
    PublicClientFlowsOff,
    /// Conditional Access, security defaults, MFA, or Google's API controls.
    BlockedByPolicy,
    /// Google: no domain-wide delegation for this service account and scope.
    DelegationMissing,
    /// Google: the impersonated mailbox is not a user of the Workspace.
    UnknownMailbox,
    /// Google: the service account key was deleted, or belongs to another account.
    KeyRefused,
    ImapDisabled,
    SmtpAuthDisabled,
    /// Exchange took the token but the app (or user) may not open or send as this mailbox.
    MailboxAccessMissing,
    SendAsMissing,
    /// Everything klachtd can see is right, and the set-up is recent: the provider has not
    /// applied it yet.
    NotYetActive,
    /// A token for another account than the mailbox.
    WrongUser,
    /// The login was refused for a reason the server does not name.
    Unexplained,
    Other,
}

/// One finding: what is wrong (with the provider's own words), and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub cause: Cause,
    pub detail: String,
    pub fix: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} — fix: {}", self.detail, self.fix)
    }
}

fn finding(cause: Cause, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding {
        cause,
        detail: detail.into(),
        fix: fix.into(),
    }
}

/// The tenant segment of a Microsoft identity platform endpoint:
/// `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token` (the path shape is Microsoft's,
/// whatever the host: national clouds have their own, the test harness too).
pub fn microsoft_tenant(url: &str) -> Option<&str> {
    let rest = url.trim().split_once("://")?.1;
    let path = rest.split_once('/')?.1;
    let (tenant, rest) = path.split_once('/')?;
    (!tenant.is_empty() && rest.starts_with("oauth2/")).then_some(tenant)
}

/// The tenant names that are not one tenant.
fn multi_tenant(tenant: &str) -> bool {
    ["common", "organizations", "consumers"].contains(&tenant.to_ascii_lowercase().as_str())
}

fn is_microsoft(o: &OAuth2) -> bool {
    microsoft_tenant(&o.token_url).is_some()
}

fn is_google(o: &OAuth2) -> bool {
    o.token_url.contains("googleapis.com")
        || o.source == TokenSourceKind::ServiceAccount
        || o.client_id.ends_with(".apps.googleusercontent.com")
}

/// Mistakes visible in the configuration alone, before any request.
pub fn configuration(o: &OAuth2) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(tenant) = microsoft_tenant(&o.token_url)
        && multi_tenant(tenant)
    {
        out.push(finding(
            Cause::WrongTenant,
            format!(
                "oauth2.token_url uses the \"{tenant}\" endpoint; an app registered for one \
                 organisation (as docs/oauth2.md has you create it) is refused there \
                 (AADSTS50194), and app-only tokens are never issued there"
            ),
            "use your tenant's endpoint: https://login.microsoftonline.com/<Directory (tenant) \
             ID>/oauth2/v2.0/token (the ID is on the app's Overview page)",
        ));
    }
    let app_only = matches!(
        o.source,
        TokenSourceKind::ClientCredentials | TokenSourceKind::ClientCertificate
    );
    if app_only && is_microsoft(o) && !o.scopes.iter().any(|s| s.ends_with("/.default")) {
        out.push(finding(
            Cause::ScopeInvalid,
            format!(
                "oauth2.scopes = {:?}: an app-only token from Microsoft takes the scope \
                 https://outlook.office365.com/.default",
                o.scopes
            ),
            "set oauth2.scopes = [\"https://outlook.office365.com/.default\"]",
        ));
    }
    out
}

/// What a token endpoint's refusal means. `refresh_file` is where the refresh token came from.
pub fn token_endpoint(e: &ProviderError, o: &OAuth2, refresh_file: Option<&Path>) -> Finding {
    let said = e.said();
    let again = match refresh_file {
        Some(file) => format!(
            "run `klachtd oauth2 login` again (it replaces {}); the daemon picks the new \
             token up at its next login",
            file.display()
        ),
        None => "run `klachtd oauth2 login` again".to_string(),
    };
    let cert = o
        .certificate_file
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "oauth2.certificate_file".into());
    let permissions = permission_fix(o);
    if let Some(code) = e.aadsts() {
        let (cause, detail, fix): (Cause, String, String) = match code {
            50194 | 9001023 | 90124 | 90130 => (
                Cause::WrongTenant,
                format!(
                    "Microsoft refused the \"common\" or multi-tenant endpoint for this app \
                     ({said})"
                ),
                "use your tenant's endpoint in oauth2.token_url: https://login.microsoftonline.\
                 com/<Directory (tenant) ID>/oauth2/v2.0/token"
                    .into(),
            ),
            90002 | 90019 | 50059 | 50128 => (
                Cause::WrongTenant,
                format!("Microsoft knows no tenant by the name in oauth2.token_url ({said})"),
                "copy the Directory (tenant) ID from the app registration's Overview page into \
                 oauth2.token_url"
                    .into(),
            ),
            700016 | 700011 => (
                Cause::WrongClient,
                format!(
                    "Microsoft knows no app with oauth2.client_id {} in this tenant ({said})",
                    o.client_id
                ),
                "copy the Application (client) ID from the app registration's Overview page, \
                 and check that oauth2.token_url names the tenant the app is registered in"
                    .into(),
            ),
            7000215 | 70002 => (
                Cause::WrongSecret,
                format!("Microsoft refused the client secret ({said})"),
                "create a new secret (Certificates & secrets → New client secret) and put its \
                 Value — not its Secret ID — in the oauth2.client_secret file"
                    .into(),
            ),
            7000222 => (
                Cause::SecretExpired,
                format!("the client secret has expired ({said})"),
                "create a new client secret and put its Value in the oauth2.client_secret file \
                 (or use a certificate: oauth2.source = \"client_certificate\")"
                    .into(),
            ),
            700027 | 700030 | 50012 | 50006 => (
                Cause::CertificateNotRegistered,
                format!(
                    "Microsoft refused the signed client assertion: the certificate is not \
                     registered with this app, or the key is not its key ({said})"
                ),
                format!(
                    "upload {cert} under Certificates & secrets → Certificates of the app \
                     registration (`klachtd check` shows its thumbprint), and check that \
                     oauth2.private_key_file is that certificate's key"
                ),
            ),
            700024 | 500133 => (
                Cause::ClockSkew,
                format!("Microsoft found the assertion's time wrong ({said})"),
                "set this server's clock right (timedatectl set-ntp true)".into(),
            ),
            65001 | 90094 | 90008 => (
                Cause::ConsentMissing,
                format!("admin consent has not been given for the app's permissions ({said})"),
                "Entra admin center → App registrations → the app → API permissions → Grant \
                 admin consent for your organisation"
                    .into(),
            ),
            650056 | 650057 | 65005 | 650052 => (
                Cause::PermissionMissing,
                format!("the app registration lacks the permission asked for ({said})"),
                permissions.clone(),
            ),
            70011 | 28002 | 28003 | 700022 | 700023 | 1002012 => (
                Cause::ScopeInvalid,
                format!("Microsoft refused oauth2.scopes {:?} ({said})", o.scopes),
                scope_fix(o),
            ),
            500011 => (
                Cause::ScopeInvalid,
                format!(
                    "the tenant has no service for the scope asked (Exchange Online missing, \
                     or a typing error in oauth2.scopes) ({said})"
                ),
                scope_fix(o),
            ),
            7000218 => (
                Cause::PublicClientFlowsOff,
                format!(
                    "the app registration does not allow public client flows, which the \
                     device-code sign-in uses ({said})"
                ),
                "App registrations → the app → Authentication → Advanced settings → Allow \
                 public client flows: Yes (then Save)"
                    .into(),
            ),
            700025 => (
                Cause::WrongSecret,
                format!("the app is a public client, so it takes no client secret ({said})"),
                "remove oauth2.client_secret (and its file or command) for the delegated \
                 sign-in"
                    .into(),
            ),
            70000 | 70008 | 700082 | 50173 | 70043 | 50132 | 50133 | 54005 | 50089 => (
                Cause::GrantRevoked,
                revoked(&said, refresh_file),
                again.clone(),
            ),
            50076 | 50079 | 50074 | 50072 => (
                Cause::BlockedByPolicy,
                format!("the sign-in needs multi-factor authentication ({said})"),
                format!("{again}, completing the MFA prompt in the browser"),
            ),
            53003 | 530032 | 53000 | 53001 | 50131 => (
                Cause::BlockedByPolicy,
                format!("a Conditional Access policy blocks this sign-in ({said})"),
                "Entra admin center → Protection → Conditional Access: exclude this app (or, \
                 for `klachtd oauth2 login`, allow the device code flow under Authentication \
                 flows), or use app-only access (docs/oauth2.md)"
                    .into(),
            ),
            530035 => (
                Cause::BlockedByPolicy,
                format!("the tenant's security defaults block this sign-in ({said})"),
                "use app-only access (oauth2.source = \"client_credentials\" or \
                 \"client_certificate\"), which security defaults do not block"
                    .into(),
            ),
            7000112 | 70001 => (
                Cause::WrongClient,
                format!("the app is disabled in this tenant ({said})"),
                "Entra admin center → Enterprise applications → the app → Properties → \
                 Enabled for users to sign in: Yes"
                    .into(),
            ),
            50057 | 50034 | 50053 | 50055 => (
                Cause::WrongUser,
                format!("the account cannot sign in ({said})"),
                "sign in with the mailbox's own account (enabled, not locked), or use app-only \
                 access"
                    .into(),
            ),
            _ => (
                Cause::Other,
                format!("Microsoft refused the token request ({said})"),
                format!("look the code up at https://login.microsoftonline.com/error?code={code}"),
            ),
        };
        return finding(cause, detail, fix);
    }
    let d = e.description.to_ascii_lowercase();
    match e.error.as_str() {
        "invalid_grant" if d.contains("invalid email or user id") => finding(
            Cause::UnknownMailbox,
            format!(
                "Google knows no Workspace user {} to act as ({said})",
                o.impersonate.as_deref().unwrap_or("(oauth2.impersonate)")
            ),
            "set oauth2.impersonate to the mailbox's primary address (a user, not an alias or \
             a group)",
        ),
        "invalid_grant" if d.contains("signature") => finding(
            Cause::KeyRefused,
            format!(
                "Google refused the service account key's signature: the key was deleted or \
                 disabled, or the file is of another service account ({said})"
            ),
            "create a new key (Google Cloud console → IAM & Admin → Service accounts → the \
             account → Keys → Add key → JSON) and put it in oauth2.service_account_key_file",
        ),
        "invalid_grant" if d.contains("timeframe") || d.contains("iat and exp") => finding(
            Cause::ClockSkew,
            format!("Google found the assertion's time wrong ({said})"),
            "set this server's clock right (timedatectl set-ntp true)",
        ),
        "invalid_grant" | "invalid_rapt" => {
            finding(Cause::GrantRevoked, revoked(&said, refresh_file), again)
        }
        "unauthorized_client" if o.source == TokenSourceKind::ServiceAccount => finding(
            Cause::DelegationMissing,
            format!(
                "Google has no domain-wide delegation for this service account with scopes \
                 {:?} — or it was given only just now ({said})",
                o.scopes
            ),
            "Google Admin console → Security → Access and data control → API controls → \
             Manage Domain Wide Delegation → Add new: the service account's Client ID (Cloud \
             console → the service account → Details → Unique ID) with the scope \
             https://mail.google.com/; Google says a change can take up to 24 hours",
        ),
        "admin_policy_enforced" => finding(
            Cause::BlockedByPolicy,
            format!("the Workspace's API controls block this app from Gmail ({said})"),
            "Google Admin console → Security → Access and data control → API controls → \
             Manage Third-Party App Access → Configure new app: the OAuth client ID → Trusted \
             (or tick \"Trust internal, domain-owned apps\" under Settings)",
        ),
        "org_internal" => finding(
            Cause::WrongUser,
            format!(
                "the app is Internal and the account signing in is not of the Workspace ({said})"
            ),
            "sign in as the Workspace mailbox (info@…) itself",
        ),
        "invalid_client" | "deleted_client" | "disabled_client" => finding(
            if d.contains("secret") || d == "unauthorized" {
                Cause::WrongSecret
            } else {
                Cause::WrongClient
            },
            format!(
                "the provider refused oauth2.client_id {} or its secret ({said})",
                o.client_id
            ),
            if is_google(o) {
                "copy the client ID and secret of the OAuth client (type Desktop app) from \
                 Google Cloud console → APIs & Services → Credentials"
            } else {
                "check the app registration and oauth2.client_secret"
            },
        ),
        "unauthorized_client" => finding(
            Cause::WrongClient,
            format!(
                "the provider does not let oauth2.client_id {} use this kind of sign-in ({said})",
                o.client_id
            ),
            "check the app's type: a Google OAuth client of type Desktop app, or a Microsoft \
             app with Allow public client flows for `klachtd oauth2 login`",
        ),
        "invalid_scope" => finding(
            Cause::ScopeInvalid,
            format!("the provider refused oauth2.scopes {:?} ({said})", o.scopes),
            scope_fix(o),
        ),
        "access_denied" | "authorization_declined" | "consent_required" => finding(
            Cause::ConsentMissing,
            format!("the sign-in was declined ({said})"),
            "run `klachtd oauth2 login` again and accept the permissions (an administrator may \
             have to grant consent first)",
        ),
        "redirect_uri_mismatch" => finding(
            Cause::WrongClient,
            format!("the OAuth client does not accept klachtd's loopback address ({said})"),
            "use an OAuth client of type Desktop app (Google Cloud console → Credentials → \
             Create credentials → OAuth client ID → Desktop app): it takes any \
             http://127.0.0.1 port",
        ),
        "expired_token" => finding(
            Cause::Other,
            format!("the sign-in code expired before it was used ({said})"),
            "run `klachtd oauth2 login` again and finish the sign-in within the time shown",
        ),
        _ => finding(
            Cause::Other,
            format!("the token endpoint refused the request ({said})"),
            "see the provider's message; docs/oauth2.md lists the usual causes",
        ),
    }
}

/// A refresh token the provider no longer takes.
fn revoked(said: &str, refresh_file: Option<&Path>) -> String {
    let which = refresh_file
        .map(|f| format!("the refresh token in {}", f.display()))
        .unwrap_or_else(|| "the refresh token".into());
    format!(
        "the provider refused {which} ({said}): it was revoked or has expired (an \
         administrator revoked it, the account's password changed, it went unused for 90 days, \
         or the app is still in Testing at Google, which ends tokens after 7 days)"
    )
}

fn permission_fix(o: &OAuth2) -> String {
    match o.source {
        TokenSourceKind::RefreshToken => "App registrations → the app → API permissions → Add a \
             permission → Microsoft Graph → Delegated permissions: IMAP.AccessAsUser.All, \
             SMTP.Send and offline_access; then Grant admin consent"
            .into(),
        _ => "App registrations → the app → API permissions → Add a permission → APIs my \
             organization uses → Office 365 Exchange Online → Application permissions: \
             IMAP.AccessAsApp and SMTP.SendAsApp; then Grant admin consent"
            .into(),
    }
}

fn scope_fix(o: &OAuth2) -> String {
    match (o.source, is_google(o)) {
        (_, true) => "set oauth2.scopes = [\"https://mail.google.com/\"]".into(),
        (TokenSourceKind::RefreshToken, false) => "set oauth2.scopes = \
             [\"https://outlook.office.com/IMAP.AccessAsUser.All\", \
             \"https://outlook.office.com/SMTP.Send\", \"offline_access\"]"
            .into(),
        _ => "set oauth2.scopes = [\"https://outlook.office365.com/.default\"]".into(),
    }
}

/// Which protocol a server answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Smtp,
}

/// What an IMAP or SMTP server's refusal of a fresh token says, when the answer names a
/// cause (Exchange Online and Gmail each have a few); None for an answer that names none.
pub fn server_answer(protocol: Protocol, answer: &str, mailbox: &str) -> Option<Finding> {
    let a = answer.to_ascii_lowercase();
    if a.contains("imap access is disabled for your domain") {
        return Some(finding(
            Cause::ImapDisabled,
            format!(
                "Gmail has IMAP switched off for the domain ({})",
                answer.trim()
            ),
            "Google Admin console → Apps → Google Workspace → Gmail → End User Access → POP \
             and IMAP access: enable IMAP for the organisational unit of the mailbox",
        ));
    }
    if a.contains("not enabled for imap use") {
        return Some(finding(
            Cause::ImapDisabled,
            format!(
                "Gmail has IMAP switched off for {mailbox} ({})",
                answer.trim()
            ),
            "Google Admin console → Apps → Google Workspace → Gmail → End User Access: allow \
             IMAP, then in Gmail (as the mailbox) Settings → Forwarding and POP/IMAP → Enable \
             IMAP",
        ));
    }
    if a.contains("smtpclientauthentication is disabled for the tenant") {
        return Some(finding(
            Cause::SmtpAuthDisabled,
            format!(
                "Exchange Online has SMTP AUTH switched off for the tenant ({})",
                answer.trim()
            ),
            format!(
                "in Exchange Online PowerShell enable it for this mailbox only: Set-CASMailbox \
                 -Identity {mailbox} -SmtpClientAuthenticationDisabled $false (the \
                 per-mailbox setting overrides the tenant's)"
            ),
        ));
    }
    if a.contains("smtpclientauthentication is disabled for the mailbox") {
        return Some(finding(
            Cause::SmtpAuthDisabled,
            format!(
                "Exchange Online has SMTP AUTH switched off for {mailbox} ({})",
                answer.trim()
            ),
            format!(
                "Exchange Online PowerShell: Set-CASMailbox -Identity {mailbox} \
                 -SmtpClientAuthenticationDisabled $false"
            ),
        ));
    }
    if a.contains("5.7.139") && a.contains("security defaults") {
        return Some(finding(
            Cause::BlockedByPolicy,
            format!(
                "the tenant's security defaults block SMTP AUTH ({})",
                answer.trim()
            ),
            "use app-only access (oauth2.source = \"client_credentials\" or \
             \"client_certificate\") or replace security defaults by Conditional Access \
             policies that allow it",
        ));
    }
    if a.contains("5.7.139") && a.contains("did not meet the criteria") {
        return Some(finding(
            Cause::BlockedByPolicy,
            format!(
                "a Conditional Access policy blocks SMTP AUTH ({})",
                answer.trim()
            ),
            "Entra admin center → Protection → Conditional Access: see the sign-in log of the \
             mailbox for the policy that blocked it",
        ));
    }
    if a.contains("sendasdenied") || a.contains("5.2.252") {
        return Some(finding(
            Cause::SendAsMissing,
            format!(
                "Exchange Online does not let the app send as {mailbox} ({})",
                answer.trim()
            ),
            format!(
                "Exchange Online PowerShell: Add-RecipientPermission -Identity {mailbox} \
                 -Trustee <the service principal's object ID> -AccessRights SendAs"
            ),
        ));
    }
    if a.contains("authenticated but not connected") {
        return Some(finding(
            Cause::MailboxAccessMissing,
            format!(
                "Exchange Online accepted the token but does not let it open {mailbox} ({})",
                answer.trim()
            ),
            exchange_mailbox_checks(protocol, mailbox),
        ));
    }
    if a.contains("please log in via your web browser") || a.contains("webalert") {
        return Some(finding(
            Cause::BlockedByPolicy,
            format!(
                "Gmail wants the account to sign in with a browser first ({})",
                answer.trim()
            ),
            "sign in to Gmail as the mailbox once in a browser, then `klachtd check` again",
        ));
    }
    None
}

/// The Exchange-side settings that each make the same refusal, with the PowerShell that shows
/// and fixes each.
pub fn exchange_mailbox_checks(protocol: Protocol, mailbox: &str) -> String {
    let (permission, switch) = match protocol {
        Protocol::Imap => (
            format!(
                "Get-MailboxPermission -Identity {mailbox} must list the app's service \
                 principal with FullAccess (Add-MailboxPermission -Identity {mailbox} -User \
                 <service principal object ID> -AccessRights FullAccess)"
            ),
            format!(
                "Get-CASMailbox -Identity {mailbox} | Format-List ImapEnabled must say True \
                 (Set-CASMailbox -Identity {mailbox} -ImapEnabled $true)"
            ),
        ),
        Protocol::Smtp => (
            format!(
                "the service principal needs FullAccess and SendAs on {mailbox} \
                 (Add-MailboxPermission … -AccessRights FullAccess; Add-RecipientPermission \
                 -Identity {mailbox} -Trustee <service principal object ID> -AccessRights SendAs)"
            ),
            format!(
                "Get-CASMailbox -Identity {mailbox} | Format-List SmtpClientAuthenticationDisabled \
                 must say False (Set-CASMailbox -Identity {mailbox} \
                 -SmtpClientAuthenticationDisabled $false)"
            ),
        ),
    };
    format!(
        "in Exchange Online PowerShell: (1) Get-ServicePrincipal must list the app, registered \
         with the Enterprise application's Object ID (New-ServicePrincipal -AppId <client id> \
         -ObjectId <enterprise application object ID>); (2) {permission}; (3) {switch}. \
         Exchange Online takes 30 minutes to 2 hours to apply a change: then `klachtd check` again"
    )
}

/// What a Microsoft access token's claims say against the configuration: another tenant or
/// app, an audience other than Exchange Online, permissions missing, or another user.
/// `imap`/`smtp`: which servers log in with it. Google's tokens are opaque: no claims.
pub fn claims(
    claims: &serde_json::Value,
    o: &OAuth2,
    mailbox: &str,
    imap: bool,
    smtp: bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let text = |k: &str| claims.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    if let (Some(expected), tid) = (microsoft_tenant(&o.token_url), text("tid"))
        && looks_like_guid(expected)
        && !tid.is_empty()
        && !tid.eq_ignore_ascii_case(expected)
    {
        out.push(finding(
            Cause::WrongTenant,
            format!("the token is of tenant {tid}, oauth2.token_url names tenant {expected}"),
            "use the Directory (tenant) ID of the organisation that owns the mailbox in \
             oauth2.token_url (and sign in again: `klachtd oauth2 login`)",
        ));
    }
    let app = [text("appid"), text("azp")]
        .into_iter()
        .find(|a| !a.is_empty())
        .unwrap_or_default();
    if !app.is_empty()
        && !o.client_id.trim().is_empty()
        && !app.eq_ignore_ascii_case(o.client_id.trim())
    {
        out.push(finding(
            Cause::WrongClient,
            format!(
                "the token was issued to app {app}, not to oauth2.client_id {} — a refresh \
                 token only works with the app that obtained it",
                o.client_id
            ),
            "obtain the token with klachtd's own app registration: `klachtd oauth2 login`",
        ));
    }
    let aud = text("aud");
    let exchange = [
        "https://outlook.office365.com",
        "https://outlook.office.com",
        "00000002-0000-0ff1-ce00-000000000000",
    ];
    if !aud.is_empty()
        && !exchange
            .iter()
            .any(|e| aud.trim_end_matches('/').eq_ignore_ascii_case(e))
        && claims.get("tid").is_some()
    {
        out.push(finding(
            Cause::ScopeInvalid,
            format!("the token is for {aud}, not for Exchange Online (outlook.office365.com)"),
            scope_fix(o),
        ));
    }
    let roles: Vec<&str> = claims
        .get("roles")
        .and_then(|r| r.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    let scp: Vec<&str> = text("scp").split_whitespace().collect();
    let delegated = !scp.is_empty() || claims.get("upn").is_some();
    let mut missing = Vec::new();
    if claims.get("tid").is_some() {
        if delegated {
            if imap
                && !scp
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case("IMAP.AccessAsUser.All"))
            {
                missing.push("IMAP.AccessAsUser.All");
            }
            if smtp && !scp.iter().any(|s| s.eq_ignore_ascii_case("SMTP.Send")) {
                missing.push("SMTP.Send");
            }
        } else {
            if imap
                && !roles
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case("IMAP.AccessAsApp"))
            {
                missing.push("IMAP.AccessAsApp");
            }
            if smtp
                && !roles
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case("SMTP.SendAsApp"))
            {
                missing.push("SMTP.SendAsApp");
            }
        }
    }
    if !missing.is_empty() {
        out.push(finding(
            Cause::PermissionMissing,
            format!(
                "the token carries no {} permission (it has: {}): the permission is not on the \
                 app, or admin consent was not granted",
                missing.join(" and "),
                if delegated {
                    if scp.is_empty() {
                        "none".into()
                    } else {
                        scp.join(" ")
                    }
                } else if roles.is_empty() {
                    "none".to_string()
                } else {
                    roles.join(" ")
                }
            ),
            permission_fix(o),
        ));
    }
    let user = [text("upn"), text("unique_name"), text("preferred_username")]
        .into_iter()
        .find(|u| u.contains('@'))
        .unwrap_or_default();
    if delegated && !user.is_empty() && !user.eq_ignore_ascii_case(mailbox) {
        out.push(finding(
            Cause::WrongUser,
            format!(
                "the token is of {user}, the mailbox is {mailbox}: that works only when \
                 {mailbox} is a shared mailbox {user} has FullAccess to"
            ),
            format!(
                "run `klachtd oauth2 login` and sign in as {mailbox} — or give {user} \
                 FullAccess to the shared mailbox (Add-MailboxPermission -Identity {mailbox} \
                 -User {user} -AccessRights FullAccess)"
            ),
        ));
    }
    out
}

fn looks_like_guid(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// The scopes of `wanted` a grant did not give: compared by their last part, case-insensitively
/// (Microsoft answers `IMAP.AccessAsUser.All` for `https://outlook.office.com/IMAP.AccessAsUser.All`).
/// `offline_access` shows as a refresh token, not in the list: `has_refresh` says whether one came.
pub fn missing_scopes(wanted: &[String], granted: Option<&str>, has_refresh: bool) -> Vec<String> {
    let granted: Vec<String> = granted
        .unwrap_or_default()
        .split_whitespace()
        .map(short_scope)
        .collect();
    wanted
        .iter()
        .filter(|w| {
            let short = short_scope(w);
            match short.as_str() {
                "offline_access" => !has_refresh,
                "openid" | "profile" | "email" => false,
                _ => !granted.contains(&short),
            }
        })
        .cloned()
        .collect()
}

fn short_scope(s: &str) -> String {
    let s = s.trim();
    // Google's scope is a URL ending in '/': keep it whole.
    if s.ends_with('/') {
        return s.to_ascii_lowercase();
    }
    s.rsplit('/').next().unwrap_or(s).to_ascii_lowercase()
}

/// A refusal nothing names — the server's words and the token's claims give no cause. Within
/// `grace` of the set-up (`age`), the likeliest cause is that the provider has not applied it
/// yet; after that, the provider-side settings that each give this refusal, with their checks.
pub fn unexplained(
    protocol: Protocol,
    answer: &str,
    mailbox: &str,
    o: Option<&OAuth2>,
    age: Option<chrono::Duration>,
    grace: chrono::Duration,
) -> Finding {
    let server = match protocol {
        Protocol::Imap => "the IMAP server",
        Protocol::Smtp => "the SMTP server",
    };
    let microsoft = o.is_some_and(is_microsoft)
        || answer.contains("AUTHENTICATE failed")
        || answer.contains("5.7.3");
    let google = o.is_some_and(is_google);
    if let Some(age) = age
        && age < grace
    {
        let minutes = age.num_minutes().max(0);
        let wait = ((grace - age).num_seconds() + 59).div_euclid(60).max(1);
        return finding(
            Cause::NotYetActive,
            format!(
                "{server} refused a fresh token for {mailbox} ({}); the set-up changed \
                 {minutes} minute(s) ago, and {}",
                answer.trim(),
                if google {
                    "Google can take hours to apply a change in the Admin console"
                } else {
                    "Exchange Online applies new app permissions only after its cache expires \
                     (30 minutes to 2 hours, says Microsoft)"
                }
            ),
            format!(
                "wait about {wait} more minute(s), then `klachtd check` again; if it still \
                 fails then, {}",
                if microsoft || !google {
                    exchange_mailbox_checks(protocol, mailbox)
                } else {
                    "check the domain-wide delegation or the app's access (docs/oauth2.md)".into()
                }
            ),
        );
    }
    if google {
        return finding(
            Cause::Unexplained,
            format!(
                "{server} refused a fresh token for {mailbox} ({})",
                answer.trim()
            ),
            "check that the token is for this mailbox: sign in as it with `klachtd oauth2 \
             login` (or set oauth2.impersonate to it), and that IMAP is on for it (Admin console \
             → Apps → Google Workspace → Gmail → End User Access)",
        );
    }
    finding(
        Cause::Unexplained,
        format!(
            "{server} refused a fresh token for {mailbox} and names no cause ({}); Exchange \
             Online gives this one answer for several causes",
            answer.trim()
        ),
        exchange_mailbox_checks(protocol, mailbox),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn oauth(source: TokenSourceKind) -> OAuth2 {
        let mut s = crate::settings::Settings::load_with_env(None, Vec::new())
            .unwrap()
            .oauth2;
        s.source = source;
        s.token_url = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token".into();
        s.client_id = "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb".into();
        s
    }

    fn ms(code: u64, error: &str) -> ProviderError {
        ProviderError {
            status: 400,
            error: error.into(),
            description: format!("AADSTS{code}: something"),
            codes: vec![code],
            suberror: None,
        }
    }

    /// The cause each documented AADSTS code is named as.
    #[test]
    fn aadsts_codes_name_their_cause() {
        let o = oauth(TokenSourceKind::ClientCredentials);
        for (code, cause) in [
            (50194, Cause::WrongTenant),
            (90002, Cause::WrongTenant),
            (700016, Cause::WrongClient),
            (7000215, Cause::WrongSecret),
            (7000222, Cause::SecretExpired),
            (700027, Cause::CertificateNotRegistered),
            (65001, Cause::ConsentMissing),
            (650057, Cause::PermissionMissing),
            (70011, Cause::ScopeInvalid),
            (7000218, Cause::PublicClientFlowsOff),
            (700082, Cause::GrantRevoked),
            (53003, Cause::BlockedByPolicy),
            (700024, Cause::ClockSkew),
        ] {
            let f = token_endpoint(&ms(code, "invalid_request"), &o, None);
            assert_eq!(f.cause, cause, "AADSTS{code}: {f}");
            assert!(f.detail.contains(&format!("AADSTS{code}")), "{f}");
        }
    }

    #[test]
    fn googles_answers_name_their_cause() {
        let mut o = oauth(TokenSourceKind::ServiceAccount);
        o.token_url = "https://oauth2.googleapis.com/token".into();
        o.impersonate = Some("info@example.org".into());
        let g = |error: &str, d: &str| ProviderError {
            status: 400,
            error: error.into(),
            description: d.into(),
            ..Default::default()
        };
        let cases = [
            (
                g(
                    "unauthorized_client",
                    "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
                ),
                Cause::DelegationMissing,
            ),
            (
                g("invalid_grant", "Invalid email or User ID"),
                Cause::UnknownMailbox,
            ),
            (
                g("invalid_grant", "Invalid JWT Signature."),
                Cause::KeyRefused,
            ),
            (
                g("invalid_grant", "Token has been expired or revoked."),
                Cause::GrantRevoked,
            ),
            (g("admin_policy_enforced", ""), Cause::BlockedByPolicy),
        ];
        for (e, cause) in cases {
            let f = token_endpoint(&e, &o, None);
            assert_eq!(f.cause, cause, "{f}");
        }
    }

    #[test]
    fn exchange_and_gmail_answers_name_their_cause() {
        let m = "info@example.org";
        for (p, answer, cause) in [
            (
                Protocol::Smtp,
                "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
                Cause::SmtpAuthDisabled,
            ),
            (
                Protocol::Smtp,
                "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.",
                Cause::SmtpAuthDisabled,
            ),
            (
                Protocol::Smtp,
                "535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator.",
                Cause::BlockedByPolicy,
            ),
            (
                Protocol::Imap,
                "BAD User is authenticated but not connected.",
                Cause::MailboxAccessMissing,
            ),
            (
                Protocol::Imap,
                "[ALERT] IMAP access is disabled for your domain. Please contact your domain administrator for questions about this feature. (Failure)",
                Cause::ImapDisabled,
            ),
            (
                Protocol::Imap,
                "[ALERT] Your account is not enabled for IMAP use. Please visit your Gmail settings page and enable your account for IMAP access. (Failure)",
                Cause::ImapDisabled,
            ),
            (
                Protocol::Smtp,
                "554 5.2.252 SendAsDenied; info@example.org not allowed to send as x@example.org",
                Cause::SendAsMissing,
            ),
        ] {
            let f = server_answer(p, answer, m).unwrap();
            assert_eq!(f.cause, cause, "{answer}: {f}");
        }
        assert!(server_answer(Protocol::Imap, "NO AUTHENTICATE failed.", m).is_none());
    }

    #[test]
    fn a_recent_set_up_is_not_yet_active_and_an_old_one_lists_the_checks() {
        let o = oauth(TokenSourceKind::ClientCredentials);
        let hour = chrono::Duration::minutes(60);
        // (the grace is alerts.login_grace_minutes; an hour here)
        let f = unexplained(
            Protocol::Imap,
            "NO AUTHENTICATE failed.",
            "info@example.org",
            Some(&o),
            Some(chrono::Duration::minutes(5)),
            hour,
        );
        assert_eq!(f.cause, Cause::NotYetActive);
        assert!(f.fix.contains("wait about 55 more minute(s)"), "{f}");
        let f = unexplained(
            Protocol::Imap,
            "NO AUTHENTICATE failed.",
            "info@example.org",
            Some(&o),
            Some(chrono::Duration::minutes(120)),
            hour,
        );
        assert_eq!(f.cause, Cause::Unexplained);
        assert!(
            f.fix.contains("ImapEnabled") && f.fix.contains("New-ServicePrincipal"),
            "{f}"
        );
    }

    #[test]
    fn the_claims_name_another_tenant_app_user_and_missing_roles() {
        let o = oauth(TokenSourceKind::ClientCredentials);
        let c = serde_json::json!({
            "aud": "https://outlook.office365.com",
            "tid": "99999999-2222-3333-4444-555555555555",
            "appid": "cccccccc-0000-1111-2222-bbbbbbbbbbbb",
            "roles": ["IMAP.AccessAsApp"],
        });
        let causes: Vec<Cause> = claims(&c, &o, "info@example.org", true, true)
            .into_iter()
            .map(|f| f.cause)
            .collect();
        assert_eq!(
            causes,
            vec![
                Cause::WrongTenant,
                Cause::WrongClient,
                Cause::PermissionMissing
            ]
        );
        let good = serde_json::json!({
            "aud": "https://outlook.office365.com",
            "tid": "11111111-2222-3333-4444-555555555555",
            "appid": "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb",
            "roles": ["IMAP.AccessAsApp", "SMTP.SendAsApp"],
        });
        assert!(claims(&good, &o, "info@example.org", true, true).is_empty());
        let delegated = serde_json::json!({
            "aud": "https://outlook.office.com",
            "tid": "11111111-2222-3333-4444-555555555555",
            "appid": "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb",
            "scp": "IMAP.AccessAsUser.All SMTP.Send",
            "upn": "admin@example.org",
        });
        let f = claims(&delegated, &o, "info@example.org", true, true);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].cause, Cause::WrongUser);
    }

    #[test]
    fn the_common_endpoint_and_a_delegated_scope_for_app_only_are_named_before_any_request() {
        let mut o = oauth(TokenSourceKind::ClientCredentials);
        o.token_url = "https://login.microsoftonline.com/common/oauth2/v2.0/token".into();
        o.scopes = vec!["https://outlook.office.com/IMAP.AccessAsUser.All".into()];
        let causes: Vec<Cause> = configuration(&o).into_iter().map(|f| f.cause).collect();
        assert_eq!(causes, vec![Cause::WrongTenant, Cause::ScopeInvalid]);
    }

    proptest! {
        /// Whatever code or description a provider sends, the finding names the provider's own
        /// words and has a fix; and a code Microsoft sends only in its description is read too.
        #[test]
        fn every_refusal_quotes_the_provider_and_has_a_fix(
            code in proptest::option::of(1u64..10_000_000),
            error in "[a-z_]{1,20}",
            text in "[ -~]{0,60}",
        ) {
            prop_assume!(!text.contains("AADSTS"));
            let o = oauth(TokenSourceKind::RefreshToken);
            let description = match code { Some(c) => format!("AADSTS{c}: {text}"), None => text.clone() };
            let e = ProviderError { status: 400, error: error.clone(), description: description.clone(), codes: vec![], suberror: None };
            let f = token_endpoint(&e, &o, Some(Path::new("/var/lib/klachtd/t")));
            prop_assert!(f.detail.contains(&error), "{}", f);
            prop_assert!(f.detail.contains(description.trim()) || description.trim().is_empty(), "{}", f);
            prop_assert!(!f.fix.is_empty());
            prop_assert_eq!(e.aadsts(), code);
        }

        /// Scopes are compared by their last part; a refresh token stands for offline_access.
        #[test]
        fn a_granted_scope_is_never_reported_missing(
            wanted in proptest::collection::vec(proptest::sample::select(vec![
                "https://outlook.office.com/IMAP.AccessAsUser.All",
                "https://outlook.office.com/SMTP.Send",
                "offline_access",
                "https://mail.google.com/",
            ]), 1..4),
            granted_mask in any::<u8>(),
            refresh in any::<bool>(),
        ) {
            let wanted: Vec<String> = wanted.into_iter().map(str::to_string).collect();
            let granted: Vec<&str> = wanted.iter().enumerate()
                .filter(|(i, _)| granted_mask & (1 << i) != 0)
                .map(|(_, w)| w.as_str())
                .collect();
            let joined = granted.join(" ");
            let missing = missing_scopes(&wanted, Some(&joined), refresh);
            for m in &missing {
                if m == "offline_access" { prop_assert!(!refresh); } else { prop_assert!(!granted.contains(&m.as_str())); }
            }
            for w in &wanted {
                let is_granted = if w == "offline_access" { refresh } else { granted.contains(&w.as_str()) };
                prop_assert_eq!(missing.contains(w), !is_granted);
            }
        }
    }
}
