//! The words of a transcript line — what a command did, or why it was refused — and of the
//! history entries casework writes, in the staff's language (`organisation.language`).
//! Dutch is the stored record; English is chosen when the mail is written or shown.

use crate::commands::{CommandError, Verdict};
use crate::domain::Language;
use crate::domain::privacy::RequestKind;
use crate::domain::{CaseRef, CaseStatus};
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
    /// `sent`: the letter goes to the complainant (false when klachtd cannot write to them).
    Reaction {
        closing_due: NaiveDate,
        sent: bool,
    },
    AnotherReaction {
        sent: bool,
    },
    Escalated,
    Closed {
        sent: bool,
    },
    Reopened,
    Noted,
    Appealed,
    Verdict {
        verdict: Verdict,
        sent: bool,
    },
    Withdrawn,
    /// `until`: the new date; `total`: what this deadline was extended by in all.
    Extended {
        days: u32,
        until: NaiveDate,
        total: u32,
        sent: bool,
    },
    Language(Language),
    Recommendation,
    ComplaintRegistered(CaseRef),
    // issue 25: confidentiality and the AVG
    /// The complaint concerns `who` (as typed); they were the handler and no longer are.
    Concerns {
        who: String,
        handler_cleared: bool,
    },
    ConcernsNobody,
    Held(NaiveDate),
    HoldLifted,
    Request {
        kind: RequestKind,
        due: NaiveDate,
    },
    RequestExtended {
        months: u32,
        due: NaiveDate,
        told: bool,
    },
    RequestDone,
}

