//! Advisory locks (flock) with a deadline, naming whoever holds them while we wait.
//!
//! The holder is read from `/proc/locks` (pid per lock, by device and inode) and
//! `/proc/<pid>/cmdline`; nothing is written into the lock file, so a lock taken
//! shared by many processes still names them all. Off Linux the holder is unknown and
//! the messages say "another sparkimg process".

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use fs4::FileExt;

use super::error::CacheError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Shared,
    Exclusive,
}

/// Non-blocking attempt: `Ok(true)` when taken, `Ok(false)` when another holds it.
pub fn try_take(file: &File, path: &Path, mode: Mode) -> Result<bool, CacheError> {
    // Fully qualified: Rust ≥1.89 has inherent `File::try_lock*` with other signatures.
    let r = match mode {
        Mode::Exclusive => FileExt::try_lock(file),
        Mode::Shared => FileExt::try_lock_shared(file),
    };
    match r {
        Ok(()) => Ok(true),
        Err(fs4::TryLockError::WouldBlock) => Ok(false),
        Err(fs4::TryLockError::Error(e)) => {
            Err(CacheError::io(format!("locking {}", path.display()), e))
        }
    }
}

/// The lock file at `path` (created, with its directory, if missing), taken exclusively
/// as [`take`] does; released when the file is dropped, also if the process dies.
pub fn exclusive(path: &Path, timeout: Duration, what: &str) -> Result<File, CacheError> {
    let context = || format!("locking {}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CacheError::io(context(), e))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| CacheError::io(context(), e))?;
    take(&file, path, Mode::Exclusive, timeout, what)?;
    Ok(file)
}

/// Take the lock on `file` (opened from `path`), waiting at most `timeout`. While
/// waiting, says once on stderr what it waits for and who holds it.
pub fn take(
    file: &File,
    path: &Path,
    mode: Mode,
    timeout: Duration,
    what: &str,
) -> Result<(), CacheError> {
    if try_take(file, path, mode)? {
        return Ok(());
    }
    let held_by = match holders(path).as_slice() {
        [] => "another sparkimg process".to_string(),
        h => h.join(", "),
    };
    crate::report::note(&format!(
        "waiting for {what}: held by {held_by} (lock {}, --lock-timeout {})",
        path.display(),
        humantime::format_duration(timeout)
    ));
    let start = Instant::now();
    // flock has no timed wait; polling with a short, growing pause keeps it portable.
    let mut pause = Duration::from_millis(20);
    loop {
        if try_take(file, path, mode)? {
            return Ok(());
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(CacheError::LockTimeout {
                what: what.to_string(),
                path: path.to_path_buf(),
                waited: timeout,
                holders: holders(path),
            });
        }
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// `pid N (sparkimg build)` for each other process holding a lock on `path`.
pub fn holders(path: &Path) -> Vec<String> {
    let Ok(md) = std::fs::metadata(path) else {
        return Vec::new();
    };
    let Ok(text) = std::fs::read_to_string("/proc/locks") else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut pids = lock_holders(&text, dev_major(md.dev()), dev_minor(md.dev()), md.ino());
    pids.retain(|p| *p != me);
    pids.into_iter()
        .map(|pid| match command_of(pid) {
            Some(c) => format!("pid {pid} ({c})"),
            None => format!("pid {pid}"),
        })
        .collect()
}

/// The program and its first argument only (`sparkimg build`): the rest of a command
/// line may hold credentials (`--creds USER:PASS`), which must never be printed.
fn command_of(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut words = raw.split(|b| *b == 0).filter(|w| !w.is_empty());
    let prog = String::from_utf8_lossy(words.next()?).into_owned();
    let prog = prog.rsplit('/').next().unwrap_or(&prog).to_string();
    Some(match words.next() {
        Some(sub) => format!("{prog} {}", String::from_utf8_lossy(sub)),
        None => prog,
    })
}

// glibc's gnu_dev_major/gnu_dev_minor encoding of st_dev; written out because no
// dependency of ours exposes it (libc's would be the only reason to add libc here).
fn dev_major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}

fn dev_minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

/// Pure: the pids holding (not waiting for) a lock on the file `major:minor:inode` in
/// the text of `/proc/locks`, e.g. `1: FLOCK  ADVISORY  WRITE 4711 00:2f:1234 0 EOF`
/// (major and minor in hex, the inode in decimal; waiters' lines carry `->`).
pub fn lock_holders(text: &str, major: u64, minor: u64, inode: u64) -> Vec<u32> {
    let mut pids = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) == Some(&"->") || fields.len() < 6 {
            continue;
        }
        let (Ok(pid), Some(file)) = (fields[4].parse::<u32>(), fields.get(5)) else {
            continue;
        };
        let mut parts = file.split(':');
        let hex = |s: Option<&str>| s.and_then(|s| u64::from_str_radix(s, 16).ok());
        let (ma, mi) = (hex(parts.next()), hex(parts.next()));
        let ino = parts.next().and_then(|s| s.parse::<u64>().ok());
        if (ma, mi, ino) == (Some(major), Some(minor), Some(inode)) && !pids.contains(&pid) {
            pids.push(pid);
        }
    }
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_of_one_file_from_proc_locks() {
        let text = "\
1: FLOCK  ADVISORY  WRITE 4711 00:2f:1234 0 EOF
2: FLOCK  ADVISORY  READ 10 00:2f:1234 0 EOF
2: -> FLOCK  ADVISORY  WRITE 99 00:2f:1234 0 EOF
3: POSIX  ADVISORY  WRITE 12 fd:01:1234 0 EOF
4: FLOCK  ADVISORY  READ 13 00:2f:12345 0 EOF
5: OFDLCK ADVISORY  READ -1 00:2f:1234 0 EOF
6: FLOCK  ADVISORY  READ 10 00:2f:1234 0 EOF
garbage
";
        assert_eq!(lock_holders(text, 0, 0x2f, 1234), vec![4711, 10]);
        assert_eq!(lock_holders(text, 0xfd, 1, 1234), vec![12]);
        assert!(lock_holders(text, 0, 0x2f, 99).is_empty());
        assert!(lock_holders("", 0, 0, 0).is_empty());
    }

    #[test]
    fn device_numbers_split_like_glibc() {
        // makedev(8, 1) and makedev(259, 70000).
        assert_eq!((dev_major(0x801), dev_minor(0x801)), (8, 1));
        let dev = ((70000u64 & !0xff) << 12) | (259u64 << 8) | (70000u64 & 0xff);
        assert_eq!((dev_major(dev), dev_minor(dev)), (259, 70000));
    }

    #[test]
    fn a_held_lock_names_this_process_and_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let a = File::create(&path).unwrap();
        let b = File::open(&path).unwrap();
        take(&a, &path, Mode::Exclusive, Duration::ZERO, "x").unwrap();
        // flock conflicts between open file descriptions, also in one process.
        let err = take(&b, &path, Mode::Shared, Duration::from_millis(100), "the x").unwrap_err();
        let hint = err.hint().unwrap_or_default();
        let err = err.to_string();
        assert!(
            err.starts_with("timed out after 100ms waiting for the x"),
            "{err}"
        );
        assert!(hint.contains("--lock-timeout"), "{hint}");
        drop(a);
        take(&b, &path, Mode::Shared, Duration::ZERO, "x").unwrap();
    }
}
