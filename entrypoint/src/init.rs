//! The supervisor: PID 1 like `tini -s`.

// Implemented in a follow-up commit of this issue.

use std::ffi::{OsStr, OsString};
use std::path::Path;

/// Whether the program was started under the name `tini` (a symlink `/usr/bin/tini`).
pub fn invoked_as_tini(argv0: &OsStr) -> bool {
    Path::new(argv0)
        .file_name()
        .is_some_and(|name| name == "tini" || name == "tini-static")
}

/// `tini [-s] [-g] [-p SIG] [-e N]... [--] PROGRAM [ARGS...]`.
pub fn tini_main(_args: &[OsString]) -> i32 {
    eprintln!("spark-entrypoint: tini mode is not implemented yet");
    crate::exit_code::INTERNAL
}
