//! `cargo xtask`: the project's build, fixture, benchmark and test automation.
//!
//! Run `cargo xtask help` for the commands. Everything here is plain Rust plus Debian
//! system tools (tar, gzip/pigz, sha*sum, pip, javac, mmdebstrap, …): `prereq` lists
//! them and installs what is missing, so a fresh clone needs no other installer.

mod base;
mod bench;
mod demo;
mod dist;
mod e2e;
mod elf;
mod fixtures;
mod fuzz;
mod lines;
mod prereq;
mod test;
mod util;

use anyhow::{bail, Result};

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  demo [--spark SEL] [--slices N]
                              the main job on embedded defaults: serve the fixture Spark
                              distribution on loopback, build an image of it without a
                              daemon, load it and run SparkPi in a container (on the host
                              under spark-entrypoint as PID 1 when no Docker Engine answers)
  prereqs [--install] [demo|test|e2e|all]
                              list the Debian tools each command needs and which are
                              missing; --install installs them (root + apt-get)
  fixtures [--spark SEL]...   assemble Spark distributions from PyPI's pyspark sdist into
                              target/fixtures/ (SEL: 3.5.x (default), 4.x, all, lines (the
                              newest of every line from 3.0), or an exact version like
                              3.5.9; repeat or comma-separate for several),
                              plus target/fixtures/sparkpi.jar and target/fixtures/pi.py
         [--base]             also build target/fixtures/base/bookworm-jre17.tar (mmdebstrap
                              from the configured Debian mirror; cached by its inputs)
         [--docker-base]      --base, then `docker import` it as
                              sparkimg-fixture/base:bookworm-jre17 if Docker is reachable
         [--line-bases]       the per-line matrix's bases: bullseye + Java 11, bookworm +
                              17, trixie + 21 (mmdebstrap, in parallel, cached)
  dist [--musl]               build the static spark-entrypoint into target/dist/ and check
                              it is static and at most 1.5 MB
  bench entrypoint [--quick] [--runs N]
                              time our entrypoint against a bash entrypoint.sh under tini;
                              writes target/bench/report.{md,json}
  bench fetch [--quick] [--runs N]
                              time `sparkimg fetch` (release build) against
                              curl && sha512sum -c && tar xzf from a loopback mirror
  bench build [--quick] [--runs N]
                              time `sparkimg build` (cold, unchanged, one layer changed)
                              against `docker build` of a COPY-only Dockerfile
                              of the fixture; rows merged into the same report
  bench push [--quick] [--runs N]
                              time `sparkimg push` against `skopeo copy` to a loopback
                              docker-registry; count an unchanged re-push's requests
  bench engine [--quick] [--runs N]
                              time `sparkimg build --load` (daemonless) and
                              `sparkimg build --engine docker` against `docker build`
  bench all [--quick]         all of the above in turn, one report plus
                              target/bench/ratios.svg (`cargo xtask test` runs --quick)
  bench table [--report FILE] [--write DOC]
                              the benchmark table of target/bench/report.json as markdown;
                              --write puts it between DOC's markers (docs/benchmarks.md)
  e2e [--engine auto|daemonless|docker|both] [FILTER...]
                              real Spark jobs in containers built by sparkimg, started
                              as Spark's Kubernetes backend starts pods, on a Docker
                              Engine (tests/, ~6 min; needs docker, skopeo, docker-registry)
  fuzz [--secs N] [TARGET...] build the cargo-fuzz targets of fuzz/ (RUSTC_BOOTSTRAP=1) and
                              run each for N seconds (default 25, CI's smoke run) from
                              fuzz/seeds/; a crash fails with the input in fuzz/artifacts/
  fuzz --lint                 rustfmt and clippy -D warnings over fuzz/ (not a workspace
                              member, so `cargo clippy --workspace` misses it)
  e2e --lines|--all [--spark SEL]
                              the per-line matrix: every Spark line from 3.0 on each Java
                              it supports (--all: every scenario on every line); writes
                              target/e2e/report.{json,md}
  test                        prerequisites and fixtures, the workspace tests (nextest if
                              installed), a bench smoke run, and the privileged entrypoint
                              tests from a clone under a 0700 directory; lists what skipped
  help                        this text";

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        println!("{USAGE}");
        return Ok(());
    }
    let command = args.remove(0);
    match command.as_str() {
        "demo" => demo::main(args),
        "prereqs" => prereq::main(args),
        "fixtures" => fixtures::main(args),
        "dist" => dist::main(args),
        "bench" => bench::main(args),
        "test" => test::main(args),
        "fuzz" => fuzz::main(args),
        "e2e" => e2e::main(args),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n{USAGE}"),
    }
}
