//! The pipeline's input: everything one `sparkimg build` will do, decided before any of
//! it is done. Pure data in the library's own types (no flag parser's), so the command
//! line, a test or a matrix file can make one; `commands/resolve.rs` makes it from flags.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::build::{parse_compression, BuildError, Compression, Variant};
use crate::fetch::{DistSpec, SparkVersion};
use crate::maven::{Coordinate, Pattern};
use crate::oci::{reference, BaseSpec, ImageRef, OutputSpec, Platform};
use crate::registry::RegistryRef;

/// Where the distribution comes from.
#[derive(Debug, Clone)]
pub enum Distribution {
    /// `--spark-home`: used as is.
    Home(PathBuf),
    /// Fetched (and verified) into the cache.
    Fetch {
        spec: DistSpec,
        mirrors: Vec<String>,
        insecure_skip_verify: bool,
    },
}

/// The Docker Engine path's own inputs.
#[derive(Debug, Clone)]
pub struct DockerBuild {
    pub dockerfiles: BTreeMap<Variant, PathBuf>,
    pub build_args: Vec<(String, String)>,
}

/// Whether to load into a Docker Engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    No,
    /// `--load`: a daemon must answer.
    Insist,
    /// No output flag at all: load when a daemon answers, else write `oci:sparkimg-out`.
    IfAnswers,
}

/// Where the images go.
#[derive(Debug, Clone)]
pub struct Sinks {
    pub output: Option<OutputSpec>,
    /// `output` is `oci:sparkimg-out` because nothing was asked for.
    pub defaulted: bool,
    pub push: bool,
    pub load: Load,
}

/// Where images go when nothing else was asked for and no daemon answers.
pub fn default_output() -> OutputSpec {
    OutputSpec::OciDir(PathBuf::from("sparkimg-out"))
}

/// Names of the images, made once the tag is known.
#[derive(Debug, Clone)]
pub struct Names {
    repo: Option<String>,
    /// Per variant, an explicit `--name` / `--python-name` / `--r-name`.
    wanted: Vec<(Variant, Option<String>)>,
}

impl Names {
    pub fn new(repo: Option<String>, wanted: Vec<(Variant, Option<String>)>) -> Names {
        Names { repo, wanted }
    }

    pub fn images(&self, tag: &str) -> Result<Vec<(Variant, ImageRef)>, BuildError> {
        self.wanted
            .iter()
            .map(|(v, name)| {
                let n = match name {
                    Some(n) => n.clone(),
                    None => reference::default_name(self.repo.as_deref(), v.image_name()),
                };
                Ok((*v, reference::name_or_ref(&n, tag)?))
            })
            .collect()
    }
}

/// `--packages` and its companions, checked as Spark checks them.
#[derive(Debug, Clone, Default)]
pub struct Packages {
    pub coordinates: Vec<Coordinate>,
    pub excludes: Vec<Pattern>,
    /// `--repositories` split on commas, validated; credentials still in them.
    pub repositories: Vec<String>,
    /// `--ivy-settings` (Spark's `spark.jars.ivySettings`).
    pub ivy_settings: Option<PathBuf>,
}

/// The compressor asked for; `None` in [`Request::compression`] lets the sinks decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressionKind {
    Gzip,
    Zstd,
    None,
}

/// Everything `build` will do, decided before doing any of it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Known from flags; else read from the distribution after the fetch.
    pub version: Option<String>,
    pub tag: Option<String>,
    pub names: Names,
    pub distribution: Distribution,
    /// `--base` as given (the Docker Engine path passes it to FROM).
    pub base_str: String,
    pub base: BaseSpec,
    /// A registry base to pull (daemonless only: the daemon resolves FROM itself).
    pub base_ref: Option<RegistryRef>,
    pub platforms: Vec<Platform>,
    pub platform_entrypoints: BTreeMap<String, PathBuf>,
    /// `Some` for `--engine docker`.
    pub docker: Option<DockerBuild>,
    pub sinks: Sinks,
    pub compression: Option<CompressionKind>,
    pub compression_level: Option<i32>,
    pub uid: u64,
    pub epoch: u64,
    pub timezone: String,
    pub no_cache: bool,
    /// `--apt-packages`, checked as Debian package names.
    pub apt_packages: Vec<String>,
    /// `--apt-allow-unconfigured`: packages added unconfigured on purpose.
    pub apt_allow_unconfigured: Vec<String>,
    /// `--insecure-skip-verify` (also: unsigned apt repositories are accepted).
    pub insecure_skip_verify: bool,
    /// `--packages`, `--exclude-packages` and `--repositories`, in Spark's grammar.
    pub packages: Packages,
    /// `--sbom` and `--sbom-dir`.
    pub sbom: crate::sbom::Formats,
    pub sbom_dir: Option<PathBuf>,
    /// `--entrypoint-binary`; else the one `cargo xtask dist` wrote.
    pub entrypoint: Option<PathBuf>,
    /// `--allow-unsupported-java`: build on a Java the Spark line does not run on.
    pub allow_unsupported_java: bool,
    /// `--provenance`: attest every signed manifest (needs `--sign-key`).
    pub provenance: bool,
}

impl Request {
    /// Registry access is needed: a push, or a registry base to pull.
    pub fn needs_registry(&self) -> bool {
        self.sinks.push || self.base_ref.is_some()
    }

    /// Uncompressed layers are what a daemon unpacks fastest from a local stream; any
    /// file output or push keeps gzip unless asked otherwise.
    pub fn compression(&self, loading: bool) -> Result<Compression, BuildError> {
        let only_load = loading && self.sinks.output.is_none() && !self.sinks.push;
        let kind = match self.compression {
            Some(CompressionKind::Gzip) => "gzip",
            Some(CompressionKind::Zstd) => "zstd",
            Some(CompressionKind::None) => "none",
            None if only_load => "none",
            None => "gzip",
        };
        parse_compression(kind, self.compression_level)
    }
}

/// The one place that says which Spark versions `build` serves.
pub fn buildable_version(v: &str) -> Result<SparkVersion, BuildError> {
    let parsed: SparkVersion = v.parse()?;
    parsed.check_kubernetes()?;
    Ok(parsed)
}
