//! Effects: one registry's HTTP transport — scheme discovery, the auth handshake
//! (anonymous, Basic, Bearer tokens per scope set, reused until they expire) and the
//! shared retry policy ([`crate::http::retry`]) every operation runs in.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode, Url};

use super::challenge::{parse_challenge, Challenge, Scopes, TokenResponse};
use super::credentials::{AuthSources, Credentials};
use super::error::{parse_envelope, RegistryError, RemoteError};
use super::mirrors::{Endpoint, Mirrors};
use super::reference::{allows_plain_http, api_host};
use crate::http::client::{self, classify_error, retry_after, ClientConfig, TransferError};
use crate::http::retry::{self, classify_status};
use crate::http::{ClientError, ErrorClass, Failure, RetryPolicy, StatusAction, Stop};
use crate::progress::ProgressMode;

/// How to reach registries; shared by push and pull.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// `--creds` / `--username` + `--password-stdin`: used for every registry of the run
    /// instead of the credential files.
    pub credentials: Option<Credentials>,
    /// Credential files read from the environment.
    pub auth: AuthSources,
    /// Extra PEM CA certificates (`--ca-cert`), trusted beside the system roots.
    pub ca_certs: Vec<PathBuf>,
    /// `--insecure-registry HOST[:PORT]`: plain HTTP allowed after HTTPS fails.
    pub insecure_registries: Vec<String>,
    pub retry: RetryPolicy,
    /// Blobs transferred at once.
    pub jobs: usize,
    pub progress: ProgressMode,
    /// Blob cache for pulls and the "where was this blob seen" hints for mounts.
    pub cache_dir: Option<PathBuf>,
    /// `--lock-timeout`: the longest wait for another process pulling the same blob.
    pub lock_timeout: std::time::Duration,
    /// Where pulls go (`--registry-mirror`, registries.conf, hosts.toml); pushes ignore it.
    pub mirrors: Mirrors,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            credentials: None,
            auth: AuthSources::default(),
            ca_certs: Vec::new(),
            insecure_registries: Vec::new(),
            retry: RetryPolicy::default(),
            jobs: 4,
            progress: ProgressMode::Auto,
            cache_dir: None,
            lock_timeout: crate::cache::DEFAULT_LOCK_TIMEOUT,
            mirrors: Mirrors::default(),
        }
    }
}

/// The shared HTTP client ([`crate::http::client::build`]) with `--ca-cert` and a
/// connection pool sized for the parallel transfers.
pub fn http_client(opts: &RegistryOptions) -> Result<Client, RegistryError> {
    let cfg = ClientConfig {
        policy: &opts.retry,
        ca_certs: &opts.ca_certs,
        max_idle_per_host: opts.jobs.max(1) * 2,
    };
    client::build(&cfg).map_err(|e| match e {
        ClientError::CaRead { path, source } => RegistryError::io(&path)(source),
        ClientError::CaInvalid { path, reason } => RegistryError::Layout { path, reason },
        ClientError::Build(e) => RegistryError::Transport {
            registry: String::new(),
            repository: String::new(),
            what: "TLS setup".into(),
            digest: None,
            source: e.into(),
        },
    })
}

/// Pure: a token realm must not send our credentials somewhere the registry itself
/// does not live: no plain HTTP realm for an HTTPS registry, no private or loopback
/// address for a public registry (ggcr's SSRF guard).
pub fn realm_allowed(realm: &Url, registry_scheme: &str, registry_is_local: bool) -> bool {
    if realm.scheme() == "http" && registry_scheme == "https" && !registry_is_local {
        return false;
    }
    if !matches!(realm.scheme(), "http" | "https") {
        return false;
    }
    if registry_is_local {
        return true;
    }
    let host = realm.host_str().unwrap_or("");
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>();
    match ip {
        Ok(IpAddr::V4(v4)) => {
            !(v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified())
        }
        Ok(IpAddr::V6(v6)) => {
            let seg0 = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (seg0 & 0xfe00) == 0xfc00
                || (seg0 & 0xffc0) == 0xfe80)
        }
        Err(_) => host != "localhost",
    }
}

/// How one attempt failed (see [`crate::http::retry::run`]); boxed because
/// `RegistryError` is large.
pub type Attempt = Failure<Box<RegistryError>, Box<RegistryError>>;

struct Token {
    scopes: Scopes,
    value: String,
    until: Instant,
}

#[derive(Default)]
struct AuthState {
    /// `https://host` or `http://host`, once the ping answered.
    base: Option<String>,
    challenge: Option<Challenge>,
    tokens: Vec<Token>,
}

/// What an operation is about, for error messages.
#[derive(Debug, Clone)]
pub struct Ctx<'a> {
    pub repository: &'a str,
    pub what: &'a str,
    pub digest: Option<&'a str>,
}

