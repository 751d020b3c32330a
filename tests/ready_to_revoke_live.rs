//! `check --ready-to-revoke` on live streams a hostile tester built (issue 19): streams that
//! are neither `kind: List` nor one object, projected and CSI volumes, ephemeral
//! containers, ECS secrets and environment files under any name, a ConfigMap alone, a
//! reader and a Secret in different namespaces, and streams of hundreds of thousands of
//! references. Each still may hold the token: it answers "cannot tell" (exit 2, saying
//! what to add), never "ready", and it answers in seconds with a bounded output.

mod common;

use common::*;
use std::fs;
use std::time::Duration;

/// What the stream must say of a delegate reading Secret harness/delegate-token.
const MISSING_SECRET: &str = "reads Secret harness/delegate-token, which the input does not hold: add `secret` to the kubectl get";

/// A delegate Deployment in namespace `harness` reading all of Secret `delegate-token`,
/// indented by `indent` spaces, as a sequence item.
fn deployment(indent: usize) -> String {
    let text = "- apiVersion: apps/v1
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
          envFrom:
          - secretRef:
              name: delegate-token
";
    let pad = " ".repeat(indent);
    text.lines().map(|line| format!("{pad}{line}\n")).collect()
}

// Case 1: streams that are not `kind: List` or one object.

#[test]
fn a_list_whose_item_is_a_list_reading_a_missing_secret_cannot_tell() {
    let input = format!(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n{}",
        deployment(2)
    );
    assert_unproven(&ready(&input), MISSING_SECRET);
}

#[test]
fn a_deployment_list_as_kubectl_get_raw_prints_it_reading_a_missing_secret_cannot_tell() {
    let input = format!(
        "apiVersion: apps/v1\nkind: DeploymentList\nmetadata:\n  resourceVersion: '1'\nitems:\n{}",
        deployment(0)
    );
    assert_unproven(&ready(&input), MISSING_SECRET);
}

#[test]
fn a_top_level_yaml_sequence_reading_a_missing_secret_cannot_tell() {
    assert_unproven(&ready(&deployment(0)), MISSING_SECRET);
}

#[test]
fn a_json_array_of_objects_reading_a_missing_secret_cannot_tell() {
    let input = r#"[{"kind": "Deployment", "metadata": {"name": "delegate", "namespace": "harness"},
  "spec": {"template": {"spec": {"containers": [{"name": "delegate",
    "image": "harness/delegate:25.10.87100",
    "envFrom": [{"secretRef": {"name": "delegate-token"}}]}]}}}}]"#;
    assert_unproven(&ready(input), MISSING_SECRET);
}

#[test]
fn a_nested_list_holding_the_secret_on_the_new_token_is_ready() {
    let input = format!(
        "kind: List\nitems:\n- kind: List\n  items:\n{}  - apiVersion: v1\n    kind: Secret\n    metadata: {{name: delegate-token, namespace: harness}}\n    data:\n      DELEGATE_TOKEN: {NEW_BASE64X2}\n",
        deployment(2)
    );
    let run = ready(&input);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
}

// Case 2: projected and CSI volumes, ephemeral containers.

/// A delegate Deployment on the new token with `volumes` (indented for `spec`).
fn with_volumes(volumes: &str) -> String {
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
        volumes:
{volumes}"
    )
}

#[test]
fn a_projected_secret_or_config_map_volume_not_in_the_input_cannot_tell() {
    for (source, kind) in [("secret", "Secret"), ("configMap", "ConfigMap")] {
        let volumes = format!(
            "        - name: cfg\n          projected:\n            sources:\n            - serviceAccountToken: {{path: token}}\n            - {source}:\n                name: delegate-token\n"
        );
        let why = format!(
            "Deployment harness/delegate: reads {kind} harness/delegate-token, which the input does not hold: add `{}` to the kubectl get",
            kind.to_ascii_lowercase()
        );
        assert_unproven(&ready(&with_volumes(&volumes)), &why);
    }
}

#[test]
fn a_projected_secret_volume_of_a_delegate_without_token_env_cannot_tell() {
    let input = "kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: delegate, namespace: harness}
  spec:
    template:
      spec:
        containers:
        - name: delegate
          image: harness/delegate:25.10.87100
          env:
          - {name: DELEGATE_NAME, value: prod}
        volumes:
        - name: cfg
          projected:
            sources:
            - secret: {name: delegate-token}
";
    assert_unproven(&ready(input), MISSING_SECRET);
}

