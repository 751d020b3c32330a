//! The README's walkthrough, run as written: every ```console block between the
//! `<!-- walkthrough: start -->` and `<!-- walkthrough: end -->` markers is read, each
//! `$ ` line runs in one shell session from the top of (a copy of) the project, so `cd`,
//! variables and exports carry over as they do for a reader typing them, with the built
//! `rekey` first on `PATH`, and its exit status and output must be what the README shows. The demo's
//! tokens are made up; none of them may appear in any output, not even in part.

mod common;

use base64::alphabet;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use common::*;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

/// One `$ ` command of the walkthrough and what the README says it does.
#[derive(Debug)]
struct Step {
    command: String,
    /// From a trailing `# exit N` comment; 0 without one.
    status: i32,
    /// The output lines shown under the command: `...` alone skips any number of lines,
    /// `...` inside a line stands for any text (a commit id, a temporary directory).
    expected: Vec<String>,
}

/// Printed by the session after each command, with its exit status; never in rekey's output.
const MARKER: &str = "@@walkthrough-step-done@@";

fn readme_walkthrough() -> String {
    let readme = fs::read_to_string(project().join("README.md")).unwrap();
    let start = readme
        .find("<!-- walkthrough: start -->")
        .expect("README.md has no <!-- walkthrough: start --> marker");
    let end = readme
        .find("<!-- walkthrough: end -->")
        .expect("README.md has no <!-- walkthrough: end --> marker");
    assert!(start < end, "the walkthrough markers are out of order");
    readme[start..end].to_owned()
}

/// The steps of every ```console block in `section`, in order.
fn steps(section: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_console = false;
    for line in section.lines() {
        if !in_console {
            in_console = line.trim_end() == "```console";
            continue;
        }
        if line.trim_end() == "```" {
            in_console = false;
        } else if let Some(command) = line.strip_prefix("$ ") {
            assert!(
                !command.ends_with('\\'),
                "a walkthrough command continues on the next line; keep it on one: {command}"
            );
            steps.push(Step {
                command: command.to_owned(),
                status: stated_status(command),
                expected: Vec::new(),
            });
        } else {
            let step = steps
                .last_mut()
                .unwrap_or_else(|| panic!("output before any `$ ` command: {line}"));
            step.expected.push(line.trim_end().to_owned());
        }
    }
    assert!(
        !in_console,
        "a ```console block of the walkthrough is not closed"
    );
    steps
}

fn stated_status(command: &str) -> i32 {
    match command.rsplit_once("# exit ") {
        Some((_, status)) => status
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("`# exit` needs a number: {command}")),
        None => 0,
    }
}

/// Runs every step in one `sh` session, stdout and stderr in one stream as a terminal shows
/// them; returns each step's exit status and output. The session starts in a copy of the
/// project's top holding its `fixtures/`, so a step that goes wrong (a `cd` that fails)
/// cannot commit or branch in the project's own repository.
fn run_session(steps: &[Step], scratch: &Path) -> Vec<(i32, String)> {
    let mut script = String::from("exec 2>&1 </dev/null\n");
    for step in steps {
        script.push_str(&step.command);
        script.push_str(&format!("\nprintf '\\n{MARKER} %d\\n' \"$?\"\n"));
    }
    let clone = scratch.join("clone");
    copy_tree(&fixtures(), &clone.join("fixtures"));
    let home = scratch.join("home");
    let tmp = scratch.join("tmp");
    fs::create_dir_all(&home).unwrap();
    fs::create_dir_all(&tmp).unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(&clone)
        .env("PATH", path_with_rekey())
        // The reader's own machine stays out: git reads a fresh HOME, temp files go
        // under the scratch directory, and no policy or Harness account comes from the
        // environment.
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", &home)
        .env("TMPDIR", &tmp)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .envs(IDENTITY)
        .env_remove("NEW_TOKEN")
        .env_remove("REKEY_CONFIG")
        .env_remove("HARNESS_ACCOUNT_ID")
        .env_remove("HARNESS_PLATFORM_API_KEY")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let transcript = String::from_utf8(output.stdout).unwrap();
    split_transcript(&transcript, steps.len())
}

fn split_transcript(transcript: &str, steps: usize) -> Vec<(i32, String)> {
    let mut results = Vec::new();
    let mut rest = transcript;
    while let Some(at) = rest.find(&format!("\n{MARKER} ")) {
        let (output, after) = (&rest[..at], &rest[at + 1 + MARKER.len() + 1..]);
        let (status, after) = after.split_once('\n').unwrap();
        results.push((status.parse().unwrap(), output.to_owned()));
        rest = after;
    }
    assert_eq!(
        results.len(),
        steps,
        "the session stopped early; its output:\n{transcript}"
    );
    results
}

