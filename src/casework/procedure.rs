//! The complaints procedure as one model: which role may give which command in which state of
//! a case, what each command changes and which letters it sends to whom ([`RULES`], one
//! entry per command), and the rules that hold whatever mail arrives in whatever order
//! ([`INVARIANTS`], checked by [`broken`]). [`step`] carries out one command line on a case by
//! that table; `apply` consults it for every line, README's command table is generated from
//! it (`readme_section`, checked by a test), and `tests/procedure_model.rs` holds klachtd to it
//! over random sequences of mail.

use super::outcomes::{DirectorTask, Done, Field, Refusal};
use crate::commands::{Command, Keyword};
use crate::domain::CaseStatus::{self, Appealed, Closed, Final, Open, Reacted, Withdrawn};
use crate::domain::calendar::MAX_EXTENSION;
use crate::domain::{EmailAddress, WorkingCalendar};
use crate::settings::{Role, Roles};
use crate::store::CaseRecord;
use crate::store::outbox::OutboxKind;
use chrono::{DateTime, NaiveDate, Utc};

/// Who may give a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Staff, the director and the committee.
    AnyRole,
    /// Those who handle complaints: staff and the director. The committee is the independent
    /// appeal body ("onafhankelijke examencommissie"): it does not handle what it may judge.
    Handling,
    Director,
    Committee,
}

/// When a command may be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// In a reply about a case in one of these states.
    In(&'static [CaseStatus]),
    /// In a new mail that names no case.
    NewMail,
    /// In a reply about a case in one of these states, or in a new mail.
    InOrNew(&'static [CaseStatus]),
}

/// A condition a command needs beyond the role and the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Text below the command lines: it is what the complainant gets.
    TextBelow,
    /// A text: after the keyword, or below the command lines.
    Text,
    /// An address or name typed must be a staff member's or the director's (the committee
    /// judges the appeal), and never the complainant's.
    HandlerNotComplainant,
    /// One of `causes.categories`.
    KnownCategory,
    /// Handler, cause, solution and agreement recorded.
    AllFields,
    /// The reaction was given, or its deadline has passed.
    ReactionGivenOrDue,
    /// The director is not the complainant (she would get the whole case).
    DirectorNotComplainant,
    /// The committee is not the complainant.
    CommitteeNotComplainant,
    /// One `Verleng` in a mail.
    OncePerMail,
    /// The running deadline extended by at most [`MAX_EXTENSION`] working days in all.
    ExtensionRoom,
    /// The complainant is not the organisation's own address (under any +tag) and not the
    /// sender's own.
    ProperComplainant,
    /// An address or name typed must be a staff member's or the director's (issue 25).
    KnownStaff,
    /// A date after today (issue 25).
    AfterToday,
    /// At most one open privacy request, received no later than today; its period extended
    /// once, within the first month; answered only when open (issue 25).
    RequestInOrder,
}

/// What a command makes of the case's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Becomes {
    Unchanged,
    /// Open becomes reacted (a reacted case stays so).
    Reacted,
    Closed,
    /// Back to reacted when the reaction was given, else to open.
    Reopened,
    Appealed,
    Final,
    Withdrawn,
    /// A new case, open.
    NewCase,
}

/// Who receives a letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    Complainant,
    Director,
    Committee,
    /// Every staff member (the complainant left out).
    Staff,
}

/// A letter a command sends: what kind, to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Letter {
    pub kind: OutboxKind,
    pub to: To,
}

/// One command of the procedure.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub keyword: Keyword,
    pub who: Who,
    pub when: When,
    pub needs: &'static [Needs],
    pub becomes: Becomes,
    /// What it records, in English (for README) and Dutch.
    pub does: (&'static str, &'static str),
    pub letters: &'static [Letter],
}

/// The states in which a case can still be worked on: everything but final and withdrawn.
const WORKING: &[CaseStatus] = &[Open, Reacted, Closed, Appealed];
/// The states with a running deadline.
const RUNNING: &[CaseStatus] = &[Open, Reacted];
const ALL: &[CaseStatus] = &CaseStatus::ALL;

const fn to(kind: OutboxKind, to: To) -> Letter {
    Letter { kind, to }
}

