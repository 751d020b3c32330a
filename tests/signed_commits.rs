//! `rotate --commit` signs as `git commit` does: with `commit.gpgsign=true` and SSH signing
//! the branch's commit passes `git verify-commit` against an allowed-signers file;
//! `--sign` and `--no-sign` override the configuration; the OpenPGP program gets git's
//! arguments and the unsigned commit on stdin; and a signature that cannot be made is an
//! error that names the setup and leaves no commit and no branch behind.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};

const BRANCH: &str = "rekey/rotate-23e0bf16";

struct Repo {
    _dir: tempfile::TempDir,
    home: tempfile::TempDir,
    path: PathBuf,
}

impl Repo {
    /// The demo fixture in one commit, and an SSH key pair (no passphrase) in the home
    /// directory's `.ssh`.
    fn demo() -> Repo {
        let dir = copy_fixture("demo");
        let home = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        commit_all(&path, home.path());
        fs::create_dir(home.path().join(".ssh")).unwrap();
        let key = home.path().join(".ssh/id_ed25519");
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "bot", "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen is installed (openssh-client)");
        assert!(made.success());
        Repo {
            _dir: dir,
            home,
            path,
        }
    }

    fn git(&self, args: &[&str]) -> String {
        git(&self.path, self.home.path(), args)
    }

    fn config(&self, pairs: &[(&str, &str)]) {
        for (key, value) in pairs {
            self.git(&["config", key, value]);
        }
    }

    /// Configures SSH signing with the home directory's key, written as `~/…`.
    fn ssh_signing(&self) {
        self.config(&[
            ("gpg.format", "ssh"),
            ("user.signingkey", "~/.ssh/id_ed25519"),
        ]);
    }

    fn rekey(&self, extra: &[&str]) -> Run {
        let token = new_token_file();
        let mut args = vec![
            "rotate",
            "--new-token-file",
            token.to_str().unwrap(),
            "--commit",
        ];
        args.extend_from_slice(extra);
        let home = self.home.path().to_str().unwrap();
        let mut env = vec![
            ("HOME", home),
            ("XDG_CONFIG_HOME", home),
            ("GIT_CONFIG_NOSYSTEM", "1"),
        ];
        env.extend_from_slice(&IDENTITY);
        rekey_with(&self.path, &args, &env, None)
    }

    /// `git verify-commit` of `rev`, trusting the home directory's key for the bot's
    /// address: whether it passed, and what git said.
    fn verify(&self, rev: &str) -> (bool, String) {
        let public = fs::read_to_string(self.home.path().join(".ssh/id_ed25519.pub")).unwrap();
        let allowed = self.home.path().join("allowed_signers");
        fs::write(&allowed, format!("rotation-bot@example.com {public}")).unwrap();
        let output = std::process::Command::new("git")
            .arg("-c")
            .arg(format!("gpg.ssh.allowedSignersFile={}", allowed.display()))
            .args(["verify-commit", rev])
            .current_dir(&self.path)
            .env("HOME", self.home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.success(), said)
    }

    /// The raw commit object of `rev`.
    fn commit_object(&self, rev: &str) -> String {
        self.git(&["cat-file", "commit", rev])
    }

    fn refs(&self) -> String {
        self.git(&["for-each-ref"])
    }
}

/// An executable script in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

