//! The shape of the source tree, measured from the code: a folder per pipeline stage, every
//! module naming only modules of its own stage or of an earlier one, no circle among
//! modules, functions that fit on a screen, files with one job, and one error type. Each
//! rule reads `src/` as text, so breaking one fails here with the module and line.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The stages in pipeline order, and the stages each may name besides itself. A stage not
/// listed here fails the test: a new stage is ranked here first.
const STAGES: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("model", &["error"]),
    ("runtime", &[]),
    ("find", &["model", "runtime", "error"]),
    ("judge", &["find", "model", "runtime", "error"]),
    ("rotate", &["judge", "find", "model", "runtime", "error"]),
    ("harness", &["model", "runtime", "error"]),
    (
        "report",
        &[
            "harness", "rotate", "judge", "find", "model", "runtime", "error",
        ],
    ),
    (
        "cli",
        &[
            "report", "harness", "rotate", "judge", "find", "model", "runtime", "error",
        ],
    ),
];

const MAX_FUNCTION_LINES: usize = 80;
const MAX_FILE_LINES: usize = 700;

struct Module {
    path: PathBuf,
    /// The file's lines up to its `#[cfg(test)]` module: tests aside.
    code: Vec<String>,
    /// `mod x;` declared here.
    children: Vec<String>,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every library module by its path (`find::formats::yaml`; the crate root is `""`).
fn modules() -> BTreeMap<String, Module> {
    let mut found = BTreeMap::new();
    let mut pending = vec![src()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(src()).unwrap().to_str().unwrap();
            if !relative.ends_with(".rs") || relative == "main.rs" {
                continue;
            }
            let name = relative
                .trim_end_matches(".rs")
                .trim_end_matches("/mod")
                .trim_end_matches("lib")
                .replace('/', "::");
            let text = fs::read_to_string(&path).unwrap();
            let code: Vec<String> = text
                .lines()
                .take_while(|line| !line.starts_with("#[cfg(test)]"))
                .map(str::to_owned)
                .collect();
            let children = code
                .iter()
                .filter_map(|line| {
                    let line = line
                        .trim_start_matches("pub ")
                        .trim_start_matches("pub(crate) ");
                    line.strip_prefix("mod ")?
                        .strip_suffix(';')
                        .map(str::to_owned)
                })
                .collect();
            found.insert(
                name,
                Module {
                    path,
                    code,
                    children,
                },
            );
        }
    }
    found
}

fn join(base: &str, segment: &str) -> String {
    if base.is_empty() {
        segment.to_owned()
    } else {
        format!("{base}::{segment}")
    }
}

fn parent(module: &str) -> String {
    module
        .rsplit_once("::")
        .map_or(String::new(), |(p, _)| p.to_owned())
}

/// Expands a use tree starting at `text` (after `crate::`, `super::`, ...) into full
/// paths under `base`: `a::{b, c::{d, e}}` gives `a::b`, `a::c::d`, `a::c::e`.
fn expand(base: &str, text: &str, out: &mut Vec<String>) -> usize {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut path = base.to_owned();
    loop {
        let start = at;
        while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
            at += 1;
        }
        let segment = &text[start..at];
        if !segment.is_empty() && segment != "self" {
            path = join(&path, segment);
        }
        let group = if text[at..].starts_with("::{") {
            Some(3)
        } else {
            (segment.is_empty() && text[at..].starts_with('{')).then_some(1)
        };
        if let Some(open) = group {
            at += open;
            loop {
                at += text[at..].len() - text[at..].trim_start().len();
                if text[at..].starts_with('}') {
                    return at + 1;
                }
                if at >= text.len() {
                    return at;
                }
                at += expand(&path, &text[at..], out);
                at += text[at..].len() - text[at..].trim_start().len();
                if text[at..].starts_with(',') {
                    at += 1;
                }
            }
        }
        if text[at..].starts_with("::") && segment != "super" {
            at += 2;
            continue;
        }
        out.push(path);
        // Skip what closes this item: `as name`, `*`.
        while at < bytes.len() && !matches!(bytes[at], b',' | b'}' | b';' | b'\n') {
            at += 1;
        }
        return at;
    }
}

