//! Which Docker Engine to talk to, decided as the docker CLI decides it:
//!
//! 1. `DOCKER_HOST` (`unix:///path`, `tcp://host:port`);
//! 2. the current context: `DOCKER_CONTEXT`, else `currentContext` in
//!    `$DOCKER_CONFIG/config.json` (default `~/.docker`), whose endpoint is in
//!    `contexts/meta/<sha256(name)>/meta.json` at `Endpoints.docker.Host`;
//!    the context `default` means the default socket;
//! 3. the default socket `/var/run/docker.sock`.
//!
//! Pure: [`parse_host`], [`context_meta_path`], [`context_host`], [`resolve`] (which takes
//! the environment and a file reader as inputs). Effects: [`discover`] reads the real ones.

use std::path::{Path, PathBuf};

use crate::digest::Sha256;
use serde_json::Value;

use super::error::EngineError;

pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    /// `host:port`, plain HTTP.
    Tcp(String),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

/// An endpoint and why it was chosen (for messages: "from DOCKER_HOST").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub endpoint: Endpoint,
    pub source: String,
}

/// Pure: parse a docker host string (`DOCKER_HOST`, a context's `Host`).
pub fn parse_host(host: &str) -> Result<Endpoint, EngineError> {
    let bad = |reason: &str| EngineError::Discovery(format!("docker host '{host}': {reason}"));
    if let Some(path) = host.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(bad(
                "a unix socket path must be absolute (unix:///run/docker.sock)",
            ));
        }
        return Ok(Endpoint::Unix(PathBuf::from(path)));
    }
    if let Some(rest) = host
        .strip_prefix("tcp://")
        .or_else(|| host.strip_prefix("http://"))
    {
        // The CLI accepts a trailing path (a base path for the API); we do not need one.
        let addr = rest.split('/').next().unwrap_or("");
        if addr.is_empty() {
            return Err(bad("no host name"));
        }
        // Without a port the CLI uses 2375 (plain) — TLS (2376) is not supported here.
        let has_port = match addr.rsplit_once(':') {
            Some((h, p)) => {
                !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with('[')
            }
            None => false,
        } && !addr.ends_with(']');
        let addr = if has_port {
            addr.to_string()
        } else {
            format!("{addr}:2375")
        };
        return Ok(Endpoint::Tcp(addr));
    }
    if host.starts_with("ssh://") || host.starts_with("npipe://") || host.starts_with("https://") {
        return Err(bad(
            "only unix:// and tcp:// (plain HTTP) daemons are supported; for ssh:// or TLS, \
             forward the socket (ssh -L /tmp/docker.sock:/var/run/docker.sock host) and set \
             DOCKER_HOST=unix:///tmp/docker.sock",
        ));
    }
    if host.starts_with('/') {
        return Ok(Endpoint::Unix(PathBuf::from(host)));
    }
    Err(bad("expected unix:///path or tcp://host:port"))
}

/// Pure: `<config_dir>/contexts/meta/<sha256 hex of the name>/meta.json`.
pub fn context_meta_path(config_dir: &Path, name: &str) -> PathBuf {
    let digest = hex::encode(Sha256::digest(name.as_bytes()));
    config_dir
        .join("contexts/meta")
        .join(digest)
        .join("meta.json")
}

/// Pure: `Endpoints.docker.Host` of a context's meta.json.
pub fn context_host(meta: &[u8]) -> Result<Option<String>, EngineError> {
    let v: Value = serde_json::from_slice(meta)
        .map_err(|e| EngineError::Discovery(format!("context meta.json: {e}")))?;
    Ok(v.pointer("/Endpoints/docker/Host")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from))
}

/// What discovery looks at.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub docker_host: Option<String>,
    pub docker_context: Option<String>,
    /// `$DOCKER_CONFIG`, else `~/.docker`.
    pub config_dir: Option<PathBuf>,
}

impl Inputs {
    pub fn from_env() -> Inputs {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Inputs {
            docker_host: var("DOCKER_HOST"),
            docker_context: var("DOCKER_CONTEXT"),
            config_dir: var("DOCKER_CONFIG")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|h| Path::new(&h).join(".docker"))),
        }
    }
}

