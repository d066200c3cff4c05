//! `cargo xtask prereqs`: the one list of system tools the project's commands need,
//! why, and which Debian package provides each. `.ci/run`, `cargo xtask demo` and
//! `cargo xtask test` all go through [`ensure`]; nothing else keeps a list.
//!
//! A missing tool is installed when we are root and have apt-get (the exact
//! `apt-get install` line is printed first, the package lists are refreshed once
//! if they are empty or old, nothing asks a question). Otherwise the command stops
//! with that line, unless every missing tool is [`Tool::optional`].

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Result};

use crate::util::{self, Step};

/// The commands that need tools; `All` is what `.ci/run` runs (every command).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum For {
    Demo,
    Test,
    E2e,
    Fuzz,
    All,
}

impl For {
    fn parse(s: &str) -> Option<For> {
        Some(match s {
            "demo" => For::Demo,
            "test" => For::Test,
            "e2e" => For::E2e,
            "fuzz" => For::Fuzz,
            "all" | "ci" => For::All,
            _ => return None,
        })
    }
}

/// How to tell that a tool is there.
#[derive(Clone, Copy, Debug)]
pub enum Probe {
    /// This argv exits 0.
    Runs(&'static [&'static str]),
    /// One of these files exists (libraries, and tools whose probe would have effects).
    AnyFile(&'static [&'static str]),
}

#[derive(Debug)]
pub struct Tool {
    pub name: &'static str,
    pub probe: Probe,
    /// The Debian package providing it, or `cargo:<crate>` for a cargo subcommand
    /// installed with `cargo install --locked` (no root needed).
    pub package: &'static str,
    pub why: &'static str,
    pub needed_by: &'static [For],
    /// The steps that use it still run without it (slower, or one branch fewer).
    pub optional: bool,
}

use For::{Demo, E2e, Fuzz, Test};

