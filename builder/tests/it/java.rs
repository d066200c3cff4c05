//! A base's Java against the Spark line (issue 31): the fixture JVM bases (Debian's
//! JREs, read from their `release` files) under builds and rebases of the build
//! theme's synthetic distribution, its `RELEASE` naming the Spark version.

use std::path::PathBuf;
use std::process::Output;

use sparkimg::exit;

use crate::build::{fails, write, Fixture};
use crate::common::{self, Ran};

/// A fixture JVM base as a `rootfs:` base; `None` (skipped) when not built here.
fn fixture_base(name: &str) -> Option<String> {
    let tar = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/fixtures/base")
        .join(format!("{name}.tar"));
    if !tar.is_file() {
        common::skip(&format!(
            "{} is missing: run `cargo xtask fixtures --base`",
            tar.display()
        ));
        return None;
    }
    Some(format!("--base=rootfs:{}", tar.display()))
}

/// The fixture's distribution as Spark `version`.
fn spark_as(fx: &Fixture, version: &str) {
    let release = format!("Spark {version} built for Hadoop 2.7.3\n");
    write(&fx.p("spark/RELEASE"), release.as_bytes(), 0o644);
}

fn build(fx: &Fixture, base: &str, out: &str, extra: &[&str]) -> Output {
    let out = format!("--output=oci:{}", fx.p(out).display());
    let mut args = vec![base, "-t", "t", &out];
    args.extend_from_slice(extra);
    fx.build(&args, None)
}

fn warnings(o: &Output) -> Vec<String> {
    o.stderr_text()
        .lines()
        .filter(|l| l.starts_with("sparkimg: warning:"))
        .map(String::from)
        .collect()
}

#[test]
fn spark_2_4_on_java_17_is_refused_and_built_on_purpose() {
    let Some(base) = fixture_base("bookworm-jre17") else {
        return;
    };
    let fx = Fixture::new();
    spark_as(&fx, "2.4.8");
    let o = build(&fx, &base, "refused", &[]);
    fails(
        &o,
        exit::BASE_OR_DIST,
        "Spark 2.4.8 does not run on Java 17",
    );
    let err = o.stderr_text();
    for needle in [
        "/usr/lib/jvm/java-17-openjdk-amd64/release",
        "it runs on Java 8",
        "hint: use a base with Java 8 (e.g. --base eclipse-temurin:8-jre), or pass \
         --allow-unsupported-java",
    ] {
        assert!(err.contains(needle), "expected '{needle}' in: {err}");
    }
    assert!(
        !fx.p("refused").exists(),
        "a refused build wrote its output"
    );

    let o = build(&fx, &base, "allowed", &["--allow-unsupported-java"]);
    o.ok();
    let w = warnings(&o);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("Spark 2.4.8 on Java 17") && w[0].contains("runs on Java 8"),
        "{w:?}"
    );
    assert!(fx.p("allowed/index.json").is_file());

    // A pair the table has builds without a word about Java.
    spark_as(&fx, "3.5.3");
    let o = build(&fx, &base, "fine", &[]);
    o.ok();
    assert_eq!(warnings(&o), Vec::<String>::new());

    // A layout base (the image just built: Java 17) and a version from the flags: refused
    // before the distribution is downloaded (the only mirror refuses connections).
    let layout = format!("--base=oci:{}", fx.p("fine").display());
    let fetching = common::Sparkimg::new()
        .args([
            "build",
            &layout,
            "--spark-version",
            "2.4.8",
            "--no-default-mirrors",
        ])
        .args(["--mirror", "http://127.0.0.1:9/", "--output=oci:early"])
        .arg("--entrypoint-binary")
        .arg(crate::build::entrypoint())
        .cache(fx.p("cache"))
        .current_dir(fx.dir.path())
        .run();
    fails(
        &fetching,
        exit::BASE_OR_DIST,
        "Spark 2.4.8 does not run on Java 17",
    );
    assert!(
        !fetching.stderr_text().contains("127.0.0.1"),
        "{}",
        fetching.stderr_text()
    );
}

#[test]
fn spark_3_2_on_java_11_builds_and_on_java_21_does_not() {
    let (Some(jre11), Some(jre21)) = (fixture_base("bullseye-jre11"), fixture_base("trixie-jre21"))
    else {
        return;
    };
    let fx = Fixture::new();
    spark_as(&fx, "3.2.4");
    let o = build(&fx, &jre11, "fine", &[]);
    o.ok();
    assert_eq!(warnings(&o), Vec::<String>::new());
    let o = build(&fx, &jre21, "refused", &[]);
    fails(
        &o,
        exit::BASE_OR_DIST,
        "Spark 3.2.4 does not run on Java 21",
    );
    fails(&o, exit::BASE_OR_DIST, "it runs on Java 8 and 11");
}

#[test]
fn rebase_onto_an_unsupported_java_is_refused() {
    let Some(base) = fixture_base("bookworm-jre17") else {
        return;
    };
    // Built on purpose on the synthetic base (Java 17 by its JAVA_HOME's name).
    let fx = Fixture::new();
    spark_as(&fx, "2.4.8");
    let o = fx.build(
        &["-t", "t", "--output=oci:img", "--allow-unsupported-java"],
        None,
    );
    o.ok();
    assert!(warnings(&o)[0].contains("JAVA_HOME"), "{:?}", warnings(&o));
    let rebase = |out: &str, extra: &[&str]| {
        let out = format!("--output=oci:{}", fx.p(out).display());
        let image = format!("oci:{}", fx.p("img").display());
        let mut args = vec!["rebase", &image, &base, &out];
        args.extend_from_slice(extra);
        common::Sparkimg::new()
            .args(args)
            .cache(fx.p("cache"))
            .current_dir(fx.dir.path())
            .run()
    };
    let o = rebase("refused", &[]);
    fails(
        &o,
        exit::BASE_OR_DIST,
        "Spark 2.4.8 does not run on Java 17",
    );
    fails(&o, exit::BASE_OR_DIST, "java-17-openjdk-amd64/release");
    let o = rebase("allowed", &["--allow-unsupported-java"]);
    o.ok();
    assert!(
        o.stderr_text().contains("Spark 2.4.8 on Java 17"),
        "{}",
        o.stderr_text()
    );
}

/// `--engine docker`: the base the daemon has (Debian's JRE 17, no JAVA_VERSION in its
/// config) is read through a throwaway container, before the daemon builds anything.
#[test]
fn engine_build_refuses_spark_2_4_on_java_17() {
    let Some(env) = crate::engine::env() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let engine = |extra: &[&str]| {
        common::Sparkimg::new()
            .args(["build", "--engine", "docker", "--base", crate::engine::BASE])
            .arg("--spark-home")
            .arg(&env.dist)
            .arg("--entrypoint-binary")
            .arg(&env.entrypoint)
            .args(["-r", "sparkimg-java-test", "-t", "refused"])
            .args(extra)
            .cache(dir.path().join("cache"))
            .current_dir(dir.path())
            .run()
    };
    let o = engine(&["--spark-version", "2.4.8"]);
    fails(
        &o,
        exit::BASE_OR_DIST,
        "Spark 2.4.8 does not run on Java 17",
    );
    fails(&o, exit::BASE_OR_DIST, "java-17-openjdk-amd64/release");
    let listed = std::process::Command::new("docker")
        .args(["images", "-q", "sparkimg-java-test/spark:refused"])
        .output()
        .unwrap();
    assert!(
        listed.stdout.is_empty(),
        "a refused engine build made an image"
    );
}
