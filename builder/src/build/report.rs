//! The build's output as `--json` prints it: images, layers, what was built or cached.

use super::plan;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    pub name: String,
    pub digest: String,
    pub diff_id: String,
    pub size: u64,
    pub cached: bool,
    /// The platform a layer belongs to when it is not shared by all (the system layer
    /// holds the architecture's entrypoint binary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    pub reference: String,
    /// The digest to pin: the image manifest, or for several platforms their index.
    pub manifest_digest: String,
    /// The config (for several platforms: the first platform's; see `platforms`).
    pub config_digest: String,
    /// Manifest + config + all layers, as stored (several platforms: all of them, shared
    /// blobs counted once).
    pub size: u64,
    /// `os/arch`, or several joined with commas.
    pub platform: String,
    /// One entry per platform when the image is an index.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<ImageReport>,
    /// The Docker Engine's image ID, when the image went into a daemon (the config
    /// digest, for a `--load`ed daemonless build).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// `repo@sha256:…` once pushed through a daemon.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repo_digests: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    pub output: String,
    pub images: Vec<ImageReport>,
    pub layers: Vec<LayerReport>,
    pub layers_built: usize,
    pub layers_cached: usize,
    pub java_home: String,
    pub base: String,
    /// `--packages`: each jar baked into `/opt/spark/jars`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<plan::PackageJar>,
    /// `--sign-key`: each signature made (identity, manifest, `.sig` tag, referrer).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<super::sign::Signature>,
}
