//! Rendering mail from the Tera templates under `templates/{nl,en}/`: built into the binary,
//! and overridable file by file from the configured directory.

use crate::domain::Language;
use anyhow::Context as _;
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use tera::{Context, Tera};

/// The mails klachtd writes; each has a subject, a text and an HTML template per language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    Acknowledgement,
    StaffNotification,
    FollowUpNotification,
    QuarantineNotice,
    Reaction,
    ClosingLetter,
    VerdictLetter,
    ExtensionNotice,
    Transcript,
    Escalation,
    Appeal,
    ConfirmationRequest,
    Reminder,
    OverdueAlert,
    Digest,
    AnnualReport,
    ThirdPartyNotification,
    TokenRevoked,
    AdminAlert,
    AdminAllClear,
    TestMail,
    // issue 25: the AVG
    PrivacyExtension,
    PrivacyReminder,
    DossierCover,
    /// The summary of mail the outbound budget held back (issue 22).
    Summary,
    /// To the director: acknowledgements wait for the hourly maximum (issue 22).
    AcknowledgementFlood,
}

impl Template {
    pub const ALL: [Template; 26] = [
        Self::Acknowledgement,
        Self::StaffNotification,
        Self::FollowUpNotification,
        Self::QuarantineNotice,
        Self::Reaction,
        Self::ClosingLetter,
        Self::VerdictLetter,
        Self::ExtensionNotice,
        Self::Transcript,
        Self::Escalation,
        Self::Appeal,
        Self::ConfirmationRequest,
        Self::Reminder,
        Self::OverdueAlert,
        Self::Digest,
        Self::AnnualReport,
        Self::ThirdPartyNotification,
        Self::TokenRevoked,
        Self::AdminAlert,
        Self::AdminAllClear,
        Self::TestMail,
        Self::PrivacyExtension,
        Self::PrivacyReminder,
        Self::DossierCover,
        Self::Summary,
        Self::AcknowledgementFlood,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Acknowledgement => "acknowledgement",
            Self::StaffNotification => "staff_notification",
            Self::FollowUpNotification => "followup_notification",
            Self::QuarantineNotice => "quarantine_notice",
            Self::Reaction => "reaction",
            Self::ClosingLetter => "closing_letter",
            Self::VerdictLetter => "verdict_letter",
            Self::ExtensionNotice => "extension_notice",
            Self::Transcript => "transcript",
            Self::Escalation => "escalation",
            Self::Appeal => "appeal",
            Self::ConfirmationRequest => "confirmation_request",
            Self::Reminder => "reminder",
            Self::OverdueAlert => "overdue_alert",
            Self::Digest => "digest",
            Self::AnnualReport => "annual_report",
            Self::ThirdPartyNotification => "third_party_notification",
            Self::TokenRevoked => "token_revoked",
            Self::AdminAlert => "admin_alert",
            Self::AdminAllClear => "admin_all_clear",
            Self::TestMail => "test_mail",
            Self::PrivacyExtension => "privacy_extension",
            Self::PrivacyReminder => "privacy_reminder",
            Self::DossierCover => "dossier_cover",
            Self::Summary => "summary",
            Self::AcknowledgementFlood => "acknowledgement_flood",
        }
    }
}

macro_rules! builtin {
    ($($lang:literal / $name:literal),* $(,)?) => {
        &[$(
            (concat!($lang, "/", $name, ".subject"), include_str!(concat!("../../templates/", $lang, "/", $name, ".subject.tera"))),
            (concat!($lang, "/", $name, ".txt"), include_str!(concat!("../../templates/", $lang, "/", $name, ".txt.tera"))),
            (concat!($lang, "/", $name, ".html"), include_str!(concat!("../../templates/", $lang, "/", $name, ".html.tera"))),
        )*]
    };
}

