//! Errors of the cache as a whole (sessions, locks, listing, pruning).

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CacheError {
    #[error(
        "timed out after {} waiting for {what} (lock {}){}",
        humantime::format_duration(*.waited),
        .path.display(),
        holders_suffix(.holders)
    )]
    LockTimeout {
        what: String,
        path: PathBuf,
        waited: Duration,
        /// Who held it when we gave up (`pid N (sparkimg build)`), when known.
        holders: Vec<String>,
    },

    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

fn holders_suffix(holders: &[String]) -> String {
    match holders.is_empty() {
        true => String::new(),
        false => format!(", held by {}", holders.join(", ")),
    }
}

impl CacheError {
    /// What to do about it, printed by `main` on its own line.
    pub fn hint(&self) -> Option<String> {
        match self {
            CacheError::LockTimeout { holders, .. } => Some(format!(
                "wait for {} to finish, or pass a longer --lock-timeout",
                if holders.is_empty() {
                    "the other sparkimg process"
                } else {
                    "it"
                }
            )),
            CacheError::Io { .. } => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        CacheError::Io {
            context: context.into(),
            source,
        }
    }
}
