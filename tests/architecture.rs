//! The layers of src/ hold (issue 26): reading every `crate::` and `super::` path in the
//! library's files (unit-test modules left out), no file imports a module of a layer above its
//! own, and no file reaches itself through the imports of others. A parent `mod.rs` declaring
//! its children is no import; a child using its parent's items is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first: a module may import its own layer and those below it. A module
/// is placed by the longest entry that is a prefix of its path; every module must have one.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "leaf utilities",
        &[
            "clock",
            "config_errors",
            "failpoint",
            "fsutil",
            "hex",
            "redact",
        ],
    ),
    ("domain", &["domain"]),
    ("settings", &["settings"]),
    ("store", &["store"]),
    ("inbound/outbound/auth", &["inbound", "outbound", "auth"]),
    ("commands", &["commands"]),
    ("registration", &["registration"]),
    ("intake/casework", &["intake", "casework"]),
    ("jobs", &["jobs"]),
    ("service", &["service"]),
    ("cli", &["cli"]),
];

/// `src/store/cases.rs` → `store::cases`; `src/store/mod.rs` → `store`; `src/lib.rs` → ``.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's code without its unit-test modules (they stand at the end of a file: clippy's
/// `items_after_test_module`) and without comment lines.
fn code_of(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut code = String::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if t == "#[cfg(test)]" {
            let next = lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty());
            if next.is_some_and(|n| n.starts_with("mod ") || n.starts_with("pub(crate) mod ")) {
                break;
            }
        }
        if t.starts_with("//") {
            continue;
        }
        code.push_str(line);
        code.push('\n');
    }
    code
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path a `crate::…` or `super::…` at `at` names, groups (`{a, b::{c}}`) expanded,
/// as the segments after the keyword (`super`s kept as segments).
fn paths_at(code: &str, at: usize) -> Vec<Vec<String>> {
    fn walk(s: &[char], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        let mut path = prefix;
        loop {
            let start = *i;
            while *i < s.len() && is_ident(s[*i]) {
                *i += 1;
            }
            if *i > start {
                let seg: String = s[start..*i].iter().collect();
                if seg != "self" {
                    path.push(seg);
                }
            }
            if s[*i..].starts_with(&[':', ':']) {
                *i += 2;
                if *i < s.len() && s[*i] == '{' {
                    *i += 1;
                    loop {
                        while *i < s.len() && (s[*i].is_whitespace() || s[*i] == ',') {
                            *i += 1;
                        }
                        if *i >= s.len() || s[*i] == '}' {
                            *i += 1;
                            return;
                        }
                        walk(s, i, path.clone(), out);
                        // Skip `as name` and anything else up to the item's end.
                        while *i < s.len() && s[*i] != ',' && s[*i] != '}' {
                            *i += 1;
                        }
                    }
                }
                continue;
            }
            out.push(path);
            return;
        }
    }
    let chars: Vec<char> = code[at..].chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    walk(&chars, &mut i, Vec::new(), &mut out);
    out
}

struct Crate {
    /// Module path → its file, relative to the package.
    files: BTreeMap<String, String>,
    /// Module → the modules its code names, each with the path as written (one example).
    edges: BTreeMap<String, BTreeMap<String, String>>,
}

fn read_crate() -> Crate {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let mut files = BTreeMap::new();
    let mut texts = BTreeMap::new();
    for path in paths {
        // The binary is a crate of its own; a file that is a test module is no code.
        if path == src.join("main.rs") || path.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let module = module_of(&src, &path);
        let shown = path.strip_prefix(root).unwrap().display().to_string();
        texts.insert(module.clone(), std::fs::read_to_string(&path).unwrap());
        files.insert(module, shown);
    }
    // The longest prefix of `segments` that is a module.
    let resolve = |segments: &[String]| -> Option<String> {
        (1..=segments.len())
            .rev()
            .map(|n| segments[..n].join("::"))
            .find(|m| files.contains_key(m))
    };
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (module, text) in &texts {
        let code = code_of(text);
        for keyword in ["crate::", "super::"] {
            for (at, _) in code.match_indices(keyword) {
                if code[..at].chars().next_back().is_some_and(is_ident) {
                    continue;
                }
                let after = at + keyword.len();
                for tail in paths_at(&code, after) {
                    let mut segments: Vec<String> = if keyword == "crate::" {
                        Vec::new()
                    } else {
                        // `super` is the module above this file's own (for `store/mod.rs`,
                        // the module `store`, that is the crate).
                        let mut base: Vec<String> = module
                            .split("::")
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect();
                        base.pop();
                        base
                    };
                    for seg in tail {
                        if seg == "super" {
                            segments.pop();
                        } else {
                            segments.push(seg);
                        }
                    }
                    let written = format!("crate::{}", segments.join("::"));
                    if let Some(target) = resolve(&segments)
                        && target != *module
                        && !target.is_empty()
                    {
                        edges
                            .entry(module.clone())
                            .or_default()
                            .entry(target)
                            .or_insert(written);
                    }
                }
            }
        }
    }
    Crate { files, edges }
}

