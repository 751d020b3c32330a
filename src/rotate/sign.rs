//! Signing a `--commit` rotation as `git commit` does, so branch protection that requires
//! signed commits accepts it: `commit.gpgsign` (or `--sign` / `--no-sign`) decides whether,
//! `gpg.format` (`openpgp`, `x509`, `ssh`) how, `user.signingkey` with which key, and
//! `gpg.program` / `gpg.openpgp.program`, `gpg.x509.program`, `gpg.ssh.program` which
//! program. The program gets exactly what git would give it, so a setup that signs for git
//! signs for rekey, and `git verify-commit` accepts the result. A signature that cannot be
//! made is an error: an unsigned commit where a signed one was asked for is never made.

use crate::error::Error;
use git2::Config;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Whether to sign, chosen once on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    /// As `commit.gpgsign` says (git's default).
    AsConfigured,
    /// `--sign`: sign even where `commit.gpgsign` is off.
    Always,
    /// `--no-sign`: never sign.
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    OpenPgp,
    X509,
    Ssh,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::OpenPgp => "openpgp",
            Format::X509 => "x509",
            Format::Ssh => "ssh",
        }
    }
}

/// A signing setup read from git's configuration.
#[derive(Debug)]
pub struct Signer {
    format: Format,
    program: String,
    key: Key,
    /// Why rekey signs: `commit.gpgsign` or `--sign`, for the error that says so.
    reason: &'static str,
    /// Where the program runs, and what a relative key path is relative to.
    dir: PathBuf,
}

#[derive(Debug)]
enum Key {
    /// For OpenPGP and X.509: a key id, or the committer `Name <email>` as git uses.
    Id(String),
    /// For SSH: a key file (private, or public with the private key in ssh-agent).
    File(PathBuf),
    /// For SSH: the public key itself (`ssh-ed25519 AAAA…`, or `key::…`); the agent signs.
    Literal(String),
    /// For SSH: `gpg.ssh.defaultKeyCommand`, run when signing; its first line is the key.
    Command(String),
}

/// The signer for a commit in the repository whose configuration is `config`, or `None`
/// when the commit is not to be signed. `committer` is `Name <email>`, the OpenPGP key git
/// uses when `user.signingkey` is not set; `dir` is where git would run the program.
pub fn signer(
    config: &Config,
    signing: Signing,
    committer: &str,
    dir: &Path,
) -> Result<Option<Signer>, Error> {
    let reason = match signing {
        Signing::Never => return Ok(None),
        Signing::Always => "--sign",
        Signing::AsConfigured => match config.get_bool("commit.gpgsign") {
            Ok(true) => "commit.gpgsign is true",
            Ok(false) | Err(_) => return Ok(None),
        },
    };
    let text = |key: &str| config.get_string(key).ok().filter(|v| !v.is_empty());
    let format = match text("gpg.format").as_deref() {
        None | Some("openpgp") => Format::OpenPgp,
        Some("x509") => Format::X509,
        Some("ssh") => Format::Ssh,
        Some(other) => {
            return Err(refusal(
                reason,
                &format!("gpg.format {other} is not one git knows (openpgp, x509, ssh)"),
            ))
        }
    };
    let program = match format {
        Format::OpenPgp => text("gpg.openpgp.program").or_else(|| text("gpg.program")),
        Format::X509 => text("gpg.x509.program"),
        Format::Ssh => text("gpg.ssh.program"),
    };
    let program = program.unwrap_or_else(|| {
        match format {
            Format::OpenPgp => "gpg",
            Format::X509 => "gpgsm",
            Format::Ssh => "ssh-keygen",
        }
        .to_owned()
    });
    let key = match (format, text("user.signingkey")) {
        (Format::Ssh, Some(key)) => ssh_key(&key, dir),
        (Format::Ssh, None) => match text("gpg.ssh.defaultKeyCommand") {
            Some(command) => Key::Command(command),
            None => return Err(refusal(reason, "gpg.format is ssh but user.signingkey is not set (nor gpg.ssh.defaultKeyCommand): set it to your key file, e.g. `git config user.signingkey ~/.ssh/id_ed25519.pub`")),
        },
        (_, Some(key)) => Key::Id(key),
        (_, None) => Key::Id(committer.to_owned()),
    };
    Ok(Some(Signer {
        format,
        program,
        key,
        reason,
        dir: dir.to_owned(),
    }))
}

