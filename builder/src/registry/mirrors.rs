//! Pure: registry mirrors — which endpoints a pull of a reference tries, in order.
//!
//! Three sources, parsed here from their text (the files are read by the caller):
//! `--registry-mirror HOST=URL` flags, containerd's `hosts.toml` (one per registry
//! host: `[host."URL"]` tables in file order, then `server` when present) and
//! containers' `registries.conf` (`[[registry]]` tables chosen by the longest
//! `prefix`, their `[[registry.mirror]]` in order, then `location`). A flag for a host
//! wins over both files, a `hosts.toml` over `registries.conf`.
//!
//! Mirrors only ever serve reads: pushes go to the named registry. The name a pull
//! records (labels, `--json`'s `base`) stays the canonical reference; the endpoint is
//! only where the bytes came from, and they are verified against digests as always.

use std::fmt;

use serde::Deserialize;

use super::reference::{RegistryRef, DOCKER_HUB, DOCKER_HUB_API};

/// Where one pull attempt goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host[:port]`, as credentials are looked up (`docker.io` for Docker Hub).
    pub host: String,
    /// The API root on that host: `/v2`, or a hosts.toml URL's path (`/dockerhub/v2`).
    pub api_root: String,
    /// The repository on that endpoint (a registries.conf location's path prepended).
    pub repository: String,
    /// Plain HTTP may be tried after HTTPS (`insecure = true`).
    pub plain_http: bool,
    /// Plain HTTP only: an `http://` URL.
    pub http_only: bool,
    /// A mirror (not the reference's own registry, nor its configured location).
    pub mirror: bool,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.api_root.as_str() {
            "/v2" => write!(f, "{}/{}", self.host, self.repository),
            root => write!(f, "{}{root}/{}", self.host, self.repository),
        }
    }
}

/// Which references a mirror serves (registries.conf `pull-from-mirror`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PullFrom {
    All,
    DigestOnly,
    TagOnly,
}

impl PullFrom {
    fn serves(self, by_digest: bool) -> bool {
        match self {
            PullFrom::All => true,
            PullFrom::DigestOnly => by_digest,
            PullFrom::TagOnly => !by_digest,
        }
    }
}

/// One mirror of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// `host[:port][/path]`: the prefix's namespace lives under `path` there.
    pub location: String,
    pub api_root: String,
    pub plain_http: bool,
    pub http_only: bool,
    pub serves: PullFrom,
}

/// Which configuration a rule came from; the higher rank (lower number) wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Flag,
    HostsToml,
    RegistriesConf,
}

/// The mirrors of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `host[:port][/namespace…]`, or `*.domain` (any host under it).
    pub prefix: String,
    pub mirrors: Vec<Mirror>,
    /// Where the namespace itself lives (registries.conf `location`, hosts.toml
    /// `server`); `None`: no upstream to fall back to (a hosts.toml without `server`,
    /// `blocked = true`, which also drops its mirrors).
    pub upstream: Option<Mirror>,
    pub source: Source,
    /// The file or flag, for messages.
    pub origin: String,
}

/// Every rule of the run, and whether the upstream may be used at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mirrors {
    pub rules: Vec<Rule>,
    /// `--registry-mirrors-only`: never fall back to an upstream (an air gap).
    pub mirrors_only: bool,
}

/// A configuration the parser refuses: names the file or flag and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {reason}")]
pub struct MirrorConfigError {
    pub origin: String,
    pub reason: String,
}

fn bad(origin: &str, reason: impl Into<String>) -> MirrorConfigError {
    MirrorConfigError {
        origin: origin.to_string(),
        reason: reason.into(),
    }
}

/// Docker Hub's aliases as one name (`index.docker.io`, `registry-1.docker.io`).
fn normalize_host(host: &str) -> String {
    match host {
        "index.docker.io" | DOCKER_HUB_API => DOCKER_HUB.to_string(),
        h => h.to_string(),
    }
}

/// `host[/path]` with the host normalised and no trailing slash.
fn normalize_location(loc: &str) -> String {
    let loc = loc.trim_end_matches('/');
    match loc.split_once('/') {
        Some((h, rest)) => format!("{}/{rest}", normalize_host(h)),
        None => normalize_host(loc),
    }
}

