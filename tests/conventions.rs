//! The conventions people reach for first: `--help` with examples and exit codes, shell
//! completions (the bash script must parse with `bash -n`), the manual pages (rendered by
//! groff, which `.ci/run` installs, with its warnings on), `--color` and `-q/--quiet`.

mod common;

use common::*;
use std::fs;
use std::process::Command;

const COMMANDS: [&str; 10] = [
    "scan",
    "rotate",
    "check",
    "history",
    "harness",
    "inventory",
    "init",
    "revoke",
    "completions",
    "man",
];

#[test]
fn every_command_help_shows_examples_and_its_exit_statuses() {
    let top = rekey(&fixtures(), &["--help"]);
    assert_eq!(top.status, 0);
    assert!(
        top.stdout.ends_with(
            "Exit status:\n  0  success (check: no error-level finding)\n  1  check found an error-level finding; rotate --exit-code: the dry run would change a file\n  2  an error: bad input, an unparseable file holding a token key, a git failure, a usage error\n\nRun `rekey COMMAND --help` for each command's examples.\n"
        ),
        "{}",
        top.stdout
    );
    for command in COMMANDS {
        let help = rekey(&fixtures(), &[command, "--help"]);
        assert_eq!(help.status, 0, "{command}: {}", help.stderr);
        let examples = help
            .stdout
            .split_once("\nExamples:\n")
            .unwrap_or_else(|| panic!("{command} --help has no examples:\n{}", help.stdout))
            .1;
        assert!(
            examples.starts_with(&format!("  rekey {command}")),
            "{command}: {examples}"
        );
        assert!(
            examples.contains("\n\nExit status:\n  0  "),
            "{command}: {examples}"
        );
        assert!(
            help.stdout.contains("--color <WHEN>") && help.stdout.contains("-q, --quiet"),
            "{command}: the global flags are missing:\n{}",
            help.stdout
        );
    }
    let check = rekey(&fixtures(), &["check", "--help"]);
    assert!(check.stdout.ends_with(
        "Exit status:\n  0  no error-level finding (warnings and notes may remain)\n  1  an error-level finding\n  2  an error: bad policy file, missing path, git failure\n"
    ));
}

#[test]
fn the_bash_completion_parses_and_completes_subcommands_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let run = rekey(dir.path(), &["completions", "bash"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let script = dir.path().join("rekey.bash");
    fs::write(&script, &run.stdout).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    // Load it in a real bash and ask it to complete, as the shell would on TAB.
    let completed = |words: &str, current: usize| {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={current}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; _rekey rekey \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let output = Command::new("bash")
            .args(["--norc", "-c", &program])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut words: Vec<String> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        words.sort();
        words
    };
    let subcommands = completed("rekey ''", 1);
    for command in COMMANDS {
        assert!(subcommands.contains(&command.to_owned()), "{subcommands:?}");
    }
    assert_eq!(
        completed("rekey check --format ''", 3),
        ["github", "gitlab", "json", "sarif", "text"]
    );
    assert_eq!(
        completed("rekey scan --color ''", 3),
        ["always", "auto", "never"]
    );
}

#[test]
fn every_shell_gets_a_script_naming_the_commands() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = rekey(&fixtures(), &["completions", shell]);
        assert_eq!(run.status, 0, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains("rekey"), "{shell}");
        assert!(run.stdout.contains("new-token-env"), "{shell}");
    }
    let unknown = rekey(&fixtures(), &["completions", "tcsh"]);
    assert_eq!(unknown.status, 2);
    assert!(
        unknown.stderr.contains("invalid value 'tcsh'"),
        "{}",
        unknown.stderr
    );
}

/// Renders a page with groff, warnings on; any warning fails the test.
fn render(page: &[u8]) -> String {
    use std::io::Write;
    let mut groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-rLL=100n"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("groff is installed (.ci/run installs groff-base)");
    groff.stdin.take().unwrap().write_all(page).unwrap();
    let output = groff.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "", "groff warned");
    // Drop the overstrike bold/underline sequences some groff setups emit.
    let text = String::from_utf8(output.stdout).unwrap();
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if chars.peek() == Some(&'\u{8}') {
            chars.next();
            continue;
        }
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
            continue;
        }
        plain.push(c);
    }
    plain
}

