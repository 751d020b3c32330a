//! A repository's history as a source: every commit reachable from its refs, and for each
//! distinct token any of them holds, where it has been (`first_seen`, `paths`), where it
//! went (`removed_in` on `HEAD`'s first-parent line) and which refs still reach it. Facts
//! about git only: what the policy makes of them is `judge::history`'s.
//!
//! The cost follows the distinct objects, not commits × files: each distinct tree is read
//! once per pass (`trees`), each distinct blob judged once (`blobs`), and commits are
//! summed up from their trees' token sets (`sets`). Memory holds the object ids seen and
//! the token sets, never a file's content past its judging.

mod blobs;
mod graph;
mod refs;
mod sets;
mod shapes;
mod trees;

pub use blobs::BLOBS_SCANNED;
pub use graph::COMMITS_WALKED;
pub use refs::Root;

use crate::error::Error;
use crate::find::git::GitRepo;
use crate::find::ids;
use crate::find::objects::Store;
use crate::model::token::Fingerprint;
use git2::Oid;
use sets::{SetId, Sets, EMPTY};
use std::collections::{BTreeSet, HashSet};
use trees::TreeSets;

/// How much of a pack libgit2 maps at a time, and at most in all.
const PACK_WINDOW: usize = 4 << 20;
const PACK_WINDOWS_MAPPED: usize = 32 << 20;

/// What a walk covers.
pub struct Options<'a> {
    /// Which refs (by full name) are walked; `HEAD` always is.
    pub refs: &'a dyn Fn(&str) -> bool,
    /// Commits reachable from this one are not walked (`--since`).
    pub since: Option<Oid>,
}

/// Where and when a token was first added.
#[derive(Clone, Debug)]
pub struct Added {
    /// None when no commit holds it: only a ref naming a tree or blob does.
    pub commit: Option<(Oid, i64)>,
    pub path: String,
}

/// One distinct token of a history, and the facts git holds about it.
#[derive(Debug)]
pub struct Token {
    pub fingerprint: Fingerprint,
    /// Whether it ever stood where a delegate token goes (at a key a scanner reads), not
    /// only where the byte sweep found a token-shaped string.
    pub at_key: bool,
    pub first_seen: Added,
    /// The commit on `HEAD`'s first-parent line after which that line no longer holds it.
    pub removed_in: Option<(Oid, i64)>,
    pub at_head: bool,
    pub paths: Vec<String>,
    /// The refs whose tip holds it.
    pub refs: Vec<String>,
    /// The refs from which a commit holding it is reachable.
    pub reachable_from: Vec<String>,
}

/// What a walk found.
pub struct History {
    pub head: Option<refs::Head>,
    pub tokens: Vec<Token>,
    pub refs_walked: usize,
    pub commits: usize,
    pub blobs: usize,
    /// Commits whose parents this (shallow) clone does not hold.
    pub shallow: Vec<Oid>,
    /// Blobs that could not be judged: the path they were met at, and why.
    pub unjudged: Vec<(String, String)>,
}

/// Sets libgit2's global memory settings for a walk.
fn tune_libgit2() {
    // rekey reads each object once per pass and keeps what it needs: libgit2's object
    // cache would only hold a history's worth of trees (up to 256 MiB by default).
    git2::opts::enable_caching(false);
    // Packs are mapped in windows, and libgit2 keeps up to 8 GiB of them mapped: a whole
    // history's packs would count in the walk's memory. Smaller windows under a limit keep
    // what is mapped to what is being read (the pages stay in the page cache either way).
    // SAFETY: libgit2's global settings; set before this walk opens any handle, while no
    // other thread reads git.
    unsafe {
        let _ = git2::opts::set_mwindow_size(PACK_WINDOW);
        let _ = git2::opts::set_mwindow_mapped_limit(PACK_WINDOWS_MAPPED);
    }
}

