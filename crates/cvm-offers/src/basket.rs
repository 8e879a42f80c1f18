//! Association rules over product holdings (the beer-and-diapers method for convergent
//! bundles): all frequent itemsets by FP-growth, and the rules between them with support,
//! confidence and lift.
//!
//! FP-growth is exact: it finds the same itemsets, with the same counts, as counting every
//! candidate would. Counts are integers; support, confidence and lift are derived from them
//! at the end, so the only rounding is that of one float division each.
//!
//! # Reading holdings
//!
//! [`read_wide_holdings`] reads one row per customer with one column per product, the shape
//! of the IBM Telco sample. A value becomes an item as follows (case-insensitive):
//!
//! - `yes`, `y`, `true`, `1`: the item named after the column (`StreamingTV`);
//! - `no`, `n`, `false`, `0`, empty, and any value beginning with `no ` (IBM's `No internet
//!   service`, `No phone service`): no item, because the customer does not hold the product;
//! - any other value: the item `Column=value` (IBM's `InternetService` gives
//!   `InternetService=DSL` and `InternetService=Fiber optic`; its `No` gives no item).
//!
//! [`read_holdings_table`] reads the long `holdings` table of `docs/schema.md` (one row per
//! subscriber and product): a subscriber's basket is the products they hold now (no
//! `end_date`).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::OffersError;

/// Baskets of items, kept as distinct baskets with how many customers have each: holdings
/// repeat a lot (a few products, millions of customers), so this is small and fast to mine.
#[derive(Debug, Clone, Default)]
pub struct Baskets {
    /// Item names, indexed by item id.
    items: Vec<String>,
    /// Item id by name.
    ids: HashMap<String, u32>,
    /// Each distinct basket (item ids ascending) and its number of customers.
    distinct: HashMap<Vec<u32>, u64>,
    /// Number of baskets, empty ones included: the denominator of support.
    len: u64,
}

impl Baskets {
    /// No baskets yet.
    pub fn new() -> Baskets {
        Baskets::default()
    }

    /// The id of item `name`, added when new.
    pub fn item_id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.items.len()).unwrap_or(u32::MAX);
        self.items.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    /// Adds one customer's basket of item ids (any order; repeats are counted once).
    pub fn push(&mut self, basket: &mut Vec<u32>) {
        self.push_many(basket, 1);
    }

    /// Adds `customers` customers holding the same basket of item ids (any order; repeats
    /// are counted once).
    pub fn push_many(&mut self, basket: &mut Vec<u32>, customers: u64) {
        basket.sort_unstable();
        basket.dedup();
        self.len += customers;
        if let Some(n) = self.distinct.get_mut(basket.as_slice()) {
            *n += customers;
        } else {
            self.distinct.insert(basket.clone(), customers);
        }
    }

    /// Adds one customer's basket by item names.
    pub fn push_names<S: AsRef<str>>(&mut self, names: &[S]) {
        let mut ids: Vec<u32> = names.iter().map(|n| self.item_id(n.as_ref())).collect();
        self.push(&mut ids);
    }

    /// Number of baskets (customers), empty ones included.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether there are no baskets.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Item names, indexed by item id.
    pub fn item_names(&self) -> &[String] {
        &self.items
    }

    /// Number of distinct baskets.
    pub fn distinct_len(&self) -> usize {
        self.distinct.len()
    }
}

/// A frequent itemset: item ids ascending, and the number of baskets that hold all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Itemset {
    /// Item ids, ascending.
    pub items: Vec<u32>,
    /// Baskets holding every item.
    pub count: u64,
}

/// The frequent itemsets of some baskets.
#[derive(Debug, Clone)]
pub struct FrequentItemsets {
    /// Item names, indexed by item id.
    pub item_names: Vec<String>,
    /// Number of baskets mined.
    pub baskets: u64,
    /// Least count of a frequent itemset: `ceil(min_support x baskets)`.
    pub min_count: u64,
    /// Every itemset whose support is at least the minimum.
    pub itemsets: Vec<Itemset>,
}

