//! Upstream's recorded entrypoint behaviour against ours.
//!
//! Every `*.jsonl` file in `tests/vectors/` holds cases recorded by running Spark's real
//! `entrypoint.sh` files (see `/work/shared/entrypoint-vectors/README.md` for the format;
//! drop a held-out file beside `public.jsonl` and it is run too). Each case becomes two
//! trials:
//!
//! * `vectors::planner::<id>`: the pure planner, with a probe that answers from the
//!   container the case recorded (java on PATH, `hadoop classpath`, `python -V`, cwd);
//! * `vectors::binary::<id>`: the real binary, `spark-entrypoint --print-plan ARGS…`
//!   with the case's environment plus `SPARK_VERSION`, inside a private mount namespace whose `/opt` (and
//!   `/usr/lib/jvm`) hold stand-ins for that container's java, hadoop and python.
//!
//! What is asserted (docs/entrypoint.md, "Differences from upstream", says why):
//! * upstream families, cases not flagged `upstream_quirk`: the exact argv (as a multiset
//!   for the option segment where the recorded order is unspecified), the variables set,
//!   the pass-through notice; expected failures must fail, with upstream's message;
//! * cases where a variable the role needs is missing: exit 64 naming the variables;
//! * `master`/`worker`/`history`: our standalone roles instead of upstream's pass-through;
//! * quirk cases and the spark-docker families: our documented behaviour, rule by rule.
//!   A quirk with no rule fails, so a new kind of case cannot pass unexamined.
//!
//! `tests/vectors/roles/*.jsonl` hold cases in the same format for roles upstream has
//! no script for (`connect`): written by us from `sbin/start-connect-server.sh` and
//! docs/entrypoint.md, their `expect` is our contract (exact argv and variables, or the
//! exit status and message parts), and `context.jars` lists `$SPARK_HOME/jars`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

use spark_entrypoint::inputs::Env;
use spark_entrypoint::launcher::{LAUNCHER_MAIN, SUBMIT_CLASS};
use spark_entrypoint::plan::{self, Prepare};
use spark_entrypoint::probe::{PathKind, Probe};
use spark_entrypoint::version::{Contract, SparkVersion};

use crate::common;

const PASSWD_FAILURE: &str = "Container ENTRYPOINT failed to add passwd entry for anonymous UID\n";

#[derive(Debug, Clone)]
struct Vector {
    id: String,
    family: String,
    spark_version: String,
    scenario: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    context: Value,
    expect: Value,
    quirk: bool,
    /// From `tests/vectors/roles/`: our contract, not a recording of upstream.
    ours: bool,
}