impl Done {
    pub fn text(&self, lang: Language) -> String {
        let nl = lang == Language::Nl;
        // What a line says when the letter it would send cannot go (no address to write to).
        let unsent = if nl {
            "de klager heeft geen e-mailadres waarop klachtd kan schrijven: er is NIETS verstuurd, laat het de klager op een andere manier weten"
        } else {
            "klachtd has no address it can write to for the complainant: NOTHING was sent, please let them know another way"
        };
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
            Done::Reaction { closing_due, sent } if nl => format!(
                "{}; afhandelen uiterlijk {}",
                if *sent {
                    "reactie wordt naar de klager gestuurd".to_string()
                } else {
                    format!("reactie vastgelegd; {unsent}")
                },
                closing_due.format("%-d-%-m-%Y")
            ),
            Done::Reaction { closing_due, sent } => format!(
                "{}; please resolve the complaint by {}",
                if *sent {
                    "your reply is being sent to the complainant".to_string()
                } else {
                    format!("your reply is recorded; {unsent}")
                },
                crate::outbound::templates::long_date(*closing_due, lang)
            ),
            Done::AnotherReaction { sent: false } if nl => {
                format!("nog een reactie vastgelegd; {unsent}")
            }
            Done::AnotherReaction { sent: false } => {
                format!("a further reply is recorded; {unsent}")
            }
            Done::Closed { sent: false } if nl => format!("afgehandeld; {unsent}"),
            Done::Closed { sent: false } => format!("resolved; {unsent}"),
            Done::Verdict { verdict, sent } if nl => format!(
                "uitspraak '{}' vastgelegd; bindend; {}",
                verdict.as_str(),
                if *sent {
                    "de klager krijgt de uitspraak"
                } else {
                    unsent
                }
            ),
            Done::Verdict { verdict, sent } => format!(
                "verdict '{}' recorded; it is binding; {}",
                match verdict {
                    Verdict::Upheld => "upheld",
                    Verdict::Rejected => "rejected",
                },
                if *sent {
                    "the complainant receives the verdict"
                } else {
                    unsent
                }
            ),
            Done::Extended {
                days,
                until,
                total,
                sent,
            } if nl => format!(
                "termijn verlengd met {days} {} tot en met {} (in totaal {total} van de hoogstens {}); {}",
                if *days == 1 { "werkdag" } else { "werkdagen" },
                until.format("%-d-%-m-%Y"),
                crate::domain::calendar::MAX_EXTENSION,
                if *sent {
                    "de klager krijgt de nieuwe datum"
                } else {
                    unsent
                }
            ),
            Done::Extended {
                days,
                until,
                total,
                sent,
            } => format!(
                "period extended by {days} working day{} to {} ({total} of at most {} in all); {}",
                if *days == 1 { "" } else { "s" },
                crate::outbound::templates::long_date(*until, lang),
                crate::domain::calendar::MAX_EXTENSION,
                if *sent {
                    "the complainant is told the new date"
                } else {
                    unsent
                }
            ),
            Done::ComplaintRegistered(r) if nl => {
                format!("klacht geregistreerd als {r}; de klager krijgt een ontvangstbevestiging")
            }
            Done::ComplaintRegistered(r) => {
                format!("complaint registered as {r}; the complainant receives an acknowledgement")
            }
            Done::Concerns {
                who,
                handler_cleared,
            } => {
                let cleared = match (handler_cleared, nl) {
                    (false, _) => String::new(),
                    (true, true) => format!(
                        "; {who} is niet langer behandelaar: wijs een andere behandelaar aan"
                    ),
                    (true, false) => {
                        format!("; {who} is no longer the handler: please name another handler")
                    }
                };
                if nl {
                    format!(
                        "vastgelegd: de klacht gaat over {who}; die krijgt er geen berichten meer over en kan haar niet behandelen{cleared}"
                    )
                } else {
                    format!(
                        "recorded: the complaint concerns {who}, who receives no more messages about it and cannot handle it{cleared}"
                    )
                }
            }
            Done::Held(until) if nl => format!(
                "bewaard tot en met {}: de klacht blijft na de bewaartermijn en bij een verzoek om verwijdering bewaard",
                until.format("%-d-%-m-%Y")
            ),
            Done::Held(until) => format!(
                "kept until {} inclusive: the complaint stays past the retention period and any erasure request",
                crate::outbound::templates::long_date(*until, lang)
            ),
            Done::Request { kind, due } if nl => format!(
                "verzoek om {} vastgelegd (AVG); beantwoorden uiterlijk {}",
                kind.label(true),
                due.format("%-d-%-m-%Y")
            ),
            Done::Request { kind, due } => format!(
                "{} request recorded (GDPR); please answer by {}",
                kind.label(false),
                crate::outbound::templates::long_date(*due, lang)
            ),
            Done::RequestExtended { months, due, told } if nl => format!(
                "termijn van het verzoek verlengd met {months} {} tot en met {}; {}",
                if *months == 1 { "maand" } else { "maanden" },
                due.format("%-d-%-m-%Y"),
                if *told {
                    "de verzoeker krijgt bericht met de reden"
                } else {
                    "LET OP: de verzoeker kan niet per e-mail worden bericht; doe dat binnen de eerste maand op een andere manier"
                }
            ),
            Done::RequestExtended { months, due, told } => format!(
                "the request's period extended by {months} month{} to {}; {}",
                if *months == 1 { "" } else { "s" },
                crate::outbound::templates::long_date(*due, lang),
                if *told {
                    "the requester is told, with the reason"
                } else {
                    "NOTE: the requester cannot be told by e-mail; please tell them another way within the first month"
                }
            ),
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
            Done::AnotherReaction { .. } => (
                "nog een reactie wordt naar de klager gestuurd",
                "a further reply is being sent to the complainant",
            ),
            Done::Escalated => ("voorgelegd aan de directeur", "put before the director"),
            Done::Closed { .. } => (
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
            Done::ConcernsNobody => (
                "vastgelegd: de klacht gaat over geen medewerker",
                "recorded: the complaint concerns no staff member",
            ),
            Done::HoldLifted => ("bewaren opgeheven", "hold lifted"),
            Done::RequestDone => ("privacyverzoek afgehandeld", "privacy request answered"),
            Done::Handler { .. }
            | Done::Category(_)
            | Done::Reaction { .. }
            | Done::Verdict { .. }
            | Done::Extended { .. }
            | Done::ComplaintRegistered(_)
            | Done::Concerns { .. }
            | Done::Held(_)
            | Done::Request { .. }
            | Done::RequestExtended { .. } => ("", ""),
        };
        if nl { dutch } else { english }
    }
}