impl FrequentItemsets {
    /// Support of a count: the share of baskets.
    pub fn support(&self, count: u64) -> f64 {
        count as f64 / self.baskets as f64
    }

    /// Item names of an itemset, sorted by name.
    pub fn names(&self, items: &[u32]) -> Vec<&str> {
        let mut names: Vec<&str> = items.iter().map(|&i| self.item_names[i as usize].as_str()).collect();
        names.sort_unstable();
        names
    }
}

/// An association rule `antecedent => consequent`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Items the customer holds (ids ascending).
    pub antecedent: Vec<u32>,
    /// Items the rule predicts they also hold (ids ascending).
    pub consequent: Vec<u32>,
    /// Baskets holding the antecedent.
    pub antecedent_count: u64,
    /// Baskets holding the consequent.
    pub consequent_count: u64,
    /// Baskets holding both.
    pub count: u64,
    /// Share of baskets holding the antecedent.
    pub antecedent_support: f64,
    /// Share of baskets holding the consequent.
    pub consequent_support: f64,
    /// Share of baskets holding both.
    pub support: f64,
    /// Share of antecedent holders that hold the consequent.
    pub confidence: f64,
    /// Confidence over the consequent's support: how much more likely than by chance.
    pub lift: f64,
    /// Support minus what independence would give.
    pub leverage: f64,
    /// `(1 - consequent support) / (1 - confidence)`; infinite when confidence is 1.
    pub conviction: f64,
}

const NONE: u32 = u32::MAX;

/// A node of an FP-tree: one item on a path of baskets sharing a prefix.
#[derive(Debug, Clone, Copy)]
struct Node {
    /// Item rank (0 = most frequent).
    rank: u32,
    count: u64,
    parent: u32,
    first_child: u32,
    next_sibling: u32,
    /// Next node of the same rank (the header table's chain).
    next_same: u32,
}

/// An FP-tree over item ranks; node 0 is the root.
struct FpTree {
    nodes: Vec<Node>,
    /// First node of each rank.
    heads: Vec<u32>,
    /// Count of each rank in the tree.
    counts: Vec<u64>,
}

impl FpTree {
    fn new(ranks: usize) -> FpTree {
        let root = Node { rank: NONE, count: 0, parent: NONE, first_child: NONE, next_sibling: NONE, next_same: NONE };
        FpTree { nodes: vec![root], heads: vec![NONE; ranks], counts: vec![0; ranks] }
    }

    /// Inserts a path of ranks (ascending) with a weight.
    fn insert(&mut self, path: &[u32], weight: u64) {
        let mut at = 0u32;
        for &rank in path {
            let mut child = self.nodes[at as usize].first_child;
            while child != NONE && self.nodes[child as usize].rank != rank {
                child = self.nodes[child as usize].next_sibling;
            }
            if child == NONE {
                child = self.nodes.len() as u32;
                let parent = &self.nodes[at as usize];
                let node = Node {
                    rank,
                    count: 0,
                    parent: at,
                    first_child: NONE,
                    next_sibling: parent.first_child,
                    next_same: self.heads[rank as usize],
                };
                self.nodes.push(node);
                self.nodes[at as usize].first_child = child;
                self.heads[rank as usize] = child;
            }
            self.nodes[child as usize].count += weight;
            self.counts[rank as usize] += weight;
            at = child;
        }
    }
}

