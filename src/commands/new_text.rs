//! Finding the new text of a reply: what its author typed above the quoted original and the
//! signature, in the formats real clients send (Outlook NL/EN, Gmail, Apple Mail, iPhone,
//! Thunderbird), in plain text and in HTML — their attribution and separator lines in every
//! language, from the clients' own translations ([`super::quote_forms`]).

use super::quote_forms::{ATTRIBUTIONS, SEPARATORS};

/// The new text of a reply, lines normalised (`\n`, no NBSP or zero-width characters, no
/// trailing spaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyText {
    pub text: String,
}

/// The new text of a reply. The plain-text part is preferred when the mail has one (clients
/// write it line for line); HTML is converted only when there is no plain text.
pub fn new_text(plain: Option<&str>, html: Option<&str>) -> ReplyText {
    match (plain, html) {
        (Some(p), _) if !p.trim().is_empty() => new_text_from_plain(p),
        (_, Some(h)) => new_text_from_html(h),
        (Some(p), None) => new_text_from_plain(p),
        (None, None) => ReplyText {
            text: String::new(),
        },
    }
}

/// New text of a plain-text reply: every stretch of lines outside the quoted original, so a
/// reply typed above the quote (top-posting), below it (bottom-posting) or between its parts
/// (interleaving) is found. Each stretch loses its signature; stretches are joined with a blank
/// line, or with a line break where a command block continues across a quote.
pub fn new_text_from_plain(plain: &str) -> ReplyText {
    let text = normalise(plain);
    let lines: Vec<&str> = text.lines().collect();
    let mut joined = String::new();
    for segment in segments(&lines) {
        let kept = strip_signature(&segment.join("\n"));
        if kept.trim().is_empty() {
            continue;
        }
        if !joined.is_empty() {
            let last = joined.lines().last().unwrap_or_default();
            let first = kept
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default();
            let continues =
                super::grammar::is_command_line(last) && super::grammar::is_command_line(first);
            joined.push_str(if continues { "\n" } else { "\n\n" });
        }
        joined.push_str(kept.trim_matches('\n'));
    }
    ReplyText { text: joined }
}

/// The runs of lines that are not part of the quoted original, in order.
fn segments<'a>(lines: &[&'a str]) -> Vec<Vec<&'a str>> {
    let end = hard_quote_start(lines).unwrap_or(lines.len());
    let lines = &lines[..end];
    let mut quoted: Vec<bool> = lines.iter().map(|l| is_quoted(l)).collect();
    // An attribution ("Op … schreef …:") belongs to the `>` block that follows it; a bare
    // one ("… schreef:") only when such a block does follow.
    for i in 0..lines.len() {
        if quoted[i] {
            continue;
        }
        let quote_follows_from = |from: usize| {
            lines[from..]
                .iter()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| is_quoted(l))
        };
        let Some((span, kind)) = attribution_at(lines, i).or_else(|| {
            // A client the table does not know ("Op dinsdag schreef Anna:"): a line ending in
            // a colon right above a `>` block introduces it, unless it is a command.
            let line = lines[i].trim();
            (line.ends_with(':')
                && lines.get(i + 1).is_some_and(|l| is_quoted(l))
                && !super::grammar::is_command_line(line))
            .then_some((1, Attribution::Loose))
        }) else {
            continue;
        };
        let quote_follows = quote_follows_from(i + span);
        if kind == Attribution::Loose && !quote_follows {
            continue;
        }
        for q in quoted.iter_mut().skip(i).take(span) {
            *q = true;
        }
    }
    let mut out: Vec<Vec<&str>> = vec![Vec::new()];
    for (line, q) in lines.iter().zip(&quoted) {
        if *q {
            if !out.last().is_some_and(Vec::is_empty) {
                out.push(Vec::new());
            }
        } else if let Some(current) = out.last_mut() {
            current.push(line);
        }
    }
    out.retain(|s| s.iter().any(|l| !l.trim().is_empty()));
    out
}