#[test]
fn the_manual_page_renders_with_every_section() {
    let run = rekey(&fixtures(), &["man"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(".ie \\n(.g .ds Aq \\(aq\n"),
        "not roff"
    );
    assert!(run.stdout.contains("\n.TH rekey 1 "), "{}", run.stdout);
    let page = render(run.stdout.as_bytes());
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "SUBCOMMANDS",
        "EXAMPLES AND EXIT STATUS",
        "VERSION",
    ] {
        assert!(
            page.contains(&format!("\n{section}\n")),
            "no {section}:\n{page}"
        );
    }
    // The examples keep their layout: one command a line.
    assert!(
        page.contains("\n         rekey rotate --new-token-env NEW_TOKEN --commit\n"),
        "{page}"
    );
    assert!(page.contains("rekey-rotate(1)"), "{page}");
}

#[test]
fn out_dir_writes_one_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let run = rekey(dir.path(), &["man", "--out-dir", "."]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut expected: Vec<String> = COMMANDS.iter().map(|c| format!("rekey-{c}.1")).collect();
    expected.push("rekey.1".to_owned());
    expected.sort();
    assert_eq!(names, expected);
    let rotate = render(&fs::read(dir.path().join("rekey-rotate.1")).unwrap());
    assert!(rotate.contains("--new-token-env"), "{rotate}");
    assert!(
        rotate.contains("\n         rekey rotate --new-token-env NEW_TOKEN --stat"),
        "{rotate}"
    );

    // A fresh home has no man directory: it is made, parents and all.
    let fresh = rekey(
        dir.path(),
        &["man", "--out-dir", "home/.local/share/man/man1"],
    );
    assert_eq!(fresh.status, 0, "{}", fresh.stderr);
    let page = fs::read(dir.path().join("home/.local/share/man/man1/rekey-rotate.1")).unwrap();
    assert_eq!(page, fs::read(dir.path().join("rekey-rotate.1")).unwrap());

    fs::write(dir.path().join("a-file"), "").unwrap();
    let blocked = rekey(dir.path(), &["man", "--out-dir", "a-file/man1"]);
    assert_eq!(blocked.status, 2);
    assert!(
        blocked
            .stderr
            .starts_with("error: --out-dir a-file/man1: cannot create the directory: "),
        "{}",
        blocked.stderr
    );
}

#[test]
fn completions_out_dir_writes_the_file_each_shell_loads_and_makes_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, name) in [
        ("bash", "rekey"),
        ("zsh", "_rekey"),
        ("fish", "rekey.fish"),
        ("powershell", "_rekey.ps1"),
        ("elvish", "rekey.elv"),
    ] {
        let out_dir = format!("fresh/{shell}/completions");
        let run = rekey(dir.path(), &["completions", shell, "--out-dir", &out_dir]);
        assert_eq!(run.status, 0, "{shell}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{shell}: the script goes to the file");
        let printed = rekey(dir.path(), &["completions", shell]).stdout;
        let written = fs::read_to_string(dir.path().join(&out_dir).join(name)).unwrap();
        assert_eq!(written, printed, "{shell}");
    }
    fs::write(dir.path().join("a-file"), "").unwrap();
    let blocked = rekey(dir.path(), &["completions", "bash", "--out-dir", "a-file"]);
    assert_eq!(blocked.status, 2);
    assert!(
        blocked
            .stderr
            .starts_with("error: --out-dir a-file: cannot create the directory: "),
        "{}",
        blocked.stderr
    );
}

/// One file with one legacy site, so colour and plain output are short enough to compare.
fn one_site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("values.yaml"),
        // delegateName beside it makes this the delegate chart's values: a legacy key
        // here is an error that a rotation clears.
        format!("accountSecret: {OLD_HEX}\ndelegateName: build\n"),
    )
    .unwrap();
    dir
}

