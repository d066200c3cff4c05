//! `tini` mode: the binary installed as `/usr/bin/tini` (a symlink) accepts tini
//! 0.19's command line, so scripts that `exec tini -s -- ...` keep working.
//!
//! Deliberate difference: options end at the first non-option argument (tini's GNU
//! getopt permutes, so `tini ls -l` would eat `-l`); `tini -s -- cmd` means the same.

use std::ffi::OsString;
use std::io::Write;

use super::supervisor::{self, Command, LogStyle, Options, SignalState};
use crate::inputs::Env;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TiniAction {
    Version,
    Help,
    License,
    Run { opts: Options, argv: Vec<OsString> },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TiniArgError {
    #[error("invalid option -- '{0}'")]
    InvalidOption(String),
    #[error("option requires an argument -- '{0}'")]
    MissingArgument(char),
    #[error("Not a valid option for -p: {0}")]
    BadSignal(String),
    #[error("Not a valid option for -e: {0}")]
    BadExitCode(String),
    #[error("no program to run")]
    NoProgram,
}

/// The names tini's `-p` accepts (exactly these: no numbers, no SIGPWR, no RT signals).
const PDEATH_SIGNALS: [(&str, libc::c_int); 28] = [
    ("SIGHUP", libc::SIGHUP),
    ("SIGINT", libc::SIGINT),
    ("SIGQUIT", libc::SIGQUIT),
    ("SIGILL", libc::SIGILL),
    ("SIGTRAP", libc::SIGTRAP),
    ("SIGABRT", libc::SIGABRT),
    ("SIGBUS", libc::SIGBUS),
    ("SIGFPE", libc::SIGFPE),
    ("SIGKILL", libc::SIGKILL),
    ("SIGUSR1", libc::SIGUSR1),
    ("SIGSEGV", libc::SIGSEGV),
    ("SIGUSR2", libc::SIGUSR2),
    ("SIGPIPE", libc::SIGPIPE),
    ("SIGALRM", libc::SIGALRM),
    ("SIGTERM", libc::SIGTERM),
    ("SIGCHLD", libc::SIGCHLD),
    ("SIGCONT", libc::SIGCONT),
    ("SIGSTOP", libc::SIGSTOP),
    ("SIGTSTP", libc::SIGTSTP),
    ("SIGTTIN", libc::SIGTTIN),
    ("SIGTTOU", libc::SIGTTOU),
    ("SIGURG", libc::SIGURG),
    ("SIGXCPU", libc::SIGXCPU),
    ("SIGXFSZ", libc::SIGXFSZ),
    ("SIGVTALRM", libc::SIGVTALRM),
    ("SIGPROF", libc::SIGPROF),
    ("SIGWINCH", libc::SIGWINCH),
    ("SIGSYS", libc::SIGSYS),
];

fn parse_signal(name: &str) -> Result<libc::c_int, TiniArgError> {
    PDEATH_SIGNALS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|&(_, signal)| signal)
        .ok_or_else(|| TiniArgError::BadSignal(name.to_string()))
}

fn parse_exit_code(value: &str) -> Result<u8, TiniArgError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TiniArgError::BadExitCode(value.to_string()));
    }
    value
        .parse::<u8>()
        .map_err(|_| TiniArgError::BadExitCode(value.to_string()))
}

/// C's `atoi`: optional sign and leading digits, anything else is 0.
fn atoi(value: &str) -> i64 {
    let value = value.trim_start();
    let (sign, digits) = match value.as_bytes().first() {
        Some(b'-') => (-1, &value[1..]),
        Some(b'+') => (1, &value[1..]),
        _ => (1, value),
    };
    let digits: String = digits
        .chars()
        .take_while(char::is_ascii_digit)
        .take(18)
        .collect();
    sign * digits.parse::<i64>().unwrap_or(0)
}

