//! `cargo xtask bench <what>`: our tools against what they replace.
//!
//! Each benchmark (entrypoint, fetch, build, push, rebase, sign, engine, packages: sibling
//! modules) returns
//! [`Row`]s; `all` runs them in turn. The rows of one benchmark replace its rows in
//! `target/bench/report.json`, so running benchmarks one at a time still leaves one
//! complete report, rendered again as `report.md` and charted in `ratios.svg`;
//! `bench table` renders it as docs/benchmarks.md's table.

mod build;
mod chart;
mod engine;
mod entrypoint;
mod fetch;
mod instructions;
mod launcher;
mod packages;
mod push;
mod rebase;
mod sign;
mod table;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::util;
use sparkimg_skips as skips;

/// In the order `all` runs them: the quick ones first.
const BENCHES: [&str; 8] = [
    "entrypoint",
    "fetch",
    "build",
    "push",
    "rebase",
    "sign",
    "engine",
    "packages",
];

pub fn main(args: Vec<String>) -> Result<()> {
    let mut args = args.into_iter();
    let names = BENCHES.join(", ");
    let Some(what) = args.next() else {
        bail!("bench: say what to benchmark ({names}, or all), or `table`");
    };
    if what == "table" {
        return table::main(args.collect());
    }
    let mut opts = Options {
        quick: false,
        runs: None,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => opts.quick = true,
            "--runs" => {
                let n = args.next().context("--runs needs a number")?;
                opts.runs = Some(n.parse().with_context(|| format!("bad --runs {n:?}"))?);
            }
            other => bail!("bench: unknown option {other:?}"),
        }
    }
    let selected: Vec<&str> = match what.as_str() {
        "all" => BENCHES.to_vec(),
        one => match BENCHES.iter().find(|b| **b == one) {
            Some(b) => vec![*b],
            None => bail!("bench: unknown benchmark {one:?} (have: {names}, all)"),
        },
    };

    let mut run = LastRun {
        what: what.clone(),
        quick: opts.quick,
        ran: Vec::new(),
        skipped: Vec::new(),
    };
    let mut failed = Vec::new();
    let mut report = None;
    for bench in selected {
        // `all` is what `cargo xtask test` runs: off CI a machine without Docker still
        // gets the other benchmarks; on CI (which installs everything) a missing tool
        // is an error, not a silently shorter run.
        if what == "all" {
            if let Some(missing) = missing_tools(bench) {
                if skips::in_ci() {
                    bail!("bench {bench} needs {missing}, which this CI machine lacks (.ci/run installs them)");
                }
                skips::record(&format!("bench {bench}"), &format!("needs {missing}"));
                run.skipped
                    .push((bench.to_string(), format!("needs {missing}")));
                continue;
            }
        }
        let step = util::Step::start(format!("bench {bench}"));
        let rows = match bench {
            "entrypoint" => entrypoint::run(&opts)?,
            "fetch" => fetch::run(&opts)?,
            "build" => build::run(&opts)?,
            "push" => push::run(&opts)?,
            "rebase" => rebase::run(&opts)?,
            "sign" => sign::run(&opts)?,
            "engine" => engine::run(&opts)?,
            "packages" => packages::run(&opts)?,
            _ => unreachable!("BENCHES and this match disagree"),
        };
        step.done();
        failed.extend(
            rows.iter()
                .filter(|r| r.pass == Some(false))
                .map(|r| r.what.clone()),
        );
        run.ran.push(bench.to_string());
        // Written after each benchmark, so an `all` that fails late keeps what it measured.
        report = Some(write_report(bench, &run, &rows)?);
    }
    if report.is_none() || !run.skipped.is_empty() {
        report = Some(write_report("", &run, &[])?);
    }
    let (md, json_path, md_path, svg_path) = report.expect("written above");
    println!("{md}");
    println!(
        "report: {}\n        {}\n        {}",
        md_path.display(),
        json_path.display(),
        svg_path.display()
    );

    if !failed.is_empty() {
        if opts.quick {
            // --quick is CI's smoke run on a shared machine: it proves the benchmark
            // works, the numbers are not trusted enough to fail a build.
            eprintln!("bench: (quick run, not judged) missed targets: {failed:?}");
        } else {
            bail!("bench: missed targets: {failed:?}");
        }
    }
    Ok(())
}

pub struct Options {
    /// Fewer runs, and missed targets do not fail.
    pub quick: bool,
    /// Overrides the benchmark's default number of runs.
    pub runs: Option<usize>,
}

