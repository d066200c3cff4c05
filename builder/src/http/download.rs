//! HTTP effects: small text files and resumable, hash-while-streaming downloads, on the
//! shared client and retry policy of [`crate::http`].

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc::SyncSender;

use crate::digest::{Sha1, Sha256, Sha512};
use reqwest::blocking::{Client, Response};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};

use super::client::{self, classify_error, error_chain, retry_after, ClientConfig, TransferError};
use super::retry::{self, classify_status, parse_content_range, RetryPolicy};
use super::{ErrorClass, Failure, StatusAction, Stop};
use crate::progress::{self, Progress};

/// SHA-512 of exactly the bytes currently in a partial file. Kept across attempts and
/// mirrors so resumed bytes are hashed once, never re-read. With [`HashState::all`],
/// also SHA-256 and SHA-1: a Maven repository may offer only those, and its cache is
/// addressed by SHA-256.
pub(crate) struct HashState {
    hasher: Sha512,
    more: Option<(Sha256, Sha1)>,
    pub(crate) len: u64,
}

/// What a download can fail on. `fetch`, `apt` and `maven` wrap it in their own errors.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("{url}: not found (HTTP {status})")]
    NotFound { url: String, status: u16 },

    #[error("{url}: gave up after {attempts} attempt(s)")]
    Transient {
        url: String,
        attempts: u32,
        /// The last attempt's failure.
        #[source]
        last: TransferError,
    },

    #[error("{url}: HTTP {status}")]
    Http { url: String, status: u16 },

    /// Nothing answers there (the name does not resolve, the connection is refused):
    /// not retried, so a caller with another mirror or repository moves on at once.
    #[error("{url}: unreachable")]
    Unreachable {
        url: String,
        #[source]
        last: TransferError,
    },

    #[error(
        "no space left on the file system holding {}: the download needs {}, and its \
         extraction about as much again",
        .path.display(),
        .needed.map_or("more space".to_string(), |n| format!("{n} bytes ({})", indicatif::HumanBytes(n)))
    )]
    NoSpace {
        path: std::path::PathBuf,
        needed: Option<u64>,
    },

    #[error("HTTP client setup")]
    Client(#[from] super::ClientError),

    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl DownloadError {
    /// What to do about it, printed by `main` on its own line.
    pub fn hint(&self) -> Option<String> {
        match self {
            DownloadError::NoSpace { .. } => Some(
                "free space there, or pass --cache-dir DIR on a larger file system \
                 (`sparkimg cache prune` frees what the cache holds)"
                    .to_string(),
            ),
            _ => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        DownloadError::Io {
            context: context.into(),
            source,
        }
    }
}

impl HashState {
    pub(crate) fn new() -> Self {
        HashState {
            hasher: Sha512::new(),
            more: None,
            len: 0,
        }
    }

    /// SHA-512, SHA-256 and SHA-1 at once.
    pub(crate) fn all() -> Self {
        HashState {
            more: Some((Sha256::new(), Sha1::new())),
            ..HashState::new()
        }
    }

    /// Hash what an earlier, interrupted run left behind (one sequential read).
    pub(crate) fn from_partial(path: &Path) -> Result<Self, DownloadError> {
        HashState::new().resumed(path)
    }

    /// `self` fed with what the partial file at `path` holds (nothing when absent).
    pub(crate) fn resumed(mut self, path: &Path) -> Result<Self, DownloadError> {
        let mut f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(self),
            Err(e) => return Err(DownloadError::io(format!("reading {}", path.display()), e)),
        };
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| DownloadError::io(format!("reading {}", path.display()), e))?;
            if n == 0 {
                break;
            }
            self.update(&buf[..n]);
        }
        Ok(self)
    }

    fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        if let Some((sha256, sha1)) = &mut self.more {
            sha256.update(bytes);
            sha1.update(bytes);
        }
        self.len += bytes.len() as u64;
    }

    fn reset(&mut self) {
        *self = match self.more {
            Some(_) => HashState::all(),
            None => HashState::new(),
        };
    }

    /// SHA-512.
    pub(crate) fn hex(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// SHA-256, when made by [`HashState::all`].
    pub(crate) fn sha256_hex(&self) -> Option<String> {
        let (sha256, _) = self.more.as_ref()?;
        Some(hex::encode(sha256.clone().finalize()))
    }

    /// SHA-1, when made by [`HashState::all`].
    pub(crate) fn sha1_hex(&self) -> Option<String> {
        let (_, sha1) = self.more.as_ref()?;
        Some(hex::encode(sha1.clone().finalize()))
    }
}

