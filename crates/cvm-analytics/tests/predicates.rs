//! The predicate checker's corpus (tests/fixtures/predicates.toml): accepted predicates pass
//! the same check a run uses; refused ones (unknown columns, subqueries, other tables,
//! statements, injection attempts) are refused with a message that points at the part.

use cvm_analytics::segments::{SegmentDef, SegmentFile};
use cvm_analytics::{AnalyticsError, RunConfig};
use serde::Deserialize;

#[derive(Deserialize)]
struct Corpus {
    accepted: Vec<Case>,
    refused: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    #[serde(rename = "where")]
    predicate: String,
    message: Option<String>,
    column: Option<u64>,
}

fn check(predicate: &str) -> Result<(), AnalyticsError> {
    let file = SegmentFile {
        segments: vec![SegmentDef {
            name: "case".into(),
            scheme: "custom".into(),
            description: String::new(),
            predicate: predicate.into(),
        }],
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(cvm_analytics::check_segments(&RunConfig::default(), &file)).map(|_| ())
}

#[test]
fn corpus() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/predicates.toml")).unwrap();
    let corpus: Corpus = toml::from_str(&text).unwrap();
    let mut failures = Vec::new();
    for case in &corpus.accepted {
        if let Err(e) = check(&case.predicate) {
            failures.push(format!("refused but should pass: {:?}: {e}", case.predicate));
        }
    }
    for case in &corpus.refused {
        match check(&case.predicate) {
            Ok(()) => failures.push(format!("accepted but should be refused: {:?}", case.predicate)),
            Err(e) => {
                let msg = e.to_string();
                if let Some(want) = &case.message
                    && !msg.contains(want.as_str())
                {
                    failures.push(format!("{:?}: message {msg:?} lacks {want:?}", case.predicate));
                }
                if let Some(col) = case.column
                    && !msg.contains(&format!("column {col} "))
                    && !msg.contains(&format!("column {col}:"))
                {
                    failures.push(format!("{:?}: message {msg:?} does not point at column {col}", case.predicate));
                }
            }
        }
    }
    assert!(corpus.accepted.len() >= 10 && corpus.refused.len() >= 15);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn deep_nesting_is_refused_not_a_crash() {
    let deep = format!("{}arpu_3m_avg > 1{}", "(".repeat(500), ")".repeat(500));
    let err = check(&deep).unwrap_err().to_string();
    assert!(err.contains("segment `case`"), "{err}");
}
