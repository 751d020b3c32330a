//! The trees of a history, each distinct one read once to list the distinct blobs the
//! scanners must judge and to record its shape (`shapes`); once the blobs are judged, the
//! shapes give each tree the set of tokens its files hold, and only the trees that hold a
//! token are read again, to keep the entries (names) that lead to one, so the paths a token
//! stood at are found without walking any tree again.
//!
//! Which scanner reads a blob depends on its file name (and on whether it sits in a
//! `templates` directory), so a blob is judged once per distinct name it is met under, and a
//! tree once per "is it a `templates` directory".

use crate::error::Error;
use crate::find::history::sets::{SetId, Sets, EMPTY};
use crate::find::history::shapes::{Shapes, BLOB};
use crate::find::ids::{oid, raw, IdHasher, IdMap, Ids, Raw};
use crate::find::loose;
use crate::find::objects::{is_scanned, next_entry, Blob, EntryRef, Object, Store};
use git2::{ObjectType, Oid};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

/// A tree as the scanners see it: its id, and whether it is named `templates`.
pub type TreeKey = (Raw, bool);
/// A blob as the scanners see it: its id, and the name (and directory kind) it is met under.
pub type BlobKey = (Raw, u64);

const DIRECTORY: u32 = 0o040000;

pub fn blob_key(id: Raw, name: &[u8], in_templates: bool) -> BlobKey {
    let mut hasher: IdHasher = Ids.build_hasher();
    hasher.write(name);
    hasher.write_u8(u8::from(in_templates));
    (id, hasher.finish())
}

/// The distinct blobs under the roots read, numbered by their place here (the blobs
/// themselves go to be judged as they are met).
#[derive(Default)]
pub struct Distinct {
    pub keys: Vec<BlobKey>,
}

/// What reading every tree once found: the distinct blobs, and each distinct tree's number
/// and shape.
#[derive(Default)]
pub struct Walked {
    pub distinct: Distinct,
    pub shapes: Shapes,
    pub trees: IdMap<TreeKey, u32>,
}

/// A tree being read: where it was met, how far it got, and the children numbered so far.
struct Frame<'a> {
    key: TreeKey,
    slot: u32,
    prefix: String,
    object: Object<'a>,
    offset: usize,
    children: Vec<u32>,
    /// Where each child's entry sits in the tree's bytes, to be the next version's
    /// [`Previous`].
    spans: Vec<(u32, u32)>,
    /// The tree read last at the same path, and how far this one has been matched to it.
    previous: Previous,
    cursor: usize,
}

/// The last tree read at a path: its bytes, and the child each of its entries gave (a
/// blob or subtree entry, skipping the ones not read).
///
/// A new version of a directory differs from the one before in an entry or two, so
/// matching its entries to the previous version's, in the order git sorts them, finds
/// most children without hashing their ids or looking them up.
#[derive(Default)]
struct Previous {
    bytes: Box<[u8]>,
    entries: Vec<(u32, u32, u32)>,
}

impl Previous {
    /// The child that the entry `bytes` (mode, name, id) gave in the previous version, if
    /// that held the very same entry; `cursor` walks forward through its entries.
    fn child_of(&self, cursor: &mut usize, bytes: &[u8], name: &[u8], mode: u32) -> Option<u32> {
        while let Some(&(start, end, child)) = self.entries.get(*cursor) {
            let old = &self.bytes[start as usize..end as usize];
            if old == bytes {
                *cursor += 1;
                return Some(child);
            }
            let (old_entry, _) = next_entry(old)?;
            match git_order(old_entry.name, old_entry.mode, name, mode) {
                // Gone from the new version (or changed, below): past it for good.
                Ordering::Less => *cursor += 1,
                Ordering::Equal => {
                    *cursor += 1;
                    return None;
                }
                // New in this version.
                Ordering::Greater => return None,
            }
        }
        None
    }
}

/// The order of entries in a git tree: by name, a directory's name read with a `/` after
/// it. A tree out of this order (a damaged one) only loses the shortcut, never a child.
fn git_order(a: &[u8], a_mode: u32, b: &[u8], b_mode: u32) -> Ordering {
    let tail = |mode: u32| if mode == DIRECTORY { Some(&b'/') } else { None };
    let a = a.iter().chain(tail(a_mode));
    let b = b.iter().chain(tail(b_mode));
    a.cmp(b)
}