/// What our entrypoint did with a case.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Planned {
        argv: Vec<String>,
        env: BTreeMap<String, String>,
        /// The launcher step's argv (the new field beside upstream's argv), if any.
        launcher: Option<Vec<String>>,
        /// `Some` only for the planner trial, which sees the whole plan.
        details: Option<Details>,
    },
    Failed {
        code: i32,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct Details {
    notice: Option<String>,
    copies_from: Vec<String>,
}

/// One trial per case and way of running it (see the module comment).
pub fn trials(args: &Arguments) -> Vec<Trial> {
    let vectors = load_vectors();
    assert!(!vectors.is_empty(), "no vectors found in tests/vectors");
    // The binary trials mount over /opt in a private mount namespace, which needs
    // root: without it they are listed as ignored, with one counted skip (under CI
    // `skip_named` fails instead).
    let privileged = common::is_root();
    if !privileged && !args.list {
        common::skip_named(
            "vectors::binary::*",
            &format!("{} trials need root (unshare --mount)", vectors.len()),
        );
    }
    let mut trials = Vec::new();
    for vector in vectors {
        let v = vector.clone();
        trials.push(Trial::test(
            format!("vectors::planner::{}", vector.id),
            move || check(&v, &run_planner(&v)),
        ));
        trials.push(
            Trial::test(format!("vectors::binary::{}", vector.id), move || {
                check(&vector, &run_binary(&vector)?)
            })
            .with_ignored_flag(!privileged),
        );
    }
    trials
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("vector directory exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

fn load_vectors() -> Vec<Vector> {
    let ours_dir = vectors_dir().join("roles");
    let mut files = jsonl_files(&vectors_dir());
    files.extend(jsonl_files(&ours_dir));
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for file in files {
        let ours = file.starts_with(&ours_dir);
        let text = std::fs::read_to_string(&file).expect("readable vector file");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let raw: Value = serde_json::from_str(line).expect("vector is JSON");
            let strings = |v: &Value| -> Vec<String> {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .map(|s| s.as_str().expect("string").to_string())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let vector = Vector {
                id: raw["id"].as_str().expect("id").to_string(),
                family: raw["family"].as_str().expect("family").to_string(),
                spark_version: raw["spark_version"].as_str().expect("version").to_string(),
                scenario: raw["scenario"].as_str().expect("scenario").to_string(),
                args: strings(&raw["args"]),
                env: raw["env"]
                    .as_object()
                    .expect("env object")
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().expect("env value").to_string()))
                    .collect(),
                context: raw["context"].clone(),
                expect: raw["expect"].clone(),
                quirk: raw["upstream_quirk"].as_bool().unwrap_or(false),
                ours,
            };
            // The same case in two files (a held-out file that repeats public ones) runs once.
            if seen.insert(vector.id.clone()) {
                out.push(vector);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Running a case

/// Answers the planner's questions from the container a case recorded.
struct RecordedContainer<'a>(&'a Value);

impl Probe for RecordedContainer<'_> {
    fn java_home(&self, _env: &Env) -> Option<std::ffi::OsString> {
        if self.0["java_on_path"].as_bool() == Some(true) {
            self.0["java_home_reported"].as_str().map(Into::into)
        } else {
            None
        }
    }

    fn hadoop_classpath(
        &self,
        hadoop_home: &std::ffi::OsStr,
        _env: &Env,
    ) -> Result<std::ffi::OsString, String> {
        if Some(hadoop_home.to_str().unwrap_or("")) == self.0["hadoop_home_stub"].as_str() {
            Ok(self.0["hadoop_classpath"].as_str().unwrap_or("").into())
        } else {
            Err(format!(
                "{}/bin/hadoop: No such file or directory",
                hadoop_home.to_string_lossy()
            ))
        }
    }

    fn python_version(&self, python: &str, _env: &Env) -> Option<String> {
        let key = if python == "python" {
            "python_V"
        } else {
            "python3_V"
        };
        self.0[key].as_str().map(str::to_string)
    }

    fn cwd(&self) -> std::ffi::OsString {
        self.0["cwd"].as_str().unwrap_or("/").into()
    }

    fn path_kind(&self, path: &Path) -> PathKind {
        // The recorded containers are Spark images: a distribution with its jars,
        // no spark-env.sh, bash (below) and coreutils' env for `#!/usr/bin/env bash`.
        if path.ends_with("jars") {
            PathKind::Dir
        } else if path == Path::new("/usr/bin/env") {
            PathKind::File
        } else {
            PathKind::Missing
        }
    }

    fn find_program(&self, name: &str, _env: &Env) -> Option<PathBuf> {
        match name {
            "bash" => Some("/bin/bash".into()),
            "java" if self.0["java_on_path"].as_bool() == Some(true) => {
                Some("/usr/bin/java".into())
            }
            _ => None,
        }
    }

    fn fqdn(&self) -> std::ffi::OsString {
        // The binary's answer comes from the host: cases set SPARK_MASTER_HOST.
        "recorded-host".into()
    }

    fn list_dir(&self, dir: &Path) -> Vec<std::ffi::OsString> {
        // Cases that name jars (the connect role's) list them in `context.jars`.
        if dir.ends_with("jars") {
            strings(&self.0["jars"])
                .into_iter()
                .map(Into::into)
                .collect()
        } else {
            Vec::new()
        }
    }
}

fn run_planner(v: &Vector) -> Outcome {
    let mut env: Env = v
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.set("SPARK_VERSION", v.spark_version.as_str());
    let version = match spark_entrypoint::version::parse(&v.spark_version) {
        Ok(version) => version,
        Err(err) => {
            return Outcome::Failed {
                code: 64,
                message: err.to_string(),
            }
        }
    };
    let args: Vec<std::ffi::OsString> = v.args.iter().map(Into::into).collect();
    match plan::plan(&args, &env, &version, &RecordedContainer(&v.context)) {
        Ok(plan) => Outcome::Planned {
            argv: plan.argv.iter().map(|a| lossless(a)).collect(),
            env: plan
                .env
                .iter()
                .map(|(k, v)| (lossless(k), lossless(v)))
                .collect(),
            launcher: plan
                .launcher
                .as_ref()
                .map(|l| l.argv.iter().map(|a| lossless(a)).collect()),
            details: Some(Details {
                notice: plan.notice.map(|n| format!("{n}\n")),
                copies_from: plan
                    .prepare
                    .iter()
                    .map(|p| match p {
                        Prepare::CopyDirIntoCwd { from } => from.display().to_string(),
                    })
                    .collect(),
            }),
        },
        Err(err) => Outcome::Failed {
            code: err.exit_code(),
            message: err.to_string(),
        },
    }
}

fn lossless(s: &std::ffi::OsStr) -> String {
    s.to_str().expect("vectors are UTF-8").to_string()
}

/// Lays out a stand-in of the recorded container's `/opt` (and `/usr/lib/jvm`) in a temp
/// dir, then runs the binary in a private mount namespace with those bound over the real
/// ones, from `/opt/spark/work-dir`, with exactly the case's environment.
fn run_binary(v: &Vector) -> Result<Outcome, Failed> {
    let root = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let opt = root.path().join("opt");
    let jvm = root.path().join("jvm");
    let stubs = opt.join(".vector-stubs/bin");
    let cwd = v.context["cwd"].as_str().unwrap_or("/opt/spark/work-dir");
    let inside = |p: &str| -> Result<PathBuf, String> {
        if let Some(rest) = p.strip_prefix("/opt/") {
            Ok(opt.join(rest))
        } else if let Some(rest) = p.strip_prefix("/usr/lib/jvm/") {
            Ok(jvm.join(rest))
        } else {
            Err(format!("vector path {p} is outside /opt and /usr/lib/jvm"))
        }
    };
    std::fs::create_dir_all(inside(cwd)?).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&stubs).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&jvm).map_err(|e| e.to_string())?;
    lay_out_container(v, &inside, &stubs)?;

    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(concat!(
            "set -e; opt=$1; jvm=$2; cwd=$3; shift 3; ",
            "mount --bind \"$opt\" /opt; ",
            "if [ -d /usr/lib/jvm ]; then mount --bind \"$jvm\" /usr/lib/jvm; fi; ",
            "cd \"$cwd\"; exec \"$@\""
        ))
        .arg("sh")
        .arg(&opt)
        .arg(&jvm)
        .arg(cwd)
        .arg(common::BIN)
        .arg("--print-plan")
        .args(&v.args)
        .env_clear()
        .envs(&v.env)
        .env("SPARK_VERSION", &v.spark_version);
    let path = format!(
        "/opt/.vector-stubs/bin:{}",
        v.env
            .get("PATH")
            .map(String::as_str)
            .unwrap_or("/usr/bin:/bin")
    );
    command.env("PATH", path);
    let output = command
        .output()
        .map_err(|e| format!("cannot run unshare (needs root and util-linux): {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let code = output.status.code().unwrap_or(-1);
    if code != 0 {
        if stderr.contains("unshare failed") || stderr.contains("mount:") {
            return Err(format!("could not set up the mount namespace: {stderr}").into());
        }
        return Ok(Outcome::Failed {
            code,
            message: stderr,
        });
    }
    let plan: Value = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("--print-plan printed no JSON ({e}): {stdout}\n{stderr}"))?;
    let argv = plan["argv"]
        .as_array()
        .ok_or("plan has no argv")?
        .iter()
        .map(|a| a.as_str().unwrap_or("").to_string())
        .collect();
    let env = plan["env"]
        .as_object()
        .ok_or("plan has no env")?
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect();
    let launcher = match &plan["launcher"] {
        Value::Null => None,
        launcher => Some(
            launcher["argv"]
                .as_array()
                .ok_or("plan's launcher has no argv")?
                .iter()
                .map(|a| a.as_str().unwrap_or("").to_string())
                .collect(),
        ),
    };
    Ok(Outcome::Planned {
        argv,
        env,
        launcher,
        details: None,
    })
}

/// The recorded container's java, hadoop, pythons and jars, at the paths `inside` maps
/// them to; the python stubs go in `stubs`.
fn lay_out_container(
    v: &Vector,
    inside: &dyn Fn(&str) -> Result<PathBuf, String>,
    stubs: &Path,
) -> Result<(), String> {
    let ctx = &v.context;
    // Only 3.3+ look for java on PATH; older cases' JVMs live outside what we stand in for.
    if ctx["java_on_path"].as_bool() == Some(true) && version(v).detects_java_home() {
        if let Some(home) = ctx["java_home_reported"].as_str() {
            write_script(&inside(home)?.join("bin/java"), "exit 0")?;
        }
    }
    if let Some(hadoop) = ctx["hadoop_home_stub"].as_str() {
        let classpath = ctx["hadoop_classpath"].as_str().unwrap_or("");
        write_script(
            &inside(hadoop)?.join("bin/hadoop"),
            &format!("printf '%s\\n' '{}'", classpath.replace('\'', "'\\''")),
        )?;
    }
    let spark_home = v.env.get("SPARK_HOME").map_or("/opt/spark", String::as_str);
    for jar in strings(&ctx["jars"]) {
        let path = inside(&format!("{spark_home}/jars/{jar}"))?;
        std::fs::create_dir_all(path.parent().ok_or("jar path has no parent")?)
            .map_err(|e| e.to_string())?;
        std::fs::write(&path, b"").map_err(|e| e.to_string())?;
    }
    for (python, key) in [("python", "python_V"), ("python3", "python3_V")] {
        // A failing stub also hides the host's own python from the PATH search.
        let body = match ctx[key].as_str() {
            Some(version) => format!("echo '{version}'"),
            None => "exit 127".to_string(),
        };
        write_script(&stubs.join(python), &body)?;
    }
    Ok(())
}

fn write_script(path: &Path, body: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let parent = path.parent().ok_or("script path has no parent")?;
    std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).map_err(|e| e.to_string())?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------
// What we expect

fn is_upstream_family(v: &Vector) -> bool {
    !v.family.starts_with("spark-docker")
}

fn version(v: &Vector) -> SparkVersion {
    spark_entrypoint::version::parse(&v.spark_version).expect("vector versions are valid")
}

/// The variables a role needs, per the contract (written out here, not taken from the
/// planner, so that the test checks the planner rather than restating it).
fn required_variables(v: &Vector) -> Vec<&'static str> {
    let version = version(v);
    let line = (version.major, version.minor);
    let at_least = |a, b, c| version.at_least(a, b, c);
    match v.args.first().map(String::as_str) {
        Some("executor") => {
            let mut vars = vec![
                "SPARK_DRIVER_URL",
                "SPARK_EXECUTOR_ID",
                "SPARK_EXECUTOR_CORES",
                "SPARK_APPLICATION_ID",
                "SPARK_EXECUTOR_POD_IP",
                "SPARK_EXECUTOR_MEMORY",
            ];
            if at_least(3, 1, 0) {
                vars.push("SPARK_RESOURCE_PROFILE_ID");
            }
            if at_least(3, 3, 0) {
                vars.push("SPARK_EXECUTOR_POD_NAME");
            }
            vars
        }
        Some("driver") if line == (2, 3) => vec![
            "SPARK_DRIVER_BIND_ADDRESS",
            "SPARK_DRIVER_MEMORY",
            "SPARK_DRIVER_CLASS",
        ],
        Some("driver") => vec!["SPARK_DRIVER_BIND_ADDRESS"],
        Some("driver-py") if line == (2, 4) => vec!["SPARK_DRIVER_BIND_ADDRESS", "PYSPARK_PRIMARY"],
        Some("driver-r") if line == (2, 4) => vec!["SPARK_DRIVER_BIND_ADDRESS", "R_PRIMARY"],
        _ => Vec::new(),
    }
}

fn missing_variables(v: &Vector) -> Vec<&'static str> {
    required_variables(v)
        .into_iter()
        .filter(|name| v.env.get(*name).is_none_or(|value| value.is_empty()))
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Our documented order of Java options: `SPARK_JAVA_OPT_<digits>` by number, whole values.
fn documented_java_opts(v: &Vector) -> Vec<String> {
    let mut opts: Vec<(u128, &String, &String)> = v
        .env
        .iter()
        .filter_map(|(name, value)| {
            let digits = name.strip_prefix("SPARK_JAVA_OPT_")?;
            let n = digits
                .parse::<u128>()
                .ok()
                .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))?;
            Some((n, name, value))
        })
        .collect();
    opts.sort();
    opts.into_iter()
        .map(|(_, _, value)| value.clone())
        .collect()
}

