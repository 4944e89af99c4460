//! Staff replies as the common clients write them — Outlook (NL and EN, plain and HTML, classic
//! and new), Gmail, Apple Mail, iPhone and Thunderbird (plain and HTML) — with the commands
//! above the quoted notification, below it, or between its parts. A generated reply must yield
//! exactly the commands typed, the note below them without its closing, and nothing of the
//! quote (which itself is full of command lines).

use klachtd::commands::{Command, Verdict, new_text, parse_block};
use klachtd::domain::Language;
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    OutlookNl,
    OutlookEn,
    NewOutlook,
    Gmail,
    GmailEn,
    AppleMail,
    IPhone,
    Thunderbird,
}

const CLIENTS: [Client; 8] = [
    Client::OutlookNl,
    Client::OutlookEn,
    Client::NewOutlook,
    Client::Gmail,
    Client::GmailEn,
    Client::AppleMail,
    Client::IPhone,
    Client::Thunderbird,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    Top,
    Bottom,
    Interleaved,
}

impl Client {
    /// Outlook quotes without marks, below a header block: people can only write above it.
    fn placements(self) -> &'static [Placement] {
        match self {
            Client::OutlookNl | Client::OutlookEn | Client::NewOutlook => &[Placement::Top],
            _ => &[Placement::Top, Placement::Bottom, Placement::Interleaved],
        }
    }
}

/// The notification being answered: full of lines that look like commands.
const ORIGINAL: [&str; 9] = [
    "Er is een nieuwe klacht binnengekomen: KL-2026-0007.",
    "",
    "Oorzaak: <wat ging er mis>",
    "Oplossing: <wat doen we eraan>",
    "Afgehandeld",
    "Geen klacht",
    "",
    "Met vriendelijke groet,",
    "Klachtenregistratie",
];

/// Command lines as typed, with what they must parse to.
fn pool() -> Vec<(&'static str, Command)> {
    vec![
        (
            "Behandelaar: Anna de Vries",
            Command::Handler("Anna de Vries".into()),
        ),
        (
            "Oorzaak: de docent was ziek",
            Command::Cause("de docent was ziek".into()),
        ),
        (
            "Cause: the teacher was ill",
            Command::Cause("the teacher was ill".into()),
        ),
        (
            "Oplossing: geld terug",
            Command::Solution("geld terug".into()),
        ),
        ("Akkoord: ja", Command::Agreement(true)),
        ("Agreement: no", Command::Agreement(false)),
        ("Not a complaint", Command::NotAComplaint(None)),
        (
            "Geen klacht: vraag over startdata",
            Command::NotAComplaint(Some("vraag over startdata".into())),
        ),
        ("Afgehandeld", Command::Close),
        ("Heropen", Command::Reopen(None)),
        ("Escaleer", Command::Escalate(None)),
        ("Taal: en", Command::Language(Language::En)),
        ("Language: nl", Command::Language(Language::Nl)),
        (
            "Verdict: upheld",
            Command::Verdict {
                verdict: Verdict::Upheld,
                text: None,
            },
        ),
    ]
}

const NOTES: [&str; 4] = [
    "Ik heb mevrouw Jansen vanochtend gebeld; zij is tevreden.",
    "Called the complainant this morning, all sorted.",
    "Zie dossier, de factuur is gecorrigeerd.\nGraag nog even controleren.",
    "Doorgezet naar de planner.",
];

const CLOSINGS: [&str; 5] = [
    "Met vriendelijke groet,\nAnna de Vries\nOnderwijscoördinator\nT 030 123 45 67",
    "Kind regards,\nH. Willems\nExam committee",
    "Hartelijke groet, Marjolein Dijkstra, directeur\n030-1234567",
    "Groet,\nPieter",
    "Best regards, Oliver",
];

