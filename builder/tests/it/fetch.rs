//! `sparkimg fetch` against real HTTP on 127.0.0.1, with fault injection.

use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::common::{gpg_style, noise, sha512_hex, sha512sum_line, spark_tgz, Fault, Server};
use sparkimg::fetch::{fetch, DistSpec, FetchError, FetchOptions, ProgressMode, RetryPolicy};

const V: &str = "3.5.3";
const FILE: &str = "spark-3.5.3-bin-hadoop3.tgz";
const TGZ: &str = "/m/spark-3.5.3/spark-3.5.3-bin-hadoop3.tgz";
const SHA: &str = "/m/spark-3.5.3/spark-3.5.3-bin-hadoop3.tgz.sha512";

fn opts(cache: &Path, mirrors: &[String]) -> FetchOptions {
    let mut o = FetchOptions::new(cache);
    o.mirrors = mirrors.to_vec();
    o.progress = ProgressMode::Lines;
    o.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(500),
    };
    o
}

fn release() -> DistSpec {
    DistSpec::Release {
        version: V.parse().unwrap(),
        hadoop: None,
        scala: None,
    }
}

/// A server with a valid 3.5.3 tarball and sha512sum-style checksum under `/m/`.
fn serve() -> (Server, Vec<u8>) {
    let s = Server::start();
    let tgz = spark_tgz(V, "hadoop3");
    s.put(SHA, sha512sum_line(&tgz, FILE));
    s.put(TGZ, tgz.clone());
    (s, tgz)
}

fn assert_spark_home(p: &Path) {
    let submit = p.join("bin/spark-submit");
    let mode = fs::metadata(&submit)
        .expect("bin/spark-submit")
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "spark-submit must stay executable");
    assert!(p.join("jars/spark-core_2.13.jar").is_file());
    assert!(p.join("RELEASE").is_file());
}

fn names_in(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Nothing that a later run would trust: no blob, no extracted tree, no index entry,
/// no extraction leftovers.
fn assert_cache_clean(cache: &Path) {
    for d in ["blobs/sha512", "dists", "index", "tmp"] {
        assert!(
            names_in(&cache.join(d)).is_empty(),
            "{d} not empty: {:?}",
            names_in(&cache.join(d))
        );
    }
}

fn tgz_bytes_served(s: &Server) -> u64 {
    s.seen(TGZ).iter().map(|r| r.served).sum()
}

#[test]
fn fetches_verifies_extracts_and_indexes() {
    let (s, tgz) = serve();
    let cache = tempfile::tempdir().unwrap();
    let got = fetch(&release(), &opts(cache.path(), &[s.url("m/")])).unwrap();
    assert_eq!(got.file, FILE);
    assert_eq!(got.sha512, sha512_hex(&tgz));
    assert_eq!(got.bytes, tgz.len() as u64);
    assert!(got.verified && !got.cached);
    assert_eq!(got.path, cache.path().join("dists").join(&got.sha512));
    assert_spark_home(&got.path);
    assert!(cache
        .path()
        .join("blobs/sha512")
        .join(&got.sha512)
        .is_file());
    assert_eq!(s.seen(TGZ).len(), 1);
}

#[test]
fn accepts_gpg_style_checksum() {
    let (s, tgz) = serve();
    s.put(SHA, gpg_style(&tgz, FILE));
    let cache = tempfile::tempdir().unwrap();
    let got = fetch(&release(), &opts(cache.path(), &[s.url("m/")])).unwrap();
    assert_eq!(got.sha512, sha512_hex(&tgz));
}

#[test]
fn second_fetch_works_offline_from_cache() {
    let (mut s, _) = serve();
    let cache = tempfile::tempdir().unwrap();
    let o = opts(cache.path(), &[s.url("m/")]);
    let first = fetch(&release(), &o).unwrap();
    s.stop();
    let before = s.all_seen().len();
    let second = fetch(&release(), &o).unwrap();
    assert!(second.cached);
    assert_eq!(second.path, first.path);
    assert_eq!(s.all_seen().len(), before);
}

#[test]
fn truncated_body_resumes_with_range() {
    let (s, tgz) = serve();
    s.fault(TGZ, Fault::TruncateAfter(100_000));
    let cache = tempfile::tempdir().unwrap();
    let got = fetch(&release(), &opts(cache.path(), &[s.url("m/")])).unwrap();
    assert_spark_home(&got.path);
    let seen = s.seen(TGZ);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].range.as_deref(), Some("bytes=100000-"));
    assert_eq!(seen[1].status, 206);
    // Every byte crossed the wire exactly once.
    assert_eq!(tgz_bytes_served(&s), tgz.len() as u64);
}

