//! Shared helpers for the integration tests: copy a fixture repo into a scratch directory,
//! run the real `rekey` binary in it, and compare whole trees byte for byte.

#![allow(dead_code)] // each test binary uses its own subset

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The made-up token the fixtures hold, in its three encodings.
pub const OLD_HEX: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
pub const OLD_BASE64: &str = "YTFiMmMzZDRlNWY2MDcxODI5M2E0YjVjNmQ3ZThmOTA=";
pub const OLD_BASE64X2: &str = "WVRGaU1tTXpaRFJsTldZMk1EY3hPREk1TTJFMFlqVmpObVEzWlRobU9UQT0=";
/// The second made-up token of `fixtures/multi-token`.
pub const OTHER_HEX: &str = "fedcba98765432100123456789abcdef";
/// `fixtures/new-token.txt`, in its three encodings.
pub const NEW_HEX: &str = "c0ffee00c0ffee00c0ffee00c0ffee00";
pub const NEW_BASE64: &str = "YzBmZmVlMDBjMGZmZWUwMGMwZmZlZTAwYzBmZmVlMDA=";
pub const NEW_BASE64X2: &str = "WXpCbVptVmxNREJqTUdabVpXVXdNR013Wm1abFpUQXdZekJtWm1WbE1EQT0=";

pub const OLD_FINGERPRINT: &str = "sha256:ff25d2389ab7917a";
pub const OTHER_FINGERPRINT: &str = "sha256:261a3b41c39377c6";
pub const NEW_FINGERPRINT: &str = "sha256:23e0bf16a8233d47";

/// Every token value a test may hold: none may ever be printed.
pub const ALL_TOKEN_FORMS: [&str; 7] = [
    OLD_HEX,
    OLD_BASE64,
    OLD_BASE64X2,
    OTHER_HEX,
    NEW_HEX,
    NEW_BASE64,
    NEW_BASE64X2,
];

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

pub fn new_token_file() -> PathBuf {
    fixtures().join("new-token.txt")
}

/// A scratch copy of `fixtures/<name>`; the copy lives as long as the returned guard.
pub fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join(name), dir.path());
    dir
}

pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            // fs::copy keeps the permission bits.
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The identity the git tests commit with.
pub const IDENTITY: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "Rotation Bot"),
    ("GIT_AUTHOR_EMAIL", "rotation-bot@example.com"),
    ("GIT_COMMITTER_NAME", "Rotation Bot"),
    ("GIT_COMMITTER_EMAIL", "rotation-bot@example.com"),
];

