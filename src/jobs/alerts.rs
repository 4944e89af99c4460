//! Telling the administrator: when the mailbox cannot be read or mail cannot be sent for longer
//! than `alerts.after_minutes` — at once when a login is refused, unless the login settings
//! changed less than `alerts.login_grace_minutes` ago (a provider applies new permissions with a
//! delay) — the director gets one alert; when it works again, one all-clear. Judged on every scheduler pass from what the daemon
//! recorded (the inbound connection) and the outbox itself (mail tried and still waiting).
//! If sending is what fails, the alert waits in the outbox like any mail, and `klachtd status`
//! shows the failure meanwhile.

use super::Jobs;
use crate::domain::Language;
use crate::outbound::{Letter, Mailer, Template, templates};
use crate::store::{OutboxKind, QueuedMail, service_state};
use chrono::{DateTime, Utc};
use rusqlite::Connection;

/// What can stop klachtd working: reading the mailbox, sending, writing its own database, and
/// each scheduled job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    Inbound,
    Outbound,
    /// The database cannot be written (disk full, read-only).
    Store,
    Job(Job),
}

/// The scheduled jobs, each isolated and judged on its own ([`super::Jobs::isolated`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Reminders and overdue alerts.
    Deadlines,
    Digest,
    /// The yearly analysis.
    Report,
    /// Privacy requests' legal deadlines (issue 25).
    Privacy,
    /// The summary of mail the outbound budget held back (issue 22).
    Summaries,
    /// The retention purge.
    Purge,
    /// Removing purged mail from the mailbox and the file transport's directory.
    Cleanup,
    /// Judging the connections' health and alerting (this module).
    Alerts,
}

impl Job {
    pub const ALL: [Job; 8] = [
        Job::Deadlines,
        Job::Digest,
        Job::Report,
        Job::Privacy,
        Job::Summaries,
        Job::Purge,
        Job::Cleanup,
        Job::Alerts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Job::Deadlines => "deadlines",
            Job::Digest => "digest",
            Job::Report => "report",
            Job::Privacy => "privacy",
            Job::Summaries => "summaries",
            Job::Purge => "purge",
            Job::Cleanup => "cleanup",
            Job::Alerts => "alerts",
        }
    }

    /// What the job does, for the administrator.
    fn describe(self, lang: Language) -> &'static str {
        match (self, lang) {
            (Job::Deadlines, Language::Nl) => "herinneringen en termijnbewaking",
            (Job::Digest, Language::Nl) => "het wekelijkse overzicht",
            (Job::Report, Language::Nl) => "de jaaranalyse",
            (Job::Privacy, Language::Nl) => "de bewaking van de termijnen van AVG-verzoeken",
            (Job::Summaries, Language::Nl) => "het overzicht van tegengehouden berichten",
            (Job::Purge, Language::Nl) => "het verwijderen van gegevens na de bewaartermijn",
            (Job::Cleanup, Language::Nl) => {
                "het opruimen van verwijderde mail uit de mailbox en de uitgaande map"
            }
            (Job::Alerts, Language::Nl) => "het bewaken van de verbindingen",
            (Job::Deadlines, Language::En) => "reminders and deadline watch",
            (Job::Digest, Language::En) => "the weekly digest",
            (Job::Report, Language::En) => "the yearly analysis",
            (Job::Privacy, Language::En) => "watching the deadlines of privacy requests",
            (Job::Summaries, Language::En) => "the summary of held-back mail",
            (Job::Purge, Language::En) => "removing data after the retention period",
            (Job::Cleanup, Language::En) => {
                "removing purged mail from the mailbox and the outgoing directory"
            }
            (Job::Alerts, Language::En) => "watching the connections",
        }
    }
}

