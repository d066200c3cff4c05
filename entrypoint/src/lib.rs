//! `spark-entrypoint`: the ENTRYPOINT and PID 1 of sparkimg's Spark images.
//!
//! The crate is split the way the program runs:
//!
//! * [`inputs`]: one snapshot of argv and the environment; the only place the
//!   process is read.
//! * [`version`], [`plan`], [`javaopts`], [`words`]: the **pure** planner that turns a
//!   pod's role, arguments and environment into the command upstream's
//!   `entrypoint.sh` would run for that Spark version. No I/O; facts about the
//!   machine come in through the [`probe::Probe`] trait.
//! * [`launcher`]: what `bin/spark-submit`/`bin/spark-class` do, without a shell:
//!   the launcher JVM's command (pure) and reading what it prints.
//! * [`identity`]: passwd/group parsing and the random-UID / privilege-drop plan
//!   (pure), plus applying it (effects).
//! * [`init`]: the tini-like supervisor (fork, exec, forward signals, reap).
//! * [`decommission`]: the `decom.sh` replacement.
//! * [`sys`]: safe wrappers over the raw `libc` system calls.
//!
//! See ARCHITECTURE.md at the repository root for the invariants.

pub mod decommission;
pub mod env_vars;
pub mod identity;
pub mod init;
pub mod inputs;
pub mod javaopts;
pub mod json;
pub mod launch;
pub mod launcher;
pub mod plan;
pub mod probe;
pub mod sys;
pub mod version;
pub mod words;

/// Exit statuses of `spark-entrypoint` itself (the child's status is passed on as is).
pub mod exit_code {
    /// An upstream-compatible refusal: unknown role, no command (what entrypoint.sh exits with).
    pub const UPSTREAM_ERROR: i32 = 1;
    /// The pod is misconfigured: a variable the role needs is missing or empty (EX_USAGE).
    pub const MISCONFIGURED: i32 = 64;
    /// Our own failure before exec: a file could not be prepared, a syscall failed (EX_SOFTWARE-like).
    pub const INTERNAL: i32 = 70;
    /// The program exists but could not be executed (as a shell reports it).
    pub const NOT_EXECUTABLE: i32 = 126;
    /// The program was not found (as a shell reports it).
    pub const NOT_FOUND: i32 = 127;
}