#[test]
fn a_csi_volume_in_a_delegate_pod_cannot_tell_naming_the_driver_and_class() {
    let volumes = "        - name: cfg
          csi:
            driver: secrets-store.csi.k8s.io
            readOnly: true
            volumeAttributes:
              secretProviderClass: harness-delegate-token
";
    assert_unproven(
        &ready(&with_volumes(volumes)),
        "Deployment harness/delegate: its token may be in CSI volume cfg (driver secrets-store.csi.k8s.io, secretProviderClass harness-delegate-token), which rekey cannot read",
    );
}

#[test]
fn an_ephemeral_container_reading_a_missing_secret_cannot_tell() {
    let input = format!(
        "apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {{name: delegate-0, namespace: harness}}
  spec:
    containers:
    - name: delegate
      image: harness/delegate:25.10.87100
      env:
      - {{name: DELEGATE_TOKEN, value: {NEW_BASE64}}}
    ephemeralContainers:
    - name: debugger
      image: busybox
      envFrom:
      - secretRef: {{name: old-token}}
"
    );
    assert_unproven(
        &ready(&input),
        "Pod harness/delegate-0 (container debugger): reads Secret harness/old-token, which the input does not hold",
    );
}

// Case 3: ECS secrets and environment files under any name.

/// An ECS task definition whose delegate container has `extra` after its environment.
fn ecs(extra: &str) -> String {
    format!(
        r#"{{"taskDefinition": {{"family": "harness-delegate", "containerDefinitions": [{{"name": "delegate", "image": "harness/delegate:25.10.87100", "environment": [{{"name": "DELEGATE_NAME", "value": "ecs"}}], {extra}}}]}}}}"#
    )
}

#[test]
fn an_ecs_secret_under_any_name_cannot_tell_naming_the_arn() {
    let arn = "arn:aws:ssm:eu-west-1:111122223333:parameter/harness/token";
    let run = ready(&ecs(&format!(
        r#""secrets": [{{"name": "TOKEN", "valueFrom": "{arn}"}}]"#
    )));
    assert_unproven(
        &run,
        &format!("its token may be in {arn}, which rekey cannot read"),
    );
}

#[test]
fn an_ecs_environment_file_cannot_tell_naming_the_arn() {
    let arn = "arn:aws:s3:::harness-config/delegate.env";
    let run = ready(&ecs(&format!(
        r#""environmentFiles": [{{"value": "{arn}", "type": "s3"}}]"#
    )));
    assert_unproven(
        &run,
        &format!("its token may be in {arn}, which rekey cannot read"),
    );
}

#[test]
fn an_ecs_secret_under_a_token_name_is_said_once() {
    let arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:harness/upgrader-token-AbCdEf";
    let run = ready(&ecs(&format!(
        r#""secrets": [{{"name": "UPGRADER_TOKEN", "valueFrom": "{arn}"}}, {{"name": "OTHER", "valueFrom": "{arn}"}}]"#
    )));
    assert_unproven(&run, arn);
    assert_eq!(run.stdout.matches(arn).count(), 1, "{}", run.stdout);
}

// Case 4: a ConfigMap alone is not a delegate.

#[test]
fn a_config_map_alone_holding_the_new_token_holds_no_delegate() {
    let input = format!(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {{name: delegate-env, namespace: harness}}\n  data:\n    DELEGATE_TOKEN: {NEW_BASE64}\n"
    );
    assert_unproven(&ready(&input), "holds no delegate");
}

// Case 5: hundreds of thousands of references end in seconds, with a bounded output.

/// Runs ready-to-revoke on `input` (written to a file: it is megabytes), failing the
/// test after 30 s instead of hanging it; nothing it prints may hold a token.
fn ready_within_30s(input: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("stream.yaml");
    fs::write(&stream, input).unwrap();
    let args = ["check", "--ready-to-revoke", OLD_FINGERPRINT, "-"];
    let run = rekey_bounded(
        dir.path(),
        &args,
        &[],
        Some(&stream),
        Duration::from_secs(30),
    );
    assert_no_token(&run.stderr, "stderr");
    (run.status, run.stdout)
}

