//! What a newcomer meets at the command line: every command a message suggests runs as
//! printed, refusals name the files they are about, the scan text reads as a table, what
//! the walk left out is counted, and a dry run can tell a CI job whether it would change
//! anything.

mod common;

use common::*;
use std::fs;

#[test]
fn the_multiple_token_refusal_names_up_to_five_files_per_token() {
    let dir = tempfile::tempdir().unwrap();
    for index in 1..=7 {
        fs::write(
            dir.path().join(format!("prod-{index}.env")),
            format!("DELEGATE_TOKEN={OLD_HEX}\n"),
        )
        .unwrap();
    }
    fs::write(
        dir.path().join("staging.env"),
        format!("DELEGATE_TOKEN={OTHER_HEX}\n"),
    )
    .unwrap();
    let refused = rotate_to_new_token(dir.path(), &[]);
    assert_eq!(refused.status, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.ends_with(&format!(
            "error:   {OTHER_FINGERPRINT}  in 1 file: staging.env\n\
             error:   {OLD_FINGERPRINT}  in 7 files: prod-1.env, prod-2.env, prod-3.env, prod-4.env, prod-5.env and 2 more\n"
        )),
        "{}",
        refused.stderr
    );
    assert_no_token(&refused.stderr, "stderr");
}

#[test]
fn exit_code_makes_a_dry_run_say_whether_it_would_change_anything() {
    let repo = copy_fixture("demo");
    let drift = rotate_to_new_token(repo.path(), &["--exit-code", "--stat"]);
    assert_eq!(drift.status, 1, "{}", drift.stderr);
    assert!(drift.stdout.contains(" rotated"), "{}", drift.stdout);
    assert_same_tree(repo.path(), &fixtures().join("demo"));
    let plain = rotate_to_new_token(repo.path(), &["--stat"]);
    assert_eq!(plain.status, 0, "{}", plain.stderr);

    let written = rotate_to_new_token(repo.path(), &["--write"]);
    assert_eq!(written.status, 0, "{}", written.stderr);
    let settled = rotate_to_new_token(repo.path(), &["--exit-code"]);
    assert_eq!(settled.status, 0, "{}{}", settled.stdout, settled.stderr);
    assert!(
        settled.stdout.contains("Already rotated"),
        "{}",
        settled.stdout
    );

    // Only a dry run has something to report: with --write or --commit it is a usage error.
    let misused = rotate_to_new_token(repo.path(), &["--exit-code", "--write"]);
    assert_eq!(misused.status, 2);
    assert!(
        misused.stderr.contains("cannot be used with"),
        "{}",
        misused.stderr
    );
}

#[test]
fn exit_code_covers_every_repository_of_a_dry_run() {
    let home = tempfile::tempdir().unwrap();
    let fleet = tempfile::tempdir().unwrap();
    for (name, token) in [("drifted", OLD_HEX), ("settled", NEW_HEX)] {
        let repo = fleet.path().join(name);
        fs::create_dir(&repo).unwrap();
        fs::write(repo.join(".env"), format!("DELEGATE_TOKEN={token}\n")).unwrap();
        commit_all(&repo, home.path());
    }
    let settled = rotate_to_new_token(fleet.path(), &["--repo", "settled", "--exit-code"]);
    assert_eq!(settled.status, 0, "{}{}", settled.stdout, settled.stderr);
    let both = ["--repo", "settled", "--repo", "drifted", "--exit-code"];
    let drifted = rotate_to_new_token(fleet.path(), &both);
    assert_eq!(drifted.status, 1, "{}{}", drifted.stdout, drifted.stderr);
}

