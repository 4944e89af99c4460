//! The staff command parser ([`parse_block`]): `Keyword: value` lines at the top of a reply's
//! new text, Dutch or English, case-insensitive; the block ends at the first blank line or the
//! first line that is not a command, and what follows is the message.

use crate::domain::Language;
use std::fmt;

/// Every keyword staff can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keyword {
    Handler,
    Category,
    Cause,
    Solution,
    Measure,
    Agreement,
    Reply,
    Escalate,
    Close,
    Reopen,
    Note,
    Appeal,
    Verdict,
    NotAComplaint,
    Complaint,
    Extend,
    Recommendation,
    Language,
    // issue 25: confidentiality and the AVG
    Concerns,
    HoldUntil,
    Hold,
    Request,
}

impl Keyword {
    const ALL: [Keyword; 22] = [
        Keyword::Handler,
        Keyword::Category,
        Keyword::Cause,
        Keyword::Solution,
        Keyword::Measure,
        Keyword::Agreement,
        Keyword::Reply,
        Keyword::Escalate,
        Keyword::Close,
        Keyword::Reopen,
        Keyword::Note,
        Keyword::Appeal,
        Keyword::Verdict,
        Keyword::NotAComplaint,
        Keyword::Complaint,
        Keyword::Extend,
        Keyword::Recommendation,
        Keyword::Language,
        Keyword::Concerns,
        Keyword::HoldUntil,
        Keyword::Hold,
        Keyword::Request,
    ];

    pub fn all() -> &'static [Keyword] {
        &Self::ALL
    }

    pub fn dutch(&self) -> &'static str {
        match self {
            Keyword::Handler => "Behandelaar",
            Keyword::Category => "Categorie",
            Keyword::Cause => "Oorzaak",
            Keyword::Solution => "Oplossing",
            Keyword::Measure => "Maatregel",
            Keyword::Agreement => "Akkoord",
            Keyword::Reply => "Reactie",
            Keyword::Escalate => "Escaleer",
            Keyword::Close => "Afgehandeld",
            Keyword::Reopen => "Heropen",
            Keyword::Note => "Notitie",
            Keyword::Appeal => "Beroep",
            Keyword::Verdict => "Uitspraak",
            Keyword::NotAComplaint => "Geen klacht",
            Keyword::Complaint => "Klacht",
            Keyword::Extend => "Verleng",
            Keyword::Recommendation => "Aanbeveling",
            Keyword::Language => "Taal",
            Keyword::Concerns => "Betreft",
            Keyword::HoldUntil => "Bewaren tot",
            Keyword::Hold => "Bewaren",
            Keyword::Request => "Verzoek",
        }
    }

    pub fn english(&self) -> &'static str {
        match self {
            Keyword::Handler => "Handler",
            Keyword::Category => "Category",
            Keyword::Cause => "Cause",
            Keyword::Solution => "Solution",
            Keyword::Measure => "Measure",
            Keyword::Agreement => "Agreement",
            Keyword::Reply => "Reply",
            Keyword::Escalate => "Escalate",
            Keyword::Close => "Close",
            Keyword::Reopen => "Reopen",
            Keyword::Note => "Note",
            Keyword::Appeal => "Appeal",
            Keyword::Verdict => "Verdict",
            Keyword::NotAComplaint => "Not a complaint",
            Keyword::Complaint => "Complaint",
            Keyword::Extend => "Extend",
            Keyword::Recommendation => "Recommendation",
            Keyword::Language => "Language",
            Keyword::Concerns => "Concerns",
            Keyword::HoldUntil => "Keep until",
            Keyword::Hold => "Keep",
            Keyword::Request => "Request",
        }
    }

    /// The keyword as written in `lang` (both are always understood).
    pub fn name(&self, lang: Language) -> &'static str {
        match lang {
            Language::Nl => self.dutch(),
            Language::En => self.english(),
        }
    }

    /// Recognises a keyword as typed (either language, any case, inner spaces normalised).
    pub fn lookup(word: &str) -> Option<Keyword> {
        let word = normalise(word);
        Self::ALL
            .into_iter()
            .find(|k| normalise(k.dutch()) == word || normalise(k.english()) == word)
    }

    /// The keyword closest to a misspelling, if it is close enough to be meant.
    pub fn suggest(word: &str) -> Option<Keyword> {
        let word = normalise(word);
        let length = word.chars().count();
        Self::ALL
            .into_iter()
            .flat_map(|k| [(k, k.dutch()), (k, k.english())])
            .map(|(k, name)| (k, normalise(name)))
            // The distance is at least the difference in length: most words are skipped
            // without computing it (the reply parser asks this of every line it looks at).
            .filter(|(_, name)| name.chars().count().abs_diff(length) <= 2)
            .map(|(k, name)| (k, strsim::damerau_levenshtein(&word, &name)))
            .filter(|(_, distance)| *distance <= 2)
            .min_by_key(|(_, distance)| *distance)
            .map(|(k, _)| k)
    }
}

impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dutch())
    }
}

fn normalise(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The exam committee's decision on an appeal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Gegrond: the complainant is right.
    Upheld,
    /// Ongegrond.
    Rejected,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Upheld => "gegrond",
            Verdict::Rejected => "ongegrond",
        }
    }
}

/// A parsed, well-formed command. Whether it may be applied is decided elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Handler(String),
    Category(String),
    Cause(String),
    Solution(String),
    Measure(String),
    Agreement(bool),
    Reply,
    Escalate(Option<String>),
    Close,
    Reopen(Option<String>),
    Note(Option<String>),
    Appeal(Option<String>),
    Verdict {
        verdict: Verdict,
        text: Option<String>,
    },
    NotAComplaint(Option<String>),
    Complaint(String),
    Extend {
        working_days: u32,
        reason: Option<String>,
    },
    Recommendation(String),
    /// The language the complainant is written to.
    Language(crate::domain::Language),
    /// The staff member the complaint is about (`Betreft: Anna de Vries`), as typed; `None`:
    /// nobody (`Betreft: niemand`).
    Concerns(Option<String>),
    /// A legal hold: kept past retention and erasure until `until`.
    HoldUntil {
        until: chrono::NaiveDate,
        reason: String,
    },
    /// The legal hold lifted (`Bewaren: nee`).
    HoldOff,
    /// A privacy request on the case (`Verzoek: inzage`, …).
    Request(RequestAction),
}

/// What `Verzoek:` says about the case's privacy request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestAction {
    /// A new request, received on the day given (today when none is).
    New {
        kind: crate::domain::privacy::RequestKind,
        received: Option<chrono::NaiveDate>,
    },
    /// The period extended by `months` (1 or 2), with the reason the requester is told.
    Extend { months: u32, reason: String },
    /// Answered.
    Done,
}

impl Command {
    pub fn keyword(&self) -> Keyword {
        match self {
            Command::Handler(_) => Keyword::Handler,
            Command::Category(_) => Keyword::Category,
            Command::Cause(_) => Keyword::Cause,
            Command::Solution(_) => Keyword::Solution,
            Command::Measure(_) => Keyword::Measure,
            Command::Agreement(_) => Keyword::Agreement,
            Command::Reply => Keyword::Reply,
            Command::Escalate(_) => Keyword::Escalate,
            Command::Close => Keyword::Close,
            Command::Reopen(_) => Keyword::Reopen,
            Command::Note(_) => Keyword::Note,
            Command::Appeal(_) => Keyword::Appeal,
            Command::Verdict { .. } => Keyword::Verdict,
            Command::NotAComplaint(_) => Keyword::NotAComplaint,
            Command::Complaint(_) => Keyword::Complaint,
            Command::Extend { .. } => Keyword::Extend,
            Command::Recommendation(_) => Keyword::Recommendation,
            Command::Language(_) => Keyword::Language,
            Command::Concerns(_) => Keyword::Concerns,
            Command::HoldUntil { .. } => Keyword::HoldUntil,
            Command::HoldOff => Keyword::Hold,
            Command::Request(_) => Keyword::Request,
        }
    }
}

