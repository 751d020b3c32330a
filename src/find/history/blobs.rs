//! The tokens each distinct blob of a history holds, found by the same scanners and byte
//! sweep as a working tree's files, each blob read once, on worker threads while the trees
//! that name the blobs are still being read. A blob too large
//! to hold is swept as it is inflated, in bounded chunks. Only fingerprints are kept: the
//! content is dropped as soon as it is judged, so memory follows the findings, not the
//! history.

use crate::error::Error;
use crate::find::git::{judge_read, JudgedBlob};
use crate::find::large;
use crate::find::loose::Objects;
use crate::find::objects::{Blob, Read, Store, SYMLINK};
use crate::find::scan;
use crate::find::walk::Candidate;
use crate::model::keys;
use crate::model::token::Fingerprint;
use git2::Repository;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

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
    /// The path the blob was met at and why it could not be judged, if it could not.
    pub unjudged: Option<(String, String)>,
}

/// The blobs `judge_while` judged: how many, and what those that hold anything hold.
pub struct Judged {
    pub count: usize,
    /// By the blob's place in the order they were handed over (most blobs hold nothing
    /// and are left out: a history has hundreds of thousands of them).
    pub held: Vec<(usize, Held)>,
}

/// How many blobs a worker takes at a time.
const BATCH: usize = 64;

/// Runs `list`, which hands each blob it finds (at the path it was first met at) to the
/// function it is given, and judges those blobs on worker threads while it runs, each
/// thread through its own handle on the repository at `location`: reading the trees and
/// judging the blobs they name overlap. Gives what `list` returned and what each blob
/// holds.
pub fn judge_while<T>(
    location: &Path,
    objects: &Objects,
    list: impl FnOnce(&mut dyn FnMut(Blob)) -> Result<T, Error>,
) -> Result<(T, Judged), Error> {
    let (sender, receiver) = mpsc::channel::<Vec<(usize, Blob)>>();
    let receiver = Mutex::new(receiver);
    let stop = AtomicBool::new(false);
    let work = keys::carried(|_: &()| judge_received(&receiver, &stop, location, objects));
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..crate::runtime::parallel::cores())
            .map(|_| scope.spawn(|| work(&())))
            .collect();
        // Blobs go over in batches: one hand-over per blob would wake a thread per blob.
        let mut batch = Vec::with_capacity(BATCH);
        let mut count = 0;
        let listed = list(&mut |blob: Blob| {
            batch.push((count, blob));
            count += 1;
            if batch.len() == BATCH {
                // A send fails only once every worker has stopped on an error, which the
                // joins below report.
                let _ = sender.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
            }
        });
        let _ = sender.send(batch);
        drop(sender);
        if listed.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        let mut held = Vec::new();
        let mut failed = None;
        for worker in workers {
            match worker.join().expect("a blob-judging thread panicked") {
                Ok(judged) => held.extend(judged),
                Err(error) => failed = failed.or(Some(error)),
            }
        }
        let listed = listed?;
        held.sort_unstable_by_key(|(at, _)| *at);
        match failed {
            Some(error) => Err(error),
            None => Ok((listed, Judged { count, held })),
        }
    })
}

/// Judges the blobs `receiver` hands over until it closes, or until `stop` or an error.
fn judge_received(
    receiver: &Mutex<mpsc::Receiver<Vec<(usize, Blob)>>>,
    stop: &AtomicBool,
    location: &Path,
    objects: &Objects,
) -> Result<Vec<(usize, Held)>, Error> {
    let reopen =
        |e: git2::Error| Error::new(format!("cannot open the repository again: {}", e.message()));
    let repo = Repository::open(location).map_err(reopen)?;
    let odb = repo.odb().map_err(reopen)?;
    let store = Store::new(&odb, objects, None);
    let mut judged = Vec::new();
    loop {
        let next = receiver.lock().expect("no judging thread panics").recv();
        let Ok(batch) = next else {
            return Ok(judged);
        };
        for (at, blob) in batch {
            if stop.load(Ordering::Relaxed) {
                return Ok(judged);
            }
            BLOBS_SCANNED.fetch_add(1, Ordering::Relaxed);
            match judge(&store, objects, &blob) {
                Ok(held) if held.tokens.is_empty() && held.unjudged.is_none() => {}
                Ok(held) => judged.push((at, held)),
                Err(error) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(error);
                }
            }
        }
    }
}

/// What one blob holds.
fn judge(store: &Store, objects: &Objects, blob: &Blob) -> Result<Held, Error> {
    let read = store.read(blob)?;
    if let Read::TooLarge(size) = read {
        return judge_large(store, objects, blob, size);
    }
    let JudgedBlob { candidate, strays } = judge_read(blob, &read);
    let swept = |at_key: bool| -> Vec<(Fingerprint, bool)> {
        strays
            .iter()
            .map(|s| (s.fingerprint.clone(), at_key))
            .collect()
    };
    let held = match candidate {
        Candidate::Parse(file) => match scan::sites_of(&file) {
            Ok(Some((_, sites, _))) => {
                let mut tokens = swept(false);
                tokens.extend(
                    sites
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
        Some(large::sweep_stream(&mut stream, path).map_err(|e| Error::at(path, e.to_string()))?)
    } else if size <= MAX_PACKED_SWEPT {
        // Checked against its id like any packed blob (libgit2's own check is off).
        let object = store
            .packed(blob.id, git2::ObjectType::Blob)
            .map_err(|e| Error::at(path, e.message))?;
        let mut data = object.data();
        Some(large::sweep_stream(&mut data, path).map_err(|e| Error::at(path, e.to_string()))?)
    } else {
        None
    };
    let Some((holds_key_name, Some(strays))) = swept else {
        return Ok(Held {
            tokens: Vec::new(),
            unjudged: Some((
                blob.path.clone(),
                format!(
                    "is {} MiB in git, more than rekey sweeps of a packed blob (or holds more \
                     token-shaped strings than a run keeps)",
                    size >> 20
                ),
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