/// Where the Java options sit in a java argv: after the program, up to `-Xms…` (executor)
/// or `-cp` (2.3 driver).
fn option_segment(argv: &[String]) -> std::ops::Range<usize> {
    let end = argv
        .iter()
        .position(|a| a.starts_with("-Xms") || a == "-cp")
        .unwrap_or(1);
    1..end.max(1)
}

fn replace_option_segment(expected: &[String], opts: Vec<String>) -> Vec<String> {
    let range = option_segment(expected);
    let mut out = expected[..range.start].to_vec();
    out.extend(opts);
    out.extend_from_slice(&expected[range.end..]);
    out
}

fn check(v: &Vector, got: &Outcome) -> Result<(), Failed> {
    let result = if v.ours && v.expect["launcher"] == Value::Bool(false) {
        // Our case says the script runs as it is (a pass-through where bash is).
        match got {
            Outcome::Planned {
                launcher: Some(l), ..
            } => Err(format!("want no launcher step, got {l:?}")),
            _ => Ok(()),
        }
    } else if let Some(want) = v.expect.get("launcher_tail").filter(|t| t.is_array()) {
        // Our case names what the launcher step runs (a start-*.sh script's daemon).
        let want = strings(want);
        match got {
            Outcome::Planned {
                launcher: Some(l), ..
            } => {
                let main = l.iter().position(|a| a == LAUNCHER_MAIN);
                let tail = main.map_or_else(Vec::new, |i| l[i + 1..].to_vec());
                if tail == want {
                    Ok(())
                } else {
                    Err(format!("launcher step {l:?} does not run {want:?}"))
                }
            }
            other => Err(format!(
                "want a launcher step running {want:?}, got {other:?}"
            )),
        }
    } else {
        check_launcher(got)
    };
    let result = result.and_then(|()| check_inner(v, got));
    result.map_err(|why| format!("{why}\n  case: {}\n  ours: {got:#?}", v.id).into())
}