/// Why a command line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown keyword '{typed}'")]
    UnknownKeyword {
        typed: String,
        suggestion: Option<Keyword>,
    },
    #[error("{0} needs a value")]
    MissingValue(Keyword),
    #[error("invalid value '{value}' for {keyword} (allowed: {allowed})")]
    InvalidValue {
        keyword: Keyword,
        value: String,
        allowed: Allowed,
    },
}

impl CommandError {
    /// Why the line could not be read, for the person who typed it, in `lang`.
    pub fn text(&self, lang: Language) -> String {
        match (self, lang) {
            (
                CommandError::UnknownKeyword {
                    typed,
                    suggestion: Some(k),
                },
                Language::Nl,
            ) => format!("onbekend trefwoord '{typed}' — bedoelt u {}?", k.dutch()),
            (
                CommandError::UnknownKeyword {
                    typed,
                    suggestion: Some(k),
                },
                Language::En,
            ) => format!("unknown keyword '{typed}' — did you mean {}?", k.english()),
            (CommandError::UnknownKeyword { typed, .. }, Language::Nl) => {
                format!("onbekend trefwoord '{typed}'")
            }
            (CommandError::UnknownKeyword { typed, .. }, Language::En) => {
                format!("unknown keyword '{typed}'")
            }
            (CommandError::MissingValue(k), Language::Nl) => format!(
                "{} heeft een waarde nodig, bijvoorbeeld '{}: …'",
                k.dutch(),
                k.dutch()
            ),
            (CommandError::MissingValue(k), Language::En) => format!(
                "{} needs a value, for example '{}: …'",
                k.english(),
                k.english()
            ),
            (
                CommandError::InvalidValue {
                    keyword,
                    value,
                    allowed,
                },
                Language::Nl,
            ) => format!(
                "'{value}' is geen geldige waarde voor {} (toegestaan: {})",
                keyword.dutch(),
                allowed.text(lang)
            ),
            (
                CommandError::InvalidValue {
                    keyword,
                    value,
                    allowed,
                },
                Language::En,
            ) => format!(
                "'{value}' is not a valid value for {} (allowed: {})",
                keyword.english(),
                allowed.text(lang)
            ),
        }
    }
}

/// What a keyword's value may be, as the refusal says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    YesNo,
    Language,
    Verdict,
    ComplainantAddress,
    WorkingDays,
    HoldDate,
    HoldOff,
    Request,
}

impl Allowed {
    pub fn text(self, lang: Language) -> &'static str {
        match (self, lang) {
            (Allowed::YesNo, Language::Nl) => "ja, nee, yes, no",
            (Allowed::YesNo, Language::En) => "yes or no",
            (Allowed::Language, Language::Nl) => "nl of en (Nederlands of Engels)",
            (Allowed::Language, Language::En) => "en or nl (English or Dutch)",
            (Allowed::Verdict, Language::Nl) => {
                "gegrond of ongegrond (upheld or rejected), gevolgd door de motivering"
            }
            (Allowed::Verdict, Language::En) => {
                "upheld or rejected, followed by the reasons for the decision"
            }
            (Allowed::ComplainantAddress, Language::Nl) => "het e-mailadres van de klager",
            (Allowed::ComplainantAddress, Language::En) => "the complainant's e-mail address",
            (Allowed::WorkingDays, Language::Nl) => "een aantal werkdagen van 1 tot en met 60",
            (Allowed::WorkingDays, Language::En) => "a number of working days from 1 to 60",
            (Allowed::HoldDate, Language::Nl) => {
                "een datum en de reden, bijvoorbeeld 'Bewaren tot: 2029-06-30 — lopende procedure'"
            }
            (Allowed::HoldDate, Language::En) => {
                "a date and the reason, for example 'Keep until: 2029-06-30 — pending proceedings'"
            }
            (Allowed::HoldOff, Language::Nl) => "nee (om het bewaren op te heffen)",
            (Allowed::HoldOff, Language::En) => "no (to lift the hold)",
            (Allowed::Request, Language::Nl) => {
                "inzage, verwijdering (eventueel met de datum van ontvangst), verlengen 1 of 2 maanden met de reden, of afgehandeld"
            }
            (Allowed::Request, Language::En) => {
                "access, erasure (optionally with the date it was received), extend 1 or 2 months with the reason, or done"
            }
        }
    }
}

