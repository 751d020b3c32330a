//! The size of a packed object, read by rekey from its pack's index and its entry's header,
//! so that a blob too large to hold is refused before it is read. libgit2's `read_header`
//! also finds a delta's type by walking its whole delta chain, each step under the
//! library's global pack-window lock: on a history's worth of blobs that was a fifth of a
//! walk, spent mostly waiting on the lock. rekey knows the type (the tree entry says) and
//! needs only the size, which is what libgit2 allocates when it reads the object: the
//! entry header's for a whole object, the delta's result size for a delta.
//!
//! The answer must be the one libgit2 acts on, or none: a size read from a pack libgit2
//! does not use would let a hostile repository hide a blob's real size. So a pack is read
//! only when git would read it (a regular file, `PACK` version 2 or 3, as many objects as
//! its version-2 index lists, the checksum the index records), an entry only when git
//! would accept it, and an object only when exactly one pack lists it and no
//! multi-pack index decides which. Anything else (an alternate store, a pack written during
//! the run, a version-1 index) is left to libgit2, which then also names the damage.

use flate2::{Decompress, FlushDecompress};
use git2::Oid;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// What the packs here say of an object's size.
#[derive(Debug, PartialEq, Eq)]
pub enum PackedSize {
    Size(u64),
    /// The one pack that lists it stores it as no kind of object: the store is corrupt.
    NoKind,
    /// Ask libgit2.
    Unknown,
}

/// The indexes of a repository's packs, each mapped whole (read-only), with its pack open.
pub struct Packs {
    packs: Vec<Pack>,
}

struct Pack {
    index: Mapped,
    count: usize,
    file: File,
    /// Where the entries end: the pack's trailing checksum starts here.
    entries_end: u64,
}

const INDEX_MAGIC: [u8; 8] = [0xff, b't', b'O', b'c', 0, 0, 0, 2];
const FANOUT: usize = 8;
const NAMES: usize = FANOUT + 256 * 4;
/// A pack's header: `PACK`, its version, its object count.
const PACK_HEADER: u64 = 12;
const CHECKSUM: usize = 20;

/// The most bytes of a pack entry read for its header: the entry's own (at most 10 bytes
/// of size, then a base offset or id) and the start of a delta's zlib stream, whose first
/// block may open with a Huffman table before the two sizes.
const ENTRY_READ: usize = 1024;

impl Packs {
    /// The packs under `objects/pack`; none when the directory cannot be read, or when a
    /// multi-pack index there decides which pack libgit2 reads an object from.
    pub fn open(objects: &Path) -> Packs {
        let dir = objects.join("pack");
        let none = Packs { packs: Vec::new() };
        if dir.join("multi-pack-index").exists() {
            return none;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return none;
        };
        let packs = entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "idx"))
            .filter_map(|index| Pack::open(&index))
            .collect();
        Packs { packs }
    }

    /// The size of object `id`, when exactly one pack here lists it (with two, which one
    /// libgit2 reads depends on its search order).
    pub fn size(&self, id: Oid) -> PackedSize {
        let mut listed = self
            .packs
            .iter()
            .filter_map(|pack| Some((pack, pack.offset(id.as_bytes())?)));
        match (listed.next(), listed.next()) {
            (Some((pack, offset)), None) => pack.size_at(offset),
            _ => PackedSize::Unknown,
        }
    }
}

/// Opens a file that must be a regular file without blocking on a FIFO.
fn open_regular(path: &Path) -> Option<(File, u64)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let metadata = file.metadata().ok()?;
    let len = metadata.len();
    metadata.is_file().then_some((file, len))
}