/// What only the director may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectorTask {
    Extend,
    Recommend,
    /// `Betreft:` (issue 25).
    Concerns,
    /// `Bewaren tot:` / `Bewaren: nee` (issue 25).
    Hold,
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
    /// The mail names a case purged after the retention period (issue 20).
    Purged(CaseRef),
    /// The mail names a case erased on its complainant's request (issue 25).
    Erased(CaseRef),
    /// The sender is the complainant of this case.
    OwnCase,
    HandlerIsComplainant,
    /// No reaction yet and its deadline (this day) has not passed.
    AppealTooEarly(NaiveDate),
    DirectorIsComplainant,
    CommitteeIsComplainant,
    OneExtensionPerMail,
    /// The running deadline was extended by `used` working days already.
    ExtensionLimit {
        used: u32,
        max: u32,
    },
    /// `Klacht:` with the organisation's own address.
    ComplainantIsUs,
    /// `Klacht:` with the sender's own address.
    ComplainantIsSender,
    /// A command the procedure does not take in this state.
    NotNow(crate::commands::Keyword, CaseStatus),
    /// The committee gave a command that handles the complaint.
    NotForCommittee,
    /// `Behandelaar:` named the committee.
    CommitteeAsHandler,
    // issue 25: confidentiality and the AVG
    /// The handler typed is someone the complaint concerns.
    HandlerConcerned(String),
    /// The sender is someone the complaint concerns.
    NotInvolved,
    /// `Betreft:` names no one with a role.
    UnknownStaff(String),
    HoldNotAfterToday,
    StaffOrDirectorOnly,
    NoRequest,
    RequestOpen {
        kind: RequestKind,
        due: NaiveDate,
    },
    AlreadyExtended,
    ExtendTooLate(NaiveDate),
    ReceivedInFuture,
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
                (DirectorTask::Concerns, true) => {
                    "vastleggen over wie een klacht gaat kan alleen de directeur"
                }
                (DirectorTask::Concerns, false) => {
                    "only the director can record whom a complaint concerns"
                }
                (DirectorTask::Hold, true) => {
                    "een klacht langer bewaren (of dat opheffen) kan alleen de directeur"
                }
                (DirectorTask::Hold, false) => {
                    "only the director can keep a complaint longer (or lift that)"
                }
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
            Refusal::Purged(r) if nl => format!(
                "{r} is na de bewaartermijn verwijderd; aan die klacht verandert niets meer"
            ),
            Refusal::Purged(r) => format!(
                "{r} was deleted after the retention period; that complaint no longer changes"
            ),
            Refusal::Erased(r) if nl => format!(
                "{r} is op verzoek van de klager verwijderd; aan die klacht verandert niets meer"
            ),
            Refusal::Erased(r) => format!(
                "{r} was deleted at the complainant's request; that complaint no longer changes"
            ),
            Refusal::AppealTooEarly(due) if nl => format!(
                "beroep kan pas als de klager een reactie heeft gekregen of de reactietermijn (uiterlijk {}) verstreken is",
                due.format("%-d-%-m-%Y")
            ),
            Refusal::AppealTooEarly(due) => format!(
                "an appeal can only be registered once the complainant has had a reply or the time for it (by {}) has passed",
                crate::outbound::templates::long_date(*due, lang)
            ),
            Refusal::ExtensionLimit { used, max } if nl => format!(
                "een termijn kan in totaal met hoogstens {max} werkdagen verlengd worden; deze is al met {used} verlengd, dus nu nog met hoogstens {}",
                max.saturating_sub(*used)
            ),
            Refusal::ExtensionLimit { used, max } => format!(
                "a period can be extended by at most {max} working days in all; this one was extended by {used} already, so by at most {} more",
                max.saturating_sub(*used)
            ),
            Refusal::NotNow(k, s) if nl => {
                format!("{} kan niet nu: de klacht is {}", k.dutch(), status(s))
            }
            Refusal::NotNow(k, s) => {
                format!(
                    "{} is not possible now: the complaint is {}",
                    k.english(),
                    status(s)
                )
            }
            Refusal::HandlerConcerned(who) if nl => {
                format!("{who} kan deze klacht niet behandelen: de klacht gaat over {who}")
            }
            Refusal::HandlerConcerned(who) => {
                format!("{who} cannot handle this complaint: it concerns {who}")
            }
            Refusal::UnknownStaff(who) if nl => format!(
                "'{who}' is geen medewerker of directeur (een naam uit roles.names, of een adres uit roles)"
            ),
            Refusal::UnknownStaff(who) => format!(
                "'{who}' is not a staff member or the director (a name from roles.names, or an address from roles)"
            ),
            Refusal::RequestOpen { kind, due } if nl => format!(
                "er loopt al een verzoek om {} (uiterlijk {}); sluit het eerst met 'Verzoek: afgehandeld'",
                kind.label(true),
                due.format("%-d-%-m-%Y")
            ),
            Refusal::RequestOpen { kind, due } => format!(
                "an {} request is already open (due {}); please close it first with 'Request: done'",
                kind.label(false),
                crate::outbound::templates::long_date(*due, lang)
            ),
            Refusal::ExtendTooLate(first) if nl => format!(
                "verlengen kan alleen binnen de eerste maand, tot en met {}",
                first.format("%-d-%-m-%Y")
            ),
            Refusal::ExtendTooLate(first) => format!(
                "an extension can only be made within the first month, up to {}",
                crate::outbound::templates::long_date(*first, lang)
            ),
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
            Refusal::NotForCommittee => (
                "de examencommissie is de onafhankelijke beroepsinstantie en behandelt de klacht niet zelf; zij geeft alleen Uitspraak, Beroep en Notitie",
                "the exam committee is the independent appeal body and does not handle the complaint itself; it gives only Verdict, Appeal and Note",
            ),
            Refusal::CommitteeAsHandler => (
                "de examencommissie hoort het beroep en kan daarom niet de behandelaar zijn; kies een medewerker",
                "the exam committee hears the appeal, so it cannot be the handler; please choose a staff member",
            ),
            Refusal::OwnCase => (
                "u bent zelf de klager in deze zaak: u kunt er geen opdrachten in geven; uw e-mail erover is die van de klager",
                "you are the complainant in this case yourself: you cannot give commands on it; your e-mail about it counts as the complainant's",
            ),
            Refusal::HandlerIsComplainant => (
                "de behandelaar kan niet de klager zelf zijn; kies een collega",
                "the handler cannot be the complainant; please choose a colleague",
            ),
            Refusal::DirectorIsComplainant => (
                "de directeur is zelf de klager in deze zaak; voorleggen aan de directeur kan daarom niet",
                "the director is the complainant in this case, so it cannot be put before the director",
            ),
            Refusal::CommitteeIsComplainant => (
                "de examencommissie is zelf de klager in deze zaak; beroep bij de examencommissie kan daarom niet",
                "the exam committee is the complainant in this case, so an appeal to the committee is not possible",
            ),
            Refusal::OneExtensionPerMail => (
                "één Verleng per e-mail: de klager krijgt bij elke verlenging één bericht; tel de dagen op in één regel",
                "one Extend per e-mail: the complainant is told of each extension once; please add up the days in one line",
            ),
            Refusal::ComplainantIsUs => (
                "Klacht: dat is het adres van de organisatie zelf; geef het adres van de klager",
                "Complaint: that is the organisation's own address; please give the complainant's address",
            ),
            Refusal::ComplainantIsSender => (
                "Klacht: u kunt geen klacht op uw eigen adres registreren; laat een collega dat doen, of schrijf vanaf uw privé-adres",
                "Complaint: you cannot register a complaint in your own name; please ask a colleague, or write from your private address",
            ),
            Refusal::NotInvolved => (
                "u kunt deze klacht niet bewerken; de directeur behandelt haar",
                "you cannot work on this complaint; the director deals with it",
            ),
            Refusal::HoldNotAfterToday => (
                "de datum tot wanneer de klacht bewaard blijft, moet na vandaag liggen",
                "the date to keep the complaint until must be after today",
            ),
            Refusal::StaffOrDirectorOnly => (
                "een privacyverzoek vastleggen kunnen medewerkers en de directeur",
                "only staff and the director can record a privacy request",
            ),
            Refusal::NoRequest => (
                "er loopt geen privacyverzoek op deze klacht; leg het eerst vast met 'Verzoek: inzage' of 'Verzoek: verwijdering'",
                "there is no open privacy request on this complaint; please record it first with 'Request: access' or 'Request: erasure'",
            ),
            Refusal::AlreadyExtended => (
                "de termijn van dit verzoek is al eens verlengd; dat kan maar één keer",
                "this request's period has been extended before; that can be done only once",
            ),
            Refusal::ReceivedInFuture => (
                "de datum van ontvangst ligt in de toekomst",
                "the date it was received lies in the future",
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
            | Refusal::NoRunningPeriod(_)
            | Refusal::Purged(_)
            | Refusal::Erased(_)
            | Refusal::AppealTooEarly(_)
            | Refusal::ExtensionLimit { .. }
            | Refusal::NotNow(..)
            | Refusal::HandlerConcerned(_)
            | Refusal::UnknownStaff(_)
            | Refusal::RequestOpen { .. }
            | Refusal::ExtendTooLate(_) => ("", ""),
        };
        if nl { dutch } else { english }
    }
}