#[test]
fn exit_code_is_in_the_manual_page() {
    let dir = tempfile::tempdir().unwrap();
    let run = rekey(dir.path(), &["man", "--out-dir", "."]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let page = fs::read_to_string(dir.path().join("rekey-rotate.1")).unwrap();
    assert!(page.contains("\\-\\-exit\\-code"), "{page}");
    assert!(page.contains("the dry run would change a file"), "{page}");
}

/// The commands `rekey --help` lists (`harness` as `harness tokens`, its one command).
fn commands() -> Vec<String> {
    let top = rekey(&fixtures(), &["--help"]).stdout;
    let listed = top.split_once("Commands:\n").unwrap().1;
    let listed = listed.split_once("\n\n").unwrap().0;
    listed
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(|name| match name {
            "harness" => "harness tokens".to_owned(),
            name => name.to_owned(),
        })
        .collect()
}

/// The long options a command's help lists, with the help text of each.
fn options(command: &str) -> Vec<(String, String)> {
    let mut args: Vec<&str> = command.split(' ').collect();
    args.push("--help");
    let help = rekey(&fixtures(), &args).stdout;
    let listed = help.split_once("Options:\n").unwrap().1;
    let listed = listed
        .split_once("\n\n")
        .map_or(listed, |(options, _)| options);
    listed
        .lines()
        .filter_map(|line| {
            let from = line.find("--")?;
            let (name, rest) = line[from..].split_once(' ').unwrap_or((&line[from..], ""));
            let rest = rest.trim_start();
            // `--flag <VALUE>  help`: the help starts after the value's name.
            let text = match rest.strip_prefix('<') {
                Some(valued) => valued.split_once('>').map_or("", |(_, t)| t.trim_start()),
                None => rest,
            };
            Some((name.to_owned(), text.to_owned()))
        })
        .collect()
}

/// The README's Usage block, each command's lines joined (a command may have several).
fn readme_usage(command: &str) -> String {
    let readme = fs::read_to_string(fixtures().join("../README.md")).unwrap();
    let block = readme.split_once("## Usage\n\n```text\n").unwrap().1;
    let block = block.split_once("```").unwrap().0;
    let mut mine = String::new();
    let mut in_mine = false;
    for line in block.lines() {
        if let Some(rest) = line.strip_prefix("rekey ") {
            in_mine = rest.starts_with(&format!("{command} "));
        }
        if in_mine {
            mine.push_str(line);
            mine.push('\n');
        }
    }
    mine
}

#[test]
fn the_readme_usage_block_lists_every_command_and_its_options() {
    // Said once for every command beside the block, or in the sections they belong to.
    let elsewhere = [
        "--color",
        "--quiet",
        "--help",
        "--stdin-format",
        "--api-key-file",
        "--timeout",
    ];
    let commands = commands();
    assert!(commands.len() >= 10, "{commands:?}");
    for command in &commands {
        let usage = readme_usage(command);
        assert!(
            !usage.is_empty(),
            "the README's Usage block has no `rekey {command}`"
        );
        for (option, _) in options(command) {
            if !elsewhere.contains(&option.as_str()) {
                // The option whole: `--all`, not the start of `--all-refs`.
                let shown = usage.match_indices(&option).any(|(at, _)| {
                    let next = usage[at + option.len()..].chars().next();
                    !next.is_some_and(|c| c.is_alphanumeric() || c == '-')
                });
                assert!(
                    shown,
                    "the README's Usage block does not show `rekey {command} {option}`:\n{usage}"
                );
            }
        }
    }
    assert!(readme_usage("check").contains("--ready-to-revoke FINGERPRINT"));
}

#[test]
fn every_format_and_config_option_says_what_it_does() {
    for command in commands() {
        for (option, help) in options(&command) {
            if option == "--format" {
                assert!(
                    !help.starts_with('[') && help.contains("for people"),
                    "rekey {command} --format has no help: {help}"
                );
            }
            // Where rekey looks when no policy is named, as discovery does it: up to the
            // repository's top, not only the current directory.
            if option == "--config" && !["init", "history", "rotate"].contains(&command.as_str()) {
                assert!(
                    help.contains("up to the repository's top") && help.contains("REKEY_CONFIG"),
                    "rekey {command} --config: {help}"
                );
            }
        }
    }
}

/// A repository whose top-level policy lists OTHER as current, with a file holding OLD in
/// `k8s/`: rekey run from `k8s/` still works under the policy at the top.
fn repository_with_a_policy_at_its_top() -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    fs::create_dir(repo.path().join(".git")).unwrap();
    fs::create_dir(repo.path().join("k8s")).unwrap();
    fs::write(
        repo.path().join(".rekey.toml"),
        format!("[tokens]\ncurrent = [\"{OTHER_FINGERPRINT}\"]\n"),
    )
    .unwrap();
    fs::write(
        repo.path().join("k8s/delegate.env"),
        format!("DELEGATE_TOKEN={OLD_HEX}\n"),
    )
    .unwrap();
    repo
}