/// One registry.
pub struct Registry {
    /// As named in references (`docker.io`, `127.0.0.1:5000`).
    pub name: String,
    http: Client,
    creds: Option<Credentials>,
    state: Mutex<AuthState>,
    /// Held while a token is fetched, so parallel workers wait for one token instead of
    /// each asking the realm for the same scopes.
    token_fetch: Mutex<()>,
    pub retry: RetryPolicy,
    plain_ok: bool,
    /// An `http://` mirror: HTTPS is not tried.
    http_only: bool,
    /// Where the API lives on the host: `/v2`, or a mirror's path.
    api_root: String,
    /// Another endpoint follows this one (a mirror): an unreachable host fails at once
    /// instead of being retried.
    failover: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere cannot leave AuthState inconsistent (every write is one
    // assignment), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Registry {
    pub fn new(
        name: &str,
        http: Client,
        opts: &RegistryOptions,
    ) -> Result<Registry, RegistryError> {
        let creds = match &opts.credentials {
            Some(c) => Some(c.clone()),
            None => opts.auth.resolve(name)?,
        };
        Ok(Registry {
            name: name.to_string(),
            http,
            creds,
            state: Mutex::new(AuthState::default()),
            token_fetch: Mutex::new(()),
            retry: opts.retry.clone(),
            plain_ok: allows_plain_http(name, &opts.insecure_registries),
            http_only: false,
            api_root: "/v2".into(),
            failover: false,
        })
    }

    /// The registry at one pull endpoint (a mirror or the upstream, see
    /// [`super::mirrors`]); `failover`: another endpoint follows it.
    pub fn at(
        ep: &Endpoint,
        http: Client,
        opts: &RegistryOptions,
        failover: bool,
    ) -> Result<Registry, RegistryError> {
        let mut reg = Registry::new(&ep.host, http, opts)?;
        reg.plain_ok |= ep.plain_http || ep.http_only;
        reg.http_only = ep.http_only;
        reg.api_root = ep.api_root.clone();
        reg.failover = failover;
        Ok(reg)
    }

    pub fn err_http(&self, ctx: &Ctx, status: u16, errors: Vec<RemoteError>) -> RegistryError {
        let (registry, repository, what, digest) = (
            self.name.clone(),
            ctx.repository.to_string(),
            ctx.what.to_string(),
            ctx.digest.map(String::from),
        );
        if status == 401 || status == 403 {
            RegistryError::Unauthorized {
                registry,
                repository,
                what,
                digest,
                status,
                errors,
                anonymous: self.creds.is_none(),
            }
        } else {
            RegistryError::Http {
                registry,
                repository,
                what,
                digest,
                status,
                errors,
            }
        }
    }

    pub fn err_transport(&self, ctx: &Ctx, e: impl Into<TransferError>) -> RegistryError {
        RegistryError::Transport {
            registry: self.name.clone(),
            repository: ctx.repository.to_string(),
            what: ctx.what.to_string(),
            digest: ctx.digest.map(String::from),
            source: e.into(),
        }
    }

    /// Turn an unexpected response into an attempt failure (reads the error envelope).
    pub fn fail(&self, ctx: &Ctx, resp: Response) -> Attempt {
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers());
        let body = resp.bytes().map(|b| b.to_vec()).unwrap_or_default();
        let errors = parse_envelope(&body);
        let err = self.err_http(ctx, status, errors);
        // 4xx answers are final: repeating a refused request only delays the error.
        match classify_status(status) {
            StatusAction::Retry => Attempt::retry(err, retry_after),
            _ => Attempt::fatal(err),
        }
    }

    /// A transport error: connection problems and timeouts are worth retrying.
    pub fn transport(&self, ctx: &Ctx, e: reqwest::Error) -> Attempt {
        let class = classify_error(&e);
        let err = self.err_transport(ctx, e);
        // A certificate the trust roots reject will be rejected again: fail now rather
        // than after the whole backoff.
        match class {
            ErrorClass::Permanent => Attempt::fatal(err),
            // Nothing listens there: the next endpoint is tried at once.
            ErrorClass::Unreachable if self.failover => Attempt::fatal(err),
            // The only endpoint: keep retrying.
            ErrorClass::Transient | ErrorClass::Unreachable => Attempt::retry(err, None),
        }
    }

    /// Run `op` until it succeeds, fails fatally, or the attempts run out.
    pub fn with_retry<T>(
        &self,
        mut op: impl FnMut(u32) -> Result<T, Attempt>,
    ) -> Result<T, RegistryError> {
        retry::run(
            &self.retry,
            &mut (),
            |_, attempt| op(attempt),
            |_, e, d| {
                crate::report::note(&format!(
                    "{}; retrying in {:.1}s",
                    crate::report::chain(e.as_ref()),
                    d.as_secs_f64()
                ))
            },
        )
        .map_err(|s| match s {
            Stop::Fatal { error, .. } | Stop::Exhausted { last: error, .. } => *error,
        })
    }

