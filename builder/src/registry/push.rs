//! Effects: push blobs and manifests. Per target repository: every blob is HEADed,
//! mounted from a sibling repository when one is known to hold it, otherwise uploaded
//! monolithically (POST, then PUT `?digest=` with Content-Length), several
//! at once; then child manifests by digest; then the manifest or index by tag, so a tag
//! never names an image whose blobs are not all there.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use reqwest::blocking::Body;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;

use super::challenge::Scopes;
use super::client::{http_client, Attempt, Ctx, Registry, RegistryOptions};
use super::error::RegistryError;
use super::progress::{BlobProgress, CountingReader, Progress};
use super::reference::RegistryRef;

/// Where a blob's bytes are.
#[derive(Debug, Clone)]
pub enum BlobData {
    Path(PathBuf),
    Bytes(Arc<Vec<u8>>),
    /// In this repository (`registry/repo`), never downloaded: present in the target,
    /// mounted from there (same registry), else streamed from there into the upload
    /// (GET body as PUT body: nothing touches disk).
    Remote(String),
}

/// Pure: for a blob left in `remote` (`registry/repo`), the repository to mount it from
/// into `target`: itself when on the target's registry, else none.
fn remote_source(target: &RegistryRef, remote: &str) -> Option<String> {
    let r = RegistryRef::parse(remote).ok()?;
    (r.registry == target.registry && r.repository != target.repository).then_some(r.repository)
}

#[derive(Debug, Clone)]
pub struct PushBlob {
    pub digest: String,
    pub size: u64,
    pub data: BlobData,
}

#[derive(Debug, Clone)]
pub struct PushManifest {
    pub digest: String,
    pub media_type: String,
    pub bytes: Arc<Vec<u8>>,
}