/// The launcher step runs what upstream's `spark-submit`/`spark-class` would: the
/// same class and arguments, after `org.apache.spark.launcher.Main`. Roles that exec
/// anything else have no launcher step.
fn check_launcher(got: &Outcome) -> Result<(), String> {
    let Outcome::Planned { argv, launcher, .. } = got else {
        return Ok(());
    };
    let program = argv.first().map(String::as_str).unwrap_or("");
    let want: Option<Vec<String>> = if program.ends_with("/bin/spark-submit") {
        let mut want = vec![SUBMIT_CLASS.to_string()];
        want.extend(argv[1..].iter().cloned());
        Some(want)
    } else if program.ends_with("/bin/spark-class") {
        Some(argv[1..].to_vec())
    } else {
        None
    };
    let tail = launcher.as_ref().map(|l| {
        let main = l.iter().position(|a| a == LAUNCHER_MAIN);
        main.map_or_else(Vec::new, |i| l[i + 1..].to_vec())
    });
    if tail != want {
        return fail(format!(
            "launcher step {launcher:?} does not run upstream's {argv:?}"
        ));
    }
    Ok(())
}

fn fail<T>(why: impl Into<String>) -> Result<T, String> {
    Err(why.into())
}

fn expect_failure(got: &Outcome, code: i32, contains: &[&str]) -> Result<(), String> {
    match got {
        Outcome::Failed { code: c, message } if *c == code => {
            for needle in contains {
                if !message.contains(needle) {
                    return fail(format!(
                        "exit {code} as expected, but the message lacks {needle:?}"
                    ));
                }
            }
            Ok(())
        }
        other => fail(format!("expected exit {code}, got {other:?}")),
    }
}

