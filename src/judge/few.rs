//! Sets and maps for the few items one delegate holds (one file and one token, nearly
//! always): sorted vectors with the `BTreeSet` / `BTreeMap` calls the judges use. A B-tree
//! allocates a node of eleven slots for its first item, which on a monorepo of 68k
//! delegates was most of the inventory's memory; a vector holds what is there.

/// A set kept sorted and without repeats; iterates in order, as a `BTreeSet` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FewSet<T>(Vec<T>);

impl<T> Default for FewSet<T> {
    fn default() -> Self {
        FewSet(Vec::new())
    }
}

impl<T: Ord> FewSet<T> {
    pub fn new() -> Self {
        FewSet::default()
    }

    /// Adds `item`; false when it was already there. Items added in order (a scan's files
    /// come sorted by path) are appended; `extend` takes many at once.
    pub fn insert(&mut self, item: T) -> bool {
        match self.0.binary_search(&item) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, item);
                true
            }
        }
    }

    pub fn contains(&self, item: &T) -> bool {
        self.0.binary_search(item).is_ok()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    pub fn first(&self) -> Option<&T> {
        self.0.first()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Ord> Extend<T> for FewSet<T> {
    /// Adds all of `items` at once: a Secret's thousand files join a workload's in one
    /// sort, not a thousand shifts.
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        self.0.extend(items);
        self.0.sort();
        self.0.dedup();
    }
}

impl<T: Ord> FromIterator<T> for FewSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut set = FewSet::new();
        set.extend(items);
        set
    }
}

impl<'a, T> IntoIterator for &'a FewSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T> IntoIterator for FewSet<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A map kept sorted by key; iterates in key order, as a `BTreeMap` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FewMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for FewMap<K, V> {
    fn default() -> Self {
        FewMap(Vec::new())
    }
}

impl<K: Ord, V> FewMap<K, V> {
    pub fn new() -> Self {
        FewMap::default()
    }

    /// Sets `key` to `value`, replacing the value it had.
    pub fn insert(&mut self, key: K, value: V) {
        match self.0.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(at) => self.0[at].1 = value,
            Err(at) => self.0.insert(at, (key, value)),
        }
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.0.binary_search_by(|(k, _)| k.cmp(key)).is_ok()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_keeps_its_items_sorted_and_once() {
        let mut set: FewSet<&str> = ["b", "a"].into_iter().collect();
        assert!(!set.insert("b"));
        assert!(set.insert("c"));
        assert_eq!(set.iter().copied().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(set.contains(&"a") && !set.contains(&"d"));
        assert_eq!((set.first(), set.len()), (Some(&"a"), 3));
    }

    #[test]
    fn a_map_replaces_a_keys_value_and_iterates_by_key() {
        let mut map = FewMap::new();
        map.insert(2, "two");
        map.insert(1, "one");
        map.insert(2, "TWO");
        assert_eq!(map.iter().collect::<Vec<_>>(), [(&1, &"one"), (&2, &"TWO")]);
        assert!(map.contains_key(&1) && !map.contains_key(&3));
        assert_eq!(map.values().copied().collect::<Vec<_>>(), ["one", "TWO"]);
    }
}
