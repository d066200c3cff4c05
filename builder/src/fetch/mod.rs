//! Download, verify and cache Spark distributions.
//!
//! Pure pieces (no I/O): [`names`], [`checksum`], [`urls`], [`cache::cache_key`]; the retry
//! policy is the shared [`crate::http::retry`].
//! Effects: [`download`] (HTTP), [`cache`] (disk layout, locks), [`extract`] (unpacking).
//! [`fetch`] ties them together; the CLI and the benchmarks call only that.

pub mod cache;
pub mod checksum;
pub mod error;
pub mod extract;
pub mod names;
#[cfg(feature = "signatures")]
mod signature;
pub mod urls;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use crate::http::RetryPolicy;
pub use crate::progress::ProgressMode;
pub use cache::{Cache, IndexEntry};
pub use checksum::{parse_sha512, ChecksumParseError};
pub use error::FetchError;
pub use extract::ExtractLimits;
pub use names::{resolve_file_name, SparkVersion, VersionError};

use crate::http::download::{HashState, Http, Tee};
use crate::http::DownloadError;
use crate::progress::{self, Progress};

/// What to fetch.
#[derive(Debug, Clone)]
pub enum DistSpec {
    /// An Apache release, resolved to a file name and looked up on the mirrors.
    Release {
        version: SparkVersion,
        hadoop: Option<String>,
        scala: Option<String>,
    },
    /// A local `.tgz` or an http(s) URL, used as is.
    Dist(String),
}

#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Mirror bases in the order to try them (see [`urls::mirror_list`]).
    pub mirrors: Vec<String>,
    pub cache_dir: PathBuf,
    /// Proceed without a usable checksum (warns on stderr). A checksum that is present
    /// and does not match is still an error.
    pub insecure_skip_verify: bool,
    /// Check the `.asc` against `<mirror>/KEYS` (needs the `signatures` feature).
    pub verify_signature: bool,
    pub retry: RetryPolicy,
    pub limits: ExtractLimits,
    pub progress: ProgressMode,
    /// How long to wait for another process's lock on the same artifact.
    pub lock_timeout: std::time::Duration,
}

impl FetchOptions {
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        FetchOptions {
            mirrors: urls::mirror_list(&[], None, true),
            cache_dir: cache_dir.into(),
            insecure_skip_verify: false,
            verify_signature: false,
            retry: RetryPolicy::default(),
            limits: ExtractLimits::default(),
            progress: ProgressMode::Auto,
            lock_timeout: crate::cache::DEFAULT_LOCK_TIMEOUT,
        }
    }
}

/// The result of a fetch; serialised as the `--json` output.
#[derive(Debug, Clone, Serialize)]
pub struct Fetched {
    pub version: Option<String>,
    pub file: String,
    pub sha512: String,
    /// The extracted SPARK_HOME.
    pub path: PathBuf,
    /// Size of the tarball.
    pub bytes: u64,
    /// Where it came from (URL or local path).
    pub source: String,
    /// Served from the cache without downloading.
    pub cached: bool,
    /// False only with `--insecure-skip-verify` and no usable checksum.
    pub verified: bool,
}