impl Component {
    pub const ALL: [Component; 11] = [
        Component::Inbound,
        Component::Outbound,
        Component::Store,
        Component::Job(Job::Deadlines),
        Component::Job(Job::Digest),
        Component::Job(Job::Report),
        Component::Job(Job::Privacy),
        Component::Job(Job::Summaries),
        Component::Job(Job::Purge),
        Component::Job(Job::Cleanup),
        Component::Job(Job::Alerts),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Component::Inbound => "inbound",
            Component::Outbound => "outbound",
            Component::Store => "store",
            Component::Job(Job::Deadlines) => "job:deadlines",
            Component::Job(Job::Digest) => "job:digest",
            Component::Job(Job::Report) => "job:report",
            Component::Job(Job::Privacy) => "job:privacy",
            Component::Job(Job::Summaries) => "job:summaries",
            Component::Job(Job::Purge) => "job:purge",
            Component::Job(Job::Cleanup) => "job:cleanup",
            Component::Job(Job::Alerts) => "job:alerts",
        }
    }

    /// A failing job or database is alerted at once: it does not mend itself by waiting, as a
    /// connection may.
    fn alerts_at_once(self) -> bool {
        matches!(self, Component::Job(_) | Component::Store)
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
    let h = service_state::get(conn, component.as_str())?;
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
    match service_state::outbox(conn)?.paused {
        Some(reason) => {
            let refused = reason.contains(crate::auth::LOGIN_REFUSED);
            service_state::record_failure(conn, Component::Outbound.as_str(), now, &reason, refused)
        }
        None => service_state::record_ok(conn, Component::Outbound.as_str(), now),
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
    Ok(service_state::login_setup_since(conn)?
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
            let open = service_state::open_alert(tx, component.as_str())?.map(|(at, _)| at);
            let after = if component.alerts_at_once() {
                chrono::Duration::zero()
            } else {
                after
            };
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
                    service_state::raise_alert(tx, component.as_str(), p.since, &p.reason)?;
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
                    service_state::clear_alert(tx, component.as_str())?;
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
        let mailer = self.intake.mailer();
        let letter = notice_letter(&mailer, component, problem, since, now);
        mailer.to_director_without_case(tx, letter, now)?;
        Ok(())
    }
}

/// The alert (with a problem) or the all-clear (without) about `component`.
fn notice_letter<'a>(
    mailer: &Mailer<'_>,
    component: Component,
    problem: Option<&Problem>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Letter<'a> {
    let settings = mailer.settings;
    let lang = mailer.staff_language();
    let mut context = tera::Context::new();
    context.insert("organisation", &settings.organisation.name);
    context.insert("since", &templates::long_datetime(since, mailer.tz, lang));
    context.insert("recovered", &templates::long_datetime(now, mailer.tz, lang));
    let refused = problem.is_some_and(|p| p.login_refused);
    context.insert("what", &what(component, refused, lang));
    context.insert("resolved", &resolved(component, lang));
    context.insert("meanwhile", meanwhile(component, lang));
    if let Some(p) = problem {
        context.insert("reason", &p.reason);
        context.insert("fix", &fix(component, refused, lang, settings));
    }
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
        // klachtd's own alert: never held back.
        cause: crate::outbound::budget::Cause::Proven,
    }
}

/// The administrator alert about `component` as a finished mail, not queued: for when the
/// database itself cannot be written, so the alert cannot wait in the outbox. It is sent
/// through the transport directly, and put on record once the database takes writes again.
pub fn unqueued_alert(
    mailer: &Mailer<'_>,
    component: Component,
    problem: &Problem,
    now: DateTime<Utc>,
) -> anyhow::Result<QueuedMail> {
    let letter = notice_letter(mailer, component, Some(problem), problem.since, now);
    let (message_id, raw) = mailer.director_mail(letter, now)?;
    Ok(QueuedMail {
        id: 0,
        message_id,
        case: None,
        kind: OutboxKind::DirectorNotice,
        envelope_from: mailer.settings.organisation.address.to_string(),
        recipients: vec![mailer.settings.roles.director.to_string()],
        raw,
        status: crate::store::OutboxStatus::Queued,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        created_at: now,
        sent_at: None,
    })
}

/// Puts on record, once the database takes writes again, a failure of `component` from `since`
/// that it could not record while it lasted (with the alert sent for it directly, if one was):
/// the failure is over, the alert is open, so the next health pass sends the all-clear.
pub fn record_past_failure(
    mailer: &Mailer<'_>,
    tx: &Connection,
    component: Component,
    since: DateTime<Utc>,
    reason: &str,
    alert: Option<&QueuedMail>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    service_state::record_failure(tx, component.as_str(), since, reason, false)?;
    if let Some(mail) = alert {
        mailer.record_sent_directly(tx, mail)?;
        service_state::raise_alert(tx, component.as_str(), since, reason)?;
    }
    service_state::record_ok(tx, component.as_str(), now)
}

fn what(component: Component, refused: bool, lang: Language) -> String {
    let fixed = match (component, refused, lang) {
        (Component::Inbound, true, Language::Nl) => {
            "de mailserver weigert de aanmelding voor de mailbox"
        }
        (Component::Inbound, false, Language::Nl) => "de mailbox kan niet worden gelezen",
        (Component::Outbound, true, Language::Nl) => {
            "de mailserver weigert de aanmelding voor het versturen"
        }
        (Component::Outbound, false, Language::Nl) => "er kan geen mail worden verstuurd",
        (Component::Store, _, Language::Nl) => {
            "de database kan niet worden bijgewerkt (de schijf is vol of alleen-lezen)"
        }
        (Component::Inbound, true, Language::En) => "the mail server refuses the mailbox login",
        (Component::Inbound, false, Language::En) => "the mailbox cannot be read",
        (Component::Outbound, true, Language::En) => {
            "the mail server refuses the login for sending"
        }
        (Component::Outbound, false, Language::En) => "mail cannot be sent",
        (Component::Store, _, Language::En) => {
            "the database cannot be written (the disk is full or read-only)"
        }
        (Component::Job(job), _, Language::Nl) => {
            return format!("de geplande taak \"{}\" mislukt", job.describe(lang));
        }
        (Component::Job(job), _, Language::En) => {
            return format!("the scheduled task \"{}\" fails", job.describe(lang));
        }
    };
    fixed.to_string()
}