/// Why a held command mail was not carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldWhy {
    Expired,
    AlreadySettled,
    NoCode,
}

impl HeldWhy {
    const ALL: [HeldWhy; 3] = [HeldWhy::Expired, HeldWhy::AlreadySettled, HeldWhy::NoCode];

    fn text(self, lang: Language) -> &'static str {
        match (self, lang) {
            (HeldWhy::Expired, Language::Nl) => "te laat: de bevestigingstermijn was verstreken",
            (HeldWhy::Expired, Language::En) => "too late: the time to confirm had passed",
            (HeldWhy::AlreadySettled, Language::Nl) => "de aangehouden e-mail was al afgehandeld",
            (HeldWhy::AlreadySettled, Language::En) => {
                "the held e-mail had already been dealt with"
            }
            (HeldWhy::NoCode, Language::Nl) => {
                "het antwoord bevatte geen regel 'Bevestig' met de juiste code"
            }
            (HeldWhy::NoCode, Language::En) => {
                "the reply had no 'Confirm' line with the right code"
            }
        }
    }
}

/// The first line of a history entry casework writes about a staff mail. It is stored in
/// Dutch, the record's language, and [`history_detail`] reads it back for an English reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// `staff_mail_unused`: a Message-ID taken in before.
    Duplicate,
    /// `staff_mail_unused`: no commands and no text of its own.
    Unused { subject: String },
    /// `held`: the sender was not proven; `reason` is [`super::proof::Decision::reason_nl`].
    /// `asked`: a confirmation request went out (false when the address had its daily
    /// maximum of requests already).
    Held {
        reason: String,
        origin: String,
        asked: bool,
    },
    /// `confirmed`.
    Confirmed,
    /// `held_refused`.
    HeldNotDone(HeldWhy),
    /// `refused`.
    Refused,
    /// `third_party`.
    ThirdParty { sender: String },
}

