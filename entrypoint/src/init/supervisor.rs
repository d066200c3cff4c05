//! Fork, exec, forward signals, reap: the `tini -s` core (init.md §1.3–1.6, §8).
//!
//! The process must be single-threaded: the signal mask is per thread, and a second
//! thread with signals unblocked would take process-directed signals (init.md P4).

use std::ffi::{CString, OsString};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use crate::identity::Credentials;
use crate::sys;

/// What to run: argv (the program is looked up on the `PATH` of `env`), the complete
/// environment, and an optional identity to switch to before the exec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    pub argv: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    pub credentials: Option<Credentials>,
}

/// How messages of the supervisor look: tini's `[WARN  tini (pid)] ...` in tini mode,
/// `spark-entrypoint: ...` otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogStyle {
    #[default]
    Entrypoint,
    Tini,
}

/// Exit codes rewritten to 0 (tini's `-e`): a 256-bit set.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct ExitRemap([u64; 4]);

impl std::fmt::Debug for ExitRemap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let codes: Vec<u8> = (0..=255).filter(|&c| self.contains(c)).collect();
        f.debug_tuple("ExitRemap").field(&codes).finish()
    }
}

impl ExitRemap {
    pub fn insert(&mut self, code: u8) {
        self.0[usize::from(code / 64)] |= 1 << (code % 64);
    }

    pub fn contains(&self, code: u8) -> bool {
        self.0[usize::from(code / 64)] & (1 << (code % 64)) != 0
    }

    /// `code` after remapping.
    pub fn apply(&self, code: u8) -> u8 {
        if self.contains(code) {
            0
        } else {
            code
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `prctl(PR_SET_CHILD_SUBREAPER)`; only matters when we are not PID 1.
    pub subreaper: bool,
    /// Forward signals to the child's process group instead of the child alone.
    pub kill_process_group: bool,
    pub remap_exit: ExitRemap,
    /// Signal we get when our parent dies (then forwarded like any other).
    pub pdeathsig: Option<libc::c_int>,
    /// 0 silent, 1 warnings (default), 2 info, 3 debug.
    pub verbosity: u8,
    /// Warn for every reaped process that is not the main child (tini's `-w`).
    pub warn_on_reap: bool,
    pub log_style: LogStyle,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            subreaper: true,
            kill_process_group: false,
            remap_exit: ExitRemap::default(),
            pdeathsig: None,
            verbosity: 1,
            warn_on_reap: false,
            log_style: LogStyle::Entrypoint,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("no program to run")]
    EmptyArgv,
    #[error("{what} contains a NUL byte: {value:?}")]
    NulByte { what: &'static str, value: OsString },
    #[error("{what} failed: {errno}")]
    Sys {
        what: &'static str,
        errno: io::Error,
    },
    #[error("PR_SET_CHILD_SUBREAPER is unavailable on this platform. Are you using Linux >= 3.4?")]
    SubreaperUnavailable,
}

fn failed(what: &'static str) -> impl FnOnce(io::Error) -> InitError {
    move |errno| InitError::Sys { what, errno }
}

/// Signals the supervisor leaves unblocked: raised synchronously by faults, they
/// must keep their default action (tini and catatonit agree on the list).
const SYNCHRONOUS: [libc::c_int; 7] = [
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGABRT,
    libc::SIGTRAP,
    libc::SIGSYS,
];

/// The signal state we started with, to hand back to the child before the exec.
///
/// Obtained from [`SignalState::block`], which should run as early as possible: a
/// signal that arrives before it is lost when we are PID 1, or kills us otherwise.
pub struct SignalState {
    saved_mask: libc::sigset_t,
    saved_ttin: libc::sigaction,
    saved_ttou: libc::sigaction,
    /// What we wait for in the loop: everything we blocked.
    waited: libc::sigset_t,
}

impl SignalState {
    /// Blocks every signal but the synchronous ones and ignores SIGTTIN/SIGTTOU
    /// (so our own writes to a TOSTOP tty never stop us), remembering the old state.
    pub fn block() -> Result<SignalState, InitError> {
        // SAFETY: plain libc calls on locally owned, initialised sigset/sigaction values.
        unsafe {
            let mut waited: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut waited);
            for sig in SYNCHRONOUS.iter().chain(&[libc::SIGTTIN, libc::SIGTTOU]) {
                libc::sigdelset(&mut waited, *sig);
            }
            let mut saved_mask: libc::sigset_t = std::mem::zeroed();
            if libc::sigprocmask(libc::SIG_SETMASK, &waited, &mut saved_mask) != 0 {
                return Err(failed("sigprocmask")(io::Error::last_os_error()));
            }
            let mut ignore: libc::sigaction = std::mem::zeroed();
            ignore.sa_sigaction = libc::SIG_IGN;
            libc::sigemptyset(&mut ignore.sa_mask);
            let mut saved_ttin: libc::sigaction = std::mem::zeroed();
            let mut saved_ttou: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGTTIN, &ignore, &mut saved_ttin) != 0
                || libc::sigaction(libc::SIGTTOU, &ignore, &mut saved_ttou) != 0
            {
                return Err(failed("ignoring SIGTTIN/SIGTTOU")(
                    io::Error::last_os_error(),
                ));
            }
            Ok(SignalState {
                saved_mask,
                saved_ttin,
                saved_ttou,
                waited,
            })
        }
    }
}

