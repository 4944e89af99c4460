//! Mail out: templates → lettre messages → the outbox → SMTP or files.

pub mod budget;
pub mod compose;
pub mod connection;
pub mod inert;
pub mod mailer;
pub mod templates;
pub mod transport;
pub mod worker;

pub use compose::{AutoSubmitted, CASE_HEADER, Draft};
pub use mailer::{Letter, Mailer};
pub use templates::{Renderer, Template};
pub use transport::{SendError, Transport};
pub use worker::{DeliveryReport, RetryPolicy, Unrecorded, deliver_due};