const DUPLICATE_NL: &str =
    "E-mail met dezelfde Message-ID als een eerder verwerkte e-mail; niet opnieuw verwerkt.";
const UNUSED_NL: &str = "E-mail zonder opdrachten of eigen tekst; niets vastgelegd. Onderwerp: ";
const HELD_NL: &str = "Opdracht-mail aangehouden, niets gewijzigd: de afzender is niet bewezen (";
const HELD_ORIGIN_NL: &str = "). Herkomst: ";
const HELD_END_NL: &str = ". De afzender is om bevestiging gevraagd.";
const HELD_END_NOT_ASKED_NL: &str = ". De afzender is NIET om bevestiging gevraagd: dit adres kreeg het afgelopen etmaal al het maximum aan bevestigingsverzoeken.";
const CONFIRMED_NL: &str = "aangehouden opdracht-mail bevestigd met de code; nu uitgevoerd";
const HELD_NOT_DONE_NL: &str = "Aangehouden opdracht-mail NIET uitgevoerd (";
const HELD_NOT_DONE_END_NL: &str = "). Antwoord op het bevestigingsverzoek:";
const REFUSED_NL: &str = "Opdracht-mail geweigerd, niets gewijzigd.";
const THIRD_PARTY_NL: &str = "E-mail van een derde (niet de klager). Van: ";

/// The event kinds whose first line is a [`Recorded`].
const RECORDED_KINDS: [&str; 6] = [
    "staff_mail_unused",
    "held",
    "confirmed",
    "held_refused",
    "refused",
    "third_party",
];

impl Recorded {
    /// The line in `lang`; Dutch is what is stored.
    pub fn text(&self, lang: Language) -> String {
        match (self, lang) {
            (Recorded::Duplicate, Language::Nl) => DUPLICATE_NL.to_string(),
            (Recorded::Duplicate, Language::En) => {
                "E-mail with the same Message-ID as an e-mail processed before; not processed again."
                    .to_string()
            }
            (Recorded::Unused { subject }, Language::Nl) => format!("{UNUSED_NL}{subject}"),
            (Recorded::Unused { subject }, Language::En) => format!(
                "E-mail without commands or text of its own; nothing recorded. Subject: {subject}"
            ),
            (
                Recorded::Held {
                    reason,
                    origin,
                    asked,
                },
                Language::Nl,
            ) => {
                let end = if *asked {
                    HELD_END_NL
                } else {
                    HELD_END_NOT_ASKED_NL
                };
                format!("{HELD_NL}{reason}{HELD_ORIGIN_NL}{origin}{end}")
            }
            (
                Recorded::Held {
                    reason,
                    origin,
                    asked,
                },
                Language::En,
            ) => {
                let why = super::proof::english_of_dutch_reason(reason)
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                let end = if *asked {
                    "The sender was asked to confirm."
                } else {
                    "The sender was NOT asked to confirm: this address had its daily maximum of confirmation requests already."
                };
                format!(
                    "Command e-mail held, nothing changed: the sender is not proven{why}. Origin: {origin}. {end}"
                )
            }
            (Recorded::Confirmed, Language::Nl) => CONFIRMED_NL.to_string(),
            (Recorded::Confirmed, Language::En) => {
                "held command e-mail confirmed with the code; now carried out".to_string()
            }
            (Recorded::HeldNotDone(why), Language::Nl) => format!(
                "{HELD_NOT_DONE_NL}{}{HELD_NOT_DONE_END_NL}",
                why.text(lang)
            ),
            (Recorded::HeldNotDone(why), Language::En) => format!(
                "Held command e-mail NOT carried out ({}). Reply to the confirmation request:",
                why.text(lang)
            ),
            (Recorded::Refused, Language::Nl) => REFUSED_NL.to_string(),
            (Recorded::Refused, Language::En) => {
                "Command e-mail refused, nothing changed.".to_string()
            }
            (Recorded::ThirdParty { sender }, Language::Nl) => format!("{THIRD_PARTY_NL}{sender}"),
            (Recorded::ThirdParty { sender }, Language::En) => {
                format!("E-mail from a third party (not the complainant). From: {sender}")
            }
        }
    }

