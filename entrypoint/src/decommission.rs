//! `spark-entrypoint decommission`: the `decom.sh` replacement.
//!
//! Spark runs `spark.kubernetes.decommission.script` (default `/opt/decom.sh`) as the
//! executor container's preStop hook when decommissioning is enabled. Like decom.sh we
//! find the executor JVM, send it SIGPWR (Spark's decommission trigger) and wait until
//! it has exited, so the kubelet sends SIGTERM only after the executor has migrated its
//! blocks. Unlike decom.sh we need no `ps`, `grep` or `tail` in the image, and the wait
//! is bounded.
//!
//! The JVM is not our child (the hook is started by the runtime, the JVM by PID 1), so
//! its exit status cannot be observed: we only see `/proc/<pid>` disappear.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: spark-entrypoint decommission [--timeout SECONDS] [--pid PID]";

/// Exit status when the JVM did not exit in time (as `timeout(1)`).
pub const TIMED_OUT: i32 = 124;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub timeout: Duration,
    pub pid: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    #[error("{0} needs a value")]
    MissingValue(&'static str),
    #[error("--timeout {0:?}: expected a number of seconds")]
    BadTimeout(String),
    #[error("--pid {0:?}: expected a process id")]
    BadPid(String),
    #[error("unknown argument {0:?}")]
    Unknown(String),
}

pub fn parse_args(args: &[OsString]) -> Result<Args, ArgsError> {
    let mut parsed = Args {
        timeout: Duration::from_secs(60),
        pid: None,
    };
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        match name.as_str() {
            "--timeout" => {
                let v = inline
                    .or_else(|| it.next())
                    .ok_or(ArgsError::MissingValue("--timeout"))?;
                let secs: f64 = v.parse().map_err(|_| ArgsError::BadTimeout(v.clone()))?;
                parsed.timeout =
                    Duration::try_from_secs_f64(secs).map_err(|_| ArgsError::BadTimeout(v))?;
            }
            "--pid" => {
                let v = inline
                    .or_else(|| it.next())
                    .ok_or(ArgsError::MissingValue("--pid"))?;
                let pid: i32 = v.parse().map_err(|_| ArgsError::BadPid(v.clone()))?;
                if pid <= 0 {
                    return Err(ArgsError::BadPid(v));
                }
                parsed.pid = Some(pid);
            }
            _ => return Err(ArgsError::Unknown(arg)),
        }
    }
    Ok(parsed)
}

/// Whether a `/proc/<pid>/cmdline` is the executor JVM: argv[0] ends in `java`
/// and some argument names an `...ExecutorBackend` class (Kubernetes or CoarseGrained).
pub fn is_executor_cmdline(cmdline: &[u8]) -> bool {
    let mut args = cmdline.split(|&b| b == 0);
    let Some(argv0) = args.next() else {
        return false;
    };
    argv0.ends_with(b"java")
        && args.any(|a| {
            a.windows(b"ExecutorBackend".len())
                .any(|w| w == b"ExecutorBackend")
        })
}

/// The executor JVM under `proc_root`; the newest (highest pid) one when there are
/// several, as decom.sh's `tail -n 1` picks.
pub fn find_executor(proc_root: &Path) -> Option<i32> {
    let own = std::process::id() as i32;
    std::fs::read_dir(proc_root)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let pid: i32 = std::str::from_utf8(e.file_name().as_bytes())
                .ok()?
                .parse()
                .ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            (pid != own && is_executor_cmdline(&cmdline)).then_some(pid)
        })
        .max()
}

/// Whether `pid` still runs (a zombie counts as exited: it can do nothing more).
fn alive(pid: i32) -> bool {
    match std::fs::read(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the last ')' (the command name may contain one).
            let state = stat
                .iter()
                .rposition(|&b| b == b')')
                .and_then(|i| stat.get(i + 2));
            !matches!(state, Some(b'Z' | b'X'))
        }
        Err(_) => false,
    }
}

/// Whether we were started as `decom.sh` (images link `/opt/decom.sh` to us, the path
/// Spark's `spark.kubernetes.decommission.script` defaults to).
pub fn invoked_as_decom_sh(argv0: &std::ffi::OsStr) -> bool {
    std::path::Path::new(argv0)
        .file_name()
        .is_some_and(|name| name == "decom.sh")
}

pub fn main(args: &[OsString]) -> i32 {
    let args = match parse_args(args) {
        Ok(args) => args,
        Err(err) => {
            eprintln!("spark-entrypoint decommission: {err}\n{USAGE}");
            return crate::exit_code::MISCONFIGURED;
        }
    };
    let Some(pid) = args.pid.or_else(|| find_executor(Path::new("/proc"))) else {
        eprintln!(
            "spark-entrypoint decommission: no executor JVM found (no java process running an ExecutorBackend class)"
        );
        return 1;
    };
    println!("spark-entrypoint decommission: sending SIGPWR to the executor JVM (pid {pid})");
    if let Err(errno) = crate::sys::kill(pid, libc::SIGPWR) {
        if errno.raw_os_error() == Some(libc::ESRCH) {
            println!("spark-entrypoint decommission: pid {pid} had already exited");
            return 0;
        }
        eprintln!("spark-entrypoint decommission: cannot signal pid {pid}: {errno}");
        return 1;
    }
    let deadline = Instant::now() + args.timeout;
    while alive(pid) {
        if Instant::now() >= deadline {
            eprintln!(
                "spark-entrypoint decommission: pid {pid} still running after {:?}",
                args.timeout
            );
            return TIMED_OUT;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("spark-entrypoint decommission: pid {pid} has exited");
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn arguments() {
        assert_eq!(
            parse_args(&[]).unwrap(),
            Args {
                timeout: Duration::from_secs(60),
                pid: None
            }
        );
        let a = parse_args(&args(&["--timeout", "5", "--pid=42"])).unwrap();
        assert_eq!((a.timeout, a.pid), (Duration::from_secs(5), Some(42)));
        assert_eq!(
            parse_args(&args(&["--timeout=0.5"])).unwrap().timeout,
            Duration::from_millis(500)
        );
        assert!(parse_args(&args(&["--timeout"])).is_err());
        assert!(parse_args(&args(&["--timeout", "-1"])).is_err());
        assert!(parse_args(&args(&["--pid", "0"])).is_err());
        assert!(parse_args(&args(&["--bogus"])).is_err());
    }

    #[test]
    fn executor_cmdlines() {
        assert!(is_executor_cmdline(
            b"/opt/java/openjdk/bin/java\0-Xmx1g\0-cp\0x\0org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend\0--driver-url\0"
        ));
        assert!(is_executor_cmdline(
            b"java\0org.apache.spark.executor.CoarseGrainedExecutorBackend\0"
        ));
        assert!(!is_executor_cmdline(
            b"/bin/bash\0-c\0java ExecutorBackend\0"
        ));
        assert!(!is_executor_cmdline(b"/usr/bin/java\0-jar\0app.jar\0"));
        assert!(!is_executor_cmdline(b""));
    }
}