/// Pure (given `read`): pick the endpoint.
pub fn resolve(
    inputs: &Inputs,
    read: impl Fn(&Path) -> Option<Vec<u8>>,
) -> Result<Found, EngineError> {
    if let Some(h) = &inputs.docker_host {
        return Ok(Found {
            endpoint: parse_host(h)?,
            source: "DOCKER_HOST".into(),
        });
    }
    let current = match &inputs.docker_context {
        Some(c) => Some((c.clone(), "DOCKER_CONTEXT")),
        None => inputs
            .config_dir
            .as_ref()
            .and_then(|d| read(&d.join("config.json")))
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| {
                v.get("currentContext")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
            })
            .map(|c| (c, "config.json currentContext")),
    };
    if let Some((name, why)) = current.filter(|(n, _)| n != "default") {
        let Some(dir) = &inputs.config_dir else {
            return Err(EngineError::Discovery(format!(
                "docker context '{name}' ({why}): no docker config directory (set HOME or \
                 DOCKER_CONFIG)"
            )));
        };
        let meta = context_meta_path(dir, &name);
        let bytes = read(&meta).ok_or_else(|| {
            EngineError::Discovery(format!(
                "docker context '{name}' ({why}) not found: no {}",
                meta.display()
            ))
        })?;
        let host = context_host(&bytes)?.ok_or_else(|| {
            EngineError::Discovery(format!(
                "docker context '{name}' has no Endpoints.docker.Host in {}",
                meta.display()
            ))
        })?;
        return Ok(Found {
            endpoint: parse_host(&host)?,
            source: format!("docker context '{name}'"),
        });
    }
    Ok(Found {
        endpoint: Endpoint::Unix(PathBuf::from(DEFAULT_SOCKET)),
        source: "the default socket".into(),
    })
}

/// Effects: discovery from the process environment and files.
pub fn discover() -> Result<Found, EngineError> {
    resolve(&Inputs::from_env(), |p| std::fs::read(p).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("unix:///var/run/docker.sock").unwrap(),
            Endpoint::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(
            parse_host("tcp://10.0.0.1:2375").unwrap(),
            Endpoint::Tcp("10.0.0.1:2375".into())
        );
        assert_eq!(
            parse_host("tcp://docker").unwrap(),
            Endpoint::Tcp("docker:2375".into())
        );
        assert_eq!(
            parse_host("tcp://[::1]").unwrap(),
            Endpoint::Tcp("[::1]:2375".into())
        );
        assert_eq!(
            parse_host("tcp://[::1]:23/").unwrap(),
            Endpoint::Tcp("[::1]:23".into())
        );
        assert!(parse_host("unix://relative.sock").is_err());
        assert!(parse_host("ssh://me@host")
            .unwrap_err()
            .to_string()
            .contains("ssh -L"));
        assert!(parse_host("bogus").is_err());
        assert!(parse_host("tcp://").is_err());
    }

    #[test]
    fn meta_path_is_sha256_of_name() {
        // sha256("colima"), as `docker context inspect` stores it.
        assert_eq!(
            context_meta_path(Path::new("/h/.docker"), "colima"),
            PathBuf::from(format!(
                "/h/.docker/contexts/meta/{}/meta.json",
                hex::encode(Sha256::digest(b"colima"))
            ))
        );
        assert_eq!(
            context_meta_path(Path::new("/c"), "default")
                .to_string_lossy()
                .len(),
            "/c/contexts/meta/".len() + 64 + "/meta.json".len()
        );
    }

    #[test]
    fn order_host_then_context_then_default() {
        let dir = PathBuf::from("/h/.docker");
        let meta = context_meta_path(&dir, "remote");
        let files: HashMap<PathBuf, Vec<u8>> = HashMap::from([
            (
                dir.join("config.json"),
                br#"{"auths":{},"currentContext":"remote"}"#.to_vec(),
            ),
            (
                meta.clone(),
                br#"{"Name":"remote","Endpoints":{"docker":{"Host":"tcp://build:2375","SkipTLSVerify":false}}}"#
                    .to_vec(),
            ),
        ]);
        let read = |p: &Path| files.get(p).cloned();
        let mut inputs = Inputs {
            docker_host: Some("unix:///run/user/1000/docker.sock".into()),
            docker_context: None,
            config_dir: Some(dir.clone()),
        };
        let f = resolve(&inputs, read).unwrap();
        assert_eq!(
            f.endpoint,
            Endpoint::Unix("/run/user/1000/docker.sock".into())
        );
        assert_eq!(f.source, "DOCKER_HOST");

        inputs.docker_host = None;
        let f = resolve(&inputs, read).unwrap();
        assert_eq!(f.endpoint, Endpoint::Tcp("build:2375".into()));
        assert!(f.source.contains("remote"));

        inputs.docker_context = Some("default".into());
        let f = resolve(&inputs, read).unwrap();
        assert_eq!(f.endpoint, Endpoint::Unix(DEFAULT_SOCKET.into()));

        inputs.docker_context = Some("missing".into());
        let e = resolve(&inputs, read).unwrap_err().to_string();
        assert!(e.contains("'missing'") && e.contains("not found"), "{e}");

        let none = Inputs::default();
        let f = resolve(&none, |_| None).unwrap();
        assert_eq!(f.endpoint, Endpoint::Unix(DEFAULT_SOCKET.into()));
    }
}
