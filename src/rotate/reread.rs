//! Reading a planned file again. A scan keeps no file's bytes (a tree can hold tens of
//! thousands of files with sites), only their sites and digests, so a rotation reads each
//! file it changes again, from where it was scanned (the working tree, or the base commit's
//! blobs), whenever it needs the bytes: to verify the rewrite, to show its diff and to
//! write it. A file that no longer holds the bytes its digest was taken from is refused,
//! named: it was edited since it was planned (perhaps during the run), and the planned
//! edits would land on other text. What verifying leaves for later is a [`Verified`]: the
//! rewritten file's digest and, for a rotation that writes, the bytes its edits replace,
//! so that its diff can still be shown once the file holds its new bytes.

use crate::error::Error;
use crate::find::git::GitRepo;
use crate::find::scan::ScannedFile;
use crate::model::edit;
use crate::model::fs::{read_regular, FileDigest, ReadError};
use crate::model::keys;
use crate::rotate::plan::{FilePlan, Plan};
use crate::rotate::verify;
use crate::runtime::parallel;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Where the planned files are read again from.
#[derive(Clone)]
pub enum Source {
    WorkingTree,
    /// The blobs of the repository at this path (its git directory): each thread opens its
    /// own handle (a libgit2 repository is not shared between threads).
    Repository(PathBuf),
}

/// One thread's way of reading planned files again.
pub enum Reader {
    WorkingTree,
    Blobs(GitRepo),
}

impl Source {
    pub fn open(&self) -> Result<Reader, Error> {
        match self {
            Source::WorkingTree => Ok(Reader::WorkingTree),
            Source::Repository(dir) => GitRepo::open_exact(dir).map(Reader::Blobs),
        }
    }
}

impl Reader {
    /// The bytes `file` holds now, read no further than `limit` bytes (`None`: more).
    fn current(&self, file: &ScannedFile, limit: u64) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        let display = &file.display;
        match (self, file.blob) {
            (Reader::Blobs(repo), Some(id)) => {
                repo.read_blob(display, id).map(|bytes| Some(bytes.into()))
            }
            (Reader::WorkingTree, None) => match read_regular(&file.path, limit) {
                Ok(bytes) => Ok(Some(bytes.into())),
                Err(ReadError::TooLarge(_)) => Ok(None),
                Err(error) => Err(Error::new(format!("{display}: {error}"))),
            },
            _ => Err(Error::new(format!(
                "{display}: cannot be read again where it was scanned from"
            ))),
        }
    }

    /// The bytes `file` was planned from; refused when it holds any other bytes now.
    pub fn planned(&self, file: &ScannedFile) -> Result<Zeroizing<Vec<u8>>, Error> {
        match self.current(file, file.digest.len())? {
            Some(bytes) if FileDigest::of(&bytes) == file.digest => Ok(bytes),
            _ => Err(changed(file)),
        }
    }
}

/// Why a file is refused when it was edited after it was planned.
pub fn changed(file: &ScannedFile) -> Error {
    Error::new(format!(
        "{}: changed since rekey read it (edited during the run?): run rekey again",
        file.display
    ))
}

/// What verifying one file's rewrite leaves for a rotation that writes it (see the module
/// header): the rewritten file's digest and the bytes each edit replaces, in the order of
/// [`Plan::edits`] (copies of one token share one allocation).
pub struct Verified {
    pub rewritten: FileDigest,
    replaced: Vec<Arc<Zeroizing<Vec<u8>>>>,
}

/// Whether a rotation writes the files it verifies: then a [`Verified`] is kept for each.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    Yes,
    No,
}

/// Reads every file of `plan` again, checks it against its digest, splices and verifies
/// its rewrite and drops the bytes, on every core. Every failure, or for a rotation that
/// writes, what each file leaves (nothing otherwise: a dry run and a commit read the bytes
/// planned from again).
pub fn verify_all(
    plan: &Plan,
    source: &Source,
    writes: Writes,
) -> Result<Vec<Verified>, Vec<Error>> {
    let threads = parallel::cores();
    let share = plan.files.len().div_ceil(threads).max(1);
    let chunks: Vec<&[FilePlan]> = plan.files.chunks(share).collect();
    // Verifying scans each rewrite again, with the project's extra key names.
    let verify_chunk = keys::carried(|chunk: &&[FilePlan]| match source.open() {
        Ok(reader) => chunk
            .iter()
            .map(|file_plan| verify_file(&reader, file_plan, plan, writes))
            .collect(),
        Err(error) => vec![Err(error)],
    });
    let mut verified = Vec::new();
    let mut failures = Vec::new();
    for outcome in parallel::map(&chunks, threads, verify_chunk)
        .into_iter()
        .flatten()
    {
        match outcome {
            Ok(kept) => verified.extend(kept),
            Err(failure) => failures.push(failure),
        }
    }
    if failures.is_empty() {
        Ok(verified)
    } else {
        Err(failures)
    }
}

fn verify_file(
    reader: &Reader,
    file_plan: &FilePlan,
    plan: &Plan,
    writes: Writes,
) -> Result<Option<Verified>, Error> {
    let original = reader.planned(file_plan.file)?;
    let edits = plan.edits(file_plan);
    let rewritten = verify::rewrite(file_plan, &edits, &original, &plan.new)?;
    if writes == Writes::No {
        return Ok(None);
    }
    let mut shared: HashMap<&[u8], Arc<Zeroizing<Vec<u8>>>> = HashMap::new();
    let replaced = edits
        .iter()
        .map(|edit| {
            let old = &original[edit.span.clone()];
            shared
                .entry(old)
                .or_insert_with(|| Arc::new(Zeroizing::new(old.to_vec())))
                .clone()
        })
        .collect();
    Ok(Some(Verified {
        rewritten: FileDigest::of(&rewritten),
        replaced,
    }))
}

/// A file's bytes before and after its rotation (both hold the new token: wiped on drop).
pub struct BeforeAndAfter {
    pub before: Zeroizing<Vec<u8>>,
    pub after: Zeroizing<Vec<u8>>,
}

/// The plan's `index`th file before and after its rotation, read again: from the bytes it
/// was planned from, or (once a rotation wrote it, as `verified` says) from its new bytes.
/// Refused when it holds neither.
pub fn before_and_after(
    reader: &Reader,
    plan: &Plan,
    index: usize,
    verified: Option<&Verified>,
) -> Result<BeforeAndAfter, Error> {
    let file_plan = &plan.files[index];
    let file = file_plan.file;
    let limit = file
        .digest
        .len()
        .max(verified.map_or(0, |v| v.rewritten.len()));
    let bytes = reader.current(file, limit)?.ok_or_else(|| changed(file))?;
    let digest = FileDigest::of(&bytes);
    let edits = plan.edits(file_plan);
    let splice_failed = |error: edit::SpliceError| Error::new(format!("{}: {error}", file.display));
    if digest == file.digest {
        let after = edit::apply(&bytes, &edits, edit::Text::Replacement).map_err(splice_failed)?;
        return Ok(BeforeAndAfter {
            before: bytes,
            after: Zeroizing::new(after),
        });
    }
    match verified {
        Some(verified) if digest == verified.rewritten => {
            let replaced: Vec<&[u8]> = verified.replaced.iter().map(|old| old.as_slice()).collect();
            let before = edit::unapply(&bytes, &edits, &replaced).map_err(splice_failed)?;
            Ok(BeforeAndAfter {
                before: Zeroizing::new(before),
                after: bytes,
            })
        }
        _ => Err(changed(file)),
    }
}
