//! Effects: pull one platform's image into the blob cache and present it as an OCI
//! layout the build opens like any `oci:` base.
//!
//! Cache: `<cache>/registry/blobs/sha256/<hex>` holds manifests, configs and layers,
//! each verified against its digest while it streams (`.partial` files resume with a
//! Range request); `<cache>/registry/images/<manifest hex>/` is a layout of hard links.
//! A digest reference whose blobs are all cached needs no network at all.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::digest::Sha256;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RANGE};
use reqwest::{Method, StatusCode};

use super::challenge::Scopes;
use super::client::{http_client, Attempt, Ctx, Registry, RegistryOptions};
use super::error::RegistryError;
use super::layout::blob_path;
use super::manifest::{self, Desc, Parsed};
use super::progress::Progress;
use super::reference::RegistryRef;
use crate::oci::Digest;
use crate::oci::{ImagePlatforms, Platform};

/// Largest manifest we read into memory (the spec suggests registries accept 4 MiB).
const MAX_MANIFEST: u64 = 4 << 20;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Pulled {
    /// An OCI layout holding exactly the pulled image.
    pub layout: PathBuf,
    /// Reference as resolved (`docker.io/library/eclipse-temurin:17-jre`).
    pub reference: String,
    /// Digest of the platform manifest.
    pub manifest_digest: String,
    /// Digest of the index the tag pointed at, if it was one.
    pub index_digest: Option<String>,
    pub platform: String,
    pub blobs_downloaded: usize,
    pub bytes_downloaded: u64,
    /// The mirror that served it (`harbor.corp/dockerhub/library/…`), if one did.
    pub mirror: Option<String>,
}

fn sha256(bytes: &[u8]) -> String {
    Digest::of(bytes).into()
}

struct Store {
    root: PathBuf,
    /// `--lock-timeout`, for [`Store::lock`].
    lock_timeout: std::time::Duration,
}

impl Store {
    /// The run's cache directory and the store in it; `what` (e.g. "pulling") names
    /// what needs it in the error when there is none.
    fn in_cache(opts: &RegistryOptions, what: &str) -> Result<(PathBuf, Store), RegistryError> {
        let cache = opts
            .cache_dir
            .clone()
            .ok_or_else(|| RegistryError::Layout {
                path: PathBuf::from("."),
                reason: format!("{what} needs a cache directory"),
            })?;
        let store = Store {
            root: cache.join("registry"),
            lock_timeout: opts.lock_timeout,
        };
        Ok((cache, store))
    }

    fn path(&self, digest: &str) -> PathBuf {
        blob_path(&self.root, digest)
    }

    fn has(&self, digest: &str, size: Option<u64>) -> bool {
        fs::metadata(self.path(digest))
            .is_ok_and(|m| m.is_file() && size.is_none_or(|s| m.len() == s))
    }

    /// Hold blob `digest`'s lock: of two processes pulling the same blob into one
    /// cache, one downloads (into the one `.partial`), the other waits, at most
    /// `--lock-timeout` and naming the holder, then finds the blob in place. The locks
    /// live apart from the blobs, so `cache ls` never counts them as entries.
    fn lock(&self, digest: &str) -> Result<File, RegistryError> {
        let path = self
            .root
            .join("locks")
            .join(format!("{}.lock", digest.replace(':', "-")));
        let hex = digest.trim_start_matches("sha256:");
        let what = format!(
            "another sparkimg process pulling blob {}",
            &hex[..12.min(hex.len())]
        );
        Ok(crate::cache::lock::exclusive(
            &path,
            self.lock_timeout,
            &what,
        )?)
    }

    fn put_bytes(&self, digest: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        let p = self.path(digest);
        let dir = p.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir).map_err(RegistryError::io(&dir))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(RegistryError::io(&dir))?;
        tmp.write_all(bytes).map_err(RegistryError::io(&p))?;
        tmp.persist(&p)
            .map_err(|e| RegistryError::io(&p)(e.error))?;
        Ok(())
    }
}

/// The marker file of a sparse pulled layout (its layers other than the last are not
/// downloaded); `image::base` opens such a layout with those layers absent.
pub const SPARSE_MARKER: &str = "sparkimg-sparse";

