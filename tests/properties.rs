//! Property tests for every scanner: for generated files in each format, with a token
//! planted at known byte ranges among realistic noise (comments, other keys, odd quoting,
//! continuations, CRLF, commented-out copies), the scan finds exactly those ranges, a
//! rotation changes only them, the result re-scans to the new token there, and rotating
//! back restores the original bytes. The `.env` lexer is also cross-checked with dotenvy.

use proptest::prelude::*;
use rekey::find::scan::{scan_file, Scan, ScannedFile};
use rekey::find::walk::SourceFile;
use rekey::model::site::Limit;
use rekey::model::token::NewToken;
use rekey::rotate::plan::{plan, RotateOptions};
use rekey::rotate::verify::rewrite;
use std::ops::Range;
use std::path::PathBuf;

const NEW: &str = "c0ffee00c0ffee00c0ffee00c0ffee00";

/// A file under construction: text, and where the planted token sits.
#[derive(Debug, Clone, Default)]
struct Planted {
    text: String,
    spans: Vec<Range<usize>>,
}

impl Planted {
    fn raw(&mut self, text: &str) {
        self.text.push_str(text);
    }

    fn token(&mut self, token: &str) {
        let start = self.text.len();
        self.text.push_str(token);
        self.spans.push(start..start + token.len());
    }
}

fn scanned(name: &str, text: &str) -> ScannedFile {
    let file = SourceFile::new(
        PathBuf::from(name),
        name.to_owned(),
        text.as_bytes().to_vec(),
    );
    scan_file(file)
        .unwrap_or_else(|e| panic!("{name} failed to scan: {e}\n{text}"))
        .unwrap_or_else(|| panic!("{name}: no site found in\n{text}"))
}

/// `file` (scanned from `text`) rotated to `to`, verified.
fn rotate(file: ScannedFile, text: &[u8], to: &str) -> Vec<u8> {
    let scan = Scan {
        files: vec![Box::new(file)],
        ..Scan::default()
    };
    let new = NewToken::parse(to).unwrap();
    let options = RotateOptions {
        keep_legacy_keys: true,
        ..RotateOptions::default()
    };
    let plan = plan(&scan, &new, &options).expect("the rotation plans");
    assert_eq!(plan.files.len(), 1);
    rewrite(&plan.files[0], &plan.edits(&plan.files[0]), text, &plan.new)
        .expect("the rotation verifies")
        .to_vec()
}

/// The whole property, for one generated file.
fn assert_rotation_round_trips(name: &str, planted: &Planted, old: &str) {
    let text = &planted.text;
    let file = scanned(name, text);
    let mut found: Vec<Range<usize>> = file
        .sites
        .iter()
        .filter(|s| s.value.is_token() && !matches!(s.limit, Some(Limit::ReportOnly(_))))
        .map(|s| s.value_span.clone())
        .collect();
    found.dedup();
    assert_eq!(
        found, planted.spans,
        "{name}: sites differ from the planted ones in\n{text}"
    );

    let mut expected = text.clone();
    for span in planted.spans.iter().rev() {
        expected.replace_range(span.clone(), NEW);
    }
    let rotated = rotate(file, text.as_bytes(), NEW);
    assert_eq!(
        String::from_utf8(rotated.clone()).unwrap(),
        expected,
        "{name}: rotation changed more than the sites"
    );

    let back = rotate(scanned(name, &expected), expected.as_bytes(), old);
    assert_eq!(
        String::from_utf8(back).unwrap(),
        *text,
        "{name}: rotating back did not restore the file"
    );
}

fn token() -> impl Strategy<Value = String> {
    // Starts with a letter so that no YAML reads it as a number.
    "[a-f][0-9a-f]{31}"
}

fn newline() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("\n"), Just("\r\n")]
}

fn env_key() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("DELEGATE_TOKEN"),
        Just("UPGRADER_TOKEN"),
        Just("ACCOUNT_SECRET")
    ]
}

