//! The supervisor and its effects, run for real: the built binary in tini mode (a
//! `tini` symlink to it) and in entrypoint mode, as PID 1 of a new PID namespace
//! (`unshare -fp --mount-proc`) and as a `-s` subreaper.
//!
//! Needs root (namespaces, bind mounts, setpriv) plus `unshare`, `setpriv`, `mount`
//! (util-linux/mount), `/usr/bin/python3` and `java` 11+ (source launch); a test whose
//! tool or privilege is missing is skipped with its reason (`common::skip`: counted by
//! `cargo xtask test`, a failure under CI). Tests that run the binary as another UID run
//! a copy in a 0755 directory under /tmp, so the checkout may sit anywhere.
//! Nothing here touches the real /etc/passwd: tests that may append to it run in a
//! private mount namespace with a temporary copy bind-mounted over it.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use crate::common::{need, need_root, reachable_binary, skip, tempdir, BIN};

/// This theme's tests.
pub fn trials() -> Vec<libtest_mimic::Trial> {
    crate::trials![
        exit_status_is_passed_through,
        killed_by_signal_is_128_plus_n,
        remap_exit_code,
        signals_are_forwarded,
        orphans_are_reaped,
        reaped_orphans_are_reported_with_w,
        exits_without_waiting_for_descendants,
        exec_failures_name_the_program,
        child_gets_a_clean_signal_state,
        child_inherits_the_original_signal_state,
        child_leads_its_own_process_group,
        process_group_mode_signals_the_whole_group,
        tini_command_line,
        pdeathsig_is_forwarded,
        java_exits_143_on_sigterm,
        random_uid_gets_a_passwd_entry,
        root_switches_to_185,
        pass_through_keeps_root,
        decommission_signals_and_waits,
        decommission_without_executor_fails,
        job_control_signals_stop_the_child_not_the_init,
        realtime_and_other_signals_are_forwarded,
        invoked_as_decom_sh_it_decommissions,
        launcher_status_and_its_env_prefix,
        pass_through_and_connect_run_the_launcher_step,
    ]
}

const PYTHON: &str = "/usr/bin/python3";
const TIMEOUT: Duration = Duration::from_secs(20);

/// Whether PID namespaces (and so real PID-1 tests) work here.
fn namespaces() -> bool {
    let ok = Command::new("unshare")
        .args(["-fp", "--mount-proc", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip("`unshare -fp --mount-proc` does not work here (needs root)");
    }
    ok
}

fn write(path: &Path, text: &str, mode: u32) -> PathBuf {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.to_path_buf()
}

/// A `tini` symlink to the binary, in `dir`.
fn tini(dir: &Path) -> PathBuf {
    let link = dir.join("tini");
    if !link.exists() {
        std::os::unix::fs::symlink(BIN, &link).unwrap();
    }
    link
}

/// How the supervisor is started.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// `tini -- ...` as PID 1 of a new PID namespace.
    Pid1,
    /// `tini -s -- ...` in our namespace.
    Subreaper,
}

fn tini_cmd(mode: Mode, dir: &Path, flags: &[&str], argv: &[&str]) -> Command {
    let tini = tini(dir);
    let mut cmd = match mode {
        Mode::Pid1 => {
            let mut c = Command::new("unshare");
            c.args(["-fp", "--mount-proc", "--kill-child"]).arg(&tini);
            c
        }
        Mode::Subreaper => {
            let mut c = Command::new(&tini);
            c.arg("-s");
            c
        }
    };
    cmd.args(flags).arg("--").args(argv);
    cmd
}

struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Receiver<String>,
}

/// A trial that panics must not leave its process running: a later trial, or a later
/// run on the same machine, that scans /proc (as decommission does) would find it.
impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn start(mut cmd: Command) -> Running {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (etx, stderr_text) = channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        let _ = etx.send(s);
    });
    Running {
        child,
        lines,
        seen: Vec::new(),
        stderr: stderr_text,
    }
}

impl Running {
    /// Waits for the stdout line `want` (other lines are kept).
    fn expect_line(&mut self, want: &str) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line == want;
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("no line {want:?} on stdout; got {:?}", self.seen);
                }
            }
        }
    }

    fn finish(mut self) -> Output {
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("timed out; stdout so far {:?}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        Output {
            code,
            stdout: self.seen.join("\n"),
            // A descendant that outlives us may hold the pipe open: don't wait for it forever.
            stderr: self
                .stderr
                .recv_timeout(Duration::from_secs(5))
                .unwrap_or_default(),
        }
    }

    /// The process to signal: the supervisor itself, or unshare's child for PID 1.
    fn supervisor_pid(&self, mode: Mode) -> i32 {
        let pid = self.child.id() as i32;
        match mode {
            Mode::Subreaper => pid,
            Mode::Pid1 => {
                let children =
                    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
                children.split_whitespace().next().unwrap().parse().unwrap()
            }
        }
    }
}