/// Pull `reference` for `platform`.
pub fn pull(
    reference: &RegistryRef,
    platform: &Platform,
    opts: &RegistryOptions,
) -> Result<Pulled, RegistryError> {
    pull_some(reference, platform, opts, None)
}

/// The platforms of `reference`: an index's (in its order, from the index alone), or a
/// single image manifest's, from its config (one small blob, kept in the cache).
pub fn platforms(
    reference: &RegistryRef,
    opts: &RegistryOptions,
) -> Result<ImagePlatforms, RegistryError> {
    let (_, store) = Store::in_cache(opts, "reading manifests")?;
    let shown = reference.to_string();
    let (platforms, _) = via_endpoints(reference, opts, |reg, repo| {
        let scopes = Scopes::repository(repo, &["pull"]);
        let (bytes, ct, _) = get_manifest(reg, &store, repo, reference.wire_reference(), &scopes)?;
        Ok(match manifest::parse(&bytes, ct.as_deref(), &shown)? {
            Parsed::Index { manifests, .. } => {
                ImagePlatforms::Index(manifest::platforms(&manifests))
            }
            Parsed::Manifest { config, .. } => {
                let progress = Progress::new(opts.progress);
                download_blob(reg, &store, repo, &config, &scopes, &progress)?;
                ImagePlatforms::Single(config_platform(&store, &config, &shown)?)
            }
        })
    })?;
    Ok(platforms)
}

/// The platform image config `config` (in the store) declares.
fn config_platform(store: &Store, config: &Desc, shown: &str) -> Result<Platform, RegistryError> {
    let path = store.path(&config.digest);
    let cfg: serde_json::Value = serde_json::from_slice(
        &fs::read(&path).map_err(RegistryError::io(&path))?,
    )
    .map_err(|e| RegistryError::Manifest {
        reference: shown.to_string(),
        reason: format!("image config is not JSON: {e}"),
    })?;
    let field = |k: &str| cfg[k].as_str().unwrap_or("").to_string();
    Ok(Platform {
        os: field("os"),
        arch: field("architecture"),
        variant: cfg["variant"].as_str().map(String::from),
    })
}

/// Pull `reference` for `platform`: everything (`last_layers: None`), or the manifests,
/// the config and only the last `n` layers, into a sparse layout (`rebase` takes the
/// system layer and leaves the Spark layers in the registry; `outdated` reads the
/// config alone). Each endpoint of its route (mirrors, then the upstream) is tried in
/// turn; every byte is verified against the digests as from the registry itself.
pub fn pull_some(
    reference: &RegistryRef,
    platform: &Platform,
    opts: &RegistryOptions,
    last_layers: Option<usize>,
) -> Result<Pulled, RegistryError> {
    let (cache, store) = Store::in_cache(opts, "pulling")?;
    let (mut pulled, mirror) = via_endpoints(reference, opts, |reg, repo| {
        pull_from(
            reg,
            repo,
            (&store, cache.as_path()),
            reference,
            platform,
            last_layers,
            opts,
        )
    })?;
    pulled.mirror = mirror;
    Ok(pulled)
}

/// Whether a failure at one endpoint lets the next be tried: what the endpoint said
/// (HTTP errors, refusals, transport), not content that failed verification or a
/// local problem.
fn falls_through(e: &RegistryError) -> bool {
    matches!(
        e,
        RegistryError::Http { .. }
            | RegistryError::Unauthorized { .. }
            | RegistryError::Transport { .. }
    )
}

/// Run `op` at each endpoint of `reference`'s route until one succeeds; the endpoint
/// that served it when it was a mirror.
fn via_endpoints<T>(
    reference: &RegistryRef,
    opts: &RegistryOptions,
    mut op: impl FnMut(&Registry, &str) -> Result<T, RegistryError>,
) -> Result<(T, Option<String>), RegistryError> {
    let route = opts.mirrors.route(reference);
    let http = http_client(opts)?;
    let n = route.endpoints.len();
    let mut earlier = Vec::new();
    for (i, ep) in route.endpoints.iter().enumerate() {
        let reg = Registry::at(ep, http.clone(), opts, i + 1 < n)?;
        match op(&reg, &ep.repository) {
            Ok(t) => return Ok((t, ep.mirror.then(|| ep.to_string()))),
            // Content that failed verification, or a local problem: no other endpoint
            // is asked to make up for it.
            Err(e) if n == 1 || !falls_through(&e) => return Err(e),
            Err(e) if i + 1 < n => {
                let said = crate::report::chain(&e);
                crate::report::note(&format!("{said}; trying the next endpoint"));
                earlier.push(said);
            }
            Err(e) => {
                return Err(RegistryError::Endpoints {
                    reference: reference.to_string(),
                    earlier,
                    origin: route.origin,
                    last: Box::new(e),
                })
            }
        }
    }
    let why = match (&route.origin, opts.mirrors.mirrors_only) {
        (_, true) => "--registry-mirrors-only and no mirror for it".to_string(),
        (Some(o), false) => format!("{o} names no mirror for this reference and no upstream"),
        (None, false) => "no endpoint".to_string(),
    };
    Err(RegistryError::Unrouted {
        reference: reference.to_string(),
        why,
    })
}

