//! The text after each command's `--help` (and in the manual pages): examples people can
//! copy and the exit statuses the command can end with. Kept apart from the argument
//! definitions so the definitions stay readable.

/// The help of `--config FILE` on the commands that read paths and find a policy file when
/// none is named: `what` says what the policy does there.
pub fn config(what: &str) -> String {
    format!(
        "{what} (default: {FOUND}; with none there, the one above the first PATH; \
         REKEY_CONFIG names one too)"
    )
}

/// [`config`] for the commands without paths.
pub fn config_found(what: &str) -> String {
    format!("{what} (default: {FOUND}; REKEY_CONFIG names one too)")
}

/// The policy file rekey finds when none is named.
const FOUND: &str = "the outermost .rekey.toml from the current directory up to the \
    repository's top (the directory holding .git), with nested ones below it adding to it; \
    outside a repository, the nearest one upwards";

pub const TOP: &str = "\
Examples:
  rekey scan                                   # where do delegate tokens live here?
  rekey rotate --new-token-env NEW_TOKEN       # dry run: the redacted diff
  rekey rotate --new-token-env NEW_TOKEN --commit
  rekey check --format sarif > rekey.sarif     # in CI

Exit status:
  0  success (check: no error-level finding)
  1  check found an error-level finding; rotate --exit-code: the dry run would change a file
  2  an error: bad input, an unparseable file holding a token key, a git failure, a usage error

Run `rekey COMMAND --help` for each command's examples.";

pub const SCAN: &str = "\
Examples:
  rekey scan
  rekey scan k8s/ helm/values.yaml
  rekey scan --format json | jq '.sites[] | select(.legacy)'
  kubectl get deploy,sts,secret -A -o yaml | rekey scan -
  rekey scan --repo ../infra --repo ../platform.git

Exit status:
  0  every file was read
  2  a file holding a token key could not be parsed (listed under errors), or bad input";

pub const ROTATE: &str = "\
Examples:
  rekey rotate --new-token-env NEW_TOKEN                # dry run: the redacted diff
  rekey rotate --new-token-env NEW_TOKEN --stat         # dry run: per-file counts only
  rekey rotate --new-token-env NEW_TOKEN --exit-code    # in CI: exit 1 if anything would change
  rekey rotate --new-token-file new.txt --write         # rewrite the working tree
  rekey rotate --new-token-env NEW_TOKEN --commit       # a commit on a new branch
  rekey rotate --only sha256:0123456789abcdef --new-token-stdin --write < new.txt
  rekey rotate --new-token-env NEW_TOKEN --repos fleet.txt --commit   # a branch in each repository

Exit status:
  0  rotated, or nothing to rotate, or a dry run
  1  --exit-code: the dry run would change a file
  2  an error; nothing was written or committed (with --repo/--repos: a repository failed,
     and each of the others was still rotated)";

pub const CHECK: &str = "\
Examples:
  rekey check
  rekey check --staged                          # what the next commit holds
  rekey check --format sarif > rekey.sarif      # GitHub code scanning
  rekey check --format gitlab > gl-code-quality-report.json
  rekey check --ready-to-revoke sha256:0123456789abcdef --repos repos.txt
  kubectl get deploy,sts,ds,secret -A -o yaml | rekey check --ready-to-revoke sha256:0123456789abcdef -

Exit status:
  0  no error-level finding (warnings and notes may remain)
  1  an error-level finding
  2  an error: bad policy file, missing path, git failure";

pub const INVENTORY: &str = "\
Examples:
  rekey inventory
  rekey inventory --repo ../infra --repo ../platform.git --format markdown >> \"$GITHUB_STEP_SUMMARY\"
  kubectl get deploy,sts,ds,secret -A -o yaml | rekey inventory -
  aws ecs describe-task-definition --task-definition harness-delegate | rekey inventory -
  docker inspect $(docker ps -q) | rekey inventory -

Exit status:
  0  every input was read
  2  a file or a repository could not be read (the rest is still listed), or bad input";

pub const HISTORY: &str = "\
Examples:
  rekey history
  rekey history --refs 'refs/heads/*' --refs 'refs/tags/*' --format json
  rekey history --repo ../infra.git --since v2.0
  rekey check --history

Exit status:
  0  the whole history was walked (a shallow clone says what it lacks)
  2  a repository or object could not be read (a corrupt store names the object), or a
     blob could not be judged";

pub const INIT: &str = "\
Examples:
  rekey init
  rekey init k8s/ --config policy/rekey.toml

Exit status:
  0  the policy file was written
  2  it already exists, or an error";

pub const REVOKE: &str = "\
Examples:
  rekey revoke sha256:0123456789abcdef
  rekey revoke sha256:0123456789abcdef --harness-token prod-2024

Exit status:
  0  the policy file now lists the fingerprints as revoked (and Harness, the token)
  1  --harness-token: a delegate on the token is still connected or sent a heartbeat in
     the last 10 minutes; nothing was revoked
  2  not a fingerprint, no policy file, Harness unreachable or refusing, or an error";

pub const HARNESS: &str = "\
Settings: HARNESS_ENDPOINT (default https://app.harness.io/gateway), HARNESS_ACCOUNT_ID and
the key in HARNESS_PLATFORM_API_KEY or a file named by --api-key-file; the endpoint, account,
org and project may also stand under [harness] in .rekey.toml (never the key).

Examples:
  rekey harness tokens
  rekey harness tokens --status active --format json

Exit status:
  0  the tokens were listed
  2  a setting is missing, or Harness could not be reached or refused the call";

pub const COMPLETIONS: &str = "\
Examples:
  rekey completions bash --out-dir ~/.local/share/bash-completion/completions
  rekey completions zsh --out-dir ~/.zfunc    # with fpath=(~/.zfunc $fpath) before compinit
  rekey completions fish --out-dir ~/.config/fish/completions
  rekey completions bash > rekey.bash

Exit status:
  0  the script was printed or written
  2  an unknown shell, or the directory could not be written";

pub const MAN: &str = "\
Examples:
  rekey man | man -l -
  rekey man --out-dir ~/.local/share/man/man1

Exit status:
  0  the page was printed or the pages were written
  2  the directory could not be written";