/// The exit code for a `waitpid` status: the exit status, or 128+N when killed by
/// signal N (what shells report), modulo 256.
pub fn exit_code_of(status: libc::c_int) -> u8 {
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        // Impossible without WUNTRACED; tini treats it as a failure.
        1
    };
    (code & 0xff) as u8
}

/// Exit code of the child when the exec itself fails, as a shell reports it.
pub fn exec_failure_code(errno: i32) -> i32 {
    match errno {
        libc::ENOENT => crate::exit_code::NOT_FOUND,
        libc::EACCES => crate::exit_code::NOT_EXECUTABLE,
        _ => 1,
    }
}

/// Where the child failed before its program started; sent through the status pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum Stage {
    Setpgid = 1,
    Tcsetpgrp = 2,
    Setgroups = 3,
    Setgid = 4,
    Setuid = 5,
    Sigmask = 6,
    Exec = 7,
}

impl Stage {
    fn from_u32(v: u32) -> Option<Stage> {
        Some(match v {
            1 => Stage::Setpgid,
            2 => Stage::Tcsetpgrp,
            3 => Stage::Setgroups,
            4 => Stage::Setgid,
            5 => Stage::Setuid,
            6 => Stage::Sigmask,
            7 => Stage::Exec,
            _ => return None,
        })
    }

    fn what(self) -> &'static str {
        match self {
            Stage::Setpgid => "setpgid",
            Stage::Tcsetpgrp => "tcsetpgrp",
            Stage::Setgroups => "setgroups",
            Stage::Setgid => "setgid",
            Stage::Setuid => "setuid",
            Stage::Sigmask => "restoring the child's signal mask",
            Stage::Exec => "exec",
        }
    }
}

/// Everything the child needs, built before the fork so that the child only makes
/// system calls (no allocation between fork and exec).
struct Prepared {
    program: CString,
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    _env: Vec<CString>,
    env_ptrs: Vec<*const libc::c_char>,
    credentials: Option<(libc::uid_t, libc::gid_t, Vec<libc::gid_t>)>,
}

fn cstring(what: &'static str, bytes: &[u8]) -> Result<CString, InitError> {
    CString::new(bytes).map_err(|_| InitError::NulByte {
        what,
        value: OsString::from(std::ffi::OsStr::from_bytes(bytes)),
    })
}

fn prepare(cmd: &Command) -> Result<Prepared, InitError> {
    if cmd.argv.is_empty() {
        return Err(InitError::EmptyArgv);
    }
    let argv: Vec<CString> = cmd
        .argv
        .iter()
        .map(|a| cstring("an argument", a.as_bytes()))
        .collect::<Result<_, _>>()?;
    let env: Vec<CString> = cmd
        .env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstring("an environment variable", &kv)
        })
        .collect::<Result<_, _>>()?;
    let mut argv_ptrs: Vec<_> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<_> = env.iter().map(|a| a.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    Ok(Prepared {
        program: argv[0].clone(),
        _argv: argv,
        argv_ptrs,
        _env: env,
        env_ptrs,
        credentials: cmd
            .credentials
            .as_ref()
            .map(|c| (c.uid, c.gid, c.groups.clone())),
    })
}

