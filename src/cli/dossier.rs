//! `klachtd dossier ADDRESS` (issue 25, AVG art. 15): everything klachtd holds on one person,
//! written to a directory readable by its owner only — each of their cases with its
//! registration, history and staff notes, every mail of theirs taken in as it was received,
//! every mail sent to them, their attachments — with a covering letter from an editable
//! template that answers what the Autoriteit Persoonsgegevens asks an access answer to
//! contain. Nothing of another person: mail a third party sent about their case is named, not
//! copied. Making it is recorded on each case.

use crate::domain::Language;
use crate::domain::{CaseRef, EmailAddress};
use crate::outbound::{Renderer, Template, templates};
use crate::settings::Settings;
use crate::store::{CaseRecord, Store, cases, mails, person};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What was written.
#[derive(Debug, Clone)]
pub struct Dossier {
    pub dir: PathBuf,
    pub cases: Vec<CaseRef>,
    pub mails_in: usize,
    pub mails_out: usize,
    pub attachments: usize,
    /// The files, relative to `dir`.
    pub files: Vec<String>,
    /// Other cases whose subject, text or history mention the address: someone else's data,
    /// left out, for the administrator to look at (printed, never written to the dossier).
    pub mentioned_elsewhere: Vec<CaseRef>,
}

/// The words of the file and directory names.
struct Names {
    letter: &'static str,
    overview: &'static str,
    received: &'static str,
    sent: &'static str,
    attachments: &'static str,
}

fn names(lang: Language) -> Names {
    match lang {
        Language::Nl => Names {
            letter: "brief",
            overview: "overzicht",
            received: "ontvangen",
            sent: "verzonden",
            attachments: "bijlagen",
        },
        Language::En => Names {
            letter: "letter",
            overview: "overview",
            received: "received",
            sent: "sent",
            attachments: "attachments",
        },
    }
}

/// A file name made of `s`: letters, digits, dots, dashes and underscores only, never `..`.
fn safe_name(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches('.').replace("..", "_");
    if cleaned.is_empty() {
        "bestand".into()
    } else {
        cleaned.chars().take(100).collect()
    }
}

/// Event kinds whose detail is someone else's mail: named, not copied.
const OTHERS: &[&str] = &["third_party"];

/// One line of history as the dossier shows it.
#[derive(Serialize)]
struct HistoryEntry {
    at: DateTime<Utc>,
    kind: String,
    label: &'static str,
    by: Option<String>,
    detail: String,
}

#[derive(Serialize)]
struct CaseEntry {
    case: CaseRecord,
    history: Vec<HistoryEntry>,
    attachments: Vec<String>,
}

#[derive(Serialize)]
struct MailEntry {
    file: Option<String>,
    received_at: DateTime<Utc>,
    case: Option<String>,
    what: &'static str,
}

