//! Facts about the machine that some Spark versions' entrypoints look up at start.
//!
//! The planner asks through the [`Probe`] trait so it stays pure: tests answer from a
//! vector's recorded container, [`SystemProbe`] answers from the running system.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::inputs::Env;

pub trait Probe {
    /// `java.home` of the `java` found on `PATH` (what `java -XshowSettings:properties` reports), if any.
    fn java_home(&self, env: &Env) -> Option<OsString>;
    /// The output of `$HADOOP_HOME/bin/hadoop classpath`, or why it failed.
    fn hadoop_classpath(&self, hadoop_home: &OsStr, env: &Env) -> Result<OsString, String>;
    /// What `<python> -V` prints (`Python 3.11.2`), or `None` when it cannot run.
    fn python_version(&self, python: &str, env: &Env) -> Option<String>;
    /// The working directory (`$PWD` of the upstream script).
    fn cwd(&self) -> OsString;
    /// What is at `path`, symbolic links followed (what `[ -f ]` / `[ -d ]` test).
    fn path_kind(&self, path: &Path) -> PathKind;
    /// Where `execvp` would find `name` on the `PATH` of `env`.
    fn find_program(&self, name: &str, env: &Env) -> Option<PathBuf>;
    /// The names in directory `dir` (what a shell glob there sees); empty when it
    /// cannot be read.
    fn list_dir(&self, dir: &Path) -> Vec<OsString>;
    /// What `hostname -f` prints: the host name's canonical name in `/etc/hosts`, else
    /// the host name.
    fn fqdn(&self) -> OsString;
}

/// The answer of [`Probe::path_kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    Missing,
    File,
    Dir,
    /// A device, socket or FIFO.
    Other,
}

/// Answers from the live system. Every method is only called when the plan needs it,
/// so the common paths (executor/driver with `JAVA_HOME` set) start no process at all.
pub struct SystemProbe;

/// Finds `name` in the `PATH` of `env`, as `execvp` would.
pub fn find_on_path(name: &str, env: &Env) -> Option<PathBuf> {
    let path = env.get("PATH")?;
    path.as_bytes()
        .split(|b| *b == b':')
        .map(|dir| {
            if dir.is_empty() {
                PathBuf::from(".")
            } else {
                PathBuf::from(OsStr::from_bytes(dir))
            }
        })
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn run_for_output(
    program: &Path,
    args: &[&str],
    env: &Env,
) -> Result<std::process::Output, String> {
    Command::new(program)
        .args(args)
        .env_clear()
        .envs(env.iter())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))
}

impl Probe for SystemProbe {
    fn java_home(&self, env: &Env) -> Option<OsString> {
        // Resolving the symlink chain gives the same answer as asking the JVM for
        // `java.home` (…/bin/java → …), without paying a JVM start (~100 ms).
        let java = std::fs::canonicalize(find_on_path("java", env)?).ok()?;
        let home = java.parent()?.parent()?;
        Some(home.as_os_str().to_os_string())
    }