/// Everything one tag needs.
#[derive(Debug, Clone)]
pub struct PushPlan {
    /// Repository and tag to write.
    pub target: RegistryRef,
    pub blobs: Vec<PushBlob>,
    /// Platform manifests of an index, pushed by digest before `top`.
    pub children: Vec<PushManifest>,
    /// The manifest (or index) the tag points at.
    pub top: PushManifest,
    /// Repositories (full names, any registry) that may already hold some blobs, e.g.
    /// the base image's; those on the target's registry are mount sources.
    pub mount_from: Vec<String>,
    /// Set on the referrers tag schema's index of this subject: pushed only when the
    /// registry did not take the subject's referrers through the referrers API.
    pub referrers_tag_of: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PushReport {
    /// `registry/repo:tag`.
    pub reference: String,
    /// `registry/repo@sha256:…` — what to deploy.
    pub pushed: String,
    pub digest: String,
    pub media_type: String,
    pub blobs_present: usize,
    pub blobs_mounted: usize,
    pub blobs_uploaded: usize,
    pub bytes_uploaded: u64,
    /// The registry's `OCI-Subject` answer to a manifest with a `subject`: it keeps
    /// referrers itself (the referrers API), so no referrers tag is needed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oci_subject: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Present,
    Mounted,
    Uploaded,
}

/// Blob locations remembered across runs, so that pushing an image to a second
/// repository mounts instead of uploading. A hint only: a wrong one costs a 202.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
struct Hints {
    /// registry → digest → repositories (most recent last, at most 4).
    #[serde(default)]
    registries: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

const HINTS_PER_BLOB: usize = 4;
const HINT_BLOBS_PER_REGISTRY: usize = 20_000;

fn hints_path(cache: &Path) -> PathBuf {
    cache.join("registry").join("known-blobs.json")
}

impl Hints {
    fn load(cache: Option<&Path>) -> Hints {
        cache
            .and_then(|c| std::fs::read(hints_path(c)).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn record(&mut self, registry: &str, repo: &str, digest: &str) {
        let m = self.registries.entry(registry.to_string()).or_default();
        if m.len() >= HINT_BLOBS_PER_REGISTRY && !m.contains_key(digest) {
            return;
        }
        let v = m.entry(digest.to_string()).or_default();
        v.retain(|r| r != repo);
        v.push(repo.to_string());
        if v.len() > HINTS_PER_BLOB {
            v.remove(0);
        }
    }

    fn get(&self, registry: &str, digest: &str) -> Vec<String> {
        self.registries
            .get(registry)
            .and_then(|m| m.get(digest))
            .cloned()
            .unwrap_or_default()
    }

    /// Best effort: merge with what another run wrote meanwhile, then write atomically.
    fn save(&self, cache: &Path) {
        let path = hints_path(cache);
        let mut merged = Hints::load(Some(cache));
        for (reg, m) in &self.registries {
            for (d, repos) in m {
                for r in repos {
                    merged.record(reg, r, d);
                }
            }
        }
        let Some(dir) = path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        if let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir) {
            if serde_json::to_writer(&mut tmp, &merged).is_ok() {
                let _ = tmp.persist(&path);
            }
        }
    }
}

/// Pure: the mount source to try for a blob, or none. Sources on other registries
/// cannot be mounted from; the target itself is pointless.
pub fn pick_mount_source(
    target: &RegistryRef,
    this_run: &[String],
    hinted: &[String],
    declared: &[RegistryRef],
) -> Option<String> {
    this_run
        .iter()
        .rev()
        .chain(hinted.iter().rev())
        .find(|r| **r != target.repository)
        .cloned()
        .or_else(|| {
            declared
                .iter()
                .find(|d| d.registry == target.registry && d.repository != target.repository)
                .map(|d| d.repository.clone())
        })
}

fn short(d: &str) -> String {
    let h = d.strip_prefix("sha256:").unwrap_or(d);
    h[..h.len().min(12)].to_string()
}

/// Push every plan, in order. Plans for the same registry share one connection pool
/// and token cache.
pub fn push(plans: &[PushPlan], opts: &RegistryOptions) -> Result<Vec<PushReport>, RegistryError> {
    let http = http_client(opts)?;
    let progress = Progress::new(opts.progress);
    let mut registries: HashMap<String, Arc<Registry>> = HashMap::new();
    let mut hints = Hints::load(opts.cache_dir.as_deref());
    // digest → repositories on the registry that received it during this run.
    let mut seen: HashMap<(String, String), Vec<String>> = HashMap::new();
    let mut reports = Vec::new();
    // (registry, repository, subject) the registry keeps referrers of.
    let mut api: BTreeSet<(String, String, String)> = BTreeSet::new();
    for plan in plans {
        if let Some(subject) = &plan.referrers_tag_of {
            let key = (
                plan.target.registry.clone(),
                plan.target.repository.clone(),
                subject.clone(),
            );
            if api.contains(&key) {
                progress.note(&format!(
                    "{} has the referrers API: no referrers tag for {subject}",
                    plan.target.registry
                ));
                continue;
            }
        }
        let mut client = |name: &str| -> Result<Arc<Registry>, RegistryError> {
            if let Some(r) = registries.get(name) {
                return Ok(r.clone());
            }
            let r = Arc::new(Registry::new(name, http.clone(), opts)?);
            registries.insert(name.to_string(), r.clone());
            Ok(r)
        };
        let reg = client(&plan.target.registry)?;
        // The registry each remote blob is in, for the copy when it cannot be mounted.
        let origins = plan
            .blobs
            .iter()
            .map(|b| match &b.data {
                BlobData::Remote(remote) => {
                    let r = RegistryRef::parse(remote)?;
                    Ok(Some((client(&r.registry)?, r.repository)))
                }
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>, RegistryError>>()?;
        let declared: Vec<RegistryRef> = plan
            .mount_from
            .iter()
            .filter_map(|m| RegistryRef::parse(m).ok())
            .collect();
        let sources: Vec<Option<String>> = plan
            .blobs
            .iter()
            .map(|b| {
                if let BlobData::Remote(remote) = &b.data {
                    return remote_source(&plan.target, remote);
                }
                let key = (plan.target.registry.clone(), b.digest.clone());
                pick_mount_source(
                    &plan.target,
                    seen.get(&key).map(Vec::as_slice).unwrap_or(&[]),
                    &hints.get(&plan.target.registry, &b.digest),
                    &declared,
                )
            })
            .collect();
        // Push scope first; then pull on every mount source, or the mount silently
        // degrades to an upload.
        let mut scopes = Scopes::repository(&plan.target.repository, &["pull", "push"]);
        for s in sources.iter().flatten().collect::<BTreeSet<_>>() {
            scopes.add_repository(s, &["pull"]);
        }
        let from = (sources.as_slice(), origins.as_slice());
        let report = push_one(&reg, plan, from, &scopes, opts.jobs, &progress)?;
        for b in &plan.blobs {
            let key = (plan.target.registry.clone(), b.digest.clone());
            seen.entry(key)
                .or_default()
                .push(plan.target.repository.clone());
            hints.record(&plan.target.registry, &plan.target.repository, &b.digest);
        }
        progress.note(&format!("pushed {}@{}", plan.target, report.digest));
        if let Some(s) = &report.oci_subject {
            let key = (plan.target.registry.clone(), plan.target.repository.clone());
            api.insert((key.0, key.1, s.clone()));
        }
        reports.push(report);
    }
    if let Some(c) = &opts.cache_dir {
        hints.save(c);
    }
    Ok(reports)
}

/// Per blob of a plan: the repository to mount it from, and for a remote blob the
/// registry and repository it is in.
type Sources<'a> = (&'a [Option<String>], &'a [Option<(Arc<Registry>, String)>]);

fn push_one(
    reg: &Registry,
    plan: &PushPlan,
    (sources, origins): Sources,
    scopes: &Scopes,
    jobs: usize,
    progress: &Progress,
) -> Result<PushReport, RegistryError> {
    let repo = plan.target.repository.as_str();
    // Resolve the scheme and challenge once, before the workers race for it.
    reg.base(&Ctx {
        repository: repo,
        what: "connect",
        digest: None,
    })?;
    let next = AtomicUsize::new(0);
    let abort = AtomicBool::new(false);
    type Done = (usize, Result<(Outcome, u64), RegistryError>);
    let results: Mutex<Vec<Done>> = Mutex::new(Vec::new());
    let workers = jobs.clamp(1, plan.blobs.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if abort.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(blob) = plan.blobs.get(i) else { break };
                let origin = origins[i]
                    .as_ref()
                    .map(|(r, repo)| (r.as_ref(), repo.as_str()));
                let from = (sources[i].as_deref(), origin, None);
                let r = push_blob(reg, repo, blob, from, scopes, progress);
                if r.is_err() {
                    abort.store(true, Ordering::SeqCst);
                }
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((i, r));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let mut report = PushReport {
        reference: plan.target.to_string(),
        pushed: format!("{}@{}", plan.target.name(), plan.top.digest),
        digest: plan.top.digest.clone(),
        media_type: plan.top.media_type.clone(),
        ..PushReport::default()
    };
    for (_, r) in results {
        match r? {
            (Outcome::Present, _) => report.blobs_present += 1,
            (Outcome::Mounted, _) => report.blobs_mounted += 1,
            (Outcome::Uploaded, n) => {
                report.blobs_uploaded += 1;
                report.bytes_uploaded += n;
            }
        }
    }
    for m in &plan.children {
        put_manifest(reg, repo, &m.digest, m, scopes)?;
    }
    let tag = plan.target.tag.as_deref().unwrap_or(&plan.top.digest);
    report.oci_subject = put_manifest(reg, repo, tag, &plan.top, scopes)?;
    Ok(report)
}

/// A blob's mount source, for a remote blob the registry and repository it is in, and
/// the tap its copy streams through ([`copy_blobs`]).
type BlobSources<'a> = (
    Option<&'a str>,
    Option<(&'a Registry, &'a str)>,
    Option<Tap<'a>>,
);

/// Where the bytes of blobs copied between registries go too, as they stream. Its
/// write errors are its own: the copy ignores them.
pub trait BlobTap: Sync {
    /// Whether blob `digest`'s bytes are wanted (still).
    fn wants(&self, digest: &str) -> bool;
    /// A writer for one transfer of blob `digest` (each attempt gets its own).
    fn open(&self, digest: &str) -> Box<dyn Write + Send>;
}

type Tap<'a> = &'a dyn BlobTap;

/// A remote blob's GET body, also written to a tap on its way into the PUT.
struct TeeReader<R> {
    inner: R,
    tap: Box<dyn Write + Send>,
}

impl<R: Read> Read for TeeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let _ = self.tap.write_all(&buf[..n]);
        Ok(n)
    }
}

/// What [`copy_blobs`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CopyReport {
    /// Streamed from the source registry into the target.
    pub uploaded: usize,
    /// Already in the target repository.
    pub present: usize,
    /// Present, but read for the tap with a GET of their own.
    pub read_for_tap: usize,
}

/// Blobs `(digest, size)` of repository `from` (`registry/repo`) copied into `to`'s
/// repository: a blob already there is left (HEAD), any other is streamed, its GET body
/// the PUT body and through `tap` on the way, so each is read once and nothing is
/// stored. A blob whose bytes `tap` still wants afterwards (it was present, or its
/// upload was retried in a way the tap refused) gets a plain GET into it.
pub fn copy_blobs(
    from: &str,
    to: &RegistryRef,
    blobs: &[(String, u64)],
    tap: &dyn BlobTap,
    opts: &RegistryOptions,
) -> Result<CopyReport, RegistryError> {
    let http = http_client(opts)?;
    let src = RegistryRef::parse(from)?;
    let origin = Registry::new(&src.registry, http.clone(), opts)?;
    let reg = Registry::new(&to.registry, http, opts)?;
    let repo = to.repository.as_str();
    let scopes = Scopes::repository(repo, &["pull", "push"]);
    let progress = Progress::new(opts.progress);
    let mut report = CopyReport::default();
    for (digest, size) in blobs {
        // From a manifest that was not verified layer by layer: the digest goes into
        // URLs and the tap's file names.
        if !crate::oci::Digest::is_valid(digest) {
            return Err(RegistryError::Manifest {
                reference: from.to_string(),
                reason: format!("unsupported digest {digest}"),
            });
        }
        let blob = PushBlob {
            digest: digest.clone(),
            size: *size,
            data: BlobData::Remote(from.to_string()),
        };
        let sources = (None, Some((&origin, src.repository.as_str())), Some(tap));
        match push_blob(&reg, repo, &blob, sources, &scopes, &progress)?.0 {
            Outcome::Present => report.present += 1,
            _ => report.uploaded += 1,
        }
        // Uploaded through the tap, or present: a tap that still wants the bytes did
        // not see them.
        if !tap.wants(digest) {
            continue;
        }
        report.read_for_tap += 1;
        origin.with_retry(|_| {
            let mut w = tap.open(digest);
            let mut body = open_remote(&origin, &src.repository, &blob)?;
            std::io::copy(&mut body, &mut w).map_err(|e| {
                let ctx = Ctx {
                    repository: &src.repository,
                    what: "copy blob",
                    digest: Some(digest),
                };
                Attempt::retry(origin.err_transport(&ctx, e), None)
            })?;
            Ok(())
        })?;
    }
    Ok(report)
}

fn push_blob(
    reg: &Registry,
    repo: &str,
    blob: &PushBlob,
    (mount, origin, tap): BlobSources,
    scopes: &Scopes,
    progress: &Progress,
) -> Result<(Outcome, u64), RegistryError> {
    let ctx = Ctx {
        repository: repo,
        what: "blob",
        digest: Some(&blob.digest),
    };
    let head_url = reg.url(&ctx, repo, &format!("blobs/{}", blob.digest))?;
    let exists = reg.with_retry(|_| {
        let ctx = Ctx {
            what: "check blob",
            ..ctx.clone()
        };
        let resp = reg.send(&ctx, scopes, Method::HEAD, &head_url, &|rb| {
            rb.timeout(reg.retry.read_timeout)
        })?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(reg.fail(&ctx, resp)),
        }
    })?;
    if exists {
        return Ok((Outcome::Present, 0));
    }
    let bar = progress.blob("pushing", short(&blob.digest), blob.size);
    bar.start();
    let r = reg.with_retry(|_| {
        bar.reset(0);
        upload_attempt(reg, repo, blob, (mount, origin, tap), scopes, &bar)
    });
    match &r {
        Ok(Outcome::Mounted) => bar.finish(&format!("mounted from {}", mount.unwrap_or("?"))),
        Ok(_) => bar.finish("pushed"),
        Err(_) => bar.finish("failed"),
    }
    r.map(|o| (o, if o == Outcome::Uploaded { blob.size } else { 0 }))
}

/// One try: a fresh session (mount or POST), then the PUT. Never resumes an old
/// session: after a failure the registry may have dropped it (BLOB_UPLOAD_UNKNOWN).
fn upload_attempt(
    reg: &Registry,
    repo: &str,
    blob: &PushBlob,
    (mount, origin, tap): BlobSources,
    scopes: &Scopes,
    bar: &Arc<BlobProgress>,
) -> Result<Outcome, Attempt> {
    let ctx = Ctx {
        repository: repo,
        what: "start upload",
        digest: Some(&blob.digest),
    };
    let uploads = reg
        .url(&ctx, repo, "blobs/uploads/")
        .map_err(Attempt::fatal)?;
    let mut location = None;
    if let Some(from) = mount {
        let mut u = Url::parse(&uploads).map_err(|e| Attempt::fatal(reg.err_transport(&ctx, e)))?;
        u.query_pairs_mut()
            .append_pair("mount", &blob.digest)
            .append_pair("from", from);
        let mctx = Ctx {
            what: "mount blob",
            ..ctx.clone()
        };
        let resp = reg.send(&mctx, scopes, Method::POST, u.as_str(), &|rb| {
            rb.header(CONTENT_LENGTH, 0).timeout(reg.retry.read_timeout)
        })?;
        match resp.status() {
            StatusCode::CREATED => return Ok(Outcome::Mounted),
            // Not mountable: the registry opened an ordinary upload session instead.
            StatusCode::ACCEPTED => {
                location = Some(resolve_location(&resp, u.as_str(), &mctx, reg)?)
            }
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                return Err(reg.fail(&mctx, resp))
            }
            // Some registries refuse mounts outright; upload instead.
            _ => {}
        }
    }
    let location = match location {
        Some(l) => l,
        None => {
            let resp = reg.send(&ctx, scopes, Method::POST, &uploads, &|rb| {
                rb.header(CONTENT_LENGTH, 0).timeout(reg.retry.read_timeout)
            })?;
            if resp.status() != StatusCode::ACCEPTED {
                return Err(reg.fail(&ctx, resp));
            }
            resolve_location(&resp, &uploads, &ctx, reg)?
        }
    };
    put_blob(reg, (&ctx, scopes), blob, (origin, tap), location, bar)
}