/// The list. The test suite's tools are needed by `cargo xtask test` so that no test
/// skips for a missing tool; `cargo xtask e2e` and the demo need a subset.
pub const TOOLS: &[Tool] = &[
    Tool {
        name: "cc",
        probe: Probe::Runs(&["cc", "--version"]),
        package: "gcc",
        why: "the linker rustc uses (.ci/run installs it before cargo can run)",
        needed_by: &[Demo, Test, E2e],
        optional: false,
    },
    Tool {
        name: "libc.a",
        probe: Probe::AnyFile(&[
            "/usr/lib/x86_64-linux-gnu/libc.a",
            "/usr/lib/aarch64-linux-gnu/libc.a",
        ]),
        package: "libc6-dev",
        why: "the static (+crt-static) spark-entrypoint links against it",
        needed_by: &[Demo, Test, E2e],
        optional: false,
    },
    // ISA-L, the gzip layers' deflate (builder's default feature `isal`): isal-sys
    // builds its vendored source with autotools and nasm in its build script, so these
    // must be there before anything builds builder (clippy in .ci/run, the demo, the
    // tests; the fuzz targets build builder without the feature).
    Tool {
        name: "nasm",
        probe: Probe::Runs(&["nasm", "-v"]),
        package: "nasm",
        why: "assembles ISA-L (isal-sys, the gzip layers' deflate) when builder builds",
        needed_by: &[Demo, Test, E2e],
        optional: false,
    },
    Tool {
        name: "autoreconf",
        probe: Probe::Runs(&["autoreconf", "--version"]),
        package: "autoconf",
        why: "isal-sys runs ISA-L's autogen.sh and configure when builder builds",
        needed_by: &[Demo, Test, E2e],
        optional: false,
    },
    Tool {
        name: "automake",
        probe: Probe::Runs(&["automake", "--version"]),
        package: "automake",
        why: "ISA-L's autogen.sh (isal-sys) when builder builds",
        needed_by: &[Demo, Test, E2e],
        optional: false,
    },
    Tool {
        name: "libtoolize",
        probe: Probe::Runs(&["libtoolize", "--version"]),
        package: "libtool",
        why: "ISA-L's autogen.sh (isal-sys) when builder builds",
        needed_by: &[Demo, Test, E2e],
        optional: false,
    },
    Tool {
        name: "make",
        probe: Probe::Runs(&["make", "--version"]),
        package: "make",
        why: "builds ISA-L's static library (isal-sys) when builder builds",
        needed_by: &[Demo, Test, E2e],
        optional: false,
    },
    Tool {
        name: "ca-certificates",
        probe: Probe::AnyFile(&["/etc/ssl/certs/ca-certificates.crt"]),
        package: "ca-certificates",
        why: "pip (the pyspark sdist) and cargo over HTTPS",
        needed_by: &[Demo, Test, E2e],
        optional: false,
    },
    Tool {
        name: "python3",
        probe: Probe::Runs(&["python3", "--version"]),
        package: "python3",
        why: "the loopback Spark mirror (http.server); PySpark jobs and test stand-ins",
        needed_by: &[Demo, Test, E2e],
        optional: false,
    },
    Tool {
        name: "pip",
        probe: Probe::Runs(&["python3", "-m", "pip", "--version"]),
        package: "python3-pip",
        why: "`pip download` of the pyspark sdist the fixture distribution is made from",
        needed_by: &[Demo, Test, E2e],
        optional: false,
    },
    Tool {
        name: "python3-venv",
        probe: Probe::Runs(&["python3", "-c", "import ensurepip, venv"]),
        package: "python3-venv",
        why: "the tests' Python oracles in target/*-venv (spdx-tools, cyclonedx-python-lib; \
              cryptography, PyNaCl; securesystemslib, in-toto)",
        needed_by: &[Test],
        optional: false,
    },
    Tool {
        name: "javac",
        probe: Probe::Runs(&["javac", "-version"]),
        package: "openjdk-17-jdk-headless",
        why: "javac/jar for the SparkPi fixture and e2e's --packages connector; java for host \
              runs, the SIGTERM test and the spark-submit --packages oracle",
        needed_by: &[Demo, Test, E2e],
        optional: false,
    },
    Tool {
        name: "mmdebstrap",
        probe: Probe::Runs(&["mmdebstrap", "--version"]),
        package: "mmdebstrap",
        why: "the Debian JVM base root file system the demo, engine tests and e2e build on",
        needed_by: &[Demo, Test, E2e],
        optional: false,
    },
    Tool {
        name: "unshare",
        probe: Probe::Runs(&["unshare", "--version"]),
        package: "util-linux",
        why: "PID and mount namespaces: spark-entrypoint as PID 1 (tests, host demo)",
        needed_by: &[Demo, Test],
        optional: false,
    },
    Tool {
        name: "mount",
        probe: Probe::Runs(&["mount", "--version"]),
        package: "mount",
        why: "the entrypoint tests bind-mount a private /etc/passwd and /opt",
        needed_by: &[Test],
        optional: false,
    },
    Tool {
        name: "tini",
        probe: Probe::Runs(&["tini", "--version"]),
        package: "tini",
        why: "the entrypoint benchmark compares against `tini -s` and `tini-static -s`",
        needed_by: &[Test],
        optional: false,
    },
    Tool {
        name: "valgrind",
        probe: Probe::Runs(&["valgrind", "--version"]),
        package: "valgrind",
        why: "the entrypoint benchmark counts instructions with callgrind (no perf counters in VMs)",
        needed_by: &[Test],
        optional: false,
    },
    Tool {
        name: "libnss_wrapper.so",
        probe: Probe::AnyFile(&[
            "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so",
            "/usr/lib/aarch64-linux-gnu/libnss_wrapper.so",
        ]),
        package: "libnss-wrapper",
        why: "the random-UID test's read-only /etc/passwd branch through nss_wrapper",
        needed_by: &[Test],
        optional: false,
    },
    Tool {
        name: "skopeo",
        probe: Probe::Runs(&["skopeo", "--version"]),
        package: "skopeo",
        why: "build/registry tests and benchmarks validate layouts, archives and pushes",
        needed_by: &[Test, E2e],
        optional: false,
    },
    Tool {
        name: "umoci",
        probe: Probe::Runs(&["umoci", "--version"]),
        package: "umoci",
        why: "the build tests unpack our OCI layouts with an independent tool",
        needed_by: &[Test],
        optional: false,
    },
    Tool {
        name: "busybox",
        probe: Probe::AnyFile(&["/bin/busybox", "/usr/bin/busybox"]),
        package: "busybox-static",
        why: "a runnable base for the build tests' `docker run` checks",
        needed_by: &[Test],
        optional: false,
    },
    Tool {
        name: "docker-registry",
        probe: Probe::AnyFile(&["/usr/bin/docker-registry"]),
        package: "docker-registry",
        why: "the real registry the registry tests, push benchmark and e2e push to",
        needed_by: &[Test, E2e],
        optional: false,
    },
    Tool {
        name: "openssl",
        probe: Probe::Runs(&["openssl", "version"]),
        package: "openssl",
        why: "the registry tests' test CA and token signing",
        needed_by: &[Test],
        optional: false,
    },
    Tool {
        name: "htpasswd",
        probe: Probe::Runs(&["htpasswd", "-nbB", "a", "b"]),
        package: "apache2-utils",
        why: "the registry tests' Basic auth password file",
        needed_by: &[Test],
        optional: false,
    },
    Tool {
        name: "curl",
        probe: Probe::Runs(&["curl", "--version"]),
        package: "curl",
        why: "the fetch benchmark's curl+sha512sum+tar side",
        needed_by: &[Test],
        optional: false,
    },
    Tool {
        name: "git",
        probe: Probe::Runs(&["git", "--version"]),
        package: "git",
        why: "`cargo xtask test` clones the checkout under a 0700 directory",
        needed_by: &[Test],
        optional: false,
    },
    Tool {
        name: "qemu-x86_64",
        probe: Probe::Runs(&["qemu-x86_64", "-version"]),
        package: "qemu-user",
        why: "runs a unit test as older x86_64 CPUs: ISA-L's gzip bytes must not depend on the CPU",
        needed_by: &[Test],
        optional: false,
    },
    Tool {
        name: "pigz",
        probe: Probe::Runs(&["pigz", "--version"]),
        package: "pigz",
        why: "parallel gzip for the fixture tarballs (gzip works, slower); `bench build`'s all-core gzip figure",
        needed_by: &[Demo, Test, E2e],
        optional: true,
    },
    Tool {
        name: "igzip",
        probe: Probe::Runs(&["igzip", "--version"]),
        package: "isal",
        why: "`bench build` times ISA-L's own gzip beside the build (issue 30's floor); the test step's benchmark smoke run",
        needed_by: &[Test],
        optional: false,
    },
    Tool {
        name: "cargo-fuzz",
        probe: Probe::Runs(&["cargo", "fuzz", "--version"]),
        package: "cargo:cargo-fuzz",
        why: "builds and runs the libFuzzer targets of fuzz/ (`cargo xtask fuzz`)",
        needed_by: &[Fuzz],
        optional: false,
    },
];