/// All itemsets with support at least `min_support` (a share, 0 < s <= 1) and at most
/// `max_len` items (all sizes when `None`), by FP-growth.
pub fn fpgrowth(baskets: &Baskets, min_support: f64, max_len: Option<usize>) -> Result<FrequentItemsets, OffersError> {
    if !(min_support > 0.0 && min_support <= 1.0) {
        return Err(OffersError::Parameter(format!(
            "minimum support must be above 0 and at most 1, not {min_support}"
        )));
    }
    if max_len == Some(0) {
        return Err(OffersError::Parameter("the maximum itemset length must be at least 1".into()));
    }
    // The same threshold as mlxtend: a count, ceil(s x n), computed in floating point.
    let min_count = ((min_support * baskets.len as f64).ceil() as u64).max(1);
    let mut item_counts = vec![0u64; baskets.items.len()];
    for (basket, &n) in &baskets.distinct {
        for &item in basket {
            item_counts[item as usize] += n;
        }
    }
    // Most frequent items first keeps the tree small (ties by id for a deterministic tree).
    let mut frequent: Vec<u32> =
        (0..baskets.items.len() as u32).filter(|&i| item_counts[i as usize] >= min_count).collect();
    frequent.sort_by(|&a, &b| item_counts[b as usize].cmp(&item_counts[a as usize]).then(a.cmp(&b)));
    let mut rank_of = vec![NONE; baskets.items.len()];
    for (rank, &item) in frequent.iter().enumerate() {
        rank_of[item as usize] = rank as u32;
    }
    let mut tree = FpTree::new(frequent.len());
    let mut path = Vec::new();
    for (basket, &n) in &baskets.distinct {
        path.clear();
        path.extend(basket.iter().map(|&i| rank_of[i as usize]).filter(|&r| r != NONE));
        path.sort_unstable();
        tree.insert(&path, n);
    }
    let mut found = Vec::new();
    let mut suffix = Vec::new();
    mine(&tree, &mut suffix, min_count, max_len.unwrap_or(usize::MAX), &mut found);
    let itemsets = found
        .into_iter()
        .map(|(ranks, count)| {
            let mut items: Vec<u32> = ranks.iter().map(|&r| frequent[r as usize]).collect();
            items.sort_unstable();
            Itemset { items, count }
        })
        .collect();
    Ok(FrequentItemsets { item_names: baskets.items.clone(), baskets: baskets.len, min_count, itemsets })
}

/// Mines `tree` (conditional on `suffix`), appending each frequent itemset as ranks.
fn mine(tree: &FpTree, suffix: &mut Vec<u32>, min_count: u64, max_len: usize, out: &mut Vec<(Vec<u32>, u64)>) {
    for rank in (0..tree.heads.len()).rev() {
        let count = tree.counts[rank];
        if count < min_count {
            continue;
        }
        suffix.push(rank as u32);
        out.push((suffix.clone(), count));
        if suffix.len() < max_len && rank > 0 {
            // The conditional pattern base: each path above a node of this rank, weighted by
            // the node's count. Ranks above are all lower, so a rank-limited tree suffices.
            let mut paths: Vec<(Vec<u32>, u64)> = Vec::new();
            let mut cond_counts = vec![0u64; rank];
            let mut node = tree.heads[rank];
            while node != NONE {
                let n = &tree.nodes[node as usize];
                let mut prefix = Vec::new();
                let mut up = n.parent;
                while up != 0 && up != NONE {
                    let p = &tree.nodes[up as usize];
                    prefix.push(p.rank);
                    cond_counts[p.rank as usize] += n.count;
                    up = p.parent;
                }
                if !prefix.is_empty() {
                    prefix.reverse();
                    paths.push((prefix, n.count));
                }
                node = n.next_same;
            }
            if cond_counts.iter().any(|&c| c >= min_count) {
                let mut cond = FpTree::new(rank);
                let mut kept = Vec::new();
                for (prefix, weight) in &paths {
                    kept.clear();
                    kept.extend(prefix.iter().copied().filter(|&r| cond_counts[r as usize] >= min_count));
                    if !kept.is_empty() {
                        cond.insert(&kept, *weight);
                    }
                }
                mine(&cond, suffix, min_count, max_len, out);
            }
        }
        suffix.pop();
    }
}