/// The procedure, one command a row. Adding a command is adding its row — who, when, what it
/// needs, the state after, the letters — with its keyword in the grammar and, in [`step`], the
/// field it records; README's table, the checks of who and when, the refusals and the
/// letters follow from the row.
pub const RULES: &[Rule] = &[
    Rule {
        keyword: Keyword::Handler,
        who: Who::Handling,
        when: When::In(WORKING),
        needs: &[Needs::HandlerNotComplainant],
        becomes: Becomes::Unchanged,
        does: ("records the handler", "legt de behandelaar vast"),
        letters: &[],
    },
    Rule {
        keyword: Keyword::Category,
        who: Who::Handling,
        when: When::In(WORKING),
        needs: &[Needs::KnownCategory],
        becomes: Becomes::Unchanged,
        does: ("records the category", "legt de categorie vast"),
        letters: &[],
    },
    Rule {
        keyword: Keyword::Cause,
        who: Who::Handling,
        when: When::In(WORKING),
        needs: &[],
        becomes: Becomes::Unchanged,
        does: ("records the cause", "legt de oorzaak vast"),
        letters: &[],
    },
    Rule {
        keyword: Keyword::Solution,
        who: Who::Handling,
        when: When::In(WORKING),
        needs: &[],
        becomes: Becomes::Unchanged,
        does: ("records the solution", "legt de oplossing vast"),
        letters: &[],
    },
    Rule {
        keyword: Keyword::Measure,
        who: Who::Handling,
        when: When::In(WORKING),
        needs: &[],
        becomes: Becomes::Unchanged,
        does: (
            "records the structural measure",
            "legt de structurele maatregel vast",
        ),
        letters: &[],
    },
    Rule {
        keyword: Keyword::Agreement,
        who: Who::Handling,
        when: When::In(WORKING),
        needs: &[],
        becomes: Becomes::Unchanged,
        does: (
            "records whether the complainant agrees (yes/no)",
            "legt vast of de klager het eens is (ja/nee)",
        ),
        letters: &[],
    },
    Rule {
        keyword: Keyword::Reply,
        who: Who::Handling,
        when: When::In(RUNNING),
        needs: &[Needs::TextBelow],
        becomes: Becomes::Reacted,
        does: (
            "sends the text below to the complainant; the first one is the reaction and starts the closing period",
            "stuurt de tekst eronder naar de klager; de eerste is de reactie en start de afhandeltermijn",
        ),
        letters: &[to(OutboxKind::Reaction, To::Complainant)],
    },
    Rule {
        keyword: Keyword::Escalate,
        who: Who::Handling,
        when: When::In(RUNNING),
        needs: &[Needs::DirectorNotComplainant],
        becomes: Becomes::Unchanged,
        does: (
            "puts the case before the director",
            "legt de klacht voor aan de directeur",
        ),
        letters: &[to(OutboxKind::Escalation, To::Director)],
    },
    Rule {
        keyword: Keyword::Close,
        who: Who::Handling,
        when: When::In(RUNNING),
        needs: &[Needs::AllFields],
        becomes: Becomes::Closed,
        does: (
            "closes the case; the closing letter is the reaction if none was given",
            "handelt de klacht af; de afsluitende brief is de reactie als er nog geen was",
        ),
        letters: &[to(OutboxKind::ClosingLetter, To::Complainant)],
    },
    Rule {
        keyword: Keyword::Reopen,
        who: Who::Handling,
        when: When::In(&[Closed, Withdrawn]),
        needs: &[],
        becomes: Becomes::Reopened,
        does: (
            "reopens the case: reacted if the reaction was given, else open",
            "heropent de klacht: reactie verstuurd als de reactie gegeven was, anders open",
        ),
        letters: &[],
    },
    Rule {
        keyword: Keyword::Note,
        who: Who::AnyRole,
        when: When::In(ALL),
        needs: &[Needs::Text],
        becomes: Becomes::Unchanged,
        does: ("stores an internal note", "slaat een interne notitie op"),
        letters: &[],
    },
    Rule {
        keyword: Keyword::Appeal,
        who: Who::AnyRole,
        when: When::In(&[Open, Reacted, Closed]),
        needs: &[Needs::ReactionGivenOrDue, Needs::CommitteeNotComplainant],
        becomes: Becomes::Appealed,
        does: (
            "records the complainant's appeal; the committee gets the whole case",
            "legt het beroep van de klager vast; de examencommissie krijgt de hele klacht",
        ),
        letters: &[to(OutboxKind::Appeal, To::Committee)],
    },
    Rule {
        keyword: Keyword::Verdict,
        who: Who::Committee,
        when: When::In(&[Appealed]),
        needs: &[],
        becomes: Becomes::Final,
        does: (
            "records the binding verdict; the case is final",
            "legt de bindende uitspraak vast; de klacht is definitief",
        ),
        letters: &[to(OutboxKind::VerdictLetter, To::Complainant)],
    },
    Rule {
        keyword: Keyword::NotAComplaint,
        who: Who::Handling,
        when: When::In(RUNNING),
        needs: &[],
        becomes: Becomes::Withdrawn,
        does: (
            "withdraws the registration (not counted in the analysis)",
            "trekt de registratie in (telt niet mee in de analyse)",
        ),
        letters: &[],
    },
    Rule {
        keyword: Keyword::Complaint,
        who: Who::AnyRole,
        when: When::NewMail,
        needs: &[Needs::TextBelow, Needs::ProperComplainant],
        becomes: Becomes::NewCase,
        does: (
            "registers the text below as a complaint of that address",
            "registreert de tekst eronder als klacht van dat adres",
        ),
        letters: &[
            to(OutboxKind::Acknowledgement, To::Complainant),
            to(OutboxKind::StaffNotification, To::Staff),
        ],
    },
    Rule {
        keyword: Keyword::Extend,
        who: Who::Director,
        when: When::In(RUNNING),
        needs: &[Needs::OncePerMail, Needs::ExtensionRoom],
        becomes: Becomes::Unchanged,
        does: (
            "moves the running deadline by N working days",
            "verschuift de lopende termijn met N werkdagen",
        ),
        letters: &[to(OutboxKind::ExtensionNotice, To::Complainant)],
    },
    Rule {
        keyword: Keyword::Recommendation,
        who: Who::Director,
        when: When::InOrNew(WORKING),
        needs: &[],
        becomes: Becomes::Unchanged,
        does: (
            "records a recommendation for the yearly analysis",
            "legt een aanbeveling vast voor de jaaranalyse",
        ),
        letters: &[],
    },
    // Issue 25: the record's privacy. These concern the record, whatever its state.
    Rule {
        keyword: Keyword::Concerns,
        who: Who::Director,
        when: When::In(ALL),
        needs: &[Needs::KnownStaff],
        becomes: Becomes::Unchanged,
        does: (
            "records whom the complaint concerns (or nobody): they never hear of it and cannot handle it",
            "legt vast over wie de klacht gaat (of niemand): die hoort er niets van en kan haar niet behandelen",
        ),
        letters: &[],
    },
    Rule {
        keyword: Keyword::HoldUntil,
        who: Who::Director,
        when: When::In(ALL),
        needs: &[Needs::AfterToday],
        becomes: Becomes::Unchanged,
        does: (
            "keeps the case until that date, past its retention (a legal hold)",
            "bewaart de klacht tot die datum, ook na de bewaartermijn",
        ),
        letters: &[],
    },
    Rule {
        keyword: Keyword::Hold,
        who: Who::Director,
        when: When::In(ALL),
        needs: &[],
        becomes: Becomes::Unchanged,
        does: ("lifts the hold", "heft het bewaren op"),
        letters: &[],
    },
    Rule {
        keyword: Keyword::Request,
        who: Who::Handling,
        when: When::In(ALL),
        needs: &[Needs::RequestInOrder],
        becomes: Becomes::Unchanged,
        does: (
            "records a privacy request (AVG), its one extension (the complainant is told), or that it was answered",
            "legt een privacyverzoek (AVG) vast, de ene verlenging ervan (de klager hoort die), of dat het beantwoord is",
        ),
        letters: &[to(OutboxKind::ExtensionNotice, To::Complainant)],
    },
    Rule {
        keyword: Keyword::Language,
        who: Who::Handling,
        when: When::In(WORKING),
        needs: &[],
        becomes: Becomes::Unchanged,
        does: (
            "sets the language the complainant is written in",
            "stelt de taal in waarin de klager post krijgt",
        ),
        letters: &[],
    },
];

