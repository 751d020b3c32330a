//! Installing rekey without compiling it: the release workflow (linted by actionlint) packs
//! one archive per platform with its SHA-256; `cargo binstall`'s templates in Cargo.toml
//! name exactly those archives and the binary's path inside them; the action's installer,
//! `scripts/install-rekey.sh`, picks the archive for each OS and machine, installs it from
//! a local (file://) release, and refuses one whose checksum does not match. Each step is
//! run as written in the workflow, with bash, never from a copy.

mod common;

use common::*;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn release_workflow() -> PathBuf {
    project().join(".github/workflows/release.yml")
}

/// The targets the release builds, from the workflow's matrix.
fn release_targets() -> Vec<String> {
    yaml(&release_workflow())["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["target"].as_str().unwrap().to_owned())
        .collect()
}

fn build_step(name: &str) -> String {
    step_script(
        &yaml(&release_workflow())["jobs"]["build"]["steps"],
        "name",
        name,
    )
}

fn crate_version() -> String {
    let manifest = fs::read_to_string(project().join("Cargo.toml")).unwrap();
    let manifest: toml_edit::DocumentMut = manifest.parse().unwrap();
    manifest["package"]["version"].as_str().unwrap().to_owned()
}

/// Runs a step's script with bash in `dir`, as the runner would.
fn run_step(script: &str, dir: &Path, env: &[(&str, &str)]) -> std::process::Output {
    Command::new("bash")
        .args(["-e", "-c", script])
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn actionlint_accepts_the_release_workflow() {
    let workflow = fs::read_to_string(release_workflow()).unwrap();
    let (passed, output) = actionlint(&[("release.yml", &workflow)]);
    assert!(passed, "{output}");
    assert_eq!(output, "");
    let broken = workflow.replace("ubuntu-24.04-arm", "ubuntu-24.04-arm9");
    let (passed, output) = actionlint(&[("release.yml", &broken)]);
    assert!(!passed);
    assert!(
        output.contains("label \"ubuntu-24.04-arm9\" is unknown"),
        "{output}"
    );
}

#[test]
fn the_release_builds_static_linux_and_macos_binaries_on_tags() {
    let workflow = yaml(&release_workflow());
    // PyYAML reads the key `on` as true.
    assert_eq!(workflow["true"]["push"]["tags"], serde_json::json!(["v*"]));
    assert_eq!(
        release_targets(),
        [
            "x86_64-unknown-linux-musl",
            "aarch64-unknown-linux-musl",
            "x86_64-apple-darwin",
            "aarch64-apple-darwin",
        ]
    );
    let check = build_step("Check the binary runs (and, on Linux, is static)");
    assert!(check.contains("statically linked"), "{check}");
}

#[test]
fn a_tag_that_is_not_the_crate_version_stops_the_release() {
    let step = build_step("The tag names the crate's version");
    let version = crate_version();
    let tag = format!("v{version}");
    let ok = run_step(&step, project(), &[("GITHUB_REF_NAME", &tag)]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let wrong = run_step(&step, project(), &[("GITHUB_REF_NAME", "v99.0.0")]);
    assert!(!wrong.status.success());
    assert_eq!(
        String::from_utf8_lossy(&wrong.stdout),
        format!("::error::tag v99.0.0 is not v{version}, the version in Cargo.toml (cargo binstall looks for v{version})\n")
    );
}

/// What stands in for rekey built for `target`: a script that names its target, so a test
/// can tell which archive was installed.
fn stand_in(target: &str) -> String {
    format!("#!/bin/sh\necho 'rekey for {target}'\n")
}

/// A release directory as the workflow makes it, a stand-in for each target's build:
/// `<dir>/<tag>/<archive>.tar.gz` and its `.sha256`, made by the workflow's own Package
/// step.
fn local_release(tag: &str, targets: &[String]) -> tempfile::TempDir {
    let releases = tempfile::tempdir().unwrap();
    let published = releases.path().join(tag);
    fs::create_dir(&published).unwrap();
    let package = build_step("Package");
    for target in targets {
        let checkout = tempfile::tempdir().unwrap();
        for file in ["README.md", "LICENSE-MIT", "LICENSE-APACHE"] {
            fs::copy(project().join(file), checkout.path().join(file)).unwrap();
        }
        let built = checkout.path().join(format!("target/{target}/release"));
        fs::create_dir_all(&built).unwrap();
        let binary = built.join("rekey");
        fs::write(&binary, stand_in(target)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let env = [("GITHUB_REF_NAME", tag), ("TARGET", target.as_str())];
        let packed = run_step(&package, checkout.path(), &env);
        assert!(
            packed.status.success(),
            "{}",
            String::from_utf8_lossy(&packed.stderr)
        );
        for entry in fs::read_dir(checkout.path()).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.starts_with("rekey-") && name.contains(".tar.gz") {
                fs::copy(checkout.path().join(&name), published.join(&name)).unwrap();
            }
        }
    }
    releases
}

/// `cargo binstall`'s template syntax: `{ name }` and the like.
fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut text = template.to_owned();
    for (key, value) in vars {
        text = text.replace(&format!("{{ {key} }}"), value);
    }
    assert!(
        !text.contains('{'),
        "unknown template variable in {template}"
    );
    text
}

#[test]
fn binstall_templates_name_the_archives_the_release_packs() {
    let manifest = fs::read_to_string(project().join("Cargo.toml")).unwrap();
    let manifest: toml_edit::DocumentMut = manifest.parse().unwrap();
    let package = &manifest["package"];
    let repository = package["repository"].as_str().unwrap();
    let binstall = &package["metadata"]["binstall"];
    assert_eq!(binstall["pkg-fmt"].as_str(), Some("tgz"));
    let version = crate_version();
    let tag = format!("v{version}");
    let targets = release_targets();
    let releases = local_release(&tag, &targets);
    for target in &targets {
        let vars = [
            ("repo", repository),
            ("name", "rekey"),
            ("version", &version),
            ("target", target),
            ("bin", "rekey"),
            ("binary-ext", ""),
        ];
        let url = render(binstall["pkg-url"].as_str().unwrap(), &vars);
        let prefix = format!("{repository}/releases/download/");
        let file = url
            .strip_prefix(&prefix)
            .expect("a GitHub release download");
        let archive = releases.path().join(file);
        assert!(
            archive.is_file(),
            "binstall asks for {file}, which the release lacks"
        );

        let listing = Command::new("tar")
            .arg("-tzf")
            .arg(&archive)
            .output()
            .unwrap();
        let listing = String::from_utf8(listing.stdout).unwrap();
        let bin_dir = render(binstall["bin-dir"].as_str().unwrap(), &vars);
        assert!(
            listing.lines().any(|line| line == bin_dir),
            "{bin_dir} not in:\n{listing}"
        );

        let bytes = fs::read(&archive).unwrap();
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let name = archive.file_name().unwrap().to_str().unwrap();
        let checksum = fs::read_to_string(archive.with_extension("gz.sha256")).unwrap();
        assert_eq!(checksum, format!("{digest}  {name}\n"));
    }
}

#[test]
fn the_readme_shows_the_one_line_binary_install() {
    let readme = fs::read_to_string(project().join("README.md")).unwrap();
    let install = &readme[readme.find("\n## Install\n").unwrap()..];
    let install = &install[..install[1..].find("\n## ").unwrap()];
    assert!(install.contains("\ncargo binstall rekey "), "{install}");
}

/// Runs the installer for `version` on the platform `os`/`arch`, releases read from
/// `releases`; returns the exit status, stderr and stdout.
fn install(
    releases: &Path,
    version: &str,
    os: &str,
    arch: &str,
    dir: &Path,
) -> (i32, String, String) {
    let output = Command::new("bash")
        .arg(project().join("scripts/install-rekey.sh"))
        .args([version, dir.to_str().unwrap()])
        .env("REKEY_RELEASES", format!("file://{}", releases.display()))
        .env("REKEY_OS", os)
        .env("REKEY_ARCH", arch)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stderr).unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[test]
fn the_installer_picks_the_archive_for_each_platform() {
    let tag = "v1.2.3";
    let releases = local_release(tag, &release_targets());
    let platforms = [
        ("Linux", "x86_64", "x86_64-unknown-linux-musl"),
        ("Linux", "aarch64", "aarch64-unknown-linux-musl"),
        ("Linux", "arm64", "aarch64-unknown-linux-musl"),
        ("Darwin", "x86_64", "x86_64-apple-darwin"),
        ("Darwin", "arm64", "aarch64-apple-darwin"),
    ];
    for (os, arch, target) in platforms {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        let (status, stderr, stdout) = install(releases.path(), tag, os, arch, &bin);
        assert_eq!(status, 0, "{os}/{arch}: {stderr}");
        let url = format!(
            "file://{}/{tag}/rekey-{tag}-{target}.tar.gz",
            releases.path().display()
        );
        assert!(
            stdout.starts_with(&format!(
                "Installed rekey {tag} ({target}) from {url}, SHA-256 "
            )),
            "{stdout}"
        );
        assert_eq!(
            fs::read_to_string(bin.join("rekey")).unwrap(),
            stand_in(target)
        );
        let ran = Command::new(bin.join("rekey")).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ran.stdout),
            format!("rekey for {target}\n"),
            "not executable"
        );
    }
    // No binary for the platform, no release tag, no such release: compile instead (3).
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    for (version, os, arch, said) in [
        (
            tag,
            "MINGW64_NT-10.0",
            "x86_64",
            "no released binary for MINGW64_NT-10.0/x86_64",
        ),
        (
            tag,
            "Linux",
            "riscv64",
            "no released binary for Linux/riscv64",
        ),
        ("main", "Linux", "x86_64", "main is not a release tag"),
        ("3f2c1e0", "Linux", "x86_64", "3f2c1e0 is not a release tag"),
        ("v9.9.9", "Linux", "x86_64", "no release archive at file://"),
    ] {
        let (status, stderr, _) = install(releases.path(), version, os, arch, &bin);
        assert_eq!(status, 3, "{version} {os}/{arch}: {stderr}");
        assert!(
            stderr.contains(said) && stderr.ends_with("; compile rekey instead\n"),
            "{stderr}"
        );
        assert!(!bin.exists(), "something was installed");
    }
}

