//! Telling the administrator: when the mailbox cannot be read or mail cannot be sent for longer
//! than `alerts.after_minutes` — at once when a login is refused, unless the login settings
//! changed less than `alerts.login_grace_minutes` ago (a provider applies new permissions with a
//! delay) — the director gets one alert; when it works again, one all-clear. Judged on every scheduler pass from what the daemon
//! recorded (the inbound connection) and the outbox itself (mail tried and still waiting).
//! If sending is what fails, the alert waits in the outbox like any mail, and `klachtd status`
//! shows the failure meanwhile.

use super::Jobs;
use crate::domain::Language;
use crate::outbound::{Letter, Template, templates};
use crate::store::{OutboxKind, health};
use chrono::{DateTime, Utc};
use rusqlite::Connection;

/// The two things that can stop klachtd working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    Inbound,
    Outbound,
}

impl Component {
    pub const ALL: [Component; 2] = [Component::Inbound, Component::Outbound];

    pub fn as_str(self) -> &'static str {
        match self {
            Component::Inbound => "inbound",
            Component::Outbound => "outbound",
        }
    }
}

/// A failure as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub since: DateTime<Utc>,
    pub reason: String,
    pub login_refused: bool,
}

/// The current failure of `component`, if it fails, as recorded (reads only).
pub fn problem(conn: &Connection, component: Component) -> anyhow::Result<Option<Problem>> {
    let h = health::get(conn, component.as_str())?;
    Ok(h.failing_since.map(|since| Problem {
        since,
        reason: h.last_error.unwrap_or_default(),
        login_refused: h.login_refused,
    }))
}

/// Sending fails while the outbox is paused for the server (no connection, TLS, a refused
/// login, 421); one recipient's temporary trouble does not count. Records that as the
/// outbound component's health, counting from the first pass that saw the pause.
fn record_outbound(conn: &Connection, now: DateTime<Utc>) -> anyhow::Result<()> {
    match health::outbox(conn)?.paused {
        Some(reason) => {
            let refused = reason.contains(crate::auth::LOGIN_REFUSED);
            health::record_failure(conn, Component::Outbound.as_str(), now, &reason, refused)
        }
        None => health::record_ok(conn, Component::Outbound.as_str(), now),
    }
}

/// What [`decide`] says to do about one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Nothing,
    /// A refused login within the grace after a change of the login settings: alerted at
    /// `until` if it still fails then.
    Wait {
        until: DateTime<Utc>,
    },
    Alert(Problem),
    AllClear {
        since: DateTime<Utc>,
    },
}

/// The rule, apart from the database: a refused login is alerted from `refused_from` on (at
/// once, unless the login settings changed within the grace before), any other failure once it
/// has lasted `after`; never while an alert is open. All-clear once it is over and an alert is
/// open.
pub fn decide(
    problem: Option<Problem>,
    open_alert: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    after: chrono::Duration,
    refused_from: DateTime<Utc>,
) -> Action {
    match (problem, open_alert) {
        (Some(p), None) if p.login_refused && now < refused_from => Action::Wait {
            until: refused_from,
        },
        (Some(p), None) if p.login_refused || now - p.since >= after => Action::Alert(p),
        (None, Some(since)) => Action::AllClear { since },
        _ => Action::Nothing,
    }
}

/// From when a refused login is alerted: the grace after the login settings last changed (as
/// the daemon recorded them), or at once when nothing is recorded.
pub fn refused_alert_from(
    conn: &Connection,
    grace: chrono::Duration,
) -> anyhow::Result<DateTime<Utc>> {
    Ok(health::login_setup_since(conn)?
        .map(|since| since + grace)
        .unwrap_or(DateTime::<Utc>::MIN_UTC))
}

