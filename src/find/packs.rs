//! The size of a packed object, read by rekey from its pack's index and its entry's header,
//! so that a blob too large to hold is refused before it is read. libgit2's `read_header`
//! also finds a delta's type by walking its whole delta chain, each step under the
//! library's global pack-window lock: on a history's worth of blobs that was a fifth of a
//! walk, spent mostly waiting on the lock. rekey knows the type (the tree entry says) and
//! needs only the size, which is what libgit2 allocates when it reads the object: the
//! entry header's for a whole object, the delta's result size for a delta.
//!
//! Only version-2 indexes beside their pack are read (what git has written since 1.5.2).
//! An object none lists (an alternate store, a pack written during the run, a
//! multi-pack index alone), or an entry that cannot be parsed, gets no answer here: the
//! caller asks libgit2, which then also names the damage.

use flate2::{Decompress, FlushDecompress};
use git2::Oid;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// The indexes of a repository's packs, each mapped whole (read-only), with its pack open.
pub struct Packs {
    packs: Vec<Pack>,
}

struct Pack {
    index: Mapped,
    count: usize,
    file: File,
}

const INDEX_MAGIC: [u8; 8] = [0xff, b't', b'O', b'c', 0, 0, 0, 2];
const FANOUT: usize = 8;
const NAMES: usize = FANOUT + 256 * 4;

/// The most bytes of a pack entry read for its header: the entry's own (at most 10 bytes
/// of size, then a base offset or id) and the start of a delta's zlib stream, whose first
/// block may open with a Huffman table before the two sizes.
const ENTRY_READ: usize = 1024;

impl Packs {
    /// The packs under `objects/pack`; none when the directory cannot be read.
    pub fn open(objects: &Path) -> Packs {
        let Ok(entries) = std::fs::read_dir(objects.join("pack")) else {
            return Packs { packs: Vec::new() };
        };
        let packs = entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "idx"))
            .filter_map(|index| Pack::open(&index))
            .collect();
        Packs { packs }
    }

    /// The size of object `id`, when a pack here holds it and its entry reads cleanly.
    pub fn size(&self, id: Oid) -> Option<u64> {
        self.packs.iter().find_map(|pack| {
            let offset = pack.offset(id.as_bytes())?;
            pack.size_at(offset)
        })
    }
}

impl Pack {
    fn open(index_path: &Path) -> Option<Pack> {
        let file = File::open(index_path.with_extension("pack")).ok()?;
        let index = Mapped::of(&File::open(index_path).ok()?)?;
        let bytes = index.bytes();
        if bytes.get(..FANOUT)? != INDEX_MAGIC {
            return None;
        }
        let count = usize::try_from(be32(bytes, NAMES - 4)?).ok()?;
        // Names, CRCs and offsets, then the two trailing checksums, at the least.
        if bytes.len() < NAMES + count.checked_mul(28)? + 40 {
            return None;
        }
        Some(Pack { index, count, file })
    }

    /// Where object `id` starts in the pack, by the index's fan-out and sorted names.
    fn offset(&self, id: &[u8]) -> Option<u64> {
        let bytes = self.index.bytes();
        let first = usize::from(id[0]);
        let mut low = match first {
            0 => 0,
            _ => usize::try_from(be32(bytes, FANOUT + (first - 1) * 4)?).ok()?,
        };
        let mut high = usize::try_from(be32(bytes, FANOUT + first * 4)?)
            .ok()?
            .min(self.count);
        while low < high {
            let middle = low + (high - low) / 2;
            let name = bytes.get(NAMES + middle * 20..NAMES + middle * 20 + 20)?;
            match name.cmp(id) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return self.offset_of(middle),
            }
        }
        None
    }

    /// The pack offset of the index's `n`th object: 31 bits, or an entry of the table of
    /// 64-bit offsets that follows when the top bit is set.
    fn offset_of(&self, n: usize) -> Option<u64> {
        let bytes = self.index.bytes();
        let offsets = NAMES + self.count * 24;
        let small = be32(bytes, offsets + n * 4)?;
        if small & 0x8000_0000 == 0 {
            return Some(u64::from(small));
        }
        let at = offsets + self.count * 4 + usize::try_from(small & 0x7fff_ffff).ok()? * 8;
        let large = bytes.get(at..at + 8)?;
        Some(u64::from_be_bytes(large.try_into().ok()?))
    }

    /// The size of the object whose entry starts at `offset`.
    fn size_at(&self, offset: u64) -> Option<u64> {
        let mut buffer = [0u8; ENTRY_READ];
        let read = self.file.read_at(&mut buffer, offset).ok()?;
        entry_size(&buffer[..read])
    }
}

