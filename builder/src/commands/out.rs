//! stdout, the command's data: every line goes through [`outln!`], which returns an
//! error instead of panicking when the reader has gone away (`sparkimg cache ls | head -1`).
//!
//! Why not SIGPIPE's default action, as C filters have: sparkimg also writes to sockets
//! (the Docker Engine's) and to children's pipes, where a vanished peer is an error to
//! report, not a reason to die silently. Only stdout's EPIPE ends the program quietly.

use std::fmt;
use std::io::{self, Write};

/// The reader of stdout has closed it: `main` ends quietly, with success (the reader
/// stopped reading on purpose; what the command did is done).
#[derive(Debug, thiserror::Error)]
#[error("stdout closed")]
pub struct StdoutClosed;

/// Writes one line to stdout.
pub fn line(args: fmt::Arguments) -> anyhow::Result<()> {
    write(|out| writeln!(out, "{args}"))
}

/// Writes bytes as they are (an SBOM document) to stdout.
pub fn bytes(b: &[u8]) -> anyhow::Result<()> {
    write(|out| out.write_all(b))
}

fn write(f: impl FnOnce(&mut io::StdoutLock) -> io::Result<()>) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match f(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
    }
}

/// `println!` that returns [`line`]'s result.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::commands::out::line(format_args!($($arg)*))
    };
}

/// The binary's [`sparkimg::report::Reporter`]: `sparkimg: warning: ...` and
/// `sparkimg: ...` on stderr.
pub struct Stderr;

impl sparkimg::report::Reporter for Stderr {
    fn warn(&self, msg: &str) {
        eprintln!("sparkimg: warning: {msg}");
    }

    fn note(&self, msg: &str) {
        eprintln!("sparkimg: {msg}");
    }
}

/// How a failed command ends: `sparkimg: error: ` and the error with each cause once
/// (`a: b: c`), then its hint, if any, on its own `hint: ` line; the exit code is
/// [`sparkimg::exit::classify`]'s. A closed stdout ends quietly instead.
pub fn failed(e: &anyhow::Error) -> std::process::ExitCode {
    if e.downcast_ref::<StdoutClosed>().is_some() {
        return std::process::ExitCode::SUCCESS;
    }
    eprintln!("sparkimg: error: {}", sparkimg::report::chain(e.as_ref()));
    if let Some(hint) = sparkimg::exit::hint(e.chain()) {
        eprintln!("hint: {hint}");
    }
    std::process::ExitCode::from(sparkimg::exit::classify(e.chain()))
}

/// `--version --verbose`: the text, or quietly nothing when stdout is closed.
pub fn print_version(text: &str) -> std::process::ExitCode {
    match line(format_args!("{text}")) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => failed(&e),
    }
}
