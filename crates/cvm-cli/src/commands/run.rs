//! `cvm run`: the monthly analytics run over the warehouse (features, value pyramid,
//! lifecycle, clusters, segments and their validity).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use cvm_analytics::{Progress, RunConfig, SegmentFile, Step, Window};
use cvm_domain::Month;
use serde_json::json;

use crate::output::{Format, Report};

/// Arguments of `cvm run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Warehouse folder (made by `cvm import`).
    #[arg(long, short)]
    pub warehouse: PathBuf,
    /// Month the run describes, `YYYY-MM`: features cover it and the two months before.
    #[arg(long, value_parser = parse_month)]
    pub as_of: Month,
    /// Run configuration (TOML): value model and tiers, validity thresholds, clustering.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The analyst's segments file (TOML); it is checked, saved as the warehouse's next
    /// segments version, and used. Without it the latest saved version is used, if any.
    #[arg(long)]
    pub segments: Option<PathBuf>,
    /// Print the feature query for the as-of month and stop (for auditors and benchmarks).
    #[arg(long)]
    pub print_sql: bool,
    /// Run the feature query under EXPLAIN ANALYZE, print the executed plan with each
    /// operator's rows and time, and stop (nothing is written).
    #[arg(long)]
    pub explain: bool,
    /// Summary format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// Parses a `YYYY-MM` argument.
pub fn parse_month(s: &str) -> Result<Month, String> {
    Month::parse(s).map_err(|e| e.to_string())
}

/// The runtime DataFusion's queries run on: one worker per core. The library is async; the
/// command owns this runtime (a run's ranges computed side by side get threads and runtimes
/// of their own from the library).
pub fn query_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().build().context("starting the query runtime")
}

/// Reads the run configuration, or the defaults.
pub fn read_config(path: Option<&Path>) -> anyhow::Result<RunConfig> {
    match path {
        None => Ok(RunConfig::default()),
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?;
            Ok(RunConfig::from_toml(&text, &p.display().to_string())?)
        }
    }
}

/// Reads and parses a segments file.
pub fn read_segments(path: &Path) -> anyhow::Result<(String, SegmentFile)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let file = SegmentFile::from_toml(&text, &path.display().to_string())?;
    Ok((text, file))
}

/// Computes the run and commits it to `W/runs/<as-of>/`, then prints a summary.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    if args.print_sql {
        println!("{}", cvm_analytics::features::feature_sql(Window::new(args.as_of)));
        return Ok(());
    }
    if !args.warehouse.is_dir() {
        anyhow::bail!("{}: no such warehouse folder", args.warehouse.display());
    }
    let config = read_config(args.config.as_deref())?;
    let segments = match &args.segments {
        Some(path) => Some(read_segments(path)?),
        None => cvm_analytics::store::latest_segments(&args.warehouse)?
            .map(|(v, text)| -> anyhow::Result<_> {
                let origin = format!("{}/segments/v{v:04}.toml", args.warehouse.display());
                let file = SegmentFile::from_toml(&text, &origin)?;
                Ok((text, file))
            })
            .transpose()?,
    };
    let runtime = query_runtime()?;
    let window = Window::new(args.as_of);
    if args.explain {
        print!("{}", runtime.block_on(cvm_analytics::features::explain_features(&args.warehouse, window))?);
        return Ok(());
    }
    let started = Instant::now();
    // A line as each group of ranges begins; each step's seconds are added up and printed at
    // the end.
    let mut current: Option<(Step, Instant)> = None;
    let mut totals: std::collections::BTreeMap<Step, f64> = Default::default();
    let mut step_done = |next: Option<Progress>| {
        if let Some((step, at)) = current.take() {
            *totals.entry(step).or_default() += at.elapsed().as_secs_f64();
        }
        if let Some(p) = next {
            let pass = match p.step {
                Step::Features => "pass 1",
                Step::Clusters => p.step.label(),
                Step::Segments => "pass 2",
            };
            let ranges = match p.ranges {
                Some(r) if r.first == r.last => format!(", range {}/{}", r.first, r.of),
                Some(r) => format!(", ranges {}-{}/{}", r.first, r.last, r.of),
                None => String::new(),
            };
            eprintln!("run {}: {pass}{ranges} ({:.1} s)", args.as_of, started.elapsed().as_secs_f64());
            current = Some((p.step, Instant::now()));
        }
    };
    let analyst = segments.as_ref().map(|(_, f)| f.clone()).unwrap_or_default();
    let output = runtime
        .block_on(cvm_analytics::analyse(&args.warehouse, window, &config, &analyst, &mut |p| step_done(Some(p))))
        .with_context(|| format!("run as of {}", args.as_of))?;
    step_done(None);
    for (step, seconds) in &totals {
        eprintln!("  {:<40} {seconds:>8.2} s", step.label());
    }
    // Saved only once every predicate passed: a refused file never becomes a version.
    let version = segments.map(|(text, _)| cvm_analytics::store::save_segments(&args.warehouse, &text)).transpose()?;
    let seconds = started.elapsed().as_secs_f64();
    let summary = cvm_analytics::commit(&args.warehouse, &output, version, seconds).context("writing the run")?;
    let dir = cvm_analytics::run_dir(&args.warehouse, &summary.as_of);

    let mut report = Report::new([
        "as_of",
        "window",
        "subscribers",
        "columns",
        "segments",
        "clusters",
        "warnings",
        "seconds",
        "path",
    ]);
    report.push(vec![
        json!(summary.as_of),
        json!(summary.window_months.join(",")),
        json!(summary.rows),
        json!(summary.columns),
        json!(summary.segments),
        json!(summary.clusters),
        json!(summary.warnings),
        json!((summary.seconds * 1000.0).round() / 1000.0),
        json!(dir.display().to_string()),
    ]);
    report.print(args.format)?;
    if args.format == Format::Table {
        let by_kind: Vec<String> = output.warning_counts.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!(
            "churn warnings: {} for {} subscribers ({}); see `cvm warnings`",
            output.warning_counts.warnings,
            output.warning_counts.subscribers,
            by_kind.join(", ")
        );
    }
    Ok(())
}