impl Jobs<'_> {
    /// Queues the alerts and all-clears that are due; returns how many.
    pub fn watch_health(&self, tx: &Connection, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let alerts = &self.intake.settings.alerts;
        let after = chrono::Duration::minutes(i64::from(alerts.after_minutes));
        let grace = chrono::Duration::minutes(i64::from(alerts.login_grace_minutes));
        let refused_from = refused_alert_from(tx, grace)?;
        record_outbound(tx, now)?;
        let mut queued = 0;
        for component in Component::ALL {
            let open = health::open_alert(tx, component.as_str())?.map(|(at, _)| at);
            match decide(problem(tx, component)?, open, now, after, refused_from) {
                Action::Nothing => {}
                Action::Wait { until } => tracing::info!(
                    component = component.as_str(),
                    %until,
                    "the login is refused, but the login settings changed less than \
                     alerts.login_grace_minutes ago (a provider can take that long to apply new \
                     permissions): the director is alerted at {until} if it still fails then"
                ),
                Action::Alert(p) => {
                    self.queue_notice(tx, component, Some(&p), p.since, now)?;
                    health::raise_alert(tx, component.as_str(), p.since, &p.reason)?;
                    tracing::warn!(
                        component = component.as_str(),
                        since = %p.since,
                        "the director is alerted: {}",
                        p.reason
                    );
                    queued += 1;
                }
                Action::AllClear { since } => {
                    self.queue_notice(tx, component, None, since, now)?;
                    health::clear_alert(tx, component.as_str())?;
                    tracing::info!(component = component.as_str(), "all clear sent");
                    queued += 1;
                }
            }
        }
        Ok(queued)
    }

    fn queue_notice(
        &self,
        tx: &Connection,
        component: Component,
        problem: Option<&Problem>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let settings = self.intake.settings;
        let mailer = self.intake.mailer();
        let lang = mailer.staff_language();
        let mut context = tera::Context::new();
        context.insert("organisation", &settings.organisation.name);
        context.insert(
            "since",
            &templates::long_datetime(since, self.intake.tz, lang),
        );
        context.insert(
            "recovered",
            &templates::long_datetime(now, self.intake.tz, lang),
        );
        let refused = problem.is_some_and(|p| p.login_refused);
        context.insert("what", what(component, refused, lang));
        if let Some(p) = problem {
            context.insert("reason", &p.reason);
            context.insert("fix", &fix(component, refused, lang, settings));
        }
        mailer.to_director_without_case(
            tx,
            Letter {
                kind: OutboxKind::DirectorNotice,
                template: if problem.is_some() {
                    Template::AdminAlert
                } else {
                    Template::AdminAllClear
                },
                case: None,
                context,
                attachments: &[],
                files: crate::outbound::mailer::Files::None,
                cause: crate::outbound::budget::Cause::Proven,
            },
            now,
        )?;
        Ok(())
    }
}

fn what(component: Component, refused: bool, lang: Language) -> &'static str {
    match (component, refused, lang) {
        (Component::Inbound, true, Language::Nl) => {
            "de mailserver weigert de aanmelding voor de mailbox"
        }
        (Component::Inbound, false, Language::Nl) => "de mailbox kan niet worden gelezen",
        (Component::Outbound, true, Language::Nl) => {
            "de mailserver weigert de aanmelding voor het versturen"
        }
        (Component::Outbound, false, Language::Nl) => "er kan geen mail worden verstuurd",
        (Component::Inbound, true, Language::En) => "the mail server refuses the mailbox login",
        (Component::Inbound, false, Language::En) => "the mailbox cannot be read",
        (Component::Outbound, true, Language::En) => {
            "the mail server refuses the login for sending"
        }
        (Component::Outbound, false, Language::En) => "mail cannot be sent",
    }
}

fn fix(
    component: Component,
    refused: bool,
    lang: Language,
    settings: &crate::settings::Settings,
) -> String {
    let server = match component {
        Component::Inbound => &settings.inbound.imap.host,
        Component::Outbound => &settings.outbound.smtp.host,
    };
    match (refused, lang) {
        (true, Language::Nl) => format!(
            "controleer het wachtwoord of de OAuth2-koppeling (zie docs/oauth2.md) voor {server}, \
             en voer daarna op de server \"klachtd check\" uit."
        ),
        (false, Language::Nl) => format!(
            "controleer of {server} bereikbaar is en werkt; \"klachtd check\" op de server laat \
             zien welke stap mislukt."
        ),
        (true, Language::En) => format!(
            "check the password or the OAuth2 set-up (see docs/oauth2.md) for {server}, then run \
             \"klachtd check\" on the server."
        ),
        (false, Language::En) => format!(
            "check that {server} is reachable and working; \"klachtd check\" on the server shows \
             which step fails."
        ),
    }
}

/// The outbox worker finished a pass at `now`: records whether sending is paused.
pub fn outbound_observed(store: &crate::store::Store, now: DateTime<Utc>) {
    if let Err(e) = record_outbound(store.conn(), now) {
        tracing::error!("recording the outbox's health: {e:#}");
    }
}

