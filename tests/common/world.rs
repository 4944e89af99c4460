//! klachtd in process for a test: settings, calendar and templates, and the `Intake` built on
//! them — what the daemon holds, without mail servers.
#![allow(dead_code)] // each test binary uses a different part of the helpers

use chrono::{DateTime, Utc};
use klachtd::domain::{CaseRef, WorkingCalendar};
use klachtd::inbound::RawMail;
use klachtd::intake::Intake;
use klachtd::outbound::Renderer;
use klachtd::settings::Settings;
use klachtd::store::Store;

pub struct World {
    pub settings: Settings,
    pub calendar: WorkingCalendar,
    pub renderer: Renderer,
}

impl World {
    pub fn new(settings: Settings) -> World {
        World {
            calendar: settings.working_calendar(),
            renderer: Renderer::load(None).unwrap(),
            settings,
        }
    }

    /// Built-in defaults with these `KLACHTD__…` overrides.
    pub fn with_env(env: &[(&str, &str)]) -> World {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        World::new(Settings::load_with_env(None, env).unwrap())
    }

    pub fn intake(&self) -> Intake<'_> {
        Intake {
            settings: &self.settings,
            calendar: &self.calendar,
            renderer: &self.renderer,
            tz: self.settings.timezone(),
        }
    }

    /// A plain complaint from `from` arriving at `at`; returns the case it opened.
    pub fn complaint(
        &self,
        store: &mut Store,
        key: &str,
        from: &str,
        at: DateTime<Utc>,
    ) -> CaseRef {
        let raw = format!(
            "From: Klager <{from}>\r\nTo: info@example.org\r\nSubject: Klacht {key}\r\nMessage-ID: <{key}@example.net>\r\n\r\nIk ben niet tevreden over de cursus.\r\n"
        );
        let raw = RawMail {
            source_key: key.into(),
            bytes: raw.into_bytes(),
            arrived_at: Some(at),
        };
        self.intake()
            .process(store, &raw, at)
            .unwrap()
            .case
            .unwrap()
    }
}