/// Quoting: bare, "double" or 'single'.
fn quote() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just("\""), Just("'")]
}

#[derive(Debug, Clone)]
enum EnvLine {
    Comment,
    Other,
    Token {
        key: &'static str,
        export: bool,
        quote: &'static str,
        trailing_comment: bool,
    },
    CommentedToken(&'static str),
}

fn env_line() -> impl Strategy<Value = EnvLine> {
    prop_oneof![
        Just(EnvLine::Comment),
        Just(EnvLine::Other),
        (env_key(), any::<bool>(), quote(), any::<bool>()).prop_map(
            |(key, export, quote, trailing_comment)| {
                EnvLine::Token {
                    key,
                    export,
                    quote,
                    trailing_comment,
                }
            }
        ),
        env_key().prop_map(EnvLine::CommentedToken),
    ]
}

fn env_file(lines: &[EnvLine], token: &str, newline: &str) -> Planted {
    let mut file = Planted::default();
    for line in lines {
        match line {
            EnvLine::Comment => file.raw("# delegate settings"),
            EnvLine::Other => file.raw("ACCOUNT_ID=Xy7ArcXnR1uv3TfcmGxQ2w"),
            EnvLine::Token {
                key,
                export,
                quote,
                trailing_comment,
            } => {
                if *export {
                    file.raw("export ");
                }
                file.raw(&format!("{key}={quote}"));
                file.token(token);
                file.raw(quote);
                if *trailing_comment {
                    file.raw(" # rotated by rekey");
                }
            }
            EnvLine::CommentedToken(key) => {
                file.raw(&format!("# {key}={}", "fedcba98765432100123456789abcdef"))
            }
        }
        file.raw(newline);
    }
    file
}

#[derive(Debug, Clone)]
enum ShellPiece {
    Noise,
    Comment,
    Export {
        key: &'static str,
        quote: &'static str,
    },
    DockerRun {
        flags: Vec<(u8, &'static str, &'static str)>,
    },
    HelmSet,
    Echo,
    Heredoc,
}

fn shell_piece() -> impl Strategy<Value = ShellPiece> {
    prop_oneof![
        Just(ShellPiece::Noise),
        Just(ShellPiece::Comment),
        (env_key(), quote()).prop_map(|(key, quote)| ShellPiece::Export { key, quote }),
        prop::collection::vec((0u8..3, env_key(), quote()), 1..4)
            .prop_map(|flags| ShellPiece::DockerRun { flags }),
        Just(ShellPiece::HelmSet),
        Just(ShellPiece::Echo),
        Just(ShellPiece::Heredoc),
    ]
}

fn shell_script(pieces: &[ShellPiece], token: &str, newline: &str) -> Planted {
    let mut file = Planted::default();
    file.raw(&format!("#!/bin/bash{newline}set -e{newline}"));
    for piece in pieces {
        match piece {
            ShellPiece::Noise => file.raw(&format!(
                "echo \"starting $(date)\" | tee -a log; cd /opt/harness{newline}"
            )),
            ShellPiece::Comment => file.raw(&format!(
                "# old: -e DELEGATE_TOKEN=fedcba98765432100123456789abcdef{newline}"
            )),
            ShellPiece::Export { key, quote } => {
                file.raw(&format!("export {key}={quote}"));
                file.token(token);
                file.raw(&format!("{quote}{newline}"));
            }
            ShellPiece::DockerRun { flags } => {
                file.raw("docker run -d --name delegate");
                for (style, key, quote) in flags {
                    file.raw(&format!(" \\{newline}  "));
                    match style {
                        0 => file.raw(&format!("-e {key}={quote}")),
                        1 => file.raw(&format!("--env {quote}{key}=")),
                        _ => file.raw(&format!("--env={key}={quote}")),
                    }
                    file.token(token);
                    file.raw(quote);
                }
                file.raw(&format!(" \\{newline}  harness/delegate:latest{newline}"));
            }
            ShellPiece::HelmSet => {
                file.raw("helm upgrade -i d harness-delegate/harness-delegate-ng --set accountId=x,delegateToken=");
                file.token(token);
                file.raw(&format!(" --set replicas=1{newline}"));
            }
            ShellPiece::Echo => {
                file.raw(
                    "grep -q \"^delegateToken:\" config-watcher.yml || echo \"delegateToken: ",
                );
                file.token(token);
                file.raw(&format!("\" >> config-watcher.yml{newline}"));
            }
            ShellPiece::Heredoc => {
                file.raw(&format!("cat > config-delegate.yml <<'EOF'{newline}managerUrl: https://app.harness.io/api/{newline}delegateToken: "));
                file.token(token);
                file.raw(&format!("{newline}EOF{newline}"));
            }
        }
    }
    file
}

#[derive(Debug, Clone)]
enum YamlPiece {
    EnvBlock {
        key: &'static str,
        quote: &'static str,
    },
    EnvFlow {
        key: &'static str,
    },
    HelmValue {
        depth: usize,
        quote: &'static str,
    },
    Comment,
    Other,
}

fn yaml_piece() -> impl Strategy<Value = YamlPiece> {
    prop_oneof![
        (env_key(), quote()).prop_map(|(key, quote)| YamlPiece::EnvBlock { key, quote }),
        env_key().prop_map(|key| YamlPiece::EnvFlow { key }),
        (0usize..3, quote()).prop_map(|(depth, quote)| YamlPiece::HelmValue { depth, quote }),
        Just(YamlPiece::Comment),
        Just(YamlPiece::Other),
    ]
}

fn yaml_file(pieces: &[YamlPiece], token: &str, newline: &str) -> Planted {
    let mut file = Planted::default();
    for (index, piece) in pieces.iter().enumerate() {
        file.raw(&format!("---{newline}"));
        match piece {
            YamlPiece::EnvBlock { key, quote } => {
                file.raw(&format!("spec:{newline}  containers:{newline}  - name: d{index}{newline}    env:{newline}    - name: DELEGATE_NAME{newline}      value: d{newline}    - name: {key}{newline}      value: {quote}"));
                file.token(token);
                file.raw(&format!("{quote}  # from the UI{newline}"));
            }
            YamlPiece::EnvFlow { key } => {
                file.raw(&format!("env: [{{name: {key}, value: \""));
                file.token(token);
                file.raw(&format!("\"}}, {{name: X, value: y}}]{newline}"));
            }
            YamlPiece::HelmValue { depth, quote } => {
                let mut indent = String::new();
                for level in 0..*depth {
                    file.raw(&format!("{indent}chart{level}:{newline}"));
                    indent.push_str("  ");
                }
                file.raw(&format!("{indent}delegateToken: {quote}"));
                file.token(token);
                file.raw(&format!(
                    "{quote}{newline}{indent}existingDelegateToken: \"\"{newline}"
                ));
            }
            YamlPiece::Comment => file.raw(&format!(
                "# delegateToken: fedcba98765432100123456789abcdef{newline}a: 1{newline}"
            )),
            YamlPiece::Other => file.raw(&format!(
                "kind: ConfigMap{newline}data:{newline}  LOG_LEVEL: info{newline}"
            )),
        }
    }
    file
}

fn json_file(entries: &[(bool, &'static str)], token: &str, pretty: bool) -> Planted {
    let (nl, pad) = if pretty { ("\n", "  ") } else { ("", "") };
    let mut file = Planted::default();
    file.raw(&format!(
        "{{{nl}{pad}\"family\": \"delegate\",{nl}{pad}\"environment\": [{nl}"
    ));
    for (index, (value_first, key)) in entries.iter().enumerate() {
        file.raw(&format!("{pad}{pad}{{ "));
        if *value_first {
            file.raw("\"value\": \"");
            file.token(token);
            file.raw(&format!("\", \"name\": \"{key}\""));
        } else {
            file.raw(&format!("\"name\": \"{key}\", \"value\": \""));
            file.token(token);
            file.raw("\"");
        }
        file.raw(" }");
        if index + 1 < entries.len() {
            file.raw(",");
        }
        file.raw(nl);
    }
    file.raw(&format!("{pad}],{nl}{pad}\"delegateToken\": \""));
    file.token(token);
    file.raw(&format!("\"{nl}}}{nl}"));
    file
}

fn toml_file(quotes: &[bool], token: &str) -> Planted {
    let mut file = Planted::default();
    for (index, literal) in quotes.iter().enumerate() {
        let quote = if *literal { "'" } else { "\"" };
        file.raw(&format!(
            "# delegate {index}\n[delegate{index}]\nname = \"d{index}\"\ndelegate_token = {quote}"
        ));
        file.token(token);
        file.raw(&format!("{quote} # in force\n\n"));
    }
    file
}

fn terraform_file(pieces: &[u8], token: &str) -> Planted {
    let mut file = Planted::default();
    for (index, piece) in pieces.iter().enumerate() {
        match piece % 3 {
            0 => {
                file.raw(&format!("variable \"v{index}\" {{\n  default = \"x\"\n}}\ndelegate_token_{index}_note = \"see vault\"\n"));
            }
            1 => {
                file.raw(&format!("resource \"helm_release\" \"d{index}\" {{\n  chart = \"harness-delegate-ng\"\n  set_sensitive {{\n    name  = \"delegateToken\"\n    value = \""));
                file.token(token);
                file.raw("\"\n  }\n}\n");
            }
            _ => {
                file.raw(&format!("module \"d{index}\" {{\n  source         = \"./delegate\"\n  delegate_token = \""));
                file.token(token);
                file.raw("\" # prod\n}\n");
            }
        }
    }
    file
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn dotenv_rotations_touch_only_the_sites(lines in prop::collection::vec(env_line(), 1..12), token in token(), newline in newline()) {
        let planted = env_file(&lines, &token, newline);
        prop_assume!(!planted.spans.is_empty());
        assert_rotation_round_trips(".env", &planted, &token);
    }

    #[test]
    fn dotenv_values_agree_with_dotenvy(lines in prop::collection::vec(env_line(), 1..12), token in token()) {
        let planted = env_file(&lines, &token, "\n");
        prop_assume!(!planted.spans.is_empty());
        let ours: Vec<(String, String)> = scanned(".env", &planted.text)
            .sites
            .iter()
            .filter(|s| s.limit.is_none())
            .map(|s| (s.key.to_string(), planted.text[s.value_span.clone()].to_owned()))
            .collect();
        let theirs: Vec<(String, String)> = dotenvy::from_read_iter(planted.text.as_bytes())
            .map(|item| item.expect("dotenvy parses the generated file"))
            .filter(|(key, _)| rekey::model::keys::is_token_key(key))
            .collect();
        prop_assert_eq!(ours, theirs);
    }

    #[test]
    fn shell_rotations_touch_only_the_sites(pieces in prop::collection::vec(shell_piece(), 1..8), token in token(), newline in newline()) {
        let planted = shell_script(&pieces, &token, newline);
        prop_assume!(!planted.spans.is_empty());
        assert_rotation_round_trips("launch.sh", &planted, &token);
    }

    #[test]
    fn yaml_rotations_touch_only_the_sites(pieces in prop::collection::vec(yaml_piece(), 1..6), token in token(), newline in newline()) {
        let planted = yaml_file(&pieces, &token, newline);
        prop_assume!(!planted.spans.is_empty());
        assert_rotation_round_trips("values.yaml", &planted, &token);
    }

    #[test]
    fn json_rotations_touch_only_the_sites(entries in prop::collection::vec((any::<bool>(), env_key()), 0..5), token in token(), pretty in any::<bool>()) {
        let planted = json_file(&entries, &token, pretty);
        assert_rotation_round_trips("task-spec.json", &planted, &token);
    }

    #[test]
    fn toml_rotations_touch_only_the_sites(quotes in prop::collection::vec(any::<bool>(), 1..5), token in token()) {
        let planted = toml_file(&quotes, &token);
        assert_rotation_round_trips("delegate.toml", &planted, &token);
    }

    #[test]
    fn terraform_rotations_touch_only_the_sites(pieces in prop::collection::vec(any::<u8>(), 1..6), token in token()) {
        let planted = terraform_file(&pieces, &token);
        prop_assume!(!planted.spans.is_empty());
        assert_rotation_round_trips("main.tf", &planted, &token);
    }
}

/// Fragments that stress the lexers and parsers: quotes, escapes, heredocs, comments,
/// substitutions, multi-byte characters and the key names themselves.
fn fragment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "DELEGATE_TOKEN",
        "accountSecret",
        "delegateToken",
        "delegate_token",
        "=",
        ": ",
        "\"",
        "'",
        "\\",
        "\n",
        "\r\n",
        " ",
        "\t",
        "#",
        "<<",
        "EOF",
        "<<<",
        "$(",
        ")",
        "${",
        "}",
        "`",
        "-e ",
        "--env=",
        "é",
        "値",
        "{",
        "[",
        "]",
        ",",
        "- ",
        "name: ",
        "value: ",
        "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "export ",
        "|",
        ">",
        "&",
        ";",
        "{{",
        "*a",
        "&a ",
        "\u{feff}",
        "ENV ",
        "ARG ",
        "FROM harness/delegate\n",
        "Environment=",
        "ExecStart=/opt/start.sh\n",
        ":-",
        "ENC[AES256_GCM,data:x,type:str]",
        "values = [<<-EOT\n",
        "EOT\n",
        "yamlencode(",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_scanner_panics_and_every_span_is_a_char_range(parts in prop::collection::vec(fragment(), 0..40)) {
        let text: String = parts.concat();
        for name in rekey::rotate::property::FILE_NAMES {
            let Ok(Some(file)) = scan_file(SourceFile::new(
                PathBuf::from(name),
                name.to_owned(),
                text.as_bytes().to_vec(),
            )) else {
                continue;
            };
            for site in &file.sites {
                for span in [&site.key_span, &site.value_span] {
                    prop_assert!(text.get(span.clone()).is_some(), "{name}: {span:?} is not a char range of {text:?}");
                }
                prop_assert!(site.location <= text.len());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The property the fuzz target checks (see `rekey::rotate::property`): no panic, a rotation
    /// changes only token values and legacy key names, a second rotation changes nothing.
    #[test]
    fn rotations_of_hostile_fragments_keep_the_rotate_property(parts in prop::collection::vec(fragment(), 0..40)) {
        let text: String = parts.concat();
        for name in rekey::rotate::property::FILE_NAMES {
            if let Err(broken) = rekey::rotate::property::check(name, text.as_bytes()) {
                prop_assert!(false, "{name}: {broken}\n{text:?}");
            }
        }
    }

    #[test]
    fn rotations_of_generated_files_keep_the_rotate_property(
        lines in prop::collection::vec(env_line(), 1..12),
        pieces in prop::collection::vec(yaml_piece(), 1..6),
        shell in prop::collection::vec(shell_piece(), 1..8),
        token in token(),
        newline in newline(),
    ) {
        for (name, planted) in [
            (".env", env_file(&lines, &token, newline)),
            ("values.yaml", yaml_file(&pieces, &token, newline)),
            ("start.sh", shell_script(&shell, &token, newline)),
        ] {
            if let Err(broken) = rekey::rotate::property::check(name, planted.text.as_bytes()) {
                prop_assert!(false, "{name}: {broken}\n{:?}", planted.text);
            }
        }
    }
}
