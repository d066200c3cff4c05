//! Small helpers shared by the commands: paths, running processes, atomic files.

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The workspace root (the directory holding the top-level Cargo.toml).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR` as cargo itself does.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        }
        _ => root().join("target"),
    }
}

/// A `cargo` command: the same cargo that runs us (`$CARGO`), so toolchain overrides hold.
pub fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root());
    cmd
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// Runs `cmd` with inherited stdio after echoing it, and fails unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = describe(cmd);
    eprintln!("$ {line}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed: {status}");
    }
    Ok(())
}

/// Runs `cmd` and returns its stdout; stderr is passed through so failures explain themselves.
pub fn output(cmd: &mut Command) -> Result<String> {
    let line = describe(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot start `{line}`"))?;
    if !out.status.success() {
        bail!("`{line}` failed: {}", out.status);
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{line}` printed non-UTF-8"))
}

/// Whether `program` can be started (used to pick optional tools such as pigz).
pub fn have(program: impl AsRef<OsStr>) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The Docker Engine's version when one answers (`docker version`), else `None`.
pub fn docker_engine() -> Option<String> {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A sibling of `path` that no reader trusts: a dot file with our pid, so two
/// concurrent runs don't write into each other's temporary file.
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes `bytes` to `path` so a reader sees either the old or the new content, never
/// a torn file: write a temporary sibling, fsync it, rename it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_mode(path, bytes, 0o644)
}

/// [`write_atomic`] with a file mode, set before the rename so the final path never
/// holds, say, a non-executable binary.
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("mkdir {}", dir.display()))?;
    }
    let tmp = temp_sibling(path);
    let mut file = fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("write {}", tmp.display()))?;
    drop(file);
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
    fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))?;
    Ok(())
}

/// Like [`write_atomic`], but leaves the file (and its mtime) alone when it already
/// holds `bytes`, so tools that look at mtimes don't see spurious changes.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    write_atomic(path, bytes)
}

/// Removes what killed runs left in `dir`: the dot-names ending in `-<pid>` that
/// [`temp_sibling`], [`replace_dir`] and the fixture staging use, when that pid is
/// no longer running (a live concurrent run keeps its own).
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix('.') else {
            continue;
        };
        let Some((_, pid)) = rest.rsplit_once('-') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let path = entry.path();
        let _ = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
    }
}

/// Renames `from` over `to`, replacing a directory at `to` too (rename(2) cannot).
pub fn replace_dir(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        let name = to
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let old = to.with_file_name(format!(".{name}.old-{}", std::process::id()));
        fs::rename(to, &old).with_context(|| format!("move aside {}", to.display()))?;
        fs::remove_dir_all(&old).with_context(|| format!("remove {}", old.display()))?;
    }
    fs::rename(from, to).with_context(|| format!("rename to {}", to.display()))
}

/// The hex digest of `path` computed by coreutils' `sha256sum`/`sha512sum`: the
/// fixtures are hundreds of MB and the `sha2` crate would run unoptimised in the
/// dev profile `cargo xtask` is built with.
pub fn sha_file(tool: &str, path: &Path) -> Result<String> {
    let out = output(Command::new(tool).arg("--").arg(path))?;
    let hex = out.split_whitespace().next().unwrap_or_default();
    if hex.len() < 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("unexpected {tool} output for {}: {out:?}", path.display());
    }
    Ok(hex.to_string())
}

/// FNV-1a, for fingerprinting our own embedded assets in cache stamps. It only needs
/// to change when they change, and unlike `DefaultHasher` it is stable across Rust releases.
pub fn fnv64(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// A 0755 directory under /tmp (never `$TMPDIR`, which may be private), removed on
/// drop: for files that another UID must reach even when the checkout sits below a
/// directory only its owner can enter.
pub struct PublicTempDir(PathBuf);

impl PublicTempDir {
    pub fn new(prefix: &str) -> Result<PublicTempDir> {
        use std::os::unix::fs::PermissionsExt;
        let out = output(
            Command::new("mktemp")
                .arg("-d")
                .arg(format!("/tmp/{prefix}.XXXXXX")),
        )?;
        let dir = PublicTempDir(PathBuf::from(out.trim()));
        fs::set_permissions(&dir.0, fs::Permissions::from_mode(0o755))?;
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Copies the executable `from` in as `name`, mode 0755.
    pub fn copy_in(&self, from: &Path, name: &str) -> Result<PathBuf> {
        let to = self.0.join(name);
        let bytes = fs::read(from).with_context(|| format!("read {}", from.display()))?;
        write_atomic_mode(&to, &bytes, 0o755)?;
        Ok(to)
    }
}

impl Drop for PublicTempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Prints how long a named step took; used so CI logs show where the time goes.
pub struct Step {
    name: String,
    start: Instant,
}

impl Step {
    pub fn start(name: impl Into<String>) -> Step {
        let name = name.into();
        eprintln!("==> {name}");
        Step {
            name,
            start: Instant::now(),
        }
    }

    pub fn done(self) -> Duration {
        let took = self.start.elapsed();
        eprintln!("<== {} ({:.1} s)", self.name, took.as_secs_f64());
        took
    }
}

/// `1234567` → `"1.18 MiB"`, for human-facing size lines.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

/// `python3 -m http.server` serving `dir` on an ephemeral 127.0.0.1 port (a loopback
/// Spark mirror for the demo, the e2e suite and the fetch benchmark); stopped on drop.
pub struct Mirror {
    child: std::process::Child,
    pub port: u16,
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
}

impl Mirror {
    /// Serves `dir`; the server's own log (one line per request) goes to `log`, if given.
    pub fn serve(dir: &Path, log: Option<&Path>) -> Result<Mirror> {
        use std::io::{BufRead, BufReader};
        let stderr = match log {
            Some(path) => Stdio::from(fs::File::create(path)?),
            None => Stdio::null(),
        };
        // Port 0 lets the kernel pick a free port; the server prints the one it got
        // ("Serving HTTP on 127.0.0.1 port N …"), unbuffered thanks to -u.
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
            .arg("--directory")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("cannot start python3 -m http.server")?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            BufReader::new(stdout).read_line(&mut line)?;
        }
        let port: Option<u16> = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("http.server did not say which port it listens on: {line:?}");
        };
        Ok(Mirror {
            child,
            port,
            url: format!("http://127.0.0.1:{port}/"),
        })
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_separates_parts() {
        assert_ne!(fnv64(&[b"ab", b"c"]), fnv64(&[b"a", b"bc"]));
        assert_eq!(fnv64(&[b"x"]), fnv64(&[b"x"]));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1_572_864), "1.50 MiB");
    }
}
