//! Where a history walk starts: every ref (branches, tags, remote-tracking refs, notes), each
//! entry of the stash's reflog, and `HEAD`, each peeled through annotated tags to the commit,
//! tree or blob it names. Symbolic refs other than `HEAD` (`refs/remotes/origin/HEAD`) name
//! a ref already listed and are left out.

use crate::error::Error;
use crate::find::loose;
use crate::find::objects::Store;
use git2::{ObjectType, Oid, Repository};

/// What a ref names once its tags are peeled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    Commit(Oid),
    /// A ref naming a tree (`git tag t HEAD^{tree}`): its files are reachable from it.
    Tree(Oid),
    Blob(Oid),
}

/// A ref, by its full name (`refs/heads/main`, `refs/tags/v1`, `refs/stash@{1}`).
pub struct Tip {
    pub name: String,
    pub root: Root,
}

/// `HEAD`: the commit it names and the branch it is on (none when detached).
pub struct Head {
    pub commit: Oid,
    pub branch: Option<String>,
}

/// The refs `wanted` takes (by full name), peeled, in name order.
pub fn tips(
    repo: &Repository,
    store: &Store,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<Tip>, Error> {
    let listed = |e: git2::Error| Error::new(format!("cannot list the refs: {}", e.message()));
    let mut named: Vec<(String, Oid)> = Vec::new();
    for reference in repo.references().map_err(listed)? {
        let reference = reference.map_err(listed)?;
        let (Some(name), Some(target)) = (reference.name(), reference.target()) else {
            continue;
        };
        named.push((name.to_owned(), target));
    }
    // Older stashes are kept only in the stash's reflog: each is a commit git still holds.
    if let Ok(reflog) = repo.reflog("refs/stash") {
        for (index, entry) in reflog.iter().enumerate().skip(1) {
            named.push((format!("refs/stash@{{{index}}}"), entry.id_new()));
        }
    }
    named.retain(|(name, _)| wanted(name));
    named.sort();
    named
        .into_iter()
        .map(|(name, target)| {
            let root = peel(store, target).map_err(|e| Error::new(format!("{name}: {e}")))?;
            Ok(Tip { name, root })
        })
        .collect()
}

/// `HEAD`, when it names a commit (an empty repository's does not).
pub fn head(repo: &Repository, store: &Store) -> Result<Option<Head>, Error> {
    let Ok(target) = repo.refname_to_id("HEAD") else {
        return Ok(None);
    };
    let branch = repo
        .find_reference("HEAD")
        .ok()
        .and_then(|head| head.symbolic_target().map(str::to_owned));
    match peel(store, target).map_err(|e| Error::new(format!("HEAD: {e}")))? {
        Root::Commit(commit) => Ok(Some(Head { commit, branch })),
        _ => Ok(None),
    }
}

/// The most annotated tags a ref goes through before it names a commit, tree or blob.
const MAX_TAG_DEPTH: usize = 16;

/// Follows annotated tags from `id` to what they name.
pub fn peel(store: &Store, mut id: Oid) -> Result<Root, Error> {
    for _ in 0..MAX_TAG_DEPTH {
        let object = store.object(id, ObjectType::Any)?;
        match object.kind() {
            ObjectType::Commit => return Ok(Root::Commit(id)),
            ObjectType::Tree => return Ok(Root::Tree(id)),
            ObjectType::Blob => return Ok(Root::Blob(id)),
            _ => {
                id = tag_target(object.bytes())
                    .ok_or_else(|| loose::corrupt(id, "is a tag that names no object"))?;
            }
        }
    }
    Err(loose::corrupt(
        id,
        "is a chain of more tags than rekey follows",
    ))
}

/// The object a tag names on its first line, `object <40 hex>`.
fn tag_target(tag: &[u8]) -> Option<Oid> {
    let hex = tag.strip_prefix(b"object ")?.get(..40)?;
    Oid::from_str(std::str::from_utf8(hex).ok()?).ok()
}