/// An SSH `user.signingkey`: a literal public key, or a path (`~/` is the home directory,
/// a relative path is relative to the repository, as git resolves it).
fn ssh_key(key: &str, dir: &Path) -> Key {
    if let Some(literal) = key.strip_prefix("key::") {
        return Key::Literal(literal.to_owned());
    }
    if key.starts_with("ssh-") {
        return Key::Literal(key.to_owned());
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match (key.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => Key::File(home.join(rest)),
        _ => Key::File(dir.join(key)),
    }
}

impl Signer {
    /// The armored signature of `buffer` (a commit object's text), for its `gpgsig` header.
    pub fn sign(&self, buffer: &str) -> Result<String, Error> {
        let signature = match self.format {
            Format::OpenPgp | Format::X509 => self.sign_gpg(buffer)?,
            Format::Ssh => self.sign_ssh(buffer)?,
        };
        // git drops the carriage returns gpg writes on some systems; a header holds none.
        Ok(signature.replace("\r\n", "\n"))
    }

    /// `gpg --status-fd=2 -bsau KEY`: the buffer on stdin, the signature on stdout, and the
    /// status line `[GNUPG:] SIG_CREATED` on stderr as proof it signed.
    fn sign_gpg(&self, buffer: &str) -> Result<String, Error> {
        let Key::Id(key) = &self.key else {
            unreachable!("an OpenPGP or X.509 signer holds a key id")
        };
        let mut command = Command::new(&self.program);
        command.args(["--status-fd=2", "-bsau", key]);
        let output = self.run(command, Some(buffer.as_bytes()))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let created = stderr
            .lines()
            .any(|line| line.starts_with("[GNUPG:] SIG_CREATED "));
        if !output.status.success() || !created {
            return Err(self.failed(&stderr));
        }
        String::from_utf8(output.stdout).map_err(|_| self.failed("the signature is not text"))
    }

    /// `ssh-keygen -Y sign -n git -f KEY [-U] FILE`: the buffer in a file, the signature
    /// in `FILE.sig`; `-U` when the key is a literal public key the agent holds.
    fn sign_ssh(&self, buffer: &str) -> Result<String, Error> {
        let scratch = tempfile::tempdir()
            .map_err(|e| self.failed(&format!("cannot make a temporary directory: {e}")))?;
        let literal = match &self.key {
            Key::Literal(key) => Some(key.clone()),
            Key::Command(command) => Some(self.default_key(command)?),
            Key::File(_) | Key::Id(_) => None,
        };
        let key_file = match (&self.key, &literal) {
            (Key::File(path), _) => path.clone(),
            (_, Some(key)) => {
                let path = scratch.path().join("signing-key.pub");
                std::fs::write(&path, format!("{key}\n"))
                    .map_err(|e| self.failed(&format!("cannot write the key file: {e}")))?;
                path
            }
            _ => unreachable!("an SSH signer holds a key file or a literal key"),
        };
        let buffer_file = scratch.path().join("commit");
        std::fs::write(&buffer_file, buffer)
            .map_err(|e| self.failed(&format!("cannot write the commit to sign: {e}")))?;
        let mut command = Command::new(&self.program);
        command
            .args(["-Y", "sign", "-n", "git", "-f"])
            .arg(&key_file);
        if literal.is_some() {
            command.arg("-U");
        }
        command.arg(&buffer_file);
        let output = self.run(command, None)?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            if stderr.contains("usage:") {
                return Err(self.failed(
                    "ssh-keygen -Y sign is needed for ssh signing (OpenSSH 8.2p1 or later)",
                ));
            }
            return Err(self.failed(&stderr));
        }
        std::fs::read_to_string(scratch.path().join("commit.sig"))
            .map_err(|e| self.failed(&format!("it wrote no signature ({e})")))
    }

    /// The key `gpg.ssh.defaultKeyCommand` prints: its first line, a literal public key.
    fn default_key(&self, command: &str) -> Result<String, Error> {
        let mut shell = Command::new("sh");
        shell.args(["-c", command]);
        let output = self.run(shell, None)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let first = stdout.lines().next().unwrap_or("").trim();
        let key = first.strip_prefix("key::").unwrap_or(first);
        if !output.status.success() || !key.starts_with("ssh-") {
            return Err(self.failed(&format!(
                "gpg.ssh.defaultKeyCommand `{command}` printed no ssh key"
            )));
        }
        Ok(key.to_owned())
    }

    /// Runs a program in the repository's directory, stdin from `input` (or inherited, so
    /// that a passphrase prompt reaches the terminal), stdout and stderr captured.
    fn run(&self, mut command: Command, input: Option<&[u8]>) -> Result<Output, Error> {
        command
            .current_dir(&self.dir)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .spawn()
            .map_err(|e| self.failed(&format!("cannot run {program}: {e}")))?;
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            // Written from a thread, so a program that writes before it has read it all
            // cannot block on a full pipe while rekey blocks on its stdin.
            let input = input.to_vec();
            std::thread::spawn(move || stdin.write_all(&input));
        }
        child
            .wait_with_output()
            .map_err(|e| self.failed(&format!("{program}: {e}")))
    }

    fn failed(&self, why: &str) -> Error {
        let key = match &self.key {
            Key::Id(id) => format!("key {id}"),
            Key::File(path) => format!("key {}", path.display()),
            Key::Literal(_) => "the literal user.signingkey".to_owned(),
            Key::Command(_) => "the key gpg.ssh.defaultKeyCommand names".to_owned(),
        };
        let why = why.trim();
        Error::new(format!(
            "cannot sign the commit ({}; gpg.format {}, {key}, program {}): {}; nothing was committed: fix the signing setup (`git commit -S` shows the same failure) or pass --no-sign",
            self.reason,
            self.format.name(),
            self.program,
            if why.is_empty() { "the program failed and said nothing" } else { why },
        ))
    }
}

fn refusal(reason: &str, why: &str) -> Error {
    Error::new(format!(
        "cannot sign the commit ({reason}): {why}; nothing was committed (or pass --no-sign)"
    ))
}
