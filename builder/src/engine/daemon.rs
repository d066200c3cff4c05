//! Effects: a Docker Engine through bollard, behind a blocking facade.
//!
//! Each [`Daemon`] owns a current-thread tokio runtime: the rest of sparkimg is
//! synchronous, and one command talks to one daemon at a time. Bodies that are produced
//! by synchronous code (the build context tar, the `docker load` archive) are written on
//! a plain thread into a bounded channel that becomes the request body, so nothing is
//! staged on disk and memory stays at a few chunks.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::time::Duration;

use bollard::auth::DockerCredentials;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CommitContainerOptionsBuilder, CreateImageOptionsBuilder,
    DownloadFromContainerOptionsBuilder, ImportImageOptionsBuilder, LogsOptionsBuilder,
    PushImageOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
};
use bollard::{Docker, API_DEFAULT_VERSION};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::discovery::{Endpoint, Found};
use super::error::EngineError;
use crate::oci::reference;

/// Registry credentials for a push through the daemon, as the registry client resolved
/// them (the daemon gets them per request; bollard's type stays in this module).
#[derive(Debug, Clone)]
pub struct PushCredentials {
    pub server: String,
    pub auth: PushAuth,
}

#[derive(Debug, Clone)]
pub enum PushAuth {
    Basic { username: String, password: String },
    IdentityToken(String),
}

impl From<PushCredentials> for DockerCredentials {
    fn from(c: PushCredentials) -> DockerCredentials {
        let mut d = DockerCredentials {
            serveraddress: Some(c.server),
            ..Default::default()
        };
        match c.auth {
            PushAuth::Basic { username, password } => {
                d.username = Some(username);
                d.password = Some(password);
            }
            PushAuth::IdentityToken(t) => d.identitytoken = Some(t),
        }
        d
    }
}

/// Long requests (a build, a load) stream for minutes; the connection attempt itself is
/// bounded separately in [`Daemon::connect`].
const REQUEST_TIMEOUT_SECS: u64 = 3600;
const CHUNK: usize = 256 * 1024;

/// A `Write` whose bytes become an HTTP request body on the runtime's side.
pub struct BodyWriter {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
}

impl BodyWriter {
    fn flush_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the daemon stopped reading"))
    }
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush_buf()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()
    }
}

type Producer = Box<dyn FnOnce(&mut BodyWriter) -> Result<(), EngineError> + Send>;

/// [`EngineError::daemon`], saying so when the connection itself broke mid-request
/// (the daemon restarted or stopped), which bollard reports only as a client error.
fn lost_or(what: &'static str) -> impl FnOnce(bollard::errors::Error) -> EngineError {
    move |e| match e {
        bollard::errors::Error::HyperLegacyError { .. }
        | bollard::errors::Error::IOError { .. } => EngineError::Daemon {
            what: what.into(),
            detail: format!(
                "the connection to the daemon was lost ({e}); was it restarted or stopped? \
                     Nothing was loaded; run the build again"
            ),
        },
        e => EngineError::daemon(what)(e),
    }
}

/// Start `produce` on a thread; returns the body stream and the thread's handle.
fn spawn_body(
    produce: Producer,
) -> (
    impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static,
    std::thread::JoinHandle<Result<(), EngineError>>,
) {
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, io::Error>>(8);
    let handle = std::thread::spawn(move || {
        let mut w = BodyWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let r = produce(&mut w).and_then(|()| {
            w.flush().map_err(|source| EngineError::Io {
                path: "request body".into(),
                source,
            })
        });
        if let Err(e) = &r {
            // Fail the request rather than let the daemon take a truncated body as whole.
            let _ = tx.blocking_send(Err(io::Error::other(e.to_string())));
        }
        r
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    (stream, handle)
}

/// What `docker image inspect` says about an image.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    pub id: String,
    pub repo_digests: Vec<String>,
    pub size: u64,
    pub os: String,
    pub arch: String,
    pub env: Vec<String>,
    /// The whole `Config` object (Env, Labels, Entrypoint, …) as the API gives it.
    pub config: serde_json::Value,
}

/// What an image has at a path, as the archive API gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImagePath {
    File(Vec<u8>),
    Link(String),
    Other,
}

