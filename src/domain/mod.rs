//! Pure domain types: addresses, case references and states, the working-day calendar.
//! Nothing here does I/O or reads the clock.

pub mod address;
pub mod attachment;
pub mod calendar;
pub mod case_ref;
pub mod display_name;
pub mod disposition;
pub mod language;
pub mod mentions;
pub mod privacy;
pub mod status;
pub mod wording;

pub use address::EmailAddress;
pub use attachment::Attachment;
pub use calendar::{CalendarRules, LiberationDay, WorkingCalendar};
pub use case_ref::CaseRef;
pub use disposition::Disposition;
pub use language::Language;
pub use status::CaseStatus;