/// A second consumer of the downloaded bytes (the streaming extractor), fed in order.
/// Once the byte stream it saw stops being the file's (a restart from zero), it is cut
/// off and marked broken, and the caller falls back to extracting the finished file.
#[derive(Default)]
pub(crate) struct Tee {
    tx: Option<SyncSender<Vec<u8>>>,
    broken: bool,
}

impl Tee {
    pub(crate) fn new(tx: SyncSender<Vec<u8>>) -> Tee {
        Tee {
            tx: Some(tx),
            broken: false,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        if let Some(tx) = &self.tx {
            // A receiver that hung up has finished (tar's end marker) or failed; either
            // way it needs no more bytes, and its own result says which.
            if tx.send(bytes.to_vec()).is_err() {
                self.tx = None;
            }
        }
    }

    fn restart(&mut self) {
        if self.tx.take().is_some() {
            self.broken = true;
        }
    }

    /// Ends the stream; whether what the consumer saw is the whole file.
    pub(crate) fn finish(&mut self) -> bool {
        self.tx = None;
        !self.broken
    }
}

/// How an attempt failed: a reason worth another try (it is logged), or the error that
/// makes the caller fail over to the next mirror.
type AttemptFailure = Failure<TransferError, DownloadError>;

/// One download in progress: the partial file and everything fed from its bytes.
struct Job<'a> {
    file: File,
    /// The partial file's path and the full size when the server said it, for a full
    /// file system's message.
    path: &'a Path,
    total: Option<u64>,
    st: &'a mut HashState,
    prog: &'a mut Progress,
    tee: &'a mut Tee,
}

impl Job<'_> {
    /// Drop the bytes received so far: they do not fit the server's copy.
    fn restart(&mut self) -> Result<(), DownloadError> {
        self.file
            .set_len(0)
            .and_then(|_| self.file.seek(SeekFrom::Start(0)))
            .map_err(|e| DownloadError::io("truncating a partial download", e))?;
        self.st.reset();
        self.tee.restart();
        Ok(())
    }

    /// [`Job::restart`], then another attempt at once.
    fn restart_now(&mut self, why: TransferError) -> Result<(), AttemptFailure> {
        self.restart().map_err(Failure::Fatal)?;
        Err(Failure::RetryNow(why))
    }

    /// Write, hash and pass on the body until it ends or breaks.
    fn copy_body(&mut self, mut body: Response) -> Result<(), AttemptFailure> {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::Retry(TransferError::Interrupted(e), None)),
            };
            self.file.write_all(&buf[..n]).map_err(|e| {
                Failure::Fatal(match e.raw_os_error() {
                    // ENOSPC: say where and how much; the bytes so far are of no use.
                    Some(28) => {
                        let _ = std::fs::remove_file(self.path);
                        DownloadError::NoSpace {
                            path: self.path.to_path_buf(),
                            needed: self.total,
                        }
                    }
                    _ => DownloadError::io("writing a partial download", e),
                })
            })?;
            self.st.update(&buf[..n]);
            self.tee.send(&buf[..n]);
            self.prog.set(self.st.len);
        }
    }
}

pub(crate) struct Http {
    client: Client,
    policy: RetryPolicy,
}

impl Http {
    pub(crate) fn new(policy: RetryPolicy) -> Result<Self, DownloadError> {
        let client = client::build(&ClientConfig {
            policy: &policy,
            ca_certs: &[],
            max_idle_per_host: 1,
        })?;
        Ok(Http { client, policy })
    }

