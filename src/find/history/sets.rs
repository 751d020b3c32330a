//! Small sets of tokens, interned: a history holds one set per distinct tree and commit, and
//! almost all of them are equal (empty, or the same few tokens), so each distinct set is
//! stored once and named by a number. Tokens are numbered in the order they were first met.

use crate::model::token::Fingerprint;
use std::collections::HashMap;

/// A set of tokens, by the number [`Sets`] gave it. [`EMPTY`] holds none.
pub type SetId = u32;
pub const EMPTY: SetId = 0;

/// Every distinct token and every distinct set of them met in a history.
pub struct Sets {
    tokens: Vec<Fingerprint>,
    numbers: HashMap<Fingerprint, u32>,
    sets: Vec<Box<[u32]>>,
    ids: HashMap<Box<[u32]>, SetId>,
}

impl Default for Sets {
    fn default() -> Self {
        let empty: Box<[u32]> = Box::new([]);
        Sets {
            tokens: Vec::new(),
            numbers: HashMap::new(),
            sets: vec![empty.clone()],
            ids: HashMap::from([(empty, EMPTY)]),
        }
    }
}

impl Sets {
    /// The number of `fingerprint`, given the first time it is met.
    pub fn token(&mut self, fingerprint: &Fingerprint) -> u32 {
        if let Some(number) = self.numbers.get(fingerprint) {
            return *number;
        }
        let number = self.tokens.len() as u32;
        self.tokens.push(fingerprint.clone());
        self.numbers.insert(fingerprint.clone(), number);
        number
    }

    pub fn fingerprint(&self, token: u32) -> &Fingerprint {
        &self.tokens[token as usize]
    }

    pub fn token_count(&self) -> usize {
        self.tokens.len()
    }

    /// The set holding exactly `tokens` (in any order, repeats allowed).
    pub fn intern(&mut self, mut tokens: Vec<u32>) -> SetId {
        if tokens.is_empty() {
            return EMPTY;
        }
        tokens.sort_unstable();
        tokens.dedup();
        let tokens = tokens.into_boxed_slice();
        if let Some(id) = self.ids.get(&tokens) {
            return *id;
        }
        let id = self.sets.len() as SetId;
        self.sets.push(tokens.clone());
        self.ids.insert(tokens, id);
        id
    }

    pub fn get(&self, id: SetId) -> &[u32] {
        &self.sets[id as usize]
    }

    /// The union of two sets.
    pub fn union(&mut self, a: SetId, b: SetId) -> SetId {
        if a == b || b == EMPTY {
            return a;
        }
        if a == EMPTY || self.is_subset(a, b) {
            return b;
        }
        if self.is_subset(b, a) {
            return a;
        }
        let joined = [self.get(a), self.get(b)].concat();
        self.intern(joined)
    }

    /// The tokens of `a` that `b` does not hold.
    pub fn minus(&self, a: SetId, b: SetId) -> Vec<u32> {
        if a == b {
            return Vec::new();
        }
        let other = self.get(b);
        self.get(a)
            .iter()
            .filter(|token| other.binary_search(token).is_err())
            .copied()
            .collect()
    }

    pub fn contains(&self, set: SetId, token: u32) -> bool {
        self.get(set).binary_search(&token).is_ok()
    }

    fn is_subset(&self, small: SetId, large: SetId) -> bool {
        let large = self.get(large);
        self.get(small)
            .iter()
            .all(|token| large.binary_search(token).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_sets_share_one_number_and_unions_reuse_them() {
        let mut sets = Sets::default();
        let a = sets.intern(vec![2, 1, 2]);
        assert_eq!(sets.intern(vec![1, 2]), a);
        assert_eq!(sets.get(a), &[1, 2]);
        let b = sets.intern(vec![3]);
        let both = sets.union(a, b);
        assert_eq!(sets.get(both), &[1, 2, 3]);
        assert_eq!(sets.union(both, a), both);
        assert_eq!(sets.union(EMPTY, b), b);
        assert_eq!(sets.minus(both, a), vec![3]);
        assert!(sets.contains(both, 3) && !sets.contains(a, 3));
    }
}
