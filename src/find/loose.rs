//! Loose git objects (`objects/xx/…`, what `git add` and `git commit` write) read and
//! checked by rekey itself, not by libgit2: libgit2 1.9 loops forever on a loose object
//! whose zlib stream was cut short (a full disk, an interrupted copy), and a gate must end.
//! An object is inflated whole and must end where its zlib stream ends, hold exactly the
//! size its header says, be of the kind asked for, and hash to its id: anything else is a
//! corrupt object store, never "nothing here". Packed objects are libgit2's to read,
//! `find::objects`'s to check against their id, and their sizes `find::packs`'s.

use crate::error::Error;
use crate::find::packs::{PackedSize, Packs};
use flate2::{Decompress, FlushDecompress, Status};
use git2::{ObjectType, Oid};
use sha1::{Digest, Sha1};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What the loose object store holds for an id.
pub enum Loose {
    /// The object's content, checked against its id.
    Read(Content),
    /// The object's header says it is over the size asked for: it was not inflated.
    TooLarge(u64),
    /// No loose object by that id: it is packed (or in an alternate store), libgit2's.
    Absent,
}

/// An inflated object: its header, then its content.
pub struct Content {
    inflated: Vec<u8>,
    header_len: usize,
    kind: ObjectType,
}

impl Content {
    pub fn bytes(&self) -> &[u8] {
        &self.inflated[self.header_len..]
    }

    pub fn kind(&self) -> ObjectType {
        self.kind
    }
}

/// The longest loose-object header: a kind, a space, a decimal size, a NUL.
const MAX_HEADER: usize = 32;

/// A repository's `objects` directory, and which of its 256 fan-out directories exist: in
/// a packed clone none do, and no blob costs a failed open.
pub struct Objects {
    dir: PathBuf,
    /// One bit per fan-out directory, by its first byte.
    fanout: [u64; 4],
    /// The pack indexes, opened the first time a packed object's size is asked for.
    packs: OnceLock<Packs>,
}

impl Objects {
    pub fn new(dir: PathBuf) -> Objects {
        let mut fanout = [0u64; 4];
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let hex = name.to_str().filter(|name| name.len() == 2);
                if let Some(byte) = hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                    fanout[usize::from(byte >> 6)] |= 1 << (byte & 63);
                }
            }
        }
        Objects {
            dir,
            fanout,
            packs: OnceLock::new(),
        }
    }

    /// The size of the packed object `id` as its pack says, without reading it (see
    /// `find::packs` for when it gives no answer).
    pub fn packed_size(&self, id: Oid) -> PackedSize {
        self.packs.get_or_init(|| Packs::open(&self.dir)).size(id)
    }

    /// Reads the loose object `id` if there is one, expecting `kind` (any kind for
    /// [`ObjectType::Any`]) and at most `limit` bytes of content. An error says what is
    /// wrong with the object; the caller names the path it stands for.
    pub fn read(&self, id: Oid, kind: ObjectType, limit: u64) -> Result<Loose, Error> {
        let byte = id.as_bytes()[0];
        if self.fanout[usize::from(byte >> 6)] & (1 << (byte & 63)) == 0 {
            return Ok(Loose::Absent);
        }
        let hex = id.to_string();
        read(&self.dir.join(&hex[..2]).join(&hex[2..]), id, kind, limit)
    }
}

impl Objects {
    /// The loose blob `id` as a stream of its content, for a blob too large to hold: it is
    /// inflated as it is read and hashed on the way, and its last read fails unless it held
    /// exactly the size its header gave and hashed to its id. `None`: no loose object.
    pub fn stream(&self, id: Oid) -> Result<Option<Stream>, Error> {
        let hex = id.to_string();
        let file = match std::fs::File::open(self.dir.join(&hex[..2]).join(&hex[2..])) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(corrupt(id, &format!("cannot be read ({e})"))),
        };
        let mut inflated = flate2::read::ZlibDecoder::new(std::io::BufReader::new(file));
        let mut start = Vec::with_capacity(MAX_HEADER);
        (&mut inflated)
            .take(MAX_HEADER as u64)
            .read_to_end(&mut start)
            .map_err(|e| corrupt(id, &format!("has damaged zlib data ({e})")))?;
        let Some((ObjectType::Blob, size, header_len)) = header(&start) else {
            return Err(corrupt(id, "is not a blob with a valid object header"));
        };
        let mut hasher = Sha1::new();
        hasher.update(format!("blob {size}\0").as_bytes());
        Ok(Some(Stream {
            id,
            inflated,
            pending: start[header_len..].to_vec(),
            left: size,
            hasher,
        }))
    }
}

/// A loose blob's content, read as it is inflated (see [`Objects::stream`]).
pub struct Stream {
    id: Oid,
    inflated: flate2::read::ZlibDecoder<std::io::BufReader<std::fs::File>>,
    /// Content inflated with the header, not yet handed out.
    pending: Vec<u8>,
    /// How many bytes of content the header promised that are not handed out yet.
    left: u64,
    hasher: Sha1,
}

impl Read for Stream {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let damaged = |id: Oid, what: &str| std::io::Error::other(corrupt(id, what).message);
        let read = if !self.pending.is_empty() {
            let n = self.pending.len().min(out.len());
            out[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            n
        } else {
            self.inflated
                .read(out)
                .map_err(|e| damaged(self.id, &format!("has damaged zlib data ({e})")))?
        };
        if read as u64 > self.left {
            return Err(damaged(
                self.id,
                "holds more than the size its header gives",
            ));
        }
        self.left -= read as u64;
        self.hasher.update(&out[..read]);
        if read == 0 && !out.is_empty() {
            if self.left > 0 {
                return Err(damaged(
                    self.id,
                    "is truncated (its content ends before the size its header gives)",
                ));
            }
            let digest = self.hasher.clone().finalize();
            if digest.as_slice() != self.id.as_bytes() {
                return Err(damaged(self.id, NOT_ITS_ID));
            }
        }
        Ok(read)
    }
}