const PLAIN_SCAN: &str = "  LINE:COL KEY              KIND        ENCODING FINGERPRINT\nvalues.yaml\n  1:16     accountSecret    literal     hex      sha256:ff25d2389ab7917a legacy\n\n1 site in 1 file: 1 literal (1 distinct token), 0 placeholders, 0 references, 0 encrypted, 0 empty, 0 key mentions; 1 legacy key; policy none (no .rekey.toml in this directory or above it, up to the filesystem root)\n";
const COLOUR_SCAN: &str = "\x1b[2m  LINE:COL KEY              KIND        ENCODING FINGERPRINT\x1b[0m\n\x1b[1mvalues.yaml\x1b[0m\n  1:16     accountSecret    \x1b[33mliteral    \x1b[0m hex      \x1b[36msha256:ff25d2389ab7917a\x1b[0m\x1b[35m legacy\x1b[0m\n\n1 site in 1 file: 1 literal (1 distinct token), 0 placeholders, 0 references, 0 encrypted, 0 empty, 0 key mentions; 1 legacy key; policy none (no .rekey.toml in this directory or above it, up to the filesystem root)\n";

#[test]
fn color_follows_the_flag_then_no_color_then_clicolor_force() {
    let dir = one_site();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 7] = [
        (&["--color", "always"], &[], COLOUR_SCAN),
        (&["--color", "always"], &[("NO_COLOR", "1")], COLOUR_SCAN),
        (
            &["--color", "never"],
            &[("CLICOLOR_FORCE", "1")],
            PLAIN_SCAN,
        ),
        (&[], &[], PLAIN_SCAN),
        (
            &["--color", "auto"],
            &[("CLICOLOR_FORCE", "1")],
            COLOUR_SCAN,
        ),
        (
            &[],
            &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
            PLAIN_SCAN,
        ),
        (&[], &[("CLICOLOR_FORCE", "0")], PLAIN_SCAN),
    ];
    for (flags, env, expected) in cases {
        let mut args = vec!["scan"];
        args.extend_from_slice(flags);
        let run = rekey_with(dir.path(), &args, env, None);
        assert_eq!(run.status, 0);
        assert_eq!(run.stdout, expected, "{flags:?} {env:?}");
    }
    // A global flag: accepted before the command too, and on every command.
    let before = rekey(dir.path(), &["--color=always", "scan"]);
    assert_eq!(before.stdout, COLOUR_SCAN);
    let check = rekey(dir.path(), &["check", "--color", "always"]);
    assert_eq!(
        check.stdout,
        "\x1b[1mvalues.yaml\x1b[0m:1:1: \x1b[31merror\x1b[0m[legacy-key] legacy key accountSecret: rename it to delegateToken (`rekey rotate --new-token-env NEW_TOKEN` migrates it) (\x1b[36msha256:ff25d2389ab7917a\x1b[0m)\nrekey check: 1 error, 0 warnings, 0 notes in 1 file checked (1 site in 1 file)\nrekey check: warning: no .rekey.toml in this directory or above it: the revoked-token and stale-token rules are off. Run `rekey init` to list the tokens in force, or pass --config FILE\n"
    );
    let error = rekey(dir.path(), &["scan", "nowhere", "--color", "always"]);
    assert_eq!(
        error.stderr,
        "\x1b[31merror:\x1b[0m nowhere: no such file or directory\n"
    );
}

#[test]
fn quiet_prints_errors_and_the_exit_status_only() {
    let dir = one_site();
    let check = rekey(dir.path(), &["check", "-q"]);
    assert_eq!(
        (check.status, check.stdout.as_str(), check.stderr.as_str()),
        (1, "", "")
    );
    let scan = rekey(dir.path(), &["--quiet", "scan"]);
    assert_eq!(
        (scan.status, scan.stdout.as_str(), scan.stderr.as_str()),
        (0, "", "")
    );
    let token = new_token_file();
    let rotate = rekey(
        dir.path(),
        &[
            "rotate",
            "-q",
            "--new-token-file",
            token.to_str().unwrap(),
            "--write",
        ],
    );
    assert_eq!(
        (
            rotate.status,
            rotate.stdout.as_str(),
            rotate.stderr.as_str()
        ),
        (0, "", "")
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("values.yaml")).unwrap(),
        format!("delegateToken: {NEW_HEX}\ndelegateName: build\n"),
        "quiet still does the work"
    );
    let broken = rekey(&fixtures().join("broken"), &["scan", "-q"]);
    assert_eq!(broken.status, 2);
    assert_eq!(broken.stdout, "");
    assert!(
        broken.stderr.starts_with("error: bad.yaml:3:"),
        "{}",
        broken.stderr
    );
}
