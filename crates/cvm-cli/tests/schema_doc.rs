//! docs/schema.md is the rendering of the schema in code; this keeps them equal.

mod common;

#[test]
fn committed_schema_document_matches_the_code() {
    let rendered = common::cvm_ok(&["schema"]);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema.md");
    let committed = std::fs::read_to_string(&path).expect("docs/schema.md exists");
    assert!(rendered == committed, "docs/schema.md is out of date: run `cargo run -- schema > docs/schema.md`");
}

#[test]
fn schema_lists_columns_in_every_format() {
    let csv = common::cvm_ok(&["schema", "--table", "usage", "--format", "csv"]);
    assert!(csv.starts_with("table,column,type,unit,required,allowed\n"));
    assert!(csv.contains("usage,revenue,money,yuan,true,0.00 to 1000000.00"), "{csv}");
    let out = common::cvm(&["schema", "--table", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no table named \"nope\""));
}
