//! `cargo xtask e2e --lines` / `--all`: the per-line matrix (issue 18). Every Spark
//! line from 3.0 to the newest 4.x (the newest patch of each, from PyPI's sdists) on
//! each Java it supports that the Debian mirror has: 11 (bullseye) for 3.0–3.2, 17 for
//! 3.3 (bullseye: its PySpark needs a Python older than 3.11) and 3.4–3.5 (bookworm),
//! 17 and 21 (trixie) for 4.x. 2.3/2.4 need Java 8, which no reachable registry has:
//! they stay covered by the entrypoint's vectors only.
//!
//! Per row (line × Java): daemonless JVM + PySpark images on that Java's base,
//! `docker load`ed as `e2e-line-j<java>/spark{,-py}:<version>`, then each scenario as
//! its own run of the e2e test binary (built once), with the line's job jar and the
//! executor JVM options its driver computes. `--lines` runs (a) on every row and the
//! other scenarios on the newest line (what CI runs; on 3.5 the plain `cargo xtask
//! e2e` runs them, see [`plan`]); `--all` runs every scenario on every row. Results go to `target/e2e/report.json` (`{"rows": [...]}`,
//! one per row × scenario) and `report.md` (lines × scenarios, docs/e2e.md's table).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use spark_version::SparkVersion as Version;

use crate::base::{self, Variant};
use crate::fixtures::{self, Dist, Selector};
use crate::util::{self, target_dir, Step};

/// One line on one Java.
pub struct Row {
    pub spark: Version,
    pub java: u32,
    pub base: &'static Variant,
}

/// The bases `v`'s line runs on, one per Java it supports that the mirror has (the
/// base's JRE is the row's Java). 3.3 runs on bullseye, not bookworm: Spark 3.3's
/// bundled cloudpickle fails on bookworm's Python 3.11 (`IndexError: tuple index out
/// of range`), and bullseye's python3 is 3.9 (Python 3.11 support came with 3.4).
fn bases(v: &Version) -> &'static [&'static Variant] {
    match (v.major, v.minor) {
        (3, 0..=2) => &[&base::BULLSEYE_JRE11],
        (3, 3) => &[&base::BULLSEYE_JRE17],
        (3, _) => &[&base::FULL],
        _ => &[&base::FULL, &base::TRIXIE_JRE21],
    }
}

/// The rows for `lines`: each line on every Java it supports that we have.
impl Row {
    /// Its work directory's name (`<version>-j<java>`).
    fn label(&self) -> String {
        format!("{}-j{}", self.spark, self.java)
    }

    /// The repository its images are loaded as.
    fn repo(&self) -> String {
        format!("e2e-line-j{}", self.java)
    }
}

pub fn rows(lines: &[Version]) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for v in lines {
        for base in bases(v) {
            let java = base
                .java()
                .with_context(|| format!("the {} base installs no OpenJDK JRE", base.name))?;
            rows.push(Row {
                spark: v.clone(),
                java,
                base,
            });
        }
    }
    Ok(rows)
}

/// The issue's scenarios (a)–(e), each an e2e test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    ExecutorsJoinDriver,
    PySpark,
    Standalone,
    SigtermDecommission,
    RandomUid,
}

pub const SCENARIOS: [Scenario; 5] = [
    Scenario::ExecutorsJoinDriver,
    Scenario::PySpark,
    Scenario::Standalone,
    Scenario::SigtermDecommission,
    Scenario::RandomUid,
];

impl Scenario {
    /// The name in report.json.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::ExecutorsJoinDriver => "executors-join-driver",
            Scenario::PySpark => "pyspark",
            Scenario::Standalone => "standalone",
            Scenario::SigtermDecommission => "sigterm-decommission",
            Scenario::RandomUid => "random-uid",
        }
    }

    /// The test in tests/tests/e2e.rs.
    fn test(self) -> &'static str {
        match self {
            Scenario::ExecutorsJoinDriver => "s1_executor_pods_join_driver_jvm",
            Scenario::PySpark => "s1_executor_pods_join_driver_pyspark",
            Scenario::Standalone => "s9_shell_free_standalone",
            Scenario::SigtermDecommission => "s4_signals_stop_and_decommission",
            Scenario::RandomUid => "s5_random_uid_and_root",
        }
    }
}