/// Walks the history of `repo` as `options` say.
pub fn walk(repo: &GitRepo, options: &Options) -> Result<History, Error> {
    tune_libgit2();
    let odb = repo
        .repo
        .odb()
        .map_err(|e| Error::new(format!("cannot open the object store: {}", e.message())))?;
    let store = Store::new(&odb, repo.objects(), None);
    let head = refs::head(&repo.repo, &store)?;
    let tips = refs::tips(&repo.repo, &store, options.refs)?;
    let shallow = shallow_commits(&repo.repo);
    let left_out = match options.since {
        Some(since) => graph::ancestors(&store, since, &shallow)?,
        None => HashSet::new(),
    };
    let mut starts: Vec<Oid> = head.iter().map(|head| head.commit).collect();
    starts.extend(tips.iter().filter_map(|tip| match tip.root {
        Root::Commit(id) => Some(id),
        _ => None,
    }));
    let graph = graph::walk(&store, &starts, &shallow, &left_out)?;
    let mut roots: Vec<Oid> = graph.commits.iter().map(|commit| commit.tree).collect();
    roots.extend(tips.iter().filter_map(|tip| match tip.root {
        Root::Tree(id) => Some(id),
        _ => None,
    }));
    let (walked, held) = blobs::judge_while(repo.repo.path(), repo.objects(), |found| {
        let mut walked = trees::read(&store, &roots, found)?;
        // A ref naming a blob: judged as a file named after the ref.
        for tip in &tips {
            if let Root::Blob(id) = tip.root {
                found(crate::find::objects::Blob {
                    path: tip.name.clone(),
                    id,
                    mode: 0o100644,
                    staged_size: None,
                });
                walked
                    .distinct
                    .keys
                    .push(trees::blob_key(ids::raw(id), b"", false));
            }
        }
        Ok(walked)
    })?;
    let (mut sets, at_key, blob_sets, unjudged) = number_tokens(held);
    let blob_count = walked.distinct.keys.len();
    let mut tree_sets = TreeSets::sum(walked, &blob_sets, &mut sets);
    drop(blob_sets);
    tree_sets.read_holdings(&store)?;
    let commit_sets: Vec<SetId> = graph
        .commits
        .iter()
        .map(|commit| tree_sets.of(commit.tree))
        .collect::<Result<_, Error>>()?;
    let facts = Facts::new(&graph, &commit_sets, &mut tree_sets);
    let tokens = facts.tokens(
        &graph,
        &commit_sets,
        &tips,
        head.as_ref(),
        &mut tree_sets,
        &at_key,
    )?;
    Ok(History {
        head,
        tokens,
        refs_walked: tips.len(),
        commits: graph.commits.len(),
        blobs: blob_count,
        shallow: graph
            .commits
            .iter()
            .filter(|commit| shallow.contains(&commit.id))
            .map(|commit| commit.id)
            .collect(),
        unjudged,
    })
}

/// What [`number_tokens`] makes of the judged blobs.
type Numbered = (Sets, Vec<bool>, Vec<SetId>, Vec<(String, String)>);

/// The tokens each blob holds, numbered and interned: the token table, whether each token
/// ever stood at a key, each blob's set (by its number), and the blobs not judged.
fn number_tokens(judged: blobs::Judged) -> Numbered {
    let mut sets = Sets::default();
    let mut at_key: Vec<bool> = Vec::new();
    let mut blob_sets = vec![EMPTY; judged.count];
    let mut unjudged = Vec::new();
    for (at, held) in judged.held {
        unjudged.extend(held.unjudged);
        let mut numbers = Vec::with_capacity(held.tokens.len());
        for (fingerprint, key_held) in &held.tokens {
            let number = sets.token(fingerprint) as usize;
            at_key.resize(sets.token_count(), false);
            at_key[number] |= key_held;
            numbers.push(number as u32);
        }
        blob_sets[at] = sets.intern(numbers);
    }
    (sets, at_key, blob_sets, unjudged)
}

/// The commits a shallow clone holds without their parents (`.git/shallow`).
fn shallow_commits(repo: &git2::Repository) -> HashSet<Oid> {
    let text = std::fs::read_to_string(repo.commondir().join("shallow")).unwrap_or_default();
    text.lines()
        .filter_map(|line| Oid::from_str(line.trim()).ok())
        .collect()
}

/// What the commit graph says of each token: where it was first added, and which commits
/// hold it or reach one that does.
struct Facts {
    /// Per token: the commit that first added it (earliest by committer time).
    first: Vec<Option<u32>>,
    /// Per commit: every token it or one of its ancestors holds.
    reached: Vec<SetId>,
}

impl Facts {
    fn new(graph: &graph::Graph, commit_sets: &[SetId], tree_sets: &mut TreeSets) -> Facts {
        let sets = tree_sets.sets();
        let mut first: Vec<Option<u32>> = vec![None; sets.token_count()];
        let mut reached: Vec<SetId> = Vec::with_capacity(graph.commits.len());
        for (index, commit) in graph.commits.iter().enumerate() {
            let own = commit_sets[index];
            let mut parents_hold = EMPTY;
            let mut parents_reach = EMPTY;
            for parent in &commit.parents {
                parents_hold = sets.union(parents_hold, commit_sets[*parent as usize]);
                parents_reach = sets.union(parents_reach, reached[*parent as usize]);
            }
            for token in sets.minus(own, parents_hold) {
                let earlier =
                    first[token as usize].is_some_and(|at| graph.commit(at).time <= commit.time);
                if !earlier {
                    first[token as usize] = Some(index as u32);
                }
            }
            reached.push(sets.union(own, parents_reach));
        }
        Facts { first, reached }
    }