#[test]
fn the_installer_refuses_an_archive_whose_checksum_does_not_match() {
    let tag = "v1.2.3";
    let target = "x86_64-unknown-linux-musl";
    let releases = local_release(tag, &[target.to_owned()]);
    let archive = releases
        .path()
        .join(format!("{tag}/rekey-{tag}-{target}.tar.gz"));
    let checksum = archive.with_extension("gz.sha256");
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");

    let mut tampered = fs::read(&archive).unwrap();
    tampered.push(0);
    let original = fs::read(&archive).unwrap();
    fs::write(&archive, &tampered).unwrap();
    let (status, stderr, _) = install(releases.path(), tag, "Linux", "x86_64", &bin);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("error: checksum mismatch for file://"),
        "{stderr}"
    );
    assert!(stderr.ends_with("; nothing was installed\n"), "{stderr}");
    assert!(!bin.exists());

    // The checksum of another archive, or none at all, is refused just the same.
    fs::write(&archive, &original).unwrap();
    let text = fs::read_to_string(&checksum).unwrap();
    fs::write(
        &checksum,
        text.replace("x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"),
    )
    .unwrap();
    let (status, stderr, _) = install(releases.path(), tag, "Linux", "x86_64", &bin);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains(
            ".sha256 does not hold the SHA-256 of rekey-v1.2.3-x86_64-unknown-linux-musl.tar.gz"
        ),
        "{stderr}"
    );
    fs::remove_file(&checksum).unwrap();
    let (status, stderr, _) = install(releases.path(), tag, "Linux", "x86_64", &bin);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("error: cannot download file://"),
        "{stderr}"
    );
    assert!(!bin.exists());
}