    /// Reads back the stored (Dutch) first line of an event of `kind`.
    pub fn parse(kind: &str, line: &str) -> Option<Recorded> {
        match kind {
            "staff_mail_unused" if line == DUPLICATE_NL => Some(Recorded::Duplicate),
            "staff_mail_unused" => line.strip_prefix(UNUSED_NL).map(|s| Recorded::Unused {
                subject: s.to_string(),
            }),
            "held" => {
                let rest = line.strip_prefix(HELD_NL)?;
                let (rest, asked) = match rest.strip_suffix(HELD_END_NL) {
                    Some(r) => (r, true),
                    None => (rest.strip_suffix(HELD_END_NOT_ASKED_NL)?, false),
                };
                let (reason, origin) = rest.split_once(HELD_ORIGIN_NL)?;
                Some(Recorded::Held {
                    reason: reason.to_string(),
                    origin: origin.to_string(),
                    asked,
                })
            }
            "confirmed" => (line == CONFIRMED_NL).then_some(Recorded::Confirmed),
            "held_refused" => {
                let what = line
                    .strip_prefix(HELD_NOT_DONE_NL)?
                    .strip_suffix(HELD_NOT_DONE_END_NL)?;
                HeldWhy::ALL
                    .into_iter()
                    .find(|w| w.text(Language::Nl) == what)
                    .map(Recorded::HeldNotDone)
            }
            "refused" => (line == REFUSED_NL).then_some(Recorded::Refused),
            "third_party" => line
                .strip_prefix(THIRD_PARTY_NL)
                .map(|s| Recorded::ThirdParty {
                    sender: s.to_string(),
                }),
            _ => None,
        }
    }
}