/// The layer a module stands in: its index in [`LAYERS`] and its name.
fn layer_of(module: &str) -> Option<(usize, &'static str)> {
    let top = module.split("::").next().unwrap();
    LAYERS
        .iter()
        .enumerate()
        .find(|(_, (_, modules))| modules.contains(&top))
        .map(|(i, (name, _))| (i, *name))
}

#[test]
fn every_module_stands_in_a_layer() {
    let c = read_crate();
    let loose: Vec<&String> = c
        .files
        .keys()
        .filter(|m| !m.is_empty() && layer_of(m).is_none())
        .collect();
    assert!(
        loose.is_empty(),
        "modules without a layer (add them to LAYERS in tests/architecture.rs): {loose:?}"
    );
}

#[test]
fn no_file_imports_a_layer_above_its_own() {
    let c = read_crate();
    let mut violations = Vec::new();
    for (from, targets) in &c.edges {
        let Some((own, own_name)) = layer_of(from) else {
            continue;
        };
        for (to, written) in targets {
            let Some((theirs, their_name)) = layer_of(to) else {
                continue;
            };
            if theirs > own {
                violations.push(format!(
                    "{} imports {written} (layer {their_name} above {own_name})",
                    c.files[from]
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports against the layers:\n{}",
        violations.join("\n")
    );
}

#[test]
fn no_circle_between_files() {
    let c = read_crate();
    // Each circle once: from every module, a path back to itself through modules after it.
    let modules: Vec<&String> = c.files.keys().collect();
    let mut circles = BTreeSet::new();
    for start in &modules {
        let mut stack = vec![(start.to_string(), vec![start.to_string()])];
        let mut seen = BTreeSet::new();
        while let Some((at, path)) = stack.pop() {
            for next in c.edges.get(&at).map(|t| t.keys()).into_iter().flatten() {
                if next == *start {
                    let files: Vec<&str> = path.iter().map(|m| c.files[m].as_str()).collect();
                    circles.insert(format!("{} -> {}", files.join(" -> "), c.files[next]));
                } else if next > *start && seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files that reach themselves through the imports of others:\n{}",
        circles.into_iter().collect::<Vec<_>>().join("\n")
    );
}

/// The reader itself: it sees grouped, nested, renamed and `super` paths.
#[test]
fn the_reader_sees_every_path() {
    let code = "crate::store::{self, cases::{Case, get as g}, outbox}; super::super::x::Y";
    let all = paths_at(code, "crate::".len());
    let joined: Vec<String> = all.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        joined,
        [
            "store",
            "store::cases::Case",
            "store::cases::get",
            "store::outbox"
        ]
    );
    let at = code.find("super::").unwrap() + "super::".len();
    assert_eq!(paths_at(code, at), [vec!["super", "x", "Y"]]);
    let c = read_crate();
    // A child using its parent's items is an import (src/store/cases.rs uses `super::ts`).
    assert!(c.edges["store::cases"].contains_key("store"));
    assert_eq!(
        module_of(Path::new("src"), Path::new("src/store/mod.rs")),
        "store"
    );
}

#[test]
fn main_only_parses_logs_and_dispatches() {
    let main = include_str!("../src/main.rs");
    let lines = main.lines().count();
    assert!(
        lines < 150,
        "src/main.rs has {lines} lines: a subcommand's code belongs in its file under src/cli/"
    );
}
