//! Maven coordinates resolved as `spark-submit --packages` resolves them (Spark drives
//! Apache Ivy over Maven POMs; see docs/build.md, "Maven packages", for the rules and
//! the one deliberate difference).
//!
//! Pure: [`coordinate`] (Spark's `--packages`/`--exclude-packages` grammar, globs,
//! Spark's own exclusion rules), [`version`] (Ivy's revision order, ranges), [`pom`]
//! (a POM's raw fields), [`model`] (the effective POM: parents, properties,
//! dependencyManagement with BOM imports, relocations, packaging) and [`resolve`]
//! (the graph: scopes, optional, exclusions, mediation, Ivy's latest-revision
//! conflicts), [`settings`] (the repository chain, credentials, settings.xml mirrors)
//! and [`ivysettings`] (an Ivy settings file's chain). POMs and version listings come
//! through the [`PomSource`] trait, so tests feed them from memory.

pub mod coordinate;
pub mod ivysettings;
pub mod model;
pub mod pom;
pub mod remote;
pub mod resolve;
pub mod settings;
pub mod stage;
pub mod version;

#[cfg(test)]
mod tests;

use thiserror::Error;

pub use coordinate::{Coordinate, ModuleId, Pattern};
pub use resolve::{resolve, Artifact, Eviction, Request, Resolution, Shipped};

/// An error of the place POMs come from (network, cache), kept as the cause.
pub type SourceError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Where POMs, version listings and jar presence come from: the repositories in order
/// (effects), or memory (tests).
pub trait PomSource {
    /// The POM of one revision, or `None` when no repository has it.
    fn pom(&self, coordinate: &Coordinate) -> Result<Option<String>, SourceError>;
    /// Every revision the repositories list for a module (`maven-metadata.xml`).
    fn versions(&self, module: &ModuleId) -> Result<Vec<String>, SourceError>;
    /// Whether the main jar of a revision exists (a `pom`-packaged module's jar, a
    /// module without a POM).
    fn has_jar(&self, coordinate: &Coordinate) -> Result<bool, SourceError>;
    /// The repositories asked, for error messages (no credentials in them).
    fn repositories(&self) -> Vec<String>;
}

#[derive(Debug, Error)]
pub enum MavenError {
    #[error("invalid Maven coordinate `{given}`: {reason}")]
    Coordinate { given: String, reason: String },

    #[error(
        "{coordinate}: not found in any repository\n  required by: {}\n  repositories tried: {}",
        chain_text(.chain), .tried.join(", ")
    )]
    NotFound {
        coordinate: String,
        chain: Vec<String>,
        tried: Vec<String>,
    },

    #[error(
        "{coordinate}: no version in the repositories matches {range} (listed: {})\n  required by: {}",
        .listed.join(", "), chain_text(.chain)
    )]
    NoVersionInRange {
        coordinate: String,
        range: String,
        listed: Vec<String>,
        chain: Vec<String>,
    },

    #[error("{coordinate}: unreadable POM: {reason}")]
    Pom { coordinate: String, reason: String },

    #[error("{coordinate}: parent POM {parent} not found\n  repositories tried: {}", .tried.join(", "))]
    ParentNotFound {
        coordinate: String,
        parent: String,
        tried: Vec<String>,
    },

    #[error("{coordinate}: its parent POMs form a cycle: {}", .chain.join(" -> "))]
    ParentCycle {
        coordinate: String,
        chain: Vec<String>,
    },

    #[error("{coordinate}: dependency {dependency} has no version and no dependencyManagement gives one")]
    NoVersion {
        coordinate: String,
        dependency: String,
    },

    #[error(
        "{file}: no repository could answer\n  repositories tried:\n    {}",
        .tried.join("\n    ")
    )]
    Unreachable { file: String, tried: Vec<String> },

    #[error("invalid repository `{given}`: {reason}")]
    Repository { given: String, reason: String },

    #[error("--ivy-settings {file}: {reason}")]
    IvySettings { file: String, reason: String },

    #[error("--ivy-settings {}", .file.display())]
    IvySettingsRead {
        file: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot read Maven settings {file}: {reason}")]
    Settings { file: String, reason: String },

    #[error(
        "{algorithm} mismatch for {file} from {repository}\n  expected: {expected}\n  actual:   {actual}"
    )]
    ChecksumMismatch {
        file: String,
        repository: String,
        algorithm: &'static str,
        expected: String,
        actual: String,
    },

    #[error("no checksum (.sha512, .sha256 or .sha1) for {file} in {repository}")]
    ChecksumMissing { file: String, repository: String },

    #[error(transparent)]
    Download(#[from] crate::http::DownloadError),

    /// A cache lock not obtained in time.
    #[error(transparent)]
    Lock(#[from] crate::cache::CacheError),

    #[error("{}", .path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{what}")]
    Source {
        what: String,
        #[source]
        source: SourceError,
    },
}

impl MavenError {
    /// What to do about it, printed by `main` on its own line.
    pub fn hint(&self) -> Option<String> {
        let h = match self {
            MavenError::Coordinate { .. } => {
                "write groupId:artifactId:version, several separated by commas (as \
                 spark-submit --packages takes them)"
            }
            MavenError::NotFound { .. } => {
                "check the coordinate, or add the repository that has it with --repositories"
            }
            MavenError::Unreachable { .. } => {
                "behind a firewall, name a repository this machine reaches: --repositories, \
                 DEFAULT_ARTIFACT_REPOSITORY, a <mirror> in ~/.m2/settings.xml or --ivy-settings"
            }
            MavenError::IvySettings { .. } => {
                "sparkimg reads ibiblio (m2compatible=\"true\"), url (Maven-layout patterns) \
                 and chain resolvers, the kinds Spark's Maven repositories need"
            }
            MavenError::Repository { .. } => {
                "--repositories takes http://, https:// or file:// URLs, separated by commas"
            }
            MavenError::ChecksumMismatch { .. } => {
                "the repository may be serving a corrupt or tampered file"
            }
            MavenError::ChecksumMissing { .. } => {
                "pass --insecure-skip-verify only if you trust this repository"
            }
            MavenError::Download(d) => return d.hint(),
            MavenError::Lock(c) => return c.hint(),
            _ => return None,
        };
        Some(h.to_string())
    }
}

fn chain_text(chain: &[String]) -> String {
    if chain.is_empty() {
        "--packages".to_string()
    } else {
        format!("--packages -> {}", chain.join(" -> "))
    }
}
