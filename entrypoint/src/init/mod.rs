//! The supervisor: PID 1 like `tini -s` ([`supervisor`]), and the `tini` command
//! line for images that call tini by name ([`tini`]).

pub mod supervisor;
pub mod tini;

use std::ffi::{OsStr, OsString};
use std::path::Path;

pub use supervisor::{
    supervise, supervise_blocked, Command, ExitRemap, InitError, LogStyle, Options, SignalState,
};

/// Whether the program was started under the name `tini` (a symlink `/usr/bin/tini`).
pub fn invoked_as_tini(argv0: &OsStr) -> bool {
    Path::new(argv0)
        .file_name()
        .is_some_and(|name| name == "tini" || name == "tini-static")
}

/// `tini [-s] [-g] [-p SIG] [-e N]... [--] PROGRAM [ARGS...]`.
pub fn tini_main(args: &[OsString]) -> i32 {
    tini::tini_main(args)
}
