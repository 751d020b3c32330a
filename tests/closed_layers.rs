//! The layers a hostile tester hid the token under (issue 19): short base64 values holding a
//! token inside a line of config, base64 wrapped over lines (GNU `base64`, a block scalar,
//! JSON `\n` escapes), zlib, the same layers in files `check` reads, a JSON escape glued
//! before a token, a symlink whose target is the token, and a shell line continued inside
//! a token. Each keeps `check --ready-to-revoke` at "not ready" and fails `check`.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::*;
use std::io::Write as _;

fn b64(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

/// Asserts `run` said "not ready" because the token stands at `place` (once), under a
/// layer.
fn assert_held_once(run: &Run, place: &str, context: &str) {
    assert_eq!(run.status, 1, "{context}\n{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.matches(place).count(),
        1,
        "{context}: {place}\n{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("it still stands in 1 place"),
        "{context}\n{}",
        run.stdout
    );
}

/// A delegate on the new token, and a `kind` object in namespace `harness` whose `data`
/// is `data` (indented four spaces).
fn live_with(kind: &str, data: &str) -> String {
    format!(
        "apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: delegate
    namespace: harness
  spec:
    template:
      spec:
        containers:
        - name: delegate
          image: harness/delegate:25.10.87100
          env:
          - name: DELEGATE_TOKEN
            value: {NEW_BASE64}
- apiVersion: v1
  kind: {kind}
  metadata:
    name: delegate-config
    namespace: harness
  data:
{data}"
    )
}

/// `text` in base64 wrapped at 76 columns, as GNU `base64` prints it.
fn wrapped76(bytes: &[u8]) -> Vec<String> {
    let text = b64(bytes);
    text.as_bytes()
        .chunks(76)
        .map(|line| String::from_utf8(line.to_vec()).unwrap())
        .collect()
}

#[test]
fn a_short_base64_value_holding_the_token_inside_a_line_is_not_ready() {
    let wraps = [
        ("delegateToken: ", "\n"),
        ("DELEGATE_TOKEN=", "\n"),
        ("\"", "\""),
        ("--token=", ""),
        ("{\"token\":\"", "\"}"),
        ("\t", "\t"),
    ];
    let inner = [OLD_HEX, OLD_BASE64, OLD_BASE64.trim_end_matches('=')];
    for (prefix, suffix) in wraps {
        for token in inner {
            let once = b64(format!("{prefix}{token}{suffix}"));
            for value in [
                once.clone(),
                b64(&once),
                once.trim_end_matches('=').to_owned(),
            ] {
                let context = format!("{prefix:?} {} chars", value.len());
                let run = ready(&live_with("Secret", &format!("    f: {value}\n")));
                assert_held_once(&run, "-:24:8: holds the token, under base64", &context);
            }
        }
    }
    // The base64 token itself, 44 characters, is listed once, not also as a layer.
    let run = ready(&live_with("Secret", &format!("    f: {OLD_BASE64}\n")));
    assert_held_once(&run, "-:24:8: holds the token (in Secret", "plain");
    assert!(!run.stdout.contains("under base64"), "{}", run.stdout);
}

fn delegate_config() -> String {
    format!(
        "delegateName: prod-eu-1\nmanagerHost: https://app.harness.io\naccountId: abcdefABCDEF0123456789\ndelegateToken: {OLD_HEX}\ndelegateType: KUBERNETES\n"
    )
}

fn compressed(bytes: &[u8], zlib: bool) -> Vec<u8> {
    if zlib {
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    } else {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }
}

#[test]
fn base64_wrapped_at_76_columns_in_a_block_scalar_is_not_ready() {
    let config = delegate_config();
    // The token's hex straddles the first and second lines, then each other place.
    for lead in ["", "x", "xy", "xyz", &"z".repeat(40)] {
        let lines = wrapped76(format!("{lead}{config}").as_bytes());
        let data = format!("    config.b64: |\n      {}\n", lines.join("\n      "));
        let run = ready(&live_with("ConfigMap", &data));
        assert_held_once(&run, "-:25:7: holds the token, under base64", lead);
    }
    let lines = wrapped76(&compressed(config.as_bytes(), false));
    let data = format!("    config.gz.b64: |\n      {}\n", lines.join("\n      "));
    assert_held_once(
        &ready(&live_with("ConfigMap", &data)),
        "-:25:7: holds the token, under base64",
        "gzip",
    );
}

#[test]
fn base64_wrapped_with_json_newline_escapes_is_not_ready() {
    let lines = wrapped76(delegate_config().as_bytes());
    let input = format!(
        "{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [
{{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\", \"metadata\": {{\"name\": \"d\", \"namespace\": \"harness\"}},
 \"spec\": {{\"template\": {{\"spec\": {{\"containers\": [{{\"name\": \"delegate\", \"image\": \"harness/delegate:1\",
 \"env\": [{{\"name\": \"DELEGATE_TOKEN\", \"value\": \"{NEW_BASE64}\"}}]}}]}}}}}}}},
{{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"c\", \"namespace\": \"harness\"}},
 \"data\": {{\"cfg.b64\": \"{}\"}}}}]}}",
        lines.join("\\n")
    );
    assert_held_once(
        &ready(&input),
        "-:6:23: holds the token, under base64",
        "json",
    );
}

#[test]
fn a_zlib_layer_is_opened_like_gzip() {
    let data = format!(
        "    cfg: {}\n",
        b64(compressed(delegate_config().as_bytes(), true))
    );
    assert_held_once(
        &ready(&live_with("Secret", &data)),
        "-:24:10: holds the token, under base64",
        "zlib",
    );
}

/// A repository whose policy revokes the old token, holding `files`, committed.
fn revoking_repo(files: &[(&str, &str)]) -> (tempfile::TempDir, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    git(dir.path(), home.path(), &["init", "-q", "."]);
    let policy = format!("[tokens]\nrevoked = [\"{OLD_FINGERPRINT}\"]\n");
    std::fs::write(dir.path().join(".rekey.toml"), policy).unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    commit_all(dir.path(), home.path());
    (dir, home)
}

fn secret_file(data: &str) -> String {
    format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: delegate-config\ndata:\n{data}")
}

#[test]
fn check_fails_on_a_secret_file_whose_base64_config_holds_the_revoked_token() {
    let short = b64(format!("delegateToken: {OLD_HEX}\n"));
    let long = b64(delegate_config());
    // The base64-twice token split over two lines of a block scalar, under a key no
    // scanner reads: Kubernetes joins the lines.
    let (first, second) = OLD_BASE64X2.split_at(30);
    let files = [
        (
            "k8s/short.yaml",
            secret_file(&format!("  config.yaml: {short}\n")),
        ),
        (
            "k8s/long.yaml",
            secret_file(&format!("  config.yaml: {long}\n")),
        ),
        (
            "k8s/split.yaml",
            secret_file(&format!("  token: |\n    {first}\n    {second}\n")),
        ),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let (dir, _home) = revoking_repo(&files);
    let run = rekey(dir.path(), &["check"]);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert_no_token(&run.stdout, "stdout");
    assert_no_token(&run.stderr, "stderr");
    for place in [
        "k8s/long.yaml:6:16",
        "k8s/short.yaml:6:16",
        "k8s/split.yaml:7:5",
    ] {
        let line = format!("{place}: error[revoked-token]");
        assert_eq!(
            run.stdout.matches(&line).count(),
            1,
            "{place}\n{}",
            run.stdout
        );
    }
    assert!(run.stdout.contains("3 errors"), "{}", run.stdout);
    // --ready-to-revoke reads the same layers in a repository and in paths.
    let repo = dir.path().to_str().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    for args in [["--repo", repo], ["--", repo]] {
        let mut all = vec!["check", "--ready-to-revoke", OLD_FINGERPRINT];
        all.extend(args);
        let run = rekey(cwd.path(), &all);
        assert_eq!(run.status, 1, "{args:?}\n{}{}", run.stdout, run.stderr);
        assert_no_token(&run.stdout, "stdout");
        assert!(run.stdout.contains("short.yaml:6:16"), "{}", run.stdout);
    }
}

#[test]
fn a_token_found_as_it_stands_is_not_also_listed_as_a_layer() {
    let data = format!("  token: {OLD_BASE64}\n  twice: {OLD_BASE64X2}\n");
    let (dir, _home) = revoking_repo(&[("k8s/s.yaml", &secret_file(&data))]);
    let run = rekey(dir.path(), &["check"]);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert_no_token(&run.stdout, "stdout");
    assert_eq!(
        run.stdout.matches("error[revoked-token]").count(),
        2,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("k8s/s.yaml:6:10: error"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("k8s/s.yaml:7:10: error"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_json_escape_glued_before_the_token_does_not_hide_it() {
    // docker inspect: a heredoc in `Cmd`, `\n` glued before the base64 token; Go's `\u003c`
    // glued before the hex (36 hex digits in a row).
    let docker = |command: &str| {
        format!(
            "[{{\"Id\": \"4f1c\", \"Name\": \"/edge-delegate\", \"Config\": {{\"Image\": \"harness/delegate:25.10.87100\",
 \"Env\": [\"DELEGATE_TOKEN={NEW_BASE64}\"],
 \"Cmd\": [\"sh\", \"-c\", \"{command}\"]}}}}]"
        )
    };
    let heredoc = format!("cat > /opt/token <<EOF\\n{OLD_BASE64}\\nEOF\\n./start.sh");
    let run = ready(&docker(&heredoc));
    assert_held_once(&run, "-:3:47: holds the token", "newline escape");
    let go = format!("./start.sh \\u003c{OLD_HEX}");
    let run = ready(&docker(&go));
    assert_held_once(&run, "-:3:40: holds the token", "go escape");
    // The same in a file `check` reads.
    let ecs = format!("{{\"containerDefinitions\":[{{\"name\":\"d\",\"command\":[\"sh\",\"-c\",\"{heredoc}\"]}}]}}\n");
    let (dir, _home) = revoking_repo(&[("ecs/task.json", &ecs)]);
    let run = rekey(dir.path(), &["check"]);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert_no_token(&run.stdout, "stdout");
    assert!(
        run.stdout
            .contains("ecs/task.json:1:84: error[revoked-token]"),
        "{}",
        run.stdout
    );
}