impl Pack {
    fn open(index_path: &Path) -> Option<Pack> {
        let (index_file, _) = open_regular(index_path)?;
        let (file, pack_len) = open_regular(&index_path.with_extension("pack"))?;
        let index = Mapped::of(&index_file)?;
        let bytes = index.bytes();
        if bytes.get(..FANOUT)? != INDEX_MAGIC {
            return None;
        }
        let count = usize::try_from(be32(bytes, NAMES - 4)?).ok()?;
        let fanout = (0..256).map(|n| be32(bytes, FANOUT + n * 4));
        let ascending = fanout
            .collect::<Option<Vec<u32>>>()?
            .windows(2)
            .all(|pair| pair[0] <= pair[1]);
        // Names, CRCs and 31-bit offsets, at most one 64-bit offset per object but the
        // first, and the two checksums.
        let least = NAMES
            .checked_add(count.checked_mul(28)?)?
            .checked_add(2 * CHECKSUM)?;
        let most = least.checked_add(count.saturating_sub(1).checked_mul(8)?)?;
        if !ascending || bytes.len() < least || bytes.len() > most {
            return None;
        }
        let mut header = [0u8; PACK_HEADER as usize];
        file.read_exact_at(&mut header, 0).ok()?;
        let version = be32(&header, 4)?;
        let objects = usize::try_from(be32(&header, 8)?).ok()?;
        let mut trailer = [0u8; CHECKSUM];
        let entries_end = pack_len.checked_sub(CHECKSUM as u64)?;
        file.read_exact_at(&mut trailer, entries_end).ok()?;
        let recorded = &bytes[bytes.len() - 2 * CHECKSUM..bytes.len() - CHECKSUM];
        let valid = &header[..4] == b"PACK"
            && (version == 2 || version == 3)
            && objects == count
            && entries_end >= PACK_HEADER
            && trailer == recorded;
        valid.then_some(Pack {
            index,
            count,
            file,
            entries_end,
        })
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
    /// 64-bit offsets that follows when the top bit is set. Only an offset among the
    /// entries (after the header, before the checksum) is one.
    fn offset_of(&self, n: usize) -> Option<u64> {
        let bytes = self.index.bytes();
        let offsets = NAMES + self.count * 24;
        let small = be32(bytes, offsets + n * 4)?;
        let offset = if small & 0x8000_0000 == 0 {
            u64::from(small)
        } else {
            let at = offsets + self.count * 4 + usize::try_from(small & 0x7fff_ffff).ok()? * 8;
            u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?)
        };
        (PACK_HEADER..self.entries_end)
            .contains(&offset)
            .then_some(offset)
    }

    /// The size of the object whose entry starts at `offset`.
    fn size_at(&self, offset: u64) -> PackedSize {
        let mut buffer = [0u8; ENTRY_READ];
        let room = usize::try_from(self.entries_end - offset).unwrap_or(usize::MAX);
        let wanted = &mut buffer[..room.min(ENTRY_READ)];
        let Ok(read) = self.file.read_at(wanted, offset) else {
            return PackedSize::Unknown;
        };
        let bytes = &wanted[..read];
        match entry_header(bytes) {
            Some((1..=4, size, _)) => PackedSize::Size(size),
            Some((0 | 5, _, _)) => PackedSize::NoKind,
            Some((OFS_DELTA, _, rest)) => match base_distance(rest) {
                Some((distance, delta)) if distance > 0 && distance < offset => delta_size(delta),
                _ => PackedSize::Unknown,
            },
            Some((_, _, rest)) => match rest.get(..20).zip(rest.get(20..)) {
                // libgit2 reads a delta by base id only from the pack that holds the base.
                Some((base, delta)) if self.offset(base).is_some() => delta_size(delta),
                _ => PackedSize::Unknown,
            },
            None => PackedSize::Unknown,
        }
    }
}

const OFS_DELTA: u8 = 6;

/// An entry's type and size in the pack format's variable-length header, the rest of the
/// entry after it; none where git finds a bad header (a size past 64 bits' worth).
fn entry_header(bytes: &[u8]) -> Option<(u8, u64, &[u8])> {
    let first = *bytes.first()?;
    let kind = (first >> 4) & 7;
    let (rest, size) = varint(&bytes[1..], u64::from(first & 0x0f), 4, first)?;
    Some((kind, size, rest))
}

