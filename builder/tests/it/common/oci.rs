//! A small in-memory OCI registry with the distribution spec 1.1 referrers API, on
//! loopback (tiny_http: no fault injection needed here, unlike [`super::Server`]).
//! Debian's docker-registry 2.8 has no referrers API; this stands in for the
//! registries that do: a manifest pushed with a `subject` is answered with an
//! `OCI-Subject` header, and `GET /v2/<name>/referrers/<digest>` lists its referrers.
//! Just the calls sparkimg makes: ping, blob HEAD/GET, monolithic uploads and mounts,
//! manifest PUT/GET/HEAD.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;

use sha2::{Digest, Sha256};
use tiny_http::{Header, Method, Request, Response, Server};

#[derive(Default)]
struct Store {
    blobs: HashMap<String, Vec<u8>>,
    /// (repository, tag or digest) → (media type, bytes).
    manifests: HashMap<(String, String), (String, Vec<u8>)>,
    /// Every request, as `METHOD path`.
    log: Vec<String>,
}

pub struct ApiRegistry {
    server: Arc<Server>,
    store: Arc<Mutex<Store>>,
    pub port: u16,
    thread: Option<thread::JoinHandle<()>>,
}

impl ApiRegistry {
    pub fn start() -> ApiRegistry {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind loopback"));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let store = Arc::new(Mutex::new(Store::default()));
        let (s, st) = (server.clone(), store.clone());
        let thread = thread::spawn(move || {
            for req in s.incoming_requests() {
                handle(req, &st);
            }
        });
        ApiRegistry {
            server,
            store,
            port,
            thread: Some(thread),
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every request so far, as `METHOD /path?query`.
    pub fn log(&self) -> Vec<String> {
        self.store.lock().unwrap().log.clone()
    }

    /// The tags and digests manifests were pushed to in `repo`.
    pub fn manifest_refs(&self, repo: &str) -> Vec<String> {
        let s = self.store.lock().unwrap();
        let mut v: Vec<String> = s
            .manifests
            .keys()
            .filter(|(r, _)| r == repo)
            .map(|(_, t)| t.clone())
            .collect();
        v.sort();
        v
    }
}

impl Drop for ApiRegistry {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

fn header(k: &str, v: &str) -> Header {
    Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap()
}

fn reply(req: Request, status: u16, headers: Vec<Header>, body: Vec<u8>) {
    let mut r = Response::from_data(body).with_status_code(status);
    for h in headers {
        r.add_header(h);
    }
    let _ = req.respond(r);
}

/// `/v2/<name>/<kind>/<rest>` → (name, kind, rest), `kind` one of blobs, manifests,
/// referrers (the name may hold slashes).
fn split(path: &str) -> Option<(String, &'static str, String)> {
    let p = path.strip_prefix("/v2/")?;
    for kind in ["/blobs/uploads/", "/blobs/", "/manifests/", "/referrers/"] {
        if let Some(i) = p.rfind(kind) {
            return Some((p[..i].to_string(), kind, p[i + kind.len()..].to_string()));
        }
    }
    None
}

fn query(url: &str, key: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.replace("%3A", ":").replace("%3a", ":"))
    })
}

fn handle(mut req: Request, store: &Mutex<Store>) {
    let url = req.url().to_string();
    let path = url.split('?').next().unwrap_or("").to_string();
    let method = req.method().clone();
    let mut body = Vec::new();
    let _ = req.as_reader().read_to_end(&mut body);
    let mut s = store.lock().unwrap();
    s.log.push(format!("{method} {url}"));
    if path == "/v2/" || path == "/v2" {
        return reply(req, 200, vec![], b"{}".to_vec());
    }
    let Some((name, kind, rest)) = split(&path) else {
        return reply(req, 404, vec![], vec![]);
    };
    let json = |m: &str| header("Content-Type", m);
    match (method, kind) {
        (Method::Post, "/blobs/uploads/") => {
            if let Some(d) = query(&url, "mount").filter(|d| s.blobs.contains_key(d)) {
                let loc = format!("/v2/{name}/blobs/{d}");
                return reply(req, 201, vec![header("Location", &loc)], vec![]);
            }
            let loc = format!("/v2/{name}/blobs/uploads/{}", s.log.len());
            reply(req, 202, vec![header("Location", &loc)], vec![])
        }
        (Method::Put, "/blobs/uploads/") => {
            let d = query(&url, "digest").unwrap_or_default();
            if sha256(&body) != d {
                return reply(req, 400, vec![], b"digest mismatch".to_vec());
            }
            s.blobs.insert(d.clone(), body);
            let loc = format!("/v2/{name}/blobs/{d}");
            reply(req, 201, vec![header("Location", &loc)], vec![])
        }
        (m @ (Method::Head | Method::Get), "/blobs/") => match s.blobs.get(&rest) {
            Some(b) if m == Method::Get => reply(req, 200, vec![], b.clone()),
            Some(b) => {
                let len = header("Content-Length", &b.len().to_string());
                let _ = req.respond(Response::empty(200).with_header(len));
            }
            None => reply(req, 404, vec![], vec![]),
        },
        (Method::Put, "/manifests/") => {
            let media = req
                .headers()
                .iter()
                .find(|h| h.field.equiv("Content-Type"))
                .map(|h| h.value.to_string())
                .unwrap_or_default();
            let digest = sha256(&body);
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let m = (media, body);
            s.manifests
                .insert((name.clone(), digest.clone()), m.clone());
            s.manifests.insert((name, rest), m);
            let mut h = vec![header("Docker-Content-Digest", &digest)];
            if let Some(subject) = v["subject"]["digest"].as_str() {
                h.push(header("OCI-Subject", subject));
            }
            reply(req, 201, h, vec![])
        }
        (m @ (Method::Head | Method::Get), "/manifests/") => {
            let Some((media, b)) = s.manifests.get(&(name, rest)).cloned() else {
                return reply(req, 404, vec![], vec![]);
            };
            let h = vec![json(&media), header("Docker-Content-Digest", &sha256(&b))];
            let body = if m == Method::Get { b } else { vec![] };
            reply(req, 200, h, body)
        }
        (Method::Get, "/referrers/") => {
            let mut list: Vec<serde_json::Value> = s
                .manifests
                .iter()
                .filter(|((n, r), _)| *n == name && r.starts_with("sha256:"))
                .filter_map(|(_, (media, b))| {
                    let v: serde_json::Value = serde_json::from_slice(b).ok()?;
                    (v["subject"]["digest"] == rest.as_str()).then(|| {
                        serde_json::json!({
                            "mediaType": media,
                            "digest": sha256(b),
                            "size": b.len(),
                            "artifactType": v["artifactType"],
                        })
                    })
                })
                .collect();
            list.sort_by_key(|v| v["digest"].as_str().unwrap_or("").to_string());
            let index = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": list,
            });
            let h = vec![json("application/vnd.oci.image.index.v1+json")];
            reply(req, 200, h, serde_json::to_vec(&index).unwrap())
        }
        _ => reply(req, 405, vec![], vec![]),
    }
}
