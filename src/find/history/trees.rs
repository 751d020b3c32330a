//! The trees of a history, read twice and each distinct one only once per pass: first to
//! list the distinct blobs the scanners must judge, then, once they are judged, to give each
//! tree the set of tokens its files hold. A tree (and so a commit) that holds a token keeps
//! the entries that lead to it, so the paths a token stood at are found without walking
//! any tree again.
//!
//! Which scanner reads a blob depends on its file name (and on whether it sits in a
//! `templates` directory), so a blob is judged once per distinct name it is met under, and a
//! tree once per "is it a `templates` directory".

use crate::error::Error;
use crate::find::history::sets::{SetId, Sets, EMPTY};
use crate::find::loose;
use crate::find::objects::{is_scanned, parse_tree, Blob, Entry, Store};
use git2::{ObjectType, Oid};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

/// A tree as the scanners see it: its id, and whether it is named `templates`.
pub type TreeKey = (Oid, bool);
/// A blob as the scanners see it: its id, and the name (and directory kind) it is met under.
pub type BlobKey = (Oid, u64);

const DIRECTORY: u32 = 0o040000;

pub fn blob_key(id: Oid, name: &str, in_templates: bool) -> BlobKey {
    let mut hasher = std::hash::DefaultHasher::new();
    (name, in_templates).hash(&mut hasher);
    (id, hasher.finish())
}

fn entries(store: &Store, id: Oid) -> Result<Vec<Entry>, Error> {
    let object = store.object(id, ObjectType::Tree)?;
    parse_tree(object.bytes()).ok_or_else(|| loose::corrupt(id, "is not a valid tree"))
}

/// The distinct blobs under `roots`, each at the first path it was met at.
pub struct Distinct {
    pub blobs: Vec<Blob>,
    pub keys: Vec<BlobKey>,
}

/// Lists every distinct blob under the trees `roots`, each distinct tree read once.
pub fn distinct_blobs(store: &Store, roots: &[Oid]) -> Result<Distinct, Error> {
    let mut distinct = Distinct {
        blobs: Vec::new(),
        keys: Vec::new(),
    };
    let mut seen_trees: HashSet<TreeKey> = HashSet::new();
    let mut seen_blobs: HashSet<BlobKey> = HashSet::new();
    let mut stack: Vec<(TreeKey, String)> = Vec::new();
    for root in roots {
        if seen_trees.insert((*root, false)) {
            stack.push(((*root, false), String::new()));
        }
        while let Some(((id, in_templates), prefix)) = stack.pop() {
            for entry in entries(store, id)? {
                if entry.mode == DIRECTORY {
                    let key = (entry.id, entry.name == "templates");
                    if seen_trees.insert(key) {
                        stack.push((key, format!("{prefix}{}/", entry.name)));
                    }
                } else if is_scanned(entry.mode) {
                    let key = blob_key(entry.id, &entry.name, in_templates);
                    if seen_blobs.insert(key) {
                        distinct.keys.push(key);
                        distinct.blobs.push(Blob {
                            path: format!("{prefix}{}", entry.name),
                            id: entry.id,
                            mode: entry.mode,
                            staged_size: None,
                        });
                    }
                }
            }
        }
    }
    Ok(distinct)
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
    blob_sets: HashMap<BlobKey, SetId>,
    memo: HashMap<TreeKey, SetId>,
    holdings: HashMap<TreeKey, Vec<Holding>>,
    sets: &'s mut Sets,
}

/// A tree being summed up: its entries, how far it got, and what it found so far.
struct Frame {
    key: TreeKey,
    entries: std::vec::IntoIter<Entry>,
    set: SetId,
    holdings: Vec<Holding>,
    /// The subtree entry waiting on its own frame.
    waiting: Option<Entry>,
}

impl<'s> TreeSets<'s> {
    /// `blob_sets`: what each judged blob holds (blobs holding nothing may be left out).
    pub fn new(blob_sets: HashMap<BlobKey, SetId>, sets: &'s mut Sets) -> Self {
        TreeSets {
            blob_sets,
            memo: HashMap::new(),
            holdings: HashMap::new(),
            sets,
        }
    }

    pub fn sets(&mut self) -> &mut Sets {
        self.sets
    }

    pub fn blob_set(&self, key: &BlobKey) -> SetId {
        self.blob_sets.get(key).copied().unwrap_or(EMPTY)
    }

    /// The tokens the tree `root` holds, each distinct subtree read once for all calls.
    pub fn of(&mut self, store: &Store, root: Oid) -> Result<SetId, Error> {
        let root = (root, false);
        if let Some(set) = self.memo.get(&root) {
            return Ok(*set);
        }
        let mut stack = vec![self.frame(store, root)?];
        loop {
            let frame = stack.last_mut().expect("the root frame ends the loop");
            if let Some(entry) = frame.waiting.take() {
                let key = (entry.id, entry.name == "templates");
                let set = self.memo[&key];
                self.add(frame, entry.name, Some(key), set);
            }
            let Some(entry) = frame.entries.next() else {
                let done = stack.pop().expect("a frame is on the stack");
                if done.set != EMPTY {
                    self.holdings.insert(done.key, done.holdings);
                }
                self.memo.insert(done.key, done.set);
                if stack.is_empty() {
                    return Ok(done.set);
                }
                continue;
            };
            let in_templates = frame.key.1;
            if entry.mode == DIRECTORY {
                let key = (entry.id, entry.name == "templates");
                match self.memo.get(&key) {
                    Some(set) => {
                        let set = *set;
                        self.add(frame, entry.name, Some(key), set);
                    }
                    None => {
                        frame.waiting = Some(entry);
                        let child = self.frame(store, key)?;
                        stack.push(child);
                    }
                }
            } else if is_scanned(entry.mode) {
                let set = self.blob_set(&blob_key(entry.id, &entry.name, in_templates));
                self.add(frame, entry.name, None, set);
            }
        }
    }

    fn frame(&self, store: &Store, key: TreeKey) -> Result<Frame, Error> {
        Ok(Frame {
            key,
            entries: entries(store, key.0)?.into_iter(),
            set: EMPTY,
            holdings: Vec::new(),
            waiting: None,
        })
    }

    fn add(&mut self, frame: &mut Frame, name: String, tree: Option<TreeKey>, set: SetId) {
        if set == EMPTY {
            return;
        }
        frame.set = self.sets.union(frame.set, set);
        frame.holdings.push(Holding {
            name: name.into_boxed_str(),
            tree,
            set,
        });
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
                    None if best.as_ref().map_or(true, |b| path < *b) => best = Some(path),
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
