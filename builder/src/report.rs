//! What the library tells the user besides its results and errors: warnings (about trust
//! or a choice made for the user) and notes (what it is doing). Library code never prints;
//! it reports here, and the program that installed a [`Reporter`] decides how (the
//! `sparkimg` binary: `sparkimg: warning: ...` on stderr). Without one, nothing is shown.
//!
//! One process-wide reporter rather than a value in every options struct: warnings come
//! from deep helpers (a cache lock, an environment variable read once per process)
//! that no caller's options reach.
//!
//! Also here: an error's text with its causes, for the places that show an error
//! without failing (a warning that something was skipped).

use std::error::Error;
use std::sync::OnceLock;

/// Where warnings and notes go.
pub trait Reporter: Send + Sync {
    /// Something the user should know and may have to act on.
    fn warn(&self, msg: &str);
    /// Progress and what was chosen; quiet when progress is.
    fn note(&self, msg: &str);
}

static REPORTER: OnceLock<Box<dyn Reporter>> = OnceLock::new();

/// Installs the process's reporter; `false` when one was installed already (it stays).
pub fn install(r: Box<dyn Reporter>) -> bool {
    REPORTER.set(r).is_ok()
}

pub fn warn(msg: &str) {
    if let Some(r) = REPORTER.get() {
        r.warn(msg);
    }
}

pub fn note(msg: &str) {
    if let Some(r) = REPORTER.get() {
        r.note(msg);
    }
}

/// `e` and each of its causes, joined by `: ` (what `main` prints after `error:`). A
/// cause whose text is already shown is left out: some libraries (hyper, reqwest)
/// repeat their source's text in their own message.
pub fn chain(e: &(dyn Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading x")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chain_names_each_cause_once() {
        let e = Outer(std::io::Error::other("disk on fire"));
        assert_eq!(chain(&e), "reading x: disk on fire");
        let e = Outer(std::io::Error::other("reading x"));
        assert_eq!(chain(&e), "reading x");
    }
}