/// [`pull_some`] at one endpoint: `repo` is the repository there.
fn pull_from(
    reg: &Registry,
    repo: &str,
    (store, cache): (&Store, &Path),
    reference: &RegistryRef,
    platform: &Platform,
    last_layers: Option<usize>,
    opts: &RegistryOptions,
) -> Result<Pulled, RegistryError> {
    let scopes = Scopes::repository(repo, &["pull"]);
    let shown = reference.to_string();

    let (bytes, ct, digest) = get_manifest(reg, store, repo, reference.wire_reference(), &scopes)?;
    let (mut index_digest, mut mbytes, mut mdigest, mut mct) = (None, bytes, digest, ct);
    if let Parsed::Index { manifests, .. } = manifest::parse(&mbytes, mct.as_deref(), &shown)? {
        let d = manifest::select(&manifests, platform, &shown)?.clone();
        let (b, c, dg) = get_manifest(reg, store, repo, &d.digest, &scopes)?;
        index_digest = Some(mdigest);
        mbytes = b;
        mdigest = dg;
        mct = c.or(Some(d.media_type.clone()));
    }
    let Parsed::Manifest {
        media_type,
        config,
        layers,
        ..
    } = manifest::parse(&mbytes, mct.as_deref(), &shown)?
    else {
        return Err(RegistryError::Manifest {
            reference: shown,
            reason: "an index inside an index".into(),
        });
    };
    let mut todo: Vec<Desc> = Vec::new();
    let wanted = layers
        .len()
        .saturating_sub(last_layers.unwrap_or(layers.len()));
    for d in std::iter::once(&config).chain(layers[wanted..].iter()) {
        if !Digest::is_valid(&d.digest) {
            return Err(RegistryError::Manifest {
                reference: shown.clone(),
                reason: format!("unsupported digest {}", d.digest),
            });
        }
        if !store.has(&d.digest, Some(d.size)) && !todo.iter().any(|t| t.digest == d.digest) {
            todo.push(d.clone());
        }
    }
    let progress = Progress::new(opts.progress);
    let bytes_downloaded: u64 = todo.iter().map(|d| d.size).sum();
    download_all(reg, store, repo, &todo, &scopes, opts.jobs, &progress)?;

    // Check the platform the config declares: an index can lie, a single-platform tag
    // can be for another machine.
    let Platform { os, arch, .. } = config_platform(store, &config, &shown)?;
    if arch != platform.arch || os != platform.os {
        return Err(RegistryError::NoPlatform {
            reference: shown,
            platform: platform.to_string(),
            available: format!("{os}/{arch}"),
        });
    }

    let layout = write_layout(
        store,
        cache,
        (&mdigest, &media_type, mbytes.len() as u64),
        &config,
        (&layers, last_layers),
        &os,
        &arch,
    )?;
    Ok(Pulled {
        layout,
        // The name as the user pinned it: by tag when there is one (the digest is
        // recorded separately), else by digest.
        reference: match &reference.tag {
            Some(_) => RegistryRef {
                digest: None,
                ..reference.clone()
            }
            .to_string(),
            None => reference.to_string(),
        },
        manifest_digest: mdigest,
        index_digest,
        platform: format!("{os}/{arch}"),
        blobs_downloaded: todo.len(),
        bytes_downloaded,
        mirror: None,
    })
}

/// The documents attached to an image as referrers (SBOMs), found through the
/// registry's referrers API, else the referrers tag schema (`sha256-<hex>`; what
/// registries without the API hold).
#[derive(Debug, Clone)]
pub struct Referrers {
    /// The platform manifest they refer to.
    pub subject: String,
    /// `(artifactType, the artifact's first layer)`, in the tag's order.
    pub documents: Vec<(String, Vec<u8>)>,
}