/// Runs the action's install step as the runner would, the action at `action_path`
/// pinned to `action_ref`, with the `version` input. Returns whether the step passed, the
/// step's outputs and what it added to PATH, with the runner's temp directory as
/// `$RUNNER_TEMP`.
fn run_install_step(
    action_path: &Path,
    action_ref: &str,
    version: &str,
    releases: &Path,
) -> (bool, String, String) {
    let steps = &yaml(&project().join("action.yml"))["runs"]["steps"];
    let script = step_script(steps, "id", "release");
    let runner = tempfile::tempdir().unwrap();
    let outputs = runner.path().join("outputs");
    let path_file = runner.path().join("path");
    let env = [
        ("REKEY_VERSION", version),
        ("ACTION_REF", action_ref),
        ("ACTION_PATH", action_path.to_str().unwrap()),
        ("REKEY_RELEASES", &format!("file://{}", releases.display())),
        ("RUNNER_TEMP", runner.path().to_str().unwrap()),
        ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
        ("GITHUB_PATH", path_file.to_str().unwrap()),
    ];
    let ran = run_step(&script, runner.path(), &env);
    let temp = runner.path().display().to_string();
    let read = |file: &Path| {
        fs::read_to_string(file)
            .unwrap_or_default()
            .replace(&temp, "$RUNNER_TEMP")
    };
    if let Ok(added) = fs::read_to_string(&path_file) {
        let installed = Path::new(added.trim()).join("rekey");
        assert!(
            installed.is_file(),
            "PATH names {added} but it holds no rekey"
        );
    }
    (ran.status.success(), read(&outputs), read(&path_file))
}