/// Resolve, download (or reuse), verify and extract a Spark distribution.
pub fn fetch(spec: &DistSpec, opts: &FetchOptions) -> Result<Fetched, FetchError> {
    let cache = Cache::new(&opts.cache_dir).with_lock_timeout(opts.lock_timeout);
    cache.ensure()?;
    match spec {
        DistSpec::Release {
            version,
            hadoop,
            scala,
        } => {
            let file = resolve_file_name(version, hadoop.as_deref(), scala.as_deref())?;
            let version = version.to_string();
            let require_verified = !opts.insecure_skip_verify;
            // Offline path: a verified earlier download needs no network at all.
            if let Some(hit) = cache.lookup(&file, require_verified) {
                return Ok(from_index(&cache, hit, Some(version)));
            }
            if opts.mirrors.is_empty() {
                return Err(FetchError::NoMirrors);
            }
            for m in &opts.mirrors {
                if !urls::is_supported_url(m) {
                    return Err(FetchError::UnsupportedUrl { url: m.clone() });
                }
            }
            let _lock = cache.lock(&cache::cache_key(&file))?;
            // Another process may have finished it while we waited for the lock.
            if let Some(hit) = cache.lookup(&file, require_verified) {
                return Ok(from_index(&cache, hit, Some(version)));
            }
            let sources: Vec<Source> = opts
                .mirrors
                .iter()
                .map(|m| Source {
                    url: urls::artifact_url(m, &version, &file),
                    keys_url: Some(urls::keys_url(m)),
                })
                .collect();
            let fetched = fetch_sources(&cache, &file, Some(version), &sources, opts)?;
            if fetched.verified || opts.insecure_skip_verify {
                cache.record(&IndexEntry {
                    file: fetched.file.clone(),
                    sha512: fetched.sha512.clone(),
                    bytes: fetched.bytes,
                    source: fetched.source.clone(),
                    verified: fetched.verified,
                })?;
            }
            Ok(fetched)
        }
        DistSpec::Dist(d) if urls::is_supported_url(d) => {
            let file = urls::file_name_of_url(d)
                .ok_or_else(|| FetchError::UnsupportedUrl { url: d.clone() })?
                .to_string();
            let _lock = cache.lock(&cache::cache_key(&file))?;
            let sources = [Source {
                url: d.clone(),
                keys_url: None,
            }];
            // Not indexed by name: a custom build may reuse an Apache file name.
            fetch_sources(&cache, &file, None, &sources, opts)
        }
        DistSpec::Dist(d) => fetch_local(&cache, Path::new(d), opts),
    }
}

struct Source {
    url: String,
    keys_url: Option<String>,
}

fn from_index(cache: &Cache, e: IndexEntry, version: Option<String>) -> Fetched {
    Fetched {
        version,
        path: cache.dist(&e.sha512),
        file: e.file,
        sha512: e.sha512,
        bytes: e.bytes,
        source: e.source,
        cached: true,
        verified: e.verified,
    }
}

