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

/// The first line of each whole-number key seen so far (event ids, sale ids): an array over
/// the ids' range while they stay dense, as id sequences do, and a hash map once they do not.
/// An array costs 4 bytes a slot and no cache miss; a hash map some 30 bytes a key.
#[derive(Debug)]
pub enum FirstLines {
    /// `lines[id - min]` is the first line of `id`, 0 when not seen (lines start at 2).
    Dense {
        /// Id of slot 0.
        min: i64,
        /// First line per slot, saturating at `u32::MAX`.
        lines: Vec<u32>,
        /// Ids seen.
        count: u64,
    },
    /// Ids spread too thinly for an array.
    Sparse(rustc_hash::FxHashMap<i64, u64>),
}

impl Default for FirstLines {
    fn default() -> FirstLines {
        FirstLines::Dense { min: 0, lines: Vec::new(), count: 0 }
    }
}

impl FirstLines {
    /// Records `id` at `line`: `None` if new, else the line that had it first.
    pub fn first_seen(&mut self, id: i64, line: u64) -> Option<u64> {
        if let FirstLines::Dense { min, lines, count } = self {
            if lines.is_empty() {
                *min = id.saturating_sub(1024);
                lines.resize(4096, 0);
            }
            let offset = id as i128 - *min as i128;
            if offset < 0 || offset >= lines.len() as i128 {
                let new_min = (*min as i128).min(id as i128);
                let new_end = (*min as i128 + lines.len() as i128).max(id as i128 + 1);
                let span = new_end - new_min;
                if span > i128::from(MAX_SPREAD) * (i128::from(*count) + 4096) || span > 1 << 32 {
                    self.become_sparse();
                    return self.first_seen(id, line);
                }
                // Grow to twice the needed span, so growth is amortised; keep slots in place.
                let grown = (span as usize).saturating_mul(2);
                let lead =
                    if new_min < *min as i128 { grown - span as usize + (*min as i128 - new_min) as usize } else { 0 };
                let mut bigger = vec![0u32; grown];
                bigger[lead..lead + lines.len()].copy_from_slice(lines);
                *min -= lead as i64;
                *lines = bigger;
            }
            let slot = &mut lines[(id - *min) as usize];
            if *slot != 0 {
                return Some(u64::from(*slot));
            }
            *slot = u32::try_from(line).unwrap_or(u32::MAX);
            *count += 1;
            return None;
        }
        let FirstLines::Sparse(map) = self else { return None };
        match map.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(line);
                None
            }
        }
    }

    fn become_sparse(&mut self) {
        let FirstLines::Dense { min, lines, .. } = self else { return };
        let map =
            lines.iter().enumerate().filter(|(_, l)| **l != 0).map(|(i, l)| (*min + i as i64, u64::from(*l))).collect();
        *self = FirstLines::Sparse(map);
    }
}

#[cfg(test)]
mod first_lines_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_a_hash_map(ids in proptest::collection::vec(prop_oneof![0i64..3000, -5000i64..5000, any::<i64>()], 0..400)) {
            let mut fast = FirstLines::default();
            let mut plain: std::collections::HashMap<i64, u64> = std::collections::HashMap::new();
            for (i, id) in ids.iter().enumerate() {
                let line = i as u64 + 2;
                let expected = match plain.get(id) { Some(l) => Some(*l), None => { plain.insert(*id, line); None } };
                prop_assert_eq!(fast.first_seen(*id, line), expected);
            }
        }
    }
}