fn run(cmd: Command) -> Output {
    start(cmd).finish()
}

fn kill(pid: i32, sig: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill({pid}, {sig})");
}

fn modes() -> Vec<Mode> {
    if namespaces() {
        vec![Mode::Pid1, Mode::Subreaper]
    } else {
        vec![Mode::Subreaper]
    }
}

fn exit_status_is_passed_through() {
    let dir = tempdir();
    for mode in modes() {
        for code in [0, 1, 2, 64, 127, 255] {
            let out = run(tini_cmd(
                mode,
                dir.path(),
                &[],
                &["sh", "-c", &format!("exit {code}")],
            ));
            assert_eq!(out.code, code, "{mode:?}: {}", out.stderr);
        }
    }
}

fn killed_by_signal_is_128_plus_n() {
    let dir = tempdir();
    for mode in modes() {
        for sig in [libc::SIGTERM, libc::SIGKILL, libc::SIGUSR1] {
            let script = format!("import os; os.kill(os.getpid(), {sig})");
            let out = run(tini_cmd(mode, dir.path(), &[], &[PYTHON, "-c", &script]));
            assert_eq!(out.code, 128 + sig, "{mode:?}: {}", out.stderr);
        }
    }
}

fn remap_exit_code() {
    let dir = tempdir();
    let script = format!("import os; os.kill(os.getpid(), {})", libc::SIGTERM);
    let out = run(tini_cmd(
        Mode::Subreaper,
        dir.path(),
        &["-e", "143"],
        &[PYTHON, "-c", &script],
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run(tini_cmd(
        Mode::Subreaper,
        dir.path(),
        &["-e", "1"],
        &["sh", "-c", "exit 2"],
    ));
    assert_eq!(out.code, 2);
}

const PRINT_SIGNALS: &str = r#"
import signal, sys
def handler(sig, frame):
    print(f"got {sig}", flush=True)
    if sig == signal.SIGTERM:
        sys.exit(0)
for s in (signal.SIGTERM, signal.SIGUSR1, signal.SIGPWR, signal.SIGWINCH, signal.SIGHUP):
    signal.signal(s, handler)
print("ready", flush=True)
while True:
    signal.pause()
"#;

fn check_forwarding(mut running: Running, mode: Mode) {
    running.expect_line("ready");
    let pid = running.supervisor_pid(mode);
    for sig in [libc::SIGUSR1, libc::SIGPWR, libc::SIGWINCH, libc::SIGHUP] {
        kill(pid, sig);
        running.expect_line(&format!("got {sig}"));
    }
    kill(pid, libc::SIGTERM);
    running.expect_line(&format!("got {}", libc::SIGTERM));
    let out = running.finish();
    assert_eq!(out.code, 0, "{mode:?}: {}", out.stderr);
}

fn signals_are_forwarded() {
    let dir = tempdir();
    let script = write(&dir.path().join("signals.py"), PRINT_SIGNALS, 0o644);
    for mode in modes() {
        let cmd = tini_cmd(mode, dir.path(), &[], &[PYTHON, script.to_str().unwrap()]);
        check_forwarding(start(cmd), mode);
    }
    // The entrypoint itself (pass-through role), as a subreaper.
    let mut cmd = Command::new(BIN);
    cmd.args(["--spark-version", "3.5.3", PYTHON, script.to_str().unwrap()]);
    check_forwarding(start(cmd), Mode::Subreaper);
}

const ZOMBIES: &str = r#"
import os, subprocess, time
init = os.getppid()
for _ in range(20):
    # The shell exits at once: its sleep is orphaned to the init (PID 1 or subreaper).
    subprocess.run(["sh", "-c", "sleep 0.5 & exit 0"])
def others():
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == init:
            found.append(fields[0])
    return found
seen = len(others())
deadline = time.time() + 10
while others() and time.time() < deadline:
    time.sleep(0.05)
left = others()
print(f"seen={seen} left={len(left)} zombies={left.count('Z')}", flush=True)
"#;

fn orphans_are_reaped() {
    let dir = tempdir();
    let script = write(&dir.path().join("zombies.py"), ZOMBIES, 0o644);
    for mode in modes() {
        let out = run(tini_cmd(
            mode,
            dir.path(),
            &[],
            &[PYTHON, script.to_str().unwrap()],
        ));
        assert_eq!(out.code, 0, "{mode:?}: {}", out.stderr);
        let seen: usize = out
            .stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix("seen="))
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            seen > 0,
            "{mode:?}: orphans were not re-parented to the supervisor: {}",
            out.stdout
        );
        assert!(
            out.stdout.contains("left=0 zombies=0"),
            "{mode:?}: {}",
            out.stdout
        );
    }
}