/// The row of `keyword`.
pub fn rule(keyword: Keyword) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.keyword == keyword)
        .expect("every keyword has a rule (tested)")
}

/// What must hold of every case, after any sequence of mail: English, Dutch.
pub const INVARIANTS: &[(&str, &str)] = &[
    (
        "A deadline is extended by at most 60 working days in all, by at most one `Verleng` a mail; the complainant is told of each extension once, with its number of days and the new date.",
        "Een termijn wordt in totaal met hoogstens 60 werkdagen verlengd, met hoogstens één `Verleng` per e-mail; de klager hoort elke verlenging één keer, met het aantal dagen en de nieuwe datum.",
    ),
    (
        "The complainant is never the organisation's own address (under any +tag).",
        "De klager is nooit het adres van de organisatie zelf (met welke +toevoeging ook).",
    ),
    (
        "On their own case a person is the complainant, whatever role they have: their mail about it is the complainant's, they give no commands on it, and none of the mail a role gets about that case (its notice, follow-ups, transcripts, reminders, escalation, appeal) goes to them. The handler is never the complainant.",
        "In de eigen zaak is iemand de klager, welke rol hij ook heeft: zijn e-mail erover is die van de klager, hij geeft er geen opdrachten in, en geen van de e-mails die een rol over die zaak krijgt (melding, vervolgberichten, verslagen, herinneringen, voorleggen, beroep) gaat naar hem. De behandelaar is nooit de klager.",
    ),
    (
        "A case is open only until the reaction: the reaction is the first letter of substance to the complainant — a `Reactie`, the closing letter, or the committee's verdict — and the closing period starts with it.",
        "Een klacht is open tot de reactie: de reactie is de eerste inhoudelijke brief aan de klager — een `Reactie`, de afsluitende brief of de uitspraak van de examencommissie — en daarmee begint de afhandeltermijn.",
    ),
    (
        "An appeal is registered only after the reaction was given or its deadline passed.",
        "Beroep wordt pas geregistreerd als de reactie gegeven is of de reactietermijn verstreken is.",
    ),
    (
        "A verdict is final: after it, only internal notes and the record's privacy (whom it concerns, a hold, a privacy request) are added.",
        "Een uitspraak is definitief: daarna komen er alleen interne notities en de privacy van het dossier (over wie het gaat, bewaren, een privacyverzoek) bij.",
    ),
    (
        "A staff member the complaint concerns gives no commands on it and hears nothing of it; they are never its handler (the director oversees it).",
        "Een medewerker over wie de klacht gaat, geeft er geen opdrachten in en hoort er niets van; hij is nooit de behandelaar (de directeur houdt toezicht).",
    ),
    (
        "A command mail is carried out whole or not at all, and its transcript says line by line what was done and what was sent (nothing to a complainant klachtd cannot write to).",
        "Een opdracht-mail wordt helemaal of helemaal niet uitgevoerd, en het verslag zegt per regel wat er gedaan en verstuurd is (niets aan een klager naar wie klachtd niet kan schrijven).",
    ),
];

