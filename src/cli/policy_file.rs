//! `rekey init` and `rekey revoke`: the commands that write the policy file. Both edit it
//! through `policy`, which keeps the user's comments and layout.

use super::{fail, roots, PolicyFile, EXIT_OK};
use crate::engine;
use crate::policy;
use crate::report::{self, scan::plural};
use crate::token::Fingerprint;
use crate::writer;
use clap::Args;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct InitArgs {
    /// Files or directories whose tokens are in force (default: the current directory).
    paths: Vec<PathBuf>,
    /// Where to write the policy (default: .rekey.toml in the current directory).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Args)]
pub struct RevokeArgs {
    /// Fingerprints of the revoked tokens, as `rekey scan` prints them.
    #[arg(required = true, value_name = "FINGERPRINT")]
    fingerprints: Vec<String>,
    /// The policy file (default: .rekey.toml in the current directory).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub fn init(args: InitArgs, cwd: &Path) -> u8 {
    let path = cwd.join(
        args.config
            .unwrap_or_else(|| PathBuf::from(policy::FILE_NAME)),
    );
    let display = crate::source::display_path(&path, cwd);
    if path.exists() {
        return fail(&format!(
            "{display} already exists; rekey init never overwrites it (edit it, or use rekey revoke)"
        ));
    }
    let roots = match roots(args.paths, cwd) {
        Ok(roots) => roots,
        Err(message) => return fail(&message),
    };
    let scan = engine::scan_paths(&roots, cwd, &|_| false);
    for error in &scan.errors {
        report::note(&format!("{error} (its tokens are not listed)"));
    }
    let current: BTreeSet<Fingerprint> = scan
        .sites()
        .filter(|(_, site)| site.value.is_token())
        .filter_map(|(_, site)| site.value.fingerprint().cloned())
        .collect();
    if let Err(error) = std::fs::write(&path, policy::initial_text(&current)) {
        return fail(&format!("{display}: cannot write: {error}"));
    }
    let mut out = format!(
        "Wrote {display}: [tokens] current lists {}.\n",
        plural(current.len(), "token")
    );
    for fingerprint in &current {
        out.push_str(&format!("  {fingerprint}\n"));
    }
    report::to_stdout(&out);
    EXIT_OK
}

pub fn revoke(args: RevokeArgs, cwd: &Path) -> u8 {
    let mut revoked = Vec::new();
    for text in &args.fingerprints {
        match Fingerprint::parse(text) {
            Some(fingerprint) => revoked.push(fingerprint),
            None => {
                return fail(&format!(
                    "{text}: not a fingerprint; give them as `rekey scan` prints them: sha256: and 16 hex digits"
                ))
            }
        }
    }
    let file = match PolicyFile::load(cwd, args.config.as_deref(), cwd) {
        Ok(file) => file,
        Err(message) => return fail(&message),
    };
    if file.policy.is_none() {
        return fail(&format!(
            "{}: no such file; create it with rekey init",
            file.display
        ));
    }
    let updated = std::fs::read_to_string(&file.path)
        .map_err(|e| format!("{}: cannot read: {e}", file.display))
        .and_then(|text| policy::revoke(&text, &file.display, &revoked))
        .and_then(|text| writer::write_atomically(&file.path, &file.display, text.as_bytes()));
    if let Err(message) = updated {
        return fail(&message);
    }
    let list: Vec<&str> = revoked.iter().map(Fingerprint::as_str).collect();
    report::to_stdout(&format!(
        "Revoked in {}: {}. rekey check now fails where a revoked token appears.\n",
        file.display,
        list.join(", ")
    ));
    EXIT_OK
}