fn reaped_orphans_are_reported_with_w() {
    let dir = tempdir();
    let out = run(tini_cmd(
        Mode::Subreaper,
        dir.path(),
        &["-w"],
        &["sh", "-c", "(sleep 0.1 &); sleep 0.5; exit 0"],
    ));
    assert_eq!(out.code, 0);
    assert!(
        out.stderr.contains("Reaped zombie process with pid="),
        "{}",
        out.stderr
    );
}

fn exits_without_waiting_for_descendants() {
    let dir = tempdir();
    for mode in modes() {
        let started = Instant::now();
        let out = run(tini_cmd(
            mode,
            dir.path(),
            &[],
            &["sh", "-c", "sleep 5 >/dev/null 2>&1 & exit 7"],
        ));
        assert_eq!(out.code, 7);
        assert!(started.elapsed() < Duration::from_secs(10), "{mode:?}");
    }
}

fn exec_failures_name_the_program() {
    let dir = tempdir();
    let not_exec = write(&dir.path().join("data.txt"), "hello\n", 0o644);
    let cases = [
        ("/nonexistent/program", 127, "No such file"),
        ("no-such-command-on-path", 127, "No such file"),
        (not_exec.to_str().unwrap(), 126, "Permission denied"),
        ("/etc", 126, "Permission denied"),
    ];
    for mode in modes() {
        for (program, code, reason) in cases {
            let out = run(tini_cmd(mode, dir.path(), &[], &[program]));
            assert_eq!(out.code, code, "{mode:?} {program}: {}", out.stderr);
            assert!(
                out.stderr.contains(program) && out.stderr.contains(reason),
                "{}",
                out.stderr
            );
        }
    }
    let out = run({
        let mut c = Command::new(BIN);
        c.args(["--spark-version", "3.5.3", "/nonexistent/program"]);
        c
    });
    assert_eq!(out.code, 127);
    assert!(
        out.stderr
            .contains("spark-entrypoint: cannot execute /nonexistent/program: No such file"),
        "{}",
        out.stderr
    );
}