/// How far before an offset delta its base starts, as git decodes it (each byte but the
/// last adds one before the shift), and the delta after it.
fn base_distance(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (&first, mut rest) = bytes.split_first()?;
    let mut distance = u64::from(first & 0x7f);
    let mut more = first & 0x80 != 0;
    while more {
        let (&byte, after) = rest.split_first()?;
        distance = distance.checked_add(1)?;
        if distance >> 57 != 0 {
            return None;
        }
        distance = (distance << 7) | u64::from(byte & 0x7f);
        more = byte & 0x80 != 0;
        rest = after;
    }
    Some((distance, rest))
}

/// The result size in a delta's header, inside its zlib stream after the base's size; a
/// stream too short to give both, or a size of nothing (which git refuses), is libgit2's
/// to judge.
fn delta_size(delta: &[u8]) -> PackedSize {
    let mut inflated = [0u8; 20];
    let mut inflater = Decompress::new(true);
    if inflater
        .decompress(delta, &mut inflated, FlushDecompress::None)
        .is_err()
    {
        return PackedSize::Unknown;
    }
    let out = usize::try_from(inflater.total_out()).unwrap_or(0);
    let sizes = delta_varint(&inflated[..out]).and_then(|(rest, _base)| delta_varint(rest));
    match sizes {
        Some((_, result)) if result > 0 => PackedSize::Size(result),
        _ => PackedSize::Unknown,
    }
}