/// Everything a command line is judged by besides the case.
pub struct Ctx<'a> {
    pub role: Role,
    pub sender: &'a EmailAddress,
    pub roles: &'a Roles,
    pub categories: &'a [String],
    pub calendar: &'a WorkingCalendar,
    pub closing_days: u32,
    pub now: DateTime<Utc>,
    /// The local day of `now`.
    pub today: NaiveDate,
}

/// What earlier lines of the same mail did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailSoFar {
    pub extensions: u32,
}

/// What one command line did to the case besides its fields and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub done: Done,
    /// The letters it sends, in order.
    pub letters: Vec<Letter>,
    /// The text below the command lines became the letter or the note.
    pub used_text: bool,
}

/// The mailbox an address stands for (no +tag, lower case), to compare people.
fn person(address: &str) -> String {
    crate::inbound::classify::base_address(address)
}

/// Whether `address` is the complainant of `case` (the mailbox: no +tag, any case).
pub use crate::outbound::mailer::is_complainant;

/// Whether a letter can reach the complainant (an address klachtd can write to, not purged).
pub fn complainant_reachable(case: &CaseRecord) -> bool {
    case.complainant_address.is_some()
}

/// Whether `address` may be registered as a complainant by `sender` (`Klacht:`): never the
/// organisation's own address under any +tag, never the sender's own.
pub fn may_register(
    address: &EmailAddress,
    sender: &EmailAddress,
    organisation: &EmailAddress,
) -> Result<(), Refusal> {
    if address.without_tag() == organisation.without_tag() {
        return Err(Refusal::ComplainantIsUs);
    }
    if address.without_tag() == sender.without_tag() {
        return Err(Refusal::ComplainantIsSender);
    }
    Ok(())
}

/// What `Afgehandeld` needs that the case does not have yet.
pub fn missing_fields(case: &CaseRecord) -> Vec<Field> {
    [
        (case.handler.is_none(), Field::Handler),
        (case.cause.is_none(), Field::Cause),
        (case.solution.is_none(), Field::Solution),
        (case.agreement.is_none(), Field::Agreement),
    ]
    .into_iter()
    .filter_map(|(missing, field)| missing.then_some(field))
    .collect()
}

/// Whether the reaction was given, or its deadline passed before `today`.
pub fn reaction_given_or_due(case: &CaseRecord, today: NaiveDate) -> bool {
    case.reacted_at.is_some() || today > case.reaction_due
}

/// Why `keyword` cannot be given in `status` (the words staff know for each).
fn not_now(keyword: Keyword, status: CaseStatus) -> Refusal {
    match (status, keyword) {
        (Final, _) => Refusal::Final,
        (Withdrawn, _) => Refusal::WithdrawnCase,
        (_, Keyword::Reply | Keyword::Escalate) => Refusal::AlreadyClosed,
        (_, Keyword::Close) => Refusal::CannotClose(status),
        (_, Keyword::Reopen) => Refusal::CannotReopen(status),
        (_, Keyword::Appeal) => Refusal::CannotAppeal(status),
        (_, Keyword::Verdict) => Refusal::NoAppeal,
        (_, Keyword::NotAComplaint) => Refusal::CannotWithdraw(status),
        (_, Keyword::Extend) => Refusal::NoRunningPeriod(status),
        (_, Keyword::Complaint) => Refusal::ComplaintInReply,
        _ => Refusal::NotNow(keyword, status),
    }
}

/// Whether `role` may give a command for `who`.
fn role_may(who: Who, role: Role, keyword: Keyword) -> Result<(), Refusal> {
    match (who, role) {
        (Who::AnyRole, _)
        | (Who::Handling, Role::Staff | Role::Director)
        | (Who::Director, Role::Director)
        | (Who::Committee, Role::Committee) => Ok(()),
        (Who::Handling, Role::Committee) if keyword == Keyword::Request => {
            Err(Refusal::StaffOrDirectorOnly)
        }
        (Who::Handling, Role::Committee) => Err(Refusal::NotForCommittee),
        (Who::Director, _) => Err(Refusal::DirectorOnly(match keyword {
            Keyword::Recommendation => DirectorTask::Recommend,
            Keyword::Concerns => DirectorTask::Concerns,
            Keyword::HoldUntil | Keyword::Hold => DirectorTask::Hold,
            _ => DirectorTask::Extend,
        })),
        (Who::Committee, _) => Err(Refusal::CommitteeOnly),
    }
}

/// The running deadline of `case` and what it was extended by so far.
fn running(case: &mut CaseRecord, today: NaiveDate) -> (&mut NaiveDate, &mut u32) {
    if case.status == Reacted {
        let due = case.closing_due.get_or_insert(today);
        (due, &mut case.closing_extended)
    } else {
        (&mut case.reaction_due, &mut case.reaction_extended)
    }
}