/// What the next entry of a tree being read asks for.
enum Step {
    Child(u32),
    Descend(TreeKey, String),
    Skip,
    Done,
}

/// Reads every distinct tree under `roots` once, subtrees first, listing the distinct blobs
/// (each handed to `found`, at the path it was first met at) and recording each tree's
/// shape.
pub fn read(store: &Store, roots: &[Oid], found: &mut dyn FnMut(Blob)) -> Result<Walked, Error> {
    let mut walked = Walked::default();
    let mut blob_numbers: IdMap<BlobKey, u32> = IdMap::default();
    let mut slots: HashMap<String, u32> = HashMap::new();
    let mut previous: Vec<Previous> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    for root in roots {
        let root = (raw(*root), false);
        if walked.trees.contains_key(&root) {
            continue;
        }
        let slot = slot_of(&mut slots, &mut walked.shapes, "");
        stack.push(open(store, root, slot, String::new(), &mut previous)?);
        while let Some(top) = stack.last_mut() {
            match step(top, &mut walked, &mut blob_numbers, found)? {
                Step::Child(number) => top.children.push(number),
                Step::Skip => {}
                Step::Descend(key, prefix) => {
                    let slot = slot_of(&mut slots, &mut walked.shapes, &prefix);
                    stack.push(open(store, key, slot, prefix, &mut previous)?);
                }
                Step::Done => {
                    let done = stack.pop().expect("a frame is on the stack");
                    let number = walked.shapes.len() as u32;
                    previous[done.slot as usize] = Previous {
                        bytes: done.object.bytes().into(),
                        entries: (done.spans.iter().zip(&done.children))
                            .map(|((start, end), child)| (*start, *end, *child))
                            .collect(),
                    };
                    walked.shapes.record(done.slot, done.children);
                    walked.trees.insert(done.key, number);
                    if let Some(parent) = stack.last_mut() {
                        parent.children.push(number);
                    }
                }
            }
        }
    }
    walked.shapes.finish();
    Ok(walked)
}

fn slot_of(slots: &mut HashMap<String, u32>, shapes: &mut Shapes, path: &str) -> u32 {
    if let Some(slot) = slots.get(path) {
        return *slot;
    }
    let slot = shapes.new_slot();
    slots.insert(path.to_owned(), slot);
    slot
}

fn open<'a>(
    store: &Store<'a, '_>,
    key: TreeKey,
    slot: u32,
    prefix: String,
    previous: &mut Vec<Previous>,
) -> Result<Frame<'a>, Error> {
    if previous.len() <= slot as usize {
        previous.resize_with(slot as usize + 1, Previous::default);
    }
    Ok(Frame {
        key,
        slot,
        prefix,
        object: store.object(oid(&key.0), ObjectType::Tree)?,
        offset: 0,
        children: Vec::new(),
        spans: Vec::new(),
        previous: std::mem::take(&mut previous[slot as usize]),
        cursor: 0,
    })
}

/// Reads the next entry of the tree `frame`: a child already numbered (a blob is numbered
/// the first time it is met), a subtree to read first, or the end.
fn step(
    frame: &mut Frame,
    walked: &mut Walked,
    blob_numbers: &mut IdMap<BlobKey, u32>,
    found: &mut dyn FnMut(Blob),
) -> Result<Step, Error> {
    let bytes = &frame.object.bytes()[frame.offset..];
    if bytes.is_empty() {
        return Ok(Step::Done);
    }
    let (entry, rest) = next_entry(bytes)
        .ok_or_else(|| loose::corrupt(oid(&frame.key.0), "is not a valid tree"))?;
    let start = frame.offset;
    frame.offset = frame.object.bytes().len() - rest.len();
    let whole = &bytes[..frame.offset - start];
    let step = if let Some(child) =
        (frame.previous).child_of(&mut frame.cursor, whole, entry.name, entry.mode)
    {
        Step::Child(child)
    } else {
        new_entry(&entry, frame, walked, blob_numbers, found)
    };
    if matches!(step, Step::Child(_) | Step::Descend(..)) {
        frame.spans.push((start as u32, frame.offset as u32));
    }
    Ok(step)
}