#[test]
fn scan_and_inventory_name_the_policy_they_used() {
    let repo = repository_with_a_policy_at_its_top();
    let k8s = repo.path().join("k8s");
    let scan = rekey(&k8s, &["scan"]);
    assert_eq!(scan.status, 0, "{}", scan.stderr);
    assert!(
        scan.stdout.ends_with("; policy ../.rekey.toml\n"),
        "{}",
        scan.stdout
    );
    let json = rekey(&k8s, &["scan", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["policy"], "../.rekey.toml");

    // A stream judged by the policy of the repository rekey runs in: that policy is named
    // beside the verdict it gave.
    let stream = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: d\nstringData:\n  DELEGATE_TOKEN: {OLD_HEX}\n"
    );
    let inventory = rekey_with(&k8s, &["inventory", "-"], &[], Some(&stream));
    assert_eq!(inventory.status, 0, "{}", inventory.stderr);
    assert!(
        inventory
            .stdout
            .ends_with("1 holds a stale one; policy ../.rekey.toml\n"),
        "{}",
        inventory.stdout
    );
    let markdown = rekey(&k8s, &["inventory", "--format", "markdown"]);
    assert!(
        markdown.stdout.contains("; policy ../.rekey.toml\n"),
        "{}",
        markdown.stdout
    );
    let json = rekey(&k8s, &["inventory", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["policy"], "../.rekey.toml");
    assert_no_token(&format!("{}{}", scan.stdout, inventory.stdout), "stdout");

    // With no policy file, scan says where it looked.
    let bare = tempfile::tempdir().unwrap();
    fs::write(
        bare.path().join("a.env"),
        format!("DELEGATE_TOKEN={OLD_HEX}\n"),
    )
    .unwrap();
    let none = rekey(bare.path(), &["scan"]);
    assert!(
        none.stdout.ends_with("; policy none (no .rekey.toml in this directory or above it, up to the filesystem root)\n"),
        "{}",
        none.stdout
    );
}

/// Every command rekey's messages and help suggest, as written in its source: each
/// backquoted `rekey …` in a string (and in the help text of the command-line definitions),
/// and each example line of the help. Found in the source, so that a hint added later is
/// held to the same rule without a test naming it.
fn suggested_commands() -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut files = Vec::new();
    rust_files(&fixtures().join("../src"), &mut files);
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        let name = path
            .to_string_lossy()
            .rsplit_once("/src/")
            .unwrap()
            .1
            .to_owned();
        let clap_help = name.starts_with("cli/");
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            let comment = trimmed.starts_with("//");
            if comment && !(clap_help && trimmed.starts_with("/// ")) {
                continue;
            }
            let at = format!("src/{name}:{}", number + 1);
            for piece in line.split('`').skip(1).step_by(2) {
                if piece.starts_with("rekey ") {
                    found.push((at.clone(), piece.to_owned()));
                }
            }
            if name == "cli/help.rs" {
                let example = trimmed
                    .split_once("| rekey ")
                    .map(|(_, rest)| format!("rekey {rest}"))
                    .or_else(|| trimmed.starts_with("rekey ").then(|| trimmed.to_owned()));
                found.extend(example.map(|example| (at.clone(), example)));
            }
        }
    }
    found
}

