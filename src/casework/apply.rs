//! Deciding what a command block does to a case: every line is tried in order against a copy
//! of the case, with the procedure's rules; the mail is applied only if every line holds.
//! Pure: the caller writes the result and queues the mail it asks for.

use super::messages::{DirectorTask, Done, Field, Refusal};
use crate::commands::{Command, CommandBlock, Keyword};
use crate::domain::Language;
use crate::domain::{CaseStatus, EmailAddress, WorkingCalendar};
use crate::settings::{Role, Settings};
use crate::store::CaseRecord;
use chrono::{DateTime, NaiveDate, Utc};

/// Who sent the commands.
#[derive(Debug, Clone)]
pub struct Actor {
    pub address: EmailAddress,
    pub role: Role,
}

/// Something applying the block causes beyond the case's own fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// An internal note (never shown to the complainant).
    Note(String),
    /// Our reaction to the complainant, with the text staff wrote.
    Reaction(String),
    ClosingLetter,
    VerdictLetter,
    Escalation(Option<String>),
    Appeal(Option<String>),
    /// The complainant is told the new date.
    Extended {
        working_days: u32,
        reason: Option<String>,
    },
    Recommendation(String),
    Event {
        kind: &'static str,
        detail: String,
    },
    /// The complaint concerns this role address (issue 25): its tokens for the case are
    /// revoked, and the history says so.
    Concerned(String),
    /// The privacy request's period extended: the requester is told, with the reason.
    RequestExtended {
        months: u32,
        reason: String,
    },
}

/// One command line with what became of it, for the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineOutcome {
    pub line_no: usize,
    pub source: String,
    /// Ok: what was done; Err: why it was refused (words in either language).
    pub result: Result<Done, Refusal>,
}

/// The result of trying a block on a case.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The case as it will be if the plan is applied.
    pub case: CaseRecord,
    pub effects: Vec<Effect>,
    pub lines: Vec<LineOutcome>,
}

impl Plan {
    pub fn refused(&self) -> usize {
        self.lines.iter().filter(|l| l.result.is_err()).count()
    }
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

/// What `Afgehandeld` still needs, named in `lang`.
pub fn missing_to_close_in(case: &CaseRecord, lang: Language) -> Vec<&'static str> {
    missing_fields(case)
        .into_iter()
        .map(|f| f.text(lang))
        .collect()
}

/// What `Afgehandeld` still needs, named in Dutch (as `wording::missing_field` expects).
pub fn missing_to_close(case: &CaseRecord) -> Vec<&'static str> {
    missing_to_close_in(case, Language::Nl)
}

/// Rules and context the plan needs.
pub struct Rules<'a> {
    pub settings: &'a Settings,
    pub calendar: &'a WorkingCalendar,
    pub now: DateTime<Utc>,
    pub today: NaiveDate,
}

/// Tries every line of `block` on `case` in order.
pub fn plan(case: &CaseRecord, block: &CommandBlock, actor: &Actor, rules: &Rules<'_>) -> Plan {
    let mut plan = Plan {
        case: case.clone(),
        effects: Vec::new(),
        lines: Vec::new(),
    };
    let mut message_used = false;
    for line in &block.lines {
        let result = match &line.result {
            Err(e) => Err(Refusal::Grammar(e.clone())),
            Ok(command) => apply(
                &mut plan,
                command,
                &block.message,
                &mut message_used,
                actor,
                rules,
            ),
        };
        plan.lines.push(LineOutcome {
            line_no: line.line_no,
            source: line.source.clone(),
            result,
        });
    }
    // Text below the commands is an internal note unless it went to the complainant; a
    // closing or signature alone is no note (issue 22: never an empty note event).
    let note = crate::commands::reply::without_closing(block.message.trim());
    if !message_used && !note.trim().is_empty() {
        plan.effects.push(Effect::Note(note));
    }
    plan
}

