//! The words of a transcript line — what a command did, or why it was refused — and of the
//! history entries casework writes, in the staff's language (`organisation.language`).
//! Dutch is the stored record; English is chosen when the mail is written or shown.

use crate::commands::{CommandError, Verdict};
use crate::domain::{CaseRef, CaseStatus};
use crate::settings::Language;
use chrono::NaiveDate;

/// What a command line did (or would have done, in a refused mail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// `address` is where the handler is reached when the name typed is not an address.
    Handler {
        typed: String,
        address: Option<String>,
    },
    Category(String),
    Cause,
    Solution,
    Measure,
    Agreement(bool),
    Reaction {
        closing_due: NaiveDate,
    },
    AnotherReaction,
    Escalated,
    Closed,
    Reopened,
    Noted,
    Appealed,
    Verdict(Verdict),
    Withdrawn,
    Extended(u32),
    Language(Language),
    Recommendation,
    ComplaintRegistered(CaseRef),
}

impl Done {
    pub fn text(&self, lang: Language) -> String {
        let nl = lang == Language::Nl;
        match self {
            Done::Handler { typed, address } => {
                let reach = match address {
                    Some(a) if !a.eq_ignore_ascii_case(typed) => format!(" ({a})"),
                    _ => String::new(),
                };
                if nl {
                    format!("behandelaar is nu {typed}{reach}")
                } else {
                    format!("handler is now {typed}{reach}")
                }
            }
            Done::Category(k) if nl => format!("categorie is nu {k}"),
            Done::Category(k) => format!("category is now {k}"),
            Done::Reaction { closing_due } if nl => format!(
                "reactie wordt naar de klager gestuurd; afhandelen uiterlijk {}",
                closing_due.format("%-d-%-m-%Y")
            ),
            Done::Reaction { closing_due } => format!(
                "your reply is being sent to the complainant; please resolve the complaint by {}",
                crate::outbound::templates::long_date(*closing_due, lang)
            ),
            Done::Verdict(v) if nl => format!(
                "uitspraak '{}' vastgelegd; bindend; de klager krijgt de uitspraak",
                v.as_str()
            ),
            Done::Verdict(v) => format!(
                "verdict '{}' recorded; it is binding; the complainant receives the verdict",
                match v {
                    Verdict::Upheld => "upheld",
                    Verdict::Rejected => "rejected",
                }
            ),
            Done::Extended(n) if nl => format!(
                "termijn verlengd met {n} {}; de klager krijgt de nieuwe datum",
                if *n == 1 { "werkdag" } else { "werkdagen" }
            ),
            Done::Extended(n) => format!(
                "period extended by {n} working day{}; the complainant is told the new date",
                if *n == 1 { "" } else { "s" }
            ),
            Done::ComplaintRegistered(r) if nl => {
                format!("klacht geregistreerd als {r}; de klager krijgt een ontvangstbevestiging")
            }
            Done::ComplaintRegistered(r) => {
                format!("complaint registered as {r}; the complainant receives an acknowledgement")
            }
            fixed => fixed.fixed(nl).to_string(),
        }
    }