/// The daemon read its mailbox (or connected to it) at `now`.
pub fn inbound_ok(store: &crate::store::Store, now: DateTime<Utc>) {
    if let Err(e) = health::record_ok(store.conn(), Component::Inbound.as_str(), now) {
        tracing::error!("recording the mailbox's health: {e:#}");
    }
}

/// Reading the mailbox failed at `now` with `error`.
pub fn inbound_failed(store: &crate::store::Store, now: DateTime<Utc>, error: &anyhow::Error) {
    let refused = crate::auth::is_login_refused(error);
    let text = format!("{error:#}");
    if let Err(e) = health::record_failure(
        store.conn(),
        Component::Inbound.as_str(),
        now,
        &text,
        refused,
    ) {
        tracing::error!("recording the mailbox's health: {e:#}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(minutes: i64) -> DateTime<Utc> {
        "2026-12-01T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
            + chrono::Duration::minutes(minutes)
    }

    #[test]
    fn the_alert_and_the_all_clear_render_in_both_languages() {
        let renderer = crate::outbound::Renderer::load(None).unwrap();
        for lang in [Language::Nl, Language::En] {
            let mut context = tera::Context::new();
            context.insert("organisation", "Leefstijlwijzer Opleidingen");
            context.insert("what", what(Component::Outbound, false, lang));
            context.insert("since", "maandag 30 november 2026 om 10:00");
            context.insert("recovered", "maandag 30 november 2026 om 12:00");
            context.insert("reason", "connection refused");
            context.insert("fix", "x");
            let alert = renderer
                .render(Template::AdminAlert, lang, &context)
                .unwrap();
            let clear = renderer
                .render(Template::AdminAllClear, lang, &context)
                .unwrap();
            for r in [&alert, &clear] {
                assert!(!r.subject.is_empty() && !r.text.contains("{{"), "{r:?}");
                assert!(r.html.contains("Leefstijlwijzer Opleidingen"));
            }
            assert!(alert.text.contains("connection refused"));
            if lang == Language::Nl {
                assert_eq!(
                    alert.subject,
                    "Storing klachtenregistratie: er kan geen mail worden verstuurd"
                );
                assert!(alert.text.starts_with("Geachte beheerder,"));
                assert!(
                    alert.text.contains("U ") || alert.text.contains(" u "),
                    "u-vorm"
                );
            }
        }
    }

    proptest! {
        /// Over any sequence of up/down observations a minute apart: alerts and all-clears
        /// alternate, starting with an alert; a refused login is alerted once the grace after a
        /// change of the login settings is over (at once without one), any other failure once it
        /// has lasted the threshold, and never before; an all-clear comes only once the failure
        /// is over.
        #[test]
        fn alerts_and_all_clears_alternate_and_respect_the_threshold(
            steps in proptest::collection::vec((any::<bool>(), any::<bool>()), 1..200),
            threshold in 1i64..30,
            grace_end in -10i64..220,
        ) {
            let after = chrono::Duration::minutes(threshold);
            let refused_from = t(grace_end);
            let mut since: Option<DateTime<Utc>> = None;
            let mut open: Option<DateTime<Utc>> = None;
            let mut sent = Vec::new();
            for (i, (down, refused)) in steps.iter().enumerate() {
                let now = t(i as i64);
                let problem = if *down {
                    let s = *since.get_or_insert(now);
                    Some(Problem { since: s, reason: "x".into(), login_refused: *refused })
                } else {
                    since = None;
                    None
                };
                let due = |p: &Problem| {
                    if p.login_refused { now >= refused_from } else { now - p.since >= after }
                };
                match decide(problem.clone(), open, now, after, refused_from) {
                    Action::Nothing => {}
                    Action::Wait { until } => {
                        let p = problem.clone().unwrap();
                        prop_assert!(p.login_refused && now < refused_from && open.is_none());
                        prop_assert_eq!(until, refused_from);
                    }
                    Action::Alert(p) => {
                        prop_assert!(due(&p));
                        prop_assert!(open.is_none());
                        open = Some(p.since);
                        sent.push(true);
                    }
                    Action::AllClear { .. } => {
                        prop_assert!(problem.is_none());
                        prop_assert!(open.is_some());
                        open = None;
                        sent.push(false);
                    }
                }
                // Whatever is due has been alerted.
                if let Some(p) = &problem && due(p) {
                    prop_assert!(open.is_some(), "a due failure went unreported");
                }
            }
            for (i, alert) in sent.iter().enumerate() {
                prop_assert_eq!(*alert, i % 2 == 0);
            }
        }
    }
}