fn apply(
    plan: &mut Plan,
    command: &Command,
    message: &str,
    message_used: &mut bool,
    actor: &Actor,
    rules: &Rules<'_>,
) -> Result<Done, Refusal> {
    let case = &mut plan.case;
    let keyword = command.keyword();
    // issue 25: someone the complaint concerns cannot work on it (the director oversees it).
    if actor.role != Role::Director && case.privacy.concerns(actor.address.as_str()) {
        return Err(Refusal::NotInvolved);
    }
    // A legal hold and a privacy request concern the record, whatever its state.
    let privacy_keyword = matches!(
        keyword,
        Keyword::Concerns | Keyword::HoldUntil | Keyword::Hold | Keyword::Request
    );
    // Internal notes change nothing the procedure registers, so they are always welcome.
    if case.status == CaseStatus::Final && keyword != Keyword::Note && !privacy_keyword {
        return Err(Refusal::Final);
    }
    let allowed_when_withdrawn =
        matches!(keyword, Keyword::Reopen | Keyword::Note) || privacy_keyword;
    if case.status == CaseStatus::Withdrawn && !allowed_when_withdrawn {
        return Err(Refusal::WithdrawnCase);
    }
    let closed_or_appealed = matches!(case.status, CaseStatus::Closed | CaseStatus::Appealed);
    let director_only = |task| -> Result<(), Refusal> {
        if actor.role == Role::Director {
            Ok(())
        } else {
            Err(Refusal::DirectorOnly(task))
        }
    };
    match command {
        Command::Handler(typed) => {
            let typed = typed.trim();
            if let Ok(address) = typed.parse::<EmailAddress>()
                && rules.settings.roles.role_of(&address).is_none()
            {
                return Err(Refusal::NotStaff(address.to_string()));
            }
            // issue 25: never someone the complaint is about.
            if let Some(address) = rules.settings.roles.resolve(typed)
                && case.privacy.concerns(address.as_str())
                && address != rules.settings.roles.director
            {
                return Err(Refusal::HandlerConcerned(typed.to_string()));
            }
            case.handler = Some(typed.to_string());
            Ok(Done::Handler {
                typed: typed.to_string(),
                address: rules.settings.roles.resolve(typed).map(|a| a.to_string()),
            })
        }
        Command::Category(c) => {
            let known = rules
                .settings
                .causes
                .categories
                .iter()
                .find(|k| k.eq_ignore_ascii_case(c.trim()));
            match known {
                Some(k) => {
                    case.category = Some(k.clone());
                    Ok(Done::Category(k.clone()))
                }
                None => Err(Refusal::UnknownCategory {
                    typed: c.clone(),
                    choices: rules.settings.causes.categories.join(", "),
                }),
            }
        }
        Command::Cause(v) => {
            case.cause = Some(v.clone());
            Ok(Done::Cause)
        }
        Command::Solution(v) => {
            case.solution = Some(v.clone());
            Ok(Done::Solution)
        }
        Command::Measure(v) => {
            case.measure = Some(v.clone());
            Ok(Done::Measure)
        }
        Command::Agreement(yes) => {
            case.agreement = Some(*yes);
            Ok(Done::Agreement(*yes))
        }
        Command::Reply => {
            if closed_or_appealed {
                return Err(Refusal::AlreadyClosed);
            }
            if message.trim().is_empty() {
                return Err(Refusal::ReplyWithoutText);
            }
            *message_used = true;
            plan.effects
                .push(Effect::Reaction(message.trim().to_string()));
            if case.status == CaseStatus::Open {
                case.status = CaseStatus::Reacted;
                case.reacted_at = Some(rules.now);
                let due = rules
                    .calendar
                    .deadline(rules.today, rules.settings.deadlines.closing_working_days);
                case.closing_due = Some(due);
                Ok(Done::Reaction { closing_due: due })
            } else {
                Ok(Done::AnotherReaction)
            }
        }
        Command::Escalate(reason) => {
            if closed_or_appealed {
                return Err(Refusal::AlreadyClosed);
            }
            case.escalated_at = Some(rules.now);
            plan.effects.push(Effect::Escalation(reason.clone()));
            Ok(Done::Escalated)
        }
        Command::Close => {
            if !case.status.can_become(CaseStatus::Closed) {
                return Err(Refusal::CannotClose(case.status));
            }
            let missing = missing_fields(case);
            if !missing.is_empty() {
                return Err(Refusal::MissingToClose(missing));
            }
            case.status = CaseStatus::Closed;
            case.closed_at = Some(rules.now);
            plan.effects.push(Effect::ClosingLetter);
            Ok(Done::Closed)
        }
        Command::Reopen(reason) => {
            if !matches!(case.status, CaseStatus::Closed | CaseStatus::Withdrawn) {
                return Err(Refusal::CannotReopen(case.status));
            }
            case.status = if case.reacted_at.is_some() {
                CaseStatus::Reacted
            } else {
                CaseStatus::Open
            };
            case.closed_at = None;
            plan.effects.push(Effect::Event {
                kind: "reopened",
                detail: reason.clone().unwrap_or_default(),
            });
            Ok(Done::Reopened)
        }
        Command::Note(text) => {
            let below = crate::commands::reply::without_closing(message.trim());
            let text = match text {
                Some(t) if !t.trim().is_empty() => t.clone(),
                // Only text of its own makes a note: a closing or a signature is none.
                _ if !below.trim().is_empty() => {
                    *message_used = true;
                    below
                }
                _ => return Err(Refusal::NoteWithoutText),
            };
            plan.effects.push(Effect::Note(text));
            Ok(Done::Noted)
        }
        Command::Appeal(text) => {
            if !case.status.can_become(CaseStatus::Appealed) {
                return Err(Refusal::CannotAppeal(case.status));
            }
            case.status = CaseStatus::Appealed;
            case.appealed_at = Some(rules.now);
            plan.effects.push(Effect::Appeal(text.clone()));
            Ok(Done::Appealed)
        }
        Command::Verdict { verdict, text } => {
            if actor.role != Role::Committee {
                return Err(Refusal::CommitteeOnly);
            }
            if case.status != CaseStatus::Appealed {
                return Err(Refusal::NoAppeal);
            }
            case.status = CaseStatus::Final;
            case.verdict_at = Some(rules.now);
            case.verdict = Some(match text {
                Some(t) => format!("{}: {t}", verdict.as_str()),
                None => verdict.as_str().to_string(),
            });
            plan.effects.push(Effect::VerdictLetter);
            Ok(Done::Verdict(*verdict))
        }
        Command::NotAComplaint(reason) => {
            if !case.status.can_become(CaseStatus::Withdrawn) {
                return Err(Refusal::CannotWithdraw(case.status));
            }
            case.status = CaseStatus::Withdrawn;
            plan.effects.push(Effect::Event {
                kind: "withdrawn",
                detail: reason.clone().unwrap_or_default(),
            });
            Ok(Done::Withdrawn)
        }
        Command::Complaint(_) => Err(Refusal::ComplaintInReply),
        Command::Extend {
            working_days,
            reason,
        } => {
            director_only(DirectorTask::Extend)?;
            match case.status {
                CaseStatus::Open => {
                    case.reaction_due = rules
                        .calendar
                        .add_working_days(case.reaction_due, *working_days);
                }
                CaseStatus::Reacted => {
                    let due = case.closing_due.unwrap_or(rules.today);
                    case.closing_due = Some(rules.calendar.add_working_days(due, *working_days));
                }
                other => {
                    return Err(Refusal::NoRunningPeriod(other));
                }
            }
            plan.effects.push(Effect::Extended {
                working_days: *working_days,
                reason: reason.clone(),
            });
            Ok(Done::Extended(*working_days))
        }
        Command::Language(lang) => {
            case.language = lang.as_str().to_string();
            Ok(Done::Language(*lang))
        }
        Command::Recommendation(text) => {
            director_only(DirectorTask::Recommend)?;
            plan.effects.push(Effect::Recommendation(text.clone()));
            Ok(Done::Recommendation)
        }
        Command::Concerns(_)
        | Command::HoldUntil { .. }
        | Command::HoldOff
        | Command::Request(_) => privacy(plan, command, actor, rules),
    }
}

