//! Deciding what a command block does to a case: every line is tried in order against a copy
//! of the case by the procedure's model ([`procedure::step`]); the mail is applied only if
//! every line holds. Pure: the caller writes the result and queues the mail it asks for.

use super::outcomes::{Done, Field, Refusal};
use super::procedure;
use crate::commands::{Command, CommandBlock};
use crate::domain::Language;
use crate::domain::{EmailAddress, WorkingCalendar};
use crate::settings::{Role, Settings};
use crate::store::CaseRecord;
use crate::store::outbox::OutboxKind;
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
    /// Our reaction to the complainant, with the text staff wrote; `sent`: a letter goes
    /// (false when klachtd cannot write to the complainant: only the history records it).
    Reaction {
        text: String,
        sent: bool,
    },
    ClosingLetter {
        sent: bool,
    },
    VerdictLetter {
        sent: bool,
    },
    Escalation(Option<String>),
    Appeal(Option<String>),
    /// The complainant is told the number of days and the new date.
    Extended {
        working_days: u32,
        until: NaiveDate,
        reason: Option<String>,
        sent: bool,
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
    procedure::missing_fields(case)
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

/// Tries every line of `block` on `case` in order, each by the procedure's model
/// ([`procedure::step`]).
pub fn plan(case: &CaseRecord, block: &CommandBlock, actor: &Actor, rules: &Rules<'_>) -> Plan {
    let mut plan = Plan {
        case: case.clone(),
        effects: Vec::new(),
        lines: Vec::new(),
    };
    let ctx = procedure::Ctx {
        role: actor.role,
        sender: &actor.address,
        roles: &rules.settings.roles,
        categories: &rules.settings.causes.categories,
        calendar: rules.calendar,
        closing_days: rules.settings.deadlines.closing_working_days,
        now: rules.now,
        today: rules.today,
    };
    let mut so_far = procedure::MailSoFar::default();
    let mut message_used = false;
    let message = block.message.trim();
    for line in &block.lines {
        let result = match &line.result {
            Err(e) => Err(Refusal::Grammar(e.clone())),
            Ok(command) => procedure::step(&mut plan.case, command, message, &ctx, &mut so_far)
                .map(|step| {
                    message_used |= step.used_text;
                    plan.effects
                        .extend(effects(command, &step, message, &plan.case, &ctx));
                    step.done
                }),
        };
        plan.lines.push(LineOutcome {
            line_no: line.line_no,
            source: line.source.clone(),
            result,
        });
    }
    // Text below the commands is an internal note unless it went to the complainant; a
    // closing or signature alone is no note (issue 22: never an empty note event).
    let note = crate::commands::new_text::without_closing(message);
    if !message_used && !note.trim().is_empty() {
        plan.effects.push(Effect::Note(note));
    }
    plan
}

/// What carrying out one line causes beyond the case's fields: the letters the model names,
/// with their texts, and the history entries.
fn effects(
    command: &Command,
    step: &procedure::Step,
    message: &str,
    case: &CaseRecord,
    ctx: &procedure::Ctx<'_>,
) -> Vec<Effect> {
    let letter = |kind| step.letters.iter().any(|l| l.kind == kind);
    let mut out = Vec::new();
    match command {
        Command::Reply => {
            out.push(Effect::Reaction {
                text: message.to_string(),
                sent: letter(OutboxKind::Reaction),
            });
        }
        Command::Close => out.push(Effect::ClosingLetter {
            sent: letter(OutboxKind::ClosingLetter),
        }),
        Command::Verdict { .. } => out.push(Effect::VerdictLetter {
            sent: letter(OutboxKind::VerdictLetter),
        }),
        Command::Escalate(reason) => out.push(Effect::Escalation(reason.clone())),
        Command::Appeal(text) => out.push(Effect::Appeal(text.clone())),
        Command::Extend { reason, .. } => {
            if let Done::Extended {
                days, until, sent, ..
            } = step.done
            {
                out.push(Effect::Extended {
                    working_days: days,
                    until,
                    reason: reason.clone(),
                    sent,
                });
            }
        }
        // Only text of its own makes a note: a closing or a signature is none (the model
        // refused the line when neither is there).
        Command::Note(text) => out.push(Effect::Note(match text {
            Some(t) if !t.trim().is_empty() => t.clone(),
            _ => crate::commands::new_text::without_closing(message),
        })),
        Command::Reopen(reason) => out.push(Effect::Event {
            kind: "reopened",
            detail: reason.clone().unwrap_or_default(),
        }),
        Command::NotAComplaint(reason) => out.push(Effect::Event {
            kind: "withdrawn",
            detail: reason.clone().unwrap_or_default(),
        }),
        Command::Recommendation(text) => out.push(Effect::Recommendation(text.clone())),
        Command::Handler(_)
        | Command::Category(_)
        | Command::Cause(_)
        | Command::Solution(_)
        | Command::Measure(_)
        | Command::Agreement(_)
        | Command::Language(_)
        | Command::Complaint(_) => {}
        // issue 25: the privacy commands' history entries and the requester's notice.
        Command::Concerns(_)
        | Command::HoldUntil { .. }
        | Command::HoldOff
        | Command::Request(_) => out.extend(privacy_effects(command, &step.done, case, ctx)),
    }
    out
}

/// The privacy commands' effects (issue 25), from what the model did: whom the complaint
/// concerns (their tokens for the case revoked), a hold, a privacy request and its one
/// extension (the requester told), each in the history.
fn privacy_effects(
    command: &Command,
    done: &Done,
    case: &CaseRecord,
    ctx: &procedure::Ctx<'_>,
) -> Vec<Effect> {
    use crate::commands::RequestAction;
    let event = |kind, detail: String| Effect::Event { kind, detail };
    match (command, done) {
        (Command::Concerns(Some(typed)), Done::Concerns { .. }) => ctx
            .roles
            .resolve(typed.trim())
            .map(|a| Effect::Concerned(a.to_string()))
            .into_iter()
            .collect(),
        (Command::Concerns(None), _) => vec![event(
            "concerns_lifted",
            "de klacht gaat over geen medewerker (besluit van de directeur)".into(),
        )],
        (Command::HoldUntil { until, reason }, _) => {
            vec![event(
                "hold",
                format!("bewaren tot en met {until}: {reason}"),
            )]
        }
        (Command::HoldOff, _) => vec![event("hold_lifted", "bewaren opgeheven".into())],
        (Command::Request(RequestAction::New { kind, .. }), _) => {
            let Some(request) = &case.privacy.request else {
                return Vec::new();
            };
            vec![event(
                "privacy_request",
                format!(
                    "verzoek om {} (AVG), ontvangen {}, beantwoorden uiterlijk {}",
                    kind.label(true),
                    request.received,
                    request.due
                ),
            )]
        }
        (Command::Request(RequestAction::Extend { months, reason }), _) => {
            vec![Effect::RequestExtended {
                months: *months,
                reason: reason.clone(),
            }]
        }
        (Command::Request(RequestAction::Done), _) => {
            let kind = case.privacy.request.as_ref().map(|r| r.kind);
            kind.map(|kind| {
                event(
                    "privacy_request_done",
                    format!("verzoek om {} afgehandeld", kind.label(true)),
                )
            })
            .into_iter()
            .collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::parse_block;
    use crate::domain::{CaseRef, CaseStatus};

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
            reaction_extended: 0,
            closing_extended: 0,
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
        assert!(p.effects.contains(&Effect::ClosingLetter { sent: true }));
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
            vec![Effect::Reaction {
                text: "Beste klager,\nexcuses.".into(),
                sent: true
            }]
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
