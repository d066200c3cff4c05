//! OS-package layers without a daemon (what apko and distroless's rules do): packages
//! from the base's own apt sources, verified like apt verifies them, unpacked into one
//! layer with dpkg's database updated. No maintainer script runs: [`maintscripts`]
//! classifies what they would do, [`configure`] reproduces it or names what it cannot
//! (then the build is refused, unless the package is allowed to stay unconfigured).
//!
//! Pure: [`control`] (the stanza format), [`sources`] (sources.list and deb822),
//! [`release`] (InRelease signature and SHA256 list), [`packages`] (index records and
//! relations), [`version`] (Debian version order), [`resolve`] (dependency closure),
//! [`status`] (dpkg's status and info files), [`scripts`] (update-alternatives and
//! files scripts make), [`maintscripts`] and [`configure`] (script effects), and
//! [`layer`] (the layer's entries). Effects: [`fetch`] (network and cache) and
//! [`unpack`] (`.deb` decompression).

pub mod configure;
pub mod control;
pub mod fetch;
pub mod layer;
pub mod maintscripts;
pub mod packages;
pub mod release;
pub mod resolve;
pub mod scripts;
pub mod sources;
pub mod status;
pub mod unpack;
pub mod version;

use std::path::PathBuf;

use thiserror::Error;

use crate::http::DownloadError;
use crate::layer::basefs::{BaseFs, Node};
use crate::layer::plan::{LayerPlan, Variant};
use packages::Package;

