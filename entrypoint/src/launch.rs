//! Carrying out a [`Plan`]: prepare files, fix the identity, start the command under
//! the supervisor.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::Stdio;

use crate::exit_code;
use crate::identity::{self, Credentials, Facts, PasswdFix};
use crate::init::{self, Command, Options, SignalState};
use crate::inputs::Env;
use crate::launcher::{self, Launcher};
use crate::plan::{Plan, Prepare};

/// A failure before the command started: the message and our exit status.
#[derive(Debug)]
struct Failure {
    message: String,
    code: i32,
}

impl From<identity::IdentityError> for Failure {
    fn from(err: identity::IdentityError) -> Failure {
        Failure {
            code: err.exit_code(),
            message: err.to_string(),
        }
    }
}

/// Runs `plan` and returns the exit status for the entrypoint.
pub fn run(plan: &Plan, env: &Env) -> i32 {
    // Before any work: a SIGTERM that arrives while we prepare is queued and
    // forwarded to the command once it runs, instead of being lost (init.md P4).
    let signals = match SignalState::block() {
        Ok(signals) => signals,
        Err(err) => {
            eprintln!("spark-entrypoint: {err}");
            return exit_code::INTERNAL;
        }
    };
    run_blocked(&signals, plan, env)
}

/// [`run`] for a caller that blocked signals itself, as early as it could
/// (e.g. first thing in `main`, before planning).
pub fn run_blocked(signals: &SignalState, plan: &Plan, env: &Env) -> i32 {
    match prepare_and_run(signals, plan, env) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("spark-entrypoint: {}", failure.message);
            failure.code
        }
    }
}

fn prepare_and_run(signals: &SignalState, plan: &Plan, env: &Env) -> Result<i32, Failure> {
    if let Some(notice) = plan.notice {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{notice}").and_then(|()| out.flush());
    }
    for step in &plan.prepare {
        match step {
            Prepare::CopyDirIntoCwd { from } => copy_into_cwd(from)?,
        }
    }

    let mut child_env: BTreeMap<OsString, OsString> = env
        .iter()
        .map(|(k, v)| (k.to_os_string(), v.to_os_string()))
        .collect();
    child_env.extend(plan.env.iter().map(|(k, v)| (k.clone(), v.clone())));

    let passwd_path = Path::new(identity::PASSWD_PATH);
    let passwd = identity::read_optional(passwd_path)?;
    let group = identity::read_optional(Path::new(identity::GROUP_PATH))?;
    let (uid, gid) = (crate::sys::uid(), crate::sys::gid());
    let credentials = if uid == 0 && plan.drop_privileges {
        identity::resolve_run_as(
            env.get("SPARK_RUN_AS"),
            &identity::parse_passwd(&passwd),
            &identity::parse_group(&group),
        )?
    } else {
        None
    };
    if let Some(Credentials { home, .. }) = &credentials {
        // As gosu does: HOME belongs to the user we switch to.
        child_env.insert("HOME".into(), home.clone());
    }
    let (final_uid, final_gid) = credentials.as_ref().map_or((uid, gid), |c| (c.uid, c.gid));
    // The usual case, an entry for the user, asks nothing more of the system: the
    // access check and nss_wrapper's search (a directory scan) are for a missing entry.
    let fix = if identity::has_entry(&passwd, final_uid) {
        PasswdFix::Nothing
    } else {
        let passwd_writable = identity::writable(passwd_path);
        identity::plan_passwd_fix(&Facts {
            uid: final_uid,
            gid: final_gid,
            nss_wrapper: if passwd_writable {
                None
            } else {
                identity::find_nss_wrapper()
            },
            passwd,
            group,
            passwd_writable,
            spark_home: child_env
                .get(std::ffi::OsStr::new("SPARK_HOME"))
                .cloned()
                .unwrap_or_default(),
            gecos: plan.passwd_gecos.clone(),
        })
    };
    // Kept alive until the command has ended: nss_wrapper reads them all along.
    let (additions, _temp_files) = match identity::apply_passwd_fix(&fix, passwd_path) {
        Ok(done) => done,
        Err(err) => {
            // Upstream carries on when the entry cannot be added; so do we.
            if matches!(fix, PasswdFix::Append { .. }) {
                println!("{}", identity::PASSWD_FAILED_MESSAGE);
            }
            eprintln!("spark-entrypoint: warning: {err}");
            Default::default()
        }
    };
    child_env.extend(additions);

    let argv = match &plan.launcher {
        None => plan.argv.clone(),
        Some(launcher) => match run_launcher(launcher, &mut child_env, credentials.as_ref())? {
            Launched::Command(argv) => argv,
            Launched::Exit(code) => return Ok(code),
        },
    };
    let cmd = Command {
        argv,
        env: child_env.into_iter().collect(),
        credentials,
    };
    let opts = Options {
        subreaper: true,
        ..Options::default()
    };
    init::supervise_blocked(signals, &cmd, &opts).map_err(|err| Failure {
        message: err.to_string(),
        code: exit_code::INTERNAL,
    })
}

/// What came of running Spark's launcher.
enum Launched {
    /// The command to exec (its variables are already in the child's environment).
    Command(Vec<OsString>),
    /// The launcher failed; it said why itself. Exit with this status.
    Exit(i32),
}