/// The modules `name` names, with the line where it first names each.
fn references(name: &str, module: &Module, all: &BTreeMap<String, Module>) -> Vec<(String, usize)> {
    // The whole file at once: a use tree may span lines.
    let text = module.code.join("\n");
    let mut paths: Vec<(String, usize)> = Vec::new();
    let mut found = |base: &str, at: usize, rest: &str| {
        let mut expanded = Vec::new();
        expand(base, rest, &mut expanded);
        paths.extend(expanded.into_iter().map(|path| (path, at)));
    };
    let ends_a_word = |at: usize, colons: bool| {
        !text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || (colons && c == ':'))
    };
    for (prefix, base) in [("crate::", String::new()), ("self::", name.to_owned())] {
        for (at, _) in text.match_indices(prefix) {
            if ends_a_word(at, true) {
                found(&base, at, &text[at + prefix.len()..]);
            }
        }
    }
    let mut from = name.to_owned();
    for (at, _) in text.match_indices("super::") {
        if !ends_a_word(at, false) {
            continue;
        }
        if ends_a_word(at, true) {
            from = name.to_owned();
        }
        // `super` of a file `a::b` is `a`; of a folder's `mod.rs` (`a`), the crate root.
        from = parent(&from);
        let rest = &text[at + "super::".len()..];
        if !rest.starts_with("super::") {
            found(&from, at, rest);
        }
    }
    for child in &module.children {
        for (at, _) in text.match_indices(&format!("{child}::")) {
            if ends_a_word(at, true) {
                found(name, at, &text[at..]);
            }
        }
    }
    let mut named = Vec::new();
    for (path, at) in paths {
        // The deepest module the path names.
        let mut target = path;
        while !all.contains_key(&target) && !target.is_empty() {
            target = parent(&target);
        }
        if target != name && !target.is_empty() {
            named.push((target, text[..at].matches('\n').count() + 1));
        }
    }
    named
}

fn stage(module: &str) -> &str {
    module.split("::").next().unwrap()
}