/// Larger answers are refused: only small files (passwd, a zoneinfo file) are read.
const PEEK_LIMIT: usize = 16 << 20;

/// A `Read` over the chunks of a stream that arrive on a channel (see [`Daemon::export`]).
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<Bytes>,
    chunk: Bytes,
}

impl io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.recv() {
                Ok(c) => self.chunk = c,
                // The sender is gone: the end of the stream.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

/// An image's files, read through a container that is created and never started (the
/// archive API): nothing runs in the image, so it needs no shell.
pub struct Peek<'a> {
    daemon: &'a Daemon,
    id: String,
}

impl Peek<'_> {
    /// The file or link at absolute `path`; `None` when the image has nothing there.
    pub fn read(&self, path: &str) -> Result<Option<ImagePath>, EngineError> {
        let what = || format!("read {path} of an image");
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let tar = self.daemon.rt.block_on(async {
            let mut s = self
                .daemon
                .docker
                .download_from_container(&self.id, Some(opts));
            let mut buf = Vec::new();
            while let Some(chunk) = s.next().await {
                match chunk {
                    Ok(c) if buf.len() + c.len() <= PEEK_LIMIT => buf.extend_from_slice(&c),
                    Ok(_) => {
                        return Err(EngineError::Daemon {
                            what: what(),
                            detail: format!("more than {PEEK_LIMIT} bytes"),
                        })
                    }
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => return Ok(None),
                    Err(e) => return Err(EngineError::daemon(what())(e)),
                }
            }
            Ok(Some(buf))
        })?;
        let Some(tar) = tar else { return Ok(None) };
        let io = |source| EngineError::Io {
            path: path.into(),
            source,
        };
        let mut archive = tar::Archive::new(&tar[..]);
        let Some(entry) = archive.entries().map_err(io)?.next() else {
            return Ok(Some(ImagePath::Other));
        };
        let mut entry = entry.map_err(io)?;
        Ok(Some(match entry.header().entry_type() {
            tar::EntryType::Regular => {
                let mut v = Vec::new();
                io::Read::read_to_end(&mut entry, &mut v).map_err(io)?;
                ImagePath::File(v)
            }
            tar::EntryType::Symlink => ImagePath::Link(
                entry
                    .link_name()
                    .map_err(io)?
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            _ => ImagePath::Other,
        }))
    }
}

impl Drop for Peek<'_> {
    fn drop(&mut self) {
        self.daemon.remove_container(&self.id);
    }
}

pub struct Daemon {
    rt: tokio::runtime::Runtime,
    docker: Docker,
    pub found: Found,
    /// The API version negotiated with the daemon (e.g. 1.41).
    pub api_version: String,
}