/// A plan's argv, the variables it sets, and (planner trials only) the rest of it.
type PlanView<'a> = (
    &'a Vec<String>,
    &'a BTreeMap<String, String>,
    Option<&'a Details>,
);

fn planned(got: &Outcome) -> Result<PlanView<'_>, String> {
    match got {
        Outcome::Planned {
            argv, env, details, ..
        } => Ok((argv, env, details.as_ref())),
        Outcome::Failed { code, message } => {
            fail(format!("expected a plan, got exit {code}: {message}"))
        }
    }
}

fn check_inner(v: &Vector, got: &Outcome) -> Result<(), String> {
    if v.ours {
        return check_ours(v, got);
    }
    let expect = &v.expect;
    let first = v.args.first().map(String::as_str);

    // Our standalone roles (upstream passed these words through as commands).
    if let Some(role @ ("master" | "worker" | "history")) = first {
        let (argv, _, _) = planned(got)?;
        let main = match role {
            "master" => "org.apache.spark.deploy.master.Master",
            "worker" => "org.apache.spark.deploy.worker.Worker",
            _ => "org.apache.spark.deploy.history.HistoryServer",
        };
        let spark_home = v.env.get("SPARK_HOME").cloned().unwrap_or_default();
        let mut want = vec![format!("{spark_home}/bin/spark-class"), main.to_string()];
        want.extend(v.args[1..].iter().cloned());
        return if *argv == want {
            Ok(())
        } else {
            fail(format!("standalone role: want {want:?}"))
        };
    }

    // A role whose variables are missing fails before exec, naming them.
    let missing = missing_variables(v);
    if !missing.is_empty() {
        return expect_failure(got, 64, &missing);
    }

    let exit = expect["exit"].as_i64().unwrap_or(-1);
    if is_upstream_family(v) && !v.quirk {
        return check_upstream_exactly(v, got, exit);
    }
    check_documented_difference(v, got, exit)
}

