//! `spark-entrypoint`: see the crate docs, README.md and docs/entrypoint.md for the contract.
//!
//! Exit statuses: the command's own status (128+N when killed by signal N); 1 when the
//! role is unknown or no command was given (as upstream); 64 when the pod is
//! misconfigured (a required variable missing, an unknown Spark version); 70 when we
//! fail before the exec; 126/127 when the command cannot be executed / found.

use std::ffi::OsString;
use std::process::ExitCode;

use spark_entrypoint::inputs::Env;
use spark_entrypoint::{decommission, exit_code, init, json, launch, plan, probe};

const USAGE: &str = "\
usage: spark-entrypoint [--print-plan] [--spark-version V] ROLE [ARG...]
       spark-entrypoint decommission [--timeout SECONDS]
       tini [-s] [-g] [-p SIGNAL] [-e CODE]... [--] PROGRAM [ARG...]   (when invoked as tini)

roles: driver, executor, (2.3) init, (2.4) driver-py, driver-r,
       master, worker [spark://HOST:PORT], history,
       (3.4+) connect [SPARK-SUBMIT-OPTION...] (the Spark Connect server);
       anything else runs as a command (Spark 2.4+)";

/// The crates this binary is built from (written by `build.rs` in cargo-auditable's
/// format), in the `.dep-v0` section where sparkimg's SBOM step and scanners read it.
/// Nothing reads it at run time; `#[used]` keeps it through LTO and the linker.
#[used]
#[link_section = ".dep-v0"]
static DEPENDENCIES: [u8; DEPENDENCIES_LEN] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/dep-v0.zlib"));
const DEPENDENCIES_LEN: usize = include_bytes!(concat!(env!("OUT_DIR"), "/dep-v0.zlib")).len();

/// `--help` or `--version` as the only argument: ours to answer. Upstream would run them
/// as a pass-through command, which cannot work (there is no program named `--help`, so
/// the pod fails with 127); with any other argument beside them they stay the command's.
fn about(args: &[OsString]) -> Option<String> {
    match args {
        [one] if one == "--help" => Some(USAGE.to_string()),
        [one] if one == "--version" => {
            Some(format!("spark-entrypoint {}", env!("CARGO_PKG_VERSION")))
        }
        _ => None,
    }
}

fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = if args.is_empty() {
        OsString::new()
    } else {
        args.remove(0)
    };
    let code = if init::invoked_as_tini(&argv0) {
        init::tini_main(&args)
    } else if decommission::invoked_as_decom_sh(&argv0) {
        // `/opt/decom.sh` → us: Spark's default preStop decommission script path.
        decommission::main(&args)
    } else {
        entrypoint_main(args)
    };
    ExitCode::from((code & 0xff) as u8)
}

fn entrypoint_main(mut args: Vec<OsString>) -> i32 {
    if let Some(text) = about(&args) {
        use std::io::Write;
        // A closed stdout is not worth a panic: the text was all there was to do.
        let _ = writeln!(std::io::stdout(), "{text}");
        return 0;
    }
    let env = Env::from_process();
    let mut print_plan = false;
    let mut version_flag: Option<String> = None;
    // Only our own long options are taken, and only before the role: everything
    // else (`--help` beside other arguments included) belongs to the command, as in
    // upstream's pass-through.
    while let Some(first) = args.first().and_then(|a| a.to_str()) {
        if first == "--print-plan" {
            print_plan = true;
            args.remove(0);
        } else if let Some(v) = first.strip_prefix("--spark-version=") {
            version_flag = Some(v.to_string());
            args.remove(0);
        } else if first == "--spark-version" {
            args.remove(0);
            if args.is_empty() {
                eprintln!("spark-entrypoint: --spark-version needs a value\n{USAGE}");
                return exit_code::MISCONFIGURED;
            }
            version_flag = Some(args.remove(0).to_string_lossy().into_owned());
        } else {
            break;
        }
    }

    if args.first().is_some_and(|a| a == "decommission") {
        return decommission::main(&args[1..]);
    }

    // Block signals before the version lookup and planning (which read files and may
    // start `hadoop classpath`): a SIGTERM that arrives now is queued and forwarded to
    // the command once it runs, instead of being lost (init.md P4).
    let signals = match init::SignalState::block() {
        Ok(signals) => signals,
        Err(err) => {
            eprintln!("spark-entrypoint: {err}");
            return exit_code::INTERNAL;
        }
    };
    let version = match probe::spark_version(version_flag.as_deref(), &env) {
        Ok(version) => version,
        Err(err) => {
            eprintln!("spark-entrypoint: {err}");
            return exit_code::MISCONFIGURED;
        }
    };
    let plan = match plan::plan(&args, &env, &version, &probe::SystemProbe) {
        Ok(plan) => plan,
        Err(err) => {
            eprintln!("spark-entrypoint: {err}");
            if matches!(err, plan::PlanError::NoCommand { .. }) {
                eprintln!("{USAGE}");
            }
            return err.exit_code();
        }
    };
    for warning in &plan.warnings {
        eprintln!("spark-entrypoint: warning: {warning}");
    }
    if print_plan {
        println!(
            "{}",
            json::plan_object(&plan.argv, &plan.env, plan.launcher.as_ref())
        );
        return 0;
    }
    launch::run_blocked(&signals, &plan, &env)
}