    /// The texts without values, Dutch or English.
    fn fixed(&self, nl: bool) -> &'static str {
        let (dutch, english) = match self {
            Done::Cause => ("oorzaak vastgelegd", "cause recorded"),
            Done::Solution => ("oplossing vastgelegd", "solution recorded"),
            Done::Measure => ("maatregel vastgelegd", "measure recorded"),
            Done::Agreement(true) => (
                "vastgelegd: overeenstemming met de klager",
                "recorded: agreement reached with the complainant",
            ),
            Done::Agreement(false) => (
                "vastgelegd: geen overeenstemming met de klager",
                "recorded: no agreement reached with the complainant",
            ),
            Done::AnotherReaction => (
                "nog een reactie wordt naar de klager gestuurd",
                "a further reply is being sent to the complainant",
            ),
            Done::Escalated => ("voorgelegd aan de directeur", "put before the director"),
            Done::Closed => (
                "afgehandeld; de klager krijgt de afsluitende brief met de beroepsmogelijkheid",
                "resolved; the complainant receives the closing letter, which explains how to appeal",
            ),
            Done::Reopened => ("heropend", "reopened"),
            Done::Noted => (
                "notitie opgeslagen (alleen intern)",
                "note stored (internal only)",
            ),
            Done::Appealed => (
                "beroep geregistreerd; de examencommissie krijgt de klacht in zijn geheel",
                "appeal registered; the exam committee receives the complete complaint",
            ),
            Done::Withdrawn => (
                "ingetrokken: geen klacht (telt niet mee in de analyse); de afzender krijgt geen bericht",
                "withdrawn as not a complaint (not counted in the analysis); the sender is not notified",
            ),
            Done::Language(Language::Nl) => (
                "de klager krijgt voortaan post in het Nederlands",
                "the complainant will receive mail in Dutch from now on",
            ),
            Done::Language(Language::En) => (
                "de klager krijgt voortaan post in het Engels",
                "the complainant will receive mail in English from now on",
            ),
            Done::Recommendation => (
                "aanbeveling vastgelegd voor de jaaranalyse",
                "recommendation recorded for the annual analysis",
            ),
            Done::Handler { .. }
            | Done::Category(_)
            | Done::Reaction { .. }
            | Done::Verdict(_)
            | Done::Extended(_)
            | Done::ComplaintRegistered(_) => ("", ""),
        };
        if nl { dutch } else { english }
    }
}

/// What only the director may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectorTask {
    Extend,
    Recommend,
}

/// A field `Afgehandeld` (Close) needs before a case can be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Handler,
    Cause,
    Solution,
    Agreement,
}

impl Field {
    pub fn text(self, lang: Language) -> &'static str {
        match (self, lang) {
            (Field::Handler, Language::Nl) => "behandelaar",
            (Field::Handler, Language::En) => "handler",
            (Field::Cause, Language::Nl) => "oorzaak",
            (Field::Cause, Language::En) => "cause",
            (Field::Solution, Language::Nl) => "oplossing",
            (Field::Solution, Language::En) => "solution",
            (Field::Agreement, Language::Nl) => "akkoord (ja/nee)",
            (Field::Agreement, Language::En) => "agreement (yes/no)",
        }
    }
}

/// Why a command line (or a whole mail without a case) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The grammar could not read the line.
    Grammar(CommandError),
    Final,
    WithdrawnCase,
    DirectorOnly(DirectorTask),
    NotStaff(String),
    UnknownCategory {
        typed: String,
        choices: String,
    },
    AlreadyClosed,
    ReplyWithoutText,
    CannotClose(CaseStatus),
    MissingToClose(Vec<Field>),
    CannotReopen(CaseStatus),
    NoteWithoutText,
    CannotAppeal(CaseStatus),
    CommitteeOnly,
    NoAppeal,
    CannotWithdraw(CaseStatus),
    ComplaintInReply,
    NoRunningPeriod(CaseStatus),
    ComplaintWithoutText,
    NoCase,
}