/// What an entry the previous version of its tree did not hold gives.
fn new_entry(
    entry: &EntryRef,
    frame: &Frame,
    walked: &mut Walked,
    blob_numbers: &mut IdMap<BlobKey, u32>,
    found: &mut dyn FnMut(Blob),
) -> Step {
    let (distinct, trees) = (&mut walked.distinct, &walked.trees);
    if entry.mode == DIRECTORY {
        let key = (*entry.raw, entry.name == b"templates");
        if let Some(number) = trees.get(&key) {
            return Step::Child(*number);
        }
        let name = String::from_utf8_lossy(entry.name);
        return Step::Descend(key, format!("{}{name}/", frame.prefix));
    }
    if !is_scanned(entry.mode) {
        return Step::Skip;
    }
    let key = blob_key(*entry.raw, entry.name, frame.key.1);
    let next = distinct.keys.len() as u32;
    let number = *blob_numbers.entry(key).or_insert_with(|| {
        found(Blob {
            path: format!("{}{}", frame.prefix, String::from_utf8_lossy(entry.name)),
            id: entry.id(),
            mode: entry.mode,
            staged_size: None,
        });
        distinct.keys.push(key);
        next
    });
    Step::Child(number | BLOB)
}

/// An entry of a token-holding tree that leads to a token.
struct Holding {
    name: Box<str>,
    /// The subtree it is, or none for a file.
    tree: Option<TreeKey>,
    set: SetId,
}

/// The set of tokens each tree holds, and the entries that lead to them.
pub struct TreeSets<'s> {
    blob_sets: IdMap<BlobKey, SetId>,
    memo: IdMap<TreeKey, SetId>,
    holdings: IdMap<TreeKey, Vec<Holding>>,
    sets: &'s mut Sets,
}

impl<'s> TreeSets<'s> {
    /// Sums up the set of every tree `trees` read from its shape; `blob_sets` gives each
    /// distinct blob's set by its number.
    pub fn sum(trees: Walked, blob_sets: &[SetId], sets: &'s mut Sets) -> Self {
        let mut tree_sets: Vec<SetId> = Vec::with_capacity(trees.shapes.len());
        trees.shapes.replay(|_, children| {
            let mut set = EMPTY;
            for child in children {
                let held = if child & BLOB != 0 {
                    blob_sets[(child & !BLOB) as usize]
                } else {
                    tree_sets[*child as usize]
                };
                if held != EMPTY {
                    set = sets.union(set, held);
                }
            }
            tree_sets.push(set);
        });
        let keys = &trees.distinct.keys;
        TreeSets {
            blob_sets: keys
                .iter()
                .zip(blob_sets)
                .filter(|(_, set)| **set != EMPTY)
                .map(|(key, set)| (*key, *set))
                .collect(),
            // Each tree's number gives way to its set, in place.
            memo: {
                let mut memo = trees.trees;
                memo.values_mut().for_each(|v| *v = tree_sets[*v as usize]);
                memo
            },
            holdings: IdMap::default(),
            sets,
        }
    }

    pub fn sets(&mut self) -> &mut Sets {
        self.sets
    }

    pub fn blob_set(&self, key: &BlobKey) -> SetId {
        self.blob_sets.get(key).copied().unwrap_or(EMPTY)
    }

    /// The tokens the tree `root` (one of the roots read) holds.
    pub fn of(&self, root: Oid) -> Result<SetId, Error> {
        // Every root was read, so a miss is rekey's own mistake: said, never read as a
        // tree that holds nothing.
        self.memo.get(&(raw(root), false)).copied().ok_or_else(|| {
            Error::new(format!(
                "the tree {root} was not read with the history's trees"
            ))
        })
    }

    /// Reads every tree that holds a token again, to keep the entries that lead to one.
    pub fn read_holdings(&mut self, store: &Store) -> Result<(), Error> {
        let holding: Vec<TreeKey> = (self.memo.iter())
            .filter(|(_, set)| **set != EMPTY)
            .map(|(key, _)| *key)
            .collect();
        for key in holding {
            let object = store.object(oid(&key.0), ObjectType::Tree)?;
            let mut bytes = object.bytes();
            let mut found = Vec::new();
            while !bytes.is_empty() {
                let (entry, rest) = next_entry(bytes)
                    .ok_or_else(|| loose::corrupt(oid(&key.0), "is not a valid tree"))?;
                bytes = rest;
                let (tree, set) = if entry.mode == DIRECTORY {
                    let child = (*entry.raw, entry.name == b"templates");
                    (Some(child), self.memo.get(&child).copied().unwrap_or(EMPTY))
                } else if is_scanned(entry.mode) {
                    (
                        None,
                        self.blob_set(&blob_key(*entry.raw, entry.name, key.1)),
                    )
                } else {
                    continue;
                };
                if set != EMPTY {
                    let name = String::from_utf8_lossy(entry.name).into();
                    found.push(Holding { name, tree, set });
                }
            }
            self.holdings.insert(key, found);
        }
        Ok(())
    }