/// Every rule `X => Y` from the frequent itemsets (X, Y non-empty and disjoint, X u Y
/// frequent) whose confidence is at least `min_confidence`.
pub fn association_rules(frequent: &FrequentItemsets, min_confidence: f64) -> Result<Vec<Rule>, OffersError> {
    if !(0.0..=1.0).contains(&min_confidence) {
        return Err(OffersError::Parameter(format!("minimum confidence must be from 0 to 1, not {min_confidence}")));
    }
    let counts: HashMap<&[u32], u64> = frequent.itemsets.iter().map(|s| (s.items.as_slice(), s.count)).collect();
    let n = frequent.baskets as f64;
    let mut rules = Vec::new();
    for set in frequent.itemsets.iter().filter(|s| s.items.len() >= 2) {
        let k = set.items.len();
        if k >= 64 {
            return Err(OffersError::Parameter(format!(
                "an itemset of {k} items is too long for rules: use a max length"
            )));
        }
        for mask in 1u64..(1u64 << k) - 1 {
            let (mut antecedent, mut consequent) = (Vec::new(), Vec::new());
            for (bit, &item) in set.items.iter().enumerate() {
                if mask >> bit & 1 == 1 { antecedent.push(item) } else { consequent.push(item) }
            }
            // Every subset of a frequent itemset is frequent, so both are known.
            let (Some(&a), Some(&c)) = (counts.get(antecedent.as_slice()), counts.get(consequent.as_slice())) else {
                continue;
            };
            let confidence = set.count as f64 / a as f64;
            if confidence < min_confidence {
                continue;
            }
            let (support, sa, sc) = (set.count as f64 / n, a as f64 / n, c as f64 / n);
            rules.push(Rule {
                antecedent,
                consequent,
                antecedent_count: a,
                consequent_count: c,
                count: set.count,
                antecedent_support: sa,
                consequent_support: sc,
                support,
                confidence,
                lift: confidence / sc,
                leverage: support - sa * sc,
                conviction: if confidence < 1.0 { (1.0 - sc) / (1.0 - confidence) } else { f64::INFINITY },
            });
        }
    }
    Ok(rules)
}

/// What a holdings value says, under the rules of the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holding {
    /// Holds the product named by the column.
    Yes,
    /// Does not hold it.
    No,
    /// Holds the variant `Column=value`.
    Variant,
}

/// Reads a holdings value (see the module documentation).
pub fn read_holding(value: &str) -> Holding {
    let lower = value.to_ascii_lowercase();
    match lower.as_str() {
        "yes" | "y" | "true" | "1" => Holding::Yes,
        "no" | "n" | "false" | "0" | "" => Holding::No,
        _ if lower.starts_with("no ") => Holding::No,
        _ => Holding::Variant,
    }
}

/// Which columns of a wide holdings file are products.
#[derive(Debug, Clone, Default)]
pub struct WideColumns {
    /// Customer id column, left out of the items (its values are not checked).
    pub id: Option<String>,
    /// Product columns; all but the id when `None`.
    pub items: Option<Vec<String>>,
}

/// When every column is taken as a product, a column with more variants than this is surely
/// not a product (a tenure, an amount) and is refused rather than turned into noise.
pub const MAX_VARIANTS_PER_COLUMN: usize = 32;

/// Reads one-row-per-customer holdings (the IBM Telco shape) into baskets.
pub fn read_wide_holdings(path: &Path, columns: &WideColumns) -> Result<Baskets, OffersError> {
    let file = File::open(path).map_err(|source| OffersError::Io { file: path.to_owned(), source })?;
    read_wide_holdings_from(path, file, columns)
}