impl Refusal {
    pub fn text(&self, lang: Language) -> String {
        let nl = lang == Language::Nl;
        let status = |s: &CaseStatus| s.label(lang);
        match self {
            Refusal::Grammar(e) => e.text(lang),
            Refusal::DirectorOnly(task) => match (task, nl) {
                (DirectorTask::Extend, true) => "een termijn verlengen kan alleen de directeur",
                (DirectorTask::Extend, false) => "only the director can extend a period",
                (DirectorTask::Recommend, true) => {
                    "een aanbeveling vastleggen kan alleen de directeur"
                }
                (DirectorTask::Recommend, false) => "only the director can record a recommendation",
            }
            .to_string(),
            Refusal::NotStaff(a) if nl => format!("{a} is geen medewerker (zie roles.staff)"),
            Refusal::NotStaff(a) => format!("{a} is not a staff member (see roles.staff)"),
            Refusal::UnknownCategory { typed, choices } if nl => {
                format!("onbekende categorie '{typed}' (kies uit: {choices})")
            }
            Refusal::UnknownCategory { typed, choices } => {
                format!("unknown category '{typed}' (choose from: {choices})")
            }
            Refusal::CannotClose(s) if nl => {
                format!("kan niet afhandelen: de klacht is {}", status(s))
            }
            Refusal::CannotClose(s) => format!("cannot resolve: the complaint is {}", status(s)),
            Refusal::MissingToClose(fields) => {
                let list = fields
                    .iter()
                    .map(|f| f.text(lang))
                    .collect::<Vec<_>>()
                    .join(", ");
                if nl {
                    format!("kan niet afhandelen, nog niet vastgelegd: {list}")
                } else {
                    format!("cannot resolve yet, still to be recorded: {list}")
                }
            }
            Refusal::CannotReopen(s) if nl => {
                format!("kan niet heropenen: de klacht is {}", status(s))
            }
            Refusal::CannotReopen(s) => format!("cannot reopen: the complaint is {}", status(s)),
            Refusal::CannotAppeal(s) if nl => {
                format!("kan geen beroep registreren: de klacht is {}", status(s))
            }
            Refusal::CannotAppeal(s) => {
                format!("cannot register an appeal: the complaint is {}", status(s))
            }
            Refusal::CannotWithdraw(s) if nl => {
                format!("kan niet intrekken: de klacht is {}", status(s))
            }
            Refusal::CannotWithdraw(s) => {
                format!("cannot withdraw: the complaint is {}", status(s))
            }
            Refusal::NoRunningPeriod(s) if nl => {
                format!("er loopt geen termijn: de klacht is {}", status(s))
            }
            Refusal::NoRunningPeriod(s) => {
                format!("no period is running: the complaint is {}", status(s))
            }
            fixed => fixed.fixed(nl).to_string(),
        }
    }

    fn fixed(&self, nl: bool) -> &'static str {
        let (dutch, english) = match self {
            Refusal::Final => (
                "de uitspraak van de examencommissie is bindend; deze klacht is definitief en verandert niet meer",
                "the exam committee's verdict is binding; this complaint is final and can no longer change",
            ),
            Refusal::WithdrawnCase => (
                "deze registratie is ingetrokken (geen klacht); gebruik eerst Heropen",
                "this registration was withdrawn as not a complaint; please use Reopen first",
            ),
            Refusal::AlreadyClosed => (
                "de klacht is al afgehandeld; gebruik eerst Heropen",
                "the complaint has already been resolved; please use Reopen first",
            ),
            Refusal::ReplyWithoutText => (
                "Reactie zonder tekst: schrijf de reactie onder de opdrachtregels",
                "Reply without text: please write your reply below the command lines",
            ),
            Refusal::NoteWithoutText => (
                "Notitie zonder tekst",
                "Note without text: please write it after 'Note:' or below the command lines",
            ),
            Refusal::CommitteeOnly => (
                "een uitspraak kan alleen de examencommissie doen",
                "only the exam committee can give a verdict",
            ),
            Refusal::NoAppeal => (
                "er loopt geen beroep; een uitspraak volgt op een beroep",
                "there is no appeal in progress; a verdict follows an appeal",
            ),
            Refusal::ComplaintInReply => (
                "Klacht: gebruikt u in een nieuwe e-mail aan het klachtenadres, niet in een antwoord",
                "Complaint: is for a new e-mail to the complaints address, not for a reply",
            ),
            Refusal::ComplaintWithoutText => (
                "Klacht: schrijf de klacht zelf onder de regel met het adres",
                "Complaint: please write the complaint itself below the line with the address",
            ),
            Refusal::NoCase => (
                "geen klacht gevonden bij deze e-mail: beantwoord een bericht over de klacht en laat het kenmerk [KL-…] in het onderwerp staan",
                "no complaint found for this e-mail: please reply to a message about the complaint and keep its reference [KL-…] in the subject",
            ),
            Refusal::Grammar(_)
            | Refusal::DirectorOnly(_)
            | Refusal::NotStaff(_)
            | Refusal::UnknownCategory { .. }
            | Refusal::CannotClose(_)
            | Refusal::MissingToClose(_)
            | Refusal::CannotReopen(_)
            | Refusal::CannotAppeal(_)
            | Refusal::CannotWithdraw(_)
            | Refusal::NoRunningPeriod(_) => ("", ""),
        };
        if nl { dutch } else { english }
    }
}
