//! Errors of `sparkimg build`. Their exit codes are [`crate::exit`]'s.

use std::path::PathBuf;

use thiserror::Error;

use crate::fetch::FetchError;

#[derive(Debug, Error)]
pub enum BuildError {
    /// A name, location or platform the OCI model refuses.
    #[error(transparent)]
    Oci(#[from] crate::oci::OciError),

    /// Fix the command line (or what it names) and run again.
    #[error(transparent)]
    Usage(#[from] crate::usage::UsageError),

    /// No spark-entrypoint binary at the path given (or none given and none built).
    #[error("{}", match .path {
        Some(p) => format!("entrypoint binary {} not found", p.display()),
        None => "no spark-entrypoint binary".to_string(),
    })]
    NoEntrypoint { path: Option<PathBuf> },

    #[error(
        "entrypoint binary {} is built for {found}, but the {platform} image needs one built \
         for {arch}",
        .path.display()
    )]
    EntrypointArch {
        path: PathBuf,
        found: String,
        arch: String,
        platform: String,
    },

    /// The entrypoint binary's embedded SBOM section cannot be read.
    #[error("{}: {reason}", .path.display())]
    EntrypointSbom { path: PathBuf, reason: String },

    /// A registry image where files are needed: the caller pulls it first.
    #[error("the image's Spark layers are in {repository}, not here")]
    RemoteLayers { repository: String },

    /// Serializing a document sparkimg builds itself.
    #[error("writing {what}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },

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

    /// The base's Java is not one the Spark line runs on (`spark_version::java`).
    #[error(
        "Spark {spark} does not run on Java {java}, the Java of the base {base} (from \
         {from}): it runs on Java {javas}"
    )]
    UnsupportedJava {
        spark: String,
        java: u32,
        from: String,
        base: String,
        /// The line's Javas, as a list (`8, 11 and 17`).
        javas: String,
        /// The Java the hint suggests: the line's newest.
        suggest: u32,
    },

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

    /// The `--packages` stage.
    #[error(transparent)]
    Maven(#[from] crate::maven::MavenError),

    /// Delivering the images (boxed: it holds a `BuildError` of its own).
    #[error(transparent)]
    Publish(#[from] Box<crate::build::publish::PublishError>),

    /// A cache lock not obtained in time.
    #[error(transparent)]
    Lock(#[from] crate::cache::CacheError),

    #[error("{}", .path.display())]
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
    pub fn usage(message: impl Into<String>) -> BuildError {
        BuildError::Usage(crate::usage::UsageError::new(message))
    }

    /// What to do about it, printed by `main` on its own line.
    pub fn hint(&self) -> Option<String> {
        let h = match self {
            BuildError::Usage(u) => return u.hint.clone(),
            BuildError::NoEntrypoint { path: Some(_) } => {
                "run `cargo xtask dist` or pass --entrypoint-binary"
            }
            BuildError::NoEntrypoint { path: None } => {
                "run `cargo xtask dist` (writes target/dist/spark-entrypoint) or pass \
                 --entrypoint-binary PATH"
            }
            BuildError::EntrypointArch { platform, .. } => {
                return Some(format!("pass --platform-entrypoint {platform}=PATH"))
            }
            BuildError::UnsupportedJava { suggest, .. } => {
                return Some(format!(
                    "use a base with Java {suggest} (e.g. --base eclipse-temurin:{suggest}-jre), \
                     or pass --allow-unsupported-java to build it anyway"
                ))
            }
            BuildError::RemoteLayers { .. } => {
                "a registry image is rebased to a registry (--push); pull it first to write \
                 files"
            }
            BuildError::Fetch(f) => return f.hint(),
            BuildError::Packages(a) => return a.hint(),
            BuildError::Lock(c) => return c.hint(),
            BuildError::Layer(l) => return l.hint(),
            BuildError::Engine(e) => return e.hint(),
            BuildError::Registry(r) => return r.hint(),
            BuildError::Maven(m) => return m.hint(),
            BuildError::Publish(p) => return p.hint(),
            _ => return None,
        };
        Some(h.to_string())
    }

    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BuildError {
        let path = path.into();
        move |source| BuildError::Io { path, source }
    }
}
