//! Helpers for tests that run the real `cvm` binary, each in its own temporary folder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The folder of committed test fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The shared public data folder (beside the checkout, as in CI).
pub fn public_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/public")
}

/// Runs `cvm` with `args`.
pub fn cvm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cvm")).args(args).output().expect("cvm runs")
}

/// Runs `cvm` with `args` and returns its standard output, failing the test on an error.
pub fn cvm_ok(args: &[&str]) -> String {
    let out = cvm(args);
    assert!(
        out.status.success(),
        "cvm {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The JSON rows at the start of `out`, before any words printed after them (as
/// `cvm churn train --format json` does).
pub fn leading_json(out: &str) -> Vec<serde_json::Value> {
    let end = out.rfind(']').map_or(out.len(), |i| i + 1);
    serde_json::from_str(&out[..end]).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// A path as a `&str` argument.
pub fn arg(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// Generates `subscribers` x `months` with `seed` into `dir/export` and imports it into
/// `dir/w`; returns both folders.
pub fn generated_warehouse(dir: &Path, subscribers: u32, months: u32, seed: u64) -> (PathBuf, PathBuf) {
    let (export, w) = (dir.join("export"), dir.join("w"));
    let (n, m, s) = (subscribers.to_string(), months.to_string(), seed.to_string());
    cvm_ok(&["generate", "--subscribers", &n, "--months", &m, "--seed", &s, "--out", arg(&export)]);
    cvm_ok(&["import", arg(&export), "--warehouse", arg(&w)]);
    (export, w)
}
