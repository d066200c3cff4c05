//! Errors of the Docker Engine path. Their exit codes are [`crate::exit`]'s.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    /// DOCKER_HOST or a context that cannot be used.
    #[error("{0}")]
    Discovery(String),

    #[error("no Docker Engine answers at {endpoint} ({source_desc}): {detail}")]
    Unreachable {
        endpoint: String,
        source_desc: String,
        detail: String,
    },

    /// The daemon answered with an error (API call, stream error).
    #[error("Docker Engine: {what}: {detail}")]
    Daemon { what: String, detail: String },

    /// A reference the grammar refuses.
    #[error(transparent)]
    Reference(#[from] crate::oci::OciError),

    /// What the caller streamed to the daemon (a build context, a `docker load`
    /// archive) failed to write; the source says why.
    #[error("writing the stream for the Docker Engine")]
    Stream(#[source] Box<dyn std::error::Error + Send + Sync>),

    #[error("{}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl EngineError {
    /// A producer's failure, kept whole for the exit code of its cause.
    pub fn stream(e: impl std::error::Error + Send + Sync + 'static) -> EngineError {
        EngineError::Stream(Box::new(e))
    }

    /// What to do about it, printed by `main` on its own line.
    pub fn hint(&self) -> Option<String> {
        match self {
            EngineError::Unreachable { .. } => Some(
                "start the daemon, point DOCKER_HOST or DOCKER_CONTEXT at one, or build \
                 without a daemon: --engine daemonless --output oci:DIR (or \
                 docker-archive:FILE)"
                    .to_string(),
            ),
            _ => None,
        }
    }

    pub fn daemon(what: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> EngineError {
        let what = what.into();
        move |e| EngineError::Daemon {
            what,
            detail: e.to_string(),
        }
    }
}