/// `[http(s)://]host[:port][/path]` → (`host[/path]`, plain HTTP asked for).
fn split_scheme(url: &str, origin: &str) -> Result<(String, bool), MirrorConfigError> {
    let (plain, rest) = match url.split_once("://") {
        Some(("http", r)) => (true, r),
        Some(("https", r)) => (false, r),
        Some((s, _)) => {
            return Err(bad(
                origin,
                format!("{url}: scheme {s} is not http or https"),
            ))
        }
        None => (false, url),
    };
    let rest = rest.trim_end_matches('/');
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || rest.contains(['?', '#', ' ', '@']) {
        return Err(bad(
            origin,
            format!("{url}: not a registry URL HOST[:PORT][/PATH]"),
        ));
    }
    Ok((normalize_location(rest), plain))
}

/// Whether `name` (`host/repository`) is under `prefix`, and how long the match is.
fn matches(prefix: &str, name: &str) -> Option<usize> {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let host = name.split('/').next().unwrap_or("");
        let h = host.split(':').next().unwrap_or(host);
        return h.ends_with(&format!(".{domain}")).then_some(host.len());
    }
    let under = name == prefix
        || name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'));
    under.then_some(prefix.len())
}

/// The endpoint for `name`'s remainder after `matched` characters, at `m`.
fn endpoint_at(m: &Mirror, name: &str, matched: usize, mirror: bool) -> Endpoint {
    let rest = name[matched..].trim_start_matches('/');
    let full = match rest {
        "" => m.location.clone(),
        r => format!("{}/{r}", m.location),
    };
    let (host, repository) = full.split_once('/').unwrap_or((&full, ""));
    Endpoint {
        host: host.to_string(),
        api_root: m.api_root.clone(),
        repository: repository.to_string(),
        plain_http: m.plain_http,
        http_only: m.http_only,
        mirror,
    }
}

/// What a pull of one reference tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// In order; empty when nothing may serve it (see `origin`).
    pub endpoints: Vec<Endpoint>,
    /// The rule's file or flag, when a rule applied.
    pub origin: Option<String>,
}

impl Mirrors {
    /// The endpoints a pull of `r` tries, in order: the chosen rule's mirrors that
    /// serve this kind of reference, then its upstream unless `mirrors_only`. Without
    /// a rule: the reference's own registry.
    pub fn route(&self, r: &RegistryRef) -> Route {
        let name = r.name();
        let by_digest = r.digest.is_some();
        let best = self
            .rules
            .iter()
            .filter_map(|rule| matches(&rule.prefix, &name).map(|n| (rule, n)))
            .min_by_key(|(rule, n)| (rule.source, std::cmp::Reverse(*n)));
        let Some((rule, n)) = best else {
            let own = Endpoint {
                host: r.registry.clone(),
                api_root: "/v2".into(),
                repository: r.repository.clone(),
                plain_http: false,
                http_only: false,
                mirror: false,
            };
            return Route {
                endpoints: if self.mirrors_only { vec![] } else { vec![own] },
                origin: None,
            };
        };
        let mut endpoints: Vec<Endpoint> = rule
            .mirrors
            .iter()
            .filter(|m| m.serves.serves(by_digest))
            .map(|m| endpoint_at(m, &name, n, true))
            .collect();
        if let (Some(up), false) = (&rule.upstream, self.mirrors_only) {
            // A wildcard names no one host: the reference's own is its upstream.
            let own = Mirror {
                location: r.registry.clone(),
                ..up.clone()
            };
            let (up, n) = match up.location.starts_with("*.") {
                true => (&own, r.registry.len()),
                false => (up, n),
            };
            endpoints.push(endpoint_at(up, &name, n, false));
        }
        Route {
            endpoints,
            origin: Some(rule.origin.clone()),
        }
    }

    /// Add `rules`, replacing those of a lower-ranked source for the same prefix.
    pub fn add(&mut self, rules: Vec<Rule>) {
        for r in rules {
            self.rules
                .retain(|o| !(o.prefix == r.prefix && o.source >= r.source));
            self.rules.push(r);
        }
    }
}