/// What the report says about the run that wrote it.
struct LastRun {
    what: String,
    quick: bool,
    ran: Vec<String>,
    /// Benchmarks `all` skipped, and why.
    skipped: Vec<(String, String)>,
}

/// One line of the report: a measurement of ours against theirs.
pub struct Row {
    /// A few words naming the row in the chart.
    pub label: String,
    pub what: String,
    pub ours: String,
    pub theirs: String,
    /// theirs ÷ ours for times and sizes: above 1 means ours is faster or smaller.
    pub ratio: Option<f64>,
    pub target: String,
    /// `None` for rows that only inform (no target).
    pub pass: Option<bool>,
    /// Raw numbers behind `ours`/`theirs`, for machines reading report.json.
    pub detail: Value,
}

impl Row {
    fn to_json(&self, bench: &str) -> Value {
        json!({
            "bench": bench,
            "label": self.label,
            "what": self.what,
            "ours": self.ours,
            "theirs": self.theirs,
            "ratio": self.ratio,
            "target": self.target,
            "pass": self.pass,
            "detail": self.detail,
        })
    }
}

/// Merges `rows` (as `bench`'s) into report.json, then renders report.md and ratios.svg
/// from all its rows.
fn write_report(
    bench: &str,
    run: &LastRun,
    rows: &[Row],
) -> Result<(String, PathBuf, PathBuf, PathBuf)> {
    let dir = util::target_dir().join("bench");
    let json_path = dir.join("report.json");
    let md_path = dir.join("report.md");
    let svg_path = dir.join("ratios.svg");

    let all = merged_rows(&json_path, bench, rows);
    let when = util::output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let skipped: Vec<Value> = run
        .skipped
        .iter()
        .map(|(b, why)| json!({ "bench": b, "why": why }))
        .collect();
    let report = json!({
        "generated_by": "cargo xtask bench",
        "ratio": "theirs / ours (above 1: ours is faster or smaller)",
        "last_run": {
            "what": run.what,
            "ran": run.ran,
            "skipped": skipped,
            "quick": run.quick,
            "at": when,
            "cores": cores,
        },
        "rows": all,
    });
    util::write_atomic(
        &json_path,
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;

    let svg = chart::ratios(&bars(&all))?;
    util::write_atomic(&svg_path, svg.as_bytes())?;

    let md = markdown(run, &when, cores, &all);
    util::write_atomic(&md_path, md.as_bytes())?;
    Ok((md, json_path, md_path, svg_path))
}

/// The rows of report.json at `json_path` that are not `bench`'s, with `rows` (as
/// `bench`'s) added, in the benchmarks' order.
fn merged_rows(json_path: &Path, bench: &str, rows: &[Row]) -> Vec<Value> {
    // Keep the other benchmarks' rows from earlier runs; a corrupt or old-format
    // report is simply started afresh.
    let mut all: Vec<Value> = fs::read(json_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|v| v.get("rows")?.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|row| row.get("bench").and_then(Value::as_str) != Some(bench))
        .collect();
    all.extend(rows.iter().map(|r| r.to_json(bench)));
    // Keep the benchmarks' order, whatever order they were run in.
    all.sort_by_key(|row| {
        let name = row.get("bench").and_then(Value::as_str).unwrap_or("");
        BENCHES
            .iter()
            .position(|b| *b == name)
            .unwrap_or(BENCHES.len())
    });
    all
}

/// The chart's bars: the rows with a ratio to draw.
fn bars(all: &[Value]) -> Vec<chart::Bar> {
    all.iter()
        .filter_map(|row| {
            let ratio = row.get("ratio").and_then(Value::as_f64)?;
            let text = |key: &str| row.get(key).and_then(Value::as_str).unwrap_or("");
            let label = match text("label") {
                // Rows from before labels existed: their description, shortened.
                "" => {
                    let what: String = text("what").chars().take(48).collect();
                    format!("{}: {what}…", text("bench"))
                }
                label => label.to_string(),
            };
            (ratio.is_finite() && ratio > 0.0).then(|| chart::Bar {
                label,
                ratio,
                pass: row.get("pass").and_then(Value::as_bool),
            })
        })
        .collect()
}

/// report.md: the table of `all` rows under a header saying what the last run was.
fn markdown(run: &LastRun, when: &str, cores: usize, all: &[Value]) -> String {
    let mut md = format!(
        "# sparkimg benchmarks\n\n\
         `cargo xtask bench <what>`; ratio = theirs ÷ ours (above 1: ours is faster or smaller). \
         Last run: `bench {}{}`, {when}, {cores} cores.\n\n\
         ![theirs ÷ ours per row, log scale](ratios.svg)\n\n\
         | bench | what | ours | theirs | ratio | target | pass |\n\
         |---|---|---|---|---|---|---|\n",
        run.what,
        if run.quick { " --quick" } else { "" },
    );
    for row in all {
        let s = |key: &str| {
            row.get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let ratio = row
            .get("ratio")
            .and_then(Value::as_f64)
            .map_or("—".to_string(), |r| format!("{r:.2}×"));
        let pass = match row.get("pass").and_then(Value::as_bool) {
            Some(true) => "yes",
            Some(false) => "**NO**",
            None => "—",
        };
        md += &format!(
            "| {} | {} | {} | {} | {ratio} | {} | {pass} |\n",
            s("bench"),
            s("what"),
            s("ours"),
            s("theirs"),
            s("target")
        );
    }
    if run.quick {
        md += &format!(
            "\nLast run (`{}`) was --quick: few samples, targets not enforced.\n",
            run.ran.join(", ")
        );
    }
    for (bench, why) in &run.skipped {
        md += &format!(
            "\nSkipped `{bench}` ({why}); its rows above, if any, are from an earlier run.\n"
        );
    }
    md
}

/// The tools a benchmark needs beyond what every machine building sparkimg has, if
/// any are missing (each benchmark also checks for itself).
fn missing_tools(bench: &str) -> Option<String> {
    let docker = || build::docker_ok();
    let skopeo = || util::have("skopeo");
    let registry = || Path::new(push::REGISTRY).is_file();
    let pigz = || util::have("pigz");
    let missing: Vec<&str> = match bench {
        "build" => [
            (docker(), "a Docker Engine"),
            (skopeo(), "skopeo"),
            (pigz(), "pigz"),
        ]
        .to_vec(),
        "engine" => [(docker(), "a Docker Engine"), (skopeo(), "skopeo")].to_vec(),
        "rebase" => [
            (docker(), "a Docker Engine"),
            (skopeo(), "skopeo"),
            (registry(), "docker-registry"),
            (util::have("umoci"), "umoci"),
        ]
        .to_vec(),
        "sign" => [
            (docker(), "a Docker Engine"),
            (registry(), "docker-registry"),
        ]
        .to_vec(),
        "push" => [
            (docker(), "a Docker Engine"),
            (skopeo(), "skopeo"),
            (registry(), "docker-registry"),
        ]
        .to_vec(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|(have, _)| !have)
    .map(|(_, name)| name)
    .collect();
    (!missing.is_empty()).then(|| missing.join(" and "))
}

/// Runs `cmd` to completion and returns its wall time in ns; fails unless it exits 0.
pub fn timed(cmd: &mut std::process::Command, name: &str) -> Result<u64> {
    cmd.stdin(std::process::Stdio::null());
    let start = std::time::Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {name}"))?;
    let ns = start.elapsed().as_nanos() as u64;
    anyhow::ensure!(status.success(), "{name} failed: {status}");
    Ok(ns)
}

/// Writes back dirty pages, so one side's writes are not paid by the other.
pub fn sync() {
    let _ = std::process::Command::new("sync").status();
}

/// min / median / max of a sample, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub min: u64,
    pub median: u64,
    pub max: u64,
}

impl Stats {
    pub fn of(samples: &[u64]) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2
        };
        Stats {
            min: sorted[0],
            median,
            max: sorted[n - 1],
        }
    }

    /// `0.412 ms (0.380–1.902)`: the median first, since that is what is judged.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}–{})",
            ms(self.median),
            ms_bare(self.min),
            ms_bare(self.max)
        )
    }

    pub fn to_json(self) -> Value {
        json!({ "min_ns": self.min, "median_ns": self.median, "max_ns": self.max })
    }
}

pub fn ms(ns: u64) -> String {
    format!("{} ms", ms_bare(ns))
}

fn ms_bare(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    if ms < 10.0 {
        format!("{ms:.3}")
    } else {
        format!("{ms:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_median() {
        assert_eq!(
            Stats::of(&[5, 1, 3]),
            Stats {
                min: 1,
                median: 3,
                max: 5
            }
        );
        assert_eq!(Stats::of(&[4, 1, 3, 2]).median, 2);
    }

    #[test]
    fn ms_formatting() {
        assert_eq!(ms(412_345), "0.412 ms");
        assert_eq!(ms(12_345_678), "12.3 ms");
    }
}