#[test]
fn interrupted_run_is_resumed_by_the_next_run() {
    let (s, tgz) = serve();
    s.fault(TGZ, Fault::TruncateAfter(150_000));
    let cache = tempfile::tempdir().unwrap();
    let mut o = opts(cache.path(), &[s.url("m/")]);
    o.retry.max_attempts = 1;
    let err = fetch(&release(), &o).unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Download(sparkimg::http::DownloadError::Transient { .. })
        ),
        "{err}"
    );
    assert_cache_clean(cache.path());

    o.retry.max_attempts = 3;
    let got = fetch(&release(), &o).unwrap();
    assert_spark_home(&got.path);
    let seen = s.seen(TGZ);
    assert_eq!(seen.last().unwrap().range.as_deref(), Some("bytes=150000-"));
    assert_eq!(tgz_bytes_served(&s), tgz.len() as u64);
}

#[test]
fn connection_reset_is_retried() {
    let (s, _) = serve();
    s.reset_next(1);
    let cache = tempfile::tempdir().unwrap();
    let got = fetch(&release(), &opts(cache.path(), &[s.url("m/")])).unwrap();
    assert_spark_home(&got.path);
}

#[test]
fn server_error_then_success() {
    let (s, _) = serve();
    s.fault(TGZ, Fault::Status(500, None));
    let cache = tempfile::tempdir().unwrap();
    fetch(&release(), &opts(cache.path(), &[s.url("m/")])).unwrap();
    let statuses: Vec<u16> = s.seen(TGZ).iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![500, 200]);
}