/// Asserts a run over `count` missing Secrets listed 20 of them, then the count of the rest.
fn assert_bounded(status: i32, stdout: &str, count: usize) {
    assert_eq!(status, 2, "{}", &stdout[..stdout.len().min(4000)]);
    assert_eq!(
        stdout.matches("not judged (it may hold the token)").count(),
        20
    );
    assert!(
        stdout.contains(&format!("… and {} more not judged\n", count - 20)),
        "{}",
        &stdout[..stdout.len().min(4000)]
    );
    assert!(
        stdout.contains(&format!(
            "it may be in {count} places rekey could not judge"
        )),
        "{stdout}"
    );
    assert!(stdout.lines().count() < 30, "{stdout}");
}

#[test]
fn a_container_with_50k_env_from_secrets_not_in_the_input_ends_in_seconds() {
    const COUNT: usize = 50_000;
    let mut input = String::from(
        "kind: List\nitems:\n- kind: D\n  metadata: {name: d}\n  containers:\n  - envFrom:\n",
    );
    for i in 0..COUNT {
        input.push_str(&format!("    - secretRef: {{name: s{i:x}}}\n"));
    }
    let (status, stdout) = ready_within_30s(&input);
    assert_bounded(status, &stdout, COUNT);
}

#[test]
fn fifty_thousand_tiny_objects_reading_missing_secrets_end_in_seconds() {
    const COUNT: usize = 50_000;
    let mut input = String::from("kind: List\nitems:\n");
    for i in 0..COUNT {
        input.push_str(&format!(
            "- {{kind: D, metadata: {{name: d{i}}}, containers: [{{envFrom: [{{secretRef: {{name: s{i}}}}}]}}]}}\n"
        ));
    }
    let (status, stdout) = ready_within_30s(&input);
    assert_bounded(status, &stdout, COUNT);
}

// Case 6: namespaces are strict in a live stream.

/// A delegate Deployment reading Secret `delegate-token`, and that Secret on the new
/// token; each with `metadata` extra text (a namespace or none).
fn reader_and_secret(reader_namespace: &str, secret_namespace: &str) -> String {
    format!(
        "apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {{name: delegate{reader_namespace}}}
  spec:
    template:
      spec:
        containers:
        - name: delegate
          image: harness/delegate:25.10.87100
          envFrom:
          - secretRef: {{name: delegate-token}}
- apiVersion: v1
  kind: Secret
  metadata: {{name: delegate-token{secret_namespace}}}
  data:
    DELEGATE_TOKEN: {NEW_BASE64X2}
"
    )
}

#[test]
fn a_reader_without_a_namespace_does_not_read_a_secret_in_one() {
    let run = ready(&reader_and_secret("", ", namespace: other"));
    assert_unproven(
        &run,
        "Deployment delegate (container delegate): reads Secret delegate-token, which the input does not hold",
    );
}

#[test]
fn a_reader_in_a_namespace_does_not_read_a_secret_without_one_or_in_another() {
    for secret_namespace in ["", ", namespace: other"] {
        let run = ready(&reader_and_secret(", namespace: harness", secret_namespace));
        assert_unproven(&run, MISSING_SECRET);
    }
}

#[test]
fn a_reader_and_its_secret_in_the_same_namespace_or_both_without_are_ready() {
    for namespace in ["", ", namespace: harness"] {
        let run = ready(&reader_and_secret(namespace, namespace));
        assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    }
}

#[test]
fn a_delegate_that_shows_no_token_source_cannot_tell() {
    let blind = "shows no token (no env named for it, no envFrom, secrets, env file, mount or token on its command line)";
    let ecs = r#"{"taskDefinition": {"family": "harness-delegate", "containerDefinitions": [{"name": "delegate", "image": "harness/delegate:25.10.87100", "environment": [{"name": "DELEGATE_NAME", "value": "ecs"}]}]}}"#;
    assert_unproven(
        &ready(ecs),
        &format!("container delegate: runs the delegate image but {blind}"),
    );
    let docker = r#"[{"Id": "4f1c", "Name": "/edge", "Config": {"Image": "harness/delegate:25.10.87100", "Env": ["DELEGATE_NAME=edge"], "Cmd": ["./start.sh"]}}]"#;
    assert_unproven(&ready(docker), blind);
    // The same docker container on the new token is evidence.
    let rotated = docker.replace(
        "\"DELEGATE_NAME=edge\"",
        &format!("\"DELEGATE_NAME=edge\", \"DELEGATE_TOKEN={NEW_BASE64}\""),
    );
    let run = ready(&rotated);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
}
