//! What building, scanning or caching a layer can fail on: the files it reads and
//! writes, and the cache's locks.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum LayerError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A cache lock not obtained in time.
    #[error(transparent)]
    Lock(#[from] crate::cache::CacheError),
}

impl LayerError {
    /// What to do about it, printed by `main` on its own line.
    pub fn hint(&self) -> Option<String> {
        match self {
            LayerError::Lock(c) => c.hint(),
            LayerError::Io { .. } => None,
        }
    }

    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LayerError {
        let path = path.into();
        move |source| LayerError::Io { path, source }
    }
}