#[test]
fn the_action_installs_the_release_it_is_pinned_to_and_else_compiles() {
    let releases = local_release("v1.2.3", &release_targets());
    let (passed, outputs, path) = run_install_step(project(), "v1.2.3", "", releases.path());
    assert!(passed);
    assert_eq!(outputs, "installed=true\n");
    assert_eq!(path, "$RUNNER_TEMP/rekey-release/bin\n");
    // The version input wins over the ref the action is pinned to.
    let (passed, outputs, _) = run_install_step(project(), "main", "v1.2.3", releases.path());
    assert!(passed);
    assert_eq!(outputs, "installed=true\n");

    // A branch or a commit has no release: compile, cached by what is compiled.
    let action = tempfile::tempdir().unwrap();
    for file in ["Cargo.toml", "Cargo.lock"] {
        fs::copy(project().join(file), action.path().join(file)).unwrap();
    }
    for dir in ["src", "scripts"] {
        copy_tree(&project().join(dir), &action.path().join(dir));
    }
    let (passed, outputs, path) = run_install_step(action.path(), "main", "", releases.path());
    assert!(passed);
    assert_eq!(path, "");
    let source = outputs
        .strip_prefix("installed=false\nsource=")
        .expect(&outputs);
    assert!(
        source.trim_end().len() == 64 && source.ends_with('\n'),
        "{outputs}"
    );
    let again = run_install_step(action.path(), "3f2c1e0", "", releases.path()).1;
    assert_eq!(again, outputs, "the same source, the same cache key");
    fs::write(action.path().join("src/lib.rs"), "// changed\n").unwrap();
    let changed = run_install_step(action.path(), "main", "", releases.path()).1;
    assert_ne!(
        changed, outputs,
        "a changed source must not reuse the cached build"
    );

    // A release whose checksum does not match fails the step: never compiled around.
    let tampered = fs::read_dir(releases.path().join("v1.2.3")).unwrap();
    for entry in tampered {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "gz") {
            fs::write(&path, b"not the archive").unwrap();
        }
    }
    let (passed, outputs, path) = run_install_step(project(), "v1.2.3", "", releases.path());
    assert!(!passed);
    assert_eq!((outputs.as_str(), path.as_str()), ("", ""));
}
