//! `cargo xtask bench <what>`: our tools against what they replace.
//!
//! Each benchmark (today `entrypoint` and `fetch`; build, push and engine are meant
//! to follow as sibling modules) returns [`Row`]s. The rows of one run replace that
//! benchmark's rows in `target/bench/report.json`, so running benchmarks one at a
//! time still leaves one complete report, rendered again as `report.md`.

mod build;
mod entrypoint;
mod fetch;
mod push;

use std::fs;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::util;

const BENCHES: &str = "entrypoint, fetch, build, push";

pub fn main(args: Vec<String>) -> Result<()> {
    let mut args = args.into_iter();
    let Some(what) = args.next() else {
        bail!("bench: say what to benchmark ({BENCHES})");
    };
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
    let rows = match what.as_str() {
        "entrypoint" => entrypoint::run(&opts)?,
        "fetch" => fetch::run(&opts)?,
        "build" => build::run(&opts)?,
        "push" => push::run(&opts)?,
        other => bail!("bench: unknown benchmark {other:?} (have: {BENCHES})"),
    };
    let (md, json_path, md_path) = write_report(&what, &opts, &rows)?;
    println!("{md}");
    println!(
        "report: {}\n        {}",
        md_path.display(),
        json_path.display()
    );

    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| r.pass == Some(false))
        .map(|r| r.what.as_str())
        .collect();
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

/// One line of the report: a measurement of ours against theirs.
pub struct Row {
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

fn write_report(bench: &str, opts: &Options, rows: &[Row]) -> Result<(String, PathBuf, PathBuf)> {
    let dir = util::target_dir().join("bench");
    let json_path = dir.join("report.json");
    let md_path = dir.join("report.md");

    // Keep the other benchmarks' rows from earlier runs; a corrupt or old-format
    // report is simply started afresh.
    let mut all: Vec<Value> = fs::read(&json_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|v| v.get("rows")?.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|row| row.get("bench").and_then(Value::as_str) != Some(bench))
        .collect();
    all.extend(rows.iter().map(|r| r.to_json(bench)));
    let report = json!({
        "generated_by": "cargo xtask bench",
        "ratio": "theirs / ours (above 1: ours is faster or smaller)",
        "last_run": { "bench": bench, "quick": opts.quick },
        "rows": all,
    });
    util::write_atomic(
        &json_path,
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;

    let mut md = String::from(
        "# sparkimg benchmarks\n\n\
         `cargo xtask bench <what>`; ratio = theirs ÷ ours (above 1: ours is faster or smaller).\n\n\
         | bench | what | ours | theirs | ratio | target | pass |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for row in &all {
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
    if opts.quick {
        md += &format!("\nLast run of `{bench}` was --quick: few samples, targets not enforced.\n");
    }
    util::write_atomic(&md_path, md.as_bytes())?;
    Ok((md, json_path, md_path))
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