extern "C" {
    // Set in the child so that execvp searches the PATH of the new environment and
    // passes it on (glibc's execvpe would search the parent's PATH).
    static mut environ: *const *const libc::c_char;
}

/// errno of the last failed call (no allocation: safe between fork and exec).
fn last_errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Reports `stage` and errno to the parent and exits without running destructors.
fn fail_in_child(status_fd: libc::c_int, stage: Stage, code: i32) -> ! {
    let errno = last_errno();
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&(stage as u32).to_ne_bytes());
    msg[4..].copy_from_slice(&(errno as u32).to_ne_bytes());
    // SAFETY: write and _exit are async-signal-safe; msg outlives the call.
    unsafe {
        libc::write(status_fd, msg.as_ptr().cast(), msg.len());
        libc::_exit(code)
    }
}

/// Runs in the forked child: only system calls, then exec or `_exit`.
///
/// # Safety
/// Must only be called in the child right after `fork` of a single-threaded process.
unsafe fn child(p: &Prepared, signals: &SignalState, status_fd: libc::c_int) -> ! {
    let fail = |stage: Stage, code: i32| fail_in_child(status_fd, stage, code);
    // SAFETY: the caller guarantees we are the freshly forked child; every pointer
    // below points into `p` or `signals`, which the parent keeps alive.
    unsafe {
        // Own process group, so a terminal's job-control signals and `-g` reach the
        // child's whole job but not us.
        if libc::setpgid(0, 0) != 0 {
            fail(Stage::Setpgid, 1);
        }
        // Foreground on the terminal, if stdin is one (SIGTTOU is still ignored here).
        if libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpgrp()) != 0 {
            let e = last_errno();
            if e != libc::ENOTTY && e != libc::ENXIO {
                fail(Stage::Tcsetpgrp, 1);
            }
        }
        if let Some((uid, gid, groups)) = &p.credentials {
            // Groups first: after setuid we may no longer change them.
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0 {
                fail(Stage::Setgroups, crate::exit_code::INTERNAL);
            }
            if libc::setgid(*gid) != 0 {
                fail(Stage::Setgid, crate::exit_code::INTERNAL);
            }
            if libc::setuid(*uid) != 0 {
                fail(Stage::Setuid, crate::exit_code::INTERNAL);
            }
        }
        // The Rust runtime ignores SIGPIPE; an ignore survives exec (init.md P3).
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        if libc::sigaction(libc::SIGTTIN, &signals.saved_ttin, std::ptr::null_mut()) != 0
            || libc::sigaction(libc::SIGTTOU, &signals.saved_ttou, std::ptr::null_mut()) != 0
            || libc::sigprocmask(libc::SIG_SETMASK, &signals.saved_mask, std::ptr::null_mut()) != 0
        {
            fail(Stage::Sigmask, 1);
        }
        environ = p.env_ptrs.as_ptr();
        libc::execvp(p.program.as_ptr(), p.argv_ptrs.as_ptr());
        let code = exec_failure_code(last_errno());
        fail(Stage::Exec, code)
    }
}

struct Logger {
    style: LogStyle,
    verbosity: u8,
}

impl Logger {
    fn log(&self, level: u8, msg: &str) {
        if self.verbosity < level {
            return;
        }
        let line = match self.style {
            LogStyle::Tini => {
                let tag = match level {
                    0 => "FATAL",
                    1 => "WARN ",
                    2 => "INFO ",
                    _ => "DEBUG",
                };
                format!("[{tag} tini ({})] {msg}\n", std::process::id())
            }
            LogStyle::Entrypoint => {
                let tag = match level {
                    0 => "",
                    1 => "warning: ",
                    2 => "info: ",
                    _ => "debug: ",
                };
                format!("spark-entrypoint: {tag}{msg}\n")
            }
        };
        // Everything goes to stderr (tini sends INFO and DEBUG to stdout, where they
        // would mix with the program's output).
        let _ = std::io::stderr().write_all(line.as_bytes());
    }