    /// `https://host` (or `http://` for a loopback/insecure registry that does not
    /// speak TLS), learning the auth challenge on the way. Retried like any operation.
    pub fn base(&self, ctx: &Ctx) -> Result<String, RegistryError> {
        if let Some(b) = lock(&self.state).base.clone() {
            return Ok(b);
        }
        let host = api_host(&self.name).to_string();
        let ping_ctx = Ctx {
            what: "ping /v2/",
            ..ctx.clone()
        };
        self.with_retry(|_| {
            let mut schemes = vec!["https"];
            if self.http_only {
                schemes.clear();
            }
            if self.plain_ok {
                schemes.push("http");
            }
            let mut first_err: Option<reqwest::Error> = None;
            for scheme in schemes {
                let base = format!("{scheme}://{host}");
                let resp = match self
                    .http
                    .get(format!("{base}{}/", self.api_root))
                    .timeout(self.retry.read_timeout)
                    .send()
                {
                    Ok(r) => r,
                    Err(e) => {
                        first_err.get_or_insert(e);
                        continue;
                    }
                };
                let status = resp.status();
                let challenge = challenge_of(resp.headers());
                // Under a path (a hosts.toml `override_path` root such as
                // `/v2/dockerhub`) the root itself need not answer: 404 is reachable,
                // and a 401 on a later request brings the challenge.
                let rooted = self.api_root != "/v2" && status == StatusCode::NOT_FOUND;
                if status.is_success() || status == StatusCode::UNAUTHORIZED || rooted {
                    let mut st = lock(&self.state);
                    st.base = Some(base.clone());
                    st.challenge = if status.is_success() { None } else { challenge };
                    return Ok(base);
                }
                if let Some(e) = first_err {
                    // HTTPS failed and plain HTTP answered oddly (typically 400 "client
                    // sent an HTTP request to an HTTPS server"): the TLS error is the
                    // one worth reporting (an unknown CA, a wrong host name).
                    return Err(self.transport(&ping_ctx, e));
                }
                return Err(self.fail(&ping_ctx, resp));
            }
            match first_err {
                Some(e) => Err(self.transport(&ping_ctx, e)),
                None => Err(Attempt::fatal(self.err_transport(&ping_ctx, "no scheme"))),
            }
        })
    }

    fn cached_token(&self, scopes: &Scopes) -> Option<String> {
        let st = lock(&self.state);
        st.tokens
            .iter()
            .find(|t| t.until > Instant::now() && t.scopes.covers(scopes))
            .map(|t| t.value.clone())
    }

