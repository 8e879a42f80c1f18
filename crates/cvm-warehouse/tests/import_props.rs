//! Property: whatever an export holds, nothing is lost. Every record read is either accepted
//! or rejected, every untouched valid row is accepted, and every corrupted one is rejected.

use std::fs;

use cvm_domain::Date;
use cvm_warehouse::{Encoding, ImportOptions, import};
use proptest::prelude::*;

/// A valid branches row with a unique id.
fn valid_row(i: usize) -> Vec<String> {
    vec![format!("BR{i:04}"), format!("支局{i}"), "射阳县".into(), ["city", "county", "rural"][i % 3].into()]
}

/// Ways to break a field so that the row must be refused.
fn corrupt(field: usize, how: u8) -> String {
    match (field, how % 4) {
        (0, 0) => "BR 01".into(),   // space in a code
        (0, _) => "x".repeat(33),   // code too long
        (3, 0) => "town".into(),    // not an allowed area type
        (3, 1) => String::new(),    // missing
        (_, 0) => " padded".into(), // surrounding spaces
        (_, 1) => String::new(),    // missing
        (_, 2) => "名".repeat(65),  // too long
        _ => "bad\u{7}bell".into(), // control character
    }
}

fn options() -> ImportOptions {
    ImportOptions {
        encoding: Encoding::Utf8,
        as_of: Date::parse("2026-11-23").unwrap(),
        max_reject_rate: 1.0,
        threads: 2,
        import_id: "prop".into(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn every_record_is_accepted_or_rejected(
        rows in 1usize..300,
        corruptions in proptest::collection::vec((0usize..300, 0usize..4, any::<u8>()), 0..40),
        quote_fields in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let export = dir.path().join("export");
        fs::create_dir(&export).unwrap();
        let mut table: Vec<Vec<String>> = (0..rows).map(valid_row).collect();
        let mut broken = std::collections::BTreeSet::new();
        for (row, field, how) in corruptions {
            if row < rows {
                table[row][field] = corrupt(field, how);
                broken.insert(row);
            }
        }
        let mut w = csv::WriterBuilder::new()
            .quote_style(if quote_fields { csv::QuoteStyle::Always } else { csv::QuoteStyle::Necessary })
            .from_writer(Vec::new());
        w.write_record(["branch_id", "branch_name", "region", "area_type"]).unwrap();
        for r in &table {
            w.write_record(r).unwrap();
        }
        fs::write(export.join("branches.csv"), w.into_inner().unwrap()).unwrap();

        let summary = import(&export, &dir.path().join("w"), &options(), &|_, _| {}).unwrap();
        let t = &summary.tables[0];
        prop_assert_eq!(t.read, rows as u64);
        prop_assert_eq!(t.read, t.accepted + t.rejected);
        prop_assert_eq!(t.rejected, broken.len() as u64);
        let rejects = fs::read_to_string(&summary.rejects_file).unwrap();
        let mut lines: Vec<u64> = csv::Reader::from_reader(rejects.as_bytes())
            .records()
            .map(|r| r.unwrap()[2].parse().unwrap())
            .collect();
        lines.sort_unstable();
        // Each record is one line here; line 1 is the header.
        let expected: Vec<u64> = broken.iter().map(|r| *r as u64 + 2).collect();
        prop_assert_eq!(lines, expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn arbitrary_bytes_never_panic_and_always_reconcile(
        body in proptest::collection::vec(
            prop_oneof![Just(b','), Just(b'"'), Just(b'\n'), Just(b'\r'), Just(b'a'), Just(b'1'), any::<u8>()],
            0..2000,
        ),
        gbk in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let export = dir.path().join("export");
        fs::create_dir(&export).unwrap();
        let mut file = b"branch_id,branch_name,region,area_type\n".to_vec();
        file.extend_from_slice(&body);
        fs::write(export.join("branches.csv"), file).unwrap();
        let opts = ImportOptions { encoding: if gbk { Encoding::Gbk } else { Encoding::Utf8 }, ..options() };
        let summary = import(&export, &dir.path().join("w"), &opts, &|_, _| {}).unwrap();
        let t = &summary.tables[0];
        prop_assert_eq!(t.read, t.accepted + t.rejected);
    }
}