fn rust_files(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The words of a suggested command as a shell would pass them to rekey: the placeholders
/// a message fills in at run time given values the fixture holds, the shell's pipes,
/// redirections and comments cut off, quotes removed and `~` expanded.
fn words(command: &str, home: &std::path::Path) -> Vec<String> {
    let mut command = command.to_owned();
    for placeholder in [
        "{fingerprint}",
        "{0}",
        "{}",
        "FINGERPRINT",
        "sha256:0123456789abcdef",
    ] {
        command = command.replace(placeholder, OLD_FINGERPRINT);
    }
    command = command
        .replace("{name}", "prod-2024")
        .replace("COMMAND", "scan");
    for end in [" #", " |", " >", " <"] {
        if let Some((before, _)) = command.split_once(end) {
            command = before.to_owned();
        }
    }
    command
        .split_whitespace()
        .skip(1)
        .map(|word| {
            let word = word.trim_matches(|c| c == '\'' || c == '"');
            match word.strip_prefix("~/") {
                Some(rest) => home.join(rest).to_string_lossy().into_owned(),
                None => word.to_owned(),
            }
        })
        .collect()
}

/// A scratch repository for the suggested commands: the demo, committed, under a policy
/// that lists its token as current, with the new token in `new.txt` (as the help's examples
/// name it).
fn demo_repository(home: &std::path::Path) -> tempfile::TempDir {
    let template = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join("demo"), template.path());
    fs::write(
        template.path().join(".rekey.toml"),
        format!("[tokens]\ncurrent = [\"{OLD_FINGERPRINT}\"]\n"),
    )
    .unwrap();
    commit_all(template.path(), home);
    fs::write(template.path().join("new.txt"), NEW_HEX).unwrap();
    template
}

/// Runs one suggested command in `template`, or in a copy of it when the command writes
/// there: `Some(why)` when clap refuses it.
fn refusal(template: &std::path::Path, home: &std::path::Path, command: &str) -> Option<String> {
    let stream = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: d\nstringData:\n  DELEGATE_TOKEN: {OLD_HEX}\n"
    );
    let env = [
        ("NEW_TOKEN", NEW_HEX),
        ("HOME", home.to_str().unwrap()),
        ("HARNESS_ENDPOINT", "http://127.0.0.1:9"),
        ("HARNESS_ACCOUNT_ID", "acct"),
        ("HARNESS_PLATFORM_API_KEY", "pat.acct.key.secret"),
        IDENTITY[0],
        IDENTITY[1],
        IDENTITY[2],
        IDENTITY[3],
    ];
    let words = words(command, home);
    let args: Vec<&str> = words.iter().map(String::as_str).collect();
    let writes = ["--write", "--commit", "init", "revoke", "--out-dir"];
    let copy = writes.iter().any(|w| args.contains(w)).then(|| {
        let repo = tempfile::tempdir().unwrap();
        copy_tree(template, repo.path());
        repo
    });
    let stdin = if args.contains(&"--new-token-stdin") {
        Some(NEW_HEX)
    } else if args.contains(&"-") {
        Some(stream.as_str())
    } else {
        None
    };
    let dir = copy.as_ref().map_or(template, |copy| copy.path());
    let run = rekey_with(dir, &args, &env, stdin);
    assert_no_token(&format!("{}{}", run.stdout, run.stderr), command);
    // clap's usage errors, and nothing else rekey prints, end with these.
    (run.stderr.contains("Usage:") || run.stderr.contains("try '--help'")).then_some(run.stderr)
}

