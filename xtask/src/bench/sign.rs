//! `cargo xtask bench sign`: what `--sign-key --provenance` adds (issue 27, item 6), side
//! by side in one run on the same inputs: a cold `sparkimg build` of the 3.5 JVM image
//! into an OCI layout with and without them, and a cold `sparkimg push` of that image to
//! a loopback registry with them (the attested layout: every manifest signed, its
//! statements uploaded) and without (the plain layout). The difference of the medians is
//! the cost judged; the target is under 50 ms each.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{ensure, Result};
use serde_json::json;

use super::push::{Registry, REGISTRY};
use super::{timed, Options, Row, Stats};
use crate::util::{self, Step};

/// Signing and provenance may add at most this much to a build or a push.
const MAX_EXTRA_NS: u64 = 50_000_000;

pub fn run(opts: &Options) -> Result<Vec<Row>> {
    let runs = opts.runs.unwrap_or(if opts.quick { 1 } else { 5 });
    ensure!(runs > 0, "--runs must be positive");
    ensure!(
        Path::new(REGISTRY).is_file(),
        "needs Debian's docker-registry (apt-get install docker-registry)"
    );
    let inputs = super::build::inputs()?;
    let version = inputs.version.clone();
    let dir = util::target_dir().join("bench").join("sign");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let sparkimg = |args: &[&str]| {
        let mut c = Command::new(&inputs.sparkimg);
        // The key is written with the empty passphrase; a passphrase in the caller's
        // environment would not open it.
        c.args(args)
            .args(["--progress", "quiet"])
            .env_remove("SPARKIMG_KEY_PASSWORD")
            .stdout(Stdio::null());
        c
    };
    let prefix = dir.join("key");
    util::run(
        Command::new(&inputs.sparkimg)
            .args(["keygen", "--output-key-prefix", &path(&prefix)])
            .env_remove("SPARKIMG_KEY_PASSWORD"),
    )?;
    let sign = [
        format!("--sign-key={}.key", prefix.display()),
        "--provenance".into(),
    ];
    // A cold build (its own empty cache) into `out`, `extra` added.
    let build = |out: &Path, cache: &Path, extra: &[String]| {
        let mut c = sparkimg(&["build", "-r", "bench", "-t", &version]);
        c.arg("--base")
            .arg(&inputs.base_ref)
            .arg("--spark-home")
            .arg(&inputs.spark_home)
            .arg("--entrypoint-binary")
            .arg(&inputs.entrypoint)
            .arg("--cache-dir")
            .arg(cache)
            .arg(format!("--output=oci:{}", out.display()))
            .args(extra);
        c
    };

    let step = Step::start(format!(
        "bench: build and push with and without --sign-key --provenance, {runs} runs per side"
    ));
    let (mut plain_build, mut signed_build) = (vec![], vec![]);
    let (mut plain_push, mut signed_push) = (vec![], vec![]);
    for i in 0..runs {
        let run_dir = dir.join(format!("run-{i}"));
        let (plain, signed) = (run_dir.join("plain"), run_dir.join("signed"));
        super::sync();
        plain_build.push(timed(
            &mut build(&plain, &run_dir.join("cache-plain"), &[]),
            "sparkimg build",
        )?);
        super::sync();
        signed_build.push(timed(
            &mut build(&signed, &run_dir.join("cache-signed"), &sign),
            "sparkimg build --sign-key --provenance",
        )?);
        // A fresh registry per side: cold pushes, no mounts.
        let push = |layout: &Path, side: &str, extra: &[String]| -> Result<u64> {
            let registry = Registry::start(&run_dir, side)?;
            let to = format!("{}/bench/spark:{version}", registry.host());
            let source = format!("oci:{}", layout.display());
            let mut c = sparkimg(&["push", &source, "--to", &to]);
            c.arg("--cache-dir")
                .arg(registry.dir.join("client-cache"))
                .args(extra);
            timed(&mut c, &format!("sparkimg push ({side})"))
        };
        plain_push.push(push(&plain, "push-plain", &[])?);
        signed_push.push(push(&signed, "push-signed", &sign)?);
    }
    step.done();
    Ok(vec![
        row("build", &version, runs, &signed_build, &plain_build),
        row("push", &version, runs, &signed_push, &plain_push),
    ])
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// The row of one verb: ours with signing and provenance, theirs without, judged by the
/// difference of the medians.
fn row(verb: &str, version: &str, runs: usize, signed: &[u64], plain: &[u64]) -> Row {
    let (ours, theirs) = (Stats::of(signed), Stats::of(plain));
    let extra = ours.median.saturating_sub(theirs.median);
    let what = match verb {
        "build" => format!("cold build of spark {version} into an OCI layout"),
        _ => format!("cold push of spark {version} to a loopback registry"),
    };
    Row {
        label: format!("{verb}: signing + provenance cost"),
        what: format!(
            "{what} with --sign-key --provenance (ours) and without (theirs), same inputs, \
             side by side (median of {runs}); extra: {}",
            super::ms(extra)
        ),
        ours: ours.describe(),
        theirs: theirs.describe(),
        ratio: Some(theirs.median as f64 / ours.median.max(1) as f64),
        target: format!("< {} extra", super::ms(MAX_EXTRA_NS)),
        pass: Some(extra < MAX_EXTRA_NS),
        detail: json!({
            "runs": runs,
            "extra_ns": extra,
            "ours": ours.to_json(),
            "theirs": theirs.to_json(),
        }),
    }
}