/// Whether `scenario` runs on `row`, or why not. Without `--all`, (a) runs on every
/// row and the others on the newest line's row with its newest Java: on 3.5 they are
/// what the plain `cargo xtask e2e` runs (scenarios 1, 4, 5, 9 on 3.5.9 images on the
/// bookworm + Java 17 base), so CI does not run them twice, and the newest line's other
/// Java row runs (a) only (CI's time budget, issue 18).
pub fn plan(
    row: &Row,
    scenario: Scenario,
    all: bool,
    (newest, newest_java): ((u32, u32), u32),
) -> Option<String> {
    if scenario == Scenario::ExecutorsJoinDriver
        || all
        || (row.spark.line() == newest && row.java == newest_java)
    {
        return None;
    }
    if row.spark.line() == newest {
        return Some(format!(
            "runs on java {newest_java} by default; `cargo xtask e2e --all` runs it here"
        ));
    }
    Some(if row.spark.line() == (3, 5) {
        "run on 3.5 by `cargo xtask e2e` (same base and Java); `cargo xtask e2e --all` runs it here"
            .into()
    } else {
        "runs on 3.5 and the newest line by default; `cargo xtask e2e --all` runs it here".into()
    })
}

/// Rows in flight at once. A row's image build and `docker load` are mostly disk and
/// one core, and its scenarios' JVMs mostly wait on each other (driver, executors,
/// master, worker), so on two cores two rows take little more than one; each row has
/// its own containers, networks (`SPARKIMG_E2E_RUN`), work directory and images.
const ROWS_AT_ONCE: usize = 2;

/// One line of report.json.
struct Outcome {
    scenario: Scenario,
    result: &'static str,
    seconds: f64,
    why: String,
}

pub fn main(all: bool, selectors: &[Selector], java: Option<u32>) -> Result<()> {
    let started = Instant::now();
    let fixtures = fixtures::build(selectors)?;
    let lines: Vec<Version> = fixtures.dists.iter().map(|d| d.version.clone()).collect();
    let mut rows = rows(&lines)?;
    rows.retain(|r| java.is_none_or(|j| r.java == j));
    let bases = fixtures::ensure_line_bases()?;
    let entrypoint = crate::dist::build(false)?;
    let step = Step::start("e2e: build sparkimg (release) and the e2e tests");
    util::run(util::cargo().args(["build", "--release", "--quiet", "-p", "sparkimg"]))?;
    let tests = test_binary()?;
    step.done();
    let dir = target_dir().join("e2e");
    let ctx = Ctx {
        sparkimg: target_dir().join("release/sparkimg"),
        entrypoint,
        tests,
        work: dir.join("lines"),
        cache: dir.join("cache"),
    };
    std::fs::create_dir_all(&ctx.work)?;

    let newest_line = lines.iter().max().context("no line")?.line();
    let newest_java = rows
        .iter()
        .filter(|r| r.spark.line() == newest_line)
        .map(|r| r.java)
        .max()
        .context("no row on the newest line")?;
    let newest = (newest_line, newest_java);
    let report = ctx.run_rows(&rows, &fixtures, &bases, &dir, |row, s| {
        plan(row, s, all, newest)
    })?;
    write_reports(&rows, &report, &dir, true)?;
    print_timings(&rows, &report);
    println!("e2e lines: total {:.1}s", started.elapsed().as_secs_f64());
    let mut failed = Vec::new();
    for (i, outcomes, _) in &report {
        let row = &rows[*i];
        for o in outcomes.iter().filter(|o| o.result == "fail") {
            failed.push(format!(
                "{} java {} {}: {}",
                row.spark,
                row.java,
                o.scenario.name(),
                o.why
            ));
        }
    }
    if !failed.is_empty() {
        bail!("e2e lines failed:\n  {}", failed.join("\n  "));
    }
    Ok(())
}

