//! Safe wrappers over the raw `libc` system calls of the entrypoint; errno comes back as
//! `std::io::Error`. The only other `unsafe` is the supervisor's signal-mask, fork and
//! exec core (`init/supervisor.rs`), which works on raw sigsets and pointers by nature.
//!
//! Why libc and not nix is written down in ARCHITECTURE.md ("System calls").

use std::ffi::CStr;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

/// `Err(errno)` for the `-1` that system calls return on failure.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The real user id.
pub fn uid() -> libc::uid_t {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// The real group id.
pub fn gid() -> libc::gid_t {
    // SAFETY: getgid has no preconditions and cannot fail.
    unsafe { libc::getgid() }
}

/// Whether the real uid may write to `path` (`access(W_OK)`).
pub fn can_write(path: &CStr) -> bool {
    // SAFETY: path is a valid NUL-terminated string for the duration of the call.
    unsafe { libc::access(path.as_ptr(), libc::W_OK) == 0 }
}

/// Sends `signal` (any number, real-time signals included) to `pid`; a negative pid
/// names a process group.
pub fn kill(pid: libc::pid_t, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: kill has no memory-safety preconditions.
    check(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// `prctl(PR_SET_PDEATHSIG)`: `signal` is sent to us when our parent dies.
pub fn set_parent_death_signal(signal: libc::c_int) -> io::Result<()> {
    let signal = libc::c_ulong::try_from(signal).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: PR_SET_PDEATHSIG takes an integer argument; no pointers are passed.
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal, 0, 0, 0) }).map(drop)
}

/// `prctl(PR_SET_CHILD_SUBREAPER, 1)`: orphaned descendants are re-parented to us.
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer argument; no pointers are passed.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) })
        .map(drop)
}

/// Whether we are a child subreaper (`PR_GET_CHILD_SUBREAPER`).
pub fn is_child_subreaper() -> io::Result<bool> {
    let mut flag: libc::c_int = 0;
    // SAFETY: the kernel writes one int through the pointer, which points to `flag`.
    check(unsafe {
        libc::prctl(
            libc::PR_GET_CHILD_SUBREAPER,
            &mut flag as *mut libc::c_int,
            0,
            0,
            0,
        )
    })?;
    Ok(flag != 0)
}

/// A pipe whose ends are closed on exec: `(read, write)`.
pub fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds is a valid 2-element array for the kernel to fill.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Reaps one ended child without blocking: `Some((pid, wait status))`, or `None` when
/// children exist but none has ended. `ECHILD` (no children at all) is an error.
pub fn reap_any() -> io::Result<Option<(libc::pid_t, libc::c_int)>> {
    let mut status: libc::c_int = 0;
    // SAFETY: status is a local out-parameter.
    let pid = check(unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) })?;
    Ok((pid != 0).then_some((pid, status)))
}

/// Waits up to `timeout` for one of the (blocked) signals in `set`: `Some(signal)`, or
/// `None` when the time ran out.
pub fn wait_signal(set: &libc::sigset_t, timeout: Duration) -> io::Result<Option<libc::c_int>> {
    let timeout = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        // Below 10^9, so it fits any c_long.
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: set and timeout are valid for the call; info is a local out-parameter
    // that zeroed memory initialises (siginfo_t is plain data).
    let signal = unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::sigtimedwait(set, &mut info, &timeout)
    };
    match check(signal) {
        Ok(signal) => Ok(Some(signal)),
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn kill_reports_errno() {
        // Signal 0 checks existence: we exist; pid i32::MAX does not.
        kill(std::process::id() as libc::pid_t, 0).unwrap();
        let err = kill(libc::pid_t::MAX, 0).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
        let err = kill(std::process::id() as libc::pid_t, -1).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn pipe_ends_carry_bytes_and_close_on_exec() {
        let (read, write) = pipe_cloexec().unwrap();
        for fd in [&read, &write] {
            use std::os::fd::AsRawFd;
            // SAFETY: F_GETFD on an open descriptor we own.
            let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
            assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        }
        std::fs::File::from(write).write_all(b"ok").unwrap();
        let mut got = Vec::new();
        std::fs::File::from(read).read_to_end(&mut got).unwrap();
        assert_eq!(got, b"ok");
    }

    #[test]
    fn ids_and_access() {
        use std::os::unix::fs::MetadataExt;
        // /proc/self belongs to our (here also real) uid and gid.
        let me = std::fs::metadata("/proc/self").unwrap();
        assert_eq!((uid(), gid()), (me.uid(), me.gid()));
        assert!(can_write(c"/dev/null"));
        assert!(!can_write(c"/nonexistent/path"));
    }

    #[test]
    fn parent_death_signal_refuses_negative_numbers() {
        let err = set_parent_death_signal(-1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
