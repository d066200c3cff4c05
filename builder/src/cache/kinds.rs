//! Pure: what lives where under the cache root, which names are leftovers of a process
//! that died, and which entries a prune removes.

use std::time::Duration;

use serde::Serialize;

/// What a cache entry is, one per folder that holds entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Extracted SPARK_HOMEs.
    Dists,
    /// Verified distribution tarballs.
    Tarballs,
    /// Release file name → tarball digest.
    DistIndex,
    /// Layers built by `sparkimg build`.
    ImageLayers,
    /// Layer inputs → built layer.
    LayerIndex,
    /// The entries of base layers that matter to a build (users, java, zoneinfo), read
    /// once per layer digest.
    BaseScans,
    /// Blobs pulled from registries (base images' layers, configs, manifests).
    BaseLayers,
    /// One-image layouts of pulled bases (hard links to `BaseLayers`).
    BaseImages,
    /// `.deb` packages for OS-package layers.
    AptDebs,
    /// Facts read from jars for SBOMs.
    SbomJarFacts,
    /// Which registry repository holds which blob (cross-repository mounts).
    RegistryHints,
    /// `--packages` files (POMs, `maven-metadata.xml`, jars), verified, by SHA-256.
    MavenFiles,
    /// Repository path → `MavenFiles` entry, one folder per top-level group name.
    MavenIndex,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Dists => "dists",
            Kind::Tarballs => "tarballs",
            Kind::DistIndex => "dist-index",
            Kind::ImageLayers => "image-layers",
            Kind::LayerIndex => "layer-index",
            Kind::BaseScans => "base-scans",
            Kind::BaseLayers => "base-layers",
            Kind::BaseImages => "base-images",
            Kind::AptDebs => "apt-debs",
            Kind::SbomJarFacts => "sbom-jar-facts",
            Kind::RegistryHints => "registry-hints",
            Kind::MavenFiles => "maven-files",
            Kind::MavenIndex => "maven-index",
        }
    }
}

/// Folders (relative to the cache root) whose children are entries of one kind, in
/// listing order: a pulled blob is counted under base-layers before the layouts that
/// hard-link it.
pub const FOLDERS: &[(&str, Kind)] = &[
    ("dists", Kind::Dists),
    ("blobs/sha512", Kind::Tarballs),
    ("index", Kind::DistIndex),
    ("build/blobs/sha256", Kind::ImageLayers),
    ("build/layers", Kind::LayerIndex),
    ("build/base-scan", Kind::BaseScans),
    ("registry/blobs/sha256", Kind::BaseLayers),
    ("registry/images", Kind::BaseImages),
    ("apt/sha256", Kind::AptDebs),
    ("build/sbom-jars", Kind::SbomJarFacts),
    ("maven/sha256", Kind::MavenFiles),
    ("maven/index", Kind::MavenIndex),
];

/// Single files that are entries.
pub const FILES: &[(&str, Kind)] = &[("registry/known-blobs.json", Kind::RegistryHints)];

/// Folders whose every child is work in progress (extraction, resumable downloads).
pub const SCRATCH: &[&str] = &["tmp", "partial", "maven/partial"];

/// Folders that hold only other folders and may collect temp files of their own.
pub const PARENTS: &[&str] = &[
    "",
    "blobs",
    "build",
    "build/blobs",
    "registry",
    "registry/blobs",
    "apt",
    "maven",
];

/// Folders a prune never touches.
pub const KEEP: &[&str] = &["locks"];

/// Whether a child's name is a write in progress: tempfile's `.tmp*` (`.tmp-layer-*`
/// for layers), a pulled layout being staged (`.pull-*`), a pulled blob still arriving
/// (`*.partial`), or a prune's own removal in progress (`.prune-*`).
pub fn in_progress(name: &str) -> bool {
    name.starts_with(".tmp")
        || name.starts_with(".pull-")
        || name.starts_with(".prune-")
        || name.ends_with(".partial")
}

/// Whether a write in progress may be resumed by a later run (a download's bytes so
/// far, re-verified when it completes): kept by the automatic sweep while it is young.
pub fn resumable(folder: &str, name: &str) -> bool {
    folder == "partial" || name.ends_with(".partial")
}

