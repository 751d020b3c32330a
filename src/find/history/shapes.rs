//! The shape of every distinct tree of a history, by number: which trees and blobs it
//! holds, without names. Pass one over the trees (`trees::read`) records them as it reads
//! each tree once; once the blobs are judged, [`Shapes::replay`] gives each tree's children
//! back in an order where a tree comes after all of its subtrees, so the token sets are
//! summed up without reading any tree again.
//!
//! A shape is stored as the edit from the last tree recorded at the same path (a new
//! version of a directory differs from the one before it in an entry or two), so memory
//! follows what changed, not commits × files.

/// A child that is a blob (by its number in the list of distinct blobs) rather than a tree
/// (by its number here).
pub const BLOB: u32 = 1 << 31;

/// How a tree's children are written, against the last ones recorded at the same path.
#[derive(Clone, Copy)]
enum Edit {
    /// All of them.
    Full,
    /// Pairs of (position, child) that differ; the same count as before.
    Replace,
    /// `removed` children from position `at` give way to the ones stored.
    Splice { at: u32, removed: u32 },
}

struct Record {
    slot: u32,
    edit: Edit,
    start: u32,
    len: u32,
}

/// Every tree's children, recorded in the order the trees were numbered.
#[derive(Default)]
pub struct Shapes {
    records: Vec<Record>,
    data: Vec<u32>,
    /// The children last recorded at each path (by slot), while recording.
    current: Vec<Vec<u32>>,
}

impl Shapes {
    /// A number for a new path: trees recorded under one are written against each other.
    pub fn new_slot(&mut self) -> u32 {
        self.current.push(Vec::new());
        (self.current.len() - 1) as u32
    }

    /// How many trees are recorded.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Records the next tree (numbered [`Shapes::len`]), met at the path `slot` names.
    pub fn record(&mut self, slot: u32, children: Vec<u32>) {
        let base = &self.current[slot as usize];
        let start = self.data.len() as u32;
        let edit = encode(base, &children, &mut self.data);
        let len = self.data.len() as u32 - start;
        self.records.push(Record {
            slot,
            edit,
            start,
            len,
        });
        self.current[slot as usize] = children;
    }

    /// Drops what only recording needs.
    pub fn finish(&mut self) {
        self.current = Vec::new();
        self.data.shrink_to_fit();
    }

    /// Calls `each` with every tree's number and children, in the order they were recorded.
    pub fn replay(&self, mut each: impl FnMut(u32, &[u32])) {
        let slots = self
            .records
            .iter()
            .map(|r| r.slot)
            .max()
            .map_or(0, |s| s + 1);
        let mut current: Vec<Vec<u32>> = vec![Vec::new(); slots as usize];
        for (number, record) in self.records.iter().enumerate() {
            let stored = &self.data[record.start as usize..(record.start + record.len) as usize];
            let children = &mut current[record.slot as usize];
            match record.edit {
                Edit::Full => {
                    children.clear();
                    children.extend_from_slice(stored);
                }
                Edit::Replace => {
                    for pair in stored.chunks_exact(2) {
                        children[pair[0] as usize] = pair[1];
                    }
                }
                Edit::Splice { at, removed } => {
                    let range = at as usize..(at + removed) as usize;
                    children.splice(range, stored.iter().copied());
                }
            }
            each(number as u32, children);
        }
    }
}

/// Writes `new` to `data` as the cheapest edit from `base`.
fn encode(base: &[u32], new: &[u32], data: &mut Vec<u32>) -> Edit {
    if base.is_empty() {
        data.extend_from_slice(new);
        return Edit::Full;
    }
    if base.len() == new.len() {
        let differing = base.iter().zip(new).filter(|(a, b)| a != b).count();
        if differing * 2 >= new.len() {
            data.extend_from_slice(new);
            return Edit::Full;
        }
        for (position, (a, b)) in base.iter().zip(new).enumerate() {
            if a != b {
                data.extend_from_slice(&[position as u32, *b]);
            }
        }
        return Edit::Replace;
    }
    let prefix = base.iter().zip(new).take_while(|(a, b)| a == b).count();
    let room = base.len().min(new.len()) - prefix;
    let suffix = base
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    let middle = &new[prefix..new.len() - suffix];
    if middle.len() >= new.len() {
        data.extend_from_slice(new);
        return Edit::Full;
    }
    data.extend_from_slice(middle);
    Edit::Splice {
        at: prefix as u32,
        removed: (base.len() - prefix - suffix) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_edit_replays_to_the_children_recorded() {
        let versions: Vec<Vec<u32>> = vec![
            vec![1, 2, 3, 4, 5, 6],
            vec![1, 2, 9, 4, 5, 6],     // one replaced
            vec![1, 2, 9, 4, 7, 5, 6],  // one inserted
            vec![2, 9, 4, 7, 5],        // first and last removed
            vec![8, 8, 8, 8, 8],        // all replaced
            vec![],                     // emptied
            vec![3, 3],                 // filled again
            vec![3, 3, BLOB | 4, 3, 3], // a blob in the middle
        ];
        let mut shapes = Shapes::default();
        let (a, b) = (shapes.new_slot(), shapes.new_slot());
        for version in &versions {
            shapes.record(a, version.clone());
            shapes.record(b, version.iter().rev().copied().collect());
        }
        shapes.finish();
        let mut replayed = Vec::new();
        shapes.replay(|number, children| replayed.push((number, children.to_vec())));
        let expected: Vec<(u32, Vec<u32>)> = versions
            .iter()
            .flat_map(|v| [v.clone(), v.iter().rev().copied().collect()])
            .enumerate()
            .map(|(n, v)| (n as u32, v))
            .collect();
        assert_eq!(replayed, expected);
    }

    #[test]
    fn a_small_change_is_stored_as_the_change() {
        let mut shapes = Shapes::default();
        let slot = shapes.new_slot();
        shapes.record(slot, (0..1000).collect());
        let before = shapes.data.len();
        let mut changed: Vec<u32> = (0..1000).collect();
        changed[500] = 7;
        shapes.record(slot, changed.clone());
        changed.insert(10, 3);
        shapes.record(slot, changed);
        assert_eq!(shapes.data.len() - before, 2 + 1);
    }
}