/// The privacy commands (issue 25): whom the complaint concerns, a legal hold, a privacy
/// request and its deadline.
fn privacy(
    plan: &mut Plan,
    command: &Command,
    actor: &Actor,
    rules: &Rules<'_>,
) -> Result<Done, Refusal> {
    use crate::commands::RequestAction;
    use crate::domain::privacy::{Hold, PrivacyRequest, months_after};
    let case = &mut plan.case;
    let roles = &rules.settings.roles;
    let director_only = |task| {
        if actor.role == Role::Director {
            Ok(())
        } else {
            Err(Refusal::DirectorOnly(task))
        }
    };
    let staff_or_director = || {
        if matches!(actor.role, Role::Director | Role::Staff) {
            Ok(())
        } else {
            Err(Refusal::StaffOrDirectorOnly)
        }
    };
    match command {
        Command::Concerns(Some(typed)) => {
            director_only(DirectorTask::Concerns)?;
            let typed = typed.trim();
            let address = roles
                .resolve(typed)
                .filter(|a| matches!(roles.role_of(a), Some(Role::Staff | Role::Director)))
                .ok_or_else(|| Refusal::UnknownStaff(typed.to_string()))?;
            if !case.privacy.concerns(address.as_str()) {
                case.privacy.concerns.push(address.to_string());
                case.privacy.concerns.sort();
            }
            case.privacy.concerns_fixed = true;
            let handler_cleared = address != roles.director
                && case
                    .handler
                    .as_deref()
                    .and_then(|h| roles.resolve(h))
                    .is_some_and(|h| h == address);
            if handler_cleared {
                case.handler = None;
            }
            plan.effects.push(Effect::Concerned(address.to_string()));
            Ok(Done::Concerns {
                who: typed.to_string(),
                handler_cleared,
            })
        }
        Command::Concerns(None) => {
            director_only(DirectorTask::Concerns)?;
            case.privacy.concerns.clear();
            case.privacy.concerns_fixed = true;
            plan.effects.push(Effect::Event {
                kind: "concerns_lifted",
                detail: "de klacht gaat over geen medewerker (besluit van de directeur)".into(),
            });
            Ok(Done::ConcernsNobody)
        }
        Command::HoldUntil { until, reason } => {
            director_only(DirectorTask::Hold)?;
            if *until <= rules.today {
                return Err(Refusal::HoldNotAfterToday);
            }
            case.privacy.hold = Some(Hold {
                until: *until,
                reason: reason.clone(),
            });
            plan.effects.push(Effect::Event {
                kind: "hold",
                detail: format!("bewaren tot en met {until}: {reason}"),
            });
            Ok(Done::Held(*until))
        }
        Command::HoldOff => {
            director_only(DirectorTask::Hold)?;
            case.privacy.hold = None;
            plan.effects.push(Effect::Event {
                kind: "hold_lifted",
                detail: "bewaren opgeheven".into(),
            });
            Ok(Done::HoldLifted)
        }
        Command::Request(RequestAction::New { kind, received }) => {
            staff_or_director()?;
            if let Some(open) = case.privacy.request.as_ref().filter(|r| r.is_open()) {
                return Err(Refusal::RequestOpen {
                    kind: open.kind,
                    due: open.due,
                });
            }
            let received = received.unwrap_or(rules.today);
            if received > rules.today {
                return Err(Refusal::ReceivedInFuture);
            }
            let request = PrivacyRequest::new(*kind, received);
            let due = request.due;
            plan.effects.push(Effect::Event {
                kind: "privacy_request",
                detail: format!(
                    "verzoek om {} (AVG), ontvangen {received}, beantwoorden uiterlijk {due}",
                    kind.label(true)
                ),
            });
            case.privacy.request = Some(request);
            Ok(Done::Request { kind: *kind, due })
        }
        Command::Request(RequestAction::Extend { months, reason }) => {
            staff_or_director()?;
            let told = case.complainant_address.is_some();
            let request = case
                .privacy
                .request
                .as_mut()
                .filter(|r| r.is_open())
                .ok_or(Refusal::NoRequest)?;
            if request.extended_months.is_some() {
                return Err(Refusal::AlreadyExtended);
            }
            let first = request.first_due();
            if rules.today > first {
                return Err(Refusal::ExtendTooLate(first));
            }
            request.extended_months = Some(*months);
            request.extension_reason = Some(reason.clone());
            request.due = months_after(first, *months);
            let due = request.due;
            plan.effects.push(Effect::RequestExtended {
                months: *months,
                reason: reason.clone(),
            });
            Ok(Done::RequestExtended {
                months: *months,
                due,
                told,
            })
        }
        Command::Request(RequestAction::Done) => {
            staff_or_director()?;
            let request = case
                .privacy
                .request
                .as_mut()
                .filter(|r| r.is_open())
                .ok_or(Refusal::NoRequest)?;
            request.done_at = Some(rules.now);
            let kind = request.kind;
            plan.effects.push(Effect::Event {
                kind: "privacy_request_done",
                detail: format!("verzoek om {} afgehandeld", kind.label(true)),
            });
            Ok(Done::RequestDone)
        }
        _ => unreachable!("only the privacy commands come here"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::parse_block;
    use crate::domain::CaseRef;

    fn settings() -> Settings {
        Settings::load_with_env(None, Vec::<(String, String)>::new()).unwrap()
    }

    fn case(status: CaseStatus) -> CaseRecord {
        let at = DateTime::parse_from_rfc3339("2026-11-24T10:00:00+01:00")
            .unwrap()
            .to_utc();
        CaseRecord {
            id: 1,
            reference: CaseRef::new(2026, 1),
            status,
            language: "nl".into(),
            complainant_address: Some("k@example.net".into()),
            complainant_name: None,
            subject: "s".into(),
            body: "b".into(),
            received_at: at,
            reaction_due: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            reacted_at: None,
            closing_due: None,
            closed_at: None,
            handler: None,
            category: None,
            cause: None,
            solution: None,
            measure: None,
            agreement: None,
            escalated_at: None,
            appealed_at: None,
            verdict: None,
            verdict_at: None,
            purged_at: None,
            unreachable_from: None,
            basis: None,
            privacy: Default::default(),
        }
    }

    fn try_block(case: &CaseRecord, text: &str, role: Role) -> Plan {
        let settings = settings();
        let calendar = settings.working_calendar();
        let now = DateTime::parse_from_rfc3339("2026-11-25T10:00:00+01:00")
            .unwrap()
            .to_utc();
        let rules = Rules {
            settings: &settings,
            calendar: &calendar,
            now,
            today: NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        };
        let actor = Actor {
            address: "staff@example.org".parse().unwrap(),
            role,
        };
        plan(case, &parse_block(text), &actor, &rules)
    }

    proptest::proptest! {
        /// Issue 22: whatever stands below the commands — a closing, a signature, a name,
        /// blank lines, text of its own — a note is never empty: a closing or signature alone
        /// makes none, and `Notitie` over one is refused as a note without text.
        #[test]
        fn no_note_is_ever_empty(
            command in proptest::sample::select(vec!["", "Notitie", "Notitie:  ", "Behandelaar: staff@example.org"]),
            closing in proptest::sample::select(vec![
                "Met vriendelijke groet,", "Kind regards,", "Groet,", "Vriendelijke groeten,\nAnna",
                "Met vriendelijke groet,\n\nAnna de Vries\nKlachtencoördinator\n030-1234567",
            ]),
            own in proptest::option::of("[a-z]{3,12}( [a-z]{2,8}){0,5}"),
        ) {
            let text = format!(
                "{command}\n\n{}{closing}",
                own.as_ref().map(|o| format!("{o}\n\n")).unwrap_or_default()
            );
            let p = try_block(&case(CaseStatus::Open), text.trim_start(), Role::Staff);
            for e in &p.effects {
                if let Effect::Note(n) = e {
                    proptest::prop_assert!(!n.trim().is_empty(), "{text:?}");
                }
            }
            let noted = p.effects.iter().any(|e| matches!(e, Effect::Note(_)));
            if own.is_some() && p.refused() == 0 {
                proptest::prop_assert!(noted, "{text:?}");
            }
        }
    }

    #[test]
    fn closing_needs_the_registration_the_procedure_demands() {
        let p = try_block(&case(CaseStatus::Reacted), "Afgehandeld", Role::Staff);
        assert_eq!(p.refused(), 1);
        let why = p.lines[0].result.clone().unwrap_err().text(Language::Nl);
        assert!(
            why.contains("behandelaar, oorzaak, oplossing, akkoord"),
            "{why}"
        );
        let p = try_block(
            &case(CaseStatus::Reacted),
            "Behandelaar: staff@example.org\nOorzaak: x\nOplossing: y\nAkkoord: nee\nAfgehandeld",
            Role::Staff,
        );
        assert_eq!(p.refused(), 0);
        assert_eq!(p.case.status, CaseStatus::Closed);
        assert!(p.effects.contains(&Effect::ClosingLetter));
    }

    #[test]
    fn a_reaction_starts_the_closing_deadline() {
        let p = try_block(
            &case(CaseStatus::Open),
            "Reactie\n\nBeste klager,\nexcuses.",
            Role::Staff,
        );
        assert_eq!(p.refused(), 0);
        assert_eq!(p.case.status, CaseStatus::Reacted);
        // 14 working days from Wednesday 25 November 2026.
        assert_eq!(p.case.closing_due, NaiveDate::from_ymd_opt(2026, 12, 15));
        assert_eq!(
            p.effects,
            vec![Effect::Reaction("Beste klager,\nexcuses.".into())]
        );
        let empty = try_block(&case(CaseStatus::Open), "Reactie", Role::Staff);
        assert_eq!(empty.refused(), 1, "a reaction needs text");
    }

    #[test]
    fn only_the_committee_gives_a_verdict_and_it_binds() {
        let appealed = case(CaseStatus::Appealed);
        assert_eq!(
            try_block(&appealed, "Uitspraak: gegrond", Role::Director).refused(),
            1
        );
        let p = try_block(
            &appealed,
            "Uitspraak: ongegrond, motivering",
            Role::Committee,
        );
        assert_eq!(p.case.status, CaseStatus::Final);
        assert_eq!(p.case.verdict.as_deref(), Some("ongegrond: motivering"));
        let fin = p.case;
        for text in ["Heropen", "Oorzaak: x", "Afgehandeld", "Geen klacht"] {
            assert_eq!(
                try_block(&fin, text, Role::Director).refused(),
                1,
                "{text} on a final case"
            );
        }
        assert_eq!(
            try_block(&fin, "Notitie: voor het archief", Role::Staff).refused(),
            0
        );
    }

    #[test]
    fn extending_is_for_the_director_and_moves_the_running_deadline() {
        assert_eq!(
            try_block(&case(CaseStatus::Open), "Verleng: 5", Role::Staff).refused(),
            1
        );
        let p = try_block(
            &case(CaseStatus::Open),
            "Verleng: 5 wachten op de docent",
            Role::Director,
        );
        assert_eq!(p.refused(), 0);
        assert_eq!(
            p.case.reaction_due,
            NaiveDate::from_ymd_opt(2026, 12, 8).unwrap()
        );
        assert!(matches!(
            p.effects[0],
            Effect::Extended {
                working_days: 5,
                ..
            }
        ));
    }

    #[test]
    fn one_bad_line_refuses_the_whole_mail() {
        let p = try_block(
            &case(CaseStatus::Open),
            "Oorzaak: x\nOplosing: y\nAkkoord: ja",
            Role::Staff,
        );
        assert_eq!(p.refused(), 1);
        assert!(
            p.lines[1]
                .result
                .as_ref()
                .unwrap_err()
                .text(Language::Nl)
                .contains("bedoelt u Oplossing?")
        );
    }

    #[test]
    fn a_withdrawn_registration_only_reopens() {
        let w = case(CaseStatus::Withdrawn);
        assert_eq!(try_block(&w, "Afgehandeld", Role::Staff).refused(), 1);
        assert_eq!(
            try_block(&w, "Heropen: toch een klacht", Role::Staff)
                .case
                .status,
            CaseStatus::Open
        );
    }
}