#[derive(Serialize)]
struct SentEntry {
    file: String,
    case: Option<String>,
    kind: &'static str,
    queued_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

/// Writes the dossier of `who` into `out` (which must not exist, or be empty) in `lang`.
pub fn write(
    store: &mut Store,
    settings: &Settings,
    renderer: &Renderer,
    who: &EmailAddress,
    out: &Path,
    lang: Language,
    now: DateTime<Utc>,
) -> anyhow::Result<Dossier> {
    if out.exists() {
        let empty = out.is_dir() && std::fs::read_dir(out)?.next().is_none();
        anyhow::ensure!(
            empty,
            "{} already exists and is not empty: give a new directory",
            out.display()
        );
    }
    crate::fsutil::create_private_dir(out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::set_permissions(out, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    let n = names(lang);
    let conn = store.conn();
    let tz = settings.timezone();
    let their_cases = person::cases_of(conn, who)?;
    let ids: Vec<i64> = their_cases.iter().map(|c| c.id).collect();
    let their_mail = person::mails_from(conn, who)?;
    let sent = person::sent_to(conn, who, &ids)?;
    let mut files: Vec<String> = Vec::new();
    let write_file = |files: &mut Vec<String>, rel: String, bytes: &[u8]| -> anyhow::Result<()> {
        let path = out.join(&rel);
        if let Some(dir) = path.parent() {
            crate::fsutil::create_private_dir(dir)?;
        }
        crate::fsutil::write_private_atomic(&path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        files.push(rel);
        Ok(())
    };

    // Their mail, as it was received.
    let reference_of = |id: Option<i64>| -> Option<CaseRef> {
        id.and_then(|id| their_cases.iter().find(|c| c.id == id).map(|c| c.reference))
    };
    let mut mails_in = Vec::new();
    let mut third_party_on_others = false;
    for (i, m) in their_mail.iter().enumerate() {
        let own = reference_of(m.case_id);
        let what = match (m.outcome.as_str(), own, m.case_id) {
            ("case_created", Some(_), _) => ("klacht", "complaint"),
            (_, Some(_), _) => ("aanvulling", "follow-up"),
            (_, None, Some(_)) => ("over-een-andere-klacht", "about-another-complaint"),
            _ => ("niet-in-behandeling-genomen", "not-taken-up"),
        };
        third_party_on_others |= own.is_none() && m.case_id.is_some();
        let what = if lang == Language::Nl { what.0 } else { what.1 };
        let file = match mails::raw_of(conn, m.id)? {
            Some(raw) => {
                let rel = format!(
                    "{}/{:03}-{}{}.eml",
                    n.received,
                    i + 1,
                    own.map(|r| format!("{r}-")).unwrap_or_default(),
                    what
                );
                write_file(&mut files, rel.clone(), &raw)?;
                Some(rel)
            }
            None => None,
        };
        mails_in.push(MailEntry {
            file,
            received_at: m.received_at,
            case: own.map(|r| r.to_string()),
            what,
        });
    }

    // What was sent to them.
    let mut mails_out = Vec::new();
    for (i, m) in sent.iter().enumerate() {
        let kind = sent_label(m.kind, lang);
        let rel = format!(
            "{}/{:03}-{}{}.eml",
            n.sent,
            i + 1,
            m.case.map(|r| format!("{r}-")).unwrap_or_default(),
            kind
        );
        write_file(&mut files, rel.clone(), &m.raw)?;
        mails_out.push(SentEntry {
            file: rel,
            case: m.case.map(|r| r.to_string()),
            kind,
            queued_at: m.created_at,
            sent_at: m.sent_at,
        });
    }

    // Their cases, with history and attachments.
    let mut entries = Vec::new();
    let mut attachment_count = 0;
    let mut third_party_on_theirs = false;
    for c in &their_cases {
        let mut attached = Vec::new();
        for (i, a) in cases::attachments_of(conn, c.id)?.into_iter().enumerate() {
            let rel = format!(
                "{}/{}/{}-{}",
                n.attachments,
                c.reference,
                i + 1,
                safe_name(&a.filename)
            );
            write_file(&mut files, rel.clone(), &a.data)?;
            attached.push(rel);
            attachment_count += 1;
        }
        let others = |text: &str| foreign_addresses_out(text, who, settings, lang);
        let history: Vec<HistoryEntry> = cases::events(conn, c.id)?
            .into_iter()
            .map(|e| {
                let other = OTHERS.contains(&e.kind.as_str());
                third_party_on_theirs |= other;
                HistoryEntry {
                    label: crate::domain::wording::event_label(&e.kind, lang),
                    by: if other {
                        None
                    } else {
                        e.actor.as_deref().map(|a| actor_name(a, settings, lang))
                    },
                    detail: if other {
                        match lang {
                            Language::Nl => "(e-mail van iemand anders over uw klacht; niet opgenomen, omdat het gegevens van die ander bevat)".into(),
                            Language::En => "(e-mail from someone else about your complaint; not included, as it holds that person's data)".into(),
                        }
                    } else if e.kind == "follow_up" {
                        // Their own words, as they wrote them.
                        e.detail
                    } else {
                        others(&e.detail)
                    },
                    at: e.at,
                    kind: e.kind,
                }
            })
            .collect();
        let mut shown = c.clone();
        for field in [
            &mut shown.cause,
            &mut shown.solution,
            &mut shown.measure,
            &mut shown.verdict,
        ] {
            *field = field.as_deref().map(others);
        }
        entries.push(CaseEntry {
            case: shown,
            history,
            attachments: attached,
        });
    }

    let overview = overview_text(who, &entries, &mails_in, &mails_out, settings, lang, now);
    write_file(
        &mut files,
        format!("{}.txt", n.overview),
        overview.as_bytes(),
    )?;
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "person": who.as_str(),
        "made_at": now,
        "cases": entries,
        "mails_received": mails_in,
        "mails_sent": mails_out,
    }))?;
    write_file(&mut files, format!("{}.json", n.overview), json.as_bytes())?;

    // The covering letter, last: it lists every file.
    let nothing = their_cases.is_empty() && their_mail.is_empty();
    let today = now.with_timezone(&tz).date_naive();
    let mut context = tera::Context::new();
    context.insert("organisation", &settings.organisation.name);
    context.insert("address", settings.organisation.address.as_str());
    context.insert("today", &templates::long_date(today, lang));
    context.insert(
        "name",
        &their_cases
            .iter()
            .rev()
            .find_map(|c| c.complainant_name.clone()),
    );
    context.insert("person", who.as_str());
    context.insert("nothing", &nothing);
    #[derive(Serialize)]
    struct Line {
        reference: String,
        received: String,
        status: &'static str,
        hold: Option<String>,
    }
    let lines: Vec<Line> = their_cases
        .iter()
        .map(|c| Line {
            reference: c.reference.to_string(),
            received: templates::long_date(c.received_at.with_timezone(&tz).date_naive(), lang),
            status: c.status.label(lang),
            hold: c
                .privacy
                .hold_on(today)
                .map(|h| templates::long_date(h.until, lang)),
        })
        .collect();
    context.insert("holds", &lines.iter().any(|l| l.hold.is_some()));
    context.insert("cases", &lines);
    context.insert("mails_in", &mails_in.len());
    context.insert("mails_out", &mails_out.len());
    context.insert("attachments", &attachment_count);
    context.insert("retention_years", &settings.retention.years);
    context.insert(
        "third_party",
        &(third_party_on_theirs || third_party_on_others),
    );
    let mut listed = files.clone();
    listed.push(format!("{}.txt", n.letter));
    listed.push(format!("{}.html", n.letter));
    context.insert("files", &listed);
    let letter = renderer.render(Template::DossierCover, lang, &context)?;
    write_file(
        &mut files,
        format!("{}.txt", n.letter),
        format!("{}\n\n{}", letter.subject, letter.text).as_bytes(),
    )?;
    write_file(
        &mut files,
        format!("{}.html", n.letter),
        letter.html.as_bytes(),
    )?;

    // Recorded on each case.
    store.transaction(|tx| {
        for c in &their_cases {
            cases::add_event(
                tx,
                c.id,
                now,
                "dossier",
                None,
                "inzageoverzicht gemaakt (AVG artikel 15)",
            )?;
        }
        Ok(())
    })?;
    let mentioned_elsewhere = mentioned_elsewhere(store.conn(), who, &ids)?;
    tracing::info!(
        cases = their_cases.len(),
        mails_in = mails_in.len(),
        mails_out = mails_out.len(),
        "dossier written"
    );
    Ok(Dossier {
        dir: out.to_path_buf(),
        cases: their_cases.iter().map(|c| c.reference).collect(),
        mails_in: mails_in.len(),
        mails_out: mails_out.len(),
        attachments: attachment_count,
        files,
        mentioned_elsewhere,
    })
}

/// `text` (staff's words) with the address of anyone but the person, the organisation and
/// its roles replaced: someone else's data is not theirs to receive (AVG art. 15(4)).
fn foreign_addresses_out(
    text: &str,
    who: &EmailAddress,
    settings: &Settings,
    lang: Language,
) -> String {
    let roles = &settings.roles;
    crate::redact::addresses_with(text, |found| {
        let ours = found.parse::<EmailAddress>().is_ok_and(|a| {
            person::is(a.as_str(), who)
                || roles.role_of(&a).is_some()
                || a.without_tag() == settings.organisation.address.without_tag()
        });
        (!ours).then(|| match lang {
            Language::Nl => "(adres van een ander)".to_string(),
            Language::En => "(someone else's address)".to_string(),
        })
    })
}

/// How a history line names who did it: the complainant is "u", staff by name or role.
fn actor_name(actor: &str, settings: &Settings, lang: Language) -> String {
    if actor == "klager" {
        return match lang {
            Language::Nl => "u".into(),
            Language::En => "you".into(),
        };
    }
    let roles = &settings.roles;
    let Ok(address) = actor.parse::<EmailAddress>() else {
        return actor.to_string();
    };
    if let Some(name) = roles.name_of(&address) {
        return name.to_string();
    }
    match (roles.role_of(&address), lang) {
        (Some(crate::settings::Role::Director), Language::Nl) => "de directeur".into(),
        (Some(crate::settings::Role::Director), Language::En) => "the director".into(),
        (Some(crate::settings::Role::Committee), Language::Nl) => "de examencommissie".into(),
        (Some(crate::settings::Role::Committee), Language::En) => "the exam committee".into(),
        (_, Language::Nl) => "een medewerker".into(),
        (_, Language::En) => "a member of staff".into(),
    }
}

fn sent_label(kind: crate::store::OutboxKind, lang: Language) -> &'static str {
    use crate::store::OutboxKind as K;
    match (kind, lang) {
        (K::Acknowledgement, Language::Nl) => "ontvangstbevestiging",
        (K::Acknowledgement, Language::En) => "acknowledgement",
        (K::Reaction, Language::Nl) => "reactie",
        (K::Reaction, Language::En) => "reply",
        (K::ClosingLetter, Language::Nl) => "afsluitende-brief",
        (K::ClosingLetter, Language::En) => "closing-letter",
        (K::VerdictLetter, Language::Nl) => "uitspraak",
        (K::VerdictLetter, Language::En) => "decision",
        (K::ExtensionNotice, Language::Nl) => "verlenging",
        (K::ExtensionNotice, Language::En) => "extension",
        (_, Language::Nl) => "bericht",
        (_, Language::En) => "message",
    }
}

