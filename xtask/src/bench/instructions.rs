//! Instruction counts for `cargo xtask bench entrypoint`: stable where wall times on a
//! loaded machine are not. The kernel here offers no hardware counters to `perf stat`,
//! so valgrind's callgrind counts them: every process of a side (`--trace-children`),
//! each dumped just before it calls `execve` so the work of a process that execs (bash
//! handing over to tini) is kept, not lost with its image. Only functions with symbols
//! can trigger a dump: the stripped static binaries (ours, tini-static) dump at exit,
//! and their forked children's pre-exec instructions (a few thousand) are not counted.
//! An exec'd image that dumps again (bash execing bash, the driver's spark-submit →
//! spark-class) reuses its pid's part numbers, so the bash driver side is a lower bound.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{ensure, Context, Result};

/// The instructions all processes of `cmd` executed, summed over callgrind's dumps.
/// `cmd` is set up (program, args, env, cwd); it runs under valgrind as `user`.
pub fn count(cmd: &Command, user: Option<(u32, u32)>, scratch: &Path) -> Result<u64> {
    let _ = fs::remove_dir_all(scratch);
    fs::create_dir_all(scratch)?;
    // Callgrind's files are written by whoever the side runs as.
    fs::set_permissions(scratch, std::os::unix::fs::PermissionsExt::from_mode(0o777))?;
    let mut vg = Command::new("valgrind");
    vg.args([
        "--tool=callgrind",
        "--trace-children=yes",
        "--dump-before=execve",
        // A forked child inherits its parent's counters: dumping (and so zeroing) them
        // before every fork keeps bash's subshells from counting bash twice.
        "--dump-before=fork",
        "--dump-before=_Fork",
        "--dump-instr=no",
        "--quiet",
    ])
    .arg(format!("--callgrind-out-file={}/cg.%p", scratch.display()))
    .arg(cmd.get_program())
    .args(cmd.get_args())
    .env_clear()
    .envs(
        cmd.get_envs()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
    )
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if let Some(dir) = cmd.get_current_dir() {
        vg.current_dir(dir);
    }
    if let Some((uid, gid)) = user {
        use std::os::unix::process::CommandExt;
        vg.uid(uid).gid(gid);
    }
    let status = vg.status().context("cannot start valgrind")?;
    ensure!(status.success(), "valgrind --tool=callgrind: {status}");
    let mut total = 0;
    for entry in fs::read_dir(scratch)? {
        total += totals(&fs::read_to_string(entry?.path())?);
    }
    let _ = fs::remove_dir_all(scratch);
    ensure!(total > 0, "callgrind counted no instructions");
    Ok(total)
}

/// Pure: the `totals:` (else `summary:`) figure of one callgrind dump.
pub fn totals(dump: &str) -> u64 {
    let find = |key: &str| {
        dump.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    find("totals:").or_else(|| find("summary:")).unwrap_or(0)
}

/// "1.23 M instr."
pub fn describe(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.2} M instr.", n as f64 / 1e6)
    } else {
        format!("{:.1} k instr.", n as f64 / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_of_a_dump() {
        assert_eq!(totals("events: Ir\nsummary: 120\ntotals: 128\n"), 128);
        assert_eq!(totals("events: Ir\nsummary: 120\n"), 120);
        assert_eq!(totals("events: Ir\n"), 0);
        assert_eq!(describe(1_234_567), "1.23 M instr.");
        assert_eq!(describe(45_600), "45.6 k instr.");
    }
}