/// The PUT `?digest=` closing the session at `location`, with the whole blob as body.
fn put_blob(
    reg: &Registry,
    (ctx, scopes): (&Ctx, &Scopes),
    blob: &PushBlob,
    (origin, tap): (Option<(&Registry, &str)>, Option<Tap>),
    mut put: Url,
    bar: &Arc<BlobProgress>,
) -> Result<Outcome, Attempt> {
    put.query_pairs_mut().append_pair("digest", &blob.digest);
    let pctx = Ctx {
        what: "upload blob",
        ..ctx.clone()
    };
    let timeout = reg.retry.transfer_timeout(blob.size);
    let open = || -> Result<Option<Box<dyn Read + Send>>, Attempt> {
        Ok(match (&blob.data, origin) {
            (BlobData::Path(p), _) => Some(Box::new(
                File::open(p).map_err(|e| Attempt::fatal(RegistryError::io(p)(e)))?,
            )),
            (BlobData::Remote(_), Some((from, from_repo))) => {
                let body = open_remote(from, from_repo, blob)?;
                match tap.filter(|t| t.wants(&blob.digest)) {
                    Some(t) => Some(Box::new(TeeReader {
                        inner: body,
                        tap: t.open(&blob.digest),
                    })),
                    None => Some(Box::new(body)),
                }
            }
            (BlobData::Remote(from), None) => {
                return Err(Attempt::fatal(RegistryError::Layout {
                    path: PathBuf::from(from),
                    reason: format!("blob {} has no registry to copy it from", blob.digest),
                }))
            }
            (BlobData::Bytes(_), _) => None,
        })
    };
    // A file that fits the budget goes out as one buffer (see WHOLE_BODY_BUDGET); held
    // until the PUT is done, as the bytes count against the budget.
    let lease = match &blob.data {
        BlobData::Path(_) => WholeBodyLease::take(blob.size),
        _ => None,
    };
    let whole = match (&blob.data, &lease) {
        (BlobData::Path(p), Some(_)) => {
            let mut f = File::open(p).map_err(|e| Attempt::fatal(RegistryError::io(p)(e)))?;
            Some(read_whole(&mut f, p, blob.size)?)
        }
        _ => None,
    };
    // The body is a one-shot stream; `send` may build the request twice (after a 401
    // asking for more scope), so hand the stream out once and reopen if needed.
    let stream = Mutex::new(match whole {
        Some(_) => None,
        None => open()?,
    });
    let resp = reg.send(&pctx, scopes, Method::PUT, put.as_str(), &|rb| {
        let body = match (&blob.data, &whole) {
            (BlobData::Bytes(b), _) => {
                bar.inc(b.len() as u64);
                Body::from(b.as_ref().clone())
            }
            // A cheap clone (shared bytes), so a second build of the request resends it.
            (_, Some(b)) => {
                bar.inc(b.len() as u64);
                Body::from(b.clone())
            }
            (BlobData::Path(_) | BlobData::Remote(_), None) => {
                let f = stream
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .or_else(|| open().ok().flatten());
                match f {
                    Some(f) => Body::sized(
                        CountingReader {
                            inner: f,
                            progress: bar.clone(),
                        },
                        blob.size,
                    ),
                    // The registry refuses the empty body's digest: an error, not a blob.
                    None => Body::from(Vec::new()),
                }
            }
        };
        rb.header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, blob.size)
            .timeout(timeout)
            .body(body)
    })?;
    drop(whole);
    drop(lease);
    if resp.status() == StatusCode::CREATED || resp.status().is_success() {
        Ok(Outcome::Uploaded)
    } else {
        Err(reg.fail(&pctx, resp))
    }
}