fn overview_text(
    who: &EmailAddress,
    entries: &[CaseEntry],
    mails_in: &[MailEntry],
    mails_out: &[SentEntry],
    settings: &Settings,
    lang: Language,
    now: DateTime<Utc>,
) -> String {
    let tz = settings.timezone();
    let nl = lang == Language::Nl;
    let at = |t: DateTime<Utc>| {
        t.with_timezone(&tz)
            .format(if nl {
                "%d-%m-%Y %H:%M"
            } else {
                "%d/%m/%Y %H:%M"
            })
            .to_string()
    };
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let when = |t: Option<DateTime<Utc>>| t.map(at).unwrap_or_else(|| "-".into());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {who}, {} {}\n",
        if nl {
            "Overzicht van de gegevens over"
        } else {
            "Overview of the data about"
        },
        if nl { "gemaakt op" } else { "made on" },
        at(now)
    );
    if entries.is_empty() {
        let _ = writeln!(
            out,
            "{}\n",
            if nl {
                "Geen klachten op dit adres."
            } else {
                "No complaints from this address."
            }
        );
    }
    let labels: [(&str, &str); 21] = [
        ("Onderwerp", "Subject"),
        ("Status", "Status"),
        ("Ontvangen", "Received"),
        ("Reactie uiterlijk", "Reply due"),
        ("Gereageerd", "Replied"),
        ("Afhandelen uiterlijk", "Resolution due"),
        ("Afgehandeld", "Resolved"),
        ("Voorgelegd aan de directeur", "Put before the director"),
        ("Beroep ingesteld", "Appealed"),
        ("Uitspraak", "Decision"),
        ("Datum uitspraak", "Decision date"),
        ("Behandelaar", "Handler"),
        ("Categorie", "Category"),
        ("Oorzaak", "Cause"),
        ("Oplossing", "Solution"),
        ("Maatregel", "Measure"),
        ("Akkoord", "Agreement"),
        ("Uw naam", "Your name"),
        ("Langer bewaard", "Legal hold"),
        ("Privacyverzoek", "Privacy request"),
        ("Taal", "Language"),
    ];
    let label = |i: usize| if nl { labels[i].0 } else { labels[i].1 };
    for e in entries {
        let c = &e.case;
        let _ = writeln!(out, "{}\n{}", c.reference, "=".repeat(12));
        let rows: Vec<(usize, String)> = vec![
            (0, c.subject.clone()),
            (1, c.status.label(lang).to_string()),
            (2, at(c.received_at)),
            (3, c.reaction_due.to_string()),
            (4, when(c.reacted_at)),
            (
                5,
                c.closing_due
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
            ),
            (6, when(c.closed_at)),
            (7, when(c.escalated_at)),
            (8, when(c.appealed_at)),
            (9, opt(&c.verdict)),
            (10, when(c.verdict_at)),
            (11, opt(&c.handler)),
            (12, opt(&c.category)),
            (13, opt(&c.cause)),
            (14, opt(&c.solution)),
            (15, opt(&c.measure)),
            (
                16,
                match (c.agreement, nl) {
                    (Some(true), true) => "ja".into(),
                    (Some(false), true) => "nee".into(),
                    (Some(true), false) => "yes".into(),
                    (Some(false), false) => "no".into(),
                    (None, _) => "-".into(),
                },
            ),
            (17, opt(&c.complainant_name)),
            (
                18,
                c.privacy
                    .hold
                    .as_ref()
                    .map(|h| format!("{} ({})", h.until, h.reason))
                    .unwrap_or_else(|| "-".into()),
            ),
            (
                19,
                c.privacy
                    .request
                    .as_ref()
                    .map(|r| format!("{}, {} {}", r.kind.label(nl), r.received, r.due))
                    .unwrap_or_else(|| "-".into()),
            ),
            (20, c.language.clone()),
        ];
        for (i, value) in rows {
            let _ = writeln!(out, "  {:<28} {value}", format!("{}:", label(i)));
        }
        let _ = writeln!(
            out,
            "\n  {}:\n{}\n",
            if nl {
                "Tekst van de klacht"
            } else {
                "Text of the complaint"
            },
            indent(&c.body, 4)
        );
        let _ = writeln!(
            out,
            "  {}:",
            if nl {
                "Geschiedenis (met de aantekeningen van medewerkers)"
            } else {
                "History (with staff notes)"
            }
        );
        for h in &e.history {
            let _ = writeln!(
                out,
                "    {}  {}{}",
                at(h.at),
                h.label,
                h.by.as_deref()
                    .map(|b| format!(" ({b})"))
                    .unwrap_or_default()
            );
            if !h.detail.trim().is_empty() {
                let _ = writeln!(out, "{}", indent(h.detail.trim(), 8));
            }
        }
        if !e.attachments.is_empty() {
            let _ = writeln!(out, "\n  {}:", if nl { "Bijlagen" } else { "Attachments" });
            for a in &e.attachments {
                let _ = writeln!(out, "    {a}");
            }
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{}",
        if nl {
            "E-mails van u die wij ontvingen"
        } else {
            "E-mails from you we received"
        }
    );
    for m in mails_in {
        let _ = writeln!(
            out,
            "  {}  {}  {}",
            at(m.received_at),
            m.what,
            m.file.clone().unwrap_or_else(|| if nl {
                "(de inhoud is niet bewaard)".into()
            } else {
                "(its content was not kept)".into()
            })
        );
    }
    let _ = writeln!(
        out,
        "\n{}",
        if nl {
            "E-mails die wij u stuurden"
        } else {
            "E-mails we sent you"
        }
    );
    for m in mails_out {
        let _ = writeln!(
            out,
            "  {}  {}  {}",
            at(m.sent_at.unwrap_or(m.queued_at)),
            m.kind,
            m.file
        );
    }
    crate::cli::cases::printable(&out)
}

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Other cases that mention `who`'s address in their subject, text or history (their own
/// complainant's data; shown to the administrator, never put in the dossier).
pub fn mentioned_elsewhere(
    conn: &rusqlite::Connection,
    who: &EmailAddress,
    except: &[i64],
) -> anyhow::Result<Vec<CaseRef>> {
    let needle = who.without_tag();
    let mut found = std::collections::BTreeSet::new();
    let mut stmt = conn.prepare(
        "SELECT DISTINCT case_id FROM events WHERE instr(lower(detail), ?1) > 0 OR instr(lower(actor), ?1) > 0",
    )?;
    for id in stmt.query_map([&needle], |r| r.get::<_, i64>(0))? {
        found.insert(id?);
    }
    let mut stmt = conn.prepare("SELECT id FROM cases WHERE purged_at IS NULL ORDER BY id")?;
    let ids: Vec<i64> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in ids {
        if found.contains(&id) || except.contains(&id) {
            continue;
        }
        if let Some(c) = cases::by_id(conn, id)? {
            let text = format!("{}\n{}", c.subject, c.body).to_lowercase();
            if text.contains(&needle) || text.contains(who.as_str()) {
                found.insert(id);
            }
        }
    }
    let mut out = Vec::new();
    for id in found.into_iter().filter(|id| !except.contains(id)) {
        if let Some(c) = cases::by_id(conn, id)? {
            out.push(c.reference);
        }
    }
    Ok(out)
}