    fn status_error(url: &str, code: u16) -> DownloadError {
        match code {
            404 | 410 => DownloadError::NotFound {
                url: url.to_string(),
                status: code,
            },
            _ => DownloadError::Http {
                url: url.to_string(),
                status: code,
            },
        }
    }

    /// A request that got no answer: retried unless the same request must fail the
    /// same way (a certificate the trust roots reject) or nothing listens there (an
    /// unknown name, a refused connection); those fail over at once.
    fn send_failed(url: &str, e: reqwest::Error, attempt: u32) -> AttemptFailure {
        let class = classify_error(&e);
        // The URL leads every fetch message already.
        let reason = TransferError::Request(e.without_url());
        match class {
            ErrorClass::Transient => Failure::Retry(reason, None),
            ErrorClass::Permanent => Failure::Fatal(DownloadError::Transient {
                url: url.to_string(),
                attempts: attempt,
                last: reason,
            }),
            ErrorClass::Unreachable => Failure::Fatal(DownloadError::Unreachable {
                url: url.to_string(),
                last: reason,
            }),
        }
    }

    fn gave_up(url: &str, stop: Stop<TransferError, DownloadError>) -> DownloadError {
        match stop {
            Stop::Fatal { error, .. } => error,
            Stop::Exhausted { last, attempts } => DownloadError::Transient {
                url: url.to_string(),
                attempts,
                last,
            },
        }
    }

