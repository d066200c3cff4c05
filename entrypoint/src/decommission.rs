//! `spark-entrypoint decommission`: the `decom.sh` replacement.

// Implemented in a follow-up commit of this issue.

use std::ffi::OsString;

pub fn main(_args: &[OsString]) -> i32 {
    eprintln!("spark-entrypoint: decommission is not implemented yet");
    crate::exit_code::INTERNAL
}