/// [`Objects::read`] of the loose object file `file`.
fn read(file: &Path, id: Oid, kind: ObjectType, limit: u64) -> Result<Loose, Error> {
    let compressed = match read_bounded(file, limit) {
        Ok(compressed) => compressed,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loose::Absent),
        Err(e) => return Err(corrupt(id, &format!("cannot be read ({e})"))),
    };
    let mut inflater = Decompress::new(true);
    let mut inflated = Vec::with_capacity(MAX_HEADER);
    inflate_into(&mut inflater, &compressed, &mut inflated, id)?;
    let (found, size, header_len) = header(&inflated).ok_or_else(|| {
        corrupt(
            id,
            "has no valid object header (not a git object, or damaged)",
        )
    })?;
    if kind != ObjectType::Any && found != kind {
        return Err(corrupt(id, &format!("is a {found}, not a {kind}")));
    }
    if size > limit {
        return Ok(Loose::TooLarge(size));
    }
    let whole = header_len + size as usize;
    // One byte more than the header promises: a stream longer than its header is seen.
    inflated.reserve_exact((whole + 1).saturating_sub(inflated.len()));
    let ended = inflate_into(&mut inflater, &compressed, &mut inflated, id)?;
    if !ended || inflated.len() != whole {
        return Err(corrupt(
            id,
            "is truncated (its content ends before the size its header gives)",
        ));
    }
    if inflater.total_in() as usize != compressed.len() {
        return Err(corrupt(id, "has bytes after the end of its zlib stream"));
    }
    let content = Content {
        inflated,
        header_len,
        kind: found,
    };
    if !hashes_to(id, found, content.bytes()) {
        return Err(corrupt(id, NOT_ITS_ID));
    }
    Ok(Loose::Read(content))
}

/// The object's file, whole when it can hold at most `limit` bytes of content (zlib never
/// grows data by more than a few bytes per 16 KiB); of a larger one, only enough to read
/// its header.
fn read_bounded(file: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut opened = std::fs::File::open(file)?;
    let len = opened.metadata()?.len();
    let most = limit + limit / 1024 + 1024;
    let mut bytes = Vec::with_capacity(len.min(most) as usize);
    (&mut opened).take(most).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Inflates more of `compressed` into the free capacity of `out`: whether the zlib stream
/// ended. Stops when the stream ends, `out` is full, or no byte more can be made of the
/// input (a cut stream): never loops without progress.
fn inflate_into(
    inflater: &mut Decompress,
    compressed: &[u8],
    out: &mut Vec<u8>,
    id: Oid,
) -> Result<bool, Error> {
    loop {
        let before = (inflater.total_in(), out.len());
        let rest = &compressed[(inflater.total_in() as usize).min(compressed.len())..];
        let status = inflater
            .decompress_vec(rest, out, FlushDecompress::None)
            .map_err(|e| corrupt(id, &format!("has damaged zlib data ({e})")))?;
        if status == Status::StreamEnd {
            return Ok(true);
        }
        if out.len() == out.capacity() || (inflater.total_in(), out.len()) == before {
            return Ok(false);
        }
    }
}

/// `<kind> <size>\0` at the start of an inflated object: its kind, size and length.
fn header(inflated: &[u8]) -> Option<(ObjectType, u64, usize)> {
    let end = memchr::memchr(0, &inflated[..inflated.len().min(MAX_HEADER)])?;
    let text = std::str::from_utf8(&inflated[..end]).ok()?;
    let (kind, size) = text.split_once(' ')?;
    let kind = ObjectType::from_str(kind).filter(|k| *k != ObjectType::Any)?;
    if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((kind, size.parse().ok()?, end + 1))
}

/// What a corrupt object whose content hashes to another id is.
/// Whether the object of `kind` holding `content` is the object `id`: git's id is the SHA-1
/// of a `<kind> <size>\0` header and the content. Hashed here rather than by libgit2, whose
/// SHA-1 also looks for collision attacks and takes three times as long on a history's
/// worth of objects; an id that does not match is what rekey looks for (a damaged object).
pub fn hashes_to(id: Oid, kind: ObjectType, content: &[u8]) -> bool {
    let mut hasher = Sha1::new();
    hasher.update(format!("{kind} {}\0", content.len()).as_bytes());
    hasher.update(content);
    hasher.finalize().as_slice() == id.as_bytes()
}

pub const NOT_ITS_ID: &str = "does not match its id: its content is another object's";

/// A corrupt object's error: which object, what is wrong, and what to run.
pub fn corrupt(id: Oid, what: &str) -> Error {
    Error::new(format!(
        "the git object {id} {what}: the repository's object store is corrupt, so nothing \
         here can be judged; run `git fsck --full` and restore the object from a clone or \
         a backup"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_strictly() {
        assert_eq!(header(b"blob 12\0hello"), Some((ObjectType::Blob, 12, 8)));
        assert_eq!(header(b"tree 0\0"), Some((ObjectType::Tree, 0, 7)));
        assert_eq!(header(b"blob -1\0"), None);
        assert_eq!(header(b"blob 12"), None);
        assert_eq!(header(b"blub 12\0"), None);
    }
}
