//! Effects: the repositories as a [`PomSource`], and the jars of a resolution.
//!
//! Every file (POM, `maven-metadata.xml`, jar) is checked against the strongest
//! checksum its repository offers (`.sha512`, `.sha256`, `.sha1`) before use; a
//! missing checksum is refused unless `--insecure-skip-verify`. Verified files are
//! kept content-addressed under `<cache>/maven/sha256/<hex>`, with an index
//! `<cache>/maven/index/<repository path>` (`<sha256> <repository URL>`), so a second
//! build resolves and downloads nothing: it reads the index. Requests go through
//! `fetch::download`'s client and the one retry policy; jars are fetched in parallel,
//! each through fetch's resumable download (`<cache>/maven/partial/*.partial`, continued
//! with `Range` on a retry and by the next run, verified when complete). The chain is
//! Ivy's: the first repository that has a file gives it; one that cannot be reached is
//! skipped for the rest of the run, with one warning.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::digest::{Sha1, Sha256, Sha512};

use super::coordinate::{Coordinate, ModuleId};
use super::resolve::Artifact;
use super::settings::Repository;
use super::{MavenError, PomSource, SourceError};
use crate::http::download::{DownloadError, HashState, Http, Tee};
use crate::http::RetryPolicy;
use crate::progress::{self, Progress, ProgressMode};

/// Larger than any jar on Maven Central (the AWS SDK bundle is about 600 MB).
const LIMIT: u64 = 4 << 30;
/// Jars fetched at once.
const PARALLEL: usize = 4;

/// A jar of the resolution, verified and in the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub artifact: Artifact,
    pub path: PathBuf,
    pub sha256: String,
    /// The repository it came from (no credentials).
    pub repository: String,
}

pub struct Remote {
    http: Http,
    repos: Vec<Repository>,
    dir: PathBuf,
    /// The cache's lock directory (one lock per artifact, shared with fetch's).
    locks: PathBuf,
    lock_timeout: std::time::Duration,
    insecure_skip_verify: bool,
    /// Repositories that could not be reached this run, by name, with what they said:
    /// skipped from then on, and named in errors.
    down: Mutex<BTreeMap<String, String>>,
}