const BUILTIN: &[(&str, &str)] = builtin![
    "nl" / "acknowledgement",
    "en" / "acknowledgement",
    "nl" / "staff_notification",
    "en" / "staff_notification",
    "nl" / "followup_notification",
    "en" / "followup_notification",
    "nl" / "quarantine_notice",
    "en" / "quarantine_notice",
    "nl" / "reaction",
    "en" / "reaction",
    "nl" / "closing_letter",
    "en" / "closing_letter",
    "nl" / "verdict_letter",
    "en" / "verdict_letter",
    "nl" / "extension_notice",
    "en" / "extension_notice",
    "nl" / "transcript",
    "en" / "transcript",
    "nl" / "escalation",
    "en" / "escalation",
    "nl" / "appeal",
    "en" / "appeal",
    "nl" / "confirmation_request",
    "en" / "confirmation_request",
    "nl" / "reminder",
    "en" / "reminder",
    "nl" / "overdue_alert",
    "en" / "overdue_alert",
    "nl" / "digest",
    "en" / "digest",
    "nl" / "annual_report",
    "en" / "annual_report",
    "nl" / "third_party_notification",
    "en" / "third_party_notification",
    "nl" / "token_revoked",
    "en" / "token_revoked",
    "nl" / "admin_alert",
    "en" / "admin_alert",
    "nl" / "admin_all_clear",
    "en" / "admin_all_clear",
    "nl" / "test_mail",
    "en" / "test_mail",
    "nl" / "privacy_extension",
    "en" / "privacy_extension",
    "nl" / "privacy_reminder",
    "en" / "privacy_reminder",
    "nl" / "dossier_cover",
    "en" / "dossier_cover",
    "nl" / "summary",
    "en" / "summary",
    "nl" / "acknowledgement_flood",
    "en" / "acknowledgement_flood",
];

/// A rendered mail body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The template set: every template's source is read at start-up and every override checked;
/// a template is parsed for rendering on its first use and kept. A daemon renders a handful of
/// the 126 (the acknowledgement and the staff notification, in one language, most of the
/// time), and the parsed form of all of them held 0.9 MB of its idle memory.
pub struct Renderer {
    /// Name (`nl/acknowledgement.txt`) → source, built-in or from the override directory.
    sources: HashMap<String, String>,
    /// The templates parsed so far.
    parsed: Mutex<Tera>,
}

/// Text and subject templates must not escape; HTML ones and the Markdown form of a text
/// template (`.md`, for `report --format md`) must, both with [`escape_typed`].
fn new_tera() -> Tera {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".html", ".md"]);
    tera.set_escape_fn(escape_typed);
    tera
}

/// What people typed (a cause, a subject, a name), made inert for HTML, SVG and Markdown
/// alike — the one escape of every report format (the HTML and Markdown analysis, the charts,
/// the digest) and every HTML mail: each character either language gives a meaning becomes a
/// numeric character reference, which both show as the character itself. `<script>` stays
/// text, `*bold*` and `[a](javascript:…)` stay as typed, and `|` does not split a table cell.
pub fn escape_typed(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut start = 0;
    // Every character escaped is ASCII, so the text between two of them is copied whole.
    for (at, b) in text.bytes().enumerate() {
        if matches!(
            b,
            b'&' | b'<'
                | b'>'
                | b'"'
                | b'\''
                | b'/'
                | b'\\'
                | b'`'
                | b'*'
                | b'_'
                | b'['
                | b']'
                | b'('
                | b')'
                | b'#'
                | b'|'
                | b'!'
                | b'~'
                | b'{'
                | b'}'
        ) {
            out.push_str(&text[start..at]);
            write!(out, "&#{b};").expect("writing to a String cannot fail");
            start = at + 1;
        }
    }
    out.push_str(&text[start..]);
    out
}