impl Tool {
    pub fn wanted_by(&self, what: For) -> bool {
        what == For::All || self.needed_by.contains(&what)
    }

    fn present(&self) -> bool {
        match self.probe {
            Probe::Runs(argv) => Command::new(argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            Probe::AnyFile(paths) => paths.iter().any(|p| Path::new(p).exists()),
        }
    }
}

/// The tools `what` needs that `present` says are missing.
pub fn missing(what: For, present: impl Fn(&Tool) -> bool) -> Vec<&'static Tool> {
    TOOLS
        .iter()
        .filter(|t| t.wanted_by(what) && !present(t))
        .collect()
}

/// The exact commands that install `tools` (each package once, in list order): one
/// `apt-get install` for Debian packages, one `cargo install` for cargo subcommands.
pub fn install_line(tools: &[&Tool]) -> String {
    let mut apt: Vec<&str> = Vec::new();
    let mut cargo: Vec<&str> = Vec::new();
    for tool in tools {
        let (list, name) = match tool.package.strip_prefix("cargo:") {
            Some(c) => (&mut cargo, c),
            None => (&mut apt, tool.package),
        };
        if !list.contains(&name) {
            list.push(name);
        }
    }
    let mut lines = Vec::new();
    if !apt.is_empty() {
        lines.push(format!(
            "apt-get install -y --no-install-recommends {}",
            apt.join(" ")
        ));
    }
    if !cargo.is_empty() {
        lines.push(format!("cargo install --locked {}", cargo.join(" ")));
    }
    lines.join(" && ")
}

