//! Errors of the Docker Engine path. [`EngineError::exit_code`] maps them to the CLI's
//! documented codes (11: no daemon, 12: the daemon failed the build, load or push).

use std::path::PathBuf;

use thiserror::Error;

use crate::image::BuildError;

#[derive(Debug, Error)]
pub enum EngineError {
    /// DOCKER_HOST or a context that cannot be used.
    #[error("{0}")]
    Discovery(String),

    #[error(
        "no Docker Engine answers at {endpoint} ({source_desc}): {detail}. Start the daemon, \
         point DOCKER_HOST or DOCKER_CONTEXT at one, or build without a daemon: \
         --engine daemonless --output oci:DIR (or docker-archive:FILE)"
    )]
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

    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl EngineError {
    pub fn daemon(what: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> EngineError {
        let what = what.into();
        move |e| EngineError::Daemon {
            what,
            detail: e.to_string(),
        }
    }

    /// Exit codes documented in `sparkimg --help` (`cli::EXIT_CODES`).
    pub fn exit_code(&self) -> u8 {
        match self {
            EngineError::Discovery(_) | EngineError::Unreachable { .. } => 11,
            EngineError::Daemon { .. } => 12,
            EngineError::Build(b) => b.exit_code(),
            EngineError::Io { .. } => 1,
        }
    }
}
