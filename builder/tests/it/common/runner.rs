//! The one way the tests run the `sparkimg` binary: [`Sparkimg`], a small builder over
//! `std::process::Command`, and [`Ran`], the checks on what a run left behind.
//!
//! Every run starts without the variables a developer's shell may carry that change
//! what sparkimg does (mirrors, lock timeout, build epoch); a test that wants one sets it.

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_sparkimg");

/// Inherited variables no run sees unless its test sets them.
const SCRUBBED: &[&str] = &[
    "SPARKIMG_MIRRORS",
    "SPARKIMG_LOCK_TIMEOUT",
    "SOURCE_DATE_EPOCH",
];

/// A `sparkimg` invocation being put together.
pub struct Sparkimg {
    cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl Default for Sparkimg {
    fn default() -> Self {
        Self::new()
    }
}

impl Sparkimg {
    pub fn new() -> Sparkimg {
        let mut cmd = Command::new(BIN);
        for var in SCRUBBED {
            cmd.env_remove(var);
        }
        Sparkimg { cmd, stdin: None }
    }

    /// [`Sparkimg::new`], run under `umask MASK` (through sh, which sets it for the exec).
    pub fn with_umask(mask: &str) -> Sparkimg {
        let mut s = Sparkimg::new();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &format!("umask {mask} && exec \"$0\" \"$@\""), BIN]);
        for var in SCRUBBED {
            cmd.env_remove(var);
        }
        s.cmd = cmd;
        s
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn envs(mut self, vars: &[(&str, &str)]) -> Self {
        self.cmd.envs(vars.iter().copied());
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.cmd.env_remove(key);
        self
    }

    /// The cache directory, through `SPARKIMG_CACHE_DIR`.
    pub fn cache(self, dir: impl AsRef<Path>) -> Self {
        self.env("SPARKIMG_CACHE_DIR", dir.as_ref())
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// Bytes written to the run's stdin (otherwise it reads an empty one).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// The command, stdin empty and stdout/stderr piped, for a test that spawns it
    /// (to kill it, or to run two at once).
    pub fn command(mut self) -> Command {
        assert!(self.stdin.is_none(), "command(): stdin input needs run()");
        self.cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.cmd
    }

    /// Runs it to the end: its status, stdout and stderr.
    pub fn run(mut self) -> Output {
        let Some(input) = self.stdin.take() else {
            return self.cmd.output().expect("run sparkimg");
        };
        self.cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("run sparkimg");
        let mut pipe = child.stdin.take().expect("piped stdin");
        pipe.write_all(&input).expect("write sparkimg's stdin");
        drop(pipe);
        child.wait_with_output().expect("wait for sparkimg")
    }

    /// [`Sparkimg::run`], asserting success ([`Ran::ok`]).
    pub fn ok(self) -> Output {
        let out = self.run();
        out.ok();
        out
    }

    /// [`Sparkimg::run`], asserting success, stdout parsed strictly ([`Ran::json`]).
    pub fn json(self) -> Value {
        self.run().json()
    }
}

/// Checks on a finished run.
pub trait Ran {
    /// Asserts the run succeeded; the panic shows its status, stderr and stdout.
    fn ok(&self) -> &Self;
    /// [`Ran::ok`], then [`Ran::stdout_json`].
    fn json(&self) -> Value;
    /// stdout as JSON, whatever the exit status; panics with stdout's text when it is
    /// not JSON (never a `Null`, which would compare equal to another unparsable output).
    fn stdout_json(&self) -> Value;
    /// stdout as text.
    fn stdout_text(&self) -> String;
    /// stderr as text.
    fn stderr_text(&self) -> String;
}

impl Ran for Output {
    #[track_caller]
    fn ok(&self) -> &Self {
        assert!(
            self.status.success(),
            "the run failed ({})\nstderr: {}\nstdout: {}",
            self.status,
            self.stderr_text(),
            self.stdout_text()
        );
        self
    }

    #[track_caller]
    fn json(&self) -> Value {
        self.ok().stdout_json()
    }

    #[track_caller]
    fn stdout_json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr: {}",
                self.stdout_text(),
                self.stderr_text()
            )
        })
    }

    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Asserts that the run exited with `code` (a `sparkimg::exit` constant); the panic
/// shows stderr.
#[track_caller]
pub fn assert_exit(out: &Output, code: u8) {
    assert_eq!(
        out.status.code(),
        Some(i32::from(code)),
        "want exit {code}, got {}\nstderr: {}",
        out.status,
        out.stderr_text()
    );
}