/// What [`ensure`] does about the missing tools.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Nothing,
    Install,
    /// Can't install, but every missing tool is optional.
    Warn,
    Stop,
}

pub fn decide(missing: &[&Tool], can_install: bool) -> Action {
    if missing.is_empty() {
        Action::Nothing
    } else if can_install {
        Action::Install
    } else if missing.iter().all(|t| t.optional) {
        Action::Warn
    } else {
        Action::Stop
    }
}

/// Lists older than this are refreshed before an install, so a package that a
/// mirror has since replaced is not asked for at a version that is gone.
const STALE_LISTS: Duration = Duration::from_secs(24 * 3600);

/// Whether apt's package lists are missing or the newest is older than [`STALE_LISTS`]
/// (apt dates a list by the server's Last-Modified, so one old list proves nothing).
fn lists_stale() -> bool {
    let newest = std::fs::read_dir("/var/lib/apt/lists")
        .into_iter()
        .flatten()
        .flatten()
        // `…_Packages`, or compressed (`…_Packages.lz4`) when apt is configured so.
        .filter(|e| e.file_name().to_string_lossy().contains("_Packages"))
        .filter_map(|e| e.metadata().ok()?.modified().ok())
        .max();
    newest.is_none_or(|t| {
        SystemTime::now()
            .duration_since(t)
            .is_ok_and(|age| age > STALE_LISTS)
    })
}

fn is_root() -> bool {
    util::output(Command::new("id").arg("-u")).is_ok_and(|u| u.trim() == "0")
}

fn apt(args: &[&str]) -> Result<()> {
    let mut cmd = Command::new("apt-get");
    cmd.args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null());
    util::run(&mut cmd)
}

/// Makes sure the tools `what` needs are there (see the module comment).
pub fn ensure(what: For) -> Result<()> {
    let gone = missing(what, Tool::present);
    let can_install = is_root() && util::have("apt-get");
    let line = install_line(&gone);
    match decide(&gone, can_install) {
        Action::Nothing => {
            eprintln!(
                "prereqs: all {} tools present; nothing to install",
                TOOLS.iter().filter(|t| t.wanted_by(what)).count()
            );
            return Ok(());
        }
        Action::Warn => {
            for tool in &gone {
                eprintln!("warning: {} is missing ({})", tool.name, tool.why);
            }
            eprintln!("hint: {line}");
            return Ok(());
        }
        Action::Stop => {
            let list: Vec<String> = gone
                .iter()
                .map(|t| format!("  {} ({}): {}", t.name, t.package, t.why))
                .collect();
            bail!("missing tools:\n{}\nhint: as root: {line}", list.join("\n"));
        }
        Action::Install => {}
    }
    let step = Step::start(format!(
        "prereqs: install {} missing tool(s) (about a minute per 100 MB of packages)",
        gone.len()
    ));
    eprintln!("prereqs: {line}");
    for part in line.split(" && ") {
        match part.strip_prefix("cargo ") {
            Some(rest) => util::run(Command::new("cargo").args(rest.split(' ')))?,
            None => apt_install(part)?,
        }
    }
    step.done();
    let still = missing(what, Tool::present);
    if !still.is_empty() {
        let names: Vec<&str> = still.iter().map(|t| t.name).collect();
        bail!("still missing after the install: {}", names.join(", "));
    }
    Ok(())
}