    #[allow(clippy::too_many_arguments)]
    fn tokens(
        &self,
        graph: &graph::Graph,
        commit_sets: &[SetId],
        tips: &[refs::Tip],
        head: Option<&refs::Head>,
        tree_sets: &mut TreeSets,
        at_key: &[bool],
    ) -> Result<Vec<Token>, Error> {
        let count = tree_sets.sets().token_count();
        let mut refs_holding: Vec<BTreeSet<String>> = vec![BTreeSet::new(); count];
        let mut reaching: Vec<BTreeSet<String>> = vec![BTreeSet::new(); count];
        let mut loose_roots: Vec<(trees::TreeKey, &str)> = Vec::new();
        for tip in tips {
            let (holds, reach) = match tip.root {
                Root::Commit(id) => match graph.index_of(id) {
                    Some(index) => (commit_sets[index as usize], self.reached[index as usize]),
                    None => continue,
                },
                Root::Tree(id) => {
                    loose_roots.push(((ids::raw(id), false), &tip.name));
                    let set = tree_sets.of(id)?;
                    (set, set)
                }
                Root::Blob(id) => {
                    let set = tree_sets.blob_set(&trees::blob_key(ids::raw(id), b"", false));
                    (set, set)
                }
            };
            for token in tree_sets.sets().get(holds) {
                refs_holding[*token as usize].insert(tip.name.clone());
            }
            for token in tree_sets.sets().get(reach) {
                reaching[*token as usize].insert(tip.name.clone());
            }
        }
        let paths = all_paths(graph, tips, tree_sets, count);
        let (at_head, removed) = head_line(graph, commit_sets, head, tree_sets);
        let mut tokens = Vec::with_capacity(count);
        for number in 0..count {
            let token = number as u32;
            let first_seen = match self.first[number] {
                Some(index) => {
                    let commit = graph.commit(index);
                    Added {
                        commit: Some((commit.id, commit.time)),
                        path: tree_sets
                            .first_path((ids::raw(commit.tree), false), token)
                            .unwrap_or_default(),
                    }
                }
                None => Added {
                    commit: None,
                    path: loose_roots
                        .iter()
                        .find_map(|(root, _)| tree_sets.first_path(*root, token))
                        .or_else(|| reaching[number].iter().next().cloned())
                        .unwrap_or_default(),
                },
            };
            tokens.push(Token {
                fingerprint: tree_sets.sets().fingerprint(token).clone(),
                at_key: at_key[number],
                first_seen,
                removed_in: removed[number],
                at_head: at_head[number],
                paths: paths[number].iter().cloned().collect(),
                refs: refs_holding[number].iter().cloned().collect(),
                reachable_from: reaching[number].iter().cloned().collect(),
            });
        }
        Ok(tokens)
    }
}

/// Every path each token stood at, in any commit or ref-named tree.
fn all_paths(
    graph: &graph::Graph,
    tips: &[refs::Tip],
    tree_sets: &mut TreeSets,
    count: usize,
) -> Vec<BTreeSet<String>> {
    let mut paths: Vec<BTreeSet<String>> = vec![BTreeSet::new(); count];
    let mut visited = HashSet::new();
    let mut found: Vec<(String, SetId)> = Vec::new();
    let roots = graph
        .commits
        .iter()
        .map(|commit| commit.tree)
        .chain(tips.iter().filter_map(|tip| match tip.root {
            Root::Tree(id) => Some(id),
            _ => None,
        }));
    for root in roots {
        tree_sets.paths((ids::raw(root), false), &mut visited, &mut |path, set| {
            found.push((path.to_owned(), set));
        });
    }
    for tip in tips {
        if let Root::Blob(id) = tip.root {
            found.push((
                tip.name.clone(),
                tree_sets.blob_set(&trees::blob_key(ids::raw(id), b"", false)),
            ));
        }
    }
    for (path, set) in found {
        for token in tree_sets.sets().get(set) {
            paths[*token as usize].insert(path.clone());
        }
    }
    paths
}

/// Per token: whether `HEAD` holds it, and the commit on `HEAD`'s first-parent line after
/// which that line no longer does (the newest removal: a token added back and removed
/// again was removed by the second removal).
fn head_line(
    graph: &graph::Graph,
    commit_sets: &[SetId],
    head: Option<&refs::Head>,
    tree_sets: &mut TreeSets,
) -> (Vec<bool>, Vec<Option<(Oid, i64)>>) {
    let sets = tree_sets.sets();
    let count = sets.token_count();
    let mut at_head = vec![false; count];
    let mut removed = vec![None; count];
    let Some(mut at) = head.and_then(|head| graph.index_of(head.commit)) else {
        return (at_head, removed);
    };
    for token in sets.get(commit_sets[at as usize]) {
        at_head[*token as usize] = true;
    }
    while let Some(parent) = graph.commit(at).parents.first().copied() {
        let (child_set, parent_set) = (commit_sets[at as usize], commit_sets[parent as usize]);
        if child_set != parent_set {
            let commit = graph.commit(at);
            for token in sets.minus(parent_set, child_set) {
                let slot = &mut removed[token as usize];
                if slot.is_none() && !at_head[token as usize] {
                    *slot = Some((commit.id, commit.time));
                }
            }
        }
        at = parent;
    }
    (at_head, removed)
}