/// Checks a command's conditions on `case` (its row's `needs`).
fn check_needs(
    rule: &Rule,
    case: &CaseRecord,
    command: &Command,
    text_below: &str,
    ctx: &Ctx<'_>,
    mail: &MailSoFar,
) -> Result<(), Refusal> {
    for need in rule.needs {
        match need {
            Needs::TextBelow if text_below.trim().is_empty() => {
                return Err(match command {
                    Command::Complaint(_) => Refusal::ComplaintWithoutText,
                    _ => Refusal::ReplyWithoutText,
                });
            }
            // Only text of its own makes a note: a closing or a signature is none.
            Needs::Text => {
                if let Command::Note(text) = command
                    && text.as_deref().is_none_or(|t| t.trim().is_empty())
                    && crate::commands::new_text::without_closing(text_below.trim())
                        .trim()
                        .is_empty()
                {
                    return Err(Refusal::NoteWithoutText);
                }
            }
            Needs::HandlerNotComplainant => {
                let Command::Handler(typed) = command else {
                    continue;
                };
                let typed = typed.trim();
                if let Ok(address) = typed.parse::<EmailAddress>()
                    && ctx.roles.role_of(&address).is_none()
                {
                    return Err(Refusal::NotStaff(address.to_string()));
                }
                // An address, or a name from `roles.names`.
                if let Some(handler) = ctx.roles.resolve(typed) {
                    if ctx.roles.role_of(&handler) == Some(Role::Committee) {
                        return Err(Refusal::CommitteeAsHandler);
                    }
                    if is_complainant(case, &handler) {
                        return Err(Refusal::HandlerIsComplainant);
                    }
                    // issue 25: never someone the complaint is about.
                    if case.privacy.concerns(handler.as_str()) && handler != ctx.roles.director {
                        return Err(Refusal::HandlerConcerned(typed.to_string()));
                    }
                }
            }
            Needs::KnownCategory => {
                if let Command::Category(c) = command
                    && !ctx
                        .categories
                        .iter()
                        .any(|k| k.eq_ignore_ascii_case(c.trim()))
                {
                    return Err(Refusal::UnknownCategory {
                        typed: c.clone(),
                        choices: ctx.categories.join(", "),
                    });
                }
            }
            Needs::AllFields => {
                let missing = missing_fields(case);
                if !missing.is_empty() {
                    return Err(Refusal::MissingToClose(missing));
                }
            }
            Needs::ReactionGivenOrDue if !reaction_given_or_due(case, ctx.today) => {
                return Err(Refusal::AppealTooEarly(case.reaction_due));
            }
            Needs::DirectorNotComplainant if is_complainant(case, &ctx.roles.director) => {
                return Err(Refusal::DirectorIsComplainant);
            }
            Needs::CommitteeNotComplainant if is_complainant(case, &ctx.roles.committee) => {
                return Err(Refusal::CommitteeIsComplainant);
            }
            Needs::OncePerMail if mail.extensions > 0 => {
                return Err(Refusal::OneExtensionPerMail);
            }
            Needs::ExtensionRoom => {
                if let Command::Extend { working_days, .. } = command {
                    let used = if case.status == Reacted {
                        case.closing_extended
                    } else {
                        case.reaction_extended
                    };
                    if used + working_days > MAX_EXTENSION {
                        return Err(Refusal::ExtensionLimit {
                            used,
                            max: MAX_EXTENSION,
                        });
                    }
                }
            }
            Needs::KnownStaff => {
                if let Command::Concerns(Some(typed)) = command
                    && concerned_address(typed, ctx.roles).is_none()
                {
                    return Err(Refusal::UnknownStaff(typed.trim().to_string()));
                }
            }
            Needs::AfterToday => {
                if let Command::HoldUntil { until, .. } = command
                    && *until <= ctx.today
                {
                    return Err(Refusal::HoldNotAfterToday);
                }
            }
            Needs::RequestInOrder => {
                use crate::commands::RequestAction;
                let open = case.privacy.request.as_ref().filter(|r| r.is_open());
                match (command, open) {
                    (Command::Request(RequestAction::New { .. }), Some(open)) => {
                        return Err(Refusal::RequestOpen {
                            kind: open.kind,
                            due: open.due,
                        });
                    }
                    (Command::Request(RequestAction::New { received, .. }), None)
                        if received.is_some_and(|r| r > ctx.today) =>
                    {
                        return Err(Refusal::ReceivedInFuture);
                    }
                    (Command::Request(RequestAction::New { .. }), None) => {}
                    (Command::Request(_), None) => return Err(Refusal::NoRequest),
                    (Command::Request(RequestAction::Extend { .. }), Some(open)) => {
                        if open.extended_months.is_some() {
                            return Err(Refusal::AlreadyExtended);
                        }
                        if ctx.today > open.first_due() {
                            return Err(Refusal::ExtendTooLate(open.first_due()));
                        }
                    }
                    _ => {}
                }
            }
            // A new mail's complainant is judged where the case is registered (`may_register`).
            Needs::ProperComplainant
            | Needs::TextBelow
            | Needs::ReactionGivenOrDue
            | Needs::DirectorNotComplainant
            | Needs::CommitteeNotComplainant
            | Needs::OncePerMail => {}
        }
    }
    Ok(())
}

/// Whether the rule lets `command` be given on a case in `status` (in a reply).
fn allowed_in(rule: &Rule, status: CaseStatus) -> bool {
    match rule.when {
        When::In(states) | When::InOrNew(states) => states.contains(&status),
        When::NewMail => false,
    }
}

/// The reaction: the first letter of substance to the complainant. It starts the closing
/// period.
fn give_reaction(case: &mut CaseRecord, ctx: &Ctx<'_>) {
    if case.reacted_at.is_none() {
        case.reacted_at = Some(ctx.now);
        case.closing_due = Some(ctx.calendar.deadline(ctx.today, ctx.closing_days));
    }
}