fn assert_refused_and_nothing_left(repo: &Repo, run: &Run, refs: &str, said: &[&str]) {
    assert_eq!(run.status, 2, "{}", run.stdout);
    for words in said {
        assert!(
            run.stderr.contains(words),
            "missing {words:?}: {}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains("nothing was committed") && run.stderr.contains("--no-sign"),
        "{}",
        run.stderr
    );
    assert_eq!(repo.refs(), refs, "a branch was left behind");
    assert_no_token(&run.stderr, "stderr");
    assert_no_token(&run.stdout, "stdout");
}

#[test]
fn commit_gpgsign_with_ssh_signs_and_git_verifies_the_commit() {
    let repo = Repo::demo();
    repo.ssh_signing();
    repo.config(&[("commit.gpgsign", "true")]);
    let run = repo.rekey(&[]);
    assert_eq!(run.status, 0, "{}", run.stderr);

    let (verified, said) = repo.verify(BRANCH);
    assert!(verified, "{said}");
    assert!(
        said.starts_with("Good \"git\" signature for rotation-bot@example.com with ED25519 key"),
        "{said}"
    );
    let object = repo.commit_object(BRANCH);
    assert!(
        object.contains("\ngpgsig -----BEGIN SSH SIGNATURE-----\n"),
        "{object}"
    );
    assert_no_token(&object, "the signed commit");
    // The same tree an unsigned rotation commits.
    let unsigned = repo.rekey(&["--no-sign", "--branch", "unsigned"]);
    assert_eq!(unsigned.status, 0, "{}", unsigned.stderr);
    assert_eq!(
        repo.git(&["rev-parse", &format!("{BRANCH}^{{tree}}")]),
        repo.git(&["rev-parse", "unsigned^{tree}"])
    );
    repo.git(&["fsck", "--strict"]);
}

#[test]
fn no_sign_overrides_commit_gpgsign_and_sign_overrides_its_absence() {
    let repo = Repo::demo();
    repo.ssh_signing();
    repo.config(&[("commit.gpgsign", "true")]);
    let run = repo.rekey(&["--no-sign"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(!repo.commit_object(BRANCH).contains("gpgsig"));
    assert!(!repo.verify(BRANCH).0);

    repo.config(&[("commit.gpgsign", "false")]);
    let plain = repo.rekey(&["--branch", "plain"]);
    assert_eq!(plain.status, 0, "{}", plain.stderr);
    assert!(!repo.commit_object("plain").contains("gpgsig"));

    let signed = repo.rekey(&["--sign", "--branch", "signed"]);
    assert_eq!(signed.status, 0, "{}", signed.stderr);
    let (verified, said) = repo.verify("signed");
    assert!(verified, "{said}");

    let both = repo.rekey(&["--sign", "--no-sign", "--branch", "both"]);
    assert_eq!(both.status, 2);
    assert!(
        both.stderr.contains("cannot be used with"),
        "{}",
        both.stderr
    );
    let without_commit = rekey(&repo.path, &["rotate", "--new-token-stdin", "--sign"]);
    assert_eq!(without_commit.status, 2);
    assert!(
        without_commit.stderr.contains("--commit"),
        "{}",
        without_commit.stderr
    );
}

#[test]
fn a_signature_that_cannot_be_made_leaves_no_commit_and_no_branch() {
    let repo = Repo::demo();
    repo.config(&[("commit.gpgsign", "true"), ("gpg.format", "ssh")]);
    let refs = repo.refs();

    let keyless = repo.rekey(&[]);
    assert_refused_and_nothing_left(
        &repo,
        &keyless,
        &refs,
        &["cannot sign the commit (commit.gpgsign is true): gpg.format is ssh but user.signingkey is not set"],
    );

    repo.config(&[("user.signingkey", "~/.ssh/missing")]);
    let missing = repo.rekey(&[]);
    let missing_key = repo.home.path().join(".ssh/missing");
    assert_refused_and_nothing_left(
        &repo,
        &missing,
        &refs,
        &[
            &format!(
                "gpg.format ssh, key {}, program ssh-keygen",
                missing_key.display()
            ),
            "No such file or directory",
        ],
    );

    repo.ssh_signing();
    let failing = script(
        repo.home.path(),
        "ssh-sign",
        "echo 'agent refused operation' >&2\nexit 1\n",
    );
    repo.config(&[("gpg.ssh.program", failing.to_str().unwrap())]);
    let refused = repo.rekey(&[]);
    assert_refused_and_nothing_left(&repo, &refused, &refs, &["agent refused operation"]);

    repo.config(&[("gpg.ssh.program", "/nonexistent/ssh-keygen")]);
    let absent = repo.rekey(&["--sign"]);
    assert_refused_and_nothing_left(
        &repo,
        &absent,
        &refs,
        &[
            "(--sign; gpg.format ssh",
            "cannot run /nonexistent/ssh-keygen",
        ],
    );

    repo.config(&[("gpg.format", "pgp")]);
    let unknown = repo.rekey(&[]);
    assert_refused_and_nothing_left(
        &repo,
        &unknown,
        &refs,
        &["gpg.format pgp is not one git knows"],
    );
}

/// A stand-in for gpg that records its arguments and stdin, as `gpg.program` names it.
fn fake_gpg(dir: &Path, status: &str) -> PathBuf {
    let log = dir.join("gpg");
    script(
        dir,
        "fake-gpg",
        &format!(
            "printf '%s\\n' \"$@\" > '{log}.args'\ncat > '{log}.stdin'\n\
echo '[GNUPG:] KEY_CONSIDERED 0123 0' >&2\necho '{status}' >&2\n\
printf -- '-----BEGIN PGP SIGNATURE-----\\r\\n\\r\\nc2lnbmVk\\r\\n-----END PGP SIGNATURE-----\\r\\n'\n",
            log = log.display()
        ),
    )
}

#[test]
fn openpgp_runs_gpg_program_as_git_does_and_requires_sig_created() {
    let repo = Repo::demo();
    let gpg = fake_gpg(
        repo.home.path(),
        "[GNUPG:] SIG_CREATED D 22 8 00 1700000000 0123",
    );
    repo.config(&[
        ("commit.gpgsign", "true"),
        ("gpg.program", gpg.to_str().unwrap()),
    ]);
    let run = repo.rekey(&[]);
    assert_eq!(run.status, 0, "{}", run.stderr);

    let args = fs::read_to_string(repo.home.path().join("gpg.args")).unwrap();
    // Without user.signingkey, git signs with the committer's identity.
    assert_eq!(
        args,
        "--status-fd=2\n-bsau\nRotation Bot <rotation-bot@example.com>\n"
    );
    let signed_text = fs::read_to_string(repo.home.path().join("gpg.stdin")).unwrap();
    let object = repo.commit_object(BRANCH);
    // Byte for byte what git writes: carriage returns dropped, no trailing blank line.
    let header =
        "gpgsig -----BEGIN PGP SIGNATURE-----\n \n c2lnbmVk\n -----END PGP SIGNATURE-----\n";
    assert!(object.contains(header), "{object}");
    assert_eq!(
        object.replacen(header, "", 1),
        signed_text,
        "gpg signed another text"
    );

    repo.config(&[("user.signingkey", "0xDEADBEEF")]);
    let keyed = repo.rekey(&["--branch", "keyed"]);
    assert_eq!(keyed.status, 0, "{}", keyed.stderr);
    let args = fs::read_to_string(repo.home.path().join("gpg.args")).unwrap();
    assert_eq!(args, "--status-fd=2\n-bsau\n0xDEADBEEF\n");

    let refs = repo.refs();
    let silent = fake_gpg(repo.home.path(), "[GNUPG:] FAILURE sign 83918950");
    repo.config(&[("gpg.program", silent.to_str().unwrap())]);
    let unproven = repo.rekey(&["--branch", "unproven"]);
    assert_refused_and_nothing_left(
        &repo,
        &unproven,
        &refs,
        &[
            "(commit.gpgsign is true; gpg.format openpgp, key 0xDEADBEEF",
            "[GNUPG:] FAILURE sign",
        ],
    );
}