/// What works again, for the all-clear.
fn resolved(component: Component, lang: Language) -> String {
    match (component, lang) {
        (Component::Inbound, Language::Nl) => "de mailbox wordt weer gelezen".into(),
        (Component::Outbound, Language::Nl) => "mail wordt weer verstuurd".into(),
        (Component::Store, Language::Nl) => "de database wordt weer bijgewerkt".into(),
        (Component::Job(job), Language::Nl) => {
            format!("de geplande taak \"{}\" lukt weer", job.describe(lang))
        }
        (Component::Inbound, Language::En) => "the mailbox is read again".into(),
        (Component::Outbound, Language::En) => "mail is sent again".into(),
        (Component::Store, Language::En) => "the database is written again".into(),
        (Component::Job(job), Language::En) => {
            format!("the scheduled task \"{}\" works again", job.describe(lang))
        }
    }
}

/// What happens while it lasts (nothing is lost either way).
fn meanwhile(component: Component, lang: Language) -> &'static str {
    match (component, lang) {
        (Component::Inbound | Component::Outbound, Language::Nl) => {
            "Zolang de storing duurt, gaat er geen klacht verloren: binnengekomen mail blijft in de mailbox staan en uitgaande mail blijft in de wachtrij."
        }
        (Component::Store, Language::Nl) => {
            "Zolang de storing duurt, gaat er geen klacht verloren: binnengekomen mail blijft in de mailbox staan tot de database hem kan vastleggen, en klachtd probeert het elke minuut opnieuw. Zodra er weer ruimte is, gaat alles vanzelf verder."
        }
        (Component::Job(_), Language::Nl) => {
            "Het binnenhalen van mail en het versturen gaan gewoon door; klachtd probeert de taak elke minuut opnieuw."
        }
        (Component::Inbound | Component::Outbound, Language::En) => {
            "While it lasts no complaint is lost: incoming mail stays in the mailbox and outgoing mail stays queued."
        }
        (Component::Store, Language::En) => {
            "While it lasts no complaint is lost: incoming mail stays in the mailbox until the database can record it, and klachtd tries again every minute. Once there is room again, everything carries on by itself."
        }
        (Component::Job(_), Language::En) => {
            "Taking in mail and sending go on as usual; klachtd tries the task again every minute."
        }
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
        Component::Store => {
            let path = settings.store.path.display();
            return match lang {
                Language::Nl => format!(
                    "maak ruimte vrij op de schijf van {path} of maak die weer schrijfbaar; \"klachtd status\" op de server laat de stand zien."
                ),
                Language::En => format!(
                    "free space on the disk holding {path}, or make it writable again; \"klachtd status\" on the server shows where things stand."
                ),
            };
        }
        Component::Job(_) => {
            return match lang {
                Language::Nl => "bekijk het logboek van klachtd (journalctl -u klachtd) voor de fout, en \"klachtd status\" op de server.".into(),
                Language::En => "look for the error in klachtd's log (journalctl -u klachtd), and at \"klachtd status\" on the server.".into(),
            };
        }
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

/// `job` ran through at `now`: a failure it had is over (nothing is written otherwise).
pub fn job_ok(store: &crate::store::Store, job: Job, now: DateTime<Utc>) {
    if let Err(e) = service_state::record_recovered(store.conn(), Component::Job(job).as_str(), now)
    {
        tracing::error!(job = job.as_str(), "recording the job's health: {e:#}");
    }
}

/// `job` failed at `now` with `error`: logged (addresses hashed) and recorded, so the
/// administrator is alerted and `klachtd status` shows it.
pub fn job_failed(store: &crate::store::Store, job: Job, now: DateTime<Utc>, error: &str) {
    tracing::error!(
        job = job.as_str(),
        "scheduled job failed; the other jobs, intake and sending go on, and it is tried again next pass: {}",
        crate::intake::loggable(error)
    );
    if let Err(e) = service_state::record_failure(
        store.conn(),
        Component::Job(job).as_str(),
        now,
        error,
        false,
    ) {
        tracing::error!(job = job.as_str(), "recording the job's failure: {e:#}");
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
    if let Err(e) = service_state::record_ok(store.conn(), Component::Inbound.as_str(), now) {
        tracing::error!("recording the mailbox's health: {e:#}");
    }
}

/// Reading the mailbox failed at `now` with `error`.
pub fn inbound_failed(store: &crate::store::Store, now: DateTime<Utc>, error: &anyhow::Error) {
    let refused = crate::auth::is_login_refused(error);
    let text = format!("{error:#}");
    if let Err(e) = service_state::record_failure(
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
            context.insert("what", &what(Component::Outbound, false, lang));
            context.insert("resolved", &resolved(Component::Outbound, lang));
            context.insert("meanwhile", meanwhile(Component::Outbound, lang));
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