/// `klachtd dossier`: writes it (into `out`, or `dossier-<name>-<date>` here) and says what
/// it wrote.
pub fn command(
    settings: &Settings,
    address: &str,
    out: Option<PathBuf>,
    lang: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let who: EmailAddress = address
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}: give the address as the person wrote from"))?;
    let lang = lang.and_then(Language::parse).unwrap_or(Language::Nl);
    let mut store = crate::store::Store::open_existing(&settings.store.path)?;
    let renderer = Renderer::load(Some(&settings.templates.dir))?;
    let today = now.with_timezone(&settings.timezone()).date_naive();
    let out = out.unwrap_or_else(|| {
        PathBuf::from(format!("dossier-{}-{today}", safe_name(who.local_part())))
    });
    let d = write(&mut store, settings, &renderer, &who, &out, lang, now)?;
    let n = names(lang);
    let mut text = format!(
        "dossier of {who} written to {} (readable by you only): {} case(s), {} mail(s) received, {} sent, {} attachment(s), {} files\n",
        d.dir.display(),
        d.cases.len(),
        d.mails_in,
        d.mails_out,
        d.attachments,
        d.files.len()
    );
    text.push_str(&format!(
        "  {}.txt / {}.html is the covering letter; make sure the request comes from this person before you send it (README, \"Privacy and the AVG\")\n",
        n.letter, n.letter
    ));
    if !d.cases.is_empty() {
        let refs: Vec<String> = d.cases.iter().map(ToString::to_string).collect();
        text.push_str(&format!("  recorded on {}\n", refs.join(", ")));
    }
    if !d.mentioned_elsewhere.is_empty() {
        let refs: Vec<String> = d
            .mentioned_elsewhere
            .iter()
            .map(ToString::to_string)
            .collect();
        text.push_str(&format!(
            "  note: the address also appears in other complainants' cases ({}); that is their data and is not in the dossier — look at it before you answer\n",
            refs.join(", ")
        ));
    }
    Ok(crate::cli::cases::printable(&text))
}

/// `klachtd dossier`'s arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The person's e-mail address.
    address: String,
    /// The directory to write (new or empty; default dossier-<name>-<date>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The covering letter's language.
    #[arg(long, value_parser = ["nl", "en"])]
    lang: Option<String>,
}

impl Args {
    /// Runs `klachtd dossier ADDRESS`.
    pub fn run(self, config: Option<&Path>) -> anyhow::Result<std::process::ExitCode> {
        let settings = Settings::load(config)?;
        let now = super::clock_at(None).now();
        print!(
            "{}",
            command(
                &settings,
                &self.address,
                self.out,
                self.lang.as_deref(),
                now
            )?
        );
        Ok(std::process::ExitCode::SUCCESS)
    }
}
