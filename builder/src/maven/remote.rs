//! Effects: the repositories as a [`PomSource`], and the jars of a resolution.
//!
//! Every file (POM, `maven-metadata.xml`, jar) is checked against the strongest
//! checksum its repository offers (`.sha512`, `.sha256`, `.sha1`) before use; a
//! missing checksum is refused unless `--insecure-skip-verify`. Verified files are
//! kept content-addressed under `<cache>/maven/sha256/<hex>`, with an index
//! `<cache>/maven/index/<repository path>` (`<sha256> <repository URL>`), so a second
//! build resolves and downloads nothing: it reads the index. Requests go through
//! `fetch::download`'s client and the one retry policy; jars are fetched in parallel.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::coordinate::{Coordinate, ModuleId};
use super::resolve::Artifact;
use super::settings::Repository;
use super::{MavenError, PomSource, SourceError};
use crate::fetch::download::Http;
use crate::fetch::progress;
use crate::http::RetryPolicy;

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
    insecure_skip_verify: bool,
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

/// Strongest first.
const CHECKSUMS: &[(&str, &str, Hasher)] = &[
    ("sha512", "SHA-512", |b| hex::encode(Sha512::digest(b))),
    ("sha256", "SHA-256", |b| hex::encode(Sha256::digest(b))),
    ("sha1", "SHA-1", |b| hex::encode(Sha1::digest(b))),
];

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

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
            insecure_skip_verify,
        })
    }

    fn blob(&self, sha256: &str) -> PathBuf {
        self.dir.join("sha256").join(sha256)
    }

    /// A file of the index whose blob is still intact: `(bytes, sha256, repository)`.
    fn cached(&self, rel: &str) -> Option<(Vec<u8>, String, String)> {
        let entry = fs::read_to_string(self.dir.join("index").join(rel)).ok()?;
        let (sha, repo) = entry.trim_end().split_once(' ')?;
        let bytes = fs::read(self.blob(sha)).ok()?;
        // Stored only under its verified digest; re-hashing guards a damaged disk.
        (sha256_hex(&bytes) == sha).then(|| (bytes, sha.to_string(), repo.to_string()))
    }

    fn store(&self, rel: &str, bytes: &[u8], repo: &str) -> Result<String, MavenError> {
        let sha = sha256_hex(bytes);
        let blob = self.blob(&sha);
        if !blob.exists() {
            write_atomic(&blob, bytes)?;
        }
        write_atomic(
            &self.dir.join("index").join(rel),
            format!("{sha} {repo}\n").as_bytes(),
        )?;
        Ok(sha)
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
        let auth = repo
            .auth
            .as_ref()
            .map(|a| (a.user.as_str(), a.password.as_str()));
        let url = format!("{}{rel}", repo.url);
        Ok(self.http.get_bytes_as(&url, LIMIT, auth)?)
    }

    /// Checks `bytes` against the strongest checksum `repo` offers for `rel`.
    fn verify(&self, repo: &Repository, rel: &str, bytes: &[u8]) -> Result<(), MavenError> {
        for (ext, algorithm, hash) in CHECKSUMS {
            let Some(sum) = self.raw(repo, &format!("{rel}.{ext}"))? else {
                continue;
            };
            let text = String::from_utf8_lossy(&sum);
            let expected = text
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            let actual = hash(bytes);
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

    /// A verified file from the cache, else from the first repository that has it
    /// (then cached): `(bytes, sha256, repository)`.
    fn get(&self, rel: &str) -> Result<Option<(Vec<u8>, String, String)>, MavenError> {
        if let Some(hit) = self.cached(rel) {
            return Ok(Some(hit));
        }
        // As Ivy's chain: a repository that cannot be reached is passed over; its error
        // is the answer only when no later one has the file.
        let mut unreachable = None;
        for repo in &self.repos {
            let bytes = match self.raw(repo, rel) {
                Ok(Some(bytes)) => bytes,
                Ok(None) => continue,
                Err(e @ MavenError::Fetch(_)) => {
                    unreachable.get_or_insert(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            self.verify(repo, rel, &bytes)?;
            let sha = self.store(rel, &bytes, &repo.url)?;
            return Ok(Some((bytes, sha, repo.url.clone())));
        }
        unreachable.map_or(Ok(None), Err)
    }

    fn fetch_one(&self, a: &Artifact) -> Result<Fetched, MavenError> {
        let rel = a.repository_path();
        let (_, sha256, repository) = self.get(&rel)?.ok_or_else(|| MavenError::NotFound {
            coordinate: a.coordinate.to_string(),
            chain: a.chain.clone(),
            tried: self.repositories(),
        })?;
        Ok(Fetched {
            artifact: a.clone(),
            path: self.blob(&sha256),
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
        Ok(self.get(&file_path(c, "jar"))?.is_some())
    }

    fn repositories(&self) -> Vec<String> {
        self.repos
            .iter()
            .map(|r| format!("{} ({})", r.name, r.url))
            .collect()
    }
}