/// What the author typed, split into the parts that stand between the quote's pieces.
#[derive(Debug, Clone)]
struct Typed {
    commands: Vec<&'static str>,
    /// Commands typed after the second piece of the quote (interleaved only).
    later: Vec<&'static str>,
    note: Option<&'static str>,
    closing: Option<&'static str>,
    dash_signature: bool,
}

impl Typed {
    fn tail(&self) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        if let Some(n) = self.note {
            lines.push(String::new());
            lines.extend(n.lines().map(String::from));
        }
        if let Some(c) = self.closing {
            lines.push(String::new());
            lines.extend(c.lines().map(String::from));
        }
        if self.dash_signature {
            lines.push("-- ".into());
            lines.push("Anna de Vries | Opleidingen".into());
        }
        lines
    }

    /// The new text in pieces: one piece (top, bottom) or one per gap (interleaved).
    fn pieces(&self, placement: Placement) -> Vec<Vec<String>> {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match placement {
            Placement::Interleaved => {
                let mut second = own(&self.later);
                second.extend(self.tail());
                vec![own(&self.commands), second]
            }
            _ => {
                let mut all = own(&self.commands);
                all.extend(own(&self.later));
                all.extend(self.tail());
                vec![all]
            }
        }
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn quoted(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|l| {
            if l.is_empty() {
                ">".to_string()
            } else {
                format!("> {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The plain-text part as the client writes it.
fn plain(client: Client, placement: Placement, pieces: &[Vec<String>]) -> String {
    let text = |p: &Vec<String>| p.join("\n");
    let halves = [&ORIGINAL[..4], &ORIGINAL[4..]];
    let attribution = match client {
        Client::Gmail => {
            "Op do 19 nov 2026 om 09:05 schreef Klachtenregistratie <\ninfo@example.org>:\n"
        }
        Client::GmailEn => {
            "On Thu, 19 Nov 2026 at 09:05, Klachtenregistratie <info@example.org> wrote:\n"
        }
        Client::AppleMail => {
            "Op 25 nov. 2026, om 09:21 heeft Klachtenregistratie <info@example.org> het volgende geschreven:\n"
        }
        Client::Thunderbird => "Op 23-11-2026 om 16:40 schreef Klachtenregistratie:",
        Client::IPhone => "",
        Client::OutlookNl | Client::NewOutlook => {
            return format!(
                "{}\n\n{}\nVan: Klachtenregistratie <info@example.org>\nVerzonden: woensdag 25 november 2026 09:21\nAan: Anna de Vries <anna.devries@example.org>\nOnderwerp: Nieuwe klacht [KL-2026-0007]\n\n{}",
                text(&pieces[0]),
                if client == Client::NewOutlook {
                    "________________________________"
                } else {
                    ""
                },
                ORIGINAL.join("\n")
            );
        }
        Client::OutlookEn => {
            return format!(
                "{}\n\nFrom: Klachtenregistratie <info@example.org>\nSent: Thursday, November 26, 2026 8:13 AM\nTo: Examencommissie <examencommissie@example.org>\nSubject: Beroep ingesteld [KL-2026-0012]\n\n{}",
                text(&pieces[0]),
                ORIGINAL.join("\n")
            );
        }
    };
    let first_quote = match client {
        Client::IPhone => format!(
            "> \u{feff}Op 19 nov. 2026 om 09:05 heeft Klachtenregistratie <info@example.org> het volgende geschreven:\n> \n{}",
            quoted(halves[0])
        ),
        _ => format!("{attribution}\n{}", quoted(halves[0])),
    };
    let device = if client == Client::IPhone {
        "\n\nVerstuurd vanaf mijn iPhone"
    } else {
        ""
    };
    match placement {
        Placement::Top => format!(
            "{}{device}\n\n{first_quote}\n{}\n",
            text(&pieces[0]),
            quoted(halves[1])
        ),
        Placement::Bottom => format!(
            "{first_quote}\n{}\n\n{}{device}\n",
            quoted(halves[1]),
            text(&pieces[0])
        ),
        Placement::Interleaved => format!(
            "{first_quote}\n\n{}\n\n{}\n\n{}{device}\n",
            text(&pieces[0]),
            quoted(halves[1]),
            text(&pieces[1])
        ),
    }
}

/// Lines as the client's HTML editor writes them.
fn html_lines(client: Client, lines: &[String]) -> String {
    let mut out = String::new();
    match client {
        Client::OutlookNl | Client::OutlookEn => {
            for l in lines {
                if l.is_empty() {
                    out.push_str("<p class=MsoNormal><o:p>&nbsp;</o:p></p>\n");
                } else {
                    out.push_str(&format!("<p class=MsoNormal>{}<o:p></o:p></p>\n", esc(l)));
                }
            }
        }
        Client::Thunderbird => {
            let mut in_sig = false;
            out.push_str("<p>");
            for l in lines {
                if l == "-- " {
                    out.push_str("</p><pre class=\"moz-signature\" cols=\"72\">-- \n");
                    in_sig = true;
                } else if in_sig {
                    out.push_str(&esc(l));
                    out.push('\n');
                } else if l.is_empty() {
                    out.push_str("</p>\n<p>");
                } else {
                    out.push_str(&esc(l));
                    out.push_str("<br>\n");
                }
            }
            out.push_str(if in_sig { "</pre>" } else { "</p>" });
        }
        Client::Gmail | Client::GmailEn => {
            let mut in_sig = false;
            for l in lines {
                if l == "-- " {
                    out.push_str("<br clear=\"all\"><div><br></div><span class=\"gmail_signature_prefix\">-- </span><br><div dir=\"ltr\" class=\"gmail_signature\" data-smartmail=\"gmail_signature\">");
                    in_sig = true;
                } else if l.is_empty() {
                    out.push_str("<div><br></div>");
                } else {
                    out.push_str(&format!("<div>{}</div>", esc(l)));
                }
            }
            if in_sig {
                out.push_str("</div>");
            }
        }
        Client::NewOutlook | Client::AppleMail | Client::IPhone => {
            for l in lines {
                if l.is_empty() {
                    out.push_str("<div class=\"elementToProof\"><br></div>");
                } else {
                    out.push_str(&format!(
                        "<div class=\"elementToProof\">{}</div>",
                        esc(l).replacen(": ", ":&nbsp;", 1)
                    ));
                }
            }
        }
    }
    out
}

fn html_quote(client: Client, lines: &[&str], first: bool) -> String {
    let body = lines
        .iter()
        .map(|l| {
            if l.is_empty() {
                "<br>".to_string()
            } else {
                format!("{}<br>", esc(l))
            }
        })
        .collect::<String>();
    match client {
        Client::Gmail | Client::GmailEn => {
            let attr = if client == Client::Gmail {
                "Op do 19 nov 2026 om 09:05 schreef Klachtenregistratie &lt;<a href=\"mailto:info@example.org\">info@example.org</a>&gt;:"
            } else {
                "On Thu, 19 Nov 2026 at 09:05, Klachtenregistratie &lt;<a href=\"mailto:info@example.org\">info@example.org</a>&gt; wrote:"
            };
            let quote = format!(
                "<blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex\">{body}</blockquote>"
            );
            if first {
                format!(
                    "<div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">{attr}<br></div>{quote}</div>"
                )
            } else {
                quote
            }
        }
        Client::Thunderbird => {
            let pre = format!(
                "<blockquote type=\"cite\" cite=\"mid:kl-2026-0007.notify@example.org\"><pre class=\"moz-quote-pre\" wrap=\"\">{}</pre></blockquote>",
                lines.iter().map(|l| esc(l)).collect::<Vec<_>>().join("\n")
            );
            if first {
                format!(
                    "<div class=\"moz-cite-prefix\">Op 23-11-2026 om 16:40 schreef Klachtenregistratie:<br></div>{pre}"
                )
            } else {
                pre
            }
        }
        _ => {
            let attr = if first {
                "<div>Op 25 nov. 2026, om 09:21 heeft Klachtenregistratie &lt;info@example.org&gt; het volgende geschreven:</div><br class=\"Apple-interchange-newline\">"
            } else {
                ""
            };
            format!("<div><br><blockquote type=\"cite\">{attr}<div>{body}</div></blockquote></div>")
        }
    }
}

/// The HTML part as the client writes it.
fn html(client: Client, placement: Placement, pieces: &[Vec<String>]) -> String {
    let head = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"><style>p.MsoNormal{margin:0}</style></head><body>";
    let original_html = ORIGINAL
        .iter()
        .map(|l| format!("<p class=MsoNormal>{}<o:p></o:p></p>", esc(l)))
        .collect::<String>();
    match client {
        Client::OutlookNl | Client::OutlookEn => {
            let (van, verzonden) = if client == Client::OutlookNl {
                ("Van:", "Verzonden:")
            } else {
                ("From:", "Sent:")
            };
            format!(
                "{head}<div class=WordSection1>{}<p class=MsoNormal><o:p>&nbsp;</o:p></p><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'><p class=MsoNormal><b>{van}</b> Klachtenregistratie &lt;info@example.org&gt;<br><b>{verzonden}</b> woensdag 25 november 2026 09:21</p></div>{original_html}</div></body></html>",
                html_lines(client, &pieces[0])
            )
        }
        Client::NewOutlook => format!(
            "{head}{}<div id=\"appendonsend\"></div><hr style=\"display:inline-block;width:98%\"><div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri\"><b>Van:</b> Klachtenregistratie</font></div>{original_html}</body></html>",
            html_lines(client, &pieces[0])
        ),
        _ => {
            let q1 = html_quote(client, &ORIGINAL[..4], true);
            let q2 = html_quote(client, &ORIGINAL[4..], false);
            let body = match placement {
                Placement::Top => format!("{}{q1}{q2}", html_lines(client, &pieces[0])),
                Placement::Bottom => format!("{q1}{q2}{}", html_lines(client, &pieces[0])),
                Placement::Interleaved => format!(
                    "{q1}{}{q2}{}",
                    html_lines(client, &pieces[0]),
                    html_lines(client, &pieces[1])
                ),
            };
            format!("{head}{body}</body></html>")
        }
    }
}

fn typed_strategy() -> impl Strategy<Value = Typed> {
    let n = pool().len();
    (
        proptest::collection::vec(0..n, 1..4),
        proptest::collection::vec(0..n, 0..3),
        proptest::option::of(0..NOTES.len()),
        proptest::option::of(0..CLOSINGS.len()),
        any::<bool>(),
    )
        .prop_map(|(first, later, note, closing, dash)| {
            let pool = pool();
            Typed {
                commands: first.iter().map(|&i| pool[i].0).collect(),
                later: later.iter().map(|&i| pool[i].0).collect(),
                note: note.map(|i| NOTES[i]),
                closing: closing.map(|i| CLOSINGS[i]),
                dash_signature: dash,
            }
        })
}

fn expected(typed: &Typed) -> Vec<Command> {
    let pool = pool();
    typed
        .commands
        .iter()
        .chain(&typed.later)
        .map(|t| pool.iter().find(|(s, _)| s == t).unwrap().1.clone())
        .collect()
}

/// The parsed reply must be what was typed, in plain and HTML.
fn check(client: Client, placement: Placement, typed: &Typed) -> Result<(), TestCaseError> {
    let pieces = typed.pieces(placement);
    let plain_text = plain(client, placement, &pieces);
    let html_text = html(client, placement, &pieces);
    for (part, new_text) in [
        ("plain", new_text::new_text_from_plain(&plain_text).text),
        ("html", new_text::new_text_from_html(&html_text).text),
    ] {
        let source = if part == "plain" {
            &plain_text
        } else {
            &html_text
        };
        let block = parse_block(&new_text);
        let got: Vec<Command> = block.commands().cloned().collect();
        prop_assert!(
            !block.has_errors(),
            "{client:?} {placement:?} {part}: errors in {new_text:?}"
        );
        prop_assert_eq!(
            &got,
            &expected(typed),
            "{:?} {:?} {}: {:?}\n{}",
            client,
            placement,
            part,
            new_text,
            source
        );
        let note = new_text::without_closing(&block.message);
        prop_assert_eq!(
            note.split_whitespace().collect::<Vec<_>>().join(" "),
            typed
                .note
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            "{:?} {:?} {}: note from {:?}",
            client,
            placement,
            part,
            new_text
        );
        prop_assert!(
            !new_text.contains("<wat ging er mis>"),
            "{client:?} {placement:?} {part}: quote kept"
        );
        prop_assert!(
            !new_text.contains("Opleidingen"),
            "{client:?} {placement:?} {part}: signature kept"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Every client, every placement its users can choose, random commands, notes, closings.
    #[test]
    fn replies_in_every_client_and_placement_parse_as_typed(
        client in proptest::sample::select(CLIENTS.to_vec()),
        which in 0usize..3,
        typed in typed_strategy(),
    ) {
        let placements = client.placements();
        let placement = placements[which % placements.len()];
        check(client, placement, &typed)?;
    }
}

/// The case from the issue: Thunderbird, the quoted notification on top, the commands and a
/// note below it.
#[test]
fn thunderbird_bottom_posted_not_a_complaint_is_found() {
    let mail = "Op 23-11-2026 om 16:40 schreef Klachtenregistratie:\n> Er is een nieuwe klacht binnengekomen.\n>\n> Afgehandeld\n> Oorzaak: <wat ging er mis>\n\nNot a complaint: question about dates\nAnswered her by phone.\n\n-- \nPieter Bakker\n";
    let text = new_text::new_text_from_plain(mail).text;
    let block = parse_block(&text);
    assert_eq!(
        block.commands().cloned().collect::<Vec<_>>(),
        vec![Command::NotAComplaint(Some("question about dates".into()))]
    );
    assert_eq!(block.message, "Answered her by phone.");
}

/// Every client's plain and HTML format, each placement, with every command of the pool once.
#[test]
fn every_client_format_and_placement_with_all_commands() {
    let all: Vec<&str> = pool().iter().map(|(s, _)| *s).collect();
    for client in CLIENTS {
        for &placement in client.placements() {
            let typed = Typed {
                commands: all[..7].to_vec(),
                later: all[7..].to_vec(),
                note: Some(NOTES[0]),
                closing: Some(CLOSINGS[0]),
                dash_signature: true,
            };
            check(client, placement, &typed).unwrap();
        }
    }
}

/// Closings that end up in notes when nobody types `-- `.
#[test]
fn closings_without_dashes_leave_the_note() {
    for (message, note) in [
        (
            "Klant gebeld.\n\nKind regards, H. Willems\nExam committee\n+31 30 123 4567",
            "Klant gebeld.",
        ),
        (
            "Besproken in het MT.\n\nHartelijke groet,\nMarjolein Dijkstra, directeur\nOpleidingen BV\nKerkstraat 1, 3511 AB Utrecht\n030-1234567",
            "Besproken in het MT.",
        ),
        ("Prima.\nMet vriendelijke groet,\nAnna", "Prima."),
        ("Dank!\n\nMvg,\nAnna", "Dank!"),
        ("Gebeld.\nBest regards,\nOliver Grant\nExaminer", "Gebeld."),
    ] {
        assert_eq!(new_text::without_closing(message), note, "{message}");
    }
    // Not a closing: a greeting followed by more text, or a sentence that starts like one.
    for message in [
        "Groeten van de docent doorgegeven; zij belt morgen terug.",
        "Met vriendelijke groet,\nAnna\n\nPS: de klager heeft ook nog gebeld over de factuur en wil graag vandaag nog teruggebeld worden.",
        "Regardless of the outcome we refund.",
    ] {
        assert_eq!(new_text::without_closing(message), message, "{message}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Quoted pieces (`>` lines, with or without an attribution) dropped anywhere into a
    /// plain reply above its signature change nothing: not the commands, not the note.
    #[test]
    fn quotes_anywhere_change_nothing(
        typed in typed_strategy(),
        cuts in proptest::collection::vec((0usize..40, 0usize..3), 1..4),
    ) {
        let typed = Typed { dash_signature: false, ..typed };
        let lines: Vec<String> = typed.pieces(Placement::Top).remove(0);
        let reference = new_text::new_text_from_plain(&lines.join("\n")).text;
        let mut with_quotes = lines.clone();
        let mut positions: Vec<(usize, usize)> =
            cuts.iter().map(|(p, k)| (p % (lines.len() + 1), *k)).collect();
        positions.sort();
        for (pos, kind) in positions.into_iter().rev() {
            let mut quote = match kind {
                0 => vec!["Op 23-11-2026 om 16:40 schreef Klachtenregistratie:".to_string()],
                1 => vec!["On Thu, 19 Nov 2026 at 09:05, Klachtenregistratie <info@example.org> wrote:".to_string(), String::new()],
                _ => Vec::new(),
            };
            quote.extend(quoted(&ORIGINAL).lines().map(String::from));
            with_quotes.splice(pos..pos, quote);
        }
        let got = new_text::new_text_from_plain(&with_quotes.join("\n")).text;
        let (a, b) = (parse_block(&reference), parse_block(&got));
        prop_assert_eq!(
            a.commands().cloned().collect::<Vec<_>>(),
            b.commands().cloned().collect::<Vec<_>>(),
            "{:?}", got
        );
        let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        prop_assert_eq!(
            squash(&new_text::without_closing(&a.message)),
            squash(&new_text::without_closing(&b.message)),
            "{:?}", got
        );
        prop_assert!(!got.contains("<wat ging er mis>"));
    }
}

// ----- issue 22: every client's attribution and separator, in every language ------------------

/// A form of `quote_forms::ATTRIBUTIONS` written out as a client would: a date where the form
/// has one, and the name with our reply address.
fn written(parts: &[&str], date: &str, name: &str) -> String {
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            // Each gap holds a date (the first) or the name (the last), as the clients fill them.
            out.push(' ');
            out.push_str(if i + 1 == parts.len() { name } else { date });
            out.push(' ');
        }
        out.push_str(part);
    }
    if parts.first().is_some_and(|p| p.is_empty()) {
        out = format!("{date} {}", out.trim_start());
    }
    out.trim().to_string()
}

/// Every attribution line of the table (Thunderbird, Thunderbird for Android, Roundcube, Outlook,
/// Gmail and Apple Mail in every language they write) above a `>` quote is part of the quote:
/// the text above it stays, nothing of the line or the quote does — with any of these dates and
/// our reply address as the name, upper or lower case, on one line or wrapped. All of them,
/// every combination.
#[test]
fn every_clients_attribution_in_every_language_belongs_to_the_quote() {
    let name = "Klachtenregistratie <info+kl-2026-0001.0123456789abcdef01234567@example.org>";
    for form in klachtd::commands::quote_forms::ATTRIBUTIONS {
        for date in [
            "lun, 7 dic 2026",
            "7. Dez. 2026 um 10:12 Uhr",
            "24-11-2026 10:12",
            "2026/11/24",
        ] {
            for (upper, wrap) in [(false, false), (true, false), (false, true), (true, true)] {
                let mut line = written(form, date, name);
                if upper {
                    line = line.to_uppercase();
                }
                let line = match line.find(" <").filter(|_| wrap) {
                    Some(at) => format!("{}\n{}", &line[..at], &line[at + 1..]),
                    None => line,
                };
                let reply = format!(
                    "Reactie\n\nBeste mevrouw Jansen,\nHet is opgelost.\n\n{line}\n\n> Oorzaak: intern\n> 0123456789abcdef01234567\n"
                );
                assert_eq!(
                    new_text::new_text_from_plain(&reply).text,
                    "Reactie\n\nBeste mevrouw Jansen,\nHet is opgelost.",
                    "{form:?}: {line:?}"
                );
            }
        }
    }
}

/// Every separator line of the table, between dashes or underscores as the clients write them,
/// starts the original even when nothing below it is marked with `>`. All of them.
#[test]
fn every_clients_separator_in_every_language_starts_the_original() {
    for phrase in klachtd::commands::quote_forms::SEPARATORS {
        for dashes in ["--------", "-----", "----------", "---"] {
            for spaced in [false, true] {
                let sep = if spaced {
                    format!("{dashes} {phrase} {dashes}")
                } else {
                    format!("{dashes}{phrase}{dashes}")
                };
                let reply = format!(
                    "Notitie: gebeld\n\nZij is tevreden.\n\n{sep}\nVan: Klachtenregistratie <info@example.org>\n\nAfgehandeld\n"
                );
                assert_eq!(
                    new_text::new_text_from_plain(&reply).text,
                    "Notitie: gebeld\n\nZij is tevreden.",
                    "{sep:?}"
                );
            }
        }
    }
}

/// Issue 19, item 5: Gmail in Spanish quoting our reply address — its attribution was not
/// taken for part of the quote, so the `Reactie` carried the staff member's token to the
/// complainant.
#[test]
fn gmail_spanish_attribution_with_our_reply_address_is_quote() {
    let token = "0123456789abcdef01234567";
    let reply = format!(
        "Reactie\n\nEstimada señora,\nLo hemos resuelto.\n\nEl lun, 7 dic 2026 a las 10:12, Klachtenregistratie (<\ninfo+kl-2026-0001.{token}@example.org>) escribió:\n\n> Er is een nieuwe klacht binnengekomen.\n"
    );
    let new = new_text::new_text_from_plain(&reply).text;
    assert_eq!(new, "Reactie\n\nEstimada señora,\nLo hemos resuelto.");
    assert!(!new.contains(token));
}

/// Issue 22, item 5: a refusal record kept Outlook's/Thunderbird's Dutch attribution, and a
/// stored follow-up ended with Thunderbird's Dutch separator.
#[test]
fn dutch_attribution_and_thunderbird_separator_are_no_text_of_the_reply() {
    let reply = "Oorzaak: x\nOplosing: y\n\nOp dinsdag 24 november 2026 08:52 CET, Klachtenregistratie <info@example.org> schreef:\n> Nieuwe klacht\n";
    assert_eq!(
        new_text::new_text_from_plain(reply).text,
        "Oorzaak: x\nOplosing: y"
    );
    let follow_up = "Ik heb nog een vraag.\n\n-------- Oorspronkelijk bericht --------\nOnderwerp: Ontvangstbevestiging\nDatum: 24-11-2026 09:12\nVan: Klachtenregistratie <info@example.org>\n\nGeachte heer,\n";
    assert_eq!(
        new_text::new_text_from_plain(follow_up).text,
        "Ik heb nog een vraag."
    );
}

/// A staff member's own words that only look like a bare attribution stay: "u schreef:"
/// with no quote below it is a sentence of the reaction, not the start of a quote.
#[test]
fn a_bare_attribution_without_a_quote_below_is_the_authors_own_text() {
    let reply = "Reactie\n\nBeste mevrouw, u schreef:\nDe cursus was te duur.\nDat klopt; u krijgt geld terug.";
    assert_eq!(new_text::new_text_from_plain(reply).text, reply);
}