/// An attribution starting at line `i`: on that line, or on it and the next (clients wrap a
/// long one, Gmail before the address); how many lines it takes and how sure it is.
fn attribution_at(lines: &[&str], i: usize) -> Option<(usize, Attribution)> {
    let line = lines[i].trim();
    if line.is_empty() || line.starts_with('>') {
        return None;
    }
    if let Some(kind) = attribution(line) {
        return Some((1, kind));
    }
    // Two lines only when the next does not begin one by itself ("On …", "Op …": then it
    // starts there), and never a command line with the attribution below it.
    let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or_default();
    let next_begins_one = || {
        let n = normalised(next);
        ATTRIBUTIONS
            .iter()
            .any(|parts| !parts[0].is_empty() && form_matches(parts, &n))
    };
    if next.is_empty() || next.starts_with('>') {
        return None;
    }
    // The cheap test first: almost no pair of lines is an attribution.
    let kind = attribution(&format!("{line} {next}"))?;
    if super::grammar::is_command_line(line) || next_begins_one() {
        return None;
    }
    Some((2, kind))
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// The first unquoted line after which everything is the original: a separator, Outlook's
/// header block, or an attribution that no `>` block follows (the original comes unmarked).
fn hard_quote_start(lines: &[&str]) -> Option<usize> {
    (0..lines.len()).find(|&i| {
        let line = lines[i].trim();
        if line.starts_with('>') {
            return false;
        }
        let unmarked_original = attribution_at(lines, i).is_some_and(|(span, kind)| {
            kind == Attribution::Dated
                && !lines[i + span..]
                    .iter()
                    .find(|l| !l.trim().is_empty())
                    .is_some_and(|l| is_quoted(l))
        });
        is_separator(line) || unmarked_original || is_header_block(lines, i)
    })
}

/// New text of an HTML reply: cut at Outlook's quote markup (the original follows unmarked),
/// blockquotes turned into `>` lines and signature blocks into a `-- ` line, then the
/// plain-text rules, so text above, below and between the quoted parts is found.
pub fn new_text_from_html(html: &str) -> ReplyText {
    let cut = &html[..html_quote_start(html).unwrap_or(html.len())];
    new_text_from_plain(&convert(cut, true))
}

/// Cuts a message at the signature: a `-- ` line or a "sent from my phone" line. A closing
/// greeting ("Met vriendelijke groet") stays: in a reaction to a complainant it belongs to it.
pub fn strip_signature(message: &str) -> String {
    let lines: Vec<&str> = message.lines().collect();
    let end = lines
        .iter()
        .position(|l| {
            let t = l.trim_end();
            t == "--" || t == "-- " || t == "—" || is_device_line(t.trim())
        })
        .unwrap_or(lines.len());
    lines[..end]
        .join("\n")
        .trim_matches('\n')
        .trim_end()
        .to_string()
}

/// An internal note without its closing: a greeting line ("Met vriendelijke groet,", "Kind
/// regards, H. Willems") followed only by a few short name, function, phone or address lines
/// up to the end. A reaction to a complainant keeps its closing; a note has no reader to greet.
pub fn without_closing(message: &str) -> String {
    let lines: Vec<&str> = message.trim_end().lines().collect();
    let cut = (0..lines.len()).rev().take(8).find(|&i| {
        let tail: Vec<&str> = lines[i + 1..]
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect();
        is_closing(lines[i]) && tail.len() <= 6 && tail.iter().all(|l| is_signature_line(l))
    });
    match cut {
        Some(i) => lines[..i].join("\n").trim_end().to_string(),
        None => message.trim_end().to_string(),
    }
}

/// A closing greeting, possibly with the name on the same line.
fn is_closing(line: &str) -> bool {
    let l = line.trim().to_lowercase();
    let l = l.trim_start_matches(['-', '–', ' ']);
    if l.is_empty() || l.chars().count() > 80 {
        return false;
    }
    const CLOSINGS: [&str; 32] = [
        "met vriendelijke groet",
        "met vriendelijke groeten",
        "vriendelijke groet",
        "vriendelijke groeten",
        "met hartelijke groet",
        "hartelijke groet",
        "hartelijke groeten",
        "met collegiale groet",
        "collegiale groet",
        "met groet",
        "groet",
        "groeten",
        "groetjes",
        "gr.",
        "gr",
        "mvg",
        "m.v.g",
        "vr.gr",
        "vriendelijke gr",
        "hoogachtend",
        "dank en groet",
        "kind regards",
        "best regards",
        "warm regards",
        "with kind regards",
        "regards",
        "best wishes",
        "best,",
        "many thanks",
        "thanks,",
        "yours sincerely",
        "sincerely",
    ];
    // The greeting alone, or followed by a comma and a name ("Kind regards, H. Willems").
    CLOSINGS.iter().any(|c| {
        l.strip_prefix(c).is_some_and(|rest| {
            let rest = rest.trim();
            rest.trim_matches(['.', ',', '!', '-', '–']).is_empty()
                || (rest.starts_with(',')
                    && !rest.contains([';', '?'])
                    && rest.split_whitespace().count() <= 8)
        })
    })
}

/// A line of a signature block: short, and not a sentence.
fn is_signature_line(line: &str) -> bool {
    line.chars().count() <= 60
        && !line.ends_with(['?', '!'])
        && line.split_whitespace().count() <= 8
}

fn is_device_line(line: &str) -> bool {
    let l = line.to_lowercase();
    [
        "verstuurd vanaf mijn",
        "verzonden vanaf mijn",
        "verzonden vanuit",
        "sent from my",
        "get outlook for",
        "download outlook voor",
        "outlook voor ios",
        "outlook voor android",
    ]
    .iter()
    .any(|p| l.starts_with(p))
        && l.len() < 60
}

/// CRLF → LF, NBSP → space, zero-width characters and BOMs removed, trailing spaces trimmed.
fn normalise(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| {
            !matches!(
                c,
                '\u{feff}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}'
            )
        })
        .map(|c| if c == '\u{a0}' { ' ' } else { c })
        .collect::<String>()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// `-----Original Message-----`, Outlook's line of underscores, and every separator line of
/// [`SEPARATORS`] (Thunderbird, Thunderbird for Android, Roundcube, Apple Mail, Gmail, Outlook
/// and Yahoo in every language they write): the phrase between dashes or underscores, or
/// followed by a colon ("Begin doorgestuurd bericht:").
fn is_separator(line: &str) -> bool {
    let t = line.trim().trim_start_matches(['>', ' ']).trim();
    if t.chars().count() >= 10 && t.chars().all(|c| c == '_') {
        return true;
    }
    let marked = t.starts_with("--")
        || t.starts_with("__")
        || t.ends_with("--")
        || t.ends_with("__")
        || t.ends_with(':');
    if !marked || t.chars().count() > 120 {
        return false;
    }
    let phrase = normalised(t.trim_matches(|c: char| "-_=*: ".contains(c)));
    SEPARATORS.contains(&phrase.as_str())
}

/// A line as the tables hold them: lower case, one space between words (NBSP too), none
/// before a colon, no quote marks or bold stars at the start.
fn normalised(line: &str) -> String {
    let lower = line
        .trim()
        .trim_start_matches(['>', ' ', '*'])
        .replace(['\u{a0}', '\u{202f}'], " ")
        .replace(crate::domain::address::is_invisible, "")
        .to_lowercase()
        // Turkish dotted and dotless i as the table holds them (scripts/quote-forms).
        .replace("i\u{307}", "i")
        .replace('\u{131}', "i")
        .replace('\u{307}', "");
    lower
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" :", ":")
}