/// An entry's type and size in the pack format's variable-length header, the rest of the
/// entry after it.
fn entry_header(bytes: &[u8]) -> Option<(u8, u64, &[u8])> {
    let first = *bytes.first()?;
    let kind = (first >> 4) & 7;
    let (rest, size) = varint(&bytes[1..], u64::from(first & 0x0f), 4, first)?;
    Some((kind, size, rest))
}

/// The size of the object an entry holds: its header's for a whole object (commit, tree,
/// blob, tag), the result size a delta's header gives for a delta.
fn entry_size(bytes: &[u8]) -> Option<u64> {
    const OFS_DELTA: u8 = 6;
    const REF_DELTA: u8 = 7;
    let (kind, size, rest) = entry_header(bytes)?;
    let delta = match kind {
        1..=4 => return Some(size),
        // The base's offset: a big-endian varint, each byte but the last flagged.
        OFS_DELTA => &rest[rest.iter().position(|b| b & 0x80 == 0)? + 1..],
        REF_DELTA => rest.get(20..)?,
        _ => return None,
    };
    // The delta's header, inside its zlib stream: the base's size, then the result's. A
    // stream too short to give both leaves the answer to libgit2.
    let mut inflated = [0u8; 20];
    let mut inflater = Decompress::new(true);
    inflater
        .decompress(delta, &mut inflated, FlushDecompress::None)
        .ok()?;
    let out = usize::try_from(inflater.total_out()).ok()?;
    let (rest, _base) = delta_varint(&inflated[..out])?;
    let (_, result) = delta_varint(rest)?;
    Some(result)
}

/// A little-endian base-128 number whose first `shift` bits came from `first` (flagged
/// with the top bit when more follow).
fn varint(mut bytes: &[u8], mut value: u64, mut shift: u32, first: u8) -> Option<(&[u8], u64)> {
    let mut more = first & 0x80 != 0;
    while more {
        let (&byte, rest) = bytes.split_first()?;
        if shift > 63 {
            return None;
        }
        value |= u64::from(byte & 0x7f).checked_shl(shift)?;
        shift += 7;
        more = byte & 0x80 != 0;
        bytes = rest;
    }
    Some((bytes, value))
}

