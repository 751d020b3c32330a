//! `check --ready-to-revoke` on live state, tried as a hostile user would: every input that
//! still holds the token, in any place and any encoding kubectl, aws or docker print it,
//! answers "not ready" (exit 1, naming where), and every input that cannot prove the token
//! gone answers "cannot tell" (exit 2, saying what to add). Only evidence says "ready": at
//! least one delegate read, none on the token.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::*;
use std::io::Write as _;

/// Asserts `run` said "not ready" because the token is there, at `place`.
fn assert_held(run: &Run, place: &str) {
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(place), "{place}:\n{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("not ready to revoke {OLD_FINGERPRINT}")),
        "{}",
        run.stdout
    );
}

/// A delegate Deployment in namespace `harness` whose container is `container`.
fn deployment(name: &str, container: &str) -> String {
    format!(
        "- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: {name}
    namespace: harness
  spec:
    template:
      spec:
        containers:
{container}"
    )
}

fn list(items: &[String]) -> String {
    format!("apiVersion: v1\nkind: List\nitems:\n{}", items.concat())
}

fn secret(name: &str, data: &str) -> String {
    format!(
        "- apiVersion: v1
  kind: Secret
  metadata:
    name: {name}
    namespace: harness
  data:
{data}"
    )
}

const KEY_REF_TOKEN: &str = "        - name: delegate
          image: harness/delegate:25.10.87100
          env:
          - name: DELEGATE_TOKEN
            valueFrom:
              secretKeyRef:
                name: delegate-token
                key: token
";

#[test]
fn a_secret_key_ref_to_a_key_not_named_delegate_token_is_not_ready() {
    let padded = OLD_BASE64X2;
    let unpadded = OLD_BASE64X2.trim_end_matches('=');
    for value in [padded, unpadded] {
        let input = list(&[
            deployment("delegate", KEY_REF_TOKEN),
            secret("delegate-token", &format!("    token: {value}\n")),
        ]);
        assert_held(&ready(&input), "Secret harness/delegate-token");
    }
}

#[test]
fn the_same_input_on_the_new_token_is_ready() {
    let input = list(&[
        deployment("delegate", KEY_REF_TOKEN),
        secret("delegate-token", &format!("    token: {NEW_BASE64X2}\n")),
    ]);
    let run = ready(&input);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout,
        format!(
            "rekey check: ready to revoke {OLD_FINGERPRINT}: no delegate in the inputs holds it\n"
        )
    );
}

#[test]
fn env_from_a_secret_with_or_without_a_prefix_is_not_ready() {
    for (prefix, key) in [("\n            prefix: DELEGATE_", "TOKEN"), ("", "TOKEN")] {
        let container = format!(
            "        - name: delegate
          image: harness/delegate:25.10.87100
          envFrom:
          - secretRef:
              name: delegate-env{prefix}
"
        );
        let input = list(&[
            deployment("delegate", &container),
            secret("delegate-env", &format!("    {key}: {OLD_BASE64X2}\n")),
        ]);
        assert_held(&ready(&input), "Secret harness/delegate-env");
    }
}