/// `--registry-mirror HOST=URL` (`docker.io=harbor.corp/dockerhub`,
/// `quay.io=http://127.0.0.1:5000`): URL's path is a repository prefix on the mirror,
/// as in registries.conf. Several flags for one host are tried in order.
pub fn parse_flags(values: &[String]) -> Result<Vec<Rule>, MirrorConfigError> {
    let mut rules: Vec<Rule> = Vec::new();
    for v in values {
        let origin = format!("--registry-mirror {v}");
        let (host, url) = v
            .split_once('=')
            .filter(|(h, u)| !h.is_empty() && !u.is_empty() && !h.contains('/'))
            .ok_or_else(|| {
                bad(
                    &origin,
                    "expected HOST=URL (docker.io=harbor.corp/dockerhub)",
                )
            })?;
        let (location, plain_http) = split_scheme(url, &origin)?;
        let prefix = normalize_host(host);
        let mirror = Mirror {
            location,
            api_root: "/v2".into(),
            plain_http: false,
            http_only: plain_http,
            serves: PullFrom::All,
        };
        match rules.iter_mut().find(|r| r.prefix == prefix) {
            Some(r) => r.mirrors.push(mirror),
            None => rules.push(Rule {
                upstream: Some(upstream_of(&prefix)),
                prefix,
                mirrors: vec![mirror],
                source: Source::Flag,
                origin: "--registry-mirror".into(),
            }),
        }
    }
    Ok(rules)
}