/// Cases of `tests/vectors/roles/`: the argv and variables exactly, or the refusal.
fn check_ours(v: &Vector, got: &Outcome) -> Result<(), String> {
    let expect = &v.expect;
    let exit = expect["exit"].as_i64().unwrap_or(-1);
    if exit != 0 {
        let code = i32::try_from(exit).map_err(|_| format!("exit {exit} is not a status"))?;
        let parts = strings(&expect["stderr_contains"]);
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        return expect_failure(got, code, &parts);
    }
    let (argv, env, details) = planned(got)?;
    let want = strings(&expect["argv"]);
    if *argv != want {
        return fail(format!("argv differs\n  want: {want:?}"));
    }
    let want_env = env_set(expect);
    if *env != want_env {
        return fail(format!("variables set differ\n  want: {want_env:?}"));
    }
    let want_notice = expect["stdout"].as_str().map(str::to_string);
    if let Some(details) = details {
        if details.notice != want_notice {
            return fail(format!("stdout notice differs: want {want_notice:?}"));
        }
    }
    Ok(())
}

/// Non-quirk cases of the upstream families: what upstream did, exactly.
fn check_upstream_exactly(v: &Vector, got: &Outcome, exit: i64) -> Result<(), String> {
    let expect = &v.expect;
    if exit != 0 {
        let message = expect["stderr_contains"].as_str();
        return match got {
            Outcome::Failed {
                code,
                message: ours,
            } => {
                if i64::from(*code) != exit {
                    return fail(format!("upstream exited {exit}, we exited {code}"));
                }
                match message {
                    Some(m) if !ours.contains(m) => fail(format!("message lacks upstream's {m:?}")),
                    _ => Ok(()),
                }
            }
            other => fail(format!("upstream failed with {exit}, we planned {other:?}")),
        };
    }
    let (argv, env, details) = planned(got)?;
    let want = strings(&expect["argv"]);
    if expect["java_opts_order"].as_str() == Some("unspecified") {
        let range = option_segment(&want);
        let mut ours_opts = argv
            .get(range.clone())
            .map(<[String]>::to_vec)
            .unwrap_or_default();
        let mut want_opts = want[range.clone()].to_vec();
        ours_opts.sort();
        want_opts.sort();
        if ours_opts != want_opts
            || replace_option_segment(argv, vec![]) != replace_option_segment(&want, vec![])
        {
            return fail(format!(
                "argv differs (options compared as a multiset)\n  want: {want:?}"
            ));
        }
        if argv[range] != documented_java_opts(v)[..] {
            return fail("java options are not in numeric order");
        }
    } else if *argv != want {
        return fail(format!("argv differs\n  want: {want:?}"));
    }
    let want_env = env_set(expect);
    if *env != want_env {
        return fail(format!("variables set differ\n  want: {want_env:?}"));
    }
    if let Some(details) = details {
        let stdout = expect["stdout"]
            .as_str()
            .unwrap_or("")
            .replace(PASSWD_FAILURE, "");
        let want_notice = (!stdout.is_empty()).then_some(stdout);
        if details.notice != want_notice {
            return fail(format!("stdout notice differs: want {want_notice:?}"));
        }
        let copies = expect["files"].as_object().is_some_and(|files| {
            files
                .keys()
                .any(|k| k.starts_with("/opt/spark/work-dir/") && !k.ends_with("java_opts.txt"))
        });
        let want_copies: Vec<String> = if copies {
            vec![v
                .env
                .get("SPARK_MOUNTED_FILES_DIR")
                .cloned()
                .unwrap_or_default()]
        } else {
            vec![]
        };
        if details.copies_from != want_copies {
            return fail(format!("mounted files copy differs: want {want_copies:?}"));
        }
    }
    Ok(())
}