/// Parses tini's arguments (after argv[0]) and its `TINI_*` variables.
pub fn parse_args(args: &[OsString], env: &Env) -> Result<TiniAction, TiniArgError> {
    if args.len() == 1 && args[0] == "--version" {
        return Ok(TiniAction::Version);
    }
    let mut opts = Options {
        subreaper: false,
        log_style: LogStyle::Tini,
        ..Options::default()
    };
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].to_string_lossy();
        if arg == "--" {
            i += 1;
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            break;
        }
        if arg.starts_with("--") {
            return Err(TiniArgError::InvalidOption(arg.into_owned()));
        }
        let cluster: Vec<char> = arg[1..].chars().collect();
        let mut j = 0;
        while j < cluster.len() {
            let c = cluster[j];
            j += 1;
            match c {
                's' => opts.subreaper = true,
                'g' => opts.kill_process_group = true,
                'w' => opts.warn_on_reap = true,
                'v' => opts.verbosity = opts.verbosity.saturating_add(1),
                'h' => return Ok(TiniAction::Help),
                'l' => return Ok(TiniAction::License),
                'p' | 'e' => {
                    // getopt: the value is the rest of this word, or the next word.
                    let value: String = if j < cluster.len() {
                        let v = cluster[j..].iter().collect();
                        j = cluster.len();
                        v
                    } else {
                        i += 1;
                        match args.get(i) {
                            Some(v) => v.to_string_lossy().into_owned(),
                            None => return Err(TiniArgError::MissingArgument(c)),
                        }
                    };
                    if c == 'p' {
                        opts.pdeathsig = Some(parse_signal(&value)?);
                    } else {
                        opts.remap_exit.insert(parse_exit_code(&value)?);
                    }
                }
                other => return Err(TiniArgError::InvalidOption(other.to_string())),
            }
        }
        i += 1;
    }
    let argv = args[i..].to_vec();
    if argv.is_empty() {
        return Err(TiniArgError::NoProgram);
    }
    // tini reads these after the options: presence is enough, and the verbosity
    // variable wins over -v.
    if env.is_set("TINI_SUBREAPER") {
        opts.subreaper = true;
    }
    if env.is_set("TINI_KILL_PROCESS_GROUP") {
        opts.kill_process_group = true;
    }
    if let Some(v) = env.get("TINI_VERBOSITY") {
        opts.verbosity = atoi(&v.to_string_lossy()).clamp(0, 255) as u8;
    }
    Ok(TiniAction::Run { opts, argv })
}

pub fn version_line() -> String {
    format!(
        "tini version 0.19.0 (spark-entrypoint {})",
        env!("CARGO_PKG_VERSION")
    )
}

pub fn usage() -> String {
    format!(
        "{} \n\
Usage: tini [OPTIONS] PROGRAM -- [ARGS] | --version\n\
\n\
Execute a program under the supervision of a valid init process (tini)\n\
\n\
Command line options:\n\
\n\
  --version: Show version and exit.\n\
  -h: Show this help message and exit.\n\
  -s: Register as a process subreaper (requires Linux >= 3.4).\n\
  -p SIGNAL: Trigger SIGNAL when parent dies, e.g. \"-p SIGKILL\".\n\
  -v: Generate more verbose output. Repeat up to 3 times.\n\
  -w: Print a warning when processes are getting reaped.\n\
  -g: Send signals to the child's process group.\n\
  -e EXIT_CODE: Remap EXIT_CODE (from 0 to 255) to 0 (can be repeated).\n\
  -l: Show license and exit.\n\
\n\
Environment variables:\n\
\n\
  TINI_SUBREAPER: Register as a process subreaper (requires Linux >= 3.4).\n\
  TINI_VERBOSITY: Set the verbosity level (default: 1).\n\
  TINI_KILL_PROCESS_GROUP: Send signals to the child's process group.\n",
        version_line()
    )
}

const LICENSE: &str = "\
This is spark-entrypoint running in tini-compatible mode, licensed under the
Apache License, Version 2.0. It reimplements the command line of tini
(https://github.com/krallin/tini, MIT licence) and shares no code with it.
";

/// `tini [-s] [-g] [-w] [-v] [-p SIG] [-e N]... [--] PROGRAM [ARGS...]`.
pub fn tini_main(args: &[OsString]) -> i32 {
    // First, before anything can fail: a signal arriving earlier would be lost (init.md P4).
    let signals = match SignalState::block() {
        Ok(signals) => signals,
        Err(err) => {
            eprintln!("[FATAL tini ({})] {err}", std::process::id());
            return 1;
        }
    };
    let env = Env::from_process();
    let (opts, argv) = match parse_args(args, &env) {
        Ok(TiniAction::Run { opts, argv }) => (opts, argv),
        Ok(TiniAction::Version) => return print_stdout(&format!("{}\n", version_line())),
        Ok(TiniAction::Help) => return print_stdout(&usage()),
        Ok(TiniAction::License) => return print_stdout(LICENSE),
        Err(err) => {
            if err != TiniArgError::NoProgram {
                eprintln!("tini: {err}");
            }
            eprint!("{}", usage());
            return 1;
        }
    };
    let cmd = Command {
        argv,
        env: env
            .iter()
            .map(|(k, v)| (k.to_os_string(), v.to_os_string()))
            .collect(),
        credentials: None,
    };
    match supervisor::supervise_blocked(&signals, &cmd, &opts) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("[FATAL tini ({})] {err}", std::process::id());
            1
        }
    }
}