/// Reads one-row-per-customer holdings from `input`; `path` names it in errors.
pub fn read_wide_holdings_from(path: &Path, input: impl Read, columns: &WideColumns) -> Result<Baskets, OffersError> {
    let csv_error = |line: u64, source: csv::Error| OffersError::Csv { file: path.to_owned(), line, source };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(input);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(1, e))?
        .iter()
        .enumerate()
        .map(|(i, h)| if i == 0 { h.trim_start_matches('\u{feff}').to_owned() } else { h.to_owned() })
        .collect();
    let find = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| OffersError::MissingColumn { file: path.to_owned(), column: name.to_owned() })
    };
    let id = columns.id.as_deref().map(find).transpose()?;
    let explicit = columns.items.is_some();
    let item_columns: Vec<usize> = match &columns.items {
        Some(names) => names.iter().map(|n| find(n)).collect::<Result<_, _>>()?,
        None => (0..header.len()).filter(|&i| Some(i) != id).collect(),
    };
    let mut baskets = Baskets::new();
    // Per column, what each distinct value read so far means: parsing a value once per
    // column, not once per row, is what makes ten million rows quick.
    let mut meaning: Vec<Vec<(Vec<u8>, Option<u32>)>> = vec![Vec::new(); item_columns.len()];
    let mut record = csv::ByteRecord::new();
    let mut basket = Vec::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(csv_error(line, e));
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        basket.clear();
        for (slot, &col) in item_columns.iter().enumerate() {
            let raw = record.get(col).unwrap_or(b"");
            let known = meaning[slot].iter().find(|(v, _)| v.as_slice() == raw).map(|(_, m)| *m);
            let item = match known {
                Some(m) => m,
                None => {
                    let value = std::str::from_utf8(raw).map_err(|_| OffersError::Field {
                        file: path.to_owned(),
                        line,
                        column: header[col].clone(),
                        value: String::from_utf8_lossy(raw).chars().take(40).collect(),
                        reason: "not valid UTF-8".into(),
                    })?;
                    let item = match read_holding(value) {
                        Holding::Yes => Some(baskets.item_id(&header[col])),
                        Holding::No => None,
                        Holding::Variant => Some(baskets.item_id(&format!("{}={value}", header[col]))),
                    };
                    if !explicit && meaning[slot].len() >= MAX_VARIANTS_PER_COLUMN {
                        return Err(OffersError::Field {
                            file: path.to_owned(),
                            line,
                            column: header[col].clone(),
                            value: value.chars().take(40).collect(),
                            reason: format!(
                                "more than {MAX_VARIANTS_PER_COLUMN} different values: not a product column; \
                                 name the product columns with --items"
                            ),
                        });
                    }
                    meaning[slot].push((raw.to_vec(), item));
                    item
                }
            };
            if let Some(item) = item {
                basket.push(item);
            }
        }
        baskets.push(&mut basket);
    }
    Ok(baskets)
}

/// The shape of a holdings file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// The long `holdings` table when the header has `subscriber_id` and `product`, else wide.
    #[default]
    Auto,
    /// One row per customer, one column per product.
    Wide,
    /// The long `holdings` table of the schema.
    Holdings,
}

/// Reads baskets from a holdings file of either layout.
pub fn read_baskets(path: &Path, layout: Layout, columns: &WideColumns) -> Result<Baskets, OffersError> {
    let layout = match layout {
        Layout::Auto => {
            let file = File::open(path).map_err(|source| OffersError::Io { file: path.to_owned(), source })?;
            let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(file);
            let header =
                reader.headers().map_err(|source| OffersError::Csv { file: path.to_owned(), line: 1, source })?;
            let has = |name: &str| header.iter().any(|h| h.trim_start_matches('\u{feff}') == name);
            if has("subscriber_id") && has("product") && columns.items.is_none() {
                Layout::Holdings
            } else {
                Layout::Wide
            }
        }
        other => other,
    };
    match layout {
        Layout::Holdings => read_holdings_table(path),
        _ => read_wide_holdings(path, columns),
    }
}