/// Quirk cases and the spark-docker families: our documented behaviour, rule by rule.
fn check_documented_difference(v: &Vector, got: &Outcome, exit: i64) -> Result<(), String> {
    let expect = &v.expect;
    let want = strings(&expect["argv"]);
    let version = version(v);
    let scenario = v.scenario.as_str();
    match scenario {
        // No command, or an empty one: a clear refusal (upstream: tini's usage, or its own message).
        "no-args" | "empty-first-arg" | "spark-k8s-cmd-env-no-args" => {
            return expect_failure(got, 1, &[]);
        }
        // Python asked for but absent: a named error instead of a silent 127.
        "driver-py-24-python-missing" if version.honours_pyspark_major_python_version() => {
            return expect_failure(got, 127, &["PYSPARK_MAJOR_PYTHON_VERSION"]);
        }
        // No JAVA_HOME and no java: a named error instead of exec'ing /bin/java (3.3+).
        "executor-java-home-unset-no-java" if version.detects_java_home() => {
            return expect_failure(got, 127, &["JAVA_HOME"]);
        }
        _ => {}
    }
    if let Some(attempt) = expect.get("exec_attempt").filter(|a| a.is_array()) {
        // spark-docker's plain `exec` of a command the image lacks: we plan the same
        // command, and its exec fails with 127 the same way at run time.
        let (argv, _, _) = planned(got)?;
        let attempt = strings(attempt);
        return if *argv == attempt {
            Ok(())
        } else {
            fail(format!("want the command {attempt:?}"))
        };
    }
    if exit != 0 && want.is_empty() {
        return check_died_before_exec(v, got, exit);
    }
    let (argv, env, _) = planned(got)?;
    let want = documented_argv(v, argv, want);
    match scenario {
        "executor-memory-with-space" => {
            let memory = &v.env["SPARK_EXECUTOR_MEMORY"];
            for flag in ["-Xms", "-Xmx"] {
                if !argv.contains(&format!("{flag}{memory}")) {
                    return fail(format!("{flag}{memory} should be one argument"));
                }
            }
            return Ok(());
        }
        "executor-glob-appid" => {
            let app = &v.env["SPARK_APPLICATION_ID"];
            return if argv.windows(2).any(|w| w[0] == "--app-id" && w[1] == *app) {
                Ok(())
            } else {
                fail("--app-id should be passed literally, not glob-expanded")
            };
        }
        "driver-k8s23-args-split" | "driver-k8s23-args-glob" => {
            let mut tail = split_words(&v.env["SPARK_DRIVER_CLASS"]);
            tail.extend(split_words(
                v.env
                    .get("SPARK_DRIVER_ARGS")
                    .map(String::as_str)
                    .unwrap_or(""),
            ));
            return if argv.ends_with(&tail) {
                Ok(())
            } else {
                fail(format!(
                    "2.3 driver args should be split on blanks, never globbed: want tail {tail:?}"
                ))
            };
        }
        "driver-py-24-py3-args" | "driver-py-24-glob-args" | "driver-r-24" if version.is_2_4() => {
            let (primary, app_args) = if scenario == "driver-r-24" {
                ("R_PRIMARY", "R_APP_ARGS")
            } else {
                ("PYSPARK_PRIMARY", "PYSPARK_APP_ARGS")
            };
            let mut tail = vec![v.env[primary].clone()];
            tail.extend(split_words(
                v.env.get(app_args).map(String::as_str).unwrap_or(""),
            ));
            return if argv.ends_with(&tail) {
                Ok(())
            } else {
                fail(format!(
                    "primary kept whole, app args split: want tail {tail:?}"
                ))
            };
        }
        _ => {}
    }
    if *argv != want {
        return fail(format!(
            "argv differs from upstream's (java options normalised)\n  want: {want:?}"
        ));
    }
    // Variables upstream leaked through bash `export` side effects are not copied.
    for leaked in ["SPARK_K8S_CMD", "IFS", "SPARK_CLASSPATH"] {
        if env.contains_key(leaked) {
            return fail(format!("{leaked} must not be set by the entrypoint"));
        }
    }
    if scenario == "driver-py-24-no-pythonpath" && version.is_2_4() {
        let files = &v.env["PYSPARK_FILES"];
        if env.get("PYTHONPATH") != Some(files) {
            return fail(format!("PYTHONPATH should be {files:?}"));
        }
    }
    Ok(())
}