/// Carries out one command line on `case` as [`RULES`] say, or says why not (the case is
/// then unchanged). `text_below` is the text under the command lines.
pub fn step(
    case: &mut CaseRecord,
    command: &Command,
    text_below: &str,
    ctx: &Ctx<'_>,
    mail: &mut MailSoFar,
) -> Result<Step, Refusal> {
    let keyword = command.keyword();
    let rule = rule(keyword);
    if is_complainant(case, ctx.sender) {
        return Err(Refusal::OwnCase);
    }
    // issue 25: someone the complaint concerns cannot work on it (the director oversees it).
    if case.privacy.concerns(ctx.sender.as_str()) && ctx.roles.kept_from_cases_about(ctx.sender) {
        return Err(Refusal::NotInvolved);
    }
    if matches!(case.status, Final | Withdrawn) && !allowed_in(rule, case.status) {
        return Err(not_now(keyword, case.status));
    }
    role_may(rule.who, ctx.role, keyword)?;
    if !allowed_in(rule, case.status) {
        return Err(not_now(keyword, case.status));
    }
    check_needs(rule, case, command, text_below, ctx, mail)?;

    let was = case.status;
    let mut letters = rule.letters.to_vec();
    let mut used_text = false;
    let reachable = complainant_reachable(case);
    let done = match command {
        Command::Handler(typed) => {
            let typed = typed.trim();
            case.handler = Some(typed.to_string());
            Done::Handler {
                typed: typed.to_string(),
                address: ctx.roles.resolve(typed).map(|a| a.to_string()),
            }
        }
        Command::Category(c) => {
            let known = ctx
                .categories
                .iter()
                .find(|k| k.eq_ignore_ascii_case(c.trim()))
                .expect("checked by KnownCategory")
                .clone();
            case.category = Some(known.clone());
            Done::Category(known)
        }
        Command::Cause(v) => {
            case.cause = Some(v.clone());
            Done::Cause
        }
        Command::Solution(v) => {
            case.solution = Some(v.clone());
            Done::Solution
        }
        Command::Measure(v) => {
            case.measure = Some(v.clone());
            Done::Measure
        }
        Command::Agreement(yes) => {
            case.agreement = Some(*yes);
            Done::Agreement(*yes)
        }
        Command::Reply => {
            used_text = true;
            if was == Open {
                give_reaction(case, ctx);
                case.status = Reacted;
                Done::Reaction {
                    closing_due: case.closing_due.expect("set by the reaction"),
                    sent: reachable,
                }
            } else {
                Done::AnotherReaction { sent: reachable }
            }
        }
        Command::Escalate(_) => {
            case.escalated_at = Some(ctx.now);
            Done::Escalated
        }
        Command::Close => {
            give_reaction(case, ctx);
            case.status = Closed;
            case.closed_at = Some(ctx.now);
            Done::Closed { sent: reachable }
        }
        Command::Reopen(_) => {
            case.closed_at = None;
            case.status = if case.reacted_at.is_some() {
                if case.closing_due.is_none() {
                    case.closing_due = Some(ctx.calendar.deadline(ctx.today, ctx.closing_days));
                }
                Reacted
            } else {
                Open
            };
            Done::Reopened
        }
        Command::Note(value) => {
            used_text = value.as_deref().is_none_or(|t| t.trim().is_empty());
            Done::Noted
        }
        Command::Appeal(_) => {
            case.status = Appealed;
            case.appealed_at = Some(ctx.now);
            Done::Appealed
        }
        Command::Verdict { verdict, text } => {
            give_reaction(case, ctx);
            case.status = Final;
            case.verdict_at = Some(ctx.now);
            case.verdict = Some(match text {
                Some(t) => format!("{}: {t}", verdict.as_str()),
                None => verdict.as_str().to_string(),
            });
            Done::Verdict {
                verdict: *verdict,
                sent: reachable,
            }
        }
        Command::NotAComplaint(_) => {
            case.status = Withdrawn;
            Done::Withdrawn
        }
        Command::Complaint(_) => return Err(Refusal::ComplaintInReply),
        Command::Extend { working_days, .. } => {
            let (due, used) = running(case, ctx.today);
            *due = ctx.calendar.add_working_days(*due, *working_days);
            *used += working_days;
            mail.extensions += 1;
            Done::Extended {
                days: *working_days,
                until: *due,
                total: *used,
                sent: reachable,
            }
        }
        Command::Language(lang) => {
            case.language = lang.as_str().to_string();
            Done::Language(*lang)
        }
        Command::Recommendation(_) => Done::Recommendation,
        Command::Concerns(_)
        | Command::HoldUntil { .. }
        | Command::HoldOff
        | Command::Request(_) => privacy(case, command, ctx, reachable),
    };
    // Of a privacy request only its extension is told (to the requester).
    if matches!(command, Command::Request(r) if !matches!(r, crate::commands::RequestAction::Extend { .. }))
    {
        letters.clear();
    }
    if !reachable {
        letters.retain(|l| l.to != To::Complainant);
    }
    Ok(Step {
        done,
        letters,
        used_text,
    })
}

