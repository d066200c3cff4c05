//! Errors of the Docker Engine path. Their exit codes are [`crate::exit`]'s.

use std::path::PathBuf;

use thiserror::Error;

use crate::image::BuildError;

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

    #[error(transparent)]
    Build(#[from] BuildError),

    /// Credentials for a daemon push (auth files, helpers) or an unparsable reference.
    #[error(transparent)]
    Registry(#[from] Box<crate::registry::RegistryError>),

    #[error("{}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl EngineError {
    /// What to do about it, printed by `main` on its own line.
    pub fn hint(&self) -> Option<String> {
        match self {
            EngineError::Unreachable { .. } => Some(
                "start the daemon, point DOCKER_HOST or DOCKER_CONTEXT at one, or build \
                 without a daemon: --engine daemonless --output oci:DIR (or \
                 docker-archive:FILE)"
                    .to_string(),
            ),
            EngineError::Build(b) => b.hint(),
            EngineError::Registry(r) => r.hint(),
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