/// The referrers of `reference` (for an index: of its `platform` manifest) whose
/// `artifactType` is one of `types`.
pub fn referrers(
    reference: &RegistryRef,
    platform: &Platform,
    types: &[&str],
    opts: &RegistryOptions,
) -> Result<Referrers, RegistryError> {
    let (_, store) = Store::in_cache(opts, "reading referrers")?;
    let (found, _) = via_endpoints(reference, opts, |reg, repo| {
        referrers_at(reg, repo, &store, reference, platform, types, opts)
    })?;
    Ok(found)
}

/// [`referrers`] at one endpoint.
fn referrers_at(
    reg: &Registry,
    repo: &str,
    store: &Store,
    reference: &RegistryRef,
    platform: &Platform,
    types: &[&str],
    opts: &RegistryOptions,
) -> Result<Referrers, RegistryError> {
    let scopes = Scopes::repository(repo, &["pull"]);
    let shown = reference.to_string();
    let (bytes, ct, mut subject) =
        get_manifest(reg, store, repo, reference.wire_reference(), &scopes)?;
    if let Parsed::Index { manifests, .. } = manifest::parse(&bytes, ct.as_deref(), &shown)? {
        subject = manifest::select(&manifests, platform, &shown)?
            .digest
            .clone();
    }
    let (index, name) = match referrers_api(reg, repo, &subject, &scopes)? {
        Some(index) => (index, format!("referrers of {subject}")),
        None => {
            let tag = super::layout::referrers_tag(&subject);
            match get_manifest(reg, store, repo, &tag, &scopes) {
                Ok((b, _, _)) => (b, tag),
                Err(RegistryError::Http { status: 404, .. }) => {
                    return Ok(Referrers {
                        subject,
                        documents: Vec::new(),
                    })
                }
                Err(e) => return Err(e),
            }
        }
    };
    let Parsed::Index { manifests, .. } =
        manifest::parse(&index, Some(manifest::OCI_INDEX), &name)?
    else {
        return Err(RegistryError::Manifest {
            reference: name,
            reason: "the referrers list is not an index".into(),
        });
    };
    let progress = Progress::new(opts.progress);
    let mut documents = Vec::new();
    for d in manifests {
        let Some(kind) = d
            .artifact_type
            .clone()
            .filter(|t| types.contains(&t.as_str()))
        else {
            continue;
        };
        let (mb, _, _) = get_manifest(reg, store, repo, &d.digest, &scopes)?;
        let Parsed::Manifest { layers, .. } = manifest::parse(&mb, Some(&d.media_type), &d.digest)?
        else {
            continue;
        };
        let Some(layer) = layers.first() else {
            continue;
        };
        download_blob(reg, store, repo, layer, &scopes, &progress)?;
        let path = store.path(&layer.digest);
        documents.push((kind, fs::read(&path).map_err(RegistryError::io(&path))?));
    }
    Ok(Referrers { subject, documents })
}

/// The media type and size of manifest `reference` as the registry serves it (a
/// referrer's `subject` descriptor for an image pushed by another client).
pub fn manifest_descriptor(
    reference: &RegistryRef,
    opts: &RegistryOptions,
) -> Result<(String, u64), RegistryError> {
    let (bytes, ct) = manifest_once(reference, opts)?;
    let shown = reference.to_string();
    let media_type = match manifest::parse(&bytes, ct.as_deref(), &shown)? {
        Parsed::Manifest { media_type, .. } | Parsed::Index { media_type, .. } => media_type,
    };
    Ok((media_type, bytes.len() as u64))
}