/// How sure a line is to be an attribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attribution {
    /// A form with a date and a name ("Op … om … schreef …:"), or any form naming an
    /// address and a date: it starts the quote wherever it stands.
    Dated,
    /// A bare form ("… schreef:", "… wrote:"): only when a `>` block follows it — a staff
    /// member may write "u schreef:" in a reaction.
    Loose,
}

/// The attribution line of a client ("Op … schreef …:", "On … wrote:", "El … escribió:", "W
/// dniu … napisał(a):", …), any of [`ATTRIBUTIONS`] in any language.
fn attribution(line: &str) -> Option<Attribution> {
    if !may_end_an_attribution(line) {
        return None;
    }
    attribution_of_normalised(&normalised(line))
}

/// A look at a line's last character before normalising it: an ASCII one that ends no form
/// of [`ATTRIBUTIONS`] rules the line out (normalising keeps it, lower-cased, as the last);
/// anything else leaves it to the full test. Most lines end here.
fn may_end_an_attribution(line: &str) -> bool {
    line.chars()
        .rev()
        .find(|c| !c.is_whitespace())
        .is_some_and(|last| {
            !last.is_ascii() || attribution_endings().contains(&last.to_ascii_lowercase())
        })
}

fn attribution_of_normalised(l: &str) -> Option<Attribution> {
    if l.is_empty() || l.chars().count() > 400 {
        return None;
    }
    // Every form ends in a fixed part: a line whose last character ends none is no
    // attribution, without trying the table's forms one by one.
    let last = l.chars().next_back()?;
    if !attribution_endings().contains(&last) {
        return None;
    }
    let form = ATTRIBUTIONS.iter().find(|parts| form_matches(parts, l))?;
    let dated = form.len() >= 3 || (l.contains('@') && l.chars().any(|c| c.is_ascii_digit()));
    Some(if dated {
        Attribution::Dated
    } else {
        Attribution::Loose
    })
}

