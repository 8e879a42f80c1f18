//! Stop days and the run's population on the CLI's hand-checked export, with a few rows
//! added: stops that begin before the window, end by a resume, or turn into a dual stop,
//! and a closed line.

use std::fs;
use std::path::Path;

use cvm_analytics::{Window, compute_features};
use cvm_domain::{Date, Month};
use cvm_warehouse::{Encoding, ImportOptions, import};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;

const EXTRA_EVENTS: &str = "\
10,1002,2026-07-25,single_stop,
11,1002,2026-08-10,resume,
12,1004,2026-09-28,single_stop,
13,1004,2026-10-02,dual_stop,
14,1004,2026-10-05,resume,
15,1001,2026-10-07,port_out_request,
16,1001,2026-06-01,complaint,
";

const CLOSED_LINE: &str = "1005,13812340005,,male,1970,retired,low,,,射阳县,city,BR01,2010-01-01,prepaid,mass,P018,,,closed,2026-08-15,0,0,0,0,none,0,,\n";

/// The export-small fixture plus the rows above, imported into `dir/w`.
fn warehouse(dir: &Path) -> std::path::PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cvm-cli/tests/fixtures/export-small");
    let export = dir.join("export");
    fs::create_dir(&export).unwrap();
    for entry in fs::read_dir(&fixture).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            fs::copy(&path, export.join(path.file_name().unwrap())).unwrap();
        }
    }
    let append = |name: &str, rows: &str| {
        let path = export.join(name);
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str(rows);
        fs::write(path, text).unwrap();
    };
    append("events.csv", EXTRA_EVENTS);
    append("subscribers.csv", CLOSED_LINE);
    let w = dir.join("w");
    let opts = ImportOptions {
        encoding: Encoding::Utf8,
        as_of: Date::parse("2026-11-23").unwrap(),
        max_reject_rate: 0.0,
        threads: 1,
        import_id: "test".into(),
    };
    import(&export, &w, &opts, &|_, _| {}).unwrap();
    w
}

fn features(w: &Path, as_of: &str) -> RecordBatch {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(compute_features(w, Window::new(Month::parse(as_of).unwrap()))).unwrap().concat().unwrap()
}

/// The Int64 column `name` as (subscriber_id, value) pairs, nulls as None.
fn ints(b: &RecordBatch, name: &str) -> Vec<(i64, Option<i64>)> {
    let ids = b.column_by_name("subscriber_id").unwrap().as_primitive::<Int64Type>();
    let col = b.column_by_name(name).unwrap().as_primitive::<Int64Type>();
    (0..b.num_rows()).map(|r| (ids.value(r), col.is_valid(r).then(|| col.value(r)))).collect()
}

#[test]
fn stop_days_follow_stop_and_resume_events_within_the_window() {
    let tmp = tempfile::tempdir().unwrap();
    let w = warehouse(tmp.path());
    let b = features(&w, "2026-10");
    // 1005 is closed and has no usage in 2026-10: not in the run.
    assert_eq!(ints(&b, "subscriber_id").iter().map(|p| p.0).collect::<Vec<_>>(), [1001, 1002, 1003, 1004]);
    // Window 2026-08-01..=2026-10-31.
    // 1002: single stop 2026-07-25 until the resume on 2026-08-10: 08-01..=08-09 = 9 days.
    // 1003: dual stop from 2026-10-20 to the month end: 12 days.
    // 1004: single stop 09-28..=10-01 (4 days), then dual stop 10-02..=10-04 (3 days).
    assert_eq!(ints(&b, "single_stop_days"), [(1001, Some(0)), (1002, Some(9)), (1003, Some(0)), (1004, Some(4))]);
    assert_eq!(ints(&b, "dual_stop_days"), [(1001, Some(0)), (1002, Some(0)), (1003, Some(12)), (1004, Some(3))]);
    // 1001's complaint of 2026-06 is before the window; its port-out request is inside.
    assert_eq!(ints(&b, "complaints_3m")[0], (1001, Some(1)));
    assert_eq!(ints(&b, "port_out_requests_3m")[0], (1001, Some(1)));
}

#[test]
fn an_earlier_as_of_sees_neither_later_stops_nor_later_usage() {
    let tmp = tempfile::tempdir().unwrap();
    let w = warehouse(tmp.path());
    let b = features(&w, "2026-09");
    // Window 2026-07-01..=2026-09-30: 1003's stop (2026-10-20) is later; 1002's single stop
    // 07-25..=08-09 is 7 + 9 = 16 days; 1004's single stop 09-28..=09-30 is 3 days.
    assert_eq!(ints(&b, "dual_stop_days"), [(1001, Some(0)), (1002, Some(0)), (1003, Some(0)), (1004, Some(0))]);
    assert_eq!(ints(&b, "single_stop_days"), [(1001, Some(0)), (1002, Some(16)), (1003, Some(0)), (1004, Some(3))]);
    // Only 2026-09 has usage in this window.
    assert!(ints(&b, "months_with_usage").iter().all(|p| p.1 == Some(1)));
    assert_eq!(ints(&b, "tenure_months")[0], (1001, Some(138)));
}

#[test]
fn the_window_is_the_as_of_month_and_the_two_before() {
    let w = Window::new(Month::parse("2026-02").unwrap());
    let months: Vec<String> = w.months().iter().map(ToString::to_string).collect();
    assert_eq!(months, ["2025-12", "2026-01", "2026-02"]);
    assert_eq!(w.start_day(), Date::parse("2025-12-01").unwrap().days_since_epoch());
    assert_eq!(w.end_day(), Date::parse("2026-03-01").unwrap().days_since_epoch());
}