/// Builds the e2e test binary once and returns its path, so rows do not wait on
/// cargo's lock and each scenario is one plain process.
fn test_binary() -> Result<PathBuf> {
    let out = util::output(util::cargo().args([
        "test",
        "-p",
        "sparkimg-e2e",
        "--test",
        "e2e",
        "--no-run",
        "--message-format=json",
    ]))?;
    out.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"]["name"] == "e2e")
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .context("cargo built no e2e test executable")
}

struct Ctx {
    sparkimg: PathBuf,
    entrypoint: PathBuf,
    tests: PathBuf,
    work: PathBuf,
    cache: PathBuf,
}

impl Ctx {
    /// Every row, [`ROWS_AT_ONCE`] at a time, the rows with the most scenarios first (so
    /// the last row to finish is a short one): the rows' results in row order, each with
    /// its seconds from its image build to its last scenario. The reports are written
    /// after every row, so a run stopped halfway still leaves what it found.
    fn run_rows(
        &self,
        rows: &[Row],
        fixtures: &fixtures::Fixtures,
        bases: &[base::Base],
        dir: &Path,
        plan: impl Fn(&Row, Scenario) -> Option<String> + Sync,
    ) -> Result<Vec<(usize, Vec<Outcome>, f64)>> {
        let mut inputs = Vec::new();
        for row in rows {
            let dist = fixtures
                .dists
                .iter()
                .find(|d| d.version == row.spark)
                .context("a row without its distribution")?;
            let base = base::LINE_BASES
                .iter()
                .position(|b| b.name == row.base.name)
                .context("a row's base is not a line base")?;
            inputs.push((row, dist, bases[base].tar.as_path()));
        }
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        order.sort_by_key(|&i| {
            let runs = SCENARIOS
                .iter()
                .filter(|s| plan(inputs[i].0, **s).is_none());
            std::cmp::Reverse(runs.count())
        });
        let queue = Mutex::new(order.into_iter());
        let report = Mutex::new(Vec::new());
        let worker = || -> Result<()> {
            while let Some(i) = queue.lock().ok().and_then(|mut q| q.next()) {
                let (row, dist, base_tar) = inputs[i];
                let t0 = Instant::now();
                let images = self.build_images(row, dist, base_tar);
                let outcomes = self.run_row(row, dist, images, |s| plan(row, s));
                let took = t0.elapsed().as_secs_f64();
                println!(
                    "e2e lines: spark {} on java {} ({}): {took:.1}s",
                    row.spark, row.java, row.base.suite
                );
                let mut report = report.lock().map_err(|_| anyhow!("a row panicked"))?;
                report.push((i, outcomes, took));
                report.sort_by_key(|(i, _, _)| *i);
                write_reports(rows, &report, dir, false)?;
            }
            Ok(())
        };
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..ROWS_AT_ONCE.min(inputs.len()))
                .map(|_| scope.spawn(worker))
                .collect();
            workers
                .into_iter()
                .try_for_each(|w| w.join().unwrap_or_else(|_| Err(anyhow!("a row panicked"))))
        })?;
        report.into_inner().map_err(|_| anyhow!("a row panicked"))
    }

    /// The row's scenarios on its images, then the images removed again (each row's
    /// are ~700 MB in the Docker Engine).
    fn run_row(
        &self,
        row: &Row,
        dist: &Dist,
        images: Result<(String, String)>,
        plan: impl Fn(Scenario) -> Option<String>,
    ) -> Vec<Outcome> {
        let label = row.label();
        let images = match images {
            Ok(images) => images,
            Err(err) => {
                let why = format!("image build failed: {err:#}");
                return SCENARIOS
                    .iter()
                    .map(|s| Outcome {
                        scenario: *s,
                        result: if plan(*s).is_some() { "skip" } else { "fail" },
                        seconds: 0.0,
                        why: plan(*s).unwrap_or_else(|| why.clone()),
                    })
                    .collect();
            }
        };
        let outcomes = SCENARIOS
            .iter()
            .map(|s| match plan(*s) {
                Some(why) => Outcome {
                    scenario: *s,
                    result: "skip",
                    seconds: 0.0,
                    why,
                },
                None => self.run_scenario(row, dist, &images, &label, *s),
            })
            .collect();
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &images.0, &images.1])
            .stdout(Stdio::null())
            .status();
        outcomes
    }

    /// `sparkimg build -p` on the row's base into a docker-archive, `docker load`ed.
    fn build_images(&self, row: &Row, dist: &Dist, base_tar: &Path) -> Result<(String, String)> {
        let repo = &row.repo();
        let out = self.work.join(row.label());
        std::fs::create_dir_all(&out)?;
        let tar = out.join("images.tar");
        let _ = std::fs::remove_file(&tar);
        let version = row.spark.to_string();
        let step = Step::start(format!(
            "e2e lines: sparkimg build -r {repo} -t {version} ({})",
            row.base.name
        ));
        util::run(
            Command::new(&self.sparkimg)
                .args(["build", "-r", repo, "-t", &version, "-p"])
                .arg("--spark-home")
                .arg(&dist.tree)
                .arg("--entrypoint-binary")
                .arg(&self.entrypoint)
                .arg("--cache-dir")
                .arg(&self.cache)
                .arg("--base")
                .arg(format!("rootfs:{}", base_tar.display()))
                .arg("--output")
                .arg(format!("docker-archive:{}", tar.display())),
        )?;
        util::run(Command::new("docker").args(["load", "-q", "-i"]).arg(&tar))?;
        // The Docker Engine has them now; the archive would only take disk.
        std::fs::remove_file(&tar)?;
        step.done();
        Ok((
            format!("{repo}/spark:{version}"),
            format!("{repo}/spark-py:{version}"),
        ))
    }

    /// One scenario as its own test process; its output goes to a log file, and a
    /// failure's `why` is the assertion that failed.
    fn run_scenario(
        &self,
        row: &Row,
        dist: &Dist,
        images: &(String, String),
        label: &str,
        scenario: Scenario,
    ) -> Outcome {
        let log = self
            .work
            .join(label)
            .join(format!("{}.log", scenario.name()));
        let step = Step::start(format!(
            "e2e lines: {} on spark {} java {}",
            scenario.name(),
            row.spark,
            row.java
        ));
        let result = (|| -> Result<bool> {
            let file = std::fs::File::create(&log)?;
            let status = Command::new(&self.tests)
                .args([
                    "--ignored",
                    "--exact",
                    "--test-threads=1",
                    "--nocapture",
                    scenario.test(),
                ])
                .env("SPARKIMG_E2E_VARIANT", format!("line-j{}", row.java))
                .env("SPARKIMG_E2E_IMAGE", &images.0)
                .env("SPARKIMG_E2E_PY_IMAGE", &images.1)
                .env("SPARKIMG_E2E_TZ_IMAGE", &images.0)
                .env("SPARKIMG_E2E_FIXTURES", &dist.jobs.dir)
                .env("SPARKIMG_E2E_WORK", self.work.join(label).join("work"))
                .env("SPARKIMG_E2E_SPARK_VERSION", row.spark.to_string())
                .env(
                    "SPARKIMG_E2E_EXECUTOR_JAVA_OPTIONS",
                    dist.jobs.executor_java_options.join(" "),
                )
                .env("SPARKIMG_E2E_RUN", format!("{}-", label.replace('.', "")))
                .env(
                    "SPARKIMG_E2E_REPORT",
                    self.work.join(label).join("report.jsonl"),
                )
                .current_dir(util::root().join("tests"))
                .stdin(Stdio::null())
                .stdout(file.try_clone()?)
                .stderr(file)
                .status()
                .with_context(|| format!("cannot start {}", self.tests.display()))?;
            Ok(status.success())
        })();
        let seconds = step.done().as_secs_f64();
        let (result, why) = match result {
            Ok(true) => ("pass", String::new()),
            Ok(false) => (
                "fail",
                failure_reason(&std::fs::read_to_string(&log).unwrap_or_default(), &log),
            ),
            Err(err) => ("fail", format!("{err:#}")),
        };
        println!(
            "e2e lines: {:<22} spark {:<6} java {:<2} {result} {seconds:.1}s {why}",
            scenario.name(),
            row.spark,
            row.java
        );
        Outcome {
            scenario,
            result,
            seconds,
            why,
        }
    }
}