/// The git CLI in `dir`, isolated from the machine's own configuration (`home` stands in
/// for the user's home), committing as [`IDENTITY`]. Returns stdout; fails on an error.
pub fn git(dir: &Path, home: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .envs(IDENTITY)
        .output()
        .expect("git is installed");
    assert!(
        output.status.success(),
        "git {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Makes `dir` a repository whose one commit on `main` holds every file in it.
pub fn commit_all(dir: &Path, home: &Path) {
    git(dir, home, &["init", "-q", "-b", "main"]);
    git(dir, home, &["add", "-A"]);
    git(dir, home, &["commit", "-q", "-m", "Delegate config"]);
}

/// `PATH` with the directory of the rekey under test first, for tools that run `rekey` from
/// `PATH` (the system pre-commit hook, the GitHub Action's script).
pub fn path_with_rekey() -> std::ffi::OsString {
    let bin = Path::new(env!("CARGO_BIN_EXE_rekey")).parent().unwrap();
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin.to_owned()).chain(std::env::split_paths(&inherited)))
        .unwrap()
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `rekey args…` in `cwd` with a clean colour environment.
pub fn rekey(cwd: &Path, args: &[&str]) -> Run {
    rekey_with(cwd, args, &[], None)
}

pub fn rekey_with(cwd: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        // A CI runner's own identity must not leak into the identity tests.
        .env_remove("GIT_AUTHOR_NAME")
        .env_remove("GIT_AUTHOR_EMAIL")
        .env_remove("GIT_COMMITTER_NAME")
        .env_remove("GIT_COMMITTER_EMAIL")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("the rekey binary runs");
    if let Some(input) = stdin {
        use std::io::Write;
        // rekey may refuse before reading stdin (rotate -): a closed pipe is its answer.
        let written = child.stdin.take().unwrap().write_all(input.as_bytes());
        if let Err(error) = written {
            assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
        }
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    Run {
        status: status.code().expect("exited normally"),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}

/// Runs `rekey args…` in `cwd` like [`rekey_with`], standard input read from the file
/// `stdin` (or none), killed past `limit`: a run that hangs fails its test instead of
/// stalling the suite. Output goes to files, so a run that prints megabytes fills no pipe.
pub fn rekey_bounded(
    cwd: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&Path>,
    limit: std::time::Duration,
) -> Run {
    let out = tempfile::tempdir().unwrap();
    let (stdout, stderr) = (out.path().join("stdout"), out.path().join("stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_rekey"))
        .args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("REKEY_CONFIG")
        .envs(env.iter().copied())
        .stdin(stdin.map_or_else(Stdio::null, |path| fs::File::open(path).unwrap().into()))
        .stdout(fs::File::create(&stdout).unwrap())
        .stderr(fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("the rekey binary runs");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("rekey {} did not end within {limit:?}", args.join(" "));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Run {
        status: status.code().expect("exited normally"),
        stdout: String::from_utf8(fs::read(stdout).unwrap()).unwrap(),
        stderr: String::from_utf8(fs::read(stderr).unwrap()).unwrap(),
    }
}

/// `check --ready-to-revoke OLD -` reading `input`, from a directory without a policy;
/// nothing it prints may hold a token.
pub fn ready(input: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let args = ["check", "--ready-to-revoke", OLD_FINGERPRINT, "-"];
    let run = rekey_with(dir.path(), &args, &[], Some(input));
    assert_no_token(&run.stdout, "stdout");
    assert_no_token(&run.stderr, "stderr");
    run
}

/// Asserts a `--ready-to-revoke` run said it cannot tell, with `why` in its words.
pub fn assert_unproven(run: &Run, why: &str) {
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains(why), "{why}:\n{all}");
    let verdict = format!("cannot tell whether {OLD_FINGERPRINT} is ready to revoke");
    assert!(all.contains(&verdict), "{all}");
}

/// Runs `rekey rotate --new-token-file fixtures/new-token.txt EXTRA…` in `cwd`.
pub fn rotate_to_new_token(cwd: &Path, extra: &[&str]) -> Run {
    let token = new_token_file();
    let mut args = vec!["rotate", "--new-token-file", token.to_str().unwrap()];
    args.extend_from_slice(extra);
    rekey(cwd, &args)
}

/// Every file below `root` with its bytes, sorted by relative path.
pub fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    collect(root, root, &mut files);
    files.sort();
    files
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            files.push((relative, fs::read(&path).unwrap()));
        }
    }
}

/// Asserts that two trees hold the same files with the same bytes, naming the first
/// difference.
pub fn assert_same_tree(actual: &Path, expected: &Path) {
    let actual = tree(actual);
    let expected = tree(expected);
    let names = |t: &[(String, Vec<u8>)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&actual),
        names(&expected),
        "the trees hold different files"
    );
    for ((name, got), (_, want)) in actual.iter().zip(&expected) {
        assert!(
            got == want,
            "{name} differs from the expected bytes:\n--- got\n{}\n--- want\n{}",
            String::from_utf8_lossy(got),
            String::from_utf8_lossy(want)
        );
    }
}

/// Fails when `text` holds 8 or more consecutive characters of any token form: a
/// token is never printed, not even in part.
pub fn assert_no_token(text: &str, context: &str) {
    for token in ALL_TOKEN_FORMS {
        for piece in token.as_bytes().windows(8) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(
                !text.contains(piece),
                "{context}: 8 characters of a token value were printed ({piece}):\n{text}"
            );
        }
    }
}

/// The project's root, where `Cargo.toml`, `action.yml` and `.github` are.
pub fn project() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs actionlint (installed by `.ci/run` from PyPI) in a scratch repository holding the
/// project's `action.yml` at its root and each `(name, text)` as a workflow. Returns
/// whether it passed and what it said.
pub fn actionlint(workflows: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(project().join("action.yml"), dir.path().join("action.yml")).unwrap();
    let directory = dir.path().join(".github/workflows");
    fs::create_dir_all(&directory).unwrap();
    for (name, text) in workflows {
        fs::write(directory.join(name), text).unwrap();
    }
    git(dir.path(), dir.path(), &["init", "-q"]);
    let output = Command::new("actionlint")
        .args(["-no-color", "-oneline"])
        .current_dir(dir.path())
        .output()
        .expect("actionlint is installed (.ci/run installs it from PyPI)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

/// A YAML file as JSON, read with PyYAML (pre-commit's own dependency, so `.ci/run`
/// installs it): what a workflow's steps and matrix say, as GitHub reads them.
pub fn yaml(path: &Path) -> serde_json::Value {
    let output = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The `run:` script of the step in `steps` whose `key` (`id` or `name`) is `value`.
pub fn step_script(steps: &serde_json::Value, key: &str, value: &str) -> String {
    steps
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step[key] == value)
        .unwrap_or_else(|| panic!("no step with {key} {value}"))["run"]
        .as_str()
        .unwrap()
        .to_owned()
}