impl Renderer {
    /// The built-in templates, with any file in `override_dir` (`nl/acknowledgement.txt.tera`…)
    /// taking the place of its built-in twin. Every override that differs from its twin is
    /// parsed once here, so a broken one stops the start with a clear error rather than at its
    /// first use; the built-in sources are parsed by this module's tests instead
    /// (`every_builtin_template_parses`), not by every start (the 126 took some 35 ms of CPU,
    /// twice a start: the check before it and the daemon).
    pub fn load(override_dir: Option<&Path>) -> anyhow::Result<Renderer> {
        let mut templates: Vec<(String, String)> = BUILTIN
            .iter()
            .map(|(name, body)| (name.to_string(), body.to_string()))
            .collect();
        if let Some(dir) = override_dir.filter(|d| d.is_dir()) {
            for ((name, body), (_, builtin)) in templates.iter_mut().zip(BUILTIN) {
                let (lang, stem) = name.split_once('/').expect("builtin names are lang/stem");
                let path = dir.join(lang).join(format!("{stem}.tera"));
                if !path.is_file() {
                    continue;
                }
                *body = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read template {}", path.display()))?;
                // One at a time, each dropped at once: the check never holds more than one
                // parsed template (parsing all together would leave their memory in the heap).
                if body.as_str() != *builtin {
                    new_tera()
                        .add_raw_template(name, body)
                        .map_err(|e| anyhow::anyhow!("template error: {}", tera_chain(&e)))?;
                }
            }
        }
        Ok(Renderer {
            sources: templates.into_iter().collect(),
            parsed: Mutex::new(new_tera()),
        })
    }

    /// Renders `template` in `lang`.
    pub fn render(
        &self,
        template: Template,
        lang: Language,
        context: &Context,
    ) -> anyhow::Result<Rendered> {
        let mut tera = self.parsed.lock().expect("template set");
        let mut render = |part: &str| {
            let name = format!("{}/{}.{part}", lang.as_str(), template.name());
            if !tera.get_template_names().any(|n| n == name) {
                let source = self
                    .sources
                    .get(&name)
                    .ok_or_else(|| anyhow::anyhow!("no template {name}"))?;
                tera.add_raw_template(&name, source)
                    .map_err(|e| anyhow::anyhow!("template error: {}", tera_chain(&e)))?;
            }
            tera.render(&name, context)
                .map_err(|e| anyhow::anyhow!("rendering {name}: {}", tera_chain(&e)))
        };
        Ok(Rendered {
            subject: crate::inbound::one_line(&render("subject")?),
            text: normalise_text(&render("txt")?),
            html: render("html")?,
        })
    }
}

impl Renderer {
    /// `template`'s text part in `lang` as Markdown: the text template rendered with every
    /// value escaped by [`escape_typed`] (`report --format md`).
    pub fn render_markdown(
        &self,
        template: Template,
        lang: Language,
        context: &Context,
    ) -> anyhow::Result<String> {
        let mut tera = self.parsed.lock().expect("template set");
        let text = format!("{}/{}.txt", lang.as_str(), template.name());
        let name = format!("{}/{}.md", lang.as_str(), template.name());
        if !tera.get_template_names().any(|n| n == name) {
            let source = self
                .sources
                .get(&text)
                .ok_or_else(|| anyhow::anyhow!("no template {text}"))?;
            tera.add_raw_template(&name, source)
                .map_err(|e| anyhow::anyhow!("template error: {}", tera_chain(&e)))?;
        }
        let rendered = tera
            .render(&name, context)
            .map_err(|e| anyhow::anyhow!("rendering {name}: {}", tera_chain(&e)))?;
        Ok(normalise_text(&rendered))
    }
}

fn tera_chain(e: &tera::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// Collapses the blank lines template logic leaves behind to at most one.
fn normalise_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_string() + "\n"
}