/// One of a delta header's sizes: little-endian base 128, every byte but the last flagged.
fn delta_varint(bytes: &[u8]) -> Option<(&[u8], u64)> {
    let (&first, rest) = bytes.split_first()?;
    varint(rest, u64::from(first & 0x7f), 7, first)
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// A file mapped read-only, whole. Its pages are the page cache's, read as they are
/// touched: a binary search touches a few pages of an index, where reading the index
/// into memory would hold 28 bytes for every object of the repository.
struct Mapped {
    start: *const u8,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value alone, which unmaps it on drop;
// sharing a read-only view between threads is what `&[u8]` does.
unsafe impl Send for Mapped {}
unsafe impl Sync for Mapped {}

impl Mapped {
    fn of(file: &File) -> Option<Mapped> {
        let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
        if len == 0 {
            return None;
        }
        // SAFETY: a private read-only mapping of a file open for reading; the kernel picks
        // the address. git never rewrites a pack index in place (a new one is written
        // beside it and renamed), so the mapped bytes do not change under the walk, as
        // libgit2, which maps the same file, also relies on.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return None;
        }
        Some(Mapped {
            start: start.cast(),
            len,
        })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `start` maps `len` readable bytes until `drop`, which needs `&mut self`.
        unsafe { std::slice::from_raw_parts(self.start, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `of` made; no slice of it outlives `self`.
        unsafe {
            libc::munmap(self.start.cast_mut().cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {:?}", out);
        String::from_utf8(out.stdout).unwrap()
    }

    /// A repository whose one file grew over 30 commits, repacked with `repack_config`:
    /// deltas of every depth, and whole objects.
    fn packed_repository(repack_config: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q"]);
        let mut text = String::new();
        for n in 0..30 {
            text.push_str(&format!("line {n}: {}\n", "x".repeat(n * 7)));
            std::fs::write(dir.path().join("values.yaml"), &text).unwrap();
            git(dir.path(), &["add", "."]);
            git(dir.path(), &["commit", "-q", "-m", &format!("c{n}")]);
        }
        git(
            dir.path(),
            &["-c", repack_config, "repack", "-a", "-d", "-f", "-q"],
        );
        dir
    }

    /// Every object of the repository, with the size and delta base git gives it.
    fn objects(dir: &Path) -> Vec<(Oid, u64, String)> {
        let check = "--batch-check=%(objectname) %(objectsize) %(deltabase)";
        git(dir, &["cat-file", "--batch-all-objects", check])
            .lines()
            .map(|line| {
                let fields: Vec<&str> = line.split(' ').collect();
                (
                    Oid::from_str(fields[0]).unwrap(),
                    fields[1].parse().unwrap(),
                    fields[2].into(),
                )
            })
            .collect()
    }

    /// Checks every object's size against git's, and that the pack holds entries of
    /// `delta_kind` (6: by offset, 7: by base id).
    fn sizes_match_git(repack_config: &str, delta_kind: u8) {
        let dir = packed_repository(repack_config);
        let packs = Packs::open(&dir.path().join(".git/objects"));
        let objects = objects(dir.path());
        let deltas = objects
            .iter()
            .filter(|(_, _, base)| !base.starts_with("0000"))
            .count();
        assert!(deltas >= 10, "the repack made deltas: {deltas}");
        let mut kinds = std::collections::BTreeSet::new();
        for (id, size, _) in &objects {
            assert_eq!(packs.size(*id), Some(*size), "object {id}");
            let pack = &packs.packs[0];
            let mut entry = [0u8; 4];
            pack.file
                .read_at(&mut entry, pack.offset(id.as_bytes()).unwrap())
                .unwrap();
            kinds.insert(entry_header(&entry).unwrap().0);
        }
        assert!(kinds.contains(&delta_kind), "entry kinds {kinds:?}");
        assert_eq!(packs.size(Oid::from_bytes(&[0x5a; 20]).unwrap()), None);
    }

    #[test]
    fn sizes_of_whole_objects_and_offset_deltas_are_what_git_says() {
        sizes_match_git("repack.useDeltaBaseOffset=true", 6);
    }

    #[test]
    fn sizes_of_deltas_by_base_id_are_what_git_says() {
        sizes_match_git("repack.useDeltaBaseOffset=false", 7);
    }

    #[test]
    fn an_index_that_is_not_a_version_2_index_is_left_to_libgit2() {
        let dir = packed_repository("repack.useDeltaBaseOffset=true");
        let pack_dir = dir.path().join(".git/objects/pack");
        for entry in std::fs::read_dir(&pack_dir).unwrap().flatten() {
            if entry.path().extension().is_some_and(|ext| ext == "idx") {
                let mut bytes = std::fs::read(entry.path()).unwrap();
                bytes[7] = 3;
                std::fs::write(entry.path(), bytes).unwrap();
            }
        }
        let packs = Packs::open(&dir.path().join(".git/objects"));
        assert!(packs.packs.is_empty());
        assert_eq!(packs.size(Oid::from_bytes(&[0x5a; 20]).unwrap()), None);
    }

    #[test]
    fn a_truncated_entry_gives_no_size() {
        assert_eq!(entry_size(&[]), None);
        // A blob whose size says more bytes follow, then nothing.
        assert_eq!(entry_size(&[0xb5]), None);
        assert_eq!(entry_size(&[0x35]), Some(5));
        // An offset delta whose zlib stream is cut before its sizes.
        assert_eq!(entry_size(&[0x65, 0x01, 0x78]), None);
    }
}