#[test]
fn every_command_a_message_or_the_help_suggests_runs_as_printed() {
    let mut suggested = suggested_commands();
    assert!(suggested.len() >= 40, "{suggested:#?}");
    assert!(
        suggested
            .iter()
            .any(|(_, c)| c
                .starts_with("rekey rotate --only {fingerprint} --new-token-env NEW_TOKEN")),
        "the check hint was not found: {suggested:#?}"
    );
    // Each command once, at the first place that suggests it.
    let mut seen = std::collections::HashSet::new();
    suggested.retain(|(_, command)| seen.insert(command.clone()));
    let home = tempfile::tempdir().unwrap();
    let template = demo_repository(home.path());
    // A few at a time: most of a run is waiting on the disk (and Harness that is not there).
    let refused: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = suggested
            .chunks(suggested.len().div_ceil(4))
            .map(|chunk| {
                let (template, home) = (template.path(), home.path());
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|(at, command)| {
                            let why = refusal(template, home, command)?;
                            Some(format!("{at}: `{command}`:\n{why}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        runs.into_iter()
            .flat_map(|run| run.join().unwrap())
            .collect()
    });
    assert!(
        refused.is_empty(),
        "these suggested commands do not run as printed:\n{}",
        refused.join("\n")
    );
}

#[test]
fn the_hints_check_prints_run_as_printed_and_do_what_they_say() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(".rekey.toml"),
        format!("[tokens]\nrevoked = [\"{OLD_FINGERPRINT}\"]\n"),
    )
    .unwrap();
    fs::write(
        dir.path().join("config-watcher.yml"),
        format!("accountId: Xy7ArcXnR1uv3TfcmGxQ2w\naccountSecret: {OLD_HEX}\nmanagerUrl: https://app.harness.io/api/\n"),
    )
    .unwrap();
    let check = rekey(dir.path(), &["check"]);
    assert_eq!(check.status, 1, "{}", check.stdout);
    let hints: Vec<&str> = check
        .stdout
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|piece| piece.starts_with("rekey "))
        .collect();
    assert_eq!(
        hints,
        [
            "rekey rotate --new-token-env NEW_TOKEN".to_owned(),
            format!("rekey rotate --only {OLD_FINGERPRINT} --new-token-env NEW_TOKEN"),
        ],
        "{}",
        check.stdout
    );
    for hint in hints {
        let args: Vec<&str> = hint.split(' ').skip(1).collect();
        let run = rekey_with(dir.path(), &args, &[("NEW_TOKEN", NEW_HEX)], None);
        assert_eq!(run.status, 0, "{hint}: {}", run.stderr);
        // A dry run of exactly the rotation and migration the finding asks for.
        assert!(
            run.stdout.contains("-accountSecret: ") && run.stdout.contains("+delegateToken: "),
            "{hint}: {}",
            run.stdout
        );
        assert_no_token(&run.stdout, hint);
    }
}

/// A Secret in one file and the workloads reading it by `secretKeyRef` in another: one
/// whose Secret is here (the env name given after `valueFrom`, as YAML allows), one whose
/// Secret is in another namespace, one whose Secret is nowhere in the scanned files.
fn secret_and_workloads() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("secret.yaml"),
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: delegate-token\n  namespace: harness\nstringData:\n  DELEGATE_TOKEN: {OLD_HEX}\n"),
    )
    .unwrap();
    fs::write(
        dir.path().join("sts.yaml"),
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: delegate\n  namespace: harness\nspec:\n  template:\n    spec:\n      containers:\n      - name: delegate\n        image: harness/delegate:25.10.87100\n        env:\n        - valueFrom:\n            secretKeyRef: {name: delegate-token, key: DELEGATE_TOKEN}\n          name: DELEGATE_TOKEN\n        - name: UPGRADER_TOKEN\n          valueFrom:\n            secretKeyRef:\n              name: upgrader-token\n              key: UPGRADER_TOKEN\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: other\n  namespace: ci\nspec:\n  template:\n    spec:\n      containers:\n      - name: delegate\n        image: harness/delegate:25.10.87100\n        env:\n        - name: DELEGATE_TOKEN\n          valueFrom:\n            secretKeyRef: {name: delegate-token, key: DELEGATE_TOKEN}\n",
    )
    .unwrap();
    dir
}