impl Daemon {
    /// Connect, ping (within `timeout`) and negotiate the API version.
    pub fn connect(found: Found, timeout: Duration) -> Result<Daemon, EngineError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| EngineError::Io {
                path: "tokio runtime".into(),
                source,
            })?;
        let unreachable = |detail: String| EngineError::Unreachable {
            endpoint: found.endpoint.to_string(),
            source_desc: found.source.clone(),
            detail,
        };
        let docker = match &found.endpoint {
            Endpoint::Unix(p) => Docker::connect_with_unix(
                &p.to_string_lossy(),
                REQUEST_TIMEOUT_SECS,
                API_DEFAULT_VERSION,
            ),
            Endpoint::Tcp(a) => Docker::connect_with_http(
                &format!("tcp://{a}"),
                REQUEST_TIMEOUT_SECS,
                API_DEFAULT_VERSION,
            ),
        }
        .map_err(|e| unreachable(e.to_string()))?;
        let docker = rt.block_on(async {
            match tokio::time::timeout(timeout, docker.ping()).await {
                Err(_) => Err(unreachable(format!("no answer within {timeout:?}"))),
                Ok(Err(e)) => Err(unreachable(e.to_string())),
                Ok(Ok(_)) => docker
                    .negotiate_version()
                    .await
                    .map_err(|e| unreachable(format!("version negotiation: {e}"))),
            }
        })?;
        let v = docker.client_version();
        let api_version = format!("{}.{}", v.major_version, v.minor_version);
        Ok(Daemon {
            rt,
            docker,
            found,
            api_version,
        })
    }

    pub fn inspect(&self, image: &str) -> Result<Option<ImageInfo>, EngineError> {
        match self.rt.block_on(self.docker.inspect_image(image)) {
            Ok(i) => {
                let cfg = i.config.unwrap_or_default();
                Ok(Some(ImageInfo {
                    id: i.id.unwrap_or_default(),
                    repo_digests: i.repo_digests.unwrap_or_default(),
                    size: i.size.unwrap_or(0).max(0) as u64,
                    os: i.os.unwrap_or_default(),
                    arch: i.architecture.unwrap_or_default(),
                    config: serde_json::to_value(&cfg).unwrap_or_default(),
                    env: cfg.env.unwrap_or_default(),
                }))
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(EngineError::daemon(format!("inspect {image}"))(e)),
        }
    }

    /// A container of `image` that is never started: a create needs a command all the
    /// same, and `entrypoint` is what the committed image keeps when it has none.
    fn create_idle(&self, image: &str, entrypoint: Vec<String>) -> Result<String, EngineError> {
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            entrypoint: Some(entrypoint),
            network_disabled: Some(true),
            ..Default::default()
        };
        self.rt
            .block_on(self.docker.create_container(None, body))
            .map(|c| c.id)
            .map_err(EngineError::daemon(format!(
                "create a container of {image}"
            )))
    }

    fn remove_container(&self, id: &str) {
        let opts = RemoveContainerOptionsBuilder::default().force(true).build();
        let _ = self
            .rt
            .block_on(self.docker.remove_container(id, Some(opts)));
    }

    /// `docker pull REF` (anonymous), for a base the build would otherwise pull itself.
    pub fn pull(&self, reference: &str) -> Result<(), EngineError> {
        let opts = match reference.contains('@') {
            true => CreateImageOptionsBuilder::default().from_image(reference),
            false => {
                let (name, tag) = split_tag(reference);
                CreateImageOptionsBuilder::default()
                    .from_image(name)
                    .tag(tag)
            }
        }
        .build();
        self.rt.block_on(async {
            let mut s = self.docker.create_image(Some(opts), None, None);
            while let Some(item) = s.next().await {
                item.map_err(EngineError::daemon(format!("pull {reference}")))?;
            }
            Ok(())
        })
    }

    /// Read files of `image` (see [`Peek`]); the container goes when the `Peek` does.
    pub fn peek(&self, image: &str) -> Result<Peek<'_>, EngineError> {
        let id = self.create_idle(image, vec!["/nonexistent".into()])?;
        Ok(Peek { daemon: self, id })
    }

    /// `docker export` of a never-started container of `image`: its merged file system
    /// as a tar stream, given to `consume` (on another thread) as it arrives, so no
    /// image is staged on disk or in memory. Returns what `consume` returns.
    pub fn export<T: Send>(
        &self,
        image: &str,
        consume: impl FnOnce(&mut dyn io::Read) -> Result<T, EngineError> + Send,
    ) -> Result<T, EngineError> {
        let id = self.create_idle(image, vec!["/nonexistent".into()])?;
        let what = format!("export the file system of {image}");
        let (tx, rx) = std::sync::mpsc::sync_channel::<Bytes>(8);
        let result = std::thread::scope(|s| {
            let reader = s.spawn(move || {
                let mut r = ChannelReader {
                    rx,
                    chunk: Bytes::new(),
                };
                let out = consume(&mut r);
                // Drain, so the sending side never waits on a reader that stopped early.
                while r.rx.recv().is_ok() {}
                out
            });
            let streamed = self.rt.block_on(async {
                let mut stream = self.docker.export_container(&id);
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(EngineError::daemon(what.clone()))?;
                    // The reader drains until the end: a send fails only if it panicked.
                    if tx.send(chunk).is_err() {
                        break;
                    }
                }
                Ok::<_, EngineError>(())
            });
            drop(tx);
            let consumed = reader.join().unwrap_or_else(|_| {
                Err(EngineError::Daemon {
                    what: what.clone(),
                    detail: "the reader of the stream panicked".into(),
                })
            });
            // A broken stream explains a reader's failure best.
            streamed.and(consumed)
        });
        self.remove_container(&id);
        result
    }

    /// `image` with its config replaced by `config` (the `Config` object: Env, Labels,
    /// Entrypoint, …), in one commit of a never-started container, tagged `reference`:
    /// one step where a Dockerfile's ENV, LABEL, WORKDIR, ENTRYPOINT and USER are five
    /// commits on the classic builder. The files are unchanged, so no layer is added.
    /// Returns the new image's ID.
    pub fn commit_config(
        &self,
        image: &str,
        reference: &str,
        config: serde_json::Value,
        comment: &str,
    ) -> Result<String, EngineError> {
        let what = || format!("set the config of {reference}");
        let body: bollard::models::ContainerConfig =
            serde_json::from_value(config).map_err(|e| EngineError::Daemon {
                what: what(),
                detail: format!("not a container config: {e}"),
            })?;
        let entrypoint = body.entrypoint.clone().unwrap_or_default();
        let id = self.create_idle(image, entrypoint)?;
        let (repo, tag) = split_tag(reference);
        let opts = CommitContainerOptionsBuilder::default()
            .container(&id)
            .repo(repo)
            .tag(tag)
            .comment(comment)
            .pause(false)
            .build();
        let committed = self.rt.block_on(self.docker.commit_container(opts, body));
        self.remove_container(&id);
        committed.map(|r| r.id).map_err(EngineError::daemon(what()))
    }

    /// `docker build`: stream the context from `context`, show the log through `log`,
    /// return the image ID.
    pub fn build(
        &self,
        context: Producer,
        tag: &str,
        build_args: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
        no_cache: bool,
        log: &mut dyn FnMut(&str),
    ) -> Result<String, EngineError> {
        let args: HashMap<String, String> = build_args.clone().into_iter().collect();
        let labels: HashMap<String, String> = labels.clone().into_iter().collect();
        let mut opts = BuildImageOptionsBuilder::default()
            .dockerfile("Dockerfile")
            .t(tag)
            .buildargs(&args)
            .nocache(no_cache)
            .rm(true)
            .forcerm(true);
        // None at all without labels: the same request as before packages existed.
        if !labels.is_empty() {
            opts = opts.labels(&labels);
        }
        let opts = opts.build();
        let (body, producer) = spawn_body(context);
        let result = self.rt.block_on(async {
            let mut stream =
                self.docker
                    .build_image(opts, None, Some(bollard::body_try_stream(body)));
            let mut id = None;
            let mut last = String::new();
            while let Some(item) = stream.next().await {
                let info = item.map_err(|e| EngineError::Daemon {
                    what: format!("build {tag}"),
                    detail: e.to_string(),
                })?;
                if let Some(s) = &info.stream {
                    for line in s.lines().filter(|l| !l.trim().is_empty()) {
                        log(line);
                        last = line.to_string();
                    }
                }
                if let Some(s) = &info.status {
                    log(s);
                }
                if let Some(aux) = &info.aux {
                    id = aux.id.clone().or(id);
                }
            }
            // The classic builder reports the ID in `aux` (API ≥ 1.30); older ones only
            // print "Successfully built <short id>", resolved through the tag below.
            let _ = last;
            Ok::<_, EngineError>(id)
        });
        let produced = producer.join().unwrap_or_else(|_| {
            Err(EngineError::Io {
                path: "build context".into(),
                source: io::Error::other("context writer panicked"),
            })
        });
        // A context that could not be written explains a failed request best.
        produced?;
        let id = result?;
        match id {
            Some(id) => Ok(id),
            None => self
                .inspect(tag)?
                .map(|i| i.id)
                .ok_or_else(|| EngineError::Daemon {
                    what: format!("build {tag}"),
                    detail: "the build finished without an image".into(),
                }),
        }
    }

    /// `docker load` of the archive `archive` writes, streamed.
    pub fn load(&self, archive: Producer, log: &mut dyn FnMut(&str)) -> Result<(), EngineError> {
        let (body, producer) = spawn_body(archive);
        let result = self.rt.block_on(async {
            let mut stream = self.docker.import_image_stream(
                ImportImageOptionsBuilder::default().quiet(true).build(),
                body,
                None,
            );
            while let Some(item) = stream.next().await {
                let info = item.map_err(lost_or("load"))?;
                if let Some(s) = info.stream.as_deref().or(info.status.as_deref()) {
                    for line in s.lines().filter(|l| !l.trim().is_empty()) {
                        log(line);
                    }
                }
            }
            Ok::<_, EngineError>(())
        });
        let produced = producer.join().unwrap_or_else(|_| {
            Err(EngineError::Io {
                path: "image archive".into(),
                source: io::Error::other("archive writer panicked"),
            })
        });
        // The daemon's side first: when it went away the writer only saw a broken pipe.
        match (result, produced) {
            (Err(e), _) => Err(e),
            (Ok(()), Err(EngineError::Io { source, .. }))
                if source.kind() == io::ErrorKind::BrokenPipe =>
            {
                Err(EngineError::Daemon {
                    what: "load".into(),
                    detail: "the daemon closed the connection before it had the whole image \
                             (was it restarted or stopped?)"
                        .into(),
                })
            }
            (Ok(()), produced) => produced,
        }
    }

    /// `docker import` of a root filesystem tar (a base image for tests and fixtures).
    pub fn import_rootfs(
        &self,
        rootfs: std::path::PathBuf,
        repo: &str,
        tag: &str,
        changes: Vec<String>,
    ) -> Result<(), EngineError> {
        let producer: Producer = Box::new(move |w| {
            let mut f = std::fs::File::open(&rootfs).map_err(|source| EngineError::Io {
                path: rootfs.clone(),
                source,
            })?;
            io::copy(&mut f, w).map_err(|source| EngineError::Io {
                path: rootfs.clone(),
                source,
            })?;
            Ok(())
        });
        let (body, handle) = spawn_body(producer);
        let opts = CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(repo)
            .tag(tag)
            .changes(changes)
            .build();
        let result = self.rt.block_on(async {
            let mut s =
                self.docker
                    .create_image(Some(opts), Some(bollard::body_try_stream(body)), None);
            while let Some(item) = s.next().await {
                item.map_err(EngineError::daemon(format!("import {repo}:{tag}")))?;
            }
            Ok::<_, EngineError>(())
        });
        handle.join().unwrap_or(Ok(()))?;
        result
    }

    /// `docker push REF` (by tag); returns the manifest digest the daemon reports.
    pub fn push(
        &self,
        reference: &str,
        credentials: Option<PushCredentials>,
        log: &mut dyn FnMut(&str),
    ) -> Result<Option<String>, EngineError> {
        let credentials = credentials.map(DockerCredentials::from);
        let (name, tag) = split_tag(reference);
        let opts = PushImageOptionsBuilder::default().tag(tag).build();
        self.rt.block_on(async {
            let mut stream = self.docker.push_image(name, Some(opts), credentials);
            let mut digest = None;
            while let Some(item) = stream.next().await {
                let info = item.map_err(EngineError::daemon(format!("push {reference}")))?;
                if let Some(s) = &info.status {
                    // Per-layer progress is noise in a log; keep the layer state changes.
                    if info.progress_detail.is_none() || !s.starts_with("Pushing") {
                        log(s);
                    }
                    if let Some(d) = digest_from_push_status(s) {
                        digest = Some(d);
                    }
                }
            }
            Ok(digest)
        })
    }

    /// Run `sh -c SCRIPT` in a throwaway container of `image` as root; its stdout.
    pub fn run_sh(&self, image: &str, script: &str) -> Result<String, EngineError> {
        self.rt.block_on(async {
            let body = ContainerCreateBody {
                image: Some(image.to_string()),
                entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
                cmd: Some(vec![script.to_string()]),
                user: Some("0".into()),
                network_disabled: Some(true),
                ..Default::default()
            };
            let c = self
                .docker
                .create_container(None, body)
                .await
                .map_err(EngineError::daemon(format!(
                    "create a container of {image}"
                )))?;
            let out = async {
                self.docker
                    .start_container(&c.id, None)
                    .await
                    .map_err(EngineError::daemon("start container"))?;
                let mut wait = self.docker.wait_container(&c.id, None);
                while let Some(w) = wait.next().await {
                    // A non-zero exit arrives as an error; the output still tells.
                    if w.is_err() {
                        break;
                    }
                }
                let mut logs = self.docker.logs(
                    &c.id,
                    Some(LogsOptionsBuilder::default().stdout(true).build()),
                );
                let mut out = String::new();
                while let Some(l) = logs.next().await {
                    let l = l.map_err(EngineError::daemon("container logs"))?;
                    out.push_str(&String::from_utf8_lossy(&l.into_bytes()));
                }
                Ok::<_, EngineError>(out)
            }
            .await;
            let _ = self
                .docker
                .remove_container(
                    &c.id,
                    Some(RemoveContainerOptionsBuilder::default().force(true).build()),
                )
                .await;
            out
        })
    }

    pub fn remove_image(&self, image: &str) -> Result<(), EngineError> {
        self.rt
            .block_on(self.docker.remove_image(
                image,
                Some(RemoveImageOptionsBuilder::default().force(true).build()),
                None,
            ))
            .map(|_| ())
            .map_err(EngineError::daemon(format!("remove {image}")))
    }
}