/// Upstream's argv `want`, as our documented behaviour changes it for case `v` whose
/// plan's argv is `argv`.
fn documented_argv(v: &Vector, argv: &[String], mut want: Vec<String>) -> Vec<String> {
    if !is_upstream_family(v) && !version(v).has_pwd_on_classpath() {
        // The official image for 3.4.4 ships spark-docker's 3.5 script; we follow Spark
        // 3.4.4's own contract (no work dir on the classpath, no driver pod IP conf).
        for arg in want.iter_mut() {
            *arg = arg.replace(":/opt/spark/work-dir", "");
        }
        if let Some(i) = want
            .iter()
            .position(|a| a.starts_with("spark.executorEnv.SPARK_DRIVER_POD_IP="))
        {
            want.drain(i - 1..=i);
        }
    }
    if argv.first().is_some_and(|p| p.ends_with("/bin/java")) {
        // Java options: SPARK_JAVA_OPT_<digits> in numeric order, each value whole.
        want = replace_option_segment(&want, documented_java_opts(v));
    }
    want
}

/// Cases where upstream failed before exec and recorded no command: what we do instead.
fn check_died_before_exec(v: &Vector, got: &Outcome, exit: i64) -> Result<(), String> {
    let version = version(v);
    let scenario = v.scenario.as_str();
    // 2.3 refuses what is not one of its roles, as upstream did.
    if version.is_2_3() && !matches!(first_role(v), "driver" | "executor" | "init") {
        return expect_failure(got, 1, &["Unknown command"]);
    }
    // Upstream died before exec for reasons we do not copy (temp-file writes on a
    // read-only root, 2.3.0's getent abort, bash's `exec --help`): we plan the role.
    match scenario {
        "readonly-rootfs"
        | "workdir-readonly"
        | "uid-random-nsswrapper"
        | "uid-random-nsswrapper-driver"
        | "uid-185-no-entry"
        | "uid-random-writable-passwd"
        | "uid-random-readonly-passwd"
        | "uid-random-user-name"
        | "passthrough-dash-help"
        | "passthrough-bash"
        | "uid-root-passthrough"
        | "init-23"
        | "role-unknown"
        | "passthrough-decom"
        | "passthrough-spark-shell"
        | "driver-py-24"
        | "driver-r-24" => {
            let (argv, _, _) = planned(got)?;
            if argv.is_empty() {
                fail("empty argv")
            } else {
                Ok(())
            }
        }
        _ => fail(format!(
            "upstream failed with {exit} and no rule says what we do"
        )),
    }
}

fn first_role(v: &Vector) -> &str {
    v.args.first().map(String::as_str).unwrap_or("")
}

fn split_words(s: &str) -> Vec<String> {
    s.split([' ', '\t', '\n'])
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// A case's `env_set`: the variables the planned command must set, with their values.
fn env_set(expect: &Value) -> BTreeMap<String, String> {
    expect["env_set"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}
