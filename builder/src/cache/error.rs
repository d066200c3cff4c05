//! Errors of the cache as a whole (sessions, locks, listing, pruning).

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CacheError {
    #[error(
        "timed out after {} waiting for {what} (lock {}){}\nhint: wait for {} to finish, or \
         pass a longer --lock-timeout",
        humantime::format_duration(*.waited),
        .path.display(),
        holders_suffix(.holders),
        if .holders.is_empty() { "the other sparkimg process" } else { "it" }
    )]
    LockTimeout {
        what: String,
        path: PathBuf,
        waited: Duration,
        /// Who held it when we gave up (`pid N (sparkimg build)`), when known.
        holders: Vec<String>,
    },

    #[error("{context}: {source}")]
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
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        CacheError::Io {
            context: context.into(),
            source,
        }
    }
}
