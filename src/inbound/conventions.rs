//! The conventions by which mail no person wrote says so — autoresponders, delivery and read
//! reports, calendars, service desks, mailing lists — as one data table, each entry with the
//! system that writes it and where that is documented. Pure: it reads a [`View`] of a mail.
//!
//! Header conventions come first and are all judged from the header block alone (the body of
//! such mail is never decoded); the few that need the MIME structure (a `text/calendar` part
//! deep in a `multipart/mixed`, a report part) come last, so that the first entry a mail
//! matches is the same whether its body was read or not.
//!
//! Left out on purpose, because real people's mail carries them too:
//! - `X-Auto-Response-Suppress` on its own: Exchange and Outlook set it on ordinary mail (it asks
//!   the *recipient* not to auto-reply; Jitbit lost "tens of perfectly good emails" filtering on
//!   it: <https://www.jitbit.com/maxblog/18-detecting-outlook-autoreplyout-of-office-emails-and-x-auto-response-suppress-header/>).
//! - `Disposition-Notification-To` and `Return-Receipt-To`: a person *asking* for a read receipt.
//! - Calendar words in a subject without calendar data ("Geannuleerd: cursus Excel" is a
//!   complaint; `Accepted:`/`Geaccepteerd:` counts only with the invitation's data beside it).

/// What kind of machine wrote a mail; the register and the case history name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    AutoReply,
    DeliveryReport,
    ReadReceipt,
    Calendar,
    ServiceDesk,
    MailingList,
    Report,
    Notification,
}

impl Kind {
    /// English, for the register's reason.
    pub fn en(self) -> &'static str {
        match self {
            Kind::AutoReply => "out-of-office or vacation reply",
            Kind::DeliveryReport => "delivery report (bounce)",
            Kind::ReadReceipt => "read receipt",
            Kind::Calendar => "calendar message",
            Kind::ServiceDesk => "service desk notification",
            Kind::MailingList => "mailing list or newsletter",
            Kind::Report => "automated report",
            Kind::Notification => "automatic notification",
        }
    }

    /// Dutch, for the case history staff read.
    pub fn nl(self) -> &'static str {
        match self {
            Kind::AutoReply => "automatisch antwoord (afwezigheid, vakantie)",
            Kind::DeliveryReport => "melding dat e-mail niet kon worden bezorgd",
            Kind::ReadReceipt => "leesbevestiging",
            Kind::Calendar => "agendabericht (uitnodiging, acceptatie of afzegging)",
            Kind::ServiceDesk => "automatisch bericht van een servicedesk",
            Kind::MailingList => "bericht van een mailinglijst of nieuwsbrief",
            Kind::Report => "automatisch rapport",
            Kind::Notification => "automatisch verstuurd bericht",
        }
    }
}