/// The last characters of the forms of [`ATTRIBUTIONS`] (each ends in a non-empty part).
fn attribution_endings() -> &'static [char] {
    static ENDINGS: std::sync::OnceLock<Vec<char>> = std::sync::OnceLock::new();
    ENDINGS.get_or_init(|| {
        let mut endings: Vec<char> = ATTRIBUTIONS
            .iter()
            .filter_map(|parts| parts.last()?.chars().next_back())
            .collect();
        endings.sort_unstable();
        endings.dedup();
        endings
    })
}

/// Whether `line` (normalised) is `parts` with some text in each gap: the first part at its
/// start, the last at its end, the others in order between, each on word boundaries.
fn form_matches(parts: &[&str], line: &str) -> bool {
    let boundary = |at: usize| {
        let before = line[..at].chars().next_back();
        let after = line[at..].chars().next();
        !(before.is_some_and(char::is_alphanumeric) && after.is_some_and(char::is_alphanumeric))
    };
    let fits = |at: usize, part: &str| boundary(at) && boundary(at + part.len());
    let gap = |from: usize, to: usize| line[from..to].trim().chars().any(|c| c != ',');
    let Some((first, rest)) = parts.split_first() else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return false;
    };
    let mut pos = 0;
    if !first.is_empty() {
        if !line.starts_with(first) || !fits(0, first) {
            return false;
        }
        pos = first.len();
    }
    let end = if last.is_empty() {
        line.len()
    } else {
        if !line.ends_with(last) {
            return false;
        }
        let at = line.len() - last.len();
        if at < pos || !fits(at, last) {
            return false;
        }
        at
    };
    for part in middle {
        let found = line[pos..end]
            .match_indices(part)
            .map(|(i, _)| pos + i)
            .find(|&i| gap(pos, i) && fits(i, part) && i + part.len() <= end);
        let Some(at) = found else {
            return false;
        };
        pos = at + part.len();
    }
    gap(pos, end)
}

/// Field names of the quoted header block Outlook (and others) put above the original, in the
/// languages staff mail clients are set to: Dutch, English, German, French, Spanish,
/// Italian, Portuguese, the Scandinavian languages, Polish, Turkish.
const FROM_FIELDS: &[&str] = &[
    "van", "from", "von", "de", "da", "från", "fra", "od", "kimden", "afzender", "sender",
];
const OTHER_FIELDS: &[&str] = &[
    "verzonden",
    "sent",
    "gesendet",
    "envoyé",
    "envoye",
    "enviado",
    "inviato",
    "skickat",
    "sendt",
    "lähetetty",
    "wysłano",
    "gönderildi",
    "datum",
    "date",
    "fecha",
    "data",
    "päivämäärä",
    "aan",
    "to",
    "an",
    "à",
    "a",
    "para",
    "till",
    "til",
    "do",
    "kime",
    "cc",
    "kopie",
    "onderwerp",
    "subject",
    "betreff",
    "objet",
    "asunto",
    "oggetto",
    "assunto",
    "ämne",
    "emne",
    "temat",
    "konu",
    "aihe",
    "beantwoorden",
    "antwort an",
    "répondre à",
    "reply-to",
];