    /// Calls `found` with every path under the tree `root` (already summed up) that holds
    /// a token, and the tokens it holds; `visited` makes each (tree, path) pair count once
    /// across calls.
    pub fn paths(
        &self,
        root: TreeKey,
        visited: &mut HashSet<(TreeKey, String)>,
        found: &mut dyn FnMut(&str, SetId),
    ) {
        let mut stack = vec![(root, String::new())];
        while let Some((key, prefix)) = stack.pop() {
            if !visited.insert((key, prefix.clone())) {
                continue;
            }
            for holding in self.holdings.get(&key).into_iter().flatten() {
                let path = format!("{prefix}{}", holding.name);
                match holding.tree {
                    Some(tree) => stack.push((tree, format!("{path}/"))),
                    None => found(&path, holding.set),
                }
            }
        }
    }

    /// The first path, in name order, at which the tree `root` holds `token`.
    pub fn first_path(&self, root: TreeKey, token: u32) -> Option<String> {
        let mut best: Option<String> = None;
        let mut stack = vec![(root, String::new())];
        while let Some((key, prefix)) = stack.pop() {
            for holding in self.holdings.get(&key).into_iter().flatten() {
                if !self.sets_contains(holding.set, token) {
                    continue;
                }
                let path = format!("{prefix}{}", holding.name);
                match holding.tree {
                    Some(tree) => stack.push((tree, format!("{path}/"))),
                    None if best.as_ref().is_none_or(|b| path < *b) => best = Some(path),
                    None => {}
                }
            }
        }
        best
    }

    fn sets_contains(&self, set: SetId, token: u32) -> bool {
        self.sets.contains(set, token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(mode: &str, name: &str, id: u8) -> Vec<u8> {
        let mut bytes = format!("{mode} {name}\0").into_bytes();
        bytes.extend([id; 20]);
        bytes
    }

    /// A previous version whose entries gave the children 10, 11, 12, ...
    fn previous(entries: &[Vec<u8>]) -> Previous {
        let mut previous = Previous::default();
        let mut bytes = Vec::new();
        for (n, entry) in entries.iter().enumerate() {
            let start = bytes.len() as u32;
            bytes.extend(entry);
            previous
                .entries
                .push((start, bytes.len() as u32, 10 + n as u32));
        }
        previous.bytes = bytes.into();
        previous
    }

    #[test]
    fn only_an_entry_the_previous_version_held_as_it_is_gives_its_child() {
        let old = previous(&[
            entry("100644", "a", 1),
            entry("40000", "b", 2),
            entry("100644", "c", 3),
            entry("100644", "d", 4),
        ]);
        // a unchanged, b a new subtree, bb added, c removed, d unchanged, e added.
        let new = [
            (entry("100644", "a", 1), Some(10)),
            (entry("40000", "b", 9), None),
            (entry("100644", "bb", 5), None),
            (entry("100644", "d", 4), Some(13)),
            (entry("100644", "e", 6), None),
        ];
        let mut cursor = 0;
        for (bytes, child) in new {
            let (parsed, _) = next_entry(&bytes).unwrap();
            let found = old.child_of(&mut cursor, &bytes, parsed.name, parsed.mode);
            assert_eq!(found, child, "{}", String::from_utf8_lossy(parsed.name));
        }
        // A mode change is a different entry, even under the same name and id.
        let mut cursor = 0;
        let bytes = entry("100755", "a", 1);
        assert_eq!(old.child_of(&mut cursor, &bytes, b"a", 0o100755), None);
    }

    #[test]
    fn a_directory_sorts_as_its_name_with_a_slash() {
        // As git sorts them: `b.txt` before the directory `b` ('.' < '/'), the file `b`
        // before `b.txt`.
        assert_eq!(
            git_order(b"b.txt", 0o100644, b"b", DIRECTORY),
            Ordering::Less
        );
        assert_eq!(
            git_order(b"b", 0o100644, b"b.txt", 0o100644),
            Ordering::Less
        );
        assert_eq!(git_order(b"b", DIRECTORY, b"b0", 0o100644), Ordering::Less);
        assert_eq!(git_order(b"b", DIRECTORY, b"b", DIRECTORY), Ordering::Equal);
    }
}