impl fmt::Display for Allowed {
    /// English, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text(Language::En))
    }
}

/// One line of the command block, as typed and as understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// 1-based, within the new text.
    pub line_no: usize,
    /// The line(s) as typed, for the transcript.
    pub source: String,
    pub result: Result<Command, CommandError>,
}

/// The command block at the top of a reply, and the message below it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandBlock {
    pub lines: Vec<CommandLine>,
    /// The text after the block (signature and quote already removed), trimmed.
    pub message: String,
}

impl CommandBlock {
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn has_errors(&self) -> bool {
        self.lines.iter().any(|l| l.result.is_err())
    }

    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        self.lines.iter().filter_map(|l| l.result.as_ref().ok())
    }
}

/// How a line looks: a keyword, something meant as one, or ordinary text.
enum Shape<'a> {
    Known(Keyword, &'a str),
    Misspelt(&'a str, Option<Keyword>),
    Text,
}

fn shape(line: &str) -> Shape<'_> {
    let line = line.trim();
    let (head, value) = match line.split_once(':') {
        Some((head, value)) => (head.trim(), value.trim()),
        None => (line, ""),
    };
    if let Some(k) = Keyword::lookup(head) {
        return Shape::Known(k, value);
    }
    // "Keyword: value" where Keyword is one or two words and close to a real keyword.
    let words = head.split_whitespace().count();
    let wordlike = !head.is_empty()
        && head
            .chars()
            .all(|c| c.is_alphabetic() || c == ' ' || c == '-');
    if line.contains(':') && wordlike && words <= 3 {
        if let Some(s) = Keyword::suggest(head) {
            return Shape::Misspelt(head, Some(s));
        }
        return Shape::Text;
    }
    if !line.contains(':')
        && wordlike
        && words <= 2
        && let Some(s) = Keyword::suggest(head)
    {
        // A bare word one or two letters off a keyword at the top of a reply: meant as one.
        if strsim::damerau_levenshtein(&normalise(head), &normalise(s.dutch())) <= 1
            || strsim::damerau_levenshtein(&normalise(head), &normalise(s.english())) <= 1
        {
            return Shape::Misspelt(head, Some(s));
        }
    }
    Shape::Text
}

/// Whether a line reads as a command line (a keyword, or something meant as one).
pub(crate) fn is_command_line(line: &str) -> bool {
    !matches!(shape(line), Shape::Text)
}

fn opt(value: &str) -> Option<String> {
    let v = value.trim();
    (!v.is_empty()).then(|| v.to_string())
}

fn required(keyword: Keyword, value: &str) -> Result<String, CommandError> {
    opt(value).ok_or(CommandError::MissingValue(keyword))
}