fn print_stdout(text: &str) -> i32 {
    let mut out = std::io::stdout();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn run(list: &[&str], env: &Env) -> (Options, Vec<OsString>) {
        match parse_args(&args(list), env) {
            Ok(TiniAction::Run { opts, argv }) => (opts, argv),
            other => panic!("{list:?}: {other:?}"),
        }
    }

    #[test]
    fn spark_form() {
        let (opts, argv) = run(&["-s", "--", "java", "-cp", "x"], &Env::new());
        assert!(opts.subreaper);
        assert!(!opts.kill_process_group);
        assert_eq!(opts.verbosity, 1);
        assert_eq!(argv, args(&["java", "-cp", "x"]));
    }

    #[test]
    fn clustering_and_values() {
        let (opts, argv) = run(
            &["-sgwvv", "-e143", "-e", "2", "-pSIGUSR1", "cmd"],
            &Env::new(),
        );
        assert!(opts.subreaper && opts.kill_process_group && opts.warn_on_reap);
        assert_eq!(opts.verbosity, 3);
        assert!(opts.remap_exit.contains(143) && opts.remap_exit.contains(2));
        assert!(!opts.remap_exit.contains(0));
        assert_eq!(opts.pdeathsig, Some(libc::SIGUSR1));
        assert_eq!(argv, args(&["cmd"]));
        let (opts, _) = run(&["-p", "SIGKILL", "cmd"], &Env::new());
        assert_eq!(opts.pdeathsig, Some(libc::SIGKILL));
    }

    #[test]
    fn options_stop_at_the_program() {
        let (opts, argv) = run(&["ls", "-l"], &Env::new());
        assert!(!opts.subreaper);
        assert_eq!(argv, args(&["ls", "-l"]));
        let (_, argv) = run(&["--", "--", "true"], &Env::new());
        assert_eq!(argv, args(&["--", "true"]));
    }

    #[test]
    fn environment() {
        let env: Env = [
            ("TINI_SUBREAPER", "0"),
            ("TINI_KILL_PROCESS_GROUP", ""),
            ("TINI_VERBOSITY", "0"),
        ]
        .into_iter()
        .collect();
        let (opts, _) = run(&["-vvv", "true"], &env);
        assert!(opts.subreaper, "presence counts, even =0");
        assert!(opts.kill_process_group);
        assert_eq!(opts.verbosity, 0, "TINI_VERBOSITY wins over -v");
        let env: Env = [("TINI_VERBOSITY", "3x")].into_iter().collect();
        assert_eq!(run(&["true"], &env).0.verbosity, 3);
        let env: Env = [("TINI_VERBOSITY", "junk")].into_iter().collect();
        assert_eq!(run(&["true"], &env).0.verbosity, 0);
    }

    #[test]
    fn actions() {
        let env = Env::new();
        assert_eq!(
            parse_args(&args(&["--version"]), &env),
            Ok(TiniAction::Version)
        );
        assert_eq!(parse_args(&args(&["-h"]), &env), Ok(TiniAction::Help));
        assert_eq!(
            parse_args(&args(&["-s", "-l"]), &env),
            Ok(TiniAction::License)
        );
        assert!(version_line().starts_with("tini version 0.19.0"));
        assert!(usage().contains("supervision of a valid init process"));
        assert!(usage().contains("more verbose"));
    }

    #[test]
    fn errors() {
        let env = Env::new();
        let err = |list: &[&str]| parse_args(&args(list), &env).unwrap_err();
        assert_eq!(err(&[]), TiniArgError::NoProgram);
        assert_eq!(err(&["-s", "--"]), TiniArgError::NoProgram);
        assert_eq!(
            err(&["-z", "true"]),
            TiniArgError::InvalidOption("z".into())
        );
        assert_eq!(
            err(&["--version", "true"]),
            TiniArgError::InvalidOption("--version".into())
        );
        assert_eq!(err(&["-e"]), TiniArgError::MissingArgument('e'));
        for bad in ["256", "-1", "x", "", "1x"] {
            assert_eq!(
                err(&["-e", bad, "true"]),
                TiniArgError::BadExitCode(bad.into())
            );
        }
        for bad in ["15", "TERM", "SIGPWR", "SIGRTMIN", "sigterm"] {
            assert_eq!(
                err(&["-p", bad, "true"]),
                TiniArgError::BadSignal(bad.into())
            );
        }
    }
}
