//! Git objects as rekey reads them: every blob, tree and commit checked against its id
//! (loose ones by `find::loose`, packed ones here), with the size limits past which an
//! object is not read whole, and the tree format parsed by rekey itself. `find::git` reads
//! one commit or the index through it; `find::history` every commit of every ref.

use crate::error::Error;
use crate::find::ids::{raw, Ids, Raw};
use crate::find::loose::{self, Loose, Objects};
use crate::find::packs::PackedSize;
use git2::{ObjectType, Odb, OdbObject, Oid};
use std::cell::RefCell;
use std::collections::HashSet;
use std::path::Path;

/// The largest tree or commit object rekey reads and checks itself (a directory of a
/// million entries is about 40 MiB).
pub const MAX_TREE_SIZE: u64 = 256 << 20;

/// The largest blob read from git: past the 8 MiB parsed, a blob is read whole to be
/// searched for key names and swept.
pub const MAX_BLOB_SIZE: u64 = 32 << 20;

const NO_KIND: &str = "is stored in its pack as no kind of object (type 0 or 5)";

/// A regular file or symlink of a tree or the index, to be read from git.
pub struct Blob {
    pub path: String,
    pub id: Oid,
    pub mode: u32,
    /// The size the index recorded when the file was staged (its stat data, cut to 32 bits).
    pub staged_size: Option<u64>,
}

/// An entry of a tree.
pub struct Entry {
    pub mode: u32,
    pub name: String,
    pub id: Oid,
}

/// Where one thread reads objects from, and the packed objects it has checked.
pub struct Store<'a, 'r> {
    odb: &'a Odb<'r>,
    objects: &'a Objects,
    workdir: Option<&'a Path>,
    /// Packed blobs already hashed against their id: a blob holding a key name is read
    /// again for each path it stands at, and is hashed once. Trees and commits are read
    /// once a pass; remembering every one of a history's would hold tens of megabytes for
    /// the few trees read again.
    verified: RefCell<HashSet<Raw, Ids>>,
}

/// A blob's content as read: from a loose object (checked by `find::loose`) or a pack.
pub enum Read<'a> {
    Loose(loose::Content),
    Packed(OdbObject<'a>),
    TooLarge(u64),
}

impl<'a, 'r> Store<'a, 'r> {
    pub fn new(odb: &'a Odb<'r>, objects: &'a Objects, workdir: Option<&'a Path>) -> Store<'a, 'r> {
        Store {
            odb,
            objects,
            workdir,
            verified: RefCell::new(HashSet::default()),
        }
    }

    /// Reads one blob whole, checked against its id; one too large to hold is not read. A
    /// blob that cannot be read is an error naming its path and what to run: never read
    /// as a file holding nothing.
    pub fn read(&self, blob: &Blob) -> Result<Read<'a>, Error> {
        let (path, id) = (blob.path.as_str(), blob.id);
        match self.objects.read(id, ObjectType::Blob, MAX_BLOB_SIZE) {
            Ok(Loose::Read(content)) => return Ok(Read::Loose(content)),
            Ok(Loose::TooLarge(size)) => return Ok(Read::TooLarge(size)),
            Ok(Loose::Absent) => {}
            Err(e) => return Err(Error::at(path, e.message)),
        }
        // A packed blob's size comes from its pack entry's header (`find::packs`, or
        // libgit2 where that gives no answer), unless the index and the working tree
        // agree that the staged file is small (the index's size alone can be anything:
        // 0 for `git update-index --cacheinfo`, wrapped past 4 GiB).
        let known_small = blob.staged_size.is_some_and(|staged| {
            staged > 0
                && staged <= MAX_BLOB_SIZE / 2
                && self.workdir.is_some_and(|dir| {
                    std::fs::symlink_metadata(dir.join(path)).is_ok_and(|m| m.len() == staged)
                })
        });
        if !known_small {
            let size = match self.objects.packed_size(id) {
                PackedSize::Size(size) => size,
                // Never handed to libgit2, whose bindings panic on an unknown kind.
                PackedSize::NoKind => {
                    return Err(Error::at(path, loose::corrupt(id, NO_KIND).message));
                }
                PackedSize::Unknown => {
                    self.odb
                        .read_header(id)
                        .map_err(|e| Error::at(path, loose::corrupt(id, &unreadable(&e)).message))?
                        .0 as u64
                }
            };
            if size > MAX_BLOB_SIZE {
                return Ok(Read::TooLarge(size));
            }
        }
        self.packed(id, ObjectType::Blob)
            .map(Read::Packed)
            .map_err(|e| Error::at(path, e.message))
    }

    /// The packed (or alternate) object `id`, of `kind` (any for [`ObjectType::Any`]),
    /// hashed against its id: a blob the first time this store reads it, any other object
    /// every time.
    pub fn packed(&self, id: Oid, kind: ObjectType) -> Result<OdbObject<'a>, Error> {
        let object = self
            .odb
            .read(id)
            .map_err(|e| loose::corrupt(id, &unreadable(&e)))?;
        let found = object.kind();
        if kind != ObjectType::Any && found != kind {
            return Err(loose::corrupt(id, &format!("is a {found}, not a {kind}")));
        }
        let blob = found == ObjectType::Blob;
        if !(blob && self.verified.borrow().contains(&raw(id))) {
            if !loose::hashes_to(id, found, object.data()) {
                return Err(loose::corrupt(id, loose::NOT_ITS_ID));
            }
            if blob {
                self.verified.borrow_mut().insert(raw(id));
            }
        }
        Ok(object)
    }
}

