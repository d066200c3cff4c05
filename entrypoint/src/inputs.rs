//! One snapshot of what the process was started with: the environment and the arguments.
//!
//! Everything downstream works on this snapshot so that planning is pure and testable;
//! only `main.rs` calls [`Env::from_process`].

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};

/// The environment of the entrypoint, byte for byte (values are never reinterpreted as UTF-8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<OsString, OsString>,
}

impl Env {
    pub fn new() -> Env {
        Env::default()
    }

    /// The current process environment.
    pub fn from_process() -> Env {
        std::env::vars_os().collect()
    }

    /// The value of `name`, if it is set (possibly to the empty string).
    pub fn get(&self, name: &str) -> Option<&OsStr> {
        self.vars.get(OsStr::new(name)).map(OsString::as_os_str)
    }

    /// The value of `name` when it is set and not empty (what `[ -n "$X" ]` tests).
    pub fn non_empty(&self, name: &str) -> Option<&OsStr> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// The value of `name`, or the empty string when unset (what `"$X"` expands to).
    pub fn value(&self, name: &str) -> &OsStr {
        self.get(name).unwrap_or(OsStr::new(""))
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.vars.contains_key(OsStr::new(name))
    }

    pub fn set(&mut self, name: impl Into<OsString>, value: impl Into<OsString>) {
        self.vars.insert(name.into(), value.into());
    }

    pub fn iter(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.as_os_str(), v.as_os_str()))
    }
}

impl<K: Into<OsString>, V: Into<OsString>> FromIterator<(K, V)> for Env {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Env {
        Env {
            vars: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}
