//! Mail out: every mail is queued by [`mailer`] — admitted by the one budget ([`budget`]),
//! outside words made inert ([`inert`]), rendered from the Tera templates ([`templates`]) and
//! built as a lettre message ([`compose`]) — into the outbox, which the [`worker`] sends over
//! SMTP ([`connection`]) or writes as files ([`transport`]).

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