/// One `apt-get install …` line, refreshing stale or too old lists first.
fn apt_install(line: &str) -> Result<()> {
    let mut args: Vec<&str> = line.split(' ').skip(1).collect();
    args.insert(1, "-q");
    let mut updated = false;
    if lists_stale() {
        apt(&["update", "-q"])?;
        updated = true;
    }
    if apt(&args).is_err() && !updated {
        // A package the lists do not know yet: refresh them once and retry.
        apt(&["update", "-q"])?;
        apt(&args)?;
    }
    Ok(())
}

const USAGE: &str = "usage: cargo xtask prereqs [--install] [demo|test|e2e|fuzz|all]";

/// `cargo xtask prereqs [--install] [FOR]`: report (and with --install, install).
pub fn main(args: Vec<String>) -> Result<()> {
    let mut install = false;
    let mut what = For::All;
    for arg in args {
        match arg.as_str() {
            "--install" => install = true,
            other => match For::parse(other) {
                Some(w) => what = w,
                None => bail!("prereqs: unknown argument {other:?}\n{USAGE}"),
            },
        }
    }
    if install {
        return ensure(what);
    }
    let mut gone = Vec::new();
    for tool in TOOLS.iter().filter(|t| t.wanted_by(what)) {
        let present = tool.present();
        println!(
            "{} {:<18} {:<24} {}",
            if present { "ok     " } else { "MISSING" },
            tool.name,
            tool.package,
            tool.why
        );
        if !present {
            gone.push(tool);
        }
    }
    match decide(&gone, false) {
        Action::Nothing => println!("all present"),
        Action::Warn => println!("hint: {}", install_line(&gone)),
        _ => bail!(
            "tools are missing\nhint: cargo xtask prereqs --install, or as root: {}",
            install_line(&gone)
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(names: &[&str]) -> Vec<&'static Tool> {
        names
            .iter()
            .map(|n| TOOLS.iter().find(|t| t.name == *n).expect("listed"))
            .collect()
    }

    #[test]
    fn every_tool_is_needed_by_something_and_named_once() {
        for (i, tool) in TOOLS.iter().enumerate() {
            assert!(!tool.needed_by.is_empty(), "{}", tool.name);
            assert!(
                TOOLS[..i].iter().all(|t| t.name != tool.name),
                "{} twice",
                tool.name
            );
        }
    }

    #[test]
    fn missing_follows_the_command() {
        let none = |_: &Tool| false;
        let demo = missing(For::Demo, none);
        assert!(demo.iter().any(|t| t.name == "mmdebstrap"));
        assert!(!demo.iter().any(|t| t.name == "umoci"));
        assert_eq!(missing(For::All, none).len(), TOOLS.len());
        assert!(missing(For::Test, |_| true).is_empty());
        let only_skopeo = missing(For::E2e, |t| t.name != "skopeo");
        assert_eq!(only_skopeo.len(), 1);
    }

    #[test]
    fn one_package_once_in_the_line() {
        assert_eq!(
            install_line(&named(&["unshare", "skopeo", "unshare"])),
            "apt-get install -y --no-install-recommends util-linux skopeo"
        );
    }

    #[test]
    fn cargo_subcommands_install_with_cargo() {
        assert_eq!(
            install_line(&named(&["cargo-fuzz", "skopeo", "cargo-fuzz"])),
            "apt-get install -y --no-install-recommends skopeo && cargo install --locked cargo-fuzz"
        );
        assert_eq!(
            install_line(&named(&["cargo-fuzz"])),
            "cargo install --locked cargo-fuzz"
        );
    }

    #[test]
    fn decisions() {
        assert_eq!(decide(&[], false), Action::Nothing);
        assert_eq!(decide(&named(&["pigz"]), true), Action::Install);
        assert_eq!(decide(&named(&["pigz"]), false), Action::Warn);
        assert_eq!(decide(&named(&["pigz", "umoci"]), false), Action::Stop);
    }
}