fn upstream_of(prefix: &str) -> Mirror {
    Mirror {
        location: prefix.to_string(),
        api_root: "/v2".into(),
        plain_http: false,
        http_only: false,
        serves: PullFrom::All,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ConfFile {
    #[serde(default)]
    registry: Vec<ConfRegistry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ConfRegistry {
    prefix: Option<String>,
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    pull_from_mirror: Option<PullFrom>,
    #[serde(default)]
    mirror: Vec<ConfMirror>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ConfMirror {
    location: String,
    #[serde(default)]
    insecure: bool,
    pull_from_mirror: Option<PullFrom>,
}

/// containers-registries.conf(5), version 2 (`[[registry]]` tables; the version 1
/// `[registries.*]` lists name no mirrors and are ignored). `origin` is its path.
pub fn parse_registries_conf(text: &str, origin: &str) -> Result<Vec<Rule>, MirrorConfigError> {
    let file: ConfFile = toml::from_str(text).map_err(|e| bad(origin, e.message().to_string()))?;
    let mut rules = Vec::new();
    for reg in file.registry {
        let prefix = match (&reg.prefix, &reg.location) {
            (Some(p), _) | (None, Some(p)) => normalize_location(p),
            (None, None) => {
                return Err(bad(
                    origin,
                    "a [[registry]] has neither prefix nor location",
                ))
            }
        };
        let location = reg.location.as_deref().map(normalize_location);
        if prefix.starts_with("*.") && location.is_some() {
            return Err(bad(
                origin,
                format!("{prefix}: a wildcard prefix cannot have a location"),
            ));
        }
        // mirror-by-digest-only is the older spelling of pull-from-mirror = "digest-only".
        let default_serves = match (reg.pull_from_mirror, reg.mirror_by_digest_only) {
            (Some(p), _) => p,
            (None, true) => PullFrom::DigestOnly,
            (None, false) => PullFrom::All,
        };
        // Blocked: nothing may serve the namespace, mirrors included.
        let mirrors = reg
            .mirror
            .iter()
            .map(|m| Mirror {
                location: normalize_location(&m.location),
                api_root: "/v2".into(),
                plain_http: m.insecure,
                http_only: false,
                serves: m.pull_from_mirror.unwrap_or(default_serves),
            })
            .filter(|_| !reg.blocked)
            .collect();
        let upstream = (!reg.blocked).then(|| Mirror {
            plain_http: reg.insecure,
            ..upstream_of(location.as_deref().unwrap_or(&prefix))
        });
        rules.push(Rule {
            prefix,
            mirrors,
            upstream,
            source: Source::RegistriesConf,
            origin: origin.to_string(),
        });
    }
    Ok(rules)
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
struct HostEntry {
    capabilities: Option<Vec<String>>,
    #[serde(default)]
    override_path: bool,
}

/// containerd's `certs.d/<host>/hosts.toml` for registry `host` (its directory's
/// name): each `[host."URL"]` with the `pull` capability in file order (tags also need
/// `resolve`), then `server` when present; without `server`, no upstream.
pub fn parse_hosts_toml(
    host: &str,
    text: &str,
    origin: &str,
) -> Result<Vec<Rule>, MirrorConfigError> {
    if host == "_default" {
        // containerd's fallback for every host; sparkimg has no such rule.
        return Ok(Vec::new());
    }
    let table: toml::Table =
        toml::from_str(text).map_err(|e| bad(origin, e.message().to_string()))?;
    let prefix = normalize_host(host);
    let mut mirrors = Vec::new();
    if let Some(hosts) = table.get("host") {
        let hosts = hosts
            .as_table()
            .ok_or_else(|| bad(origin, "host must be a table of [host.\"URL\"] tables"))?;
        for (url, entry) in hosts {
            let e: HostEntry = entry.clone().try_into().map_err(|e: toml::de::Error| {
                bad(origin, format!("host {url}: {}", e.message()))
            })?;
            let caps = e
                .capabilities
                .unwrap_or_else(|| ["pull", "resolve", "push"].map(String::from).to_vec());
            let has = |c: &str| caps.iter().any(|x| x == c);
            if !has("pull") {
                continue;
            }
            let (location, plain_http, api_root) = hosts_url(url, e.override_path, origin)?;
            mirrors.push(Mirror {
                location,
                api_root,
                plain_http: false,
                http_only: plain_http,
                serves: if has("resolve") {
                    PullFrom::All
                } else {
                    PullFrom::DigestOnly
                },
            });
        }
    }
    let upstream = match table.get("server") {
        None => None,
        Some(s) => {
            let s = s
                .as_str()
                .ok_or_else(|| bad(origin, "server must be a URL string"))?;
            let (location, plain_http, api_root) = hosts_url(s, false, origin)?;
            Some(Mirror {
                location: normalize_host(&location),
                api_root,
                plain_http: false,
                http_only: plain_http,
                serves: PullFrom::All,
            })
        }
    };
    Ok(vec![Rule {
        prefix,
        mirrors,
        upstream,
        source: Source::HostsToml,
        origin: origin.to_string(),
    }])
}

/// A hosts.toml URL → (host, plain HTTP, API root). Its path is where the API lives:
/// `/v2` is appended unless the path already ends in it or `override_path` is set.
fn hosts_url(
    url: &str,
    override_path: bool,
    origin: &str,
) -> Result<(String, bool, String), MirrorConfigError> {
    let (loc, plain) = split_scheme(url, origin)?;
    let (host, path) = match loc.split_once('/') {
        Some((h, p)) => (h.to_string(), format!("/{p}")),
        None => (loc.clone(), String::new()),
    };
    let api_root = if path.is_empty() {
        "/v2".to_string()
    } else if override_path || path.ends_with("/v2") {
        path
    } else {
        format!("{path}/v2")
    };
    Ok((host, plain, api_root))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> RegistryRef {
        RegistryRef::parse(s).unwrap()
    }

    fn shown(m: &Mirrors, reference: &str) -> Vec<String> {
        m.route(&r(reference))
            .endpoints
            .iter()
            .map(|e| {
                format!(
                    "{}{}{e}",
                    if e.mirror { "m " } else { "" },
                    match (e.http_only, e.plain_http) {
                        (true, _) => "http ",
                        (false, true) => "http? ",
                        _ => "",
                    }
                )
            })
            .collect()
    }

    fn with(rules: Vec<Vec<Rule>>) -> Mirrors {
        let mut m = Mirrors::default();
        for r in rules {
            m.add(r);
        }
        m
    }

    #[test]
    fn no_rule_is_the_registry_itself_and_mirrors_only_leaves_nothing() {
        let mut m = Mirrors::default();
        assert_eq!(
            shown(&m, "eclipse-temurin:17"),
            ["docker.io/library/eclipse-temurin"]
        );
        m.mirrors_only = true;
        let route = m.route(&r("quay.io/a/b:1"));
        assert!(route.endpoints.is_empty() && route.origin.is_none());
    }

    #[test]
    fn flags_prefix_docker_hub_with_library_and_keep_order() {
        let m = with(vec![parse_flags(&[
            "docker.io=harbor.corp/dockerhub".into(),
            "index.docker.io=http://127.0.0.1:5001/".into(),
        ])
        .unwrap()]);
        assert_eq!(
            shown(&m, "eclipse-temurin:17-jre"),
            [
                "m harbor.corp/dockerhub/library/eclipse-temurin",
                "m http 127.0.0.1:5001/library/eclipse-temurin",
                "docker.io/library/eclipse-temurin",
            ]
        );
        assert_eq!(
            shown(&m, "docker.io/bitnami/spark:3"),
            [
                "m harbor.corp/dockerhub/bitnami/spark",
                "m http 127.0.0.1:5001/bitnami/spark",
                "docker.io/bitnami/spark",
            ]
        );
        // Another registry is untouched; mirrors-only drops the upstream.
        assert_eq!(shown(&m, "quay.io/x/y:1"), ["quay.io/x/y"]);
        let only = Mirrors {
            mirrors_only: true,
            ..m
        };
        assert_eq!(shown(&only, "ubuntu").len(), 2);
        for bad in [
            "docker.io",
            "=x",
            "docker.io=",
            "a/b=c",
            "h=ftp://x",
            "h=https://",
            "h=x?y",
        ] {
            assert!(parse_flags(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn registries_conf_longest_prefix_location_digest_only_insecure_blocked() {
        let conf = r#"
unqualified-search-registries = ["docker.io"]
[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "mirror.corp/hub"
[[registry.mirror]]
location = "10.0.0.5:5000"
insecure = true

[[registry]]
prefix = "docker.io/library"
location = "internal.corp/official"
mirror-by-digest-only = true
[[registry.mirror]]
location = "m1.corp/lib"
[[registry.mirror]]
location = "m2.corp"
pull-from-mirror = "tag-only"

[[registry]]
prefix = "quay.io/blocked"
blocked = true
[[registry.mirror]]
location = "m3.corp/q"

[[registry]]
prefix = "*.example.com"
[[registry.mirror]]
location = "m4.corp"
"#;
        let m = with(vec![parse_registries_conf(
            conf,
            "/etc/containers/registries.conf",
        )
        .unwrap()]);
        // docker.io/library/* takes the longer prefix: tags skip the digest-only mirror.
        let d = "@sha256:".to_string() + &"a".repeat(64);
        assert_eq!(
            shown(&m, "ubuntu:22.04"),
            ["m m2.corp/ubuntu", "internal.corp/official/ubuntu"]
        );
        assert_eq!(
            shown(&m, &format!("ubuntu{d}")),
            ["m m1.corp/lib/ubuntu", "internal.corp/official/ubuntu"]
        );
        assert_eq!(
            shown(&m, "bitnami/spark:3"),
            [
                "m mirror.corp/hub/bitnami/spark",
                "m http? 10.0.0.5:5000/bitnami/spark",
                "docker.io/bitnami/spark"
            ]
        );
        // The prefix matches at a path boundary only.
        assert_eq!(
            shown(&m, "quay.io/blocked-not/x:1"),
            ["quay.io/blocked-not/x"]
        );
        let b = m.route(&r("quay.io/blocked/x:1"));
        assert_eq!(b.origin.as_deref(), Some("/etc/containers/registries.conf"));
        assert!(b.endpoints.is_empty());
        assert_eq!(
            shown(&m, "reg.example.com:443/a/b:1"),
            ["m m4.corp/a/b", "reg.example.com:443/a/b"]
        );
        assert_eq!(shown(&m, "example.com/a/b:1"), ["example.com/a/b"]);
        for bad in [
            "[[registry]]\ninsecure = true",
            "[[registry]]\nprefix = \"*.a.com\"\nlocation = \"b\"",
            "registry = 3",
            "[[registry]\n",
        ] {
            let e = parse_registries_conf(bad, "f.conf").unwrap_err();
            assert!(e.to_string().starts_with("f.conf: "), "{e}");
        }
        // Version 1 and comments only: no rules.
        assert!(
            parse_registries_conf("[registries.search]\nregistries = ['a']\n", "v1")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn hosts_toml_order_capabilities_paths_and_server() {
        let text = r#"
server = "https://registry-1.docker.io"
[host."https://harbor.corp/v2/dockerhub"]
  capabilities = ["pull", "resolve"]
  override_path = true
[host."http://127.0.0.1:5001"]
  capabilities = ["pull"]
[host."https://pushonly.corp"]
  capabilities = ["push"]
[host."https://nexus.corp/repository/hub"]
"#;
        let m = with(vec![
            parse_hosts_toml("docker.io", text, "hosts.toml").unwrap()
        ]);
        let eps = m.route(&r("eclipse-temurin:17")).endpoints;
        let roots: Vec<(&str, &str)> = eps
            .iter()
            .map(|e| (e.host.as_str(), e.api_root.as_str()))
            .collect();
        assert_eq!(
            roots,
            [
                ("harbor.corp", "/v2/dockerhub"),
                ("nexus.corp", "/repository/hub/v2"),
                ("docker.io", "/v2")
            ]
        );
        assert_eq!(
            eps[0].to_string(),
            "harbor.corp/v2/dockerhub/library/eclipse-temurin"
        );
        assert_eq!(eps[0].repository, "library/eclipse-temurin");
        // A pull-only host serves digests (it cannot resolve tags).
        let d = format!("eclipse-temurin@sha256:{}", "b".repeat(64));
        assert_eq!(
            shown(&m, &d)[1],
            "m http 127.0.0.1:5001/library/eclipse-temurin"
        );
        // Without server: no upstream.
        let m = with(vec![parse_hosts_toml(
            "quay.io",
            "[host.\"https://m.corp\"]\n",
            "h",
        )
        .unwrap()]);
        assert_eq!(shown(&m, "quay.io/a/b:1"), ["m m.corp/a/b"]);
        assert!(parse_hosts_toml("_default", text, "h").unwrap().is_empty());
        assert!(parse_hosts_toml("q", "server = 1", "h").is_err());
        assert!(parse_hosts_toml("q", "host = 1", "h").is_err());
        assert!(parse_hosts_toml("q", "[host.\"ftp://x\"]", "h").is_err());
    }

    #[test]
    fn flags_win_over_hosts_toml_over_registries_conf() {
        let conf = "[[registry]]\nprefix = \"docker.io/library\"\n[[registry.mirror]]\nlocation = \"conf.corp\"\n";
        let hosts = "server = \"https://docker.io\"\n[host.\"https://hosts.corp\"]\n";
        let mut m = with(vec![parse_registries_conf(conf, "c").unwrap()]);
        assert_eq!(shown(&m, "ubuntu")[0], "m conf.corp/ubuntu");
        m.add(parse_hosts_toml("docker.io", hosts, "h").unwrap());
        // The hosts.toml wins although the registries.conf prefix is longer.
        assert_eq!(
            shown(&m, "ubuntu"),
            ["m hosts.corp/library/ubuntu", "docker.io/library/ubuntu"]
        );
        m.add(parse_flags(&["docker.io=flag.corp".into()]).unwrap());
        assert_eq!(shown(&m, "ubuntu")[0], "m flag.corp/library/ubuntu");
        assert_eq!(
            m.route(&r("ubuntu")).origin.as_deref(),
            Some("--registry-mirror")
        );
        // A lower-ranked rule for the same prefix does not replace a higher one.
        m.add(parse_hosts_toml("docker.io", hosts, "h2").unwrap());
        assert_eq!(shown(&m, "ubuntu")[0], "m flag.corp/library/ubuntu");
    }
}
