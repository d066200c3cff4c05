//! Pure: which API host, credential keys and transport a registry host gets. The
//! reference grammar itself is [`crate::oci::reference`]'s.

pub use crate::oci::reference::{RegistryRef, DOCKER_HUB, DOCKER_HUB_API, DOCKER_HUB_AUTH_KEY};

/// Host the API lives on (`docker.io` → `registry-1.docker.io`).
pub fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        registry
    }
}

/// Keys to look a registry up under in credential stores, most specific first.
/// Docker writes Hub credentials under its v1 URL; other registries under the bare host,
/// sometimes with a scheme (old `docker login` wrote `https://host`).
pub fn auth_keys(registry: &str) -> Vec<String> {
    if registry == DOCKER_HUB {
        return vec![
            DOCKER_HUB_AUTH_KEY.to_string(),
            "docker.io".into(),
            "index.docker.io".into(),
            "registry-1.docker.io".into(),
        ];
    }
    vec![
        registry.to_string(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
        format!("https://{registry}/v2/"),
    ]
}

/// Host part without the port (`[::1]:5000` → `[::1]`, `a:5000` → `a`).
fn host_only(registry: &str) -> &str {
    if registry.starts_with('[') {
        return match registry.find(']') {
            Some(i) => &registry[..=i],
            None => registry,
        };
    }
    registry.split(':').next().unwrap_or(registry)
}

/// Plain HTTP may be tried (after HTTPS) only for loopback names and registries the user
/// named with `--insecure-registry HOST[:PORT]` (a bare HOST matches any port).
pub fn allows_plain_http(registry: &str, insecure: &[String]) -> bool {
    let host = host_only(registry);
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
        || insecure
            .iter()
            .any(|i| i == registry || (!i.contains(':') && i == host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_hosts_and_keys() {
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(auth_keys("docker.io")[0], "https://index.docker.io/v1/");
    }

    #[test]
    fn plain_http_only_for_loopback_and_named_hosts() {
        assert!(allows_plain_http("127.0.0.1:5000", &[]));
        assert!(allows_plain_http("localhost", &[]));
        assert!(allows_plain_http("[::1]:443", &[]));
        assert!(!allows_plain_http("quay.io", &[]));
        assert!(!allows_plain_http("127.0.0.2:5000", &[]));
        let ins = vec!["reg.lan:5000".to_string(), "other.lan".to_string()];
        assert!(allows_plain_http("reg.lan:5000", &ins));
        assert!(!allows_plain_http("reg.lan:6000", &ins));
        assert!(allows_plain_http("other.lan:1234", &ins));
    }
}
