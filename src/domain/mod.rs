//! Pure domain types: addresses ([`address`]), case references ([`case_ref`]) and states
//! ([`status`]), the working-day calendar ([`calendar`]), a sender's name as a greeting
//! ([`display_name`]), the letters' language ([`language`]), who a text names
//! ([`mentions`]), attachments ([`attachment`]), how a case ended ([`disposition`]), the
//! periods of the AVG ([`privacy`]) and the words for events in the history ([`wording`]).
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