/// The bytes of manifest `reference` (a tag or digest) as the registry serves them;
/// `None` when it names nothing (404), e.g. a `.sig` tag not written yet.
pub fn manifest_if_any(
    reference: &RegistryRef,
    opts: &RegistryOptions,
) -> Result<Option<Vec<u8>>, RegistryError> {
    match manifest_once(reference, opts) {
        Ok((bytes, _)) => Ok(Some(bytes)),
        Err(RegistryError::Http { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Manifest `reference` and its content type, read once from the registry itself (no
/// mirrors) through a scratch store: nothing of it is kept.
fn manifest_once(
    reference: &RegistryRef,
    opts: &RegistryOptions,
) -> Result<(Vec<u8>, Option<String>), RegistryError> {
    let s = Scratch::open(reference, opts)?;
    let repo = reference.repository.as_str();
    let (bytes, ct, _) = get_manifest(
        &s.reg,
        &s.store,
        repo,
        reference.wire_reference(),
        &s.scopes,
    )?;
    Ok((bytes, ct))
}

/// A pull session with `reference`'s registry itself (no mirrors) whose store is a
/// temporary directory, removed when this is dropped: for reads that keep nothing.
struct Scratch {
    reg: Registry,
    scopes: Scopes,
    store: Store,
    _dir: tempfile::TempDir,
}

impl Scratch {
    fn open(reference: &RegistryRef, opts: &RegistryOptions) -> Result<Scratch, RegistryError> {
        let reg = Registry::new(&reference.registry, http_client(opts)?, opts)?;
        let scopes = Scopes::repository(reference.repository.as_str(), &["pull"]);
        let dir = tempfile::tempdir().map_err(RegistryError::io(std::env::temp_dir()))?;
        let store = Store {
            root: dir.path().to_path_buf(),
            lock_timeout: opts.lock_timeout,
        };
        Ok(Scratch {
            reg,
            scopes,
            store,
            _dir: dir,
        })
    }
}

/// The bytes of the (small) blobs `descs` of `reference`'s repository, e.g. signature
/// payloads and envelopes, each verified against its digest and size; read once from the
/// registry itself through a scratch store, as [`manifest_if_any`] reads manifests.
pub fn blobs_once(
    reference: &RegistryRef,
    descs: &[Desc],
    opts: &RegistryOptions,
) -> Result<Vec<Vec<u8>>, RegistryError> {
    let s = Scratch::open(reference, opts)?;
    let repo = reference.repository.as_str();
    let progress = Progress::new(opts.progress);
    let mut out = Vec::new();
    for d in descs {
        download_blob(&s.reg, &s.store, repo, d, &s.scopes, &progress)?;
        let path = s.store.path(&d.digest);
        out.push(fs::read(&path).map_err(RegistryError::io(&path))?);
    }
    Ok(out)
}

/// `GET /v2/<name>/referrers/<digest>` (distribution spec 1.1): the index of the
/// subject's referrers, or `None` when the registry has no referrers API (404).
fn referrers_api(
    reg: &Registry,
    repo: &str,
    subject: &str,
    scopes: &Scopes,
) -> Result<Option<Vec<u8>>, RegistryError> {
    let ctx = Ctx {
        repository: repo,
        what: "get referrers",
        digest: Some(subject),
    };
    let url = reg.url(&ctx, repo, &format!("referrers/{subject}"))?;
    reg.with_retry(|_| {
        let resp = reg.send(&ctx, scopes, Method::GET, &url, &|rb| {
            rb.header(ACCEPT, manifest::OCI_INDEX)
                .timeout(reg.retry.read_timeout)
        })?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(reg.fail(&ctx, resp));
        }
        read_bounded(reg, &ctx, resp, "referrers list").map(Some)
    })
}

/// A manifest-sized body (at most [`MAX_MANIFEST`]): a read error is retried, a larger
/// body is refused.
fn read_bounded(
    reg: &Registry,
    ctx: &Ctx,
    resp: reqwest::blocking::Response,
    what: &str,
) -> Result<Vec<u8>, Attempt> {
    let mut buf = Vec::new();
    resp.take(MAX_MANIFEST + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Attempt::retry(reg.err_transport(ctx, e), None))?;
    if buf.len() as u64 > MAX_MANIFEST {
        return Err(Attempt::fatal(
            reg.err_transport(ctx, format!("{what} larger than 4 MiB")),
        ));
    }
    Ok(buf)
}

/// A manifest by tag or digest: from the store when the digest is known and cached,
/// else from the registry; digest references are verified.
fn get_manifest(
    reg: &Registry,
    store: &Store,
    repo: &str,
    reference: &str,
    scopes: &Scopes,
) -> Result<(Vec<u8>, Option<String>, String), RegistryError> {
    let by_digest = Digest::is_valid(reference);
    if by_digest && store.has(reference, None) {
        let p = store.path(reference);
        let b = fs::read(&p).map_err(RegistryError::io(&p))?;
        if sha256(&b) == reference {
            return Ok((b, None, reference.to_string()));
        }
    }
    let ctx = Ctx {
        repository: repo,
        what: "get manifest",
        digest: by_digest.then_some(reference),
    };
    let url = reg.url(&ctx, repo, &format!("manifests/{reference}"))?;
    let (bytes, ct) = reg.with_retry(|_| {
        let resp = reg.send(&ctx, scopes, Method::GET, &url, &|rb| {
            rb.header(ACCEPT, manifest::ACCEPT)
                .timeout(reg.retry.read_timeout)
        })?;
        if !resp.status().is_success() {
            return Err(reg.fail(&ctx, resp));
        }
        let ct = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        Ok((read_bounded(reg, &ctx, resp, "manifest")?, ct))
    })?;
    let digest = sha256(&bytes);
    if by_digest && digest != reference {
        return Err(RegistryError::DigestMismatch {
            registry: reg.name.clone(),
            repository: repo.to_string(),
            what: "manifest".into(),
            expected: reference.to_string(),
            actual: digest,
        });
    }
    store.put_bytes(&digest, &bytes)?;
    Ok((bytes, ct, digest))
}

fn download_all(
    reg: &Registry,
    store: &Store,
    repo: &str,
    todo: &[Desc],
    scopes: &Scopes,
    jobs: usize,
    progress: &Progress,
) -> Result<(), RegistryError> {
    let next = AtomicUsize::new(0);
    let abort = AtomicBool::new(false);
    let first_err: Mutex<Option<RegistryError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, todo.len().max(1)) {
            s.spawn(|| loop {
                if abort.load(Ordering::SeqCst) {
                    break;
                }
                let Some(d) = todo.get(next.fetch_add(1, Ordering::SeqCst)) else {
                    break;
                };
                if let Err(e) = download_blob(reg, store, repo, d, scopes, progress) {
                    abort.store(true, Ordering::SeqCst);
                    first_err
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert(e);
                }
            });
        }
    });
    match first_err.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Hash what a partial file already holds, so a resumed download is still verified
/// end to end.
fn hash_prefix(f: &mut File) -> std::io::Result<(Sha256, u64)> {
    f.seek(SeekFrom::Start(0))?;
    let mut h = Sha256::new();
    let n = std::io::copy(f, &mut h)?;
    Ok((h, n))
}

fn download_blob(
    reg: &Registry,
    store: &Store,
    repo: &str,
    d: &Desc,
    scopes: &Scopes,
    progress: &Progress,
) -> Result<(), RegistryError> {
    let ctx = Ctx {
        repository: repo,
        what: "download blob",
        digest: Some(&d.digest),
    };
    let final_path = store.path(&d.digest);
    let dir = final_path.parent().unwrap_or(&store.root).to_path_buf();
    fs::create_dir_all(&dir).map_err(RegistryError::io(&dir))?;
    // Held until the blob is in place (released when dropped).
    let _lock = store.lock(&d.digest)?;
    if store.has(&d.digest, Some(d.size)) {
        return Ok(());
    }
    let partial = final_path.with_extension("partial");
    let url = reg.url(&ctx, repo, &format!("blobs/{}", d.digest))?;
    let bar = progress.blob(
        "pulling",
        d.digest.trim_start_matches("sha256:")[..12].to_string(),
        d.size,
    );
    bar.start();
    let io = |e: std::io::Error| Attempt::fatal(RegistryError::io(&partial)(e));
    let r = reg.with_retry(|_| {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&partial)
            .map_err(io)?;
        let (mut h, mut have) = hash_prefix(&mut f).map_err(io)?;
        if have > d.size {
            f.set_len(0).map_err(io)?;
            h = Sha256::new();
            have = 0;
        }
        bar.reset(have);
        let resp = reg.send(&ctx, scopes, Method::GET, &url, &|rb| {
            let rb = rb.timeout(reg.retry.transfer_timeout(d.size - have));
            if have > 0 {
                rb.header(RANGE, format!("bytes={have}-"))
            } else {
                rb
            }
        })?;
        match resp.status() {
            StatusCode::PARTIAL_CONTENT if have > 0 => {}
            StatusCode::OK => {
                // The registry ignored the Range: start over.
                f.set_len(0).map_err(io)?;
                f.seek(SeekFrom::Start(0)).map_err(io)?;
                h = Sha256::new();
                have = 0;
                bar.reset(0);
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                f.set_len(0).map_err(io)?;
                return Err(Attempt::retry(reg.err_http(&ctx, 416, Vec::new()), None));
            }
            _ => return Err(reg.fail(&ctx, resp)),
        }
        f.seek(SeekFrom::End(0)).map_err(io)?;
        let mut body = resp.take(d.size - have + 1);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                // Keep what arrived; the next attempt asks for the rest.
                Err(e) => return Err(Attempt::retry(reg.err_transport(&ctx, e), None)),
            };
            f.write_all(&buf[..n]).map_err(io)?;
            h.update(&buf[..n]);
            have += n as u64;
            bar.inc(n as u64);
        }
        if have != d.size {
            if have > d.size {
                f.set_len(0).map_err(io)?;
            }
            return Err(Attempt::retry(
                reg.err_transport(&ctx, format!("got {have} of {} bytes", d.size)),
                None,
            ));
        }
        let actual = Digest::from_sha256(h.finalize()).to_string();
        if actual != d.digest {
            let _ = fs::remove_file(&partial);
            return Err(Attempt::fatal(RegistryError::DigestMismatch {
                registry: reg.name.clone(),
                repository: repo.to_string(),
                what: "blob".into(),
                expected: d.digest.clone(),
                actual,
            }));
        }
        f.sync_all().map_err(io)?;
        fs::rename(&partial, &final_path).map_err(io)?;
        Ok(())
    });
    bar.finish(if r.is_ok() { "done" } else { "failed" });
    r
}