/// Day and month names, Monday first. Written out here rather than taken from chrono's
/// locale tables (`unstable-locales`): those hold every language's names, some 128 KB that a
/// running klachtd would keep in memory for the two it writes. A test holds these to chrono's.
fn names(lang: Language) -> (&'static [&'static str; 7], &'static [&'static str; 12]) {
    const DAYS_NL: [&str; 7] = [
        "maandag",
        "dinsdag",
        "woensdag",
        "donderdag",
        "vrijdag",
        "zaterdag",
        "zondag",
    ];
    const MONTHS_NL: [&str; 12] = [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ];
    const DAYS_EN: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    const MONTHS_EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    match lang {
        Language::Nl => (&DAYS_NL, &MONTHS_NL),
        Language::En => (&DAYS_EN, &MONTHS_EN),
    }
}

/// "dinsdag 1 december 2026" / "Tuesday 1 December 2026".
pub fn long_date(date: NaiveDate, lang: Language) -> String {
    let (days, months) = names(lang);
    format!(
        "{} {} {} {}",
        days[date.weekday().num_days_from_monday() as usize],
        date.day(),
        months[date.month0() as usize],
        date.year()
    )
}

/// "dinsdag 24 november 2026 om 10:12" in the organisation's time zone.
pub fn long_datetime(at: DateTime<Utc>, tz: Tz, lang: Language) -> String {
    let local = at.with_timezone(&tz);
    let at_word = match lang {
        Language::Nl => "om",
        Language::En => "at",
    };
    format!(
        "{} {at_word} {:02}:{:02}",
        long_date(local.date_naive(), lang),
        local.hour(),
        local.minute()
    )
}