#[derive(Debug, Error)]
pub enum AptError {
    #[error("{needs} needs {what}, which the base lacks, and the base cannot get it: {reason}")]
    NotDebian {
        needs: String,
        what: String,
        reason: String,
    },
    // Not a `#[source]`: the message is the resolver's, printed once.
    #[error("{0}")]
    Resolve(resolve::ResolveError),
    #[error("{url}: no signed InRelease; refusing an unsigned repository")]
    Unsigned { url: String },
    #[error("{url}: bad OpenPGP signature: {reason}")]
    Signature { url: String, reason: String },
    #[error("{url}: sha256 mismatch: expected {expected}, got {actual}")]
    HashMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("{url}: not found on the repository")]
    NotFound { url: String },
    #[error("{what}: {reason}")]
    Format { what: String, reason: String },
    #[error(
        "maintainer scripts do what the package layer cannot reproduce: {}",
        unconfigured_summary(.packages)
    )]
    Unconfigured { packages: configure::Undone },
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error("{}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `pkg (first, second, third and N more); …`: the first effects say what is missing.
fn unconfigured_summary(packages: &configure::Undone) -> String {
    let one = |(p, e): &(String, Vec<String>)| match e.len() {
        0..=3 => format!("{p} ({})", e.join(", ")),
        n => format!("{p} ({} and {} more)", e[..3].join(", "), n - 3),
    };
    packages.iter().map(one).collect::<Vec<_>>().join("; ")
}

impl AptError {
    /// What to do about it, printed by `main` on its own line.
    pub fn hint(&self) -> Option<String> {
        let h = match self {
            AptError::NotDebian { .. } => {
                "use a base that has it, or a Debian/Ubuntu base (with /var/lib/dpkg/status \
                 and apt sources) so sparkimg can add it"
            }
            AptError::Resolve(_) => {
                "check the name with `apt-cache policy` on the base, or pick a base whose \
                 sources have it"
            }
            AptError::Unsigned { .. } => "--insecure-skip-verify accepts it at your own risk",
            AptError::Unconfigured { packages } => {
                let names: Vec<&str> = packages.iter().map(|(p, _)| p.as_str()).collect();
                return Some(format!(
                    "`--engine docker` runs apt-get in the base, so the scripts run; or use a \
                     base that already has it; or `--apt-allow-unconfigured {}` adds it \
                     unconfigured (dpkg status `unpacked`: a later apt-get configures it)",
                    names.join(",")
                ));
            }
            AptError::Download(d) => return d.hint(),
            _ => return None,
        };
        Some(h.to_string())
    }
}

impl From<resolve::ResolveError> for AptError {
    fn from(e: resolve::ResolveError) -> Self {
        AptError::Resolve(e)
    }
}

/// How the package layer is fetched.
#[derive(Debug, Clone, Default)]
pub struct AptOptions {
    /// Cache root (`<root>/apt/sha256`); `None` caches nothing.
    pub cache_dir: Option<PathBuf>,
    /// Accept unsigned or badly signed repositories (hashes are still checked).
    pub insecure_skip_verify: bool,
    /// `--apt-allow-unconfigured`: packages added with dpkg status `unpacked`, whatever
    /// their maintainer scripts do.
    pub allow_unconfigured: Vec<String>,
}

/// The runtime a variant needs from the OS: (program in the base, package to add).
pub fn runtime(variant: Variant) -> Option<(&'static str, &'static str)> {
    match variant {
        Variant::Jvm => None,
        Variant::Python => Some(("usr/bin/python3", "python3")),
        Variant::R => Some(("usr/bin/R", "r-base-core")),
    }
}

/// The packages `variant`'s images need added to `base`: its runtime when the base
/// lacks it, then `extra` (`--apt-packages`).
pub fn wanted(variant: Variant, base: &BaseFs, extra: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((program, pkg)) = runtime(variant) {
        // Images built from source (python:3.x) keep theirs under /usr/local.
        let local = program.replace("usr/bin/", "usr/local/bin/");
        if base.resolve(program).is_none() && base.resolve(&local).is_none() {
            out.push(pkg.to_string());
        }
    }
    for p in extra {
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

/// Debian's name for an OCI architecture.
pub fn deb_arch(oci_arch: &str, variant: Option<&str>) -> String {
    match (oci_arch, variant) {
        ("arm", Some("v5")) => "armel".into(),
        ("arm", _) => "armhf".into(),
        ("386", _) => "i386".into(),
        ("ppc64le", _) => "ppc64el".into(),
        (a, _) => a.to_string(),
    }
}

/// The base's package world: what it has, what its sources offer.
pub struct Repo {
    fetcher: fetch::Fetcher,
    sources: Vec<sources::Source>,
    base_status: String,
    installed: Vec<Package>,
    available: Vec<Package>,
}

/// Reads the base's dpkg status and apt sources, fetches and verifies their indexes.
/// `needs` names what asked (for the refusal on a base that is not Debian/Ubuntu).
pub fn open(
    base: &BaseFs,
    arch: &str,
    needs: (&str, &str),
    opts: &AptOptions,
) -> Result<Repo, AptError> {
    let refuse = |reason: &str| AptError::NotDebian {
        needs: needs.0.to_string(),
        what: needs.1.to_string(),
        reason: reason.to_string(),
    };
    let status_bytes = base
        .read(status::STATUS)
        .ok_or_else(|| refuse("it has no /var/lib/dpkg/status (not Debian or Ubuntu)"))?;
    let base_status = String::from_utf8_lossy(status_bytes).into_owned();
    let files: Vec<(String, String)> = base
        .nodes
        .iter()
        .filter(|(k, n)| {
            (k.as_str() == "etc/apt/sources.list" || k.starts_with("etc/apt/sources.list.d/"))
                && !matches!(n, Node::Dir)
        })
        .filter_map(|(k, _)| {
            Some((
                k.clone(),
                String::from_utf8_lossy(base.read(k)?).into_owned(),
            ))
        })
        .collect();
    let srcs: Vec<sources::Source> = sources::from_files(&files)
        .into_iter()
        .filter(|s| s.serves(arch))
        .collect();
    if srcs.is_empty() {
        return Err(refuse(
            "it has no apt sources (/etc/apt/sources.list{,.d/})",
        ));
    }
    let installed = status::installed(&base_status).map_err(|reason| AptError::Format {
        what: "/var/lib/dpkg/status".into(),
        reason,
    })?;
    let fetcher = fetch::Fetcher::new(opts.cache_dir.as_deref(), opts.insecure_skip_verify)?;
    let mut available = Vec::new();
    for (i, src) in srcs.iter().enumerate() {
        let rel = fetcher.release(src, base)?;
        available.extend(fetcher.packages(src, i, &rel, arch)?);
    }
    Ok(Repo {
        fetcher,
        sources: srcs,
        base_status,
        installed,
        available,
    })
}

impl Repo {
    /// The packages `wanted` adds to the base, in name order (empty: nothing to add).
    pub fn resolve(&self, wanted: &[String]) -> Result<Vec<Package>, AptError> {
        let u = resolve::Universe::new(&self.available);
        Ok(resolve::resolve(&u, &self.installed, wanted)?)
    }

    /// The dpkg status of the image once `pkgs` (from [`Repo::resolve`]) are added,
    /// with the fields the SBOM reads (see [`status::record`]).
    pub fn status_after(&self, pkgs: &[Package], opts: &AptOptions) -> String {
        let added: Vec<_> = pkgs
            .iter()
            .map(|p| match opts.allow_unconfigured.contains(&p.name) {
                true => status::record(p, status::UNPACKED),
                false => status::record(p, status::INSTALLED),
            })
            .collect();
        status::merged(&self.base_status, &added)
    }

    fn fetch_unpack(&self, p: &Package) -> Result<unpack::Unpacked, AptError> {
        let url = format!("{}/{}", self.sources[p.source].uri, p.filename);
        if p.sha256.is_empty() {
            return Err(AptError::Format {
                what: url,
                reason: "the index gives no SHA256 for it".into(),
            });
        }
        let bytes = self.fetcher.verified(&url, &p.sha256, p.size)?;
        unpack::unpack(&bytes).map_err(|reason| AptError::Format { what: url, reason })
    }

    /// The layer adding `pkgs` (from [`Repo::resolve`]) for `variant`'s images, once
    /// their packages are verified; refused when a package's maintainer scripts do what
    /// the layer cannot reproduce, unless `opts` allows it unconfigured.
    pub fn layer(
        &self,
        pkgs: &[Package],
        base: &BaseFs,
        variant: Variant,
        opts: &AptOptions,
    ) -> Result<LayerPlan, AptError> {
        // Downloads and decompression in parallel; results in package order.
        let debs = crate::layer::run_parallel(pkgs, |p| self.fetch_unpack(p))
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        let allowed = &opts.allow_unconfigured;
        let (plan, undone) = layer::plan(&debs, base, &self.base_status, variant, allowed)
            .map_err(|reason| AptError::Format {
                what: "the package layer".into(),
                reason,
            })?;
        let refused: Vec<_> = undone
            .into_iter()
            .filter(|(p, _)| !allowed.contains(p))
            .collect();
        if !refused.is_empty() {
            return Err(AptError::Unconfigured { packages: refused });
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_only_when_missing() {
        let mut b = BaseFs::default();
        let extra = vec!["procps".to_string(), "python3".to_string()];
        assert_eq!(wanted(Variant::Python, &b, &[]), ["python3"]);
        assert_eq!(wanted(Variant::Python, &b, &extra), ["python3", "procps"]);
        assert_eq!(wanted(Variant::R, &b, &[]), ["r-base-core"]);
        assert!(wanted(Variant::Jvm, &b, &[]).is_empty());
        b.apply_layer(vec![
            ("usr/bin/python3.11".into(), Node::File(None)),
            ("usr/bin/python3".into(), Node::Symlink("python3.11".into())),
        ]);
        assert!(wanted(Variant::Python, &b, &[]).is_empty());
        b.apply_layer(vec![("usr/local/bin/R".into(), Node::File(None))]);
        assert!(wanted(Variant::R, &b, &[]).is_empty());
        assert_eq!(wanted(Variant::Jvm, &b, &extra), ["procps", "python3"]);
        assert_eq!(deb_arch("arm", Some("v7")), "armhf");
        assert_eq!(deb_arch("ppc64le", None), "ppc64el");
        assert_eq!(deb_arch("amd64", None), "amd64");
    }

    #[test]
    fn refusal_names_each_package_and_its_first_effects() {
        let e = AptError::Unconfigured {
            packages: vec![
                ("ucf".into(), vec!["debconf".into()]),
                (
                    "ca-certificates".into(),
                    ["update-ca-certificates", "debconf", "mkdir", "chmod", "mv"]
                        .map(String::from)
                        .to_vec(),
                ),
            ],
        };
        assert_eq!(
            e.to_string(),
            "maintainer scripts do what the package layer cannot reproduce: ucf (debconf); \
             ca-certificates (update-ca-certificates, debconf, mkdir and 2 more)"
        );
        let hint = e.hint().unwrap();
        assert!(
            hint.contains("--apt-allow-unconfigured ucf,ca-certificates"),
            "{hint}"
        );
        assert!(hint.contains("--engine docker"), "{hint}");
    }
}