/// The panic message of a failed test (the line after "panicked at"), and where the
/// whole log is.
fn failure_reason(log: &str, path: &Path) -> String {
    let mut lines = log.lines();
    let message = lines
        .by_ref()
        .find(|l| l.contains("panicked at"))
        .and_then(|_| lines.next())
        .unwrap_or("the test failed");
    format!("{}; log: {}", message.trim(), path.display())
}

/// `target/e2e/report.json` and `report.md`.
fn write_reports(
    rows: &[Row],
    report: &[(usize, Vec<Outcome>, f64)],
    dir: &Path,
    last: bool,
) -> Result<()> {
    let mut json_rows = Vec::new();
    for (i, outcomes, _) in report {
        let row = &rows[*i];
        for o in outcomes {
            json_rows.push(json!({
                "spark": row.spark.to_string(),
                "java": row.java.to_string(),
                "base": row.base.suite,
                "scenario": o.scenario.name(),
                "result": o.result,
                "seconds": (o.seconds * 10.0).round() / 10.0,
                "why": o.why,
            }));
        }
    }
    let json = serde_json::to_string_pretty(&json!({ "rows": json_rows }))?;
    util::write_atomic(&dir.join("report.json"), json.as_bytes())?;
    let md = markdown(rows, report);
    util::write_atomic(&dir.join("report.md"), md.as_bytes())?;
    if last {
        println!("{md}");
        println!("e2e lines: wrote {}", dir.join("report.json").display());
    }
    Ok(())
}