/// A remote blob's bytes as a stream: the GET from the repository it is in (the copy
/// across registries; also where a same-registry mount was refused).
fn open_remote(
    from: &Registry,
    repo: &str,
    blob: &PushBlob,
) -> Result<reqwest::blocking::Response, Attempt> {
    let ctx = Ctx {
        repository: repo,
        what: "copy blob",
        digest: Some(&blob.digest),
    };
    let url = from
        .url(&ctx, repo, &format!("blobs/{}", blob.digest))
        .map_err(Attempt::fatal)?;
    let scopes = Scopes::repository(repo, &["pull"]);
    let resp = from.send(&ctx, &scopes, Method::GET, &url, &|rb| {
        rb.timeout(from.retry.transfer_timeout(blob.size))
    })?;
    match resp.status() {
        StatusCode::OK => Ok(resp),
        _ => Err(from.fail(&ctx, resp)),
    }
}

/// Bytes of blobs read whole for their PUT, summed over every upload in flight in this
/// process. reqwest's blocking client streams a sized body 8 KiB at a time (one read,
/// one channel send and one small socket write each: ~35,000 for a 270 MB jars layer),
/// which costs more CPU than the transfer itself on loopback; a body given as one
/// `Bytes` goes out in large writes. 1 GiB holds the largest layer of a Spark image
/// (~270 MB of jars) with room for the others uploading beside it, and bounds the
/// memory whatever `--jobs` is; a blob that does not fit streams from disk as before.
const WHOLE_BODY_BUDGET: u64 = 1 << 30;
static WHOLE_BODY_USED: AtomicU64 = AtomicU64::new(0);