/// The role address `typed` (an address or a name from `roles.names`) names, when it is a
/// staff member's or the director's: whom a complaint can concern.
fn concerned_address(typed: &str, roles: &Roles) -> Option<EmailAddress> {
    roles
        .resolve(typed.trim())
        .filter(|a| matches!(roles.role_of(a), Some(Role::Staff | Role::Director)))
}

/// The privacy commands (issue 25), their conditions checked: whom the complaint concerns, a
/// legal hold, a privacy request and its deadline.
fn privacy(case: &mut CaseRecord, command: &Command, ctx: &Ctx<'_>, reachable: bool) -> Done {
    use crate::commands::RequestAction;
    use crate::domain::privacy::{Hold, PrivacyRequest, months_after};
    match command {
        Command::Concerns(Some(typed)) => {
            let address = concerned_address(typed, ctx.roles).expect("checked by KnownStaff");
            if !case.privacy.concerns(address.as_str()) {
                case.privacy.concerns.push(address.to_string());
                case.privacy.concerns.sort();
            }
            case.privacy.concerns_fixed = true;
            let handler_cleared = address != ctx.roles.director
                && case
                    .handler
                    .as_deref()
                    .and_then(|h| ctx.roles.resolve(h))
                    .is_some_and(|h| h == address);
            if handler_cleared {
                case.handler = None;
            }
            Done::Concerns {
                who: typed.trim().to_string(),
                handler_cleared,
            }
        }
        Command::Concerns(None) => {
            case.privacy.concerns.clear();
            case.privacy.concerns_fixed = true;
            Done::ConcernsNobody
        }
        Command::HoldUntil { until, reason } => {
            case.privacy.hold = Some(Hold {
                until: *until,
                reason: reason.clone(),
            });
            Done::Held(*until)
        }
        Command::HoldOff => {
            case.privacy.hold = None;
            Done::HoldLifted
        }
        Command::Request(RequestAction::New { kind, received }) => {
            let request = PrivacyRequest::new(*kind, received.unwrap_or(ctx.today));
            let due = request.due;
            case.privacy.request = Some(request);
            Done::Request { kind: *kind, due }
        }
        Command::Request(RequestAction::Extend { months, reason }) => {
            let request = case
                .privacy
                .request
                .as_mut()
                .expect("checked by RequestInOrder");
            let first = request.first_due();
            request.extended_months = Some(*months);
            request.extension_reason = Some(reason.clone());
            request.due = months_after(first, *months);
            Done::RequestExtended {
                months: *months,
                due: request.due,
                told: reachable,
            }
        }
        Command::Request(RequestAction::Done) => {
            if let Some(request) = case.privacy.request.as_mut() {
                request.done_at = Some(ctx.now);
            }
            Done::RequestDone
        }
        _ => unreachable!("only the privacy commands come here"),
    }
}

/// One broken invariant, in English.
pub type Broken = String;

/// The invariants that can be read off one case alone (see [`INVARIANTS`]): empty when all hold.
pub fn broken(
    case: &CaseRecord,
    organisation: &EmailAddress,
    roles: &Roles,
    tz: chrono_tz::Tz,
) -> Vec<Broken> {
    let mut out = Vec::new();
    let r = case.reference;
    if case.reaction_extended > MAX_EXTENSION || case.closing_extended > MAX_EXTENSION {
        out.push(format!(
            "{r}: extended {} + {} working days",
            case.reaction_extended, case.closing_extended
        ));
    }
    if let Some(c) = &case.complainant_address
        && person(c) == organisation.without_tag()
    {
        out.push(format!(
            "{r}: the complainant is the organisation's address"
        ));
    }
    if let Some(h) = case.handler.as_deref().and_then(|h| roles.resolve(h))
        && is_complainant(case, &h)
    {
        out.push(format!("{r}: the handler is the complainant"));
    }
    if case.status == Open && case.reacted_at.is_some() {
        out.push(format!("{r}: open after the reaction"));
    }
    if matches!(case.status, Reacted | Closed | Final) && case.reacted_at.is_none() {
        out.push(format!("{r}: {} without a reaction", case.status));
    }
    if case.reacted_at.is_some() != case.closing_due.is_some() {
        out.push(format!(
            "{r}: a closing deadline without a reaction, or back"
        ));
    }
    if case.status == Final && (case.verdict.is_none() || case.verdict_at.is_none()) {
        out.push(format!("{r}: final without a verdict"));
    }
    if case.verdict.is_some() && case.status != Final {
        out.push(format!("{r}: a verdict on a case that is not final"));
    }
    // (In the order things happened: a clock set back can stamp the appeal before the
    // reaction it followed, so only a missing reaction is judged here.)
    if let Some(appealed) = case.appealed_at
        && case.reacted_at.is_none()
        && appealed.with_timezone(&tz).date_naive() <= case.reaction_due
    {
        out.push(format!("{r}: appealed before the reaction or its deadline"));
    }
    out
}