fn status_field(status: &str, name: &str) -> u64 {
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {status}"));
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

fn child_gets_a_clean_signal_state() {
    let dir = tempdir();
    let sigpipe = 1u64 << (libc::SIGPIPE - 1);
    let mut outputs = Vec::new();
    for mode in modes() {
        outputs.push(run(tini_cmd(
            mode,
            dir.path(),
            &[],
            &["cat", "/proc/self/status"],
        )));
    }
    outputs.push(run({
        let mut c = Command::new(BIN);
        c.args(["--spark-version", "3.5.3", "cat", "/proc/self/status"]);
        c
    }));
    for out in outputs {
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(status_field(&out.stdout, "SigBlk"), 0, "{}", out.stdout);
        assert_eq!(
            status_field(&out.stdout, "SigIgn") & sigpipe,
            0,
            "SIGPIPE ignored: {}",
            out.stdout
        );
        // Signals 1-31 only: how the test harness spawns us can leave glibc's
        // internal 32/33 ignored, and the child inherits what we were given.
        assert_eq!(
            status_field(&out.stdout, "SigIgn") & 0x7fff_ffff,
            0,
            "{}",
            out.stdout
        );
    }
}

/// tini's sigconf test: the child gets the mask and ignores we were started with,
/// not an empty state (only SIGPIPE is reset, see init.md P3).
fn child_inherits_the_original_signal_state() {
    let dir = tempdir();
    let tini = tini(dir.path());
    let script = format!(
        "import os, signal\n\
         signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGUSR2, signal.SIGTERM}})\n\
         signal.signal(signal.SIGINT, signal.SIG_IGN)\n\
         signal.signal(signal.SIGTTOU, signal.SIG_IGN)\n\
         os.execv({:?}, ['tini', '-s', '--', 'cat', '/proc/self/status'])\n",
        tini.to_str().unwrap()
    );
    let out = run({
        let mut c = Command::new(PYTHON);
        c.args(["-c", &script]);
        c
    });
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bit = |sig: i32| 1u64 << (sig - 1);
    assert_eq!(
        status_field(&out.stdout, "SigBlk"),
        bit(libc::SIGUSR2) | bit(libc::SIGTERM),
        "{}",
        out.stdout
    );
    let ignored = status_field(&out.stdout, "SigIgn");
    assert_eq!(
        ignored & 0x7fff_ffff,
        // Python itself ignores SIGXFSZ, and SIGPIPE (which we reset).
        bit(libc::SIGINT) | bit(libc::SIGTTOU) | bit(libc::SIGXFSZ),
        "{}",
        out.stdout
    );
}

fn child_leads_its_own_process_group() {
    let dir = tempdir();
    let out = run(tini_cmd(
        Mode::Subreaper,
        dir.path(),
        &[],
        &[
            PYTHON,
            "-c",
            "import os; print(os.getpid() == os.getpgrp())",
        ],
    ));
    assert_eq!(out.stdout.trim(), "True");
}

const PGROUP: &str = r#"
import signal, subprocess
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
child = subprocess.Popen(["sleep", "1000"],
    preexec_fn=lambda: signal.signal(signal.SIGUSR1, signal.SIG_DFL))
print("ready", flush=True)
print(f"sleep {child.wait()}", flush=True)
"#;

fn process_group_mode_signals_the_whole_group() {
    let dir = tempdir();
    let script = write(&dir.path().join("pgroup.py"), PGROUP, 0o644);
    let flag = tini_cmd(
        Mode::Subreaper,
        dir.path(),
        &["-g"],
        &[PYTHON, script.to_str().unwrap()],
    );
    let mut env = tini_cmd(
        Mode::Subreaper,
        dir.path(),
        &[],
        &[PYTHON, script.to_str().unwrap()],
    );
    env.env("TINI_KILL_PROCESS_GROUP", "1");
    for cmd in [flag, env] {
        let mut running = start(cmd);
        running.expect_line("ready");
        kill(running.child.id() as i32, libc::SIGUSR1);
        running.expect_line(&format!("sleep -{}", libc::SIGUSR1));
        let out = running.finish();
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
}

fn tini_command_line() {
    let dir = tempdir();
    let tini = tini(dir.path());
    let run_tini = |args: &[&str]| {
        let mut c = Command::new(&tini);
        c.args(args);
        run(c)
    };
    let out = run_tini(&["--version"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.starts_with("tini version 0.19.0"),
        "{}",
        out.stdout
    );
    let out = run_tini(&["-h"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("supervision of a valid init process"));
    for bad in [
        &[][..],
        &["-s"],
        &["-s", "--"],
        &["-z", "true"],
        &["-e", "256", "true"],
        &["-e", "x", "true"],
        &["-p", "SIGPWR", "true"],
        &["-p", "15", "true"],
    ] {
        let out = run_tini(bad);
        assert_eq!(out.code, 1, "{bad:?}");
        assert!(
            out.stderr.contains("Usage: tini"),
            "{bad:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{bad:?}: {}", out.stdout);
    }
    // Not PID 1, no -s: tini's warning, and the program still runs.
    let out = run_tini(&["--", "sh", "-c", "exit 3"]);
    assert_eq!(out.code, 3);
    assert!(
        out.stderr.contains("zombie reaping won't work"),
        "{}",
        out.stderr
    );
    let out = run_tini(&["-s", "--", "true"]);
    assert_eq!(out.code, 0);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let mut c = Command::new(&tini);
    c.args(["--", "true"]).env("TINI_SUBREAPER", "");
    let out = run(c);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    // Options after the program belong to it.
    let out = run_tini(&["-s", "echo", "-l"]);
    assert_eq!(out.stdout, "-l");
}

fn pdeathsig_is_forwarded() {
    let dir = tempdir();
    let script = write(&dir.path().join("signals.py"), PRINT_SIGNALS, 0o644);
    // A shell runs tini in the background and is then killed: tini gets SIGUSR1 as
    // its parent-death signal and forwards it to the program.
    let tini = tini(dir.path());
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#""$0" -s -p SIGUSR1 -- "$@" & echo "tini $!"; wait"#)
        .arg(&tini)
        .args([PYTHON, script.to_str().unwrap()]);
    let mut running = start(cmd);
    running.expect_line("ready");
    let shell = running.child.id() as i32;
    kill(shell, libc::SIGKILL);
    running.expect_line(&format!("got {}", libc::SIGUSR1));
    let tini_pid: i32 = running
        .seen
        .iter()
        .find_map(|l| l.strip_prefix("tini "))
        .unwrap()
        .parse()
        .unwrap();
    kill(tini_pid, libc::SIGTERM);
    running.expect_line(&format!("got {}", libc::SIGTERM));
    let _ = running.child.wait();
}

const SLEEP_JAVA: &str = r#"
public class Sleep {
    public static void main(String[] args) throws Exception {
        System.out.println("ready");
        System.out.flush();
        Thread.sleep(120_000);
    }
}
"#;

fn java_exits_143_on_sigterm() {
    if !need("java") {
        return;
    }
    let dir = tempdir();
    let source = write(&dir.path().join("Sleep.java"), SLEEP_JAVA, 0o644);
    for mode in modes() {
        let cmd = tini_cmd(mode, dir.path(), &[], &["java", source.to_str().unwrap()]);
        let mut running = start(cmd);
        running.expect_line("ready");
        kill(running.supervisor_pid(mode), libc::SIGTERM);
        let out = running.finish();
        assert_eq!(out.code, 143, "{mode:?}: {}", out.stderr);
    }
}

/// A Spark home whose `bin/spark-class` reports who it runs as, with a `jdk/bin/java`
/// that plays Spark's launcher: it says on stderr who it runs as and prints
/// `bin/spark-class CLASS` as the command to run.
fn fake_spark_home(dir: &Path) -> PathBuf {
    let home = dir.join("spark");
    std::fs::create_dir_all(home.join("bin")).unwrap();
    std::fs::create_dir_all(home.join("jars")).unwrap();
    std::fs::create_dir_all(home.join("jdk/bin")).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    write(
        &home.join("jdk/bin/java"),
        "#!/bin/sh
         for a; do shift; [ \"$a\" = org.apache.spark.launcher.Main ] && break; done
         echo \"launcher uid=$(id -u) scala=$SPARK_SCALA_VERSION\" >&2
         printf '\\0\\n%s\\0%s\\0' \"$SPARK_HOME/bin/spark-class\" \"$1\"\n",
        0o755,
    );
    write(
        &home.join("bin/spark-class"),
        "#!/bin/sh\n\
         echo \"uid=$(id -u) gid=$(id -g) groups=$(id -G)\"\n\
         n=$(id -un 2>/dev/null) || n=NONE; echo \"name=$n\"\n\
         echo \"home=$HOME\"\n\
         echo \"ld_preload=$LD_PRELOAD\"\n\
         echo \"class=$1\"\n",
        0o755,
    );
    home
}

/// `argv` in a private mount namespace where `passwd` is bind-mounted over /etc/passwd.
fn with_passwd(passwd: &Path, argv: &[&str]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind "$0" /etc/passwd && exec "$@""#)
        .arg(passwd)
        .args(argv);
    cmd
}

const BASE_PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
alice:x:1000:1000:Alice:/home/alice:/bin/sh\n";

/// `env SPARK_HOME=… BIN --spark-version 3.5.3 master`, with the binary copied where
/// the UID it drops to can execute it.
fn entrypoint_master(dir: &Path, home: &Path) -> Vec<String> {
    vec![
        "env".into(),
        format!("SPARK_HOME={}", home.display()),
        format!("JAVA_HOME={}", home.join("jdk").display()),
        reachable_binary(dir).display().to_string(),
        "--spark-version".into(),
        "3.5.3".into(),
        "master".into(),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn random_uid_gets_a_passwd_entry() {
    if !need_root() || !need("setpriv") {
        return;
    }
    let dir = tempdir();
    let home = fake_spark_home(dir.path());
    // Group-writable, as Spark's Dockerfiles make it; random uids are in group 0.
    let passwd = write(&dir.path().join("passwd"), BASE_PASSWD, 0o664);
    let mut argv: Vec<String> = [
        "setpriv",
        "--reuid=1000730000",
        "--regid=0",
        "--clear-groups",
    ]
    .map(String::from)
    .to_vec();
    argv.extend(entrypoint_master(dir.path(), &home));
    let out = run(with_passwd(&passwd, &strs(&argv)));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let expected = format!(
        "1000730000:x:1000730000:0:anonymous uid:{}:/bin/false\n",
        home.display()
    );
    assert_eq!(
        std::fs::read_to_string(&passwd).unwrap(),
        format!("{BASE_PASSWD}{expected}")
    );
    assert!(
        out.stdout.contains("uid=1000730000 gid=0"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("name=1000730000"), "{}", out.stdout);
    // Spark's launcher ran first, as the same user, with load-spark-env.sh's variables.
    assert!(
        out.stderr.contains("launcher uid=1000730000 scala=2.12"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .contains("class=org.apache.spark.deploy.master.Master"),
        "{}",
        out.stdout
    );

    // Read-only /etc/passwd and no nss_wrapper: upstream's message, and it still runs.
    if spark_entrypoint::identity::find_nss_wrapper().is_none() {
        let passwd = write(&dir.path().join("passwd-ro"), BASE_PASSWD, 0o644);
        let out = run(with_passwd(&passwd, &strs(&argv)));
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            out.stdout
                .contains("Container ENTRYPOINT failed to add passwd entry for anonymous UID"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("name=NONE"), "{}", out.stdout);
        assert_eq!(std::fs::read_to_string(&passwd).unwrap(), BASE_PASSWD);
    } else {
        // With nss_wrapper the child sees a private passwd file instead.
        let passwd = write(&dir.path().join("passwd-ro"), BASE_PASSWD, 0o644);
        let out = run(with_passwd(&passwd, &strs(&argv)));
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.contains("name=spark"), "{}", out.stdout);
        assert!(out.stdout.contains("ld_preload=/"), "{}", out.stdout);
    }
}

fn root_switches_to_185() {
    if !need_root() {
        return;
    }
    let dir = tempdir();
    let home = fake_spark_home(dir.path());
    let passwd = write(&dir.path().join("passwd"), BASE_PASSWD, 0o644);
    let argv = entrypoint_master(dir.path(), &home);
    let out = run(with_passwd(&passwd, &strs(&argv)));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("uid=185 gid=0 groups=0\n"),
        "{}",
        out.stdout
    );
    // No entry for 185: gosu's HOME, and the entry appended for the final uid.
    assert!(out.stdout.contains("home=/\n"), "{}", out.stdout);
    assert!(out.stdout.contains("name=185"), "{}", out.stdout);
    assert!(out.stderr.contains("launcher uid=185 "), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&passwd).unwrap(),
        format!(
            "{BASE_PASSWD}185:x:185:0:anonymous uid:{}:/bin/false\n",
            home.display()
        )
    );

    // A named user: its gid, groups and home.
    let passwd = write(&dir.path().join("passwd2"), BASE_PASSWD, 0o644);
    let mut named = vec!["env".to_string(), "SPARK_RUN_AS=alice".into()];
    named.extend(argv.clone());
    let out = run(with_passwd(&passwd, &strs(&named)));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("uid=1000 gid=1000"), "{}", out.stdout);
    assert!(out.stdout.contains("home=/home/alice\n"), "{}", out.stdout);
    assert_eq!(std::fs::read_to_string(&passwd).unwrap(), BASE_PASSWD);

    // SPARK_RUN_AS=root stays root.
    let mut stay = vec!["env".to_string(), "SPARK_RUN_AS=root".into()];
    stay.extend(argv.clone());
    let out = run(with_passwd(&passwd, &strs(&stay)));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("uid=0 gid=0"), "{}", out.stdout);

    // An unknown user is a misconfiguration, named in the message.
    let mut bad = vec!["env".to_string(), "SPARK_RUN_AS=nosuchuser".into()];
    bad.extend(argv);
    let out = run(with_passwd(&passwd, &strs(&bad)));
    assert_eq!(out.code, 64, "{}", out.stderr);
    assert!(
        out.stderr.contains("SPARK_RUN_AS") && out.stderr.contains("/etc/passwd"),
        "{}",
        out.stderr
    );
}

fn pass_through_keeps_root() {
    if !need_root() {
        return;
    }
    let out = run({
        let mut c = Command::new(BIN);
        c.args(["--spark-version", "3.5.3", "id", "-u"]);
        c
    });
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout,
        "Non-spark-on-k8s command provided, proceeding in pass-through mode...\n0"
    );
}

const FAKE_EXECUTOR: &str = r#"
import signal, sys, time
mode = sys.argv[1]
def on_pwr(sig, frame):
    print("pwr", flush=True)
    time.sleep(0.3)
    sys.exit(0)
signal.signal(signal.SIGPWR, on_pwr if mode == "exit" else signal.SIG_IGN)
print("ready", flush=True)
while True:
    time.sleep(1)
"#;

/// A python process whose argv[0] ends in `java` and that names an ExecutorBackend.
fn fake_executor(dir: &Path, mode: &str) -> Running {
    let script = write(&dir.join("executor.py"), FAKE_EXECUTOR, 0o644);
    let java = dir.join("java");
    if !java.exists() {
        std::os::unix::fs::symlink(PYTHON, &java).unwrap();
    }
    let mut cmd = Command::new(&java);
    cmd.arg(&script).args([
        mode,
        "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend",
    ]);
    let mut running = start(cmd);
    running.expect_line("ready");
    running
}

/// One test for both cases: a second fake executor running in parallel would be found
/// by the scan of the first.
fn decommission_signals_and_waits() {
    let dir = tempdir();

    // An executor that ignores SIGPWR: the bounded wait ends with 124.
    let mut executor = fake_executor(dir.path(), "ignore");
    let pid = executor.child.id() as i32;
    let out = run({
        let mut c = Command::new(BIN);
        c.args([
            "decommission",
            "--timeout",
            "0.5",
            "--pid",
            &pid.to_string(),
        ]);
        c
    });
    assert_eq!(out.code, 124, "{}", out.stderr);
    let _ = executor.child.kill();
    let _ = executor.child.wait();

    // One that decommissions: found by its command line, waited for.
    let mut executor = fake_executor(dir.path(), "exit");
    let pid = executor.child.id() as i32;
    let found = spark_entrypoint::decommission::find_executor(Path::new("/proc"));
    assert_eq!(found, Some(pid));
    let out = run({
        let mut c = Command::new(BIN);
        c.args(["decommission", "--timeout", "15"]);
        c
    });
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains(&format!("pid {pid}")), "{}", out.stdout);
    executor.expect_line("pwr");
    assert_eq!(executor.finish().code, 0);
}

fn decommission_without_executor_fails() {
    if !namespaces() {
        return;
    }
    let out = run({
        let mut c = Command::new("unshare");
        c.args(["-fp", "--mount-proc", "--kill-child", BIN, "decommission"]);
        c
    });
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("no executor JVM"), "{}", out.stderr);
}

/// State (R, S, T, Z…) of a process, from /proc.
fn process_state(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rfind(')')
        .and_then(|i| stat[i + 2..].chars().next())
        .unwrap_or('?')
}

/// Waits until `pid` is in `state` (job-control signals act asynchronously).
fn wait_for_state(pid: i32, state: char) -> bool {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        if process_state(pid) == state {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

const SLEEPER: &str = r#"
import os, time
print(f"pid {os.getpid()}", flush=True)
time.sleep(60)
"#;

/// B15: SIGTSTP sent to the supervisor stops the child, not the supervisor; SIGCONT
/// resumes it (tini forwards both; the child's own process group is not orphaned, so
/// the default stop action applies).
fn job_control_signals_stop_the_child_not_the_init() {
    let dir = tempdir();
    let script = write(&dir.path().join("sleeper.py"), SLEEPER, 0o644);
    let running = start(tini_cmd(
        Mode::Subreaper,
        dir.path(),
        &[],
        &[PYTHON, script.to_str().unwrap()],
    ));
    let deadline = Instant::now() + TIMEOUT;
    let child: i32 = loop {
        match running
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(line) => {
                if let Some(pid) = line.strip_prefix("pid ") {
                    break pid.parse().unwrap();
                }
            }
            Err(_) => panic!("the child never printed its pid"),
        }
    };
    let init = running.supervisor_pid(Mode::Subreaper);
    kill(init, libc::SIGTSTP);
    assert!(
        wait_for_state(child, 'T'),
        "child not stopped: {}",
        process_state(child)
    );
    assert_ne!(process_state(init), 'T', "the supervisor itself stopped");
    kill(init, libc::SIGCONT);
    assert!(
        wait_for_state(child, 'S'),
        "child not resumed: {}",
        process_state(child)
    );
    kill(init, libc::SIGTERM);
    let out = running.finish();
    assert_eq!(out.code, 128 + libc::SIGTERM, "{}", out.stderr);
}

const PRINT_RT_SIGNALS: &str = r#"
import signal
def handler(sig, frame):
    print(f"got {sig}", flush=True)
for s in (signal.SIGRTMIN, signal.SIGRTMIN + 5, signal.SIGRTMAX, signal.SIGURG, signal.SIGQUIT, signal.SIGINT):
    signal.signal(s, handler)
print("ready", flush=True)
while True:
    signal.pause()
"#;

/// B10: real-time signals and the rarer standard ones are forwarded too.
fn realtime_and_other_signals_are_forwarded() {
    let dir = tempdir();
    let script = write(&dir.path().join("rt.py"), PRINT_RT_SIGNALS, 0o644);
    for mode in modes() {
        let mut running = start(tini_cmd(
            mode,
            dir.path(),
            &[],
            &[PYTHON, script.to_str().unwrap()],
        ));
        running.expect_line("ready");
        let pid = running.supervisor_pid(mode);
        let (rtmin, rtmax) = (libc::SIGRTMIN(), libc::SIGRTMAX());
        for sig in [
            rtmin,
            rtmin + 5,
            rtmax,
            libc::SIGURG,
            libc::SIGQUIT,
            libc::SIGINT,
        ] {
            kill(pid, sig);
            running.expect_line(&format!("got {sig}"));
        }
        kill(pid, libc::SIGTERM);
        let out = running.finish();
        assert_eq!(out.code, 128 + libc::SIGTERM, "{mode:?}: {}", out.stderr);
    }
}

/// Images link Spark's default decommission script path, `/opt/decom.sh`, to us.
fn invoked_as_decom_sh_it_decommissions() {
    let dir = tempdir();
    let decom = dir.path().join("decom.sh");
    std::os::unix::fs::symlink(BIN, &decom).unwrap();
    let mut executor = fake_executor(dir.path(), "exit");
    let pid = executor.child.id() as i32;
    let out = run({
        let mut c = Command::new(&decom);
        c.args(["--timeout", "15", "--pid", &pid.to_string()]);
        c
    });
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    executor.expect_line("pwr");
    assert_eq!(executor.finish().code, 0);
}

/// Spark's launcher as `bin/spark-class` treats it: its command (with the variables of
/// its `env` prefix) runs under us; its failure status is ours; output that is not a
/// command is an error.
fn launcher_status_and_its_env_prefix() {
    let dir = tempdir();
    let home = dir.path().join("spark");
    std::fs::create_dir_all(home.join("jars")).unwrap();
    std::fs::create_dir_all(home.join("jdk/bin")).unwrap();
    write(
        &home.join("jdk/bin/java"),
        "#!/bin/sh\n\
         case \"$FAKE_LAUNCHER\" in\n\
         fail) echo 'launcher says no'; exit 3;;\n\
         junk) echo 'Error occurred during initialization of VM';;\n\
         *) printf '\\0\\nenv\\0FROM_LAUNCHER=yes x\\0/bin/sh\\0-c\\0%s\\0' \
            'echo \"from_launcher=$FROM_LAUNCHER env_loaded=$SPARK_ENV_LOADED\"; exit 7';;\n\
         esac\n",
        0o755,
    );
    let run_with = |mode: &str| {
        let mut cmd = Command::new(BIN);
        cmd.args(["--spark-version", "3.5.3", "history"])
            .env("SPARK_HOME", &home)
            .env("JAVA_HOME", home.join("jdk"))
            .env("SPARK_RUN_AS", "root")
            .env_remove("SPARK_ENV_LOADED")
            .env("FAKE_LAUNCHER", mode);
        run(cmd)
    };
    let out = run_with("command");
    assert_eq!(out.code, 7, "{}", out.stderr);
    assert!(
        out.stdout.contains("from_launcher=yes x env_loaded=1"),
        "{}",
        out.stdout
    );
    let out = run_with("fail");
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stdout.contains("launcher says no"), "{}", out.stdout);
    let out = run_with("junk");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("Error occurred during initialization of VM"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("launcher printed no command"),
        "{}",
        out.stderr
    );
}

/// A pass-through `bin/spark-submit` (on request, here where bash exists) and the
/// `connect` role run Spark's launcher on the script's arguments, never the script,
/// and the command it prints runs under us with its status passed on.
fn pass_through_and_connect_run_the_launcher_step() {
    let dir = tempdir();
    let home = dir.path().join("spark");
    std::fs::create_dir_all(home.join("jars")).unwrap();
    std::fs::create_dir_all(home.join("jdk/bin")).unwrap();
    std::fs::create_dir_all(home.join("bin")).unwrap();
    std::fs::write(home.join("jars/spark-connect_2.13-4.0.1.jar"), b"").unwrap();
    // The launcher's answer: a shell that echoes what the launcher was asked to run.
    write(
        &home.join("jdk/bin/java"),
        "#!/bin/sh\n\
         for a; do shift; [ \"$a\" = org.apache.spark.launcher.Main ] && break; done\n\
         printf '\\0\\n/bin/sh\\0-c\\0%s\\0sh\\0' 'echo \"launched: $* mode=$SPARK_CONNECT_MODE\"; exit 5'\n\
         for a; do printf '%s\\0' \"$a\"; done\n",
        0o755,
    );
    write(
        &home.join("bin/spark-submit"),
        "#!/bin/sh\necho 'the script ran'; exit 99\n",
        0o755,
    );
    let run_with = |version: &str, args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.args(["--spark-version", version])
            .args(args)
            .env("SPARK_HOME", &home)
            .env("JAVA_HOME", home.join("jdk"))
            .env("SPARK_RUN_AS", "root")
            .env("SPARKIMG_PASS_THROUGH", "launcher")
            .env_remove("SPARK_ENV_LOADED")
            .env_remove("SPARK_CONNECT_MODE");
        run(cmd)
    };
    let submit = home.join("bin/spark-submit").display().to_string();
    let out = run_with("3.5.3", &[&submit, "--class", "Pi", "app.jar", "two words"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "launched: org.apache.spark.deploy.SparkSubmit --class Pi app.jar two words mode="
        ),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("the script ran"), "{}", out.stdout);
    let out = run_with(
        "4.0.1",
        &["connect", "--conf", "spark.connect.grpc.binding.port=15010"],
    );
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "launched: org.apache.spark.deploy.SparkSubmit --class org.apache.spark.sql.connect.service.SparkConnectServer --name Spark Connect server --conf spark.connect.grpc.binding.port=15010 mode=0"
        ),
        "{}",
        out.stdout
    );
}
