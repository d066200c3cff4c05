//! `cargo xtask bench rebase`: `sparkimg rebase` of the 3.5 JVM image registry to
//! registry onto a patched base, against what it replaces, a fresh `sparkimg build
//! --push` on that base. One loopback registry per run; both sides start with an empty
//! client cache, as a nightly CI job does.
//!
//! The bases: the fixture JVM base as an OCI layout (v1) and the same plus one layer (v2,
//! made with `umoci raw add-layer`), pushed in turn under one tag (untimed).

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{ensure, Context, Result};
use serde_json::json;

use super::push::{Registry, REGISTRY};
use super::{timed, Options, Row, Stats};
use crate::util::{self, Step};

pub fn run(opts: &Options) -> Result<Vec<Row>> {
    let runs = opts.runs.unwrap_or(if opts.quick { 1 } else { 3 });
    ensure!(runs > 0, "--runs must be positive");
    ensure!(
        Path::new(REGISTRY).is_file() && util::have("umoci"),
        "needs Debian's docker-registry and umoci (apt-get install docker-registry umoci)"
    );
    let inputs = super::build::inputs()?;
    let version = inputs.version.clone();
    let dir = util::target_dir().join("bench").join("rebase");
    fs::create_dir_all(&dir)?;
    let v2 = patched_base(&inputs.base_ref, &dir)?;
    // A subcommand with its arguments, quiet, on `cache`.
    let sparkimg = |cache: &Path, args: &[&str]| {
        let mut c = Command::new(&inputs.sparkimg);
        c.args(args)
            .args(["--progress", "quiet"])
            .arg("--cache-dir")
            .arg(cache)
            .stdout(Stdio::null());
        c
    };
    let build = |cache: &Path, repo: &str, base: &str| {
        let args = [
            "build", "-r", repo, "-t", &version, "--push", "--base", base,
        ];
        let mut c = sparkimg(cache, &args);
        c.arg("--spark-home")
            .arg(&inputs.spark_home)
            .arg("--entrypoint-binary")
            .arg(&inputs.entrypoint);
        c
    };

    let step = Step::start(format!(
        "bench: rebase registry to registry vs build --push, {runs} runs per side"
    ));
    let (mut ours, mut theirs) = (vec![], vec![]);
    let mut rebase_gets = 0;
    for i in 0..runs {
        let registry = Registry::start(&dir, &format!("rebase-{i}"))?;
        let host = registry.host();
        let tag = format!("{host}/base:17");
        let setup = registry.dir.join("setup-cache");
        let push_base =
            |layout: &str| util::run(&mut sparkimg(&setup, &["push", layout, "--to", &tag]));
        // The image as built before the patch, then the tag moves to the patched base.
        push_base(&inputs.base_ref)?;
        util::run(&mut build(&setup, &format!("{host}/bench"), &tag))?;
        push_base(&v2)?;
        let image = format!("{host}/bench/spark:{version}");
        super::sync();
        let before = registry.log_len();
        let args = ["rebase", &image, "--base", &tag, "--push"];
        let mut rebase = sparkimg(&registry.dir.join("rebase-cache"), &args);
        ours.push(timed(&mut rebase, "sparkimg rebase")?);
        rebase_gets = registry
            .requests_since(before)
            .iter()
            .filter(|(m, u)| m == "GET" && u.contains("/bench/spark/blobs/"))
            .count();
        super::sync();
        let fresh = registry.dir.join("build-cache");
        theirs.push(timed(
            &mut build(&fresh, &format!("{host}/fresh"), &tag),
            "sparkimg build --push",
        )?);
    }
    step.done();

    let ours = Stats::of(&ours);
    let theirs = Stats::of(&theirs);
    Ok(vec![Row {
        label: "rebase: registry to registry vs build --push".into(),
        what: format!(
            "rebase spark {version} onto a patched base, registry to registry, cold client cache \
             (median of {runs}; {rebase_gets} blob GETs from the image's repository: config, \
             system layer, SBOM document); theirs: sparkimg build --push on that base, cold cache"
        ),
        ours: ours.describe(),
        theirs: theirs.describe(),
        ratio: Some(theirs.median as f64 / ours.median.max(1) as f64),
        target: String::new(),
        pass: None,
        detail: json!({ "runs": runs, "image_blob_gets": rebase_gets, "ours": ours.to_json(), "theirs": theirs.to_json() }),
    }])
}

/// v2 of the base: the v1 layout (`oci:DIR:REF`) with one more layer, a changed file,
/// as a base's patch release adds one. Blobs are hard links (umoci only adds files).
fn patched_base(v1: &str, dir: &Path) -> Result<String> {
    let rest = v1
        .strip_prefix("oci:")
        .context("the bench base is not an oci: layout")?;
    let (src, tag) = rest.rsplit_once(':').context("the bench base has no tag")?;
    let layout = dir.join("base-v2");
    let _ = fs::remove_dir_all(&layout);
    util::run(Command::new("cp").arg("-al").arg(src).arg(&layout))?;
    // index.json is rewritten by umoci: a copy of its own, not a link to v1's.
    fs::remove_file(layout.join("index.json"))?;
    fs::copy(Path::new(src).join("index.json"), layout.join("index.json"))?;
    let files = dir.join("patch");
    fs::create_dir_all(files.join("etc"))?;
    fs::write(files.join("etc/sparkimg-bench-patch"), "patched\n")?;
    let tar = dir.join("patch.tar");
    util::run(
        Command::new("tar")
            .arg("-cf")
            .arg(&tar)
            .arg("-C")
            .arg(&files)
            .arg("etc"),
    )?;
    util::run(
        Command::new("umoci")
            .args(["raw", "add-layer", "--image"])
            .arg(format!("{}:{tag}", layout.display()))
            .arg(&tar),
    )?;
    Ok(format!("oci:{}:{tag}", layout.display()))
}