fn io(path: &Path, source: std::io::Error) -> MavenError {
    MavenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` beside `path` and renames it into place.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), MavenError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| io(path, e))?;
    tmp.persist(path).map_err(|e| io(path, e.error))?;
    Ok(())
}

/// The repository path of a revision's file with extension `ext`.
pub fn file_path(c: &Coordinate, ext: &str) -> String {
    let m = &c.module;
    format!(
        "{}/{}/{}/{}-{}.{ext}",
        m.group.replace('.', "/"),
        m.artifact,
        c.version,
        m.artifact,
        c.version
    )
}

/// The `<version>`s of a `maven-metadata.xml`.
pub fn metadata_versions(xml: &str) -> Result<Vec<String>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
    Ok(doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "version")
        .filter(|n| {
            n.parent()
                .is_some_and(|p| p.tag_name().name() == "versions")
        })
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect())
}

type Hasher = fn(&[u8]) -> String;

/// Strongest first: extension, name, hash of bytes in memory.
const CHECKSUMS: &[(&str, &str, Hasher)] = &[
    ("sha512", "SHA-512", |b| hex::encode(Sha512::digest(b))),
    ("sha256", "SHA-256", |b| hex::encode(Sha256::digest(b))),
    ("sha1", "SHA-1", |b| hex::encode(Sha1::digest(b))),
];

/// The strongest checksum a repository offers for a file: which one, and its value.
pub type Offered = Option<(&'static str, &'static str, String)>;

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Pure: the name of a jar's partial download. Keyed by the expected sum, as fetch
/// keys its partials: bytes of another file are never continued, and any repository's
/// copy of this one is. A sum that is not plain hex (the server's text) is hashed
/// into the name; without a sum, the URL is.
pub fn partial_key(offered: &Offered, url: &str) -> String {
    match offered {
        Some((ext, _, sum))
            if (1..=128).contains(&sum.len()) && sum.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            format!("{ext}-{sum}")
        }
        Some((ext, _, sum)) => format!("{ext}-of-{}", sha256_hex(sum.as_bytes())),
        None => format!("unverified-{}", sha256_hex(url.as_bytes())),
    }
}

/// A verified file in the cache: its blob, sha256, and the repository it came from.
type Stored = (PathBuf, String, String);

impl Remote {
    /// `cache_root`'s `maven/` holds the verified files.
    pub fn new(
        repos: Vec<Repository>,
        cache_root: &Path,
        insecure_skip_verify: bool,
        policy: RetryPolicy,
    ) -> Result<Remote, MavenError> {
        Ok(Remote {
            http: Http::new(policy)?,
            repos,
            dir: cache_root.join("maven"),
            locks: cache_root.join("locks"),
            lock_timeout: crate::cache::DEFAULT_LOCK_TIMEOUT,
            insecure_skip_verify,
            down: Mutex::new(BTreeMap::new()),
        })
    }

    /// How long a jar another process is downloading is waited for (`--lock-timeout`).
    pub fn with_lock_timeout(mut self, timeout: std::time::Duration) -> Remote {
        self.lock_timeout = timeout;
        self
    }

    fn blob(&self, sha256: &str) -> PathBuf {
        self.dir.join("sha256").join(sha256)
    }

    /// The index entry of a repository path: `(sha256, repository)`. A hit marks the
    /// blob and the index's top folder used, for `cache prune --older-than`.
    fn indexed(&self, rel: &str) -> Option<(String, String)> {
        let index = self.dir.join("index");
        let entry = fs::read_to_string(index.join(rel)).ok()?;
        let (sha, repo) = entry.trim_end().split_once(' ')?;
        crate::cache::touch(&self.blob(sha));
        if let Some(top) = rel.split('/').next() {
            crate::cache::touch(&index.join(top));
        }
        Some((sha.to_string(), repo.to_string()))
    }

    /// A file of the index whose blob is still intact: `(bytes, sha256, repository)`.
    fn cached(&self, rel: &str) -> Option<(Vec<u8>, String, String)> {
        let (sha, repo) = self.indexed(rel)?;
        let bytes = fs::read(self.blob(&sha)).ok()?;
        // Stored only under its verified digest; re-hashing guards a damaged disk.
        (sha256_hex(&bytes) == sha).then_some((bytes, sha, repo))
    }

    /// [`Remote::cached`] for a jar, hashed as it is read rather than held in memory.
    fn cached_jar(&self, rel: &str) -> Option<Stored> {
        let (sha, repo) = self.indexed(rel)?;
        let path = self.blob(&sha);
        let mut hasher = Sha256::new();
        std::io::copy(&mut fs::File::open(&path).ok()?, &mut hasher).ok()?;
        (hex::encode(hasher.finalize()) == sha).then_some((path, sha, repo))
    }

    fn index(&self, rel: &str, sha: &str, repo: &str) -> Result<(), MavenError> {
        write_atomic(
            &self.dir.join("index").join(rel),
            format!("{sha} {repo}\n").as_bytes(),
        )
    }

    fn store(&self, rel: &str, bytes: &[u8], repo: &str) -> Result<String, MavenError> {
        let sha = sha256_hex(bytes);
        let blob = self.blob(&sha);
        if !blob.exists() {
            write_atomic(&blob, bytes)?;
        }
        self.index(rel, &sha, repo)?;
        Ok(sha)
    }

    fn auth(repo: &Repository) -> Option<(&str, &str)> {
        repo.auth
            .as_ref()
            .map(|a| (a.user.as_str(), a.password.as_str()))
    }

    /// One file of one repository, unverified; `None` when it does not have it.
    fn raw(&self, repo: &Repository, rel: &str) -> Result<Option<Vec<u8>>, MavenError> {
        if let Some(dir) = repo.local_dir() {
            let path = dir.join(rel);
            return match fs::read(&path) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io(&path, e)),
            };
        }
        let url = format!("{}{rel}", repo.url);
        Ok(self.http.get_bytes_as(&url, LIMIT, Self::auth(repo))?)
    }

    /// The strongest checksum `repo` offers for `rel`.
    fn offered(&self, repo: &Repository, rel: &str) -> Result<Offered, MavenError> {
        for (ext, algorithm, _) in CHECKSUMS {
            if let Some(sum) = self.raw(repo, &format!("{rel}.{ext}"))? {
                let text = String::from_utf8_lossy(&sum);
                let expected = text.split_whitespace().next().unwrap_or("");
                return Ok(Some((ext, algorithm, expected.to_ascii_lowercase())));
            }
        }
        Ok(None)
    }

    /// Checks a file against what `offered` says; `actual` hashes it by extension.
    fn check(
        &self,
        repo: &Repository,
        rel: &str,
        offered: Offered,
        actual: impl Fn(&str) -> String,
    ) -> Result<(), MavenError> {
        if let Some((ext, algorithm, expected)) = offered {
            let actual = actual(ext);
            if expected != actual {
                return Err(MavenError::ChecksumMismatch {
                    file: rel.to_string(),
                    repository: repo.url.clone(),
                    algorithm,
                    expected,
                    actual,
                });
            }
            return Ok(());
        }
        if self.insecure_skip_verify {
            progress::warn(&format!(
                "no checksum for {rel} in {}; used unverified (--insecure-skip-verify)",
                repo.url
            ));
            return Ok(());
        }
        Err(MavenError::ChecksumMissing {
            file: rel.to_string(),
            repository: repo.url.clone(),
        })
    }

    /// Checks `bytes` against the strongest checksum `repo` offers for `rel`.
    fn verify(&self, repo: &Repository, rel: &str, bytes: &[u8]) -> Result<(), MavenError> {
        let offered = self.offered(repo, rel)?;
        self.check(repo, rel, offered, |ext| {
            CHECKSUMS
                .iter()
                .find(|(e, _, _)| *e == ext)
                .map_or_else(String::new, |(_, _, hash)| hash(bytes))
        })
    }

    /// `fetch` on each repository in order until one has the file. As Ivy's chain: a
    /// repository that cannot be reached is passed over (with one warning, and for the
    /// rest of the run); the file is missing when a reachable one said so, and an error
    /// naming each repository and what it said when none could answer.
    fn first<T>(
        &self,
        rel: &str,
        fetch: impl Fn(&Repository) -> Result<Option<T>, MavenError>,
    ) -> Result<Option<T>, MavenError> {
        let mut answered = false;
        // Statuses that refuse this one file (401, 403: an S3-backed repository's
        // "missing"); its other files may still be there, so it stays in the chain.
        let mut refused = BTreeMap::new();
        for repo in &self.repos {
            if self.is_down(repo) {
                continue;
            }
            match fetch(repo) {
                Ok(Some(got)) => return Ok(Some(got)),
                Ok(None) => answered = true,
                Err(MavenError::Download(e @ DownloadError::Http { .. })) => {
                    refused.insert(repo.name.clone(), crate::report::chain(&e));
                }
                Err(MavenError::Download(e)) if unreachable(&e) => self.mark_down(repo, &e),
                Err(e) => return Err(e),
            }
        }
        if answered {
            return Ok(None);
        }
        let tried = self
            .repos
            .iter()
            .zip(self.repositories())
            .map(|(r, line)| match refused.get(&r.name) {
                Some(said) => format!("{line}: answered {said}"),
                None => line,
            })
            .collect();
        Err(MavenError::Unreachable {
            file: rel.to_string(),
            tried,
        })
    }

    fn is_down(&self, repo: &Repository) -> bool {
        let down = self.down.lock().unwrap_or_else(|p| p.into_inner());
        down.contains_key(&repo.name)
    }

    fn mark_down(&self, repo: &Repository, e: &DownloadError) {
        let said = crate::report::chain(e);
        let mut down = self.down.lock().unwrap_or_else(|p| p.into_inner());
        if down.insert(repo.name.clone(), said.clone()).is_none() {
            let others = self.repos.iter().any(|r| !down.contains_key(&r.name));
            // With none left, the error says it all; otherwise say it once here.
            if others {
                crate::report::warn(&format!(
                    "repository {} ({}) cannot be reached, skipped for this run: {said}\n  \
                     it comes from {}",
                    repo.name, repo.url, repo.origin
                ));
            }
        }
    }

    /// A verified small file (POM, metadata) from the cache, else from the first
    /// repository that has it (then cached): `(bytes, sha256, repository)`.
    fn get(&self, rel: &str) -> Result<Option<(Vec<u8>, String, String)>, MavenError> {
        if let Some(hit) = self.cached(rel) {
            return Ok(Some(hit));
        }
        self.first(rel, |repo| {
            let Some(bytes) = self.raw(repo, rel)? else {
                return Ok(None);
            };
            self.verify(repo, rel, &bytes)?;
            let sha = self.store(rel, &bytes, &repo.url)?;
            Ok(Some((bytes, sha, repo.url.clone())))
        })
    }

    /// A verified jar from the cache, else from the first repository that has it.
    fn jar(&self, rel: &str) -> Result<Option<Stored>, MavenError> {
        if let Some(hit) = self.cached_jar(rel) {
            return Ok(Some(hit));
        }
        self.first(rel, |repo| {
            if repo.local_dir().is_none() {
                return self.download_jar(repo, rel);
            }
            let Some(bytes) = self.raw(repo, rel)? else {
                return Ok(None);
            };
            self.verify(repo, rel, &bytes)?;
            let sha = self.store(rel, &bytes, &repo.url)?;
            Ok(Some((self.blob(&sha), sha, repo.url.clone())))
        })
    }

    /// A jar from an HTTP repository, through fetch's resumable download: the bytes go
    /// to `maven/partial/<key>.partial`, hashed as they arrive; a body cut short is
    /// continued with a `Range` request on the next attempt, or by the next run, and
    /// the whole file is checked against the repository's checksum at the end.
    fn download_jar(&self, repo: &Repository, rel: &str) -> Result<Option<Stored>, MavenError> {
        let offered = self.offered(repo, rel)?;
        let key = partial_key(&offered, &format!("{}{rel}", repo.url));
        let dir = self.dir.join("partial");
        fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        // Another build fetching the same jar: wait, then find it in the cache.
        let lock_key = format!("maven-{key}");
        let _lock = crate::cache::lock::exclusive(
            &self.locks.join(format!("{lock_key}.lock")),
            self.lock_timeout,
            &format!("another sparkimg process to finish {lock_key}"),
        )?;
        if let Some(hit) = self.cached_jar(rel) {
            return Ok(Some(hit));
        }
        let partial = dir.join(format!("{key}.partial"));
        let mut st = HashState::all().resumed(&partial)?;
        let url = format!("{}{rel}", repo.url);
        let mut prog = Progress::new(ProgressMode::Quiet, rel);
        let got = self.http.download_as(
            &url,
            Self::auth(repo),
            &partial,
            &mut st,
            &mut prog,
            &mut Tee::default(),
        );
        if got.is_err() && st.len == 0 {
            let _ = fs::remove_file(&partial);
        }
        match got {
            Ok(()) => {}
            Err(DownloadError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let digest = |ext: &str| match ext {
            "sha512" => st.hex(),
            "sha256" => st.sha256_hex().unwrap_or_default(),
            _ => st.sha1_hex().unwrap_or_default(),
        };
        if let Err(e) = self.check(repo, rel, offered, digest) {
            // Never resume from bytes that failed the check.
            let _ = fs::remove_file(&partial);
            return Err(e);
        }
        let sha = st.sha256_hex().unwrap_or_default();
        let blob = self.blob(&sha);
        let blobs = self.dir.join("sha256");
        fs::create_dir_all(&blobs).map_err(|e| io(&blobs, e))?;
        fs::rename(&partial, &blob).map_err(|e| io(&blob, e))?;
        self.index(rel, &sha, &repo.url)?;
        Ok(Some((blob, sha, repo.url.clone())))
    }

    fn fetch_one(&self, a: &Artifact) -> Result<Fetched, MavenError> {
        let rel = a.repository_path();
        let (path, sha256, repository) = self.jar(&rel)?.ok_or_else(|| MavenError::NotFound {
            coordinate: a.coordinate.to_string(),
            chain: a.chain.clone(),
            tried: self.repositories(),
        })?;
        Ok(Fetched {
            artifact: a.clone(),
            path,
            sha256,
            repository,
        })
    }

    /// The jars of a resolution, `PARALLEL` at a time, in the order given.
    pub fn download(&self, artifacts: &[Artifact]) -> Result<Vec<Fetched>, MavenError> {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<Fetched, MavenError>>>> =
            Mutex::new(artifacts.iter().map(|_| None).collect());
        std::thread::scope(|s| {
            for _ in 0..PARALLEL.min(artifacts.len()) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(a) = artifacts.get(i) else { break };
                    let r = self.fetch_one(a);
                    let failed = r.is_err();
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                    if failed {
                        next.store(artifacts.len(), Ordering::SeqCst);
                    }
                });
            }
        });
        let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::with_capacity(artifacts.len());
        // Unstarted ones (after a failure) are `None`; the failure is returned.
        for r in results.into_iter().flatten() {
            out.push(r?);
        }
        Ok(out)
    }
}

/// Pure: whether a repository's failure means it cannot answer at all (nothing
/// listens, or it kept failing through the retries), as opposed to a local one (disk,
/// client setup) that another repository won't fix.
fn unreachable(e: &DownloadError) -> bool {
    matches!(
        e,
        DownloadError::Unreachable { .. } | DownloadError::Transient { .. }
    )
}

impl PomSource for Remote {
    fn pom(&self, c: &Coordinate) -> Result<Option<String>, SourceError> {
        let got = self.get(&file_path(c, "pom"))?;
        Ok(got.map(|(b, _, _)| String::from_utf8_lossy(&b).into_owned()))
    }

    fn versions(&self, m: &ModuleId) -> Result<Vec<String>, SourceError> {
        let rel = format!(
            "{}/{}/maven-metadata.xml",
            m.group.replace('.', "/"),
            m.artifact
        );
        let Some((bytes, _, repo)) = self.get(&rel)? else {
            return Ok(Vec::new());
        };
        metadata_versions(&String::from_utf8_lossy(&bytes)).map_err(|reason| {
            Box::new(MavenError::Pom {
                coordinate: format!("{repo}{rel}"),
                reason,
            }) as SourceError
        })
    }

    fn has_jar(&self, c: &Coordinate) -> Result<bool, SourceError> {
        Ok(self.jar(&file_path(c, "jar"))?.is_some())
    }

    fn repositories(&self) -> Vec<String> {
        let down = self.down.lock().unwrap_or_else(|p| p.into_inner());
        self.repos
            .iter()
            .map(|r| match down.get(&r.name) {
                None => format!("{} ({})", r.name, r.url),
                Some(said) => format!(
                    "{} ({}, from {}): could not be reached: {said}",
                    r.name, r.url, r.origin
                ),
            })
            .collect()
    }
}
