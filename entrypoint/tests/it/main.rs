//! The entrypoint's integration tests: one binary, one module per theme, `common`
//! shared by all of them.
//!
//! The binary has its own harness (libtest-mimic): the vector theme makes one trial per
//! recorded upstream case, so `cargo test vectors::planner::<id>` and nextest run and
//! report each by name. The other themes' tests are plain functions listed with
//! [`trials!`]; a function left out of a list is dead code, which the build rejects.

use libtest_mimic::{Arguments, Failed, Trial};

mod common;

mod supervisor;
mod vectors;
mod version_source;

/// Trials `<module>::<test>` of the named test functions of the calling module.
macro_rules! trials {
    ($($test:ident),* $(,)?) => {
        vec![$($crate::trial(module_path!(), stringify!($test), $test)),*]
    };
}
pub(crate) use trials;

fn main() {
    let args = Arguments::from_args();
    let mut trials = supervisor::trials();
    trials.extend(version_source::trials());
    trials.extend(vectors::trials(&args));
    libtest_mimic::run(&args, trials).exit();
}

/// `test` as trial `<module>::<name>` (`module` is the caller's `module_path!()`, the
/// crate's name first), run on a thread named like the trial, as libtest names its
/// threads: `common::skip` reads the running test's name from it.
pub(crate) fn trial(module: &str, name: &str, test: fn()) -> Trial {
    let module = module.split_once("::").map_or("", |(_, rest)| rest);
    let name = format!("{module}::{name}");
    let thread = name.clone();
    Trial::test(name, move || {
        std::thread::Builder::new()
            .name(thread)
            .spawn(test)
            .map_err(|e| Failed::from(format!("cannot start the test's thread: {e}")))?
            .join()
            .map_err(|panic| {
                let why = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("the test panicked");
                Failed::from(why)
            })
    })
}