    fn fatal(&self, msg: &str) {
        self.log(0, msg);
    }
    fn warn(&self, msg: &str) {
        self.log(1, msg);
    }
    fn info(&self, msg: &str) {
        self.log(2, msg);
    }
    fn debug(&self, msg: &str) {
        self.log(3, msg);
    }
}

/// tini's warning when zombies cannot be re-parented to us (checked by scripts).
pub const NOT_PID1_WARNING: &str = "Tini is not running as PID 1 and isn't registered as a child subreaper.\n\
Zombie processes will not be re-parented to Tini, so zombie reaping won't work.\n\
To fix the problem, use the -s option or set the environment variable TINI_SUBREAPER to register Tini as a child subreaper, or run Tini as PID 1.";

/// Blocks signals, then runs `cmd` under supervision; see [`supervise_blocked`].
pub fn supervise(cmd: &Command, opts: &Options) -> Result<i32, InitError> {
    let signals = SignalState::block()?;
    supervise_blocked(&signals, cmd, opts)
}

/// Runs `cmd` as our child and waits for it like `tini`: forwards every signal we
/// receive (but SIGCHLD) to it, reaps every process that ends up as our child, and
/// returns the main child's exit code (128+N when killed by signal N, `-e` applied)
/// as soon as the main child has been reaped, without waiting for its descendants.
///
/// An exec failure is reported on stderr naming the program; the returned code is
/// then 127 (not found), 126 (not executable) or 1.
pub fn supervise_blocked(
    signals: &SignalState,
    cmd: &Command,
    opts: &Options,
) -> Result<i32, InitError> {
    let log = Logger {
        style: opts.log_style,
        verbosity: opts.verbosity,
    };
    let prepared = prepare(cmd)?;
    register(opts, &log)?;
    let (pid, report) = spawn(&prepared, signals)?;
    let program = cmd.argv[0].to_string_lossy();
    match report.map(|(stage, errno)| (Stage::from_u32(stage), errno)) {
        Some((Some(Stage::Exec), errno)) => {
            log.fatal(&format!("cannot execute {program}: {errno}"))
        }
        Some((Some(stage), errno)) => log.fatal(&format!(
            "{} failed before running {program}: {errno}",
            stage.what()
        )),
        Some((None, _)) => log.fatal(&format!("the child failed before running {program}")),
        None => log.info(&format!(
            "spawned child process '{program}' with pid '{pid}'"
        )),
    }
    wait_loop(signals, pid, opts, &log)
}

/// The parent death signal and the subreaper registration (tini's `-p` and `-s`).
fn register(opts: &Options, log: &Logger) -> Result<(), InitError> {
    if let Some(sig) = opts.pdeathsig {
        sys::set_parent_death_signal(sig).map_err(failed("setting the parent death signal"))?;
    }
    if opts.subreaper {
        match sys::set_child_subreaper() {
            Ok(()) => log.debug("registered as child subreaper"),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                return Err(InitError::SubreaperUnavailable)
            }
            Err(errno) => return Err(failed("registering as child subreaper")(errno)),
        }
    }
    if std::process::id() != 1 && !sys::is_child_subreaper().unwrap_or(false) {
        log.warn(NOT_PID1_WARNING);
    }
    Ok(())
}

/// Forks the child and waits until it has exec'd (the close-on-exec status pipe reads
/// EOF) or reported where it failed: `(pid, Some((stage number, errno)))` for the latter.
fn spawn(
    prepared: &Prepared,
    signals: &SignalState,
) -> Result<(libc::pid_t, Option<(u32, io::Error)>), InitError> {
    let (read_end, write_end) = sys::pipe_cloexec().map_err(failed("pipe2"))?;
    // SAFETY: single-threaded (documented module requirement); the child only makes
    // system calls on data prepared above.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(failed("fork")(io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(read_end);
        // SAFETY: we are the child of a single-threaded fork.
        unsafe { child(prepared, signals, write_end.as_raw_fd()) }
    }
    drop(write_end);
    // EOF (exec succeeded, the CLOEXEC end closed) or the child's 8-byte report;
    // read_to_end retries EINTR. A read error leaves a short report, read as success
    // (the wait loop still collects the child's status).
    let mut msg = Vec::with_capacity(8);
    let _ = std::fs::File::from(read_end).take(8).read_to_end(&mut msg);
    let report = <[u8; 8]>::try_from(msg.as_slice()).ok().map(|msg| {
        let stage = u32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]);
        let errno = i32::from_ne_bytes([msg[4], msg[5], msg[6], msg[7]]);
        (stage, io::Error::from_raw_os_error(errno))
    });
    Ok((pid, report))
}