/// Pure: `host:5000/x/spark:3.5` → (`host:5000/x/spark`, `3.5`); no tag → `latest`.
pub fn split_tag(reference: &str) -> (&str, &str) {
    let (name, tag) = reference::split_tag(reference::without_digest(reference));
    (name, tag.unwrap_or("latest"))
}

/// Pure: "3.5.9: digest: sha256:… size: 1234" → the digest.
pub fn digest_from_push_status(s: &str) -> Option<String> {
    let rest = s.split("digest: ").nth(1)?;
    let d = rest.split_whitespace().next()?;
    d.starts_with("sha256:").then(|| d.to_string())
}

/// Pure: the shell probe for a Java home when the base's config has no JAVA_HOME; the
/// same candidates, in the same order, as the daemonless path's base scan.
/// Symlinked JDK directories (Debian's `java-1.17.0-openjdk-amd64`) are skipped there too.
pub const JAVA_HOME_PROBE: &str = "if [ -x /opt/java/openjdk/bin/java ]; then \
     echo /opt/java/openjdk; exit 0; fi; for d in /usr/lib/jvm/*; do \
     if [ ! -L \"$d\" ] && [ -x \"$d/bin/java\" ]; then echo \"$d\"; exit 0; fi; done; exit 1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_digests() {
        assert_eq!(
            split_tag("127.0.0.1:5000/x/spark:3.5.9"),
            ("127.0.0.1:5000/x/spark", "3.5.9")
        );
        assert_eq!(
            split_tag("127.0.0.1:5000/x/spark"),
            ("127.0.0.1:5000/x/spark", "latest")
        );
        assert_eq!(split_tag("spark"), ("spark", "latest"));
        assert_eq!(
            digest_from_push_status("3.5.9: digest: sha256:abc size: 1234"),
            Some("sha256:abc".into())
        );
        assert_eq!(digest_from_push_status("Pushed"), None);
    }
}