#[allow(clippy::too_many_arguments)]
fn write_layout(
    store: &Store,
    cache: &Path,
    (mdigest, media_type, msize): (&str, &str, u64),
    config: &Desc,
    (layers, last_layers): (&[Desc], Option<usize>),
    os: &str,
    arch: &str,
) -> Result<PathBuf, RegistryError> {
    // Sparse layouts apart, by how many layers they hold, so a pull never finds one
    // with fewer blobs than it asked for.
    let sparse = last_layers.is_some();
    let images = cache
        .join("registry")
        .join(if sparse { "images-sparse" } else { "images" });
    let hex = mdigest.trim_start_matches("sha256:");
    let dest = match last_layers {
        Some(n) => images.join(format!("{hex}-{n}")),
        None => images.join(hex),
    };
    if dest.join("index.json").is_file() {
        return Ok(dest);
    }
    fs::create_dir_all(&images).map_err(RegistryError::io(&images))?;
    let staging = tempfile::Builder::new()
        .prefix(".pull-")
        .tempdir_in(&images)
        .map_err(RegistryError::io(&images))?;
    let blobs = staging.path().join("blobs").join("sha256");
    fs::create_dir_all(&blobs).map_err(RegistryError::io(&blobs))?;
    for dg in std::iter::once(mdigest)
        .chain(std::iter::once(config.digest.as_str()))
        .chain(layers.iter().map(|l| l.digest.as_str()))
    {
        let src = store.path(dg);
        let dst = blob_path(staging.path(), dg);
        if dst.exists() || (sparse && !src.exists()) {
            continue;
        }
        if fs::hard_link(&src, &dst).is_err() {
            fs::copy(&src, &dst).map_err(RegistryError::io(&src))?;
        }
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": manifest::OCI_INDEX,
        "manifests": [{
            "mediaType": media_type,
            "digest": mdigest,
            "size": msize,
            "platform": {"os": os, "architecture": arch},
        }],
    });
    let w = |name: &str, bytes: &[u8]| {
        let p = staging.path().join(name);
        fs::write(&p, bytes).map_err(RegistryError::io(p))
    };
    w("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    w("index.json", index.to_string().as_bytes())?;
    if sparse {
        w(SPARSE_MARKER, b"")?;
    }
    let tmp = staging.keep();
    if fs::rename(&tmp, &dest).is_err() {
        // Another run finished the same image first; theirs is as good as ours.
        let _ = fs::remove_dir_all(&tmp);
        if !dest.join("index.json").is_file() {
            return Err(RegistryError::Layout {
                path: dest,
                reason: "could not create the pulled image layout".into(),
            });
        }
    }
    Ok(dest)
}