fn wait_loop(
    signals: &SignalState,
    child: libc::pid_t,
    opts: &Options,
    log: &Logger,
) -> Result<i32, InitError> {
    let target = if opts.kill_process_group {
        -child
    } else {
        child
    };
    loop {
        match sys::wait_signal(&signals.waited, Duration::from_secs(1)) {
            Ok(None) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(errno) => return Err(failed("sigtimedwait")(errno)),
            Ok(Some(libc::SIGCHLD)) => log.debug("received SIGCHLD"),
            Ok(Some(sig)) => {
                log.debug(&format!("passing signal {sig}"));
                // The main child is still unreaped here (we return as soon as it is),
                // so its pid cannot have been reused.
                match sys::kill(target, sig) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                        log.warn("child was dead when forwarding signal")
                    }
                    Err(errno) => return Err(failed("forwarding a signal")(errno)),
                }
            }
        }
        if let Some(code) = reap(child, opts, log)? {
            return Ok(i32::from(opts.remap_exit.apply(code)));
        }
    }
}

/// Reaps every child that has ended (several exits may share one SIGCHLD, init.md P7);
/// returns the main child's exit code once it is among them.
fn reap(child: libc::pid_t, opts: &Options, log: &Logger) -> Result<Option<u8>, InitError> {
    let mut main_code = None;
    loop {
        let (pid, status) = match sys::reap_any() {
            Ok(Some(ended)) => ended,
            Ok(None) => break,
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(errno) => return Err(failed("waitpid")(errno)),
        };
        if pid == child {
            let code = exit_code_of(status);
            log.info(&format!("main child exited with code {code}"));
            main_code = Some(code);
        } else if opts.warn_on_reap {
            log.warn(&format!("Reaped zombie process with pid={pid}"));
        } else {
            log.debug(&format!("reaped child with pid {pid}"));
        }
    }
    Ok(main_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32) -> i32 {
        (code & 0xff) << 8
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code_of(exited(0)), 0);
        assert_eq!(exit_code_of(exited(64)), 64);
        assert_eq!(exit_code_of(exited(255)), 255);
        assert_eq!(exit_code_of(libc::SIGTERM), 143);
        assert_eq!(exit_code_of(libc::SIGKILL), 137);
        assert_eq!(exit_code_of(libc::SIGKILL | 0x80), 137, "core dump flag");
        assert_eq!(
            exit_code_of(libc::SIGRTMAX()),
            ((128 + libc::SIGRTMAX()) % 256) as u8
        );
    }

    #[test]
    fn exec_failures() {
        assert_eq!(exec_failure_code(libc::ENOENT), 127);
        assert_eq!(exec_failure_code(libc::EACCES), 126);
        assert_eq!(exec_failure_code(libc::ENOEXEC), 1);
    }

    #[test]
    fn remap() {
        let mut remap = ExitRemap::default();
        remap.insert(143);
        assert_eq!(remap.apply(143), 0);
        assert_eq!(remap.apply(1), 1);
        assert_eq!(format!("{remap:?}"), "ExitRemap([143])");
    }

    #[test]
    fn prepare_rejects_nul_and_empty() {
        assert!(matches!(
            prepare(&Command::default()),
            Err(InitError::EmptyArgv)
        ));
        let cmd = Command {
            argv: vec!["a\0b".into()],
            ..Command::default()
        };
        assert!(matches!(prepare(&cmd), Err(InitError::NulByte { .. })));
    }
}