    fn hadoop_classpath(&self, hadoop_home: &OsStr, env: &Env) -> Result<OsString, String> {
        let hadoop = Path::new(hadoop_home).join("bin/hadoop");
        let output = run_for_output(&hadoop, &["classpath"], env)?;
        if !output.status.success() {
            return Err(format!(
                "{} classpath exited with {}: {}",
                hadoop.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let mut stdout = output.stdout;
        while stdout.last() == Some(&b'\n') {
            stdout.pop();
        }
        Ok(OsString::from_vec(stdout))
    }

    fn python_version(&self, python: &str, env: &Env) -> Option<String> {
        let program = find_on_path(python, env)?;
        let output = run_for_output(&program, &["-V"], env).ok()?;
        if !output.status.success() {
            return None;
        }
        // Python 2 prints its version on stderr, Python 3 on stdout.
        let text = if output.stdout.is_empty() {
            output.stderr
        } else {
            output.stdout
        };
        Some(String::from_utf8_lossy(&text).trim().to_string())
    }

    fn cwd(&self) -> OsString {
        std::env::current_dir()
            .map(PathBuf::into_os_string)
            .unwrap_or_else(|_| OsString::from("."))
    }

    fn path_kind(&self, path: &Path) -> PathKind {
        match path.metadata() {
            Ok(m) if m.is_file() => PathKind::File,
            Ok(m) if m.is_dir() => PathKind::Dir,
            Ok(_) => PathKind::Other,
            Err(_) => PathKind::Missing,
        }
    }

    fn find_program(&self, name: &str, env: &Env) -> Option<PathBuf> {
        find_on_path(name, env)
    }

    fn fqdn(&self) -> OsString {
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        canonical_name(name.trim(), &hosts).into()
    }

    fn list_dir(&self, dir: &Path) -> Vec<OsString> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut names: Vec<OsString> = entries.flatten().map(|e| e.file_name()).collect();
        // read_dir's order is the file system's; a sorted list keeps plans reproducible.
        names.sort();
        names
    }
}

/// `name`'s canonical name in an `/etc/hosts` text (the first name of the first line
/// naming it), else `name`. `hostname -f` asks the resolver; a static binary must not
/// load NSS modules, and in a container `/etc/hosts` is where the runtime writes the
/// pod's own names, so the files source is what answers there.
pub fn canonical_name(name: &str, hosts: &str) -> String {
    hosts
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .filter_map(|line| {
            let mut names = line.split_whitespace().skip(1);
            let canonical = names.next()?;
            let matches = canonical.eq_ignore_ascii_case(name)
                || names.any(|alias| alias.eq_ignore_ascii_case(name));
            matches.then(|| canonical.to_string())
        })
        .next()
        .unwrap_or_else(|| name.to_string())
}

/// Why the Spark version could not be determined.
#[derive(Debug, thiserror::Error)]
pub enum VersionSourceError {
    // Not a `#[source]`: the message shows it, and `main` prints messages, not chains.
    #[error("{source_name}: {error}")]
    Invalid {
        source_name: String,
        error: crate::version::VersionError,
    },
    #[error("cannot tell which Spark version this image holds: SPARK_VERSION is not set, and neither {release} nor a spark-core_*.jar in {jars} names one\nhint: set SPARK_VERSION in the image or pass --spark-version")]
    NotFound { release: String, jars: String },
}

/// The Spark version, from (in order) `--spark-version`, `SPARK_VERSION`,
/// `$SPARK_HOME/RELEASE`, or the `spark-core_*.jar` in `$SPARK_HOME/jars`.
pub fn spark_version(
    flag: Option<&str>,
    env: &Env,
) -> Result<crate::version::SparkVersion, VersionSourceError> {
    use crate::version::SparkVersion;
    let parse = |source_name: &str, text: &str| {
        crate::version::parse(text).map_err(|error| VersionSourceError::Invalid {
            source_name: source_name.to_string(),
            error,
        })
    };
    if let Some(text) = flag {
        return parse("--spark-version", text);
    }
    if let Some(text) = env.non_empty("SPARK_VERSION") {
        return parse("SPARK_VERSION", &text.to_string_lossy());
    }
    let home = Path::new(env.value("SPARK_HOME"));
    let release = home.join("RELEASE");
    if let Ok(text) = std::fs::read_to_string(&release) {
        if let Some(version) = SparkVersion::from_release_file(&text) {
            return parse(&release.display().to_string(), &version.to_string());
        }
    }
    let jars = home.join("jars");
    if let Ok(entries) = std::fs::read_dir(&jars) {
        for entry in entries.flatten() {
            if let Some(version) = entry
                .file_name()
                .to_str()
                .and_then(SparkVersion::from_core_jar_name)
            {
                return parse(&entry.path().display().to_string(), &version.to_string());
            }
        }
    }
    Err(VersionSourceError::NotFound {
        release: release.display().to_string(),
        jars: jars.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::canonical_name;

    #[test]
    fn canonical_name_is_the_first_name_of_the_line_naming_the_host() {
        // What Kubernetes writes for a pod with a hostname and subdomain.
        let hosts = "127.0.0.1\tlocalhost\n# Entries added by HostAliases.\n\
                     10.0.0.7\tspark-master-0.spark-master.default.svc.cluster.local\tspark-master-0\n";
        assert_eq!(
            canonical_name("spark-master-0", hosts),
            "spark-master-0.spark-master.default.svc.cluster.local"
        );
        assert_eq!(
            canonical_name("SPARK-MASTER-0", hosts),
            "spark-master-0.spark-master.default.svc.cluster.local"
        );
        // Not named there: the host name itself, as `hostname -f` falls back to.
        assert_eq!(canonical_name("worker-1", hosts), "worker-1");
        assert_eq!(canonical_name("x", "10.0.0.1 # x\n"), "x");
        assert_eq!(
            canonical_name("x", "10.0.0.1 x.lan x\n10.0.0.2 x.other x\n"),
            "x.lan"
        );
    }
}
