//! Maps keyed by git object ids, with a hasher made for them. An id is already the output
//! of a hash, so SipHash over its 20 bytes (the standard maps' hasher) is wasted work on
//! the history walk's hottest paths: every new entry of every distinct tree is looked up,
//! and every object read is checked against the set of those already hashed. This hasher
//! mixes each 8 bytes written with one folded 128-bit multiply; its seed is random per
//! process, so a repository crafted to pile ids into one bucket cannot know where they go.

use git2::Oid;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// An object id as its 20 bytes: compared inline, where comparing two [`Oid`]s is a call
/// into libgit2 (a tenth of the walk's time when every key compared was an `Oid`).
pub type Raw = [u8; 20];

pub fn raw(id: Oid) -> Raw {
    id.as_bytes().try_into().expect("a SHA-1 id is 20 bytes")
}

pub fn oid(raw: &Raw) -> Oid {
    Oid::from_bytes(raw).expect("20 bytes are an id")
}

/// A map keyed by object ids (or keys that start with one).
pub type IdMap<K, V> = HashMap<K, V, Ids>;

/// Builds [`IdHasher`]s with the process's seed.
#[derive(Clone, Copy, Default)]
pub struct Ids;

impl BuildHasher for Ids {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        static SEED: OnceLock<u64> = OnceLock::new();
        let seed = *SEED.get_or_init(|| RandomState::new().hash_one(0u64));
        IdHasher(seed)
    }
}

pub struct IdHasher(u64);

/// An odd constant with well-spread bits (the golden ratio's, as in Fibonacci hashing).
const SPREAD: u64 = 0x9e37_79b9_7f4a_7c15;

impl IdHasher {
    fn mix(&mut self, word: u64) {
        let product = u128::from(self.0 ^ word) * u128::from(SPREAD);
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.mix(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        if !rest.is_empty() {
            tail[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(tail) ^ rest.len() as u64);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.mix(value);
    }

    fn write_u8(&mut self, value: u8) {
        self.mix(u64::from(value));
    }

    fn write_usize(&mut self, value: usize) {
        self.mix(value as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_that_share_their_first_bytes_still_spread() {
        // Ids equal but for their last byte: a hasher reading only a prefix would put
        // them all in one bucket.
        let hashes: HashSet<u64> = (0..=255u8)
            .map(|last| {
                let mut bytes = [7u8; 20];
                bytes[19] = last;
                Ids.hash_one(Oid::from_bytes(&bytes).expect("20 bytes"))
            })
            .collect();
        assert_eq!(hashes.len(), 256);
        // ...and their low bits, which pick the bucket, differ too.
        let buckets: HashSet<u64> = hashes.iter().map(|hash| hash & 0xff).collect();
        assert!(buckets.len() > 128, "{} buckets of 256", buckets.len());
    }

    #[test]
    fn a_map_keyed_by_ids_finds_what_it_holds() {
        let mut map: IdMap<(Oid, bool), u32> = IdMap::default();
        for n in 0..1000u32 {
            let id = Oid::hash_object(git2::ObjectType::Blob, &n.to_le_bytes()).unwrap();
            map.insert((id, n % 2 == 0), n);
        }
        let id = Oid::hash_object(git2::ObjectType::Blob, &7u32.to_le_bytes()).unwrap();
        assert_eq!(map.get(&(id, false)), Some(&7));
        assert_eq!(map.get(&(id, true)), None);
    }
}
