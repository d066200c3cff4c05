//! HTTP effects: small text files and resumable, hash-while-streaming downloads.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc::SyncSender;
use std::time::SystemTime;

use sha2::{Digest, Sha512};

use super::error::FetchError;
use super::progress::{self, Progress};
use super::retry::{
    classify_status, parse_content_range, parse_retry_after, RetryPolicy, StatusAction,
};

/// SHA-512 of exactly the bytes currently in a partial file. Kept across attempts and
/// mirrors so resumed bytes are hashed once, never re-read.
pub(crate) struct HashState {
    hasher: Sha512,
    pub(crate) len: u64,
}

impl HashState {
    pub(crate) fn new() -> Self {
        HashState {
            hasher: Sha512::new(),
            len: 0,
        }
    }

    /// Hash what an earlier, interrupted run left behind (one sequential read).
    pub(crate) fn from_partial(path: &Path) -> Result<Self, FetchError> {
        let mut st = HashState::new();
        let mut f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(st),
            Err(e) => return Err(FetchError::io(format!("reading {}", path.display()), e)),
        };
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| FetchError::io(format!("reading {}", path.display()), e))?;
            if n == 0 {
                break;
            }
            st.update(&buf[..n]);
        }
        Ok(st)
    }

    fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
    }

    fn reset(&mut self) {
        *self = HashState::new();
    }

    pub(crate) fn hex(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
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

enum Attempt {
    Done,
    Retry {
        reason: String,
        retry_after: Option<std::time::Duration>,
    },
    Restart(String),
    Give(FetchError),
}

pub(crate) struct Http {
    agent: ureq::Agent,
    policy: RetryPolicy,
}

impl Http {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(policy.connect_timeout)
            // Per socket read: a stalled body fails after this, a slow steady one does not.
            .timeout_read(policy.read_timeout)
            .user_agent(concat!("sparkimg/", env!("CARGO_PKG_VERSION")))
            .build();
        Http { agent, policy }
    }

    fn status_error(url: &str, code: u16) -> FetchError {
        match code {
            404 | 410 => FetchError::NotFound {
                url: url.to_string(),
                status: code,
            },
            _ => FetchError::Http {
                url: url.to_string(),
                status: code,
            },
        }
    }

    /// GET a small text file (checksums, keys). `Ok(None)` when the server says it does
    /// not have it.
    pub(crate) fn get_text(&self, url: &str, limit: u64) -> Result<Option<String>, FetchError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (reason, retry_after) = match self.agent.get(url).call() {
                Ok(resp) => {
                    let mut text = String::new();
                    match resp.into_reader().take(limit).read_to_string(&mut text) {
                        Ok(_) => return Ok(Some(text)),
                        Err(e) => (e.to_string(), None),
                    }
                }
                Err(ureq::Error::Status(code, resp)) => match classify_status(code) {
                    StatusAction::Retry => (
                        format!("HTTP {code}"),
                        resp.header("Retry-After")
                            .and_then(|v| parse_retry_after(v, SystemTime::now())),
                    ),
                    _ if code == 404 || code == 410 => return Ok(None),
                    _ => return Err(Self::status_error(url, code)),
                },
                Err(ureq::Error::Transport(t)) => (t.to_string(), None),
            };
            if attempt >= self.policy.max_attempts.max(1) {
                return Err(FetchError::Transient {
                    url: url.to_string(),
                    attempts: attempt,
                    last: reason,
                });
            }
            let delay = self.policy.delay(attempt, retry_after);
            progress::note(&format!("{url}: {reason}; retrying in {delay:?}"));
            std::thread::sleep(delay);
        }
    }

    /// Whether the server has `url` (a HEAD); `None` when it cannot tell.
    pub(crate) fn exists(&self, url: &str) -> Option<bool> {
        match self.agent.head(url).call() {
            Ok(_) => Some(true),
            Err(ureq::Error::Status(404 | 410, _)) => Some(false),
            Err(_) => None,
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
    ) -> Result<(), FetchError> {
        let ctx = |e| FetchError::io(format!("writing {}", partial.display()), e);
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

        let mut attempt = 0;
        loop {
            attempt += 1;
            let (reason, retry_after, sleep) = match self.attempt(url, &mut file, st, prog, tee) {
                Attempt::Done => return Ok(()),
                Attempt::Give(e) => return Err(e),
                Attempt::Restart(why) => {
                    file.set_len(0).map_err(ctx)?;
                    file.seek(SeekFrom::Start(0)).map_err(ctx)?;
                    st.reset();
                    tee.restart();
                    (why, None, false)
                }
                Attempt::Retry {
                    reason,
                    retry_after,
                } => (reason, retry_after, true),
            };
            if attempt >= self.policy.max_attempts.max(1) {
                return Err(FetchError::Transient {
                    url: url.to_string(),
                    attempts: attempt,
                    last: reason,
                });
            }
            let delay = if sleep {
                self.policy.delay(attempt, retry_after)
            } else {
                std::time::Duration::ZERO
            };
            prog.suspend(|| {
                progress::note(&format!(
                    "{url}: {reason}; retrying in {delay:?} from byte {}",
                    st.len
                ))
            });
            std::thread::sleep(delay);
        }
    }

    fn attempt(
        &self,
        url: &str,
        file: &mut File,
        st: &mut HashState,
        prog: &mut Progress,
        tee: &mut Tee,
    ) -> Attempt {
        let offset = st.len;
        let mut req = self.agent.get(url);
        if offset > 0 {
            req = req.set("Range", &format!("bytes={offset}-"));
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(code, resp)) => {
                return match classify_status(code) {
                    StatusAction::Retry => Attempt::Retry {
                        reason: format!("HTTP {code}"),
                        retry_after: resp
                            .header("Retry-After")
                            .and_then(|v| parse_retry_after(v, SystemTime::now())),
                    },
                    StatusAction::Restart => {
                        Attempt::Restart(format!("HTTP {code} for a resumed range"))
                    }
                    _ => Attempt::Give(Self::status_error(url, code)),
                };
            }
            Err(ureq::Error::Transport(t)) => {
                return Attempt::Retry {
                    reason: t.to_string(),
                    retry_after: None,
                }
            }
        };

        let total = if resp.status() == 206 {
            match resp.header("Content-Range").and_then(parse_content_range) {
                Some((start, total)) if start == offset => total,
                _ => return Attempt::Restart("unexpected Content-Range".into()),
            }
        } else {
            if offset > 0 {
                // The server ignored Range and is sending the whole file: start over.
                prog.suspend(|| {
                    progress::note(&format!(
                        "{url}: server ignored the Range request; restarting from zero"
                    ))
                });
                let reset = file.set_len(0).and_then(|_| file.seek(SeekFrom::Start(0)));
                if let Err(e) = reset {
                    return Attempt::Give(FetchError::io("truncating a partial download", e));
                }
                st.reset();
                tee.restart();
            }
            resp.header("Content-Length")
                .and_then(|v| v.trim().parse().ok())
        };
        prog.begin(st.len, total);

        let mut body = resp.into_reader();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Attempt::Retry {
                        reason: format!("transfer interrupted: {e}"),
                        retry_after: None,
                    }
                }
            };
            if let Err(e) = file.write_all(&buf[..n]) {
                return Attempt::Give(FetchError::io("writing a partial download", e));
            }
            st.update(&buf[..n]);
            tee.send(&buf[..n]);
            prog.set(st.len);
        }
        match total {
            Some(t) if st.len < t => Attempt::Retry {
                reason: format!("connection closed at byte {} of {t}", st.len),
                retry_after: None,
            },
            Some(t) if st.len > t => Attempt::Restart(format!("got {} bytes of {t}", st.len)),
            _ => Attempt::Done,
        }
    }
}