#[test]
fn no_module_names_a_later_stage() {
    let all = modules();
    let mut violations = Vec::new();
    for (name, module) in &all {
        if name.is_empty() {
            continue;
        }
        let Some((_, allowed)) = STAGES.iter().find(|(s, _)| *s == stage(name)) else {
            violations.push(format!("{name}: stage {} is not ranked", stage(name)));
            continue;
        };
        for (target, line) in references(name, module, &all) {
            if stage(&target) != stage(name) && !allowed.contains(&stage(&target)) {
                violations.push(format!(
                    "{}:{line}: {name} names {target}",
                    module.path.display()
                ));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

/// Tarjan's strongly connected components over the module graph: any component of more
/// than one module is a circle.
#[test]
fn no_circle_among_modules() {
    let all = modules();
    let mut edges: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (name, module) in &all {
        let targets = references(name, module, &all).into_iter().map(|(t, _)| t);
        edges.entry(name).or_default().extend(targets);
    }
    let circles = components(&edges);
    assert!(
        circles.is_empty(),
        "modules that name each other:\n{}",
        circles
            .iter()
            .map(|c| c.join(" ↔ "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn components(edges: &BTreeMap<&str, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<&'a str, BTreeSet<String>>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        on_stack: BTreeSet<String>,
        found: Vec<Vec<String>>,
    }
    fn visit(state: &mut State, node: &str) {
        let next = state.index.len();
        state.index.insert(node.to_owned(), next);
        state.low.insert(node.to_owned(), next);
        state.stack.push(node.to_owned());
        state.on_stack.insert(node.to_owned());
        let targets: Vec<String> = state
            .edges
            .get(node)
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        for target in targets {
            if !state.index.contains_key(&target) {
                visit(state, &target);
                let low = state.low[node].min(state.low[&target]);
                state.low.insert(node.to_owned(), low);
            } else if state.on_stack.contains(&target) {
                let low = state.low[node].min(state.index[&target]);
                state.low.insert(node.to_owned(), low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            loop {
                let member = state.stack.pop().unwrap();
                state.on_stack.remove(&member);
                let done = member == node;
                component.push(member);
                if done {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in edges.keys() {
        if !state.index.contains_key(*node) {
            visit(&mut state, node);
        }
    }
    state.found
}

/// Where each function of `code` starts and how many lines it spans, signature to closing
/// brace (a function's body closes at the indentation its `fn` line opened at).
fn function_lengths(code: &[String]) -> Vec<(usize, usize, String)> {
    let mut found = Vec::new();
    for (start, line) in code.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let signature = [
            "pub fn ",
            "pub(crate) fn ",
            "fn ",
            "pub const fn ",
            "const fn ",
        ]
        .iter()
        .find_map(|prefix| trimmed.strip_prefix(prefix));
        let Some(signature) = signature else { continue };
        let name: String = signature
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // A declaration without a body (in a trait), or a body on one line.
        let header_end = code[start..]
            .iter()
            .position(|l| l.contains('{') || l.trim_end().ends_with(';'))
            .map(|offset| start + offset);
        let Some(header_end) = header_end else {
            continue;
        };
        if !code[header_end].contains('{') || code[header_end].trim_end().ends_with('}') {
            continue;
        }
        let close = format!("{indent}}}");
        if let Some(offset) = code[header_end..]
            .iter()
            .position(|l| l.starts_with(&close))
        {
            found.push((start + 1, header_end + offset - start + 1, name));
        }
    }
    found
}

#[test]
fn every_library_function_fits_on_a_screen() {
    let mut long = Vec::new();
    for module in modules().values() {
        for (line, length, name) in function_lengths(&module.code) {
            if length > MAX_FUNCTION_LINES {
                long.push(format!(
                    "{}:{line}: {name} is {length} lines",
                    module.path.display()
                ));
            }
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn function_lengths_are_measured_from_signature_to_closing_brace() {
    let code: Vec<String> = "fn one() {\n    body();\n}\ntrait T {\n    fn declared(&self);\n    fn inline(&self) { x }\n}\n    fn nested(\n        a: u8,\n    ) -> u8 {\n        a\n    }\n"
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        function_lengths(&code),
        vec![(1, 3, "one".to_owned()), (8, 5, "nested".to_owned())]
    );
}

#[test]
fn every_file_has_one_job() {
    let large: Vec<String> = modules()
        .values()
        .filter(|module| module.code.len() > MAX_FILE_LINES)
        .map(|module| format!("{}: {} lines", module.path.display(), module.code.len()))
        .collect();
    assert!(large.is_empty(), "{}", large.join("\n"));
}

#[test]
fn the_library_returns_its_error_type_not_strings() {
    let mut found = Vec::new();
    for module in modules().values() {
        for (index, line) in module.code.iter().enumerate() {
            let compact: String = line.split_whitespace().collect();
            if compact.contains("Result<") && compact.contains(",String>") {
                found.push(format!(
                    "{}:{}: {}",
                    module.path.display(),
                    index + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_crate_root_holds_only_the_stage_folders_and_at_most_four_files() {
    let files: Vec<String> = fs::read_dir(src())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(files.len() <= 4, "{files:?}");
}

#[test]
fn every_stage_folder_says_what_it_owns_takes_and_returns() {
    for (stage, _) in STAGES {
        let path = src().join(stage).join("mod.rs");
        let path = if path.exists() {
            path
        } else {
            src().join(format!("{stage}.rs"))
        };
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("//! "),
            "{} has no //! header",
            path.display()
        );
    }
}

#[test]
fn the_use_tree_expansion_names_every_leaf() {
    let mut paths = Vec::new();
    expand(
        "",
        "find::{scan::{self, Scan}, walk, sweep::Stray as S};",
        &mut paths,
    );
    assert_eq!(
        paths,
        [
            "find::scan",
            "find::scan::Scan",
            "find::walk",
            "find::sweep::Stray"
        ]
    );
}