/// A share of [`WHOLE_BODY_BUDGET`], given back on drop.
struct WholeBodyLease(u64);

impl WholeBodyLease {
    fn take(size: u64) -> Option<WholeBodyLease> {
        WHOLE_BODY_USED
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                fits_budget(used, size, WHOLE_BODY_BUDGET).then_some(used + size)
            })
            .ok()
            .map(|_| WholeBodyLease(size))
    }
}

impl Drop for WholeBodyLease {
    fn drop(&mut self) {
        WHOLE_BODY_USED.fetch_sub(self.0, Ordering::SeqCst);
    }
}

/// Pure: whether `size` more bytes fit a `budget` of which `used` is taken.
fn fits_budget(used: u64, size: u64, budget: u64) -> bool {
    used.checked_add(size).is_some_and(|total| total <= budget)
}

/// The blob file read whole; its length must be the size the manifest declares.
fn read_whole(f: &mut File, path: &Path, size: u64) -> Result<Bytes, Attempt> {
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    f.read_to_end(&mut buf)
        .map_err(|e| Attempt::fatal(RegistryError::io(path)(e)))?;
    if buf.len() as u64 != size {
        return Err(Attempt::fatal(RegistryError::Layout {
            path: path.to_path_buf(),
            reason: format!("blob is {} bytes, its descriptor says {size}", buf.len()),
        }));
    }
    Ok(Bytes::from(buf))
}