/// How long the automatic sweep keeps a resumable download of a dead process.
pub const RESUMABLE_FOR: Duration = Duration::from_secs(24 * 3600);

/// What `cache prune` removes, beside leftovers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Entries not used for longer than this.
    pub older_than: Option<Duration>,
    /// Per kind, the N most recently used entries are kept whatever their age.
    pub keep_last: Option<usize>,
    /// Everything.
    pub all: bool,
}

impl Policy {
    /// Whether it removes any entry at all (else only leftovers go).
    pub fn removes_entries(&self) -> bool {
        self.all || self.older_than.is_some() || self.keep_last.is_some()
    }
}

/// Which of `entries` (kind, time since last use) the policy removes, in order.
/// Within a kind, entries are ranked newest first; ties keep the listing order.
pub fn select(entries: &[(Kind, Duration)], policy: &Policy) -> Vec<bool> {
    if policy.all {
        return vec![true; entries.len()];
    }
    if !policy.removes_entries() {
        return vec![false; entries.len()];
    }
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| (entries[i].0, entries[i].1));
    let mut out = vec![false; entries.len()];
    let mut rank = 0;
    for (n, &i) in order.iter().enumerate() {
        if n > 0 && entries[order[n - 1]].0 != entries[i].0 {
            rank = 0;
        }
        let kept_by_rank = policy.keep_last.is_some_and(|k| rank < k);
        let old = policy.older_than.is_none_or(|d| entries[i].1 > d);
        out[i] = !kept_by_rank && old;
        rank += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3600;

    fn age(h: u64) -> Duration {
        Duration::from_secs(h * H)
    }

    #[test]
    fn names_of_writes_in_progress() {
        for n in [
            ".tmpAb12",
            ".tmp-layer-x1",
            ".pull-abc",
            "sha256abc.partial",
            ".prune-1",
        ] {
            assert!(in_progress(n), "{n}");
        }
        for n in [
            "abc",
            "tmp",
            "k-spark.tgz.json",
            "partial",
            "x.partial.json",
            "a.tmpfile",
        ] {
            assert!(!in_progress(n), "{n}");
        }
        assert!(resumable("partial", "sha512-ab.part"));
        assert!(resumable("registry/blobs/sha256", "ab.partial"));
        assert!(!resumable("tmp", "extract-1"));
        assert!(!resumable("build/blobs/sha256", ".tmp-layer-1"));
    }

    #[test]
    fn no_flags_remove_nothing_and_all_removes_everything() {
        let e = [(Kind::Dists, age(1)), (Kind::Tarballs, age(900))];
        assert_eq!(select(&e, &Policy::default()), [false, false]);
        let all = Policy {
            all: true,
            keep_last: Some(5),
            ..Policy::default()
        };
        assert_eq!(select(&e, &all), [true, true]);
        assert!(select(&[], &all).is_empty());
    }

    #[test]
    fn older_than_keep_last_and_both() {
        let e = [
            (Kind::Dists, age(48)),
            (Kind::ImageLayers, age(1)),
            (Kind::Dists, age(1)),
            (Kind::Dists, age(100)),
            (Kind::ImageLayers, age(30)),
            (Kind::Dists, age(24)),
        ];
        let older = |h| Policy {
            older_than: Some(age(h)),
            ..Policy::default()
        };
        assert_eq!(
            select(&e, &older(24)),
            [true, false, false, true, true, false]
        );
        assert_eq!(select(&e, &older(1000)), [false; 6]);
        let keep = |n| Policy {
            keep_last: Some(n),
            ..Policy::default()
        };
        // Dists newest first: age 1, 24, 48, 100; layers: 1, 30.
        assert_eq!(
            select(&e, &keep(2)),
            [true, false, false, true, false, false]
        );
        assert_eq!(select(&e, &keep(0)), [true; 6]);
        assert_eq!(select(&e, &keep(9)), [false; 6]);
        let both = Policy {
            older_than: Some(age(12)),
            keep_last: Some(1),
            all: false,
        };
        // Beyond the newest of each kind, and older than 12 h.
        assert_eq!(select(&e, &both), [true, false, false, true, true, true]);
    }
}