#[test]
fn too_many_requests_honours_retry_after() {
    let (s, _) = serve();
    s.fault(TGZ, Fault::Status(429, Some("1")));
    let cache = tempfile::tempdir().unwrap();
    let t = Instant::now();
    fetch(&release(), &opts(cache.path(), &[s.url("m/")])).unwrap();
    // The policy's own backoff is 10 ms; only Retry-After explains a second's wait.
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn not_found_fails_over_to_next_mirror_at_once() {
    let (s, _) = serve();
    let cache = tempfile::tempdir().unwrap();
    let got = fetch(
        &release(),
        &opts(cache.path(), &[s.url("empty/"), s.url("m/")]),
    )
    .unwrap();
    assert_spark_home(&got.path);
    let empty: Vec<_> = s
        .all_seen()
        .into_iter()
        .filter(|r| r.path.starts_with("/empty/"))
        .collect();
    // The checksum GET and one HEAD for the tarball, no retries.
    assert_eq!(empty.len(), 2, "a 404 is not retried: {empty:?}");
    assert!(empty.iter().all(|r| r.status == 404));
}

#[test]
fn persistent_5xx_fails_over_after_retries() {
    let (s, tgz) = serve();
    let bad_tgz = "/bad/spark-3.5.3/spark-3.5.3-bin-hadoop3.tgz";
    s.put(&format!("{bad_tgz}.sha512"), sha512sum_line(&tgz, FILE));
    for _ in 0..3 {
        s.fault(bad_tgz, Fault::Status(503, None));
    }
    let cache = tempfile::tempdir().unwrap();
    let got = fetch(
        &release(),
        &opts(cache.path(), &[s.url("bad/"), s.url("m/")]),
    )
    .unwrap();
    assert_eq!(s.seen(bad_tgz).len(), 3);
    assert!(got.source.contains("/m/"));
}

#[test]
fn stalled_body_times_out_and_resumes() {
    let (s, tgz) = serve();
    s.fault(TGZ, Fault::StallAfter(50_000, Duration::from_millis(1500)));
    let cache = tempfile::tempdir().unwrap();
    let got = fetch(&release(), &opts(cache.path(), &[s.url("m/")])).unwrap();
    assert_eq!(got.sha512, sha512_hex(&tgz));
    let seen = s.seen(TGZ);
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=50000-"));
}

#[test]
fn ignored_range_restarts_from_zero() {
    let (s, tgz) = serve();
    s.fault(TGZ, Fault::TruncateAfter(100_000));
    s.fault(TGZ, Fault::IgnoreRange);
    let cache = tempfile::tempdir().unwrap();
    let got = fetch(&release(), &opts(cache.path(), &[s.url("m/")])).unwrap();
    assert_eq!(got.sha512, sha512_hex(&tgz));
    let seen = s.seen(TGZ);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=100000-"));
    assert_eq!(seen[1].status, 200);
    assert_spark_home(&got.path);
}

#[test]
fn wrong_checksum_is_an_error_and_leaves_nothing() {
    let (s, _) = serve();
    let wrong = noise(10, 9);
    s.put(SHA, sha512sum_line(&wrong, FILE));
    let cache = tempfile::tempdir().unwrap();
    let err = fetch(&release(), &opts(cache.path(), &[s.url("m/")])).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, FetchError::ChecksumMismatch { .. }), "{msg}");
    assert!(
        msg.contains(&sha512_hex(&wrong)) && msg.contains(TGZ) && err.hint().is_some(),
        "{msg}"
    );
    assert!(err.is_verification_failure());
    assert_cache_clean(cache.path());
    assert!(names_in(&cache.path().join("partial")).is_empty());
}

#[test]
fn missing_or_garbage_checksum_needs_insecure_flag() {
    let s = Server::start();
    let tgz = spark_tgz(V, "hadoop3");
    s.put(TGZ, tgz);
    let cache = tempfile::tempdir().unwrap();
    let mut o = opts(cache.path(), &[s.url("m/")]);
    let err = fetch(&release(), &o).unwrap_err();
    assert!(matches!(err, FetchError::ChecksumMissing { .. }), "{err}");
    s.put(SHA, b"<html>oops</html>".to_vec());
    let err = fetch(&release(), &o).unwrap_err();
    assert!(
        matches!(err, FetchError::ChecksumUnparsable { .. }),
        "{err}"
    );
    assert_cache_clean(cache.path());

    o.insecure_skip_verify = true;
    let got = fetch(&release(), &o).unwrap();
    assert!(!got.verified);
    assert_spark_home(&got.path);
    // A verifying fetch does not trust what an insecure one cached.
    o.insecure_skip_verify = false;
    assert!(fetch(&release(), &o).is_err());
}