/// Turns a keyword and its value into a command.
fn command(keyword: Keyword, value: &str) -> Result<Command, CommandError> {
    let invalid = |allowed| CommandError::InvalidValue {
        keyword,
        value: value.trim().to_string(),
        allowed,
    };
    Ok(match keyword {
        Keyword::Handler => Command::Handler(required(keyword, value)?),
        Keyword::Category => Command::Category(required(keyword, value)?),
        Keyword::Cause => Command::Cause(required(keyword, value)?),
        Keyword::Solution => Command::Solution(required(keyword, value)?),
        Keyword::Measure => Command::Measure(required(keyword, value)?),
        Keyword::Recommendation => Command::Recommendation(required(keyword, value)?),
        Keyword::Agreement => {
            match normalise(&required(keyword, value)?).trim_end_matches(['.', '!']) {
                "ja" | "yes" | "j" | "y" => Command::Agreement(true),
                "nee" | "no" | "n" => Command::Agreement(false),
                _ => return Err(invalid(Allowed::YesNo)),
            }
        }
        Keyword::Language => {
            match normalise(&required(keyword, value)?).trim_end_matches(['.', '!']) {
                "en" | "engels" | "english" | "eng" => Command::Language(Language::En),
                "nl" | "nederlands" | "dutch" | "ned" => Command::Language(Language::Nl),
                _ => return Err(invalid(Allowed::Language)),
            }
        }
        Keyword::Reply => Command::Reply,
        Keyword::Close => Command::Close,
        Keyword::Escalate => Command::Escalate(opt(value)),
        Keyword::Reopen => Command::Reopen(opt(value)),
        Keyword::Note => Command::Note(opt(value)),
        Keyword::Appeal => Command::Appeal(opt(value)),
        Keyword::NotAComplaint => Command::NotAComplaint(opt(value)),
        Keyword::Verdict => {
            let v = required(keyword, value)?;
            let lower = v.to_lowercase();
            let (verdict, rest) = [
                ("ongegrond", Verdict::Rejected),
                ("gegrond", Verdict::Upheld),
                ("upheld", Verdict::Upheld),
                ("rejected", Verdict::Rejected),
            ]
            .into_iter()
            .find(|(word, _)| {
                lower.starts_with(word)
                    && !lower[word.len()..].starts_with(|c: char| c.is_alphanumeric())
            })
            .map(|(word, verdict)| (verdict, &v[word.len()..]))
            .ok_or_else(|| invalid(Allowed::Verdict))?;
            let text =
                rest.trim_start_matches(|c: char| c.is_whitespace() || ",.;:-–—".contains(c));
            Command::Verdict {
                verdict,
                text: opt(text),
            }
        }
        Keyword::Complaint => {
            let v = required(keyword, value)?;
            let address = v
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_lowercase();
            // The same address rules as every address klachtd writes to (a typo such as
            // `jan@mail.example,` is a refused line, not a failure later on).
            match address.parse::<crate::domain::EmailAddress>() {
                Ok(a) => Command::Complaint(a.to_string()),
                Err(_) => return Err(invalid(Allowed::ComplainantAddress)),
            }
        }
        Keyword::Concerns => {
            let v = required(keyword, value)?;
            match normalise(&v).trim_end_matches(['.', '!']) {
                "niemand" | "nobody" | "geen" | "none" | "no one" | "niemand meer" => {
                    Command::Concerns(None)
                }
                _ => Command::Concerns(Some(v)),
            }
        }
        Keyword::HoldUntil => {
            let v = required(keyword, value)?;
            let (day, reason) = v.split_once(char::is_whitespace).unwrap_or((&v, ""));
            let until = parse_day(day.trim_end_matches([',', ';', ':']))
                .ok_or_else(|| invalid(Allowed::HoldDate))?;
            let reason =
                reason.trim_start_matches(|c: char| c.is_whitespace() || ",;:-–—".contains(c));
            if reason.trim().is_empty() {
                return Err(invalid(Allowed::HoldDate));
            }
            Command::HoldUntil {
                until,
                reason: reason.trim().to_string(),
            }
        }
        Keyword::Hold => match normalise(&required(keyword, value)?).trim_end_matches(['.', '!']) {
            "nee" | "no" | "niet" | "niet meer" | "uit" | "off" => Command::HoldOff,
            _ => return Err(invalid(Allowed::HoldOff)),
        },
        Keyword::Request => {
            let v = required(keyword, value)?;
            let lower = normalise(&v);
            let (word, rest) = lower.split_once(' ').unwrap_or((&lower, ""));
            let word = word.trim_end_matches([',', '.', ':', ';']);
            use crate::domain::privacy::RequestKind;
            let kind = match word {
                "inzage" | "access" => Some(RequestKind::Access),
                "verwijdering" | "verwijderen" | "erasure" | "erase" => Some(RequestKind::Erasure),
                _ => None,
            };
            match (kind, word) {
                (Some(kind), _) => {
                    let rest = rest
                        .trim()
                        .trim_start_matches(|c: char| c.is_whitespace() || ",;:-–—".contains(c));
                    let rest = rest
                        .strip_prefix("ontvangen")
                        .or_else(|| rest.strip_prefix("received"))
                        .unwrap_or(rest)
                        .trim();
                    let received = if rest.is_empty() {
                        None
                    } else {
                        Some(parse_day(rest).ok_or_else(|| invalid(Allowed::Request))?)
                    };
                    Command::Request(RequestAction::New { kind, received })
                }
                (None, "verlengen" | "verleng" | "extend") => {
                    // The reason as typed (not lower-cased): the requester reads it.
                    let typed = v.trim();
                    let after = typed
                        .split_once(char::is_whitespace)
                        .map(|(_, r)| r.trim())
                        .unwrap_or("");
                    let (number, reason) =
                        after.split_once(char::is_whitespace).unwrap_or((after, ""));
                    let months = match number.trim_end_matches([',', '.']).parse::<u32>() {
                        Ok(n @ 1..=2) => n,
                        _ => return Err(invalid(Allowed::Request)),
                    };
                    let reason = reason.trim();
                    let reason = ["maanden", "maand", "months", "month"]
                        .iter()
                        .find_map(|w| {
                            reason
                                .get(..w.len())
                                .filter(|head| head.eq_ignore_ascii_case(w))
                                .map(|_| &reason[w.len()..])
                        })
                        .unwrap_or(reason)
                        .trim_start_matches(|c: char| c.is_whitespace() || ",;:-–—".contains(c))
                        .trim();
                    if reason.is_empty() {
                        return Err(invalid(Allowed::Request));
                    }
                    Command::Request(RequestAction::Extend {
                        months,
                        reason: reason.to_string(),
                    })
                }
                (None, "afgehandeld" | "gedaan" | "klaar" | "done" | "answered" | "beantwoord")
                    if rest.trim().is_empty() =>
                {
                    Command::Request(RequestAction::Done)
                }
                _ => return Err(invalid(Allowed::Request)),
            }
        }
        Keyword::Extend => {
            let v = required(keyword, value)?;
            let (number, reason) = v.split_once(char::is_whitespace).unwrap_or((&v, ""));
            match number.trim_end_matches([',', '.']).parse::<u32>() {
                Ok(n) if (1..=60).contains(&n) => Command::Extend {
                    working_days: n,
                    reason: opt(reason
                        .trim_start_matches(|c: char| c.is_whitespace() || ",;:-".contains(c))),
                },
                _ => return Err(invalid(Allowed::WorkingDays)),
            }
        }
    })
}

