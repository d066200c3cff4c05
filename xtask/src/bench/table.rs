//! `cargo xtask bench table [--report FILE] [--write DOC]`: the table of
//! docs/benchmarks.md, rendered from `target/bench/report.json`, so the published
//! figures are the measured ones. It prints the table; `--write` puts it between the
//! markers in DOC instead, leaving the prose around them alone.

use std::fs;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::util;

/// The line before the generated table in a document.
pub const BEGIN: &str = "<!-- bench table: `cargo xtask bench table --write docs/benchmarks.md` writes from here to the end marker -->";
/// The line after it.
pub const END: &str = "<!-- end of bench table -->";

pub fn main(args: Vec<String>) -> Result<()> {
    let mut report = util::target_dir().join("bench/report.json");
    let mut write: Option<PathBuf> = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a path"));
        match arg.as_str() {
            "--report" => report = value()?.into(),
            "--write" => write = Some(value()?.into()),
            other => {
                bail!("bench table: unknown option {other:?} (expected --report FILE, --write DOC)")
            }
        }
    }
    let bytes = fs::read(&report).with_context(|| {
        format!(
            "reading {} (run `cargo xtask bench all` first)",
            report.display()
        )
    })?;
    let json: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", report.display()))?;
    let table = render(&json)?;
    match write {
        None => print!("{table}"),
        Some(doc) => {
            let text =
                fs::read_to_string(&doc).with_context(|| format!("reading {}", doc.display()))?;
            let updated =
                replace_block(&text, &table).with_context(|| doc.display().to_string())?;
            util::write_atomic(&doc, updated.as_bytes())?;
            println!(
                "bench table: wrote {} rows into {}",
                rows(&json).len(),
                doc.display()
            );
        }
    }
    Ok(())
}

fn rows(report: &Value) -> &[Value] {
    report
        .get("rows")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The markdown of `report` (report.json): a line naming the run, then one table row
/// per measurement: its label, ours, theirs, the ratio and the target with its result.
pub fn render(report: &Value) -> Result<String> {
    let run = report
        .get("last_run")
        .context("report.json has no last_run")?;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let mut head = format!(
        "Last run: `cargo xtask bench {}{}`, {}, {} cores.",
        text(run, "what"),
        if run.get("quick").and_then(Value::as_bool) == Some(true) {
            " --quick"
        } else {
            ""
        },
        text(run, "at"),
        run.get("cores").and_then(Value::as_u64).unwrap_or(0),
    );
    for skipped in run
        .get("skipped")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        head += &format!(
            " Skipped: `{}` ({}); its rows are from an earlier run.",
            text(skipped, "bench"),
            text(skipped, "why")
        );
    }
    let mut md =
        format!("{head}\n\n| what | ours | theirs | ratio | target |\n|---|---|---|---|---|\n");
    for row in rows(report) {
        let what = match text(row, "label") {
            label if label.is_empty() => text(row, "what"),
            label => label,
        };
        let ratio = row
            .get("ratio")
            .and_then(Value::as_f64)
            .map_or(String::new(), |r| format!("{r:.2}×"));
        let target = match (
            text(row, "target"),
            row.get("pass").and_then(Value::as_bool),
        ) {
            (t, _) if t.is_empty() => String::new(),
            (t, Some(true)) => format!("{t}: met"),
            (t, Some(false)) => format!("{t}: **missed**"),
            (t, None) => t,
        };
        let cells = [what, text(row, "ours"), text(row, "theirs"), ratio, target];
        let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        md += &format!("| {} |\n", cells.join(" | "));
    }
    Ok(md)
}

/// A table cell: pipes escaped, no line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `doc` with what lies between the [`BEGIN`] and [`END`] lines replaced by `table`.
pub fn replace_block(doc: &str, table: &str) -> Result<String> {
    let (Some(begin), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        bail!("no bench table markers (the lines {BEGIN} and {END})");
    };
    if end < begin {
        bail!("the bench table's end marker comes before its start");
    }
    let after_begin = begin + BEGIN.len();
    Ok(format!("{}\n{}{}", &doc[..after_begin], table, &doc[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
      "generated_by": "cargo xtask bench",
      "last_run": {"what": "all", "ran": ["build"], "quick": false, "at": "2026-12-02 00:59 UTC", "cores": 2,
                   "skipped": [{"bench": "push", "why": "needs skopeo"}]},
      "rows": [
        {"bench": "build", "label": "build: cold vs docker build", "what": "long words",
         "ours": "3.38 s (3.30–3.51)", "theirs": "31.5 s", "ratio": 9.3412, "target": "≥ 5×", "pass": true},
        {"bench": "build", "label": "build: cold vs floor", "ours": "3.38 s", "theirs": "tar c | sha256sum: 1.65 s",
         "ratio": 0.488, "target": "≥ 0.75", "pass": false},
        {"bench": "fetch", "label": "", "what": "fetch, cached", "ours": "3.4 ms", "theirs": "—",
         "ratio": null, "target": "", "pass": null}
      ]
    }"#;

    const EXPECTED: &str = "\
Last run: `cargo xtask bench all`, 2026-12-02 00:59 UTC, 2 cores. Skipped: `push` (needs skopeo); its rows are from an earlier run.

| what | ours | theirs | ratio | target |
|---|---|---|---|---|
| build: cold vs docker build | 3.38 s (3.30–3.51) | 31.5 s | 9.34× | ≥ 5×: met |
| build: cold vs floor | 3.38 s | tar c \\| sha256sum: 1.65 s | 0.49× | ≥ 0.75: **missed** |
| fetch, cached | 3.4 ms | — |  |  |
";

    #[test]
    fn a_report_renders_to_its_table() {
        let report: Value = serde_json::from_str(SAMPLE).unwrap();
        assert_eq!(render(&report).unwrap(), EXPECTED);
    }

    #[test]
    fn the_block_between_the_markers_is_replaced() {
        let doc = format!("# Benchmarks\n\nintro\n{BEGIN}\nold table\n{END}\nprose\n");
        let new = replace_block(&doc, "| new |\n").unwrap();
        assert_eq!(
            new,
            format!("# Benchmarks\n\nintro\n{BEGIN}\n| new |\n{END}\nprose\n")
        );
        // Writing twice gives the same document.
        assert_eq!(replace_block(&new, "| new |\n").unwrap(), new);
        assert!(replace_block("no markers", "x").is_err());
        assert!(render(&serde_json::json!({"rows": []})).is_err());
    }
}
