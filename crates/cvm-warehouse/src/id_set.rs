//! Sets of whole-number ids (subscriber ids) for reference and duplicate checks.
//!
//! Operators number subscribers from sequences, so the ids of a table usually fill most of
//! a range. Then a bitmap over the range answers "does this id exist" from a few MB that stay
//! in cache, where a hash set of 10M ids misses the cache on nearly every row; the check runs
//! for every usage, holding and event row. Sparse ids fall back to a hash set.

use rustc_hash::FxHashSet;

/// A set of ids: a bitmap over their range when dense, else a hash set.
#[derive(Debug, Clone)]
pub enum IdSet {
    /// Ids `min..min + 64 * bits.len()`, one bit each.
    Dense {
        /// The smallest id.
        min: i64,
        /// Bit `i` is set when `min + i` is in the set.
        bits: Vec<u64>,
    },
    /// Ids spread too thinly for a bitmap.
    Sparse(FxHashSet<i64>),
}

/// A bitmap is used when the range is at most this many times the number of ids (at most
/// 16 bits per id, against about 16 bytes per id in a hash set).
const MAX_SPREAD: u64 = 16;

impl IdSet {
    /// The set of `ids` (repeats are fine).
    pub fn from_ids(ids: &[i64]) -> IdSet {
        let (Some(&min), Some(&max)) = (ids.iter().min(), ids.iter().max()) else {
            return IdSet::Sparse(FxHashSet::default());
        };
        let span = (max as i128 - min as i128 + 1) as u128;
        if span > u128::from(MAX_SPREAD * ids.len() as u64) || span > (1 << 36) {
            return IdSet::Sparse(ids.iter().copied().collect());
        }
        let mut bits = vec![0u64; (span as usize).div_ceil(64)];
        for id in ids {
            let i = (id - min) as usize;
            bits[i / 64] |= 1 << (i % 64);
        }
        IdSet::Dense { min, bits }
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: i64) -> bool {
        match self {
            IdSet::Dense { bits, .. } => self.offset(id).is_some_and(|i| bits[i / 64] & (1 << (i % 64)) != 0),
            IdSet::Sparse(set) => set.contains(&id),
        }
    }

    /// For a dense set, the position of `id` in its range, if within it.
    pub fn offset(&self, id: i64) -> Option<usize> {
        match self {
            IdSet::Dense { min, bits } => {
                let i = id.checked_sub(*min)?;
                (i >= 0 && (i as u128) < bits.len() as u128 * 64).then_some(i as usize)
            }
            IdSet::Sparse(_) => None,
        }
    }

    /// For a dense set, the length of its range.
    pub fn range_len(&self) -> Option<usize> {
        match self {
            IdSet::Dense { bits, .. } => Some(bits.len() * 64),
            IdSet::Sparse(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dense_ids_use_a_bitmap() {
        let set = IdSet::from_ids(&[1001, 1002, 1004]);
        assert!(matches!(set, IdSet::Dense { .. }));
        assert!(set.contains(1001) && set.contains(1004));
        assert!(!set.contains(1003) && !set.contains(1000) && !set.contains(i64::MIN) && !set.contains(i64::MAX));
        assert!(matches!(IdSet::from_ids(&[1, i64::MAX]), IdSet::Sparse(_)));
        assert!(!IdSet::from_ids(&[]).contains(0));
    }

    proptest! {
        #[test]
        fn membership_is_exact(ids in proptest::collection::vec(-500i64..5000, 0..300), probe in -600i64..5100) {
            let set = IdSet::from_ids(&ids);
            prop_assert_eq!(set.contains(probe), ids.contains(&probe));
        }
    }
}