/// A tree, commit or tag object read whole, checked against its id.
pub enum Object<'a> {
    Loose(loose::Content),
    Packed(OdbObject<'a>),
}

impl Object<'_> {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Object::Loose(content) => content.bytes(),
            Object::Packed(object) => object.data(),
        }
    }

    pub fn kind(&self) -> ObjectType {
        match self {
            Object::Loose(content) => content.kind(),
            Object::Packed(object) => object.kind(),
        }
    }
}

impl<'a, 'r> Store<'a, 'r> {
    /// The object database packed objects are read from.
    pub fn odb(&self) -> &'a Odb<'r> {
        self.odb
    }

    /// The object `id` of `kind` (any for [`ObjectType::Any`]), read whole: trees, commits
    /// and tags, never over [`MAX_TREE_SIZE`].
    pub fn object(&self, id: Oid, kind: ObjectType) -> Result<Object<'a>, Error> {
        match self.objects.read(id, kind, MAX_TREE_SIZE)? {
            Loose::Read(content) => Ok(Object::Loose(content)),
            Loose::Absent => self.packed(id, kind).map(Object::Packed),
            Loose::TooLarge(size) => Err(Error::new(format!(
                "the git object {id} is {} MiB, over the {} MiB rekey reads from a tree or \
                 commit: run `git fsck --full`",
                size >> 20,
                MAX_TREE_SIZE >> 20
            ))),
        }
    }
}

/// What libgit2 said of an object it could not read.
pub fn unreadable(error: &git2::Error) -> String {
    format!("cannot be read ({})", error.message())
}

/// A symlink's mode in a tree or the index.
pub const SYMLINK: u32 = 0o120000;

pub fn is_regular(mode: u32) -> bool {
    matches!(mode, 0o100644 | 0o100755)
}

/// What a scan reads of a tree or the index: regular files, and symlinks (whose target
/// text is read, never followed).
pub fn is_scanned(mode: u32) -> bool {
    is_regular(mode) || mode == SYMLINK
}

/// The entries of a loose tree object: `<octal mode> <name>\0<20-byte id>`, repeated.
pub fn parse_tree(mut bytes: &[u8]) -> Option<Vec<Entry>> {
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        let (entry, rest) = next_entry(bytes)?;
        entries.push(Entry {
            mode: entry.mode,
            name: String::from_utf8_lossy(entry.name).into_owned(),
            id: entry.id(),
        });
        bytes = rest;
    }
    Some(entries)
}

/// An entry of a tree, borrowed from the tree's bytes.
pub struct EntryRef<'b> {
    pub mode: u32,
    pub name: &'b [u8],
    pub raw: &'b [u8; 20],
}

impl EntryRef<'_> {
    pub fn id(&self) -> Oid {
        Oid::from_bytes(self.raw).expect("20 bytes are an id")
    }
}

/// The first entry of the (non-empty) tree bytes `bytes`, and the bytes after it; `None`
/// when it is damaged.
pub fn next_entry(bytes: &[u8]) -> Option<(EntryRef<'_>, &[u8])> {
    let space = memchr::memchr(b' ', bytes).filter(|at| *at > 0)?;
    let mut mode = 0u32;
    for digit in &bytes[..space] {
        if !(b'0'..=b'7').contains(digit) || mode > u32::MAX >> 3 {
            return None;
        }
        mode = mode << 3 | u32::from(digit - b'0');
    }
    let rest = &bytes[space + 1..];
    let nul = memchr::memchr(0, rest)?;
    let raw = rest.get(nul + 1..nul + 21)?.try_into().ok()?;
    let entry = EntryRef {
        mode,
        name: &rest[..nul],
        raw,
    };
    Some((entry, &rest[nul + 21..]))
}

/// The tree a loose commit object names on its first line, `tree <40 hex>`.
pub fn tree_line(commit: &[u8]) -> Option<Oid> {
    let hex = commit.strip_prefix(b"tree ")?.get(..40)?;
    Oid::from_str(std::str::from_utf8(hex).ok()?).ok()
}