    /// GET a small text file (checksums, keys). `Ok(None)` when the server says it does
    /// not have it.
    pub(crate) fn get_text(&self, url: &str, limit: u64) -> Result<Option<String>, DownloadError> {
        Ok(self
            .get_bytes(url, limit)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// GET a file of at most `limit` bytes into memory (apt indexes and packages, which
    /// the caller verifies). `Ok(None)` when the server says it does not have it.
    pub(crate) fn get_bytes(
        &self,
        url: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, DownloadError> {
        self.get_bytes_as(url, limit, None)
    }

    /// [`Http::get_bytes`] with Basic credentials `(user, password)` (Maven
    /// repositories); they go in a header, never in `url`, so no message shows them.
    pub(crate) fn get_bytes_as(
        &self,
        url: &str,
        limit: u64,
        auth: Option<(&str, &str)>,
    ) -> Result<Option<Vec<u8>>, DownloadError> {
        let attempt = |_: &mut (), attempt| {
            let mut req = self.client.get(url);
            if let Some((user, password)) = auth {
                req = req.basic_auth(user, Some(password));
            }
            let resp = req.send().map_err(|e| Self::send_failed(url, e, attempt))?;
            let code = resp.status().as_u16();
            match classify_status(code) {
                StatusAction::Proceed => {}
                StatusAction::Retry => {
                    let after = retry_after(resp.headers());
                    return Err(Failure::Retry(format!("HTTP {code}").into(), after));
                }
                _ if code == 404 || code == 410 => return Ok(None),
                _ => return Err(Failure::Fatal(Self::status_error(url, code))),
            }
            let mut body = Vec::new();
            resp.take(limit)
                .read_to_end(&mut body)
                .map_err(|e| Failure::Retry(TransferError::Interrupted(e), None))?;
            Ok(Some(body))
        };
        let waiting = |_: &mut (), reason: &TransferError, delay| {
            progress::note(&format!(
                "{url}: {}; retrying in {delay:?}",
                error_chain(reason)
            ))
        };
        retry::run(&self.policy, &mut (), attempt, waiting).map_err(|s| Self::gave_up(url, s))
    }

    /// Whether the server has `url` (a HEAD); `None` when it cannot tell.
    pub(crate) fn exists(&self, url: &str) -> Option<bool> {
        let resp = self.client.head(url).send().ok()?;
        match resp.status().as_u16() {
            404 | 410 => Some(false),
            code if code < 400 => Some(true),
            _ => None,
        }
    }

    /// Download `url` into `partial`, continuing after the bytes `st` already covers.
    /// Retries transient failures per the policy; returns an error (so the caller can fail
    /// over) on 404, on other client errors, or when retries are exhausted.
    pub(crate) fn download(
        &self,
        url: &str,
        partial: &Path,
        st: &mut HashState,
        prog: &mut Progress,
        tee: &mut Tee,
    ) -> Result<(), DownloadError> {
        self.download_as(url, None, partial, st, prog, tee)
    }

    /// [`Http::download`] with Basic credentials `(user, password)`, sent in a header as
    /// [`Http::get_bytes_as`] sends them.
    pub(crate) fn download_as(
        &self,
        url: &str,
        auth: Option<(&str, &str)>,
        partial: &Path,
        st: &mut HashState,
        prog: &mut Progress,
        tee: &mut Tee,
    ) -> Result<(), DownloadError> {
        let ctx = |e| DownloadError::io(format!("writing {}", partial.display()), e);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(partial)
            .map_err(ctx)?;
        // The file must hold exactly the hashed bytes; anything past that (a write that
        // raced a crash) is cut off.
        file.set_len(st.len).map_err(ctx)?;
        file.seek(SeekFrom::Start(st.len)).map_err(ctx)?;

        let mut job = Job {
            file,
            path: partial,
            total: None,
            st,
            prog,
            tee,
        };
        let waiting = |job: &mut Job, reason: &TransferError, delay| {
            let at = job.st.len;
            job.prog.suspend(|| {
                progress::note(&format!(
                    "{url}: {}; retrying in {delay:?} from byte {at}",
                    error_chain(reason)
                ))
            })
        };
        retry::run(
            &self.policy,
            &mut job,
            |job, attempt| self.attempt(url, auth, job, attempt),
            waiting,
        )
        .map_err(|s| Self::gave_up(url, s))
    }

    fn attempt(
        &self,
        url: &str,
        auth: Option<(&str, &str)>,
        job: &mut Job,
        attempt: u32,
    ) -> Result<(), AttemptFailure> {
        let offset = job.st.len;
        let mut req = self.client.get(url);
        if let Some((user, password)) = auth {
            req = req.basic_auth(user, Some(password));
        }
        if offset > 0 {
            req = req.header(RANGE, format!("bytes={offset}-"));
        }
        let resp = req.send().map_err(|e| Self::send_failed(url, e, attempt))?;
        let code = resp.status().as_u16();
        match classify_status(code) {
            StatusAction::Proceed => {}
            StatusAction::Retry => {
                let after = retry_after(resp.headers());
                return Err(Failure::Retry(format!("HTTP {code}").into(), after));
            }
            StatusAction::Restart => {
                return job.restart_now(format!("HTTP {code} for a resumed range").into())
            }
            StatusAction::Final => return Err(Failure::Fatal(Self::status_error(url, code))),
        }

        let header = |name| resp.headers().get(name).and_then(|v| v.to_str().ok());
        let total = if code == 206 {
            match header(CONTENT_RANGE).and_then(parse_content_range) {
                Some((start, total)) if start == offset => total,
                _ => return job.restart_now("unexpected Content-Range".into()),
            }
        } else {
            if offset > 0 {
                // The server ignored Range and is sending the whole file: start over.
                job.prog.suspend(|| {
                    progress::note(&format!(
                        "{url}: server ignored the Range request; restarting from zero"
                    ))
                });
                job.restart().map_err(Failure::Fatal)?;
            }
            header(CONTENT_LENGTH).and_then(|v| v.trim().parse().ok())
        };
        job.prog.begin(job.st.len, total);
        job.total = total;
        job.copy_body(resp)?;
        let len = job.st.len;
        match total {
            Some(t) if len < t => Err(Failure::Retry(
                format!("connection closed at byte {len} of {t}").into(),
                None,
            )),
            Some(t) if len > t => job.restart_now(format!("got {len} bytes of {t}").into()),
            _ => Ok(()),
        }
    }
}