/// README's section on the procedure, generated from [`RULES`] and [`INVARIANTS`].
pub fn readme_section() -> String {
    let states = |s: &[CaseStatus]| {
        if s == ALL {
            "any".to_string()
        } else {
            s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        }
    };
    let who = |w: Who| match w {
        Who::AnyRole => "staff, director, committee",
        Who::Handling => "staff, director",
        Who::Director => "director",
        Who::Committee => "committee",
    };
    let when = |w: When| match w {
        When::In(s) => states(s),
        When::NewMail => "in a new mail (no case)".to_string(),
        When::InOrNew(s) => format!("{}; or in a new mail", states(s)),
    };
    let need = |n: &Needs| match n {
        Needs::TextBelow => "text below the commands",
        Needs::Text => "a text",
        Needs::HandlerNotComplainant => {
            "a staff or director's address or name, not the complainant's"
        }
        Needs::KnownCategory => "one of `causes.categories`",
        Needs::AllFields => "handler, cause, solution and agreement recorded",
        Needs::ReactionGivenOrDue => "the reaction given, or its deadline passed",
        Needs::DirectorNotComplainant => "the director is not the complainant",
        Needs::CommitteeNotComplainant => "the committee is not the complainant",
        Needs::OncePerMail => "one per mail",
        Needs::ExtensionRoom => "at most 60 working days in all per deadline",
        Needs::ProperComplainant => "not our own address (any +tag), not the sender's own",
        Needs::KnownStaff => "a staff member's or the director's address or name; or `nobody`",
        Needs::AfterToday => "a date after today",
        Needs::RequestInOrder => {
            "one open request at a time; extended once, within the first month"
        }
    };
    let becomes = |b: Becomes| match b {
        Becomes::Unchanged => "—",
        Becomes::Reacted => "reacted",
        Becomes::Closed => "closed",
        Becomes::Reopened => "reacted, or open",
        Becomes::Appealed => "appealed",
        Becomes::Final => "final",
        Becomes::Withdrawn => "withdrawn",
        Becomes::NewCase => "a new open case",
    };
    let letter = |l: &Letter| {
        let to = match l.to {
            To::Complainant => "complainant",
            To::Director => "director",
            To::Committee => "committee",
            To::Staff => "staff",
        };
        format!("{} → {to}", l.kind.as_str().replace('_', " "))
    };
    let mut out = String::from(
        "| command | who | in state | also needs | state after | what it does | letters |\n| --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in RULES {
        let needs: Vec<&str> = r.needs.iter().map(need).collect();
        let letters: Vec<String> = r.letters.iter().map(letter).collect();
        out.push_str(&format!(
            "| `{}` / `{}` | {} | {} | {} | {} | {} | {} |\n",
            r.keyword.dutch(),
            r.keyword.english(),
            who(r.who),
            when(r.when),
            if needs.is_empty() {
                "—".to_string()
            } else {
                needs.join("; ")
            },
            becomes(r.becomes),
            r.does.0,
            if letters.is_empty() {
                "—".to_string()
            } else {
                letters.join(", ")
            },
        ));
    }
    out.push('\n');
    for (i, (en, _)) in INVARIANTS.iter().enumerate() {
        out.push_str(&format!("{}. {en}\n", i + 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_has_exactly_one_rule() {
        for k in Keyword::all() {
            assert_eq!(RULES.iter().filter(|r| r.keyword == *k).count(), 1, "{k}");
        }
        assert_eq!(RULES.len(), Keyword::all().len());
    }

    /// The moves the rules make are the moves `CaseStatus` allows.
    #[test]
    fn every_move_the_rules_make_is_an_allowed_move() {
        for r in RULES {
            let from: &[CaseStatus] = match r.when {
                When::In(s) | When::InOrNew(s) => s,
                When::NewMail => &[],
            };
            for &s in from {
                let to: &[CaseStatus] = match r.becomes {
                    Becomes::Unchanged => &[],
                    Becomes::Reacted if s == Reacted => &[],
                    Becomes::Reacted => &[Reacted],
                    Becomes::Closed => &[Closed],
                    Becomes::Reopened => &[Reacted, Open],
                    Becomes::Appealed => &[Appealed],
                    Becomes::Final => &[Final],
                    Becomes::Withdrawn => &[Withdrawn],
                    Becomes::NewCase => &[],
                };
                for &t in to {
                    assert!(s.can_become(t), "{}: {s} → {t}", r.keyword);
                }
            }
        }
    }

    /// README's table is the one generated from the rows (`UPDATE_README=1` writes it).
    #[test]
    fn readme_shows_the_model() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let begin =
            "<!-- procedure-model: begin (generated by casework::procedure::readme_section) -->\n";
        let end = "<!-- procedure-model: end -->";
        let (head, rest) = readme
            .split_once(begin)
            .expect("README has the begin marker");
        let (shown, tail) = rest.split_once(end).expect("README has the end marker");
        let generated = readme_section();
        if std::env::var("UPDATE_README").is_ok_and(|v| v == "1") {
            std::fs::write(path, format!("{head}{begin}{generated}{end}{tail}")).unwrap();
            return;
        }
        assert_eq!(
            shown, generated,
            "README's procedure table differs from the model; run UPDATE_README=1 cargo test --lib readme_shows_the_model"
        );
    }

    /// A final case takes notes and the record's privacy (issue 25), nothing else.
    #[test]
    fn a_final_case_takes_only_notes_and_privacy() {
        for r in RULES {
            assert_eq!(
                allowed_in(r, Final),
                matches!(
                    r.keyword,
                    Keyword::Note
                        | Keyword::Concerns
                        | Keyword::HoldUntil
                        | Keyword::Hold
                        | Keyword::Request
                ),
                "{}",
                r.keyword
            );
        }
    }
}