/// The expected sha512 from `src`'s `.sha512` sidecar; `None` when
/// --insecure-skip-verify lets a missing or unparsable one pass. An error is this
/// source's failure (the caller fails over to the next).
fn expected_sha512(
    http: &Http,
    src: &Source,
    file: &str,
    opts: &FetchOptions,
) -> Result<Option<String>, FetchError> {
    let sha_url = urls::sidecar(&src.url, "sha512");
    match http.get_text(&sha_url, 1 << 20) {
        Ok(Some(text)) => match parse_sha512(&text, file) {
            Ok(h) => Ok(Some(h)),
            Err(source) if opts.insecure_skip_verify => {
                progress::warn(&format!(
                    "ignoring unparsable checksum {sha_url} ({source}) because of \
                     --insecure-skip-verify: the download will NOT be verified"
                ));
                Ok(None)
            }
            Err(source) => Err(FetchError::ChecksumUnparsable {
                url: sha_url,
                source,
            }),
        },
        Ok(None) if opts.insecure_skip_verify => {
            progress::warn(&format!(
                "no checksum at {sha_url}; continuing because of --insecure-skip-verify: \
                 the download will NOT be verified"
            ));
            Ok(None)
        }
        Ok(None) => {
            // Usually the release is simply not on this mirror (dlcdn drops old ones);
            // say so rather than blaming the checksum.
            Err(match http.exists(&src.url) {
                Some(false) => DownloadError::NotFound {
                    url: src.url.clone(),
                    status: 404,
                }
                .into(),
                _ => FetchError::ChecksumMissing { url: sha_url },
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// A verified distribution already in the cache under digest `h`.
fn already_cached(
    cache: &Cache,
    h: &str,
    file: &str,
    version: &Option<String>,
    url: &str,
) -> Option<Fetched> {
    let blob = cache.blob(h);
    if !(cache.dist(h).is_dir() && blob.is_file()) {
        return None;
    }
    crate::cache::touch(&cache.dist(h));
    crate::cache::touch(&blob);
    let bytes = fs::metadata(&blob).map(|m| m.len()).unwrap_or(0);
    Some(Fetched {
        version: version.clone(),
        file: file.to_string(),
        sha512: h.to_string(),
        path: cache.dist(h),
        bytes,
        source: url.to_string(),
        cached: true,
        verified: true,
    })
}

/// The verified download renamed to its digest's name, and its extracted tree
/// published (the speculative extraction when it ran, else a fresh one).
fn publish_download(
    cache: &Cache,
    partial: &Path,
    actual: &str,
    speculative: Option<Speculative>,
    opts: &FetchOptions,
) -> Result<PathBuf, FetchError> {
    let blob = cache.blob(actual);
    fs::rename(partial, &blob)
        .map_err(|e| FetchError::io(format!("moving download to {}", blob.display()), e))?;
    // The bytes are verified now, so the tree extracted from them may be published.
    match speculative.and_then(|spec| spec.finish(cache, actual)) {
        Some(path) => Ok(path),
        None => install(cache, actual, &opts.limits),
    }
}

/// Try each source in turn: checksum first, then the tarball from the same place.
fn fetch_sources(
    cache: &Cache,
    file: &str,
    version: Option<String>,
    sources: &[Source],
    opts: &FetchOptions,
) -> Result<Fetched, FetchError> {
    let http = Http::new(opts.retry.clone())?;
    let mut failures: Vec<FetchError> = Vec::new();
    // Extraction runs beside the download from the first byte (see `Speculative`); it
    // carries over when a failover continues the same partial file.
    let mut speculative: Option<Speculative> = None;
    // Partial-download hash states by partial key, so failing over to the next mirror
    // continues the same bytes without reading them again.
    let mut states: HashMap<String, HashState> = HashMap::new();

    for src in sources {
        let expected = match expected_sha512(&http, src, file, opts) {
            Ok(h) => h,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };

        if let Some(f) = expected
            .as_deref()
            .and_then(|h| already_cached(cache, h, file, &version, &src.url))
        {
            return Ok(f);
        }

        // Partials are keyed by the expected digest: any mirror's bytes of the same
        // release continue the same file, and another release can never be mixed in.
        let key = match &expected {
            Some(h) => format!("sha512-{h}"),
            None => format!("unverified-{}", cache::cache_key(file)),
        };
        let partial = cache.partial(&key);
        let st = match states.remove(&key) {
            Some(st) => st,
            None => HashState::from_partial(&partial)?,
        };
        let mut st = st;
        if st.len == 0 {
            speculative = Speculative::start(cache, file, &opts.limits);
        } else if speculative.as_ref().is_some_and(|s| s.fed != key) {
            speculative = None;
        }
        let mut prog = Progress::new(opts.progress, file);
        let mut no_tee = Tee::default();
        let tee = match speculative.as_mut() {
            Some(spec) => {
                spec.fed = key.clone();
                &mut spec.tee
            }
            None => &mut no_tee,
        };
        let res = http.download(&src.url, &partial, &mut st, &mut prog, tee);
        prog.finish();
        match res {
            Ok(()) => {}
            // Local trouble: another mirror cannot help.
            Err(e @ (DownloadError::Io { .. } | DownloadError::NoSpace { .. })) => {
                return Err(e.into())
            }
            Err(e) => {
                states.insert(key, st);
                failures.push(e.into());
                continue;
            }
        }
        let actual = st.hex();
        let bytes = st.len;
        if let Some(exp) = &expected {
            if *exp != actual {
                // Never resume from bytes that produced a wrong digest.
                let _ = fs::remove_file(&partial);
                speculative = None;
                failures.push(FetchError::ChecksumMismatch {
                    url: src.url.clone(),
                    expected: exp.clone(),
                    actual,
                });
                continue;
            }
        }

        if opts.verify_signature {
            if let Err(e) = check_signature(&http, &src.url, src.keys_url.as_deref(), &partial) {
                let _ = fs::remove_file(&partial);
                speculative = None;
                failures.push(e);
                continue;
            }
        }

        let path = publish_download(cache, &partial, &actual, speculative.take(), opts)?;
        return Ok(Fetched {
            version,
            file: file.to_string(),
            sha512: actual,
            path,
            bytes,
            source: src.url.clone(),
            cached: false,
            verified: expected.is_some(),
        });
    }

    Err(match failures.len() {
        1 => failures.remove(0),
        _ => FetchError::AllSourcesFailed {
            file: file.to_string(),
            failures,
        },
    })
}

#[cfg(feature = "signatures")]
fn check_signature(
    http: &Http,
    url: &str,
    keys_url: Option<&str>,
    file: &Path,
) -> Result<(), FetchError> {
    signature::verify(http, url, keys_url, file)
}

#[cfg(not(feature = "signatures"))]
fn check_signature(
    _http: &Http,
    url: &str,
    _keys_url: Option<&str>,
    _file: &Path,
) -> Result<(), FetchError> {
    Err(FetchError::Signature {
        url: urls::sidecar(url, "asc"),
        reason: "this sparkimg was built without OpenPGP support; rebuild with \
                 `--features signatures` or drop --verify-signature (the SHA-512 is still checked)"
            .into(),
    })
}

/// `--dist /path/spark.tgz`: copy into the cache while hashing (one read), then the same
/// verify → publish → extract steps as a download.
fn fetch_local(cache: &Cache, path: &Path, opts: &FetchOptions) -> Result<Fetched, FetchError> {
    let file = path
        .file_name()
        .and_then(|f| f.to_str())
        .ok_or_else(|| {
            FetchError::io(
                format!("--dist {}", path.display()),
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
            )
        })?
        .to_string();
    let shown = path.display().to_string();
    let sidecar = PathBuf::from(format!("{shown}.sha512"));
    let expected = match fs::read_to_string(&sidecar) {
        Ok(text) => match parse_sha512(&text, &file) {
            Ok(h) => Some(h),
            Err(source) if opts.insecure_skip_verify => {
                progress::warn(&format!(
                    "ignoring unparsable {} ({source}): {shown} will NOT be verified",
                    sidecar.display()
                ));
                None
            }
            Err(source) => {
                return Err(FetchError::ChecksumUnparsable {
                    url: sidecar.display().to_string(),
                    source,
                })
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && opts.insecure_skip_verify => {
            progress::warn(&format!(
                "no {} beside the distribution: {shown} will NOT be verified",
                sidecar.display()
            ));
            None
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(FetchError::ChecksumMissing {
                url: sidecar.display().to_string(),
            })
        }
        Err(e) => return Err(FetchError::io(format!("reading {}", sidecar.display()), e)),
    };
    if let Some(h) = &expected {
        if cache.dist(h).is_dir() {
            crate::cache::touch(&cache.dist(h));
            crate::cache::touch(&cache.blob(h));
            return Ok(Fetched {
                version: None,
                file,
                sha512: h.clone(),
                path: cache.dist(h),
                bytes: fs::metadata(path).map(|m| m.len()).unwrap_or(0),
                source: shown,
                cached: true,
                verified: true,
            });
        }
    }

    let _lock = cache.lock(&cache::cache_key(&file))?;
    let mut src = File::open(path).map_err(|e| FetchError::io(format!("opening {shown}"), e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(cache.root().join("tmp"))
        .map_err(|e| FetchError::io("creating a temporary file in the cache", e))?;
    let mut hasher = crate::digest::Sha512::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = src
            .read(&mut buf)
            .map_err(|e| FetchError::io(format!("reading {shown}"), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])
            .map_err(|e| FetchError::io("writing to the cache", e))?;
        bytes += n as u64;
    }
    let actual = hex::encode(hasher.finalize());
    if let Some(exp) = &expected {
        if *exp != actual {
            return Err(FetchError::ChecksumMismatch {
                url: shown,
                expected: exp.clone(),
                actual,
            });
        }
    }
    let blob = cache.blob(&actual);
    tmp.persist(&blob)
        .map_err(|e| FetchError::io(format!("publishing {}", blob.display()), e.error))?;
    let out = install(cache, &actual, &opts.limits)?;
    Ok(Fetched {
        version: None,
        file,
        sha512: actual,
        path: out,
        bytes,
        source: shown,
        cached: false,
        verified: expected.is_some(),
    })
}

/// Extract `blobs/sha512/<hex>` into `dists/<hex>` via a temp dir and one rename.
/// A hostile archive is removed from the cache altogether.
fn install(cache: &Cache, hex: &str, limits: &ExtractLimits) -> Result<PathBuf, FetchError> {
    let blob = cache.blob(hex);
    let dest = cache.dist(hex);
    if dest.is_dir() {
        return Ok(dest);
    }
    let result = (|| {
        let tmp = cache.tmp_dir()?;
        let root = tmp.path().join("root");
        fs::create_dir(&root).map_err(|e| FetchError::io("creating extraction dir", e))?;
        let f = File::open(&blob)
            .map_err(|e| FetchError::io(format!("opening {}", blob.display()), e))?;
        extract::extract_tgz(BufReader::with_capacity(1 << 16, f), &root, limits, &blob)?;
        // Spark tarballs hold one top directory (`spark-V-bin-…/`); that is SPARK_HOME.
        let home = single_subdir(&root).unwrap_or(root);
        fs::set_permissions(&home, fs::Permissions::from_mode(0o755))
            .map_err(|e| FetchError::io("chmod extraction dir", e))?;
        fs::rename(&home, &dest)
            .map_err(|e| FetchError::io(format!("publishing {}", dest.display()), e))?;
        Ok(dest.clone())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&blob);
    }
    result
}

/// Extraction of a download while it is still arriving, on its own thread: inflating
/// and untarring is the slow half of a fetch, and this way it overlaps the transfer and
/// the hashing instead of following them (the bytes are read once, from the network).
///
/// Nothing it writes is trusted until the download's checksum has been verified: the
/// tree stays in a temp dir and is published by [`Speculative::finish`] only then. When
/// anything goes wrong (the stream restarted from zero, the extractor failed or found an
/// unsafe entry) `finish` returns `None` and the caller extracts the verified file the
/// ordinary way, which reports any problem with the archive itself.
struct Speculative {
    tee: Tee,
    /// Which partial file's bytes it has been fed (a failover may continue the same one).
    fed: String,
    worker: Option<std::thread::JoinHandle<Result<u64, FetchError>>>,
    // Declared last: dropped after `Drop::drop` has joined the worker that writes in it.
    dir: tempfile::TempDir,
}

impl Speculative {
    fn start(cache: &Cache, file: &str, limits: &ExtractLimits) -> Option<Speculative> {
        let dir = cache.tmp_dir().ok()?;
        let root = dir.path().join("root");
        fs::create_dir(&root).ok()?;
        // A few MiB of slack between the two threads; the downloader waits beyond that.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(64);
        let limits = limits.clone();
        let name = PathBuf::from(file);
        let worker = std::thread::spawn(move || {
            extract::extract_tgz(ChannelReader::new(rx), &root, &limits, &name)
        });
        Some(Speculative {
            tee: Tee::new(tx),
            fed: String::new(),
            worker: Some(worker),
            dir,
        })
    }

    /// Publishes the extracted tree as the dist for `hex` (already verified).
    fn finish(mut self, cache: &Cache, hex: &str) -> Option<PathBuf> {
        let whole = self.tee.finish();
        let extracted = self.worker.take()?.join().ok()?.ok();
        let dest = cache.dist(hex);
        if dest.is_dir() {
            return Some(dest);
        }
        if !whole || extracted.is_none() {
            return None;
        }
        let root = self.dir.path().join("root");
        let home = single_subdir(&root).unwrap_or(root);
        fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).ok()?;
        fs::rename(&home, &dest).ok()?;
        Some(dest)
    }
}

impl Drop for Speculative {
    fn drop(&mut self) {
        // End its input and wait, so nothing is still writing when the temp dir goes.
        self.tee.finish();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// The receiving end of a [`Tee`] as a `Read`.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl ChannelReader {
    fn new(rx: std::sync::mpsc::Receiver<Vec<u8>>) -> ChannelReader {
        ChannelReader {
            rx,
            chunk: Vec::new(),
            at: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                // The sender is gone: end of the stream.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn single_subdir(root: &Path) -> Option<PathBuf> {
    let mut it = fs::read_dir(root).ok()?;
    let first = it.next()?.ok()?;
    if it.next().is_some() {
        return None;
    }
    let ft = first.file_type().ok()?;
    ft.is_dir().then(|| first.path())
}
