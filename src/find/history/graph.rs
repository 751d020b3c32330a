//! The commit graph of a history: every commit reachable from the walk's starting points,
//! read by rekey itself (each checked against its id, see `find::objects`), in an order
//! where every commit comes after its parents. A shallow clone's cut commits are walked
//! without their parents (the answer covers only what is there); commits the walk is told
//! to leave out (`--since`) are not walked at all.

use crate::error::Error;
use crate::find::ids::IdMap;
use crate::find::loose;
use crate::find::objects::{tree_line, Store};
use git2::{ObjectType, Oid};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many commits the running walk has read, for the progress line.
pub static COMMITS_WALKED: AtomicUsize = AtomicUsize::new(0);

/// One commit: its tree, its parents that were walked (by index), and when it was made.
pub struct Commit {
    pub id: Oid,
    pub tree: Oid,
    pub parents: Vec<u32>,
    /// The committer's time, in seconds since the epoch.
    pub time: i64,
}

/// Commits in an order where parents come first, and where each is by id.
pub struct Graph {
    pub commits: Vec<Commit>,
    index: IdMap<Oid, u32>,
}

impl Graph {
    pub fn index_of(&self, id: Oid) -> Option<u32> {
        self.index.get(&id).copied()
    }

    pub fn commit(&self, index: u32) -> &Commit {
        &self.commits[index as usize]
    }
}

/// A commit as its object says, before the walk has placed its parents.
struct Parsed {
    tree: Oid,
    parents: Vec<Oid>,
    time: i64,
}

/// Walks every commit reachable from `starts`: `shallow` commits' parents are not in this
/// clone, `left_out` commits (and so their ancestors) are not walked.
pub fn walk(
    store: &Store,
    starts: &[Oid],
    shallow: &HashSet<Oid>,
    left_out: &HashSet<Oid>,
) -> Result<Graph, Error> {
    let mut graph = Graph {
        commits: Vec::new(),
        index: IdMap::default(),
    };
    let mut parsed: IdMap<Oid, Parsed> = IdMap::default();
    // Depth first with a stack of its own (a history is far deeper than a thread's stack):
    // a commit is placed once every parent it has is.
    let mut stack: Vec<(Oid, bool)> = starts.iter().rev().map(|id| (*id, false)).collect();
    while let Some((id, parents_placed)) = stack.pop() {
        if graph.index.contains_key(&id) || left_out.contains(&id) {
            continue;
        }
        if parents_placed {
            let Some(commit) = parsed.remove(&id) else {
                continue;
            };
            place(&mut graph, id, commit);
            continue;
        }
        if parsed.contains_key(&id) {
            continue;
        }
        let mut commit = parse(store, id)?;
        COMMITS_WALKED.fetch_add(1, Ordering::Relaxed);
        if shallow.contains(&id) {
            commit.parents.clear();
        }
        stack.push((id, true));
        for parent in commit.parents.iter().rev() {
            if !graph.index.contains_key(parent) && !left_out.contains(parent) {
                stack.push((*parent, false));
            }
        }
        parsed.insert(id, commit);
    }
    Ok(graph)
}

fn place(graph: &mut Graph, id: Oid, commit: Parsed) {
    let parents = commit
        .parents
        .iter()
        .filter_map(|parent| graph.index.get(parent).copied())
        .collect();
    let index = graph.commits.len() as u32;
    graph.commits.push(Commit {
        id,
        tree: commit.tree,
        parents,
        time: commit.time,
    });
    graph.index.insert(id, index);
}

/// Every commit reachable from `start` (itself included): what `--since` leaves out.
pub fn ancestors(store: &Store, start: Oid, shallow: &HashSet<Oid>) -> Result<HashSet<Oid>, Error> {
    let mut seen = HashSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let commit = parse(store, id)?;
        if !shallow.contains(&id) {
            stack.extend(commit.parents.into_iter().filter(|p| !seen.contains(p)));
        }
    }
    Ok(seen)
}

/// Reads the commit `id`: its tree, parents and committer time.
fn parse(store: &Store, id: Oid) -> Result<Parsed, Error> {
    let object = store.object(id, ObjectType::Commit)?;
    let bytes = object.bytes();
    let tree =
        tree_line(bytes).ok_or_else(|| loose::corrupt(id, "is a commit that names no tree"))?;
    let mut parents = Vec::new();
    let mut time = 0;
    // The header ends at the first empty line; the message after it is not read.
    for line in bytes
        .split(|b| *b == b'\n')
        .take_while(|line| !line.is_empty())
    {
        if let Some(hex) = line.strip_prefix(b"parent ") {
            let parent = std::str::from_utf8(hex)
                .ok()
                .and_then(|hex| Oid::from_str(hex).ok())
                .ok_or_else(|| loose::corrupt(id, "is a commit with a damaged parent line"))?;
            parents.push(parent);
        } else if let Some(who) = line.strip_prefix(b"committer ") {
            time = committer_time(who).unwrap_or(0);
        }
    }
    Ok(Parsed {
        tree,
        parents,
        time,
    })
}

/// The time on a `committer Name <email> 1700000000 +0100` line.
fn committer_time(who: &[u8]) -> Option<i64> {
    let after_email = &who[memchr::memrchr(b'>', who)? + 1..];
    let text = std::str::from_utf8(after_email).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committer_time_is_read_past_the_email() {
        assert_eq!(
            committer_time(b"A U Thor <a@example.com> 1700000000 +0100"),
            Some(1_700_000_000)
        );
        assert_eq!(committer_time(b"odd <x> y> 42 -0500"), Some(42));
        assert_eq!(committer_time(b"no email 42"), None);
    }
}
