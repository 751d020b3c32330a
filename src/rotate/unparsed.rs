//! The files a rotation could not parse. rekey never rewrites one (it splices bytes at the
//! spans a parser found), so a file that holds a token being rotated stops the rotation:
//! its copy would stay in force beside a policy that no longer lists it. A file that holds
//! none of them (a task definition whose `<+secrets.getValue(…)>` expressions are not valid
//! JSON as committed) is left as is and reported, and the rotation goes on. The byte sweep
//! says what a file holds, parsed or not.

use crate::error::Error;
use crate::find::scan::{FileError, Scan};
use crate::find::sweep::Stray;
use crate::judge::policy::{self, ExcludeEdit};
use crate::model::token::Fingerprint;
use std::collections::{BTreeSet, HashMap};

/// The tokens a rotation takes away, as far as a file it could not parse is concerned.
pub enum Taken<'a> {
    /// These tokens: those rotated, and those `--only` names.
    These(&'a BTreeSet<Fingerprint>),
    /// Every token but the new one.
    AllBut { new: &'a Fingerprint, why: AllBut },
}

/// Why every token counts.
#[derive(Clone, Copy)]
pub enum AllBut {
    /// `--all` rotates every token.
    All,
    /// The files parsed hold no token to rotate and not the new one: a token in a file
    /// that could not be parsed may be the one meant.
    NothingElse,
}

impl Taken<'_> {
    fn includes(&self, fingerprint: &Fingerprint) -> bool {
        match self {
            Taken::These(tokens) => tokens.contains(fingerprint),
            Taken::AllBut { new, .. } => fingerprint != *new,
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Taken::These(_) => " being rotated",
            Taken::AllBut {
                why: AllBut::All, ..
            } => ", and --all rotates every token",
            Taken::AllBut {
                why: AllBut::NothingElse,
                ..
            } => {
                ", and no file rekey could parse holds a token to rotate (it may be the one meant)"
            }
        }
    }
}

/// The `[scan] exclude` pattern of a path as reports show it, if the policy can name it.
pub type Pattern<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// Where the advice to exclude a file goes: the policy file to edit, as reports name it,
/// its text (`None`: there is none yet), and the `[scan] exclude` pattern of a path shown
/// (`None`: outside the policy's directory).
pub struct Advice<'a> {
    pub file: &'a str,
    pub text: Option<String>,
    /// `--commit` reads the policy of the base commit: an edit counts once committed.
    pub committed: bool,
    pub pattern: Pattern<'a>,
}

/// The files of `scan` that could not be parsed, left as is; or the refusal, when any of
/// them holds a token `taken` takes away (`advice` says how to leave them out, asked only
/// then).
pub fn judge<'a>(
    scan: &Scan,
    taken: &Taken,
    advice: &dyn Fn() -> Advice<'a>,
) -> Result<Vec<FileError>, Error> {
    if scan.errors.is_empty() {
        return Ok(Vec::new());
    }
    // The first copy in each file, in one pass: a file can hold thousands of strays.
    let mut first: HashMap<&str, &Stray> = HashMap::new();
    for stray in scan
        .strays
        .iter()
        .filter(|s| taken.includes(&s.fingerprint))
    {
        first.entry(&stray.display).or_insert(stray);
    }
    let blocking: Vec<(&FileError, &Stray)> = scan
        .errors
        .iter()
        .filter_map(|error| Some((error, *first.get(error.display.as_str())?)))
        .collect();
    if !scan.swept {
        // Nothing says what the files hold: none is left as is.
        return Err(Error::new(
            scan.errors
                .iter()
                .map(|error| format!("{error}\n"))
                .collect::<String>()
                + "nothing was rotated",
        ));
    }
    if blocking.is_empty() {
        return Ok(scan.errors.clone());
    }
    Err(Error::new(refusal(&blocking, taken, &advice())))
}

/// Each blocking file with its parse error and the copy it holds, then how to go on.
fn refusal(blocking: &[(&FileError, &Stray)], taken: &Taken, advice: &Advice) -> String {
    // Enough to act on; a run past its memory budget can refuse thousands of files.
    const SHOWN: usize = 20;
    let mut message = String::new();
    for (error, stray) in blocking.iter().take(SHOWN) {
        message.push_str(&format!(
            "{error}\n{}:{}:{}: holds the token {}{}; rekey never rewrites a file it cannot parse\n",
            stray.display,
            stray.line,
            stray.column,
            stray.fingerprint,
            taken.what(),
        ));
    }
    if blocking.len() > SHOWN {
        message.push_str(&format!("… and {} more\n", blocking.len() - SHOWN));
    }
    let files = match blocking.len() {
        1 => "1 file that could not be parsed holds".to_owned(),
        count => format!("{count} files that could not be parsed hold"),
    };
    message.push_str(&format!(
        "{files} a token being rotated; nothing was rotated.\n"
    ));
    let patterns: Option<Vec<String>> = blocking
        .iter()
        .map(|(error, _)| (advice.pattern)(&error.display))
        .collect();
    match patterns {
        Some(patterns) => message.push_str(&exclude_advice(&patterns, advice)),
        None => message.push_str(
            "Fix the syntax; a file outside the policy file's directory cannot be excluded by it.",
        ),
    }
    message
}

/// The exact lines that leave the files out of the rotation.
fn exclude_advice(patterns: &[String], advice: &Advice) -> String {
    let file = advice.file;
    let commit = if advice.committed {
        ", and commit it (--commit reads the base commit's policy)"
    } else {
        ""
    };
    let intro =
        "Fix the syntax, or rotate without it (its copy then stays until you replace it by hand)";
    match policy::exclude_edit(advice.text.as_deref(), patterns) {
        ExcludeEdit::Append(lines) => {
            let verb = if advice.text.is_some() {
                format!("add these lines to {file}")
            } else {
                format!("create {file} holding these lines")
            };
            let lines: String = lines.iter().map(|line| format!("\n  {line}")).collect();
            format!("{intro}: {verb}{commit}:{lines}")
        }
        ExcludeEdit::UnderScan { line, exclude } => {
            format!(
                "{intro}: add this line under [scan] (line {line}) of {file}{commit}:\n  {exclude}"
            )
        }
        ExcludeEdit::Replace { line, exclude } => {
            format!("{intro}: replace the exclude at line {line} of {file} with this line{commit}:\n  {exclude}")
        }
    }
}