/// A day as staff type it: 2029-06-30, 30-6-2029 or 30-06-2029.
fn parse_day(s: &str) -> Option<chrono::NaiveDate> {
    let s = s.trim();
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(s, "%d-%m-%Y"))
        .ok()
}

/// Parses the command block at the top of `new_text`.
pub fn parse_block(new_text: &str) -> CommandBlock {
    let lines: Vec<&str> = new_text.lines().collect();
    let mut i = lines.iter().take_while(|l| l.trim().is_empty()).count();
    let mut block = CommandBlock::default();
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() {
            break;
        }
        let (keyword, value) = match shape(line) {
            Shape::Text => break,
            Shape::Misspelt(typed, suggestion) => {
                block.lines.push(CommandLine {
                    line_no: i + 1,
                    source: line.trim().to_string(),
                    result: Err(CommandError::UnknownKeyword {
                        typed: typed.to_string(),
                        suggestion,
                    }),
                });
                i += 1;
                continue;
            }
            Shape::Known(keyword, value) => (keyword, value),
        };
        // Indented lines continue the value.
        let mut value = value.to_string();
        let mut source = line.trim().to_string();
        let start = i;
        while i + 1 < lines.len()
            && lines[i + 1].starts_with([' ', '\t'])
            && !lines[i + 1].trim().is_empty()
        {
            i += 1;
            value.push(' ');
            value.push_str(lines[i].trim());
            source.push('\n');
            source.push_str(lines[i].trim());
        }
        block.lines.push(CommandLine {
            line_no: start + 1,
            source,
            result: command(keyword, &value),
        });
        i += 1;
    }
    block.message = lines[i.min(lines.len())..].join("\n").trim().to_string();
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commands(text: &str) -> Vec<Result<Command, CommandError>> {
        parse_block(text)
            .lines
            .into_iter()
            .map(|l| l.result)
            .collect()
    }

    #[test]
    fn keywords_in_both_languages_any_case() {
        for (typed, k) in [
            ("oorzaak", Keyword::Cause),
            ("CAUSE", Keyword::Cause),
            ("Geen  klacht", Keyword::NotAComplaint),
            ("not a complaint", Keyword::NotAComplaint),
            ("Afgehandeld", Keyword::Close),
            ("close", Keyword::Close),
        ] {
            assert_eq!(Keyword::lookup(typed), Some(k), "{typed}");
        }
    }

    #[test]
    fn a_block_then_the_message() {
        let b = parse_block(
            "\n\nBehandelaar: Anna de Vries\nOorzaak: de docent was ziek\nAkkoord: JA\n\nIk heb haar gebeld.\nGroet",
        );
        assert_eq!(
            b.lines
                .iter()
                .map(|l| l.result.clone().unwrap())
                .collect::<Vec<_>>(),
            vec![
                Command::Handler("Anna de Vries".into()),
                Command::Cause("de docent was ziek".into()),
                Command::Agreement(true)
            ]
        );
        assert_eq!(b.lines[0].line_no, 3);
        assert_eq!(b.message, "Ik heb haar gebeld.\nGroet");
    }

    #[test]
    fn bare_keywords_and_optional_values() {
        assert_eq!(
            commands("Escaleer\nNotitie: bel haar\nAfgehandeld"),
            vec![
                Ok(Command::Escalate(None)),
                Ok(Command::Note(Some("bel haar".into()))),
                Ok(Command::Close)
            ]
        );
        assert_eq!(
            commands("Geen klacht"),
            vec![Ok(Command::NotAComplaint(None))]
        );
        assert_eq!(
            commands("Heropen: klant belde"),
            vec![Ok(Command::Reopen(Some("klant belde".into())))]
        );
        assert_eq!(commands("Reactie:"), vec![Ok(Command::Reply)]);
    }

    #[test]
    fn indented_lines_continue_a_value() {
        let b = parse_block(
            "Oorzaak: de sms ging\n  pas de volgende ochtend\n\tde deur uit\nAkkoord: nee",
        );
        assert_eq!(
            b.lines[0].result,
            Ok(Command::Cause(
                "de sms ging pas de volgende ochtend de deur uit".into()
            ))
        );
        assert_eq!(b.lines[1].result, Ok(Command::Agreement(false)));
        assert_eq!(b.lines[1].line_no, 4);
    }

    #[test]
    fn the_block_ends_at_ordinary_text() {
        let b = parse_block("Hoi Anna,\nZet jij de oorzaak: erin?\nAfgehandeld");
        assert!(b.is_empty());
        assert!(b.message.starts_with("Hoi Anna,"));
        let b = parse_block("Oorzaak: x\nDank je wel voor het bellen: top.\nAfgehandeld");
        assert_eq!(b.lines.len(), 1, "a sentence with a colon is not a command");
        assert!(b.message.contains("Afgehandeld"));
    }

    #[test]
    fn misspelt_keywords_get_a_suggestion() {
        for (typed, meant) in [
            ("Oorzaaak: x", Keyword::Cause),
            ("Oplosing: x", Keyword::Solution),
            ("Behandelaat: Anna", Keyword::Handler),
            ("Afgehandelt", Keyword::Close),
        ] {
            let b = parse_block(typed);
            assert!(b.has_errors(), "{typed}");
            match &b.lines[0].result {
                Err(CommandError::UnknownKeyword { suggestion, .. }) => {
                    assert_eq!(*suggestion, Some(meant), "{typed}")
                }
                other => panic!("{typed}: {other:?}"),
            }
        }
    }

    #[test]
    fn values_are_checked() {
        assert!(matches!(
            commands("Akkoord: misschien")[0],
            Err(CommandError::InvalidValue {
                keyword: Keyword::Agreement,
                ..
            })
        ));
        assert_eq!(
            commands("Oorzaak:")[0],
            Err(CommandError::MissingValue(Keyword::Cause))
        );
        assert_eq!(commands("Agreement: yes")[0], Ok(Command::Agreement(true)));
        assert_eq!(
            commands("Uitspraak: Gegrond, de beoordeling klopte niet.")[0],
            Ok(Command::Verdict {
                verdict: Verdict::Upheld,
                text: Some("de beoordeling klopte niet.".into())
            })
        );
        assert_eq!(
            commands("Verdict: ongegrond")[0],
            Ok(Command::Verdict {
                verdict: Verdict::Rejected,
                text: None
            })
        );
        assert!(commands("Uitspraak: gegrondig")[0].is_err());
        assert!(commands("Uitspraak: weet ik niet")[0].is_err());
        assert_eq!(
            commands("Klacht: <Jan@Example.NL>")[0],
            Ok(Command::Complaint("jan@example.nl".into()))
        );
        assert!(commands("Klacht: jan")[0].is_err());
        assert_eq!(
            commands("Verleng: 5 wachten op de docent")[0],
            Ok(Command::Extend {
                working_days: 5,
                reason: Some("wachten op de docent".into())
            })
        );
        assert!(commands("Verleng: vijf")[0].is_err());
        assert!(commands("Verleng: 0")[0].is_err());
    }

    #[test]
    fn the_privacy_commands() {
        use crate::domain::privacy::RequestKind;
        let day = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
        assert_eq!(
            commands("Betreft: Anna de Vries")[0],
            Ok(Command::Concerns(Some("Anna de Vries".into())))
        );
        assert_eq!(commands("Betreft: niemand")[0], Ok(Command::Concerns(None)));
        assert_eq!(
            commands("Concerns: nobody.")[0],
            Ok(Command::Concerns(None))
        );
        assert_eq!(
            commands("Bewaren tot: 2029-06-30 — lopende procedure")[0],
            Ok(Command::HoldUntil {
                until: day("2029-06-30"),
                reason: "lopende procedure".into()
            })
        );
        assert_eq!(
            commands("Keep until: 30-6-2029, pending proceedings")[0],
            Ok(Command::HoldUntil {
                until: day("2029-06-30"),
                reason: "pending proceedings".into()
            })
        );
        assert!(
            commands("Bewaren tot: 2029-06-30")[0].is_err(),
            "a hold needs a reason"
        );
        assert!(commands("Bewaren tot: morgen — x")[0].is_err());
        assert_eq!(commands("Bewaren: nee")[0], Ok(Command::HoldOff));
        assert!(commands("Bewaren: ja")[0].is_err());
        assert_eq!(
            commands("Verzoek: inzage")[0],
            Ok(Command::Request(RequestAction::New {
                kind: RequestKind::Access,
                received: None
            }))
        );
        assert_eq!(
            commands("Verzoek: verwijdering, ontvangen 20-11-2026")[0],
            Ok(Command::Request(RequestAction::New {
                kind: RequestKind::Erasure,
                received: Some(day("2026-11-20"))
            }))
        );
        assert_eq!(
            commands("Request: extend 2 months — Many Files")[0],
            Ok(Command::Request(RequestAction::Extend {
                months: 2,
                reason: "Many Files".into()
            }))
        );
        assert_eq!(
            commands("Verzoek: verlengen 1 veel stukken in het archief")[0],
            Ok(Command::Request(RequestAction::Extend {
                months: 1,
                reason: "veel stukken in het archief".into()
            }))
        );
        assert!(commands("Verzoek: verlengen 3 te druk")[0].is_err());
        assert!(
            commands("Verzoek: verlengen 2")[0].is_err(),
            "an extension needs a reason"
        );
        assert_eq!(
            commands("Verzoek: afgehandeld")[0],
            Ok(Command::Request(RequestAction::Done))
        );
        assert!(commands("Verzoek: koffie")[0].is_err());
    }
}