/// A little-endian base-128 number whose first `shift` bits came from `first` (flagged
/// with the top bit when more follow). Like git, no more bytes past 57 bits of shift.
fn varint(mut bytes: &[u8], mut value: u64, mut shift: u32, first: u8) -> Option<(&[u8], u64)> {
    let mut more = first & 0x80 != 0;
    while more {
        let (&byte, rest) = bytes.split_first()?;
        if shift > 57 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << shift;
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
            assert_eq!(packs.size(*id), PackedSize::Size(*size), "object {id}");
            let pack = &packs.packs[0];
            let mut entry = [0u8; 4];
            pack.file
                .read_at(&mut entry, pack.offset(id.as_bytes()).unwrap())
                .unwrap();
            kinds.insert(entry_header(&entry).unwrap().0);
        }
        assert!(kinds.contains(&delta_kind), "entry kinds {kinds:?}");
        assert_eq!(
            packs.size(Oid::from_bytes(&[0x5a; 20]).unwrap()),
            PackedSize::Unknown
        );
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
        assert_eq!(
            packs.size(Oid::from_bytes(&[0x5a; 20]).unwrap()),
            PackedSize::Unknown
        );
    }

    /// Each pack file of `dir`'s repository with this extension.
    fn pack_files(dir: &Path, extension: &str) -> Vec<std::path::PathBuf> {
        let pack_dir = dir.join(".git/objects/pack");
        let mut found: Vec<_> = std::fs::read_dir(pack_dir)
            .unwrap()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == extension))
            .collect();
        found.sort();
        found
    }

    /// Rewrites a (read-only) pack file with `edit` applied to its bytes.
    fn edit(path: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
        let mut bytes = std::fs::read(path).unwrap();
        edit(&mut bytes);
        std::fs::remove_file(path).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn any_object(dir: &Path) -> Oid {
        objects(dir)[0].0
    }

    #[test]
    fn a_pack_git_would_not_read_is_not_read() {
        type Damage = fn(&mut Vec<u8>);
        let damages: [(&str, Damage); 3] = [
            ("magic", |pack| pack[0] = b'X'),
            ("object count", |pack| pack[11] ^= 1),
            ("checksum", |pack| *pack.last_mut().unwrap() ^= 1),
        ];
        for (what, damage) in damages {
            let dir = packed_repository("repack.useDeltaBaseOffset=true");
            edit(&pack_files(dir.path(), "pack")[0], damage);
            let packs = Packs::open(&dir.path().join(".git/objects"));
            assert!(
                packs.packs.is_empty(),
                "a pack with a damaged {what} was read"
            );
        }
    }

    #[test]
    fn a_fifo_where_the_pack_should_be_is_skipped_without_blocking() {
        let dir = packed_repository("repack.useDeltaBaseOffset=true");
        let pack = &pack_files(dir.path(), "pack")[0];
        std::fs::remove_file(pack).unwrap();
        let fifo = std::ffi::CString::new(pack.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(Packs::open(&dir.path().join(".git/objects"))
            .packs
            .is_empty());
    }

    #[test]
    fn an_object_two_packs_list_or_a_multi_pack_index_decides_is_left_to_libgit2() {
        let dir = packed_repository("repack.useDeltaBaseOffset=true");
        let id = any_object(dir.path());
        std::fs::write(dir.path().join("other.txt"), "more").unwrap();
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-q", "-m", "more"]);
        // Without -d the first pack stays: every old object is in both.
        git(dir.path(), &["repack", "-a", "-q"]);
        assert_eq!(pack_files(dir.path(), "pack").len(), 2);
        let objects_dir = dir.path().join(".git/objects");
        assert_eq!(Packs::open(&objects_dir).size(id), PackedSize::Unknown);

        let dir = packed_repository("repack.useDeltaBaseOffset=true");
        let id = any_object(dir.path());
        git(dir.path(), &["multi-pack-index", "write"]);
        let packs = Packs::open(&dir.path().join(".git/objects"));
        assert_eq!(packs.size(id), PackedSize::Unknown);
    }

    /// Writes into `objects` a pack of one entry, `entry`, for the object 4242…42, and an
    /// index that says the entry is at `offset` (where it is: 12).
    fn write_one_entry_pack(objects: &Path, entry: &[u8], offset: u32) {
        let id = [0x42u8; 20];
        let mut pack = b"PACK\0\0\0\x02\0\0\0\x01".to_vec();
        pack.extend_from_slice(entry);
        let checksum = [0x17u8; 20];
        pack.extend_from_slice(&checksum);
        let mut index = INDEX_MAGIC.to_vec();
        for n in 0..256 {
            let count: u32 = if n < usize::from(id[0]) { 0 } else { 1 };
            index.extend_from_slice(&count.to_be_bytes());
        }
        index.extend_from_slice(&id);
        index.extend_from_slice(&[0; 4]);
        index.extend_from_slice(&offset.to_be_bytes());
        index.extend_from_slice(&checksum);
        index.extend_from_slice(&[0; 20]);
        let pack_dir = objects.join("pack");
        std::fs::create_dir_all(&pack_dir).unwrap();
        std::fs::write(pack_dir.join("pack-1.pack"), pack).unwrap();
        std::fs::write(pack_dir.join("pack-1.idx"), index).unwrap();
    }

    fn one_entry_pack_at(entry: &[u8], offset: u32) -> (tempfile::TempDir, Packs) {
        let dir = tempfile::tempdir().unwrap();
        write_one_entry_pack(dir.path(), entry, offset);
        let packs = Packs::open(dir.path());
        assert_eq!(packs.packs.len(), 1);
        (dir, packs)
    }

    /// A blob its pack stores as no kind of object is a corrupt store, named by its path:
    /// never handed to libgit2's bindings, which panic on an unknown kind.
    #[test]
    fn a_blob_of_no_kind_is_read_as_a_corrupt_store_naming_its_path() {
        use crate::find::loose::Objects;
        use crate::find::objects::{Blob, Store};
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let objects_dir = dir.path().join(".git/objects");
        write_one_entry_pack(&objects_dir, &[0x55, 0, 0, 0, 0, 0], 12);
        let (odb, objects) = (repo.odb().unwrap(), Objects::new(objects_dir));
        let blob = Blob {
            path: "k8s/secret.yaml".to_owned(),
            id: Oid::from_bytes(&[0x42; 20]).unwrap(),
            mode: 0o100644,
            staged_size: None,
        };
        let Err(error) = Store::new(&odb, &objects, None).read(&blob) else {
            panic!("a blob of no kind was read");
        };
        assert!(
            error.to_string().starts_with("k8s/secret.yaml: "),
            "{error}"
        );
        assert!(error.to_string().contains("no kind of object"), "{error}");
    }

    fn one_entry_pack(entry: &[u8]) -> (tempfile::TempDir, Packs) {
        one_entry_pack_at(entry, 12)
    }

    #[test]
    fn an_offset_in_the_pack_header_or_checksum_is_no_entry() {
        let id = Oid::from_bytes(&[0x42; 20]).unwrap();
        let blob = [0x35, b'h', b'e', b'l', b'l', b'o'];
        let checksum_at = 12 + blob.len() as u32;
        for offset in [0, 11, checksum_at, checksum_at + 19, u32::MAX >> 1] {
            let (_dir, packs) = one_entry_pack_at(&blob, offset);
            assert_eq!(packs.size(id), PackedSize::Unknown, "offset {offset}");
        }
    }

    /// A zlib stream holding a delta header: base size 5, result size `result`.
    fn delta(result: u8) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), Default::default());
        encoder.write_all(&[5, result, 0x90, 0x05]).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn entries_git_refuses_get_no_size_and_entries_of_no_kind_are_corrupt() {
        let id = Oid::from_bytes(&[0x42; 20]).unwrap();
        let size_of = |entry: &[u8]| one_entry_pack(entry).1.size(id);
        assert_eq!(
            size_of(&[0x35, b'h', b'e', b'l', b'l', b'o']),
            PackedSize::Size(5)
        );
        assert_eq!(size_of(&[0x55, 0, 0, 0, 0, 0]), PackedSize::NoKind);
        assert_eq!(size_of(&[0x05, 0, 0, 0, 0, 0]), PackedSize::NoKind);
        // A size with a byte past 57 bits of shift: "bad object header" to git.
        let long = [0xb5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(size_of(&long), PackedSize::Unknown);
        // An offset delta whose base would start at or before the pack's header.
        for distance in [0u8, 12, 13] {
            let entry = [&[0x64, distance][..], &delta(9)].concat();
            assert_eq!(size_of(&entry), PackedSize::Unknown, "distance {distance}");
        }
        // A delta by base id whose base is not in the pack; one whose base is (itself).
        let entry = [&[0x74][..], &[0x43; 20], &delta(9)].concat();
        assert_eq!(size_of(&entry), PackedSize::Unknown);
        let entry = [&[0x74][..], &[0x42; 20], &delta(9)].concat();
        assert_eq!(size_of(&entry), PackedSize::Size(9));
        // A delta to nothing, and one whose stream ends before its sizes.
        let entry = [&[0x74][..], &[0x42; 20], &delta(0)].concat();
        assert_eq!(size_of(&entry), PackedSize::Unknown);
        let entry = [&[0x74][..], &[0x42; 20], &delta(9)[..2]].concat();
        assert_eq!(size_of(&entry), PackedSize::Unknown);
    }

    #[test]
    fn offset_deltas_are_decoded_as_git_encodes_them() {
        assert_eq!(base_distance(&[0x05, 0xaa]), Some((5, &[0xaa][..])));
        // Each byte but the last adds one before the shift.
        assert_eq!(base_distance(&[0x80, 0x00]), Some((128, &[][..])));
        assert_eq!(
            base_distance(&[0x81, 0x7f]),
            Some((((1 + 1) << 7) | 0x7f, &[][..]))
        );
        assert_eq!(base_distance(&[0x80]), None);
        assert_eq!(base_distance(&[0xff; 12]), None);
    }
}
