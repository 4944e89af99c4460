//! Pure domain types: addresses, case references and states, the working-day calendar.
//! Nothing here does I/O or reads the clock.

pub mod address;
pub mod calendar;
pub mod case_ref;
pub mod display_name;
pub mod language;
pub mod mentions;
pub mod privacy;
pub mod status;
pub mod wording;

pub use address::EmailAddress;
pub use calendar::{CalendarRules, LiberationDay, WorkingCalendar};
pub use case_ref::CaseRef;
pub use status::CaseStatus;