/// How an entry recognises a mail. Header names are lower case; values are compared in lower
/// case, trimmed, with folding undone.
#[derive(Debug, Clone, Copy)]
pub enum Test {
    /// The header is present, whatever its value.
    Header(&'static str),
    /// The header's value starts with one of these.
    HeaderStarts(&'static str, &'static [&'static str]),
    /// The header is present and names no address (`Return-Path: <>`).
    HeaderNull(&'static str),
    /// The header's value contains one of these.
    HeaderContains(&'static str, &'static [&'static str]),
    /// The header is present and its first word is none of these.
    HeaderNot(&'static str, &'static [&'static str]),
    /// The subject starts with one of these (case-insensitive).
    Subject(&'static [&'static str]),
    /// The subject contains one of these (case-insensitive).
    SubjectContains(&'static [&'static str]),
    /// The sender's local part is one of these (case-insensitive).
    Sender(&'static [&'static str]),
    /// The sender's local part starts with one of these (case-insensitive).
    SenderStarts(&'static [&'static str]),
    /// The sender's local part starts with this and continues with exactly `n` hex digits.
    SenderHex(&'static str, usize),
    /// The mail's own Content-Type is this (`type/subtype`), with the parameter, if given,
    /// present and (when values are given) one of them.
    ContentType(
        &'static str,
        Option<(&'static str, &'static [&'static str])>,
    ),
    /// Needs the body: a part of the mail's own MIME tree (not one inside a forwarded
    /// message) of this type, with the parameter, if given, present.
    Part(&'static str, Option<&'static str>),
    /// Every one of these holds.
    All(&'static [Test]),
}

impl Test {
    fn needs_body(&self) -> bool {
        match self {
            Test::Part(..) => true,
            Test::All(tests) => tests.iter().any(Test::needs_body),
            _ => false,
        }
    }
}

/// One convention: which system writes it, what it looks like, and where that is written down.
#[derive(Debug)]
pub struct Convention {
    /// Stable short name, used in tests and in the register's reason.
    pub id: &'static str,
    pub kind: Kind,
    /// The systems that write mail this way.
    pub system: &'static str,
    /// The signal, as a person reads it.
    pub signal: &'static str,
    pub test: Test,
    /// Where the convention is documented (specification, vendor documentation, or the
    /// source of a system that relies on it).
    pub source: &'static str,
}

impl PartialEq for Convention {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Convention {}

impl Convention {
    /// Whether judging this entry needs the decoded MIME structure.
    pub fn needs_body(&self) -> bool {
        self.test.needs_body()
    }

    /// The register's reason: `automatic: <kind> (<system>: <signal>)`.
    pub fn reason(&self) -> String {
        format!(
            "automatic: {} ({}: {})",
            self.kind.en(),
            self.system,
            self.signal
        )
    }

    /// The line in a case's history (Dutch, as klachtd writes its own history lines).
    pub fn history_note(&self) -> String {
        format!(
            "{}, herkend aan {} ({}); niet beantwoord",
            self.kind.nl(),
            self.signal,
            self.system
        )
    }
}

/// What the table looks at in a mail: its header fields (only those the table names), subject,
/// sender and Content-Type — and its MIME parts once the body has been read.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// `(lower-case name, value)` of the header fields the table names.
    pub fields: &'a [(String, String)],
    pub subject: &'a str,
    /// The sender's local part (empty when there is none).
    pub sender_local: &'a str,
    /// The mail's own `type/subtype`, lower case (empty when it has none).
    pub content_type: &'a str,
    /// Its parameters, lower-case names, values as given.
    pub content_params: &'a [(String, String)],
    /// The mail's own MIME parts (`type/subtype`, lower-case parameter names), or `None` when
    /// the body has not been decoded.
    pub parts: Option<&'a [MimePart]>,
}

/// One part of a mail's own MIME tree, as the table needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimePart {
    pub content_type: String,
    pub params: Vec<String>,
}

impl View<'_> {
    fn values<'v>(&'v self, name: &'v str) -> impl Iterator<Item = &'v str> + 'v {
        self.fields
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn holds(&self, test: &Test) -> bool {
        match *test {
            Test::Header(name) => self.values(name).next().is_some(),
            Test::HeaderStarts(name, starts) => self
                .values(name)
                .any(|v| starts.iter().any(|s| v.starts_with(s))),
            Test::HeaderNull(name) => self
                .values(name)
                .any(|v| v.chars().all(|c| c == '<' || c == '>' || c.is_whitespace())),
            Test::HeaderContains(name, parts) => self
                .values(name)
                .any(|v| parts.iter().any(|s| v.contains(s))),
            Test::HeaderNot(name, words) => self.values(name).any(|v| {
                let first = v
                    .split(|c: char| c == ';' || c == '(' || c.is_whitespace())
                    .next()
                    .unwrap_or_default();
                !words.contains(&first)
            }),
            Test::Subject(starts) => {
                let subject = self.subject.trim_start();
                starts.iter().any(|s| starts_with_ignore_case(subject, s))
            }
            Test::SubjectContains(parts) => {
                let subject = self.subject.to_lowercase();
                parts.iter().any(|p| subject.contains(p))
            }
            Test::Sender(locals) => locals
                .iter()
                .any(|l| l.eq_ignore_ascii_case(self.sender_local)),
            Test::SenderStarts(starts) => starts
                .iter()
                .any(|s| starts_with_ignore_case(self.sender_local, s)),
            Test::SenderHex(prefix, n) => {
                starts_with_ignore_case(self.sender_local, prefix)
                    && self.sender_local.len() == prefix.len() + n
                    && self.sender_local.as_bytes()[prefix.len()..]
                        .iter()
                        .all(u8::is_ascii_hexdigit)
            }
            Test::ContentType(ct, param) => {
                self.content_type == ct
                    && param.is_none_or(|(name, values)| {
                        self.content_params.iter().any(|(n, v)| {
                            n == name
                                && (values.is_empty()
                                    || values.iter().any(|w| v.eq_ignore_ascii_case(w)))
                        })
                    })
            }
            Test::Part(ct, param) => self.parts.is_some_and(|parts| {
                parts.iter().any(|p| {
                    p.content_type == ct
                        && param.is_none_or(|name| p.params.iter().any(|n| n == name))
                })
            }),
            Test::All(tests) => tests.iter().all(|t| self.holds(t)),
        }
    }
}

fn starts_with_ignore_case(hay: &str, prefix: &str) -> bool {
    let mut hay = hay.chars().flat_map(char::to_lowercase);
    prefix
        .chars()
        .flat_map(char::to_lowercase)
        .all(|p| hay.next() == Some(p))
}

/// The first convention `view` matches. Header conventions are tried first; those that need
/// the body only when `view.parts` is known.
pub fn recognise(view: &View<'_>) -> Option<&'static Convention> {
    CONVENTIONS.iter().find(|c| view.holds(&c.test))
}

/// The lower-case names of every header field the table reads (what [`View::fields`] keeps).
pub fn header_names() -> &'static [&'static str] {
    HEADER_NAMES
}

const HEADER_NAMES: &[&str] = &[
    "auto-submitted",
    "precedence",
    "x-auto-response-suppress",
    "x-ms-exchange-inbox-rules-loop",
    "x-ms-exchange-message-is-ndr",
    "content-class",
    "x-autoreply",
    "x-autorespond",
    "x-autoresponder",
    "x-autoresponse",
    "x-autoreply-from",
    "x-mail-autoreply",
    "x-auto-reply",
    "x-loop",
    "x-gm-message-state",
    "x-google-smtp-source",
    "x-zendesk-from-account-id",
    "x-jira-fingerprint",
    "x-rt-loop-prevention",
    "x-failed-recipients",
    "list-id",
    "list-unsubscribe",
    "list-post",
    "list-help",
    "list-subscribe",
    "list-owner",
    "list-archive",
    "x-mailman-version",
    "x-beenthere",
    "mailing-list",
    "x-google-group-id",
    "tls-report-domain",
    "sender",
    "return-path",
];

const RFC3834: &str = "RFC 3834 §5 (https://www.rfc-editor.org/rfc/rfc3834#section-5)";

/// Every convention, in the order they are tried: the most specific first (so the reason
/// names the system), the generic ones after, those that need the body last.
pub static CONVENTIONS: &[Convention] = &[
    // --- Out-of-office and vacation replies of named systems -------------------------------------
    Convention {
        id: "exchange-oof",
        kind: Kind::AutoReply,
        system: "Microsoft Exchange / Outlook",
        signal: "X-Auto-Response-Suppress with X-MS-Exchange-Inbox-Rules-Loop",
        test: Test::All(&[
            Test::Header("x-auto-response-suppress"),
            Test::Header("x-ms-exchange-inbox-rules-loop"),
        ]),
        source: "Zammad app/models/channel/filter/out_of_office_check.rb (MS out-of-office); [MS-OXCMAIL] §2.1.3.2.20",
    },
    Convention {
        id: "exchange-oof-subject",
        kind: Kind::AutoReply,
        system: "Microsoft Exchange / Outlook",
        signal: "the subject Outlook writes on an automatic reply (\"Automatisch antwoord:\", \"Automatic reply:\", …)",
        test: Test::Subject(&[
            "automatisch antwoord:",
            "automatic reply:",
            "automatische antwort:",
            "réponse automatique",
            "respuesta automática:",
            "risposta automatica:",
            "out of office autoreply:",
            "out of office reply:",
        ]),
        source: "Outlook's automatic replies (https://support.microsoft.com/office/send-automatic-out-of-office-replies-from-outlook-9742f476-5348-4f9f-997f-5e208513bd67); subjects as Outlook writes them in each UI language",
    },
    Convention {
        id: "zimbra-vacation",
        kind: Kind::AutoReply,
        system: "Zimbra",
        signal: "Auto-Submitted: auto-replied (zimbra; vacation)",
        test: Test::HeaderContains("auto-submitted", &["zimbra"]),
        source: "Zimbra mailbox Notification (Auto-Submitted: auto-replied (zimbra; vacation)); Zammad out_of_office_check.rb",
    },
    Convention {
        id: "hosted-vacation-owner",
        kind: Kind::AutoReply,
        system: "hosted vacation responders",
        signal: "Auto-Submitted: auto-replied; owner-email=…",
        test: Test::HeaderContains("auto-submitted", &["owner-email="]),
        source: "Zammad out_of_office_check.rb (cloud out-of-office characteristics)",
    },
    Convention {
        id: "sieve-vacation",
        kind: Kind::AutoReply,
        system: "Sieve vacation (Dovecot Pigeonhole, Cyrus, Stalwart)",
        signal: "Auto-Submitted: auto-replied with the default \"Auto:\" subject",
        test: Test::All(&[
            Test::HeaderStarts("auto-submitted", &["auto-replied"]),
            Test::Subject(&["auto:"]),
        ]),
        source: "RFC 5230 §5.2 and §5.5 (https://www.rfc-editor.org/rfc/rfc5230#section-5.2)",
    },
    Convention {
        id: "gmail-vacation",
        kind: Kind::AutoReply,
        system: "Gmail / Google Workspace vacation responder",
        signal: "Auto-Submitted: auto-replied from Gmail",
        test: Test::All(&[
            Test::HeaderStarts("auto-submitted", &["auto-replied"]),
            Test::Header("x-gm-message-state"),
        ]),
        source: "Zammad out_of_office_check.rb (gmail check); https://support.google.com/mail/answer/25922",
    },
    // --- Delivery reports, read receipts and other reports ---------------------------------------
    Convention {
        id: "exchange-ndr",
        kind: Kind::DeliveryReport,
        system: "Microsoft Exchange / Microsoft 365",
        signal: "X-MS-Exchange-Message-Is-Ndr",
        test: Test::Header("x-ms-exchange-message-is-ndr"),
        source: "Microsoft Learn, Exchange message headers (https://learn.microsoft.com/exchange/mail-flow-best-practices/message-headers)",
    },
    Convention {
        id: "exim-failed-recipients",
        kind: Kind::DeliveryReport,
        system: "Exim",
        signal: "X-Failed-Recipients",
        test: Test::Header("x-failed-recipients"),
        source: "Exim specification, ch. 51 (bounce messages carry X-Failed-Recipients)",
    },
    Convention {
        id: "rfc3464-dsn",
        kind: Kind::DeliveryReport,
        system: "RFC 3464 delivery status notifications (Postfix, Exchange, Gmail, …)",
        signal: "multipart/report; report-type=delivery-status",
        test: Test::ContentType(
            "multipart/report",
            Some((
                "report-type",
                &["delivery-status", "global-delivery-status"],
            )),
        ),
        source: "RFC 3464 §2 and RFC 6522 (https://www.rfc-editor.org/rfc/rfc3464#section-2)",
    },
    Convention {
        id: "rfc8098-mdn",
        kind: Kind::ReadReceipt,
        system: "RFC 8098 read receipts (Outlook, Thunderbird, Apple Mail)",
        signal: "multipart/report; report-type=disposition-notification",
        test: Test::ContentType(
            "multipart/report",
            Some((
                "report-type",
                &[
                    "disposition-notification",
                    "global-disposition-notification",
                ],
            )),
        ),
        source: "RFC 8098 §3 (https://www.rfc-editor.org/rfc/rfc8098#section-3)",
    },
    Convention {
        id: "rfc5965-arf",
        kind: Kind::Report,
        system: "abuse feedback loops (ARF)",
        signal: "multipart/report; report-type=feedback-report",
        test: Test::ContentType(
            "multipart/report",
            Some(("report-type", &["feedback-report"])),
        ),
        source: "RFC 5965 §2 (https://www.rfc-editor.org/rfc/rfc5965#section-2)",
    },
    Convention {
        id: "rfc8460-tlsrpt",
        kind: Kind::Report,
        system: "SMTP TLS reporting",
        signal: "TLS-Report-Domain",
        test: Test::Header("tls-report-domain"),
        source: "RFC 8460 §5.3 (https://www.rfc-editor.org/rfc/rfc8460#section-5.3)",
    },
    Convention {
        id: "rfc7489-dmarc-report",
        kind: Kind::Report,
        system: "DMARC aggregate reports (Google, Microsoft, Yahoo, …)",
        signal: "the subject \"Report Domain: … Submitter: …\"",
        test: Test::All(&[
            Test::Subject(&["report domain:"]),
            Test::SubjectContains(&["submitter:"]),
        ]),
        source: "RFC 7489 §7.2.1.1 (https://www.rfc-editor.org/rfc/rfc7489#section-7.2.1.1)",
    },
    // --- Calendars -------------------------------------------------------------------------------
    Convention {
        id: "exchange-calendar",
        kind: Kind::Calendar,
        system: "Microsoft Exchange / Outlook",
        signal: "Content-Class: urn:content-classes:calendarmessage",
        test: Test::HeaderStarts("content-class", &["urn:content-classes:calendarmessage"]),
        source: "[MS-OXCMAIL] §2.2.3.2.2 Content-Class (meeting requests, responses and cancellations)",
    },
    Convention {
        id: "google-calendar",
        kind: Kind::Calendar,
        system: "Google Calendar",
        signal: "sent for Google Calendar (calendar-notification@google.com)",
        test: Test::HeaderContains("sender", &["calendar-notification@google.com"]),
        source: "Google Calendar invitations and replies (Sender: Google Calendar <calendar-notification@google.com>)",
    },
    Convention {
        id: "imip-calendar",
        kind: Kind::Calendar,
        system: "iMIP calendar clients (Outlook, Google Calendar, Apple Calendar, Thunderbird)",
        signal: "text/calendar with a METHOD (invitation, reply, cancellation)",
        test: Test::ContentType("text/calendar", Some(("method", &[]))),
        source: "RFC 6047 §2.4 (https://www.rfc-editor.org/rfc/rfc6047#section-2.4)",
    },
    // --- Service desks ---------------------------------------------------------------------------
    Convention {
        id: "zendesk",
        kind: Kind::ServiceDesk,
        system: "Zendesk",
        signal: "X-Zendesk-From-Account-Id",
        test: Test::Header("x-zendesk-from-account-id"),
        source: "Zendesk, headers that persist on outbound mail (Auto-Submitted, X-Auto-Response-Suppress, X-Mailer: Zendesk Mailer, X-Zendesk-From-Account-Id, X-Zendesk-Email-Id)",
    },
    Convention {
        id: "jira",
        kind: Kind::ServiceDesk,
        system: "Atlassian Jira / Jira Service Management",
        signal: "X-JIRA-FingerPrint",
        test: Test::Header("x-jira-fingerprint"),
        source: "Zammad app/models/channel/filter/jira_check.rb (x-jira-fingerprint); Jira notification mails",
    },
    Convention {
        id: "freshdesk-ticket-received",
        kind: Kind::ServiceDesk,
        system: "Freshdesk",
        signal: "the subject \"Ticket Received - … [#id]\"",
        test: Test::All(&[
            Test::Subject(&["ticket received - ", "ticket received: "]),
            Test::SubjectContains(&["[#"]),
        ]),
        source: "Freshdesk, email threading by [#{{ticket.id}}] (https://support.freshdesk.com/support/solutions/articles/226802); FreeScout issue #2445 (a Freshdesk loop)",
    },
    Convention {
        id: "request-tracker",
        kind: Kind::ServiceDesk,
        system: "Request Tracker (RT)",
        signal: "X-RT-Loop-Prevention",
        test: Test::Header("x-rt-loop-prevention"),
        source: "Request Tracker's outgoing mail (X-RT-Loop-Prevention: $rtname)",
    },
    Convention {
        id: "x-loop",
        kind: Kind::ServiceDesk,
        system: "OTRS and other ticket systems",
        signal: "X-Loop: yes",
        test: Test::HeaderStarts("x-loop", &["yes", "true"]),
        source: "Zammad app/models/channel/filter/auto_response_check.rb (x-loop yes|true); osTicket issue #532 (OTRS)",
    },
    // --- Mailing lists and newsletters -----------------------------------------------------------
    Convention {
        id: "mailman",
        kind: Kind::MailingList,
        system: "GNU Mailman",
        signal: "X-Mailman-Version",
        test: Test::Header("x-mailman-version"),
        source: "GNU Mailman's list posts (X-Mailman-Version, X-BeenThere, Precedence: list)",
    },
    Convention {
        id: "x-beenthere",
        kind: Kind::MailingList,
        system: "GNU Mailman 2",
        signal: "X-BeenThere",
        test: Test::Header("x-beenthere"),
        source: "GNU Mailman 2 (X-BeenThere loop detection header)",
    },
    Convention {
        id: "google-groups",
        kind: Kind::MailingList,
        system: "Google Groups",
        signal: "X-Google-Group-Id",
        test: Test::Header("x-google-group-id"),
        source: "Google Groups list mail (X-Google-Group-Id, Mailing-list, List-ID)",
    },
    Convention {
        id: "mailing-list-header",
        kind: Kind::MailingList,
        system: "ezmlm, Google Groups",
        signal: "Mailing-List",
        test: Test::Header("mailing-list"),
        source: "ezmlm (Mailing-List: contact …); Google Groups",
    },
    Convention {
        id: "rfc2919-list-id",
        kind: Kind::MailingList,
        system: "mailing-list software (Mailman, Sympa, LISTSERV, Google Groups)",
        signal: "List-Id",
        test: Test::Header("list-id"),
        source: "RFC 2919 (https://www.rfc-editor.org/rfc/rfc2919)",
    },
    Convention {
        id: "rfc2369-list-headers",
        kind: Kind::MailingList,
        system: "mailing lists and newsletters",
        signal: "List-Unsubscribe",
        test: Test::Header("list-unsubscribe"),
        source: "RFC 2369 (https://www.rfc-editor.org/rfc/rfc2369); RFC 8058",
    },
    Convention {
        id: "rfc2369-list-post",
        kind: Kind::MailingList,
        system: "mailing lists",
        signal: "List-Post",
        test: Test::Header("list-post"),
        source: "RFC 2369 §3 (https://www.rfc-editor.org/rfc/rfc2369#section-3)",
    },
    Convention {
        id: "rfc2369-list-other",
        kind: Kind::MailingList,
        system: "mailing lists",
        signal: "List-Help",
        test: Test::Header("list-help"),
        source: "RFC 2369 §3 (https://www.rfc-editor.org/rfc/rfc2369#section-3)",
    },
    Convention {
        id: "rfc2369-list-subscribe",
        kind: Kind::MailingList,
        system: "mailing lists",
        signal: "List-Subscribe",
        test: Test::Header("list-subscribe"),
        source: "RFC 2369 §3 (https://www.rfc-editor.org/rfc/rfc2369#section-3)",
    },
    Convention {
        id: "rfc2369-list-owner",
        kind: Kind::MailingList,
        system: "mailing lists",
        signal: "List-Owner",
        test: Test::Header("list-owner"),
        source: "RFC 2369 §3 (https://www.rfc-editor.org/rfc/rfc2369#section-3)",
    },
    Convention {
        id: "rfc2369-list-archive",
        kind: Kind::MailingList,
        system: "mailing lists",
        signal: "List-Archive",
        test: Test::Header("list-archive"),
        source: "RFC 2369 §3 (https://www.rfc-editor.org/rfc/rfc2369#section-3)",
    },
    Convention {
        id: "precedence-bulk",
        kind: Kind::MailingList,
        system: "mailing lists and bulk senders",
        signal: "Precedence: bulk or list",
        test: Test::HeaderStarts("precedence", &["bulk", "list"]),
        source: "RFC 3834 §2 and §3.1.8; RFC 2076 §3.9 (Precedence)",
    },
    // --- Other autoresponders --------------------------------------------------------------------
    Convention {
        id: "rfc3834-auto-replied",
        kind: Kind::AutoReply,
        system: "RFC 3834 responders",
        signal: "Auto-Submitted: auto-replied",
        test: Test::HeaderStarts("auto-submitted", &["auto-replied"]),
        source: RFC3834,
    },
    Convention {
        id: "x-autoreply",
        kind: Kind::AutoReply,
        system: "older autoresponders (cPanel, OpenSRS, Yahoo and others)",
        signal: "X-Autoreply",
        test: Test::HeaderNot("x-autoreply", &["no"]),
        source: "osTicket include/class.filter.php ($auto_headers); FreeScout issue #4226 (X-Autoresponder)",
    },
    Convention {
        id: "x-autorespond",
        kind: Kind::AutoReply,
        system: "older autoresponders",
        signal: "X-Autorespond",
        test: Test::Header("x-autorespond"),
        source: "osTicket include/class.filter.php; Froide froide/helper/email_utils.py (AUTO_REPLY_HEADERS)",
    },
    Convention {
        id: "x-autoresponder",
        kind: Kind::AutoReply,
        system: "OpenSRS / Amazon SES autoresponders",
        signal: "X-Autoresponder",
        test: Test::Header("x-autoresponder"),
        source: "FreeScout issue #4226 (X-Autoresponder: Will not send another autoreply for 86400 seconds)",
    },
    Convention {
        id: "x-autoresponse",
        kind: Kind::AutoReply,
        system: "older autoresponders",
        signal: "X-Autoresponse",
        test: Test::Header("x-autoresponse"),
        source: "osTicket include/class.filter.php; osTicket pull request #5320",
    },
    Convention {
        id: "x-autoreply-from",
        kind: Kind::AutoReply,
        system: "older autoresponders",
        signal: "X-AutoReply-From",
        test: Test::Header("x-autoreply-from"),
        source: "osTicket pull request #5320 (X-AutoReply-From)",
    },
    Convention {
        id: "x-mail-autoreply",
        kind: Kind::AutoReply,
        system: "older autoresponders",
        signal: "X-Mail-Autoreply",
        test: Test::Header("x-mail-autoreply"),
        source: "the header sets autoresponder filters check (e.g. Froide, FreeScout)",
    },
    Convention {
        id: "x-auto-reply",
        kind: Kind::AutoReply,
        system: "older autoresponders",
        signal: "X-Auto-Reply",
        test: Test::Header("x-auto-reply"),
        source: "the header sets autoresponder filters check (e.g. FreeScout, osTicket)",
    },
    Convention {
        id: "precedence-auto-reply",
        kind: Kind::AutoReply,
        system: "vacation(1), procmail and older responders",
        signal: "Precedence: junk or auto_reply",
        test: Test::HeaderStarts("precedence", &["junk", "auto_reply", "auto-reply"]),
        source: "vacation(1) (Precedence: junk); RFC 3834 §3.1.8 (Precedence is discouraged but in use)",
    },
    // --- Bounces known by their sender or subject ------------------------------------------------
    Convention {
        id: "mailer-daemon",
        kind: Kind::DeliveryReport,
        system: "sendmail, Postfix, Exim, qmail, Gmail, Yahoo",
        signal: "sent by MAILER-DAEMON or postmaster",
        test: Test::Sender(&["mailer-daemon", "postmaster", "mail-daemon"]),
        source: "RFC 5321 §4.5.1 (postmaster); sendmail/Postfix bounce sender MAILER-DAEMON",
    },
    Convention {
        id: "exchange-system-mailbox",
        kind: Kind::DeliveryReport,
        system: "Microsoft Exchange",
        signal: "sent by Exchange's system mailbox (MicrosoftExchange + 32 hex digits)",
        test: Test::SenderHex("microsoftexchange", 32),
        source: "Exchange's federated system mailbox (MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e), sender of its NDRs and notices",
    },
    Convention {
        id: "bounce-subject",
        kind: Kind::DeliveryReport,
        system: "Postfix, Exim, sendmail, qmail, Gmail, Exchange",
        signal: "the subject a mail server gives its bounce",
        test: Test::Subject(&[
            "undelivered mail returned to sender",
            "mail delivery failed: returning message to sender",
            "returned mail: see transcript for details",
            "delivery status notification (failure)",
            "delivery status notification (delay)",
            "delayed mail (still being retried)",
            "warning: could not send message for past",
            "undeliverable:",
            "onbestelbaar:",
            "niet bezorgd:",
            "unzustellbar:",
            "non remis :",
            "failure notice",
        ]),
        source: "Postfix bounce(5) templates; Exim spec ch. 51; sendmail; qmail-send; Gmail and Exchange NDRs (https://learn.microsoft.com/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online)",
    },
    Convention {
        id: "null-return-path",
        kind: Kind::DeliveryReport,
        system: "every mail server (notifications are sent with an empty envelope sender)",
        signal: "Return-Path: <>",
        test: Test::HeaderNull("return-path"),
        source: "RFC 5321 §4.5.5 (https://www.rfc-editor.org/rfc/rfc5321#section-4.5.5)",
    },
    Convention {
        id: "multipart-report",
        kind: Kind::DeliveryReport,
        system: "RFC 6522 reports",
        signal: "multipart/report",
        test: Test::ContentType("multipart/report", None),
        source: "RFC 6522 (https://www.rfc-editor.org/rfc/rfc6522)",
    },
    Convention {
        id: "noreply-sender",
        kind: Kind::Notification,
        system: "web shops, banks, portals and other senders that take no replies",
        signal: "sent from a no-reply address (noreply@, no-reply@, donotreply@, …)",
        test: Test::SenderStarts(&[
            "noreply",
            "no-reply",
            "no_reply",
            "donotreply",
            "do-not-reply",
            "do_not_reply",
        ]),
        source: "FreeScout issue #3670 (an autoreply loop with a no-reply sender); helpdesks' no-reply sender filters (FreeScout, Zammad); an acknowledgement to such an address is never read",
    },
    // --- Anything else a machine marks as its own ------------------------------------------------
    Convention {
        id: "rfc3834-auto-generated",
        kind: Kind::Notification,
        system: "RFC 3834 senders",
        signal: "Auto-Submitted (auto-generated, auto-notified)",
        test: Test::HeaderNot("auto-submitted", &["no"]),
        source: "RFC 3834 §5; RFC 5436 §2.7 (auto-notified)",
    },
    // --- Only once the body is read: the MIME structure ------------------------------------------
    Convention {
        id: "imip-calendar-part",
        kind: Kind::Calendar,
        system: "iMIP calendar clients (Outlook, Google Calendar, Apple Calendar, Thunderbird)",
        signal: "a text/calendar part with a METHOD (invitation, reply, cancellation)",
        test: Test::Part("text/calendar", Some("method")),
        source: "RFC 6047 §2.4 and §3 (https://www.rfc-editor.org/rfc/rfc6047#section-2.4)",
    },
    Convention {
        id: "mdn-part",
        kind: Kind::ReadReceipt,
        system: "read receipts wrapped by a gateway",
        signal: "a message/disposition-notification part",
        test: Test::Part("message/disposition-notification", None),
        source: "RFC 8098 §3.1 (https://www.rfc-editor.org/rfc/rfc8098#section-3.1)",
    },
    Convention {
        id: "dsn-part",
        kind: Kind::DeliveryReport,
        system: "delivery reports wrapped by a gateway",
        signal: "a message/delivery-status part",
        test: Test::Part("message/delivery-status", None),
        source: "RFC 3464 §2.1 (https://www.rfc-editor.org/rfc/rfc3464#section-2.1)",
    },
];
