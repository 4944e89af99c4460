//! klachtd in process for a test: settings, calendar and templates, and the `Intake` built on
//! them — what the daemon holds, without mail servers.
#![allow(dead_code)] // each test binary uses a different part of the helpers

use klachtd::domain::WorkingCalendar;
use klachtd::intake::Intake;
use klachtd::outbound::Renderer;
use klachtd::settings::Settings;

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
}