#[test]
fn scan_text_has_headers_and_shows_a_secret_key_ref_as_one_reference_with_an_accurate_hint() {
    let dir = secret_and_workloads();
    let scan = rekey(dir.path(), &["scan"]);
    assert_eq!(scan.status, 0, "{}", scan.stderr);
    assert_eq!(
        scan.stdout,
        format!(
            "  LINE:COL KEY              KIND        ENCODING FINGERPRINT
secret.yaml
  7:19     DELEGATE_TOKEN   literal     hex      {OLD_FINGERPRINT}
sts.yaml
  14:13    DELEGATE_TOKEN   reference
           lives in Secret delegate-token, key DELEGATE_TOKEN at 14:55, defined in secret.yaml:7:19: rekey rotates it there
  18:13    UPGRADER_TOKEN   reference
           lives in Secret upgrader-token, key UPGRADER_TOKEN at 20:20, which is not among the scanned files; to rotate: update Secret upgrader-token where it is managed
  36:13    DELEGATE_TOKEN   reference
           lives in Secret delegate-token, key DELEGATE_TOKEN at 36:55, which is not among the scanned files; to rotate: update Secret delegate-token where it is managed

4 sites in 2 files: 1 literal (1 distinct token), 0 placeholders, 3 references, 0 encrypted, 0 empty, 0 key mentions; 0 legacy keys; policy none (no .rekey.toml in this directory or above it, up to the filesystem root)
"
        )
    );
    // check counts the sites as scan does; JSON still lists each key a rename would touch.
    let check = rekey(dir.path(), &["check"]);
    assert!(
        check.stdout.contains("(4 sites in 2 files)"),
        "{}",
        check.stdout
    );
    let json = rekey(dir.path(), &["scan", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["sites"].as_array().unwrap().len(), 7);
    assert_no_token(&scan.stdout, "stdout");
}

#[test]
fn a_yaml_syntax_error_reads_as_could_not_be_parsed_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("bad.yaml"),
        format!("kind: Secret\nstringData:\n  DELEGATE_TOKEN: \"{OLD_HEX}\n  other: [\n"),
    )
    .unwrap();
    let scan = rekey(dir.path(), &["scan"]);
    assert_eq!(scan.status, 2);
    assert!(
        scan.stdout.ends_with(
            "\n1 file could not be parsed: bad.yaml:3:19: cannot parse this YAML file: unclosed quote; fix the syntax, then run rekey again\n"
        ),
        "{}",
        scan.stdout
    );
    fs::copy(dir.path().join("bad.yaml"), dir.path().join("worse.yaml")).unwrap();
    let scan = rekey(dir.path(), &["scan"]);
    assert!(
        scan.stdout.ends_with(
            "\n2 files could not be parsed:\n  bad.yaml:3:19: cannot parse this YAML file: unclosed quote; fix the syntax, then run rekey again\n  worse.yaml:3:19: cannot parse this YAML file: unclosed quote; fix the syntax, then run rekey again\n"
        ),
        "{}",
        scan.stdout
    );
    assert_no_token(&format!("{}{}", scan.stdout, scan.stderr), "output");
}