/// Reads the long `holdings` table (`subscriber_id`, `product`, ..., `end_date`): one basket
/// per subscriber of the products held now (empty `end_date`).
pub fn read_holdings_table(path: &Path) -> Result<Baskets, OffersError> {
    let file = File::open(path).map_err(|source| OffersError::Io { file: path.to_owned(), source })?;
    let csv_error = |line: u64, source: csv::Error| OffersError::Csv { file: path.to_owned(), line, source };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(file);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(1, e))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_owned())
        .collect();
    let find = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| OffersError::MissingColumn { file: path.to_owned(), column: name.to_owned() })
    };
    let (sub_col, product_col) = (find("subscriber_id")?, find("product")?);
    let end_col = header.iter().position(|h| h == "end_date");
    let mut held: HashMap<i64, Vec<u32>> = HashMap::new();
    let mut baskets = Baskets::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(e.position().map_or(0, |p| p.line()), e))?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("");
        let subscriber: i64 = field(sub_col).parse().map_err(|_| OffersError::Field {
            file: path.to_owned(),
            line,
            column: "subscriber_id".into(),
            value: field(sub_col).chars().take(40).collect(),
            reason: "expected a whole number".into(),
        })?;
        let basket = held.entry(subscriber).or_default();
        if end_col.is_none_or(|i| field(i).is_empty()) {
            basket.push(baskets.item_id(field(product_col)));
        }
    }
    // Sorted by subscriber so the result does not depend on hash order.
    let mut subscribers: Vec<_> = held.into_iter().collect();
    subscribers.sort_unstable_by_key(|(s, _)| *s);
    for (_, mut basket) in subscribers {
        baskets.push(&mut basket);
    }
    Ok(baskets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Every itemset and its count, by enumerating all subsets of every basket.
    fn brute_force(baskets: &[Vec<u32>], min_count: u64, max_len: usize) -> BTreeMap<Vec<u32>, u64> {
        let mut counts: BTreeMap<Vec<u32>, u64> = BTreeMap::new();
        for b in baskets {
            let mut b = b.clone();
            b.sort_unstable();
            b.dedup();
            for mask in 1u32..(1 << b.len()) {
                let subset: Vec<u32> = (0..b.len()).filter(|i| mask >> i & 1 == 1).map(|i| b[i]).collect();
                if subset.len() <= max_len {
                    *counts.entry(subset).or_default() += 1;
                }
            }
        }
        counts.retain(|_, c| *c >= min_count);
        counts
    }

    fn baskets_of(raw: &[Vec<u32>], items: u32) -> Baskets {
        let mut b = Baskets::new();
        for i in 0..items {
            b.item_id(&format!("i{i}"));
        }
        for basket in raw {
            b.push(&mut basket.clone());
        }
        b
    }

    #[test]
    fn textbook_example() {
        // Han's FP-growth example: 9 transactions over I1..I5, min count 2.
        let raw: Vec<Vec<u32>> = vec![
            vec![1, 2, 5],
            vec![2, 4],
            vec![2, 3],
            vec![1, 2, 4],
            vec![1, 3],
            vec![2, 3],
            vec![1, 3],
            vec![1, 2, 3, 5],
            vec![1, 2, 3],
        ];
        let b = baskets_of(&raw, 6);
        let f = fpgrowth(&b, 2.0 / 9.0, None).unwrap();
        let got: BTreeMap<Vec<u32>, u64> = f.itemsets.iter().map(|s| (s.items.clone(), s.count)).collect();
        assert_eq!(got, brute_force(&raw, 2, 99));
        assert_eq!(got.get(&vec![1, 2, 5]), Some(&2));
        assert_eq!(got.get(&vec![1, 2, 3]), Some(&2));
        let rules = association_rules(&f, 0.7).unwrap();
        // {I5} => {I1, I2}: 2 of 2 baskets with I5.
        let r = rules.iter().find(|r| r.antecedent == [5] && r.consequent == [1, 2]).unwrap();
        assert_eq!(r.confidence, 1.0);
        assert!((r.lift - 1.0 / (4.0 / 9.0)).abs() < 1e-12);
        assert!(rules.iter().all(|r| r.confidence >= 0.7));
    }

    #[test]
    fn a_basket_added_for_many_customers_counts_as_many_baskets() {
        let raw: Vec<Vec<u32>> = vec![vec![2, 1], vec![1, 2], vec![1, 2, 2], vec![3], vec![]];
        let one_by_one = baskets_of(&raw, 4);
        let mut grouped = baskets_of(&[], 4);
        grouped.push_many(&mut vec![1, 2], 3);
        grouped.push_many(&mut vec![3], 1);
        grouped.push_many(&mut vec![], 1);
        assert_eq!((grouped.len(), grouped.distinct_len()), (5, 3));
        assert_eq!(grouped.distinct, one_by_one.distinct);
        let itemsets = |b: &Baskets| -> BTreeMap<Vec<u32>, u64> {
            fpgrowth(b, 0.2, None).unwrap().itemsets.iter().map(|s| (s.items.clone(), s.count)).collect()
        };
        assert_eq!(itemsets(&grouped), brute_force(&raw, 1, 99));
    }

    #[test]
    fn ibm_style_values() {
        let csv = "customerID,PhoneService,MultipleLines,InternetService,StreamingTV\n\
                   a,Yes,No phone service,DSL,Yes\n\
                   b,No,No,Fiber optic,No internet service\n\
                   c,Yes,Yes,No,No\n";
        let cols = WideColumns { id: Some("customerID".into()), items: None };
        let b = read_wide_holdings_from(Path::new("x.csv"), csv.as_bytes(), &cols).unwrap();
        assert_eq!(b.len(), 3);
        let mut names = b.item_names().to_vec();
        names.sort();
        assert_eq!(
            names,
            ["InternetService=DSL", "InternetService=Fiber optic", "MultipleLines", "PhoneService", "StreamingTV"]
        );
    }

    #[test]
    fn a_numeric_column_is_refused_unless_named() {
        let mut csv = String::from("id,tenure,TV\n");
        for i in 0..40 {
            csv.push_str(&format!("{i},{i},yes\n"));
        }
        let all = WideColumns { id: Some("id".into()), items: None };
        let err = read_wide_holdings_from(Path::new("x.csv"), csv.as_bytes(), &all).unwrap_err().to_string();
        assert!(err.contains("column `tenure`") && err.contains("--items"), "{err}");
        let named = WideColumns { id: Some("id".into()), items: Some(vec!["TV".into()]) };
        assert_eq!(read_wide_holdings_from(Path::new("x.csv"), csv.as_bytes(), &named).unwrap().len(), 40);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let b = baskets_of(&[vec![0]], 1);
        assert!(fpgrowth(&b, 0.0, None).is_err());
        assert!(fpgrowth(&b, 1.5, None).is_err());
        assert!(fpgrowth(&b, 0.5, Some(0)).is_err());
    }

    proptest! {
        #[test]
        fn fpgrowth_equals_brute_force(
            raw in proptest::collection::vec(proptest::collection::vec(0u32..10, 0..8), 1..60),
            min_count in 1u64..8,
            max_len in 1usize..6,
        ) {
            let b = baskets_of(&raw, 10);
            let n = raw.len() as f64;
            // A support that maps back to exactly `min_count` under ceil(s x n).
            let s = (min_count as f64 - 0.5) / n;
            prop_assume!(s > 0.0 && s <= 1.0);
            let f = fpgrowth(&b, s, Some(max_len)).unwrap();
            prop_assert_eq!(f.min_count, min_count);
            let got: BTreeMap<Vec<u32>, u64> = f.itemsets.iter().map(|s| (s.items.clone(), s.count)).collect();
            prop_assert_eq!(got.len(), f.itemsets.len(), "no itemset twice");
            prop_assert_eq!(got, brute_force(&raw, min_count, max_len));
        }

        #[test]
        fn rules_are_consistent(
            raw in proptest::collection::vec(proptest::collection::vec(0u32..6, 0..6), 1..40),
            c in 0.0f64..1.0,
        ) {
            let b = baskets_of(&raw, 6);
            let f = fpgrowth(&b, 1.0 / raw.len() as f64, None).unwrap();
            let all = brute_force(&raw, 1, 99);
            for r in association_rules(&f, c).unwrap() {
                let mut union = [r.antecedent.clone(), r.consequent.clone()].concat();
                union.sort_unstable();
                prop_assert_eq!(Some(&r.count), all.get(&union));
                prop_assert_eq!(Some(&r.antecedent_count), all.get(&r.antecedent));
                prop_assert!(r.confidence >= c);
                prop_assert!((r.lift - r.confidence / r.consequent_support).abs() < 1e-12);
            }
        }
    }
}