    /// Exchange credentials for a token covering `scopes` at the Bearer realm.
    fn fetch_token(&self, ctx: &Ctx, scopes: &Scopes) -> Result<String, Attempt> {
        let (realm, service, base) = {
            let st = lock(&self.state);
            match (&st.challenge, &st.base) {
                (Some(Challenge::Bearer { realm, service, .. }), Some(b)) => {
                    (realm.clone(), service.clone(), b.clone())
                }
                _ => {
                    return Err(Attempt::fatal(
                        self.err_transport(ctx, "no bearer challenge"),
                    ))
                }
            }
        };
        let tctx = Ctx {
            what: "token request",
            ..ctx.clone()
        };
        let mut url = Url::parse(&realm).map_err(|e| {
            Attempt::fatal(self.err_transport(&tctx, format!("realm {realm}: {e}")))
        })?;
        let scheme = base.split("://").next().unwrap_or("https");
        if !realm_allowed(&url, scheme, self.plain_ok) {
            return Err(Attempt::fatal(self.err_transport(
                &tctx,
                format!("refusing token realm {realm}: it is not where this registry lives"),
            )));
        }
        let resp = match &self.creds {
            Some(Credentials::IdentityToken(refresh)) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token");
                form.append_pair("refresh_token", refresh);
                form.append_pair("client_id", "sparkimg");
                if let Some(s) = &service {
                    form.append_pair("service", s);
                }
                form.append_pair("scope", &scopes.to_params().join(" "));
                self.http
                    .post(url.clone())
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(form.finish())
                    .timeout(self.retry.read_timeout)
                    .send()
            }
            creds => {
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = &service {
                        q.append_pair("service", s);
                    }
                    for s in scopes.to_params() {
                        q.append_pair("scope", &s);
                    }
                }
                let mut rb = self.http.get(url.clone()).timeout(self.retry.read_timeout);
                if let Some(Credentials::Basic { username, password }) = creds {
                    rb = rb.basic_auth(username, Some(password));
                }
                rb.send()
            }
        };
        let resp = resp.map_err(|e| self.transport(&tctx, e))?;
        if !resp.status().is_success() {
            return Err(self.fail(&tctx, resp));
        }
        let body = resp.bytes().map_err(|e| self.transport(&tctx, e))?;
        let t: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| Attempt::fatal(self.err_transport(&tctx, format!("token answer: {e}"))))?;
        let value = t
            .bearer()
            .ok_or_else(|| Attempt::fatal(self.err_transport(&tctx, "token answer has no token")))?
            .to_string();
        let mut st = lock(&self.state);
        st.tokens.retain(|x| x.until > Instant::now());
        st.tokens.push(Token {
            scopes: scopes.clone(),
            value: value.clone(),
            until: Instant::now() + t.lifetime(),
        });
        Ok(value)
    }

    fn authorize(
        &self,
        ctx: &Ctx,
        rb: RequestBuilder,
        scopes: &Scopes,
    ) -> Result<RequestBuilder, Attempt> {
        let challenge = lock(&self.state).challenge.clone();
        Ok(match challenge {
            None => rb,
            Some(Challenge::Basic) => match &self.creds {
                Some(Credentials::Basic { username, password }) => {
                    rb.basic_auth(username, Some(password))
                }
                _ => rb,
            },
            Some(Challenge::Bearer { .. }) => {
                let tok = match self.cached_token(scopes) {
                    Some(t) => t,
                    None => {
                        let _one = lock(&self.token_fetch);
                        match self.cached_token(scopes) {
                            Some(t) => t,
                            None => self.fetch_token(ctx, scopes)?,
                        }
                    }
                };
                rb.bearer_auth(tok)
            }
        })
    }

    /// Send one request with auth. `build` is called again for the second try after a
    /// 401 that asks for more scope (its body may be a one-shot stream).
    pub fn send(
        &self,
        ctx: &Ctx,
        scopes: &Scopes,
        method: Method,
        url: &str,
        build: &dyn Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, Attempt> {
        let mut scopes = scopes.clone();
        for round in 0..2 {
            let rb = build(self.http.request(method.clone(), url));
            let rb = self.authorize(ctx, rb, &scopes)?;
            let resp = rb.send().map_err(|e| self.transport(ctx, e))?;
            if resp.status() != StatusCode::UNAUTHORIZED || round == 1 {
                return Ok(resp);
            }
            // A 401: the token lacked a scope the registry wants (it says which), or
            // the challenge changed. Merge and try once more.
            match challenge_of(resp.headers()) {
                Some(c @ Challenge::Bearer { .. }) => {
                    if let Challenge::Bearer { scope: Some(s), .. } = &c {
                        scopes.add_str(s);
                    }
                    let mut st = lock(&self.state);
                    let had_bearer = matches!(st.challenge, Some(Challenge::Bearer { .. }));
                    st.challenge = Some(c);
                    if had_bearer {
                        // Same scopes again would get the same token: drop it.
                        st.tokens.retain(|t| !t.scopes.covers(&scopes));
                    }
                }
                Some(Challenge::Basic) if lock(&self.state).challenge.is_none() => {
                    lock(&self.state).challenge = Some(Challenge::Basic);
                }
                _ => return Ok(resp),
            }
        }
        unreachable!("the loop returns on its second round")
    }

    /// `base/v2/<repo>/<rest>` (`/v2`: the API root).
    pub fn url(&self, ctx: &Ctx, repo: &str, rest: &str) -> Result<String, RegistryError> {
        Ok(format!(
            "{}{}/{repo}/{rest}",
            self.base(ctx)?,
            self.api_root
        ))
    }

    pub fn has_credentials(&self) -> bool {
        self.creds.is_some()
    }
}

fn challenge_of(h: &HeaderMap) -> Option<Challenge> {
    h.get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(parse_challenge)
        // Prefer Bearer when a registry offers both.
        .max_by_key(|c| matches!(c, Challenge::Bearer { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_guard() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(realm_allowed(
            &u("https://auth.docker.io/token"),
            "https",
            false
        ));
        assert!(!realm_allowed(
            &u("http://auth.docker.io/token"),
            "https",
            false
        ));
        assert!(!realm_allowed(&u("https://10.0.0.1/token"), "https", false));
        assert!(!realm_allowed(
            &u("https://169.254.169.254/x"),
            "https",
            false
        ));
        assert!(!realm_allowed(&u("https://[fe80::1]/x"), "https", false));
        assert!(!realm_allowed(&u("https://localhost/x"), "https", false));
        assert!(realm_allowed(&u("http://127.0.0.1:9/t"), "http", true));
        assert!(!realm_allowed(&u("file:///etc/passwd"), "https", true));
    }
}