/// The field name of a `Name: value` line (`De :` as French writes it), lower case, if the
/// line has that shape.
fn field_name(line: &str) -> Option<String> {
    let l = line.trim().trim_start_matches(['*', '>', ' ']);
    let (name, _) = l.split_once(':')?;
    let name = name.trim().trim_matches('*').trim().to_lowercase();
    let plausible = !name.is_empty()
        && name.chars().count() <= 20
        && name.split_whitespace().count() <= 2
        && name
            .chars()
            .all(|c| c.is_alphabetic() || c == ' ' || c == '-');
    plausible.then_some(name)
}

/// A quoted header block: a "from" field followed within a few lines by at least one more of
/// the block's fields (sent, date, to, subject), in any of [`FROM_FIELDS`]' languages — or,
/// in a language not listed, a field line naming an address followed by two more field lines
/// that are no staff command.
fn is_header_block(lines: &[&str], i: usize) -> bool {
    let Some(first) = field_name(lines[i]) else {
        return false;
    };
    let next: Vec<String> = lines[i + 1..]
        .iter()
        .take(4)
        .filter_map(|l| field_name(l))
        .collect();
    if FROM_FIELDS.contains(&first.as_str()) {
        return next.iter().any(|n| OTHER_FIELDS.contains(&n.as_str()));
    }
    let is_command = |n: &str| crate::commands::grammar::Keyword::lookup(n).is_some();
    lines[i].contains('@')
        && !is_command(&first)
        && next.iter().filter(|n| !is_command(n)).count() >= 2
        && lines[i + 1..]
            .iter()
            .take(4)
            .any(|l| l.chars().any(|c| c.is_ascii_digit()))
}

/// Where Outlook's quoted original starts in HTML markup: its header block, after which the
/// original follows without a blockquote. Other clients' quotes are blockquotes, which
/// [`convert`] marks line by line instead.
fn html_quote_start(html: &str) -> Option<usize> {
    let lower = html.to_ascii_lowercase();
    let markers = [
        "id=\"divrplyfwdmsg\"",
        "id=divrplyfwdmsg",
        "id=\"appendonsend\"",
        "border:none;border-top:solid",
        "<hr id=\"stopspelling\"",
        "id=\"mail-editor-reference-message-container\"",
        "class=\"yahoo_quoted\"",
    ];
    markers
        .iter()
        .filter_map(|m| lower.find(m))
        .min()
        // Cut at the start of the element that carries the marker.
        .map(|pos| lower[..=pos].rfind('<').unwrap_or(pos))
}

/// A tag's attributes mark a signature block (Gmail, Thunderbird).
fn is_signature_tag(tag: &str) -> bool {
    let t = tag.to_ascii_lowercase();
    ["gmail_signature", "moz-signature"]
        .iter()
        .any(|m| t.contains(m))
}

/// HTML → text with the line structure a reader sees: `<br>` breaks a line; block elements
/// (`p`, `div`, `li`, …) start on a new line without adding blank ones.
pub fn html_to_lines(html: &str) -> String {
    convert(html, false)
}