/// Runs Spark's launcher as `bin/spark-class` does: its stdout is read, its stderr
/// and stdin are ours, its exit status decides. It runs as the user the command
/// will run as, with the command's environment, to which the scripts' exports and
/// the launcher's `env NAME=VALUE` prefix are added.
fn run_launcher(
    launcher: &Launcher,
    child_env: &mut BTreeMap<OsString, OsString>,
    credentials: Option<&Credentials>,
) -> Result<Launched, Failure> {
    if let Some(refusal) = &launcher.refusal {
        return Err(Failure {
            message: refusal.message.clone(),
            code: refusal.code,
        });
    }
    for name in &launcher.unset {
        child_env.remove(name);
    }
    child_env.extend(launcher.env.clone());
    let Some((program, args)) = launcher.argv.split_first() else {
        return Err(Failure {
            message: "the launcher step has no program".into(),
            code: exit_code::INTERNAL,
        });
    };
    // std resets the signal mask we blocked, so the launcher JVM starts like any
    // program; signals that reach us meanwhile wait for the command, as before.
    let mut command = std::process::Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(child_env.iter())
        .stdout(Stdio::piped());
    if let Some(c) = credentials {
        // std also drops root's supplementary groups here; the launcher only reads
        // $SPARK_HOME, which is world-readable, so the user's own groups are not needed.
        command.uid(c.uid).gid(c.gid);
    }
    let output = command
        .spawn()
        .and_then(std::process::Child::wait_with_output)
        .map_err(|err| Failure {
            message: format!(
                "cannot run Spark's launcher ({}): {err}",
                Path::new(program).display()
            ),
            code: match err.kind() {
                std::io::ErrorKind::NotFound => exit_code::NOT_FOUND,
                std::io::ErrorKind::PermissionDenied => exit_code::NOT_EXECUTABLE,
                _ => exit_code::INTERNAL,
            },
        })?;
    let status = output.status;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    // What the launcher printed when it gave no command is a message: shown as
    // spark-class shows it, without the NULs.
    let show_as_message = |stdout: &[u8]| {
        let text: Vec<u8> = stdout.iter().copied().filter(|b| *b != 0).collect();
        let mut out = std::io::stdout();
        let _ = out.write_all(&text).and_then(|()| out.flush());
    };
    if code != 0 {
        // spark-class exits with the launcher's status.
        show_as_message(&output.stdout);
        return Ok(Launched::Exit(code));
    }
    let printed = match launcher::parse_output(&output.stdout, launcher.separated_output) {
        Ok(printed) => printed,
        Err(err) => {
            if err == launcher::OutputError::NoCommand {
                show_as_message(&output.stdout);
            }
            return Err(Failure {
                message: err.to_string(),
                code: exit_code::UPSTREAM_ERROR,
            });
        }
    };
    let mut out = std::io::stdout();
    for message in &printed.messages {
        let _ = out
            .write_all(message.as_encoded_bytes())
            .and_then(|()| out.write_all(b"\n"));
    }
    let _ = out.flush();
    child_env.extend(printed.env);
    Ok(Launched::Command(printed.argv))
}

/// `cp -R from/. .`: the contents of `from` into the working directory (Spark 2.3's
/// `SPARK_MOUNTED_FILES_DIR`).
fn copy_into_cwd(from: &Path) -> Result<(), Failure> {
    if !from.is_dir() {
        return Err(Failure {
            message: format!(
                "SPARK_MOUNTED_FILES_DIR={}: no such directory\nhint: mount the files there or unset SPARK_MOUNTED_FILES_DIR",
                from.display()
            ),
            code: exit_code::UPSTREAM_ERROR,
        });
    }
    copy_dir_contents(from, Path::new(".")).map_err(|(path, err)| Failure {
        message: format!(
            "copying SPARK_MOUNTED_FILES_DIR={}: {}: {err}",
            from.display(),
            path.display()
        ),
        code: exit_code::UPSTREAM_ERROR,
    })
}

/// Copies files (with their permissions), directories and symlinks (as symlinks, as
/// `cp -R` does) from `from` into `to`, overwriting files that exist.
pub fn copy_dir_contents(
    from: &Path,
    to: &Path,
) -> Result<(), (std::path::PathBuf, std::io::Error)> {
    let entries = std::fs::read_dir(from).map_err(|e| (from.to_path_buf(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| (from.to_path_buf(), e))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry.file_type().map_err(|e| (src.clone(), e))?;
        if kind.is_dir() {
            match std::fs::create_dir(&dst) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err((dst, e)),
                _ => {}
            }
            copy_dir_contents(&src, &dst)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&src).map_err(|e| (src.clone(), e))?;
            let _ = std::fs::remove_file(&dst);
            std::os::unix::fs::symlink(&target, &dst).map_err(|e| (dst.clone(), e))?;
        } else {
            std::fs::copy(&src, &dst).map_err(|e| (dst.clone(), e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_a_tree() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("a/b")).unwrap();
        std::fs::write(from.path().join("top.txt"), "top").unwrap();
        std::fs::write(from.path().join("a/b/deep.txt"), "deep").unwrap();
        std::os::unix::fs::symlink("top.txt", from.path().join("link")).unwrap();
        std::fs::write(to.path().join("top.txt"), "old").unwrap();
        copy_dir_contents(from.path(), to.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(to.path().join("top.txt")).unwrap(),
            "top"
        );
        assert_eq!(
            std::fs::read_to_string(to.path().join("a/b/deep.txt")).unwrap(),
            "deep"
        );
        assert_eq!(
            std::fs::read_link(to.path().join("link")).unwrap(),
            Path::new("top.txt")
        );
    }
}