/// The lines × scenarios table: ✅ pass (seconds), ❌ fail, – not run.
fn markdown(rows: &[Row], report: &[(usize, Vec<Outcome>, f64)]) -> String {
    let mut s = String::from("| Spark | Java | base |");
    for sc in SCENARIOS {
        let _ = write!(s, " {} |", sc.name());
    }
    s += "\n|---|---|---|";
    s += &"---|".repeat(SCENARIOS.len());
    s += "\n";
    for (i, outcomes, _) in report {
        let row = &rows[*i];
        let _ = write!(s, "| {} | {} | {} |", row.spark, row.java, row.base.suite);
        for o in outcomes {
            let cell = match o.result {
                "pass" => format!("pass ({:.0} s)", o.seconds),
                "fail" => "**FAIL**".to_string(),
                _ => "–".to_string(),
            };
            let _ = write!(s, " {cell} |");
        }
        s += "\n";
    }
    s
}

fn print_timings(rows: &[Row], report: &[(usize, Vec<Outcome>, f64)]) {
    println!("\ne2e lines: per-line timings (images + scenarios)");
    for (i, outcomes, took) in report {
        let row = &rows[*i];
        let ran: f64 = outcomes.iter().map(|o| o.seconds).sum();
        println!(
            "  spark {:<6} java {:<2} {:<9} {took:>7.1}s  (scenarios {ran:.1}s)",
            row.spark, row.java, row.base.suite
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn each_line_runs_on_the_javas_it_supports() {
        let lines: Vec<Version> = [
            "3.0.3", "3.2.4", "3.3.4", "3.4.4", "3.5.9", "4.0.5", "4.3.0",
        ]
        .iter()
        .map(|s| v(s))
        .collect();
        let got: Vec<(String, u32, &str)> = rows(&lines)
            .unwrap()
            .iter()
            .map(|r| (r.spark.to_string(), r.java, r.base.name))
            .collect();
        let want: Vec<(String, u32, &str)> = [
            ("3.0.3", 11, "bullseye-jre11"),
            ("3.2.4", 11, "bullseye-jre11"),
            ("3.3.4", 17, "bullseye-jre17"),
            ("3.4.4", 17, "bookworm-jre17"),
            ("3.5.9", 17, "bookworm-jre17"),
            ("4.0.5", 17, "bookworm-jre17"),
            ("4.0.5", 21, "trixie-jre21"),
            ("4.3.0", 17, "bookworm-jre17"),
            ("4.3.0", 21, "trixie-jre21"),
        ]
        .iter()
        .map(|(s, j, b)| (s.to_string(), *j, *b))
        .collect();
        assert_eq!(got, want);
        // sparkimg refuses a Java its table does not list: every row must be one it builds.
        for r in rows(&lines).unwrap() {
            let verdict = r.spark.java_support().expect("a line of the table");
            assert!(verdict.supports(r.java), "{} on Java {}", r.spark, r.java);
        }
    }

    /// 3.3's PySpark cannot run on Python 3.11 (bookworm's), so none of its
    /// scenarios may land on bookworm; 3.4 is the first line that runs there.
    #[test]
    fn spark_3_3_runs_on_bullseye_for_its_python() {
        for patch in ["3.3.0", "3.3.4"] {
            let rows = rows(&[v(patch)]).unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].base.suite, "bullseye");
            assert_eq!(rows[0].java, 17);
        }
        assert_eq!(rows(&[v("3.4.0")]).unwrap()[0].base.suite, "bookworm");
    }

    /// Every base a row uses is a line base (built by `fixtures --line-bases`, found
    /// by `main`), and every line base has a JRE the rows can name.
    #[test]
    fn every_rows_base_is_a_line_base() {
        let lines: Vec<Version> = (0..=5)
            .map(|m| v(&format!("3.{m}.0")))
            .chain((0..=3).map(|m| v(&format!("4.{m}.0"))))
            .collect();
        let javas: Vec<Option<u32>> = base::LINE_BASES.iter().map(|b| b.java()).collect();
        assert_eq!(javas, [Some(11), Some(17), Some(17), Some(21)]);
        for row in rows(&lines).unwrap() {
            assert!(
                base::LINE_BASES.iter().any(|b| b.name == row.base.name),
                "{} runs on {}, not a line base",
                row.spark,
                row.base.name
            );
        }
    }

    #[test]
    fn ci_runs_a_everywhere_and_the_rest_on_the_newest() {
        let rows = rows(&[v("3.1.3"), v("3.5.9"), v("4.3.0")]).unwrap();
        for row in &rows {
            assert_eq!(
                plan(row, Scenario::ExecutorsJoinDriver, false, ((4, 3), 21)),
                None
            );
            for s in &SCENARIOS[1..] {
                let why = plan(row, *s, false, ((4, 3), 21));
                assert_eq!(why.is_none(), row.spark.major == 4 && row.java == 21);
                if row.spark.minor == 5 {
                    assert!(why.unwrap().contains("by `cargo xtask e2e`"));
                } else if row.spark.major == 4 && row.java == 17 {
                    assert!(why.unwrap().contains("java 21"));
                }
                assert_eq!(plan(row, *s, true, ((4, 3), 21)), None);
            }
        }
    }

    #[test]
    fn a_failures_why_is_its_assertion() {
        let log = "e2e[s1]: network\nthread 's1' panicked at tests/e2e.rs:90:5:\nassertion `left == right` failed: driver exit status\n";
        let why = failure_reason(log, Path::new("/t/a.log"));
        assert_eq!(
            why,
            "assertion `left == right` failed: driver exit status; log: /t/a.log"
        );
        assert_eq!(
            failure_reason("", Path::new("x")),
            "the test failed; log: x"
        );
    }
}