/// Whether `actual` (one line) is what the README line `expected` shows.
fn line_matches(expected: &str, actual: &str) -> bool {
    let actual = actual.trim_end();
    let mut parts = expected.split("...");
    let first = parts.next().unwrap();
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Whether the whole of `actual` is what the README shows: the lines between `...` lines
/// appear together and in order, the first at the start unless a `...` comes first, the
/// last at the end unless a `...` comes last.
fn output_matches(expected: &[String], actual: &str) -> bool {
    let actual: Vec<&str> = actual.lines().collect();
    let segments: Vec<&[String]> = expected.split(|line| line == "...").collect();
    let matches_at = |segment: &[String], at: usize| {
        at + segment.len() <= actual.len()
            && segment
                .iter()
                .zip(&actual[at..])
                .all(|(want, got)| line_matches(want, got))
    };
    let (first, rest) = segments.split_first().unwrap();
    if !matches_at(first, 0) {
        return false;
    }
    let mut cursor = first.len();
    let Some((last, middle)) = rest.split_last() else {
        return cursor == actual.len();
    };
    for segment in middle {
        match (cursor..=actual.len()).find(|&at| matches_at(segment, at)) {
            Some(at) => cursor = at + segment.len(),
            None => return false,
        }
    }
    let last_at = actual.len().saturating_sub(last.len());
    last_at >= cursor && matches_at(last, last_at)
}

/// Every token the walkthrough's inputs hold, in each form rekey could print: the 32 hex
/// digits in either case, and their base64 once and twice. Read from the files, so a token
/// added to the demo is covered too.
fn token_forms() -> Vec<String> {
    let mut inputs = vec![new_token_file()];
    collect_files(&fixtures().join("demo"), &mut inputs);
    collect_files(&fixtures().join("live"), &mut inputs);
    let mut tokens = Vec::new();
    for path in inputs {
        let text = String::from_utf8_lossy(&fs::read(path).unwrap()).into_owned();
        // `=` ends a word: it glues a value to its key (`KEY=value`) as often as it pads.
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || "+/".contains(c))) {
            tokens.extend(as_token(word));
        }
    }
    tokens.sort();
    tokens.dedup();
    let mut forms = Vec::new();
    for hex in tokens {
        let once = BASE64.encode(&hex);
        forms.push(BASE64.encode(&once));
        forms.push(once);
        forms.push(hex.to_uppercase());
        forms.push(hex);
    }
    forms
}

fn collect_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The token `word` is, in lowercase hex: 32 hex digits, or base64 of them once or twice.
fn as_token(word: &str) -> Option<String> {
    let is_hex = |text: &str| text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit());
    let padding_optional = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let mut layer = word.to_owned();
    for _ in 0..3 {
        if is_hex(&layer) {
            return Some(layer.to_ascii_lowercase());
        }
        layer = String::from_utf8(padding_optional.decode(&layer).ok()?).ok()?;
    }
    None
}

#[test]
fn the_readme_walkthrough_runs_as_written_on_the_demo() {
    let steps = steps(&readme_walkthrough());
    assert!(
        steps
            .iter()
            .any(|step| step.command.starts_with("rekey revoke")),
        "the walkthrough must go all the way to revoking the old token: {steps:#?}"
    );
    let scratch = tempfile::tempdir().unwrap();
    let results = run_session(&steps, scratch.path());
    let forms = token_forms();
    for form in [NEW_HEX, OLD_BASE64, OTHER_HEX] {
        assert!(
            forms.contains(&form.to_owned()),
            "{form} not read from the fixtures"
        );
    }
    let mut failures = Vec::new();
    for (step, (status, output)) in steps.iter().zip(&results) {
        for form in &forms {
            for piece in form.as_bytes().windows(12) {
                let piece = std::str::from_utf8(piece).unwrap();
                assert!(
                    !output.contains(piece),
                    "`{}` printed 12 characters of a token ({piece}):\n{output}",
                    step.command
                );
            }
        }
        if *status != step.status || !output_matches(&step.expected, output) {
            failures.push(format!(
                "$ {}\nREADME: exit {}, output:\n{}\nreal: exit {status}, output:\n{output}\n",
                step.command,
                step.status,
                step.expected.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_ellipsis_line_skips_lines_and_an_ellipsis_in_a_line_skips_text() {
    let expected = |lines: &[&str]| {
        lines
            .iter()
            .map(|line| line.to_string())
            .collect::<Vec<_>>()
    };
    let output = "one\ntwo\nthree\nCommitted 5d9a117 on rotate-demo.\nfour\n";
    assert!(output_matches(&expected(&["one", "...", "four"]), output));
    assert!(output_matches(
        &expected(&["...", "Committed ... on rotate-demo.", "four"]),
        output
    ));
    assert!(output_matches(&expected(&["one", "two", "..."]), output));
    // Without `...`, every line counts: none may be left out, added or reordered.
    assert!(!output_matches(&expected(&["one", "three", "..."]), output));
    assert!(!output_matches(&expected(&["one", "..."]), ""));
    assert!(!output_matches(
        &expected(&["...", "three", "two", "..."]),
        output
    ));
    assert!(!output_matches(&expected(&["one", "two", "three"]), output));
    assert!(!output_matches(
        &expected(&["...", "Committed ... on main.", "..."]),
        output
    ));
    assert!(output_matches(&expected(&[]), ""));
    assert!(!output_matches(&expected(&[]), "unexpected\n"));
}

#[test]
fn a_token_in_any_layer_is_read_from_the_fixtures() {
    assert_eq!(as_token(OLD_BASE64X2).as_deref(), Some(OLD_HEX));
    assert_eq!(
        as_token(OLD_BASE64.trim_end_matches('=')).as_deref(),
        Some(OLD_HEX)
    );
    assert_eq!(as_token(&OLD_HEX.to_uppercase()).as_deref(), Some(OLD_HEX));
    assert_eq!(as_token("sha256"), None);
    assert_eq!(stated_status("rekey check   # exit 1"), 1);
    assert_eq!(stated_status("rekey scan"), 0);
}
