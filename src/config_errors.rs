//! Configuration errors that read like the rest of klachtd: the full key, where the value came
//! from (the file or the environment variable), the values an enum allows, and the known key
//! a misspelt one was probably meant to be. Rewrites the loader's (serde's) messages.

use std::path::Path;

/// The values each enum accepts, by the type name serde reports.
const ENUMS: &[(&str, &[&str])] = &[
    ("InboundKind", &["maildir", "imap"]),
    ("OutboundKind", &["file", "smtp"]),
    ("TlsMode", &["implicit", "starttls", "none"]),
    ("Language", &["nl", "en"]),
    ("IntakeMode", &["all", "keywords"]),
    ("LiberationDay", &["lustrum", "yearly", "never"]),
    ("AuthKind", &["password", "oauth2"]),
    (
        "TokenSourceKind",
        &[
            "client_credentials",
            "refresh_token",
            "token_command",
            "client_certificate",
            "service_account",
        ],
    ),
    ("SaslMechanism", &["xoauth2", "oauthbearer"]),
    ("Platform", &["own-server", "microsoft365", "google"]),
    ("OwnServer", &["milters", "rspamd"]),
    ("NewComplaintsTo", &["staff", "group", "director"]),
];

/// `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
pub(crate) fn one_of(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

/// The environment variable that sets `key`.
pub(crate) fn env_name(key: &str) -> String {
    format!("KLACHTD__{}", key.replace('.', "__").to_uppercase())
}

/// " (from the environment variable …)", " (in FILE)", or "" for the built-in defaults.
pub(crate) fn origin(key: &str, file: Option<&Path>, env_keys: &[String]) -> String {
    let var = env_name(key);
    if let Some(k) = env_keys.iter().find(|k| k.eq_ignore_ascii_case(&var)) {
        return format!(" (from the environment variable {k})");
    }
    if let Some(f) = file {
        let in_file = config::Config::builder()
            .add_source(config::File::from(f).format(config::FileFormat::Toml))
            .build()
            .is_ok_and(|c| c.get::<config::Value>(key).is_ok());
        if in_file {
            return format!(" (in {})", f.display());
        }
    }
    String::new()
}

/// The loader's message, rewritten.
pub(crate) fn explain(msg: &str, file: Option<&Path>, env_keys: &[String]) -> String {
    let msg = msg.trim_end_matches(" in the environment");
    // "enum InboundKind does not have variant constructor imapp for key `inbound.kind`"
    if let Some(rest) = msg.strip_prefix("enum ") {
        let ty = rest.split(' ').next().unwrap_or_default();
        let value = between(rest, "variant constructor ", " for key `");
        let key = between(rest, "for key `", "`");
        let allowed = ENUMS.iter().find(|(t, _)| *t == ty).map(|(_, v)| *v);
        if let (Some(value), Some(key), Some(allowed)) = (value, key, allowed) {
            return format!(
                "{key} must be {}, not \"{value}\"{}",
                one_of(allowed),
                origin(key, file, env_keys)
            );
        }
    }
    // "unknown field `foo`, expected `a` or `b` for key `deadlines`"
    if let Some(field) = between(msg, "unknown field `", "`") {
        let parent = between(msg, "for key `", "`");
        let key = match parent {
            Some(p) => format!("{p}.{field}"),
            None => field.to_string(),
        };
        let expected: Vec<&str> = msg
            .split_once("expected")
            .map(|(_, list)| list.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        let closest = expected
            .iter()
            .map(|e| (strsim::levenshtein(field, e), *e))
            .filter(|(d, _)| *d <= 3)
            .min();
        let hint = match (closest, parent) {
            (Some((_, e)), Some(p)) => format!("; did you mean {p}.{e}?"),
            (Some((_, e)), None) => format!("; did you mean [{e}]?"),
            (None, Some(p)) => format!("; {p} has {}", expected.join(", ")),
            (None, None) => String::new(),
        };
        return format!("unknown key {key}{}{hint}", origin(&key, file, env_keys));
    }
    // Anything else that names its key: say where the value came from.
    if let Some(key) = between(msg, "for key `", "`") {
        return format!("{msg}{}", origin(key, file, env_keys));
    }
    msg.to_string()
}

/// For a checked setting's message (`invalid configuration: KEY: why`): where KEY came from.
pub(crate) fn origin_of_message(msg: &str, file: Option<&Path>, env_keys: &[String]) -> String {
    between(msg, "invalid configuration: ", ":")
        .map(|key| origin(key, file, env_keys))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use proptest::prelude::*;

    fn load_env(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        Settings::load_with_env(
            None,
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .map_err(|e| format!("{e:#}"))
    }

    /// Every key of each enum, set from the environment.
    const ENUM_KEYS: &[(&str, &str)] = &[
        ("inbound.kind", "InboundKind"),
        ("outbound.kind", "OutboundKind"),
        ("inbound.imap.tls", "TlsMode"),
        ("outbound.smtp.tls", "TlsMode"),
        ("organisation.language", "Language"),
        ("intake.mode", "IntakeMode"),
        ("calendar.liberation_day", "LiberationDay"),
        ("inbound.imap.auth", "AuthKind"),
        ("outbound.smtp.auth", "AuthKind"),
        ("oauth2.source", "TokenSourceKind"),
        ("oauth2.mechanism", "SaslMechanism"),
        ("security.platform", "Platform"),
        ("security.own_server", "OwnServer"),
    ];

    #[test]
    fn an_enum_lists_its_values_and_the_variable_it_came_from() {
        let err = load_env(&[("KLACHTD__INBOUND__KIND", "imapp")]).unwrap_err();
        assert_eq!(
            err,
            "invalid configuration: inbound.kind must be \"maildir\" or \"imap\", not \"imapp\" \
             (from the environment variable KLACHTD__INBOUND__KIND)"
        );
    }

    #[test]
    fn every_listed_value_is_accepted_by_its_enum() {
        for (key, ty) in ENUM_KEYS {
            let allowed = ENUMS.iter().find(|(t, _)| t == ty).unwrap().1;
            for value in allowed {
                let mut env = vec![(env_name(key), value.to_string())];
                // Values that need more settings to be complete.
                if *value == "imap" || *key == "inbound.imap.auth" {
                    env.push(("KLACHTD__INBOUND__IMAP__PASSWORD".into(), "x".into()));
                }
                let r = Settings::load_with_env(None, env.clone());
                if let Err(e) = r {
                    let e = format!("{e:#}");
                    assert!(!e.contains(key), "{key} = {value} refused: {e}");
                }
            }
        }
    }

    #[test]
    fn an_unknown_key_in_a_file_names_the_file_and_the_likely_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(&path, "[deadlines]\nreaction_workingdays = 4\n").unwrap();
        let err = format!(
            "{:#}",
            Settings::load_with_env(Some(&path), Vec::new()).unwrap_err()
        );
        assert_eq!(
            err,
            format!(
                "invalid configuration: unknown key deadlines.reaction_workingdays (in {}); did \
                 you mean deadlines.reaction_working_days?",
                path.display()
            )
        );
        std::fs::write(&path, "[alert]\nafter_minutes = 4\n").unwrap();
        let err = format!(
            "{:#}",
            Settings::load_with_env(Some(&path), Vec::new()).unwrap_err()
        );
        assert!(
            err.contains("unknown key alert") && err.contains("did you mean [alerts]?"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_variable_is_named() {
        let err = load_env(&[("KLACHTD__DEADLINES__FOO", "1")]).unwrap_err();
        assert!(
            err.starts_with("invalid configuration: unknown key deadlines.foo (from the environment variable KLACHTD__DEADLINES__FOO); deadlines has reaction_working_days, closing_working_days"),
            "{err}"
        );
    }

    #[test]
    fn a_number_out_of_range_is_refused_at_load_naming_its_source() {
        let err = load_env(&[("KLACHTD__RETENTION__YEARS", "51")]).unwrap_err();
        assert_eq!(
            err,
            "invalid configuration: retention.years: must be between 1 and 50 (from the \
             environment variable KLACHTD__RETENTION__YEARS)"
        );
        let err = load_env(&[("KLACHTD__RETENTION__YEARS", "-1")]).unwrap_err();
        assert!(
            err.contains("retention.years") && err.contains("KLACHTD__RETENTION__YEARS"),
            "{err}"
        );
    }

    proptest! {
        /// Any value that is not one of an enum's values is refused with a message that names
        /// the key, lists exactly the allowed values, and quotes what was given.
        #[test]
        fn any_other_enum_value_is_refused_with_the_list(
            which in 0..ENUM_KEYS.len(),
            value in "[a-z][a-z0-9_]{0,12}",
        ) {
            let (key, ty) = ENUM_KEYS[which];
            let allowed = ENUMS.iter().find(|(t, _)| *t == ty).unwrap().1;
            prop_assume!(!allowed.contains(&value.as_str()));
            let err = load_env(&[(&env_name(key), &value)]).unwrap_err();
            let expected = format!("{key} must be {}, not \"{value}\"", one_of(allowed));
            prop_assert!(err.contains(&expected), "{}", err);
        }

        /// An unknown key in any section of a file, or in the environment, is named in full
        /// with where it came from.
        #[test]
        fn any_unknown_key_is_named_with_its_origin(
            section in proptest::sample::select(vec![
                "organisation", "inbound", "outbound", "store", "roles", "calendar",
                "deadlines", "intake", "templates", "security", "causes", "reminders",
                "digest", "retention", "oauth2", "alerts",
            ]),
            key in "zz_[a-z]{1,6}(_[a-z]{1,5})?",
            from_env in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("k.toml");
            let (file, env) = if from_env {
                (None, vec![(env_name(&format!("{section}.{key}")), "1".to_string())])
            } else {
                std::fs::write(&path, format!("[{section}]\n{key} = 1\n")).unwrap();
                (Some(path.as_path()), Vec::new())
            };
            let err = format!("{:#}", Settings::load_with_env(file, env).unwrap_err());
            let origin = if from_env {
                format!("(from the environment variable {})", env_name(&format!("{section}.{key}")))
            } else {
                format!("(in {})", path.display())
            };
            let expected = format!("unknown key {section}.{key} {origin}");
            prop_assert!(err.contains(&expected), "{}", err);
        }

        /// A retention period is accepted exactly when it is 1 to 50 years.
        #[test]
        fn retention_years_range(years in 0u32..200) {
            let r = load_env(&[("KLACHTD__RETENTION__YEARS", &years.to_string())]);
            prop_assert_eq!(r.is_ok(), (1..=50).contains(&years));
        }
    }
}
