//! Errors of `sparkimg build`. Their exit codes are [`crate::exit`]'s.

use std::path::PathBuf;

use thiserror::Error;

use crate::fetch::FetchError;

#[derive(Debug, Error)]
pub enum BuildError {
    /// A name, location or platform the OCI model refuses.
    #[error(transparent)]
    Oci(#[from] crate::oci::OciError),

    #[error("{0}")]
    InvalidInput(String),

    #[error("not implemented yet: {0}")]
    NotYet(String),

    #[error("base image: {0}")]
    Base(String),

    #[error(
        "the base image has no Java: no JAVA_HOME in its config and no bin/java under \
         /usr/lib/jvm or /opt/java/openjdk. Pick a JVM base (e.g. an eclipse-temurin JRE \
         image saved with `docker save`, or an OCI layout of one) with --base"
    )]
    NoJava,

    /// A rebase that would not give the image a build on the new base gives.
    #[error("refusing to rebase: {0}")]
    Refused(String),

    #[error("unknown time zone '{zone}'{}", suggest(.suggestions))]
    UnknownTimezone {
        zone: String,
        suggestions: Vec<String>,
    },

    #[error(
        "invalid SOURCE_DATE_EPOCH '{0}': expected whole seconds since 1970 (e.g. 1700000000)"
    )]
    SourceDateEpoch(String),

    #[error(
        "refusing to write {}: it exists and is not {what} written by sparkimg; \
         remove it or choose another --output",
        .path.display()
    )]
    OutputNotOurs { path: PathBuf, what: &'static str },

    #[error("Spark distribution at {}: {reason}", .path.display())]
    Distribution { path: PathBuf, reason: String },

    /// The Docker Engine stage.
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),

    /// Credentials for a daemon push (auth files, helpers).
    #[error(transparent)]
    Registry(#[from] Box<crate::registry::RegistryError>),

    /// A jar read for the SBOM.
    #[error(transparent)]
    Jar(#[from] crate::jar::JarError),

    /// Building, scanning or caching a layer.
    #[error(transparent)]
    Layer(#[from] crate::layer::LayerError),

    #[error(transparent)]
    Fetch(#[from] FetchError),

    #[error(transparent)]
    Packages(#[from] crate::apt::AptError),

    #[error(transparent)]
    Version(#[from] crate::fetch::VersionError),

    /// A cache lock not obtained in time.
    #[error(transparent)]
    Lock(#[from] crate::cache::CacheError),

    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn suggest(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("; did you mean: {}?", s.join(", "))
    }
}

impl BuildError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BuildError {
        let path = path.into();
        move |source| BuildError::Io { path, source }
    }
}