/// "820 B", "14 KB", "4.2 MB": a file's size as mail names it.
pub fn human_size(bytes: usize) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{} KB", b.div_ceil(1024)),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// The first part of a text, cut at a word boundary near `max_chars`, with "…" when cut.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    let at_word = cut
        .rfind(char::is_whitespace)
        .filter(|i| *i > max_chars / 2)
        .unwrap_or(cut.len());
    format!("{} …", cut[..at_word].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dutch_and_english_dates() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(long_date(d, Language::Nl), "dinsdag 1 december 2026");
        assert_eq!(long_date(d, Language::En), "Tuesday 1 December 2026");
        let at = DateTime::parse_from_rfc3339("2026-11-24T09:12:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            long_datetime(at, chrono_tz::Europe::Amsterdam, Language::Nl),
            "dinsdag 24 november 2026 om 10:12"
        );
    }

    proptest::proptest! {
        /// The names written out here are chrono's own (its locale tables, in tests only),
        /// for any day and time.
        #[test]
        fn dates_read_as_chrono_writes_them(day in 0i64..80_000, minute in 0i64..1440) {
            let date = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Days::new(day as u64);
            proptest::prop_assert_eq!(
                long_date(date, Language::Nl),
                date.format_localized("%A %-d %B %Y", chrono::Locale::nl_NL).to_string()
            );
            proptest::prop_assert_eq!(
                long_date(date, Language::En),
                date.format_localized("%A %-d %B %Y", chrono::Locale::en_GB).to_string()
            );
            let at = date.and_hms_opt(0, 0, 0).unwrap().and_utc() + chrono::Duration::minutes(minute);
            let tz = chrono_tz::Europe::Amsterdam;
            let local = at.with_timezone(&tz);
            proptest::prop_assert_eq!(
                long_datetime(at, tz, Language::Nl),
                local.format_localized("%A %-d %B %Y om %H:%M", chrono::Locale::nl_NL).to_string()
            );
            proptest::prop_assert_eq!(
                long_datetime(at, tz, Language::En),
                local.format_localized("%A %-d %B %Y at %H:%M", chrono::Locale::en_GB).to_string()
            );
        }
    }

    proptest::proptest! {
        /// Escaped text holds no character HTML or Markdown reads as markup, and reads back as
        /// typed once its character references are decoded.
        #[test]
        fn typed_text_is_inert_in_html_and_markdown(text in "\\PC{0,60}") {
            let escaped = escape_typed(&text);
            // What is left between the references, and the text they stand for.
            let (mut bare, mut decoded) = (String::new(), String::new());
            for (i, part) in escaped.split("&#").enumerate() {
                let rest = match part.split_once(';') {
                    Some((n, rest)) if i > 0 => {
                        decoded.push(char::from_u32(n.parse().unwrap()).unwrap());
                        rest
                    }
                    _ => part,
                };
                bare.push_str(rest);
                decoded.push_str(rest);
            }
            for c in "<>\"'`*_[]()#|!~{}\\/".chars() {
                proptest::prop_assert!(!bare.contains(c), "{c} in {escaped}");
            }
            proptest::prop_assert_eq!(decoded, text);
        }
    }

    #[test]
    fn excerpt_cuts_at_a_word() {
        assert_eq!(excerpt("kort", 10), "kort");
        assert_eq!(excerpt("een twee drie vier vijf", 12), "een twee …");
    }

    /// What [`Renderer::load`] leaves to the tests: every built-in template parses.
    #[test]
    fn every_builtin_template_parses() {
        assert_eq!(BUILTIN.len(), Template::ALL.len() * 2 * 3);
        for (name, body) in BUILTIN {
            new_tera()
                .add_raw_template(name, body)
                .unwrap_or_else(|e| panic!("{name}: {}", tera_chain(&e)));
        }
    }

    #[test]
    fn overrides_apply() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("nl")).unwrap();
        std::fs::write(
            dir.path().join("nl/acknowledgement.subject.tera"),
            "Eigen onderwerp {{ tag }}",
        )
        .unwrap();
        let r = Renderer::load(Some(dir.path())).unwrap();
        assert_eq!(r.sources.len(), Template::ALL.len() * 2 * 3);
        for template in Template::ALL {
            for lang in ["nl", "en"] {
                for part in ["subject", "txt", "html"] {
                    let name = format!("{lang}/{}.{part}", template.name());
                    assert!(r.sources.contains_key(&name), "{name}");
                }
            }
        }
        let mut ctx = Context::new();
        ctx.insert("tag", "[KL-2026-0001]");
        // Parsed on first use, from the override; nothing parsed before.
        assert_eq!(r.parsed.lock().unwrap().get_template_names().count(), 0);
        let mut tera = r.parsed.lock().unwrap();
        tera.add_raw_template(
            "nl/acknowledgement.subject",
            &r.sources["nl/acknowledgement.subject"],
        )
        .unwrap();
        assert_eq!(
            tera.render("nl/acknowledgement.subject", &ctx).unwrap(),
            "Eigen onderwerp [KL-2026-0001]"
        );
    }

    #[test]
    fn templates_are_parsed_on_first_use_and_kept() {
        let r = Renderer::load(None).unwrap();
        let mut ctx = Context::new();
        for (k, v) in [("tag", "[KL-2026-0001]"), ("reference", "KL-2026-0001")] {
            ctx.insert(k, v);
        }
        let parsed = |r: &Renderer| r.parsed.lock().unwrap().get_template_names().count();
        assert_eq!(parsed(&r), 0);
        // Rendering fails on the missing context, but the three parts needed are parsed.
        let _ = r.render(Template::TestMail, Language::Nl, &ctx);
        let after = parsed(&r);
        assert!((1..=3).contains(&after), "{after}");
        let _ = r.render(Template::TestMail, Language::Nl, &ctx);
        assert_eq!(parsed(&r), after, "kept, not parsed again");
    }

    #[test]
    fn a_broken_override_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("nl")).unwrap();
        std::fs::write(dir.path().join("nl/acknowledgement.txt.tera"), "{% if %}").unwrap();
        let err = Renderer::load(Some(dir.path()))
            .err()
            .expect("must fail")
            .to_string();
        assert!(err.contains("acknowledgement"), "{err}");
    }
}
