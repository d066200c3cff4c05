//! Carrying out a [`Plan`]: prepare files, fix the identity, start the command under
//! the supervisor.

use crate::inputs::Env;
use crate::plan::Plan;

/// Runs `plan` and returns the exit status for the entrypoint.
pub fn run(plan: &Plan, env: &Env) -> i32 {
    // Placeholder until the supervisor lands: a plain exec, no supervision.
    use std::os::unix::process::CommandExt;
    let Some((program, args)) = plan.argv.split_first() else {
        return crate::exit_code::UPSTREAM_ERROR;
    };
    let err = std::process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(env.iter())
        .envs(plan.env.iter())
        .exec();
    eprintln!(
        "spark-entrypoint: exec {}: {err}",
        program.to_string_lossy()
    );
    crate::exit_code::NOT_FOUND
}
