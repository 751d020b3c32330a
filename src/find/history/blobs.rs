//! The tokens each distinct blob of a history holds, found by the same scanners and byte
//! sweep as a working tree's files, each blob read once and in parallel. A blob too large
//! to hold is swept as it is inflated, in bounded chunks. Only fingerprints are kept: the
//! content is dropped as soon as it is judged, so memory follows the findings, not the
//! history.

use crate::error::Error;
use crate::find::git::{judge_read, JudgedBlob};
use crate::find::loose::Objects;
use crate::find::objects::{unreadable, Blob, Read, Store, SYMLINK};
use crate::find::scan;
use crate::find::walk::{self, Candidate};
use crate::model::token::Fingerprint;
use git2::Repository;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many blobs the running walk has judged, for the progress line.
pub static BLOBS_SCANNED: AtomicUsize = AtomicUsize::new(0);

/// The largest packed blob rekey reads to sweep: a pack is not read as a stream, so a
/// larger one is not judged (loose blobs are streamed whatever their size).
const MAX_PACKED_SWEPT: u64 = 512 << 20;

/// What one blob holds.
#[derive(Default)]
pub struct Held {
    /// Each token found, and whether it stood where a delegate token goes: at a key a
    /// scanner reads, or anywhere in a file that names a key but could not be parsed.
    pub tokens: Vec<(Fingerprint, bool)>,
    /// Why the blob could not be judged, if it could not.
    pub unjudged: Option<String>,
}

/// Judges every blob of `blobs` (each at the path it was first met at), in parallel, each
/// thread through its own handle on the repository at `location`.
pub fn judge_all(blobs: &[Blob], location: &Path, objects: &Objects) -> Result<Vec<Held>, Error> {
    let threads = crate::runtime::parallel::cores();
    let chunks: Vec<&[Blob]> = blobs.chunks(blobs.len().div_ceil(threads).max(1)).collect();
    let results = crate::runtime::parallel::map(&chunks, threads, |chunk| {
        let reopen = |e: git2::Error| {
            Error::new(format!("cannot open the repository again: {}", e.message()))
        };
        let repo = Repository::open(location).map_err(reopen)?;
        let odb = repo.odb().map_err(reopen)?;
        let store = Store::new(&odb, objects, None);
        chunk
            .iter()
            .map(|blob| {
                let held = judge(&store, objects, blob);
                BLOBS_SCANNED.fetch_add(1, Ordering::Relaxed);
                held
            })
            .collect::<Result<Vec<Held>, Error>>()
    });
    let mut held = Vec::with_capacity(blobs.len());
    for result in results {
        held.extend(result?);
    }
    Ok(held)
}

/// What one blob holds.
fn judge(store: &Store, objects: &Objects, blob: &Blob) -> Result<Held, Error> {
    let read = store.read(blob)?;
    if let Read::TooLarge(size) = read {
        return judge_large(store, objects, blob, size);
    }
    let JudgedBlob { candidate, strays } = judge_read(blob, &read);
    drop(read);
    let swept = |at_key: bool| -> Vec<(Fingerprint, bool)> {
        strays
            .iter()
            .map(|s| (s.fingerprint.clone(), at_key))
            .collect()
    };
    let held = match candidate {
        Candidate::Parse(file) => match scan::scan_file(file) {
            Ok(Some(scanned)) => {
                let mut tokens = swept(false);
                tokens.extend(
                    scanned
                        .sites
                        .iter()
                        .filter(|site| site.value.is_token())
                        .filter_map(|site| site.value.fingerprint())
                        .map(|fingerprint| (fingerprint.clone(), true)),
                );
                Held {
                    tokens,
                    unjudged: None,
                }
            }
            Ok(None) => Held {
                tokens: swept(false),
                unjudged: None,
            },
            // Every token-shaped string of a file that names a key but could not be read as
            // its format may be the one its key holds.
            Err(_) => Held {
                tokens: swept(true),
                unjudged: None,
            },
        },
        Candidate::Unjudged(_) => Held {
            tokens: swept(true),
            unjudged: None,
        },
        Candidate::Nothing => Held {
            tokens: swept(false),
            unjudged: None,
        },
    };
    Ok(held)
}

/// A blob over what rekey holds: swept as it is inflated (loose), or read whole up to
/// [`MAX_PACKED_SWEPT`] (packed), never parsed.
fn judge_large(store: &Store, objects: &Objects, blob: &Blob, size: u64) -> Result<Held, Error> {
    let path = blob.path.as_str();
    let swept = if blob.mode == SYMLINK {
        None
    } else if let Some(mut stream) = objects
        .stream(blob.id)
        .map_err(|e| Error::at(path, e.message))?
    {
        Some(walk::sweep_stream(&mut stream, path).map_err(|e| Error::at(path, e.to_string()))?)
    } else if size <= MAX_PACKED_SWEPT {
        let object = store
            .odb()
            .read(blob.id)
            .map_err(|e| Error::at(path, unreadable(&e)))?;
        let mut data = object.data();
        Some(walk::sweep_stream(&mut data, path).map_err(|e| Error::at(path, e.to_string()))?)
    } else {
        None
    };
    let Some((holds_key_name, Some(strays))) = swept else {
        return Ok(Held {
            tokens: Vec::new(),
            unjudged: Some(format!(
                "is {} MiB in git, more than rekey sweeps of a packed blob (or holds more \
                 token-shaped strings than a run keeps)",
                size >> 20
            )),
        });
    };
    let tokens = strays
        .into_iter()
        .map(|stray| (stray.fingerprint, holds_key_name))
        .collect();
    Ok(Held {
        tokens,
        unjudged: None,
    })
}