/// A repository whose committed files hold the current token, while an untracked `.env.local`
/// and an untracked `node_modules/` that `.gitignore` names hold the revoked one.
fn repository_with_ignored_files() -> (tempfile::TempDir, tempfile::TempDir) {
    let (repo, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dir = repo.path();
    fs::write(
        dir.join(".rekey.toml"),
        format!("[tokens]\ncurrent = [\"{NEW_FINGERPRINT}\"]\nrevoked = [\"{OLD_FINGERPRINT}\"]\n"),
    )
    .unwrap();
    fs::write(dir.join(".gitignore"), ".env.local\nnode_modules/\n").unwrap();
    fs::write(dir.join(".env"), format!("DELEGATE_TOKEN={NEW_HEX}\n")).unwrap();
    commit_all(dir, home.path());
    fs::write(
        dir.join(".env.local"),
        format!("DELEGATE_TOKEN={OLD_HEX}\n"),
    )
    .unwrap();
    fs::create_dir_all(dir.join("node_modules/pkg")).unwrap();
    fs::write(
        dir.join("node_modules/pkg/.env"),
        format!("DELEGATE_TOKEN={OLD_HEX}\n"),
    )
    .unwrap();
    (repo, home)
}

const IGNORED: &str = "1 file and 1 directory ignored by .gitignore; --no-ignore to include them";

#[test]
fn check_says_what_gitignore_left_out_and_no_ignore_judges_it() {
    let (repo, _home) = repository_with_ignored_files();
    let check = rekey(repo.path(), &["check"]);
    assert_eq!(check.status, 0, "{}", check.stdout);
    assert!(
        check.stdout.ends_with(&format!("rekey check: {IGNORED}\n")),
        "{}",
        check.stdout
    );
    // A gate's machine-readable answer says it too: a CI step can surface it.
    let json = rekey(repo.path(), &["check", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        json["ignored"],
        serde_json::json!({"files": 1, "directories": 1})
    );

    let all = rekey(repo.path(), &["check", "--no-ignore"]);
    assert_eq!(all.status, 1, "{}", all.stdout);
    assert!(
        all.stdout.contains(".env.local:1:16: error[revoked-token]"),
        "{}",
        all.stdout
    );
    assert!(
        all.stdout
            .contains("node_modules/pkg/.env:1:16: error[revoked-token]"),
        "{}",
        all.stdout
    );
    assert!(
        !all.stdout.contains("ignored by .gitignore"),
        "{}",
        all.stdout
    );
    let json = rekey(repo.path(), &["check", "--no-ignore", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        json["ignored"],
        serde_json::json!({"files": 0, "directories": 0})
    );

    // The index and commits hold no ignored file: --no-ignore there is a mistake, said so.
    let staged = rekey(repo.path(), &["check", "--staged", "--no-ignore"]);
    assert_eq!(staged.status, 2);
    assert!(
        staged.stderr.contains("drop --no-ignore"),
        "{}",
        staged.stderr
    );
    assert_no_token(&format!("{}{}", check.stdout, all.stdout), "stdout");
}

#[test]
fn scan_inventory_and_rotate_count_what_gitignore_left_out_and_take_no_ignore() {
    let (repo, _home) = repository_with_ignored_files();
    let scan = rekey(repo.path(), &["scan"]);
    assert!(
        scan.stdout
            .ends_with(&format!("; policy .rekey.toml\n{IGNORED}\n")),
        "{}",
        scan.stdout
    );
    let all = rekey(repo.path(), &["scan", "--no-ignore"]);
    assert!(all.stdout.contains("\n.env.local\n"), "{}", all.stdout);
    let json = rekey(repo.path(), &["scan", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        json["ignored"],
        serde_json::json!({"files": 1, "directories": 1})
    );

    let inventory = rekey(repo.path(), &["inventory"]);
    assert!(
        inventory.stderr.contains(&format!("not read: {IGNORED}")),
        "{}",
        inventory.stderr
    );
    let inventory = rekey(repo.path(), &["inventory", "--no-ignore"]);
    assert!(
        inventory
            .stdout
            .contains(&format!("{OLD_FINGERPRINT} revoked")),
        "{}",
        inventory.stdout
    );

    let rotation = rotate_to_new_token(repo.path(), &[]);
    assert_eq!(rotation.status, 0, "{}", rotation.stderr);
    assert!(
        rotation.stdout.contains("Already rotated"),
        "{}",
        rotation.stdout
    );
    assert!(
        rotation.stderr.contains(&format!("not rotated: {IGNORED}")),
        "{}",
        rotation.stderr
    );
    let rotation = rotate_to_new_token(repo.path(), &["--no-ignore", "--write"]);
    assert_eq!(rotation.status, 0, "{}", rotation.stderr);
    assert_eq!(
        fs::read_to_string(repo.path().join(".env.local")).unwrap(),
        format!("DELEGATE_TOKEN={NEW_HEX}\n")
    );
    let refused = rotate_to_new_token(repo.path(), &["--no-ignore", "--commit"]);
    assert_eq!(refused.status, 2);
    assert!(
        refused.stderr.contains("cannot be used with"),
        "{}",
        refused.stderr
    );
}