/// [`html_to_lines`]; with `mark_quotes`, lines inside a blockquote start with `> ` and a
/// signature block starts with a `-- ` line.
fn convert(html: &str, mark_quotes: bool) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut skipping: Option<&'static str> = None;
    let mut in_pre = false;
    let mut depth = 0usize;
    let soft_break = |out: &mut String| {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
    };
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        if rest.starts_with('<') {
            // An unclosed tag runs to the end of the input.
            let (tag, after) = match rest.find('>') {
                Some(end) => (&rest[1..end], &rest[end + 1..]),
                None => (&rest[1..], ""),
            };
            rest = after;
            let closing = tag.starts_with('/');
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            if let Some(skip) = skipping {
                if closing && name == skip {
                    skipping = None;
                }
                continue;
            }
            if mark_quotes && !closing && is_signature_tag(tag) {
                soft_break(&mut out);
                out.push_str("-- \n");
            }
            match name.as_str() {
                "blockquote" if mark_quotes => {
                    soft_break(&mut out);
                    depth = if closing {
                        depth.saturating_sub(1)
                    } else {
                        depth + 1
                    };
                }
                "head" | "style" | "script" | "title" | "template" if !closing => {
                    skipping = Some(match name.as_str() {
                        "head" => "head",
                        "style" => "style",
                        "script" => "script",
                        "title" => "title",
                        _ => "template",
                    });
                }
                "br" => out.push('\n'),
                "pre" => {
                    in_pre = !closing;
                    soft_break(&mut out);
                }
                "p" | "div" | "li" | "tr" | "table" | "ul" | "ol" | "h1" | "h2" | "h3" | "h4"
                | "h5" | "h6" | "blockquote" | "hr" | "section" | "article" | "header"
                | "footer" | "dd" | "dt" | "body" => soft_break(&mut out),
                "td" | "th" if closing => out.push(' '),
                _ => {}
            }
            continue;
        }
        let end = rest.find('<').unwrap_or(rest.len());
        if skipping.is_none() {
            let text = decode_entities(&rest[..end]);
            let at_line_start = out.is_empty() || out.ends_with('\n');
            if depth > 0 && at_line_start && !text.trim().is_empty() {
                out.push_str(&"> ".repeat(depth));
            }
            if in_pre && depth > 0 {
                out.push_str(&text.replace('\n', &format!("\n{}", "> ".repeat(depth))));
            } else if in_pre {
                out.push_str(&text);
            } else {
                for (i, word) in text.split([' ', '\n', '\r', '\t']).enumerate() {
                    if i > 0 && !out.ends_with([' ', '\n']) && !out.is_empty() {
                        out.push(' ');
                    }
                    out.push_str(word);
                }
            }
        }
        rest = &rest[end..];
    }
    out.lines()
        .map(|l| l.trim_matches(|c: char| c == ' ' || c == '\u{a0}' || c == '\t'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Decodes character references: named ones mail clients use, and numeric ones.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&semi| semi <= 10).and_then(|semi| {
            let entity = &rest[1..semi];
            let ch = if let Some(num) = entity.strip_prefix('#') {
                let (digits, radix) = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => (hex, 16),
                    None => (num, 10),
                };
                u32::from_str_radix(digits, radix)
                    .ok()
                    .and_then(char::from_u32)
            } else {
                named_entity(entity)
            };
            ch.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "nbsp" => '\u{a0}',
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "euro" => '€',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "bull" => '•',
        "copy" => '©',
        "eacute" => 'é',
        "egrave" => 'è',
        "euml" => 'ë',
        "iuml" => 'ï',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "auml" => 'ä',
        "oacute" => 'ó',
        "aacute" => 'á',
        "agrave" => 'à',
        "ccedil" => 'ç',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> String {
        new_text_from_plain(s).text
    }

    proptest::proptest! {
        /// The look at the last character never rules out a line the full test would take.
        #[test]
        fn the_quick_look_rules_out_only_what_the_full_test_refuses(
            line in "[ >*a-zA-Z0-9@.,:()\u{a0}\u{200b}\u{130}\u{131}\u{307}]{0,40}",
            form in 0..ATTRIBUTIONS.len(),
            fill in "[ a-zA-Z0-9@.]{1,12}",
            tail in "[ \t\u{a0}\u{200b}]{0,3}",
        ) {
            let parts = ATTRIBUTIONS[form];
            let made = format!("{}{tail}", parts.join(&format!(" {fill} ")));
            for candidate in [line.as_str(), made.as_str()] {
                if !may_end_an_attribution(candidate) {
                    proptest::prop_assert_eq!(
                        attribution_of_normalised(&normalised(candidate)), None, "{:?}", candidate
                    );
                }
            }
        }
    }

    /// The ending test in `attribution` relies on it.
    #[test]
    fn every_attribution_form_ends_in_a_fixed_part() {
        for parts in ATTRIBUTIONS {
            assert!(
                parts.len() >= 2 && parts.last().is_some_and(|p| !p.is_empty()),
                "{parts:?}"
            );
        }
    }

    #[test]
    fn gmail_attribution_and_quote() {
        let t = plain(
            "Reactie\n\nBeste mevrouw,\nTekst.\n\nOp do 19 nov 2026 om 09:05 schreef Klachtenregistratie <\ninfo@example.org>:\n\n> Afgehandeld\n> Oorzaak: x",
        );
        assert_eq!(t, "Reactie\n\nBeste mevrouw,\nTekst.");
    }

    #[test]
    fn apple_iphone_thunderbird_and_english_attributions() {
        for attribution in [
            "Op 24 nov. 2026, om 10:12 heeft Klachtenregistratie <info@example.org> het volgende geschreven:",
            "\u{feff}Op 19 nov. 2026 om 09:05 heeft Klachtenregistratie <info@example.org> het volgende geschreven:",
            "Op 24-11-2026 om 10:12 schreef Klachtenregistratie:",
            "On Tue, 24 Nov 2026 at 10:12, Klachtenregistratie <info@example.org> wrote:",
        ] {
            let t = plain(&format!(
                "Escaleer\n\n{attribution}\n\nAfgehandeld\nOorzaak: nee"
            ));
            assert_eq!(t, "Escaleer", "{attribution}");
        }
    }

    /// A client no table knows still introduces its quote with a line ending in a colon; that
    /// line is no note. A command line ending in a colon above a quote stays a command.
    #[test]
    fn an_unknown_clients_attribution_right_above_the_quote() {
        let t = plain("Notitie: gebeld\n\nOp dinsdag schreef Klachtenregistratie:\n> Afgehandeld");
        assert_eq!(t, "Notitie: gebeld");
        let t = plain("Notitie: zie hieronder:\n> Afgehandeld");
        assert_eq!(t, "Notitie: zie hieronder:");
    }

    /// An attack on the quick look at a line's last character: whatever invisible or spacing
    /// characters a client (or a forger) puts after an attribution's colon, the quoted
    /// command below it stays quoted and is never read as the sender's.
    #[test]
    fn characters_after_an_attributions_colon_never_unquote_a_command() {
        for tail in [
            "",
            " ",
            "\u{a0}",
            "\u{202f}",
            "\u{200b}",
            "\u{200e}",
            "\u{2060}",
            "\u{feff}",
            "\t",
            "\u{a0}\u{200b} ",
            "\u{200f}\u{200e}",
        ] {
            for attribution in [
                "Op 1 dec. 2026 om 10:00 schreef Anna de Vries <anna@example.org>:",
                "On Tue, Dec 1, 2026 at 10:00 AM Anna <anna@example.org> wrote:",
                "Am 01.12.2026 um 10:00 schrieb Anna <anna@example.org>:",
                "Anna <anna@example.org> schreef op 1 december 2026 10:00：",
            ] {
                let t = plain(&format!(
                    "Notitie: gebeld\n\n{attribution}{tail}\n> Afgehandeld"
                ));
                assert!(!t.contains("Afgehandeld"), "{attribution:?}{tail:?}: {t:?}");
                // A full-width colon after a Dutch form is no form any client writes: that line
                // stays text (the command below it is quoted all the same).
                if attribution.ends_with(':') {
                    assert_eq!(t, "Notitie: gebeld", "{attribution:?}{tail:?}");
                }
            }
        }
    }

    #[test]
    fn outlook_header_blocks_without_quote_marks() {
        let nl = "Oorzaak: x\n\nVan: Klachtenregistratie <info@example.org>\nVerzonden: woensdag 25 november 2026 09:21\nAan: Anna\nOnderwerp: Nieuwe klacht\n\nAfgehandeld";
        assert_eq!(plain(nl), "Oorzaak: x");
        let en = "Verdict: upheld\n\nFrom: Klachtenregistratie <info@example.org>\nSent: Thursday, November 26, 2026 8:13 AM\nTo: x\n\nClose";
        assert_eq!(plain(en), "Verdict: upheld");
        let underscores = "Geen klacht\n\n________________________________\nVan: info\nAfgehandeld";
        assert_eq!(plain(underscores), "Geen klacht");
    }

    #[test]
    fn header_blocks_in_any_language_end_the_new_text() {
        let blocks = [
            "Von: Klachtenregistratie <info@example.org>\nGesendet: Donnerstag, 26. November 2026 08:13\nAn: Anna\nBetreff: KL-2026-0001",
            "De : Klachtenregistratie <info@example.org>\nEnvoyé : jeudi 26 novembre 2026 08:13\nÀ : Anna\nObjet : KL-2026-0001",
            "De: Klachtenregistratie <info@example.org>\nEnviado: jueves, 26 de noviembre de 2026 8:13\nPara: Anna\nAsunto: KL-2026-0001",
            "Da: Klachtenregistratie <info@example.org>\nInviato: giovedì 26 novembre 2026 08:13\nA: Anna\nOggetto: KL-2026-0001",
            "Från: Klachtenregistratie <info@example.org>\nSkickat: den 26 november 2026 08:13\nTill: Anna\nÄmne: KL-2026-0001",
            // A language not in the tables: an address, a date, two more fields.
            "Lähettäjä: Klachtenregistratie <info@example.org>\nLähetetty: 26. marraskuuta 2026 8.13\nVastaanottaja: Anna\nAihe: KL-2026-0001",
        ];
        for block in blocks {
            let reply = format!(
                "Reactie\n\nBeste klager,\n\n{block}\n\nStand van KL-2026-0001: oorzaak intern"
            );
            let new = plain(&reply);
            assert!(new.contains("Beste klager"), "{new}");
            assert!(
                !new.contains("oorzaak intern"),
                "{block}: quoted original kept: {new}"
            );
        }
    }

    #[test]
    fn command_lines_with_an_address_are_no_header_block() {
        let reply = "Klacht: jan@example.net\nCategorie: planning\nNotitie: gebeld op 12 november\n\nDe klacht zelf.";
        assert!(plain(reply).contains("Notitie: gebeld op 12 november"));
        assert!(plain(reply).contains("De klacht zelf."));
    }

    #[test]
    fn a_gt_inside_a_sentence_is_no_quote() {
        assert_eq!(
            plain("Notitie: bedrag > € 100\nklopt"),
            "Notitie: bedrag > € 100\nklopt"
        );
    }

    #[test]
    fn signatures_are_cut_but_greetings_stay() {
        assert_eq!(
            plain(
                "Reactie\n\nBeste,\nMet vriendelijke groet,\nPieter\n-- \nPieter Bakker | 030-1234567"
            ),
            "Reactie\n\nBeste,\nMet vriendelijke groet,\nPieter"
        );
        assert_eq!(
            plain("Afgehandeld\n\nVerstuurd vanaf mijn iPhone\n\n> quote"),
            "Afgehandeld"
        );
        assert_eq!(plain(""), "");
        assert_eq!(plain("-- \nalleen een handtekening"), "");
    }

    #[test]
    fn html_blocks_and_breaks_become_lines() {
        let html = "<html><head><style>p{}</style></head><body><p class=MsoNormal>Behandelaar: Anna<o:p></o:p></p><p class=MsoNormal>Oorzaak:&nbsp;de docent<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Ik heb gebeld &amp; gemaild.</p>";
        assert_eq!(
            new_text_from_html(html).text,
            "Behandelaar: Anna\nOorzaak: de docent\n\nIk heb gebeld & gemaild."
        );
        let apple = "<body dir=\"auto\">Akkoord: ja<div>Afgehandeld</div><div><br></div><div>prima opgepakt</div><div><br><blockquote type=\"cite\">Oorzaak: x</blockquote></div></body>";
        assert_eq!(
            new_text_from_html(apple).text,
            "Akkoord: ja\nAfgehandeld\n\nprima opgepakt"
        );
        let thunderbird = "<p>Heropen<br>Notitie: opnieuw te laat<br></p><pre class=\"moz-signature\">-- \nPieter</pre><div class=\"moz-cite-prefix\">Op 20-11-2026 om 15:30 schreef X:</div><blockquote>Afgehandeld</blockquote>";
        assert_eq!(
            new_text_from_html(thunderbird).text,
            "Heropen\nNotitie: opnieuw te laat"
        );
        let outlook = "<div class=\"elementToProof\">Geen klacht</div><div class=\"elementToProof\">Notitie:&nbsp;vraag</div><div id=\"appendonsend\"></div><hr><div id=\"divRplyFwdMsg\"><b>Van:</b> info</div>Afgehandeld";
        assert_eq!(
            new_text_from_html(outlook).text,
            "Geen klacht\nNotitie: vraag"
        );
    }

    #[test]
    fn an_unclosed_tag_before_multibyte_text_is_no_panic() {
        // Found by the property run: "<…Ѩ" without a closing '>'.
        assert_eq!(html_to_lines("tekst <aѨ"), "tekst");
    }

    #[test]
    fn entities_decode() {
        assert_eq!(
            decode_entities("a&nbsp;b &euro; 5 &#233; &#x20AC; &bogus; &"),
            "a\u{a0}b € 5 é € &bogus; &"
        );
    }
}