/// `Location` may be relative; resolve it against the request URL (keeping its query,
/// which carries the session state on some registries).
fn resolve_location(
    resp: &reqwest::blocking::Response,
    request_url: &str,
    ctx: &Ctx,
    reg: &Registry,
) -> Result<Url, Attempt> {
    let loc = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Attempt::retry(
                reg.err_transport(ctx, "upload session without Location"),
                None,
            )
        })?;
    Url::parse(request_url)
        .and_then(|base| base.join(loc))
        .map_err(|e| Attempt::fatal(reg.err_transport(ctx, format!("bad Location '{loc}': {e}"))))
}

fn put_manifest(
    reg: &Registry,
    repo: &str,
    reference: &str,
    m: &PushManifest,
    scopes: &Scopes,
) -> Result<Option<String>, RegistryError> {
    let ctx = Ctx {
        repository: repo,
        what: if reference.starts_with("sha256:") {
            "put manifest"
        } else {
            "put manifest (tag)"
        },
        digest: Some(&m.digest),
    };
    let url = reg.url(&ctx, repo, &format!("manifests/{reference}"))?;
    reg.with_retry(|_| {
        let resp = reg.send(&ctx, scopes, Method::PUT, &url, &|rb| {
            rb.header(CONTENT_TYPE, m.media_type.as_str())
                .timeout(reg.retry.read_timeout)
                .body(m.bytes.as_ref().clone())
        })?;
        if !resp.status().is_success() {
            return Err(reg.fail(&ctx, resp));
        }
        let echoed = resp
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        match echoed {
            Some(d) if d != m.digest => Err(Attempt::fatal(RegistryError::DigestMismatch {
                registry: reg.name.clone(),
                repository: repo.to_string(),
                what: "manifest stored by the registry".into(),
                expected: m.digest.clone(),
                actual: d,
            })),
            // The distribution spec's answer of a registry with the referrers API.
            _ => Ok(resp
                .headers()
                .get("OCI-Subject")
                .and_then(|v| v.to_str().ok())
                .map(String::from)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_source_choice() {
        let t = RegistryRef::parse("r:5000/team/spark:1").unwrap();
        let base = RegistryRef::parse("r:5000/x/jre:17").unwrap();
        let other = RegistryRef::parse("docker.io/library/jre:17").unwrap();
        assert_eq!(
            pick_mount_source(
                &t,
                &["team/a".into(), "team/b".into()],
                &[],
                std::slice::from_ref(&base)
            ),
            Some("team/b".into())
        );
        assert_eq!(
            pick_mount_source(&t, &[], &["team/spark".into()], &[base]),
            Some("x/jre".into())
        );
        assert_eq!(pick_mount_source(&t, &[], &[], &[other]), None);
        assert_eq!(pick_mount_source(&t, &[], &[], &[]), None);
    }

    #[test]
    fn whole_body_budget() {
        assert!(fits_budget(0, 1 << 30, 1 << 30));
        assert!(!fits_budget(1, 1 << 30, 1 << 30));
        assert!(fits_budget(300 << 20, 600 << 20, 1 << 30));
        assert!(!fits_budget(u64::MAX, 1, u64::MAX));
    }

    #[test]
    fn hints_bounded() {
        let mut h = Hints::default();
        for i in 0..6 {
            h.record("r", &format!("repo{i}"), "sha256:x");
        }
        assert_eq!(
            h.get("r", "sha256:x"),
            vec!["repo2", "repo3", "repo4", "repo5"]
        );
        h.record("r", "repo3", "sha256:x");
        assert_eq!(
            h.get("r", "sha256:x").last().map(String::as_str),
            Some("repo3")
        );
    }
}