#[test]
fn a_workload_whose_secret_is_not_in_the_input_cannot_be_judged() {
    let env_from = "        - name: delegate
          image: harness/delegate:25.10.87100
          envFrom:
          - secretRef:
              name: delegate-env
";
    for container in [KEY_REF_TOKEN, env_from] {
        let run = ready(&list(&[deployment("delegate", container)]));
        assert_unproven(
            &run,
            "which the input does not hold: add `secret` to the kubectl get",
        );
        assert!(
            run.stdout.contains("Deployment harness/delegate"),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn a_config_map_holding_the_token_is_not_ready() {
    let container = "        - name: delegate
          image: harness/delegate:25.10.87100
          env:
          - name: DELEGATE_TOKEN
            valueFrom:
              configMapKeyRef:
                name: delegate-config
                key: token
";
    let config_map = |data: &str| {
        format!(
            "- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: delegate-config
    namespace: harness
  data:
{data}"
        )
    };
    let plain = config_map(&format!("    token: {OLD_BASE64}\n"));
    let config_yaml = config_map(&format!(
        "    config.yaml: |\n      delegateName: prod\n      delegateToken: {OLD_BASE64}\n"
    ));
    for item in [plain, config_yaml] {
        let run = ready(&list(&[deployment("delegate", container), item]));
        assert_held(&run, "ConfigMap harness/delegate-config");
    }
    // The ConfigMap missing from the input: it may hold the token.
    let run = ready(&list(&[deployment("delegate", container)]));
    assert_unproven(&run, "add `configmap` to the kubectl get");
}

#[test]
fn the_token_in_container_args_or_a_shell_command_is_not_ready() {
    let args = format!(
        "        - name: delegate
          image: harness/delegate:25.10.87100
          args: [\"--token={OLD_BASE64}\"]
"
    );
    let command = format!(
        "        - name: delegate
          image: harness/delegate:25.10.87100
          command: [sh, -c, \"export DELEGATE_TOKEN={OLD_BASE64} && ./start.sh\"]
"
    );
    for container in [args, command] {
        // A variant env name is a site of the delegate; any other spelling is found as a
        // token in the Deployment: either way, not ready.
        assert_held(
            &ready(&list(&[deployment("delegate", &container)])),
            "harness/delegate",
        );
    }
}

#[test]
fn env_names_in_any_case_separator_or_prefix_are_not_ready() {
    for name in [
        "delegate_token",
        "HARNESS_DELEGATE_TOKEN",
        "harnessDelegateToken",
        "DELEGATE-TOKEN",
    ] {
        let container = format!(
            "        - name: delegate
          image: harness/delegate:25.10.87100
          env:
          - name: {name}
            value: {OLD_BASE64}
"
        );
        // A variant env name is a site of the delegate; any other spelling is found as a
        // token in the Deployment: either way, not ready.
        assert_held(
            &ready(&list(&[deployment("delegate", &container)])),
            "harness/delegate",
        );
    }
}

#[test]
fn the_token_in_an_annotation_or_the_last_applied_configuration_is_not_ready() {
    let new_env = format!(
        "        - name: delegate
          image: harness/delegate:25.10.87100
          env:
          - name: DELEGATE_TOKEN
            value: {NEW_BASE64}
"
    );
    let annotated = |annotation: &str| {
        deployment("delegate", &new_env).replace(
            "    namespace: harness\n",
            &format!("    namespace: harness\n    annotations:\n{annotation}"),
        )
    };
    let plain = annotated(&format!("      rekey.example/previous: {OLD_BASE64}\n"));
    let last_applied = annotated(&format!(
        "      kubectl.kubernetes.io/last-applied-configuration: |\n        {{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"data\":{{\"DELEGATE_TOKEN\":\"{OLD_BASE64X2}\"}}}}\n"
    ));
    for item in [plain, last_applied] {
        assert_held(&ready(&list(&[item])), "Deployment harness/delegate");
    }
}

/// A Helm release Secret as `kubectl get secret -o yaml` prints it: the release is JSON,
/// gzipped, base64-encoded by Helm, and base64-encoded again as Secret data.
fn helm_release(token: &str) -> String {
    use flate2::write::GzEncoder;
    let json = format!(
        "{{\"name\":\"delegate\",\"chart\":{{\"metadata\":{{\"name\":\"harness-delegate-ng\"}}}},\"config\":{{\"delegateName\":\"prod\",\"delegateToken\":\"{token}\"}}}}"
    );
    let mut gzip = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(json.as_bytes()).unwrap();
    let helm = STANDARD.encode(gzip.finish().unwrap());
    secret(
        "sh.helm.release.v1.delegate.v3",
        &format!("    release: {}\n", STANDARD.encode(helm)),
    )
}

#[test]
fn the_token_in_a_helm_release_secret_is_not_ready() {
    let new_env = format!(
        "        - name: delegate
          image: harness/delegate:25.10.87100
          env:
          - name: DELEGATE_TOKEN
            value: {NEW_BASE64}
"
    );
    let held = ready(&list(&[
        deployment("delegate", &new_env),
        helm_release(OLD_BASE64),
    ]));
    assert_held(&held, "Secret harness/sh.helm.release.v1.delegate.v3");
    // The release on the new token hides nothing.
    let rotated = ready(&list(&[
        deployment("delegate", &new_env),
        helm_release(NEW_BASE64),
    ]));
    assert_eq!(rotated.status, 0, "{}{}", rotated.stdout, rotated.stderr);
}

#[test]
fn an_ecs_secret_kept_in_secrets_manager_cannot_be_judged() {
    let arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:harness/delegate-token-AbCdEf";
    let task = format!(
        r#"{{"taskDefinition": {{"family": "harness-delegate", "containerDefinitions": [{{"name": "delegate", "image": "harness/delegate:25.10.87100", "secrets": [{{"name": "DELEGATE_TOKEN", "valueFrom": "{arn}"}}]}}]}}}}"#
    );
    let run = ready(&task);
    assert_unproven(&run, arn);
    let command = format!(
        r#"{{"taskDefinition": {{"family": "harness-delegate", "containerDefinitions": [{{"name": "delegate", "image": "harness/delegate:25.10.87100", "command": ["sh", "-c", "export DELEGATE_TOKEN={OLD_BASE64} && ./start.sh"]}}]}}}}"#
    );
    assert_held(&ready(&command), "-:1:");
}

#[test]
fn docker_inspect_env_with_quotes_args_and_cmd_are_not_ready() {
    let inspect = |config: &str| {
        format!(
            r#"[{{"Id": "4f1c", "Name": "/edge-delegate", "Args": [], "Config": {{"Image": "harness/delegate:25.10.87100", {config}}}}}]"#
        )
    };
    for config in [
        format!(r#""Env": ["DELEGATE_TOKEN=\"{OLD_BASE64}\""]"#),
        format!(r#""Env": [], "Cmd": ["--token", "{OLD_BASE64}"]"#),
        format!(
            r#""Env": [], "Cmd": ["sh", "-c", "export DELEGATE_TOKEN={OLD_BASE64} && ./start.sh"]"#
        ),
    ] {
        assert_held(&ready(&inspect(&config)), "-:1:");
    }
}

#[test]
fn an_input_that_holds_no_delegate_proves_nothing() {
    for input in [
        "",
        "Error from server (Forbidden): deployments.apps is forbidden: User \"ci\" cannot list resource\n",
        "No resources found in harness namespace.\n",
        "null\n",
        "apiVersion: v1\nkind: List\nitems: []\n",
        "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": []}\n",
    ] {
        let run = ready(input);
        assert_unproven(&run, "the input holds no delegate: nothing proves the token is gone");
    }
}

#[test]
fn the_token_anywhere_in_the_input_even_as_a_key_name_is_not_ready() {
    let new_env = format!(
        "        - name: delegate
          image: harness/delegate:25.10.87100
          env:
          - name: DELEGATE_TOKEN
            value: {NEW_BASE64}
          - name: {OLD_HEX}
            value: x
"
    );
    assert_held(&ready(&list(&[deployment("delegate", &new_env)])), "-:");
}

#[test]
fn an_input_that_cannot_be_parsed_cannot_be_judged() {
    let run = ready("kind: List\nitems:\n- DELEGATE_TOKEN: [unclosed\n");
    assert_unproven(&run, "cannot parse this YAML file");
}

#[test]
fn a_utf16_stream_as_powershell_pipes_it_is_read_like_utf8() {
    let input = list(&[
        deployment("delegate", KEY_REF_TOKEN),
        secret("delegate-token", &format!("    token: {OLD_BASE64X2}\n")),
    ]);
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(input.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.txt");
    std::fs::write(&path, utf16).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rekey"))
        .args(["check", "--ready-to-revoke", OLD_FINGERPRINT, "-"])
        .current_dir(dir.path())
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_no_token(&stdout, "stdout");
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("(in Secret harness/delegate-token)"),
        "{stdout}"
    );
}