#[test]
fn concurrent_fetches_download_once() {
    let (s, tgz) = serve();
    let cache = tempfile::tempdir().unwrap();
    let o = Arc::new(opts(cache.path(), &[s.url("m/")]));
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (o, b) = (o.clone(), barrier.clone());
            std::thread::spawn(move || {
                b.wait();
                fetch(&release(), &o)
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    assert_eq!(results[0].path, results[1].path);
    assert_eq!(s.seen(TGZ).len(), 1);
    assert_eq!(tgz_bytes_served(&s), tgz.len() as u64);
}

#[test]
fn dist_local_file_and_url() {
    let tgz = spark_tgz("3.4.4", "hadoop3");
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("spark-3.4.4-bin-hadoop3.tgz");
    fs::write(&local, &tgz).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let o = opts(cache.path(), &[]);
    let spec = DistSpec::Dist(local.display().to_string());
    let err = fetch(&spec, &o).unwrap_err();
    assert!(matches!(err, FetchError::ChecksumMissing { .. }), "{err}");
    fs::write(
        dir.path().join("spark-3.4.4-bin-hadoop3.tgz.sha512"),
        gpg_style(&tgz, "spark-3.4.4-bin-hadoop3.tgz"),
    )
    .unwrap();
    let got = fetch(&spec, &o).unwrap();
    assert_spark_home(&got.path);

    let s = Server::start();
    s.put("/x/custom.tgz", tgz.clone());
    s.put("/x/custom.tgz.sha512", sha512sum_line(&tgz, "custom.tgz"));
    let cache2 = tempfile::tempdir().unwrap();
    let got = fetch(
        &DistSpec::Dist(s.url("x/custom.tgz")),
        &opts(cache2.path(), &[]),
    )
    .unwrap();
    assert_spark_home(&got.path);
    assert_eq!(got.sha512, sha512_hex(&tgz));
}

#[test]
fn checksum_retry_after_is_honoured() {
    let (s, _) = serve();
    s.fault(SHA, Fault::Status(503, Some("1")));
    let cache = tempfile::tempdir().unwrap();
    let t = Instant::now();
    fetch(&release(), &opts(cache.path(), &[s.url("m/")])).unwrap();
    let statuses: Vec<u16> = s.seen(SHA).iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![503, 200]);
    // The policy's own backoff is 10 ms; only Retry-After explains a second's wait.
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn failover_continues_the_partial_download_on_the_next_mirror() {
    let (s, tgz) = serve();
    let bad_tgz = "/bad/spark-3.5.3/spark-3.5.3-bin-hadoop3.tgz";
    s.put(&format!("{bad_tgz}.sha512"), sha512sum_line(&tgz, FILE));
    s.put(bad_tgz, tgz.clone());
    s.fault(bad_tgz, Fault::TruncateAfter(120_000));
    s.fault(bad_tgz, Fault::Status(503, None));
    s.fault(bad_tgz, Fault::Status(503, None));
    let cache = tempfile::tempdir().unwrap();
    let got = fetch(
        &release(),
        &opts(cache.path(), &[s.url("bad/"), s.url("m/")]),
    )
    .unwrap();
    assert_eq!(got.sha512, sha512_hex(&tgz));
    assert!(got.source.contains("/m/"), "{}", got.source);
    let bad: Vec<(Option<String>, u16)> = s
        .seen(bad_tgz)
        .into_iter()
        .map(|r| (r.range, r.status))
        .collect();
    let resumed = Some("bytes=120000-".to_string());
    assert_eq!(
        bad,
        vec![(None, 200), (resumed.clone(), 503), (resumed.clone(), 503)]
    );
    let good = s.seen(TGZ);
    assert_eq!(good.len(), 1, "{good:?}");
    assert_eq!((good[0].range.clone(), good[0].status), (resumed, 206));
    let served: u64 = s.seen(bad_tgz).iter().map(|r| r.served).sum::<u64>() + good[0].served;
    assert_eq!(served, tgz.len() as u64, "every byte crossed the wire once");
}

/// A self-signed certificate for 127.0.0.1 and its key, trusted by nobody. Generated
/// once (`openssl req -x509 -newkey ec …`); embedded so the test needs no tool.
const UNTRUSTED_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBkDCCATagAwIBAgIUbwDNtzXKZ9jTM/1hVhsynL7VWVgwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTIwMTE0MTk1N1oYDzIxMjYxMTA3
MTQxOTU3WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATSVGbT0ec/3+rbm02VnUjcBvAbL1BeIsNBWpwpmDZSDLxC3YZaTzr2
gKabb7y1Sik3xypTPheZwhz1k6QjXhrko2QwYjAdBgNVHQ4EFgQUesoWsclWhD2i
aUa1UBbrUAXYow0wHwYDVR0jBBgwFoAUesoWsclWhD2iaUa1UBbrUAXYow0wDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0gAMEUC
IHKn3hAjlhjFJlEMTVQTIdq6/a3SPeUnnKeZrJJzuUpnAiEAxO6izy1lGuIyLtJ8
MUmWpWqEWsbs1VV12ZgUwKw108M=
-----END CERTIFICATE-----
";
const UNTRUSTED_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFd3YpW/P0ckxKzlA
2tZ6HNTKN7AEGA2ufUa11TR3EU+hRANCAATSVGbT0ec/3+rbm02VnUjcBvAbL1Be
IsNBWpwpmDZSDLxC3YZaTzr2gKabb7y1Sik3xypTPheZwhz1k6QjXhrk
-----END PRIVATE KEY-----
";

/// An HTTPS listener on 127.0.0.1 presenting [`UNTRUSTED_CERT`]; counts connections.
struct UntrustedTls {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl UntrustedTls {
    fn start() -> UntrustedTls {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let cert = CertificateDer::from_pem_slice(UNTRUSTED_CERT.as_bytes()).unwrap();
        let key = PrivateKeyDer::from_pem_slice(UNTRUSTED_KEY.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        // Detached: it lives as long as the test process, which is short.
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let Ok(tls) = rustls::ServerConnection::new(config.clone()) else {
                    continue;
                };
                let mut stream = rustls::StreamOwned::new(tls, conn);
                // Drives the handshake, which the client aborts at our certificate.
                let _ = stream.read(&mut [0u8; 1024]);
            }
        });
        UntrustedTls { port, connections }
    }

    fn url(&self, prefix: &str) -> String {
        format!("https://127.0.0.1:{}/{prefix}", self.port)
    }
}

#[test]
fn untrusted_certificate_fails_over_at_once() {
    let (s, _) = serve();
    let tls = UntrustedTls::start();
    let cache = tempfile::tempdir().unwrap();
    let mut o = opts(cache.path(), &[tls.url("m/")]);
    // Retrying a refused certificate would take seconds; it must not be retried.
    o.retry.base_delay = Duration::from_secs(5);
    let t = Instant::now();
    let err = fetch(&release(), &o).unwrap_err();
    let msg = sparkimg::report::chain(&err);
    assert!(
        matches!(
            err,
            FetchError::Download(sparkimg::http::DownloadError::Transient { attempts: 1, .. })
        ),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");
    assert_eq!(tls.connections.load(Ordering::SeqCst), 1);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());

    o.mirrors = vec![tls.url("m/"), s.url("m/")];
    let got = fetch(&release(), &o).unwrap();
    assert!(got.source.contains(&s.url("m/")), "{}", got.source);
    assert_eq!(tls.connections.load(Ordering::SeqCst), 2);
}

#[test]
fn partial_longer_than_the_file_gets_416_and_restarts_from_zero() {
    let (s, tgz) = serve();
    let cache = tempfile::tempdir().unwrap();
    // Left by an earlier run against a different copy: longer than this mirror's file.
    let partial = cache
        .path()
        .join("partial")
        .join(format!("sha512-{}.part", sha512_hex(&tgz)));
    fs::create_dir_all(partial.parent().unwrap()).unwrap();
    fs::write(&partial, noise(tgz.len() + 10, 3)).unwrap();
    let got = fetch(&release(), &opts(cache.path(), &[s.url("m/")])).unwrap();
    assert_eq!(got.sha512, sha512_hex(&tgz));
    assert_spark_home(&got.path);
    let seen: Vec<(Option<String>, u16)> = s
        .seen(TGZ)
        .into_iter()
        .map(|r| (r.range, r.status))
        .collect();
    let asked = format!("bytes={}-", tgz.len() + 10);
    assert_eq!(seen, vec![(Some(asked), 416), (None, 200)]);
}