/// The detail of a history event as a reader in `lang` should see it. Casework's own Dutch
/// lines are read back and told in English; one it cannot read is left out rather than shown
/// in Dutch. Other details (what staff typed, or what `wording::history_line` translates)
/// are returned as stored.
pub fn history_detail(kind: &str, detail: &str, lang: Language) -> String {
    if lang == Language::Nl || !RECORDED_KINDS.contains(&kind) {
        return detail.to_string();
    }
    let first = detail.lines().next().unwrap_or_default();
    Recorded::parse(kind, first)
        .map(|r| r.text(lang))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{Allowed, Keyword};
    use proptest::prelude::*;

    /// Dutch words klachtd's own English must never contain.
    const DUTCH: &[&str] = &[
        "de",
        "het",
        "een",
        "klacht",
        "klager",
        "uw",
        "u",
        "van",
        "niet",
        "geen",
        "voor",
        "naar",
        "bij",
        "met",
        "ja",
        "nee",
        "gegrond",
        "ongegrond",
        "behandelaar",
        "reactie",
        "oorzaak",
        "oplossing",
        "akkoord",
        "uiterlijk",
        "werkdagen",
        "werkdag",
        "termijn",
        "vastgelegd",
        "afgehandeld",
        "heropen",
        "heropend",
        "notitie",
        "beroep",
        "uitspraak",
        "verleng",
        "directeur",
        "examencommissie",
        "opdracht",
        "gebruik",
        "eerst",
        "trefwoord",
        "bedoelt",
        "onbekend",
        "bevestig",
        "afzender",
        "herkomst",
        "onderwerp",
        "derde",
        "aangehouden",
    ];

    /// Data (names, subjects) drawn from letters no Dutch word above is made of.
    const DATA: &str = "[xyzq0-9@.<> -]{0,24}";

    fn dutch_in(text: &str) -> Vec<String> {
        text.split(|c: char| !c.is_alphabetic())
            .map(str::to_lowercase)
            .filter(|w| DUTCH.contains(&w.as_str()))
            .collect()
    }

    fn status() -> impl Strategy<Value = CaseStatus> {
        proptest::sample::select(CaseStatus::ALL.to_vec())
    }

    fn keyword() -> impl Strategy<Value = Keyword> {
        proptest::sample::select(Keyword::all().to_vec())
    }

    fn grammar_error() -> impl Strategy<Value = CommandError> {
        let allowed = proptest::sample::select(vec![
            Allowed::YesNo,
            Allowed::Language,
            Allowed::Verdict,
            Allowed::ComplainantAddress,
            Allowed::WorkingDays,
            Allowed::HoldDate,
            Allowed::HoldOff,
            Allowed::Request,
        ]);
        prop_oneof![
            (DATA, proptest::option::of(keyword())).prop_map(|(typed, suggestion)| {
                CommandError::UnknownKeyword { typed, suggestion }
            }),
            keyword().prop_map(CommandError::MissingValue),
            (keyword(), DATA, allowed).prop_map(|(keyword, value, allowed)| {
                CommandError::InvalidValue {
                    keyword,
                    value,
                    allowed,
                }
            }),
        ]
    }

    fn done() -> impl Strategy<Value = Done> {
        prop_oneof![
            (DATA, proptest::option::of(DATA))
                .prop_map(|(typed, address)| Done::Handler { typed, address }),
            DATA.prop_map(Done::Category),
            Just(Done::Cause),
            Just(Done::Solution),
            Just(Done::Measure),
            any::<bool>().prop_map(Done::Agreement),
            (0u32..400, any::<bool>()).prop_map(|(d, sent)| Done::Reaction {
                closing_due: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
                    + chrono::Duration::days(i64::from(d)),
                sent,
            }),
            any::<bool>().prop_map(|sent| Done::AnotherReaction { sent }),
            Just(Done::Escalated),
            any::<bool>().prop_map(|sent| Done::Closed { sent }),
            Just(Done::Reopened),
            Just(Done::Noted),
            Just(Done::Appealed),
            (
                prop_oneof![Just(Verdict::Upheld), Just(Verdict::Rejected)],
                any::<bool>()
            )
                .prop_map(|(verdict, sent)| Done::Verdict { verdict, sent }),
            Just(Done::Withdrawn),
            (1u32..=60, 0u32..400, 1u32..=60, any::<bool>()).prop_map(|(days, d, total, sent)| {
                Done::Extended {
                    days,
                    until: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
                        + chrono::Duration::days(i64::from(d)),
                    total,
                    sent,
                }
            }),
            prop_oneof![Just(Language::Nl), Just(Language::En)].prop_map(Done::Language),
            Just(Done::Recommendation),
            (2020i32..2100, 1u32..10000)
                .prop_map(|(y, n)| Done::ComplaintRegistered(CaseRef::new(y, n))),
            (DATA, any::<bool>()).prop_map(|(who, handler_cleared)| Done::Concerns {
                who,
                handler_cleared
            }),
            Just(Done::ConcernsNobody),
            (0u32..4000).prop_map(|d| Done::Held(day(d))),
            Just(Done::HoldLifted),
            (kind(), 0u32..4000).prop_map(|(kind, d)| Done::Request { kind, due: day(d) }),
            (1u32..=2, 0u32..4000, any::<bool>()).prop_map(|(months, d, told)| {
                Done::RequestExtended {
                    months,
                    due: day(d),
                    told,
                }
            }),
            Just(Done::RequestDone),
        ]
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days(i64::from(d))
    }

    fn kind() -> impl Strategy<Value = RequestKind> {
        prop_oneof![Just(RequestKind::Access), Just(RequestKind::Erasure)]
    }

    fn refusal() -> impl Strategy<Value = Refusal> {
        let fields = proptest::sample::subsequence(
            vec![
                Field::Handler,
                Field::Cause,
                Field::Solution,
                Field::Agreement,
            ],
            1..=4,
        );
        prop_oneof![
            grammar_error().prop_map(Refusal::Grammar),
            Just(Refusal::Final),
            Just(Refusal::WithdrawnCase),
            Just(Refusal::DirectorOnly(DirectorTask::Extend)),
            Just(Refusal::DirectorOnly(DirectorTask::Recommend)),
            DATA.prop_map(Refusal::NotStaff),
            (DATA, DATA).prop_map(|(typed, choices)| Refusal::UnknownCategory { typed, choices }),
            Just(Refusal::AlreadyClosed),
            Just(Refusal::ReplyWithoutText),
            status().prop_map(Refusal::CannotClose),
            fields.prop_map(Refusal::MissingToClose),
            status().prop_map(Refusal::CannotReopen),
            Just(Refusal::NoteWithoutText),
            status().prop_map(Refusal::CannotAppeal),
            Just(Refusal::CommitteeOnly),
            Just(Refusal::NoAppeal),
            status().prop_map(Refusal::CannotWithdraw),
            Just(Refusal::ComplaintInReply),
            status().prop_map(Refusal::NoRunningPeriod),
            Just(Refusal::ComplaintWithoutText),
            Just(Refusal::NoCase),
            (2020i32..2030, 1u32..200).prop_map(|(y, n)| Refusal::Purged(CaseRef::new(y, n))),
            (2020i32..2030, 1u32..200).prop_map(|(y, n)| Refusal::Erased(CaseRef::new(y, n))),
            Just(Refusal::OwnCase),
            Just(Refusal::HandlerIsComplainant),
            (0u32..400).prop_map(|d| Refusal::AppealTooEarly(
                NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days(i64::from(d))
            )),
            Just(Refusal::DirectorIsComplainant),
            Just(Refusal::CommitteeIsComplainant),
            Just(Refusal::OneExtensionPerMail),
            (0u32..=60).prop_map(|used| Refusal::ExtensionLimit { used, max: 60 }),
            Just(Refusal::ComplainantIsUs),
            Just(Refusal::ComplainantIsSender),
            Just(Refusal::NotForCommittee),
            Just(Refusal::CommitteeAsHandler),
            (keyword(), status()).prop_map(|(k, s)| Refusal::NotNow(k, s)),
            Just(Refusal::DirectorOnly(DirectorTask::Concerns)),
            Just(Refusal::DirectorOnly(DirectorTask::Hold)),
            DATA.prop_map(Refusal::HandlerConcerned),
            Just(Refusal::NotInvolved),
            DATA.prop_map(Refusal::UnknownStaff),
            Just(Refusal::HoldNotAfterToday),
            Just(Refusal::StaffOrDirectorOnly),
            Just(Refusal::NoRequest),
            (kind(), 0u32..4000).prop_map(|(kind, d)| Refusal::RequestOpen { kind, due: day(d) }),
            Just(Refusal::AlreadyExtended),
            (0u32..4000).prop_map(|d| Refusal::ExtendTooLate(day(d))),
            Just(Refusal::ReceivedInFuture),
        ]
    }

    fn recorded(data: &'static str) -> impl Strategy<Value = (&'static str, Recorded)> {
        let reasons = proptest::sample::select(vec![
            "geen adres met een rol",
            "de e-mail noemt meer dan één afzender (meerdere From-regels)",
            "het bericht waarop u antwoordde is te oud",
            "geen afzender",
        ]);
        prop_oneof![
            Just(("staff_mail_unused", Recorded::Duplicate)),
            data.prop_map(|subject| ("staff_mail_unused", Recorded::Unused { subject })),
            (reasons, data, any::<bool>()).prop_map(|(reason, origin, asked)| (
                "held",
                Recorded::Held {
                    reason: reason.into(),
                    origin,
                    asked
                }
            )),
            Just(("confirmed", Recorded::Confirmed)),
            proptest::sample::select(HeldWhy::ALL.to_vec())
                .prop_map(|w| ("held_refused", Recorded::HeldNotDone(w))),
            Just(("refused", Recorded::Refused)),
            data.prop_map(|sender| ("third_party", Recorded::ThirdParty { sender })),
        ]
    }

    proptest! {
        /// Every line result, in English, has none of klachtd's Dutch words, and differs from
        /// the Dutch.
        #[test]
        fn line_results_in_english_are_english(d in done(), r in refusal()) {
            for (nl, en) in [(d.text(Language::Nl), d.text(Language::En)), (r.text(Language::Nl), r.text(Language::En))] {
                prop_assert!(!nl.is_empty() && !en.is_empty());
                prop_assert_ne!(&nl, &en);
                prop_assert!(dutch_in(&en).is_empty(), "{:?} in {}", dutch_in(&en), en);
            }
        }

        /// Casework's stored Dutch history lines read back exactly, whatever the data in them.
        #[test]
        fn recorded_lines_read_back((kind, r) in recorded("[^\r\n]{0,40}")) {
            prop_assert_eq!(Recorded::parse(kind, &r.text(Language::Nl)), Some(r));
        }

        /// An English reader of the history never gets casework's Dutch: the stored line is told
        /// in English, and the mail text stored below it is not shown.
        #[test]
        fn history_details_for_english_readers((kind, r) in recorded(DATA), below in "[a-z ]{0,40}") {
            let stored = format!("{}\n\nde klacht van {below}", r.text(Language::Nl));
            let en = history_detail(kind, &stored, Language::En);
            prop_assert_eq!(&en, &r.text(Language::En));
            prop_assert!(dutch_in(&en).is_empty(), "{:?} in {}", dutch_in(&en), en);
            prop_assert_eq!(history_detail(kind, &stored, Language::Nl), stored);
        }
    }

    #[test]
    fn dutch_wording_is_unchanged() {
        let e = CommandError::UnknownKeyword {
            typed: "Oplosing".into(),
            suggestion: Some(Keyword::Solution),
        };
        for (got, want) in [
            (Done::Cause.text(Language::Nl), "oorzaak vastgelegd"),
            (
                Done::Handler {
                    typed: "Anna".into(),
                    address: Some("anna@example.org".into()),
                }
                .text(Language::Nl),
                "behandelaar is nu Anna (anna@example.org)",
            ),
            (
                Done::Reaction {
                    closing_due: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
                    sent: true,
                }
                .text(Language::Nl),
                "reactie wordt naar de klager gestuurd; afhandelen uiterlijk 15-12-2026",
            ),
            (
                Refusal::DirectorOnly(DirectorTask::Extend).text(Language::Nl),
                "een termijn verlengen kan alleen de directeur",
            ),
            (
                Refusal::MissingToClose(vec![Field::Cause, Field::Agreement]).text(Language::Nl),
                "kan niet afhandelen, nog niet vastgelegd: oorzaak, akkoord (ja/nee)",
            ),
            (
                Refusal::Grammar(e.clone()).text(Language::Nl),
                "onbekend trefwoord 'Oplosing' — bedoelt u Oplossing?",
            ),
            (
                Refusal::Grammar(e).text(Language::En),
                "unknown keyword 'Oplosing' — did you mean Solution?",
            ),
            (
                Recorded::Refused.text(Language::Nl),
                "Opdracht-mail geweigerd, niets gewijzigd.",
            ),
        ] {
            assert_eq!(got, want);
        }
    }
}
