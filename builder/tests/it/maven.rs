//! `--packages` downloads against real HTTP on 127.0.0.1 (and a `file://` directory):
//! checksums, retries, the content-addressed cache and offline rebuilds, errors.

use std::error::Error;
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use crate::common;
use crate::common::{assert_exit, noise, Fault, Ran, Server, Sparkimg};
use sha1::Digest as _;
use sparkimg::exit;
use sparkimg::http::RetryPolicy;
use sparkimg::maven::coordinate::parse_packages;
use sparkimg::maven::remote::{file_path, Remote};
use sparkimg::maven::settings::repositories;
use sparkimg::maven::{resolve, Coordinate, MavenError, PomSource, Request, Resolution};

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
    }
}

fn gav(s: &str) -> Coordinate {
    let f: Vec<&str> = s.split(':').collect();
    Coordinate::new(f[0], f[1], f[2])
}

/// Where a generated repository's files go: the loopback server, or a directory.
trait Publish {
    fn put_file(&self, rel: &str, body: Vec<u8>);

    /// A POM (`<dependencies>` of `deps`) and, with `jar`, its jar; each with a `.sha1`,
    /// and the jar also with a `.sha512`, so the strongest one is the one checked.
    fn module(&self, coordinate: &str, deps: &[&str], jar: bool) {
        let c = gav(coordinate);
        let mut body = String::from("<dependencies>");
        for d in deps {
            let d = gav(d);
            body.push_str(&format!(
                "<dependency><groupId>{}</groupId><artifactId>{}</artifactId><version>{}</version></dependency>",
                d.module.group, d.module.artifact, d.version
            ));
        }
        let pom = format!(
            "<project><groupId>{}</groupId><artifactId>{}</artifactId><version>{}</version>{body}</dependencies></project>",
            c.module.group, c.module.artifact, c.version
        );
        self.with_sums(&file_path(&c, "pom"), pom.into_bytes());
        if jar {
            self.with_sums(&file_path(&c, "jar"), noise(3000, c.version.len() as u64));
        }
    }

    fn with_sums(&self, rel: &str, body: Vec<u8>) {
        self.put_file(
            &format!("{rel}.sha1"),
            hex::encode(sha1::Sha1::digest(&body)).into_bytes(),
        );
        if rel.ends_with(".jar") {
            let sum = format!(
                "{}  {}\n",
                common::sha512_hex(&body),
                rel.rsplit('/').next().unwrap()
            );
            self.put_file(&format!("{rel}.sha512"), sum.into_bytes());
        }
        self.put_file(rel, body);
    }
}

impl Publish for Server {
    fn put_file(&self, rel: &str, body: Vec<u8>) {
        self.put(&format!("/m2/{rel}"), body);
    }
}

impl Publish for Path {
    fn put_file(&self, rel: &str, body: Vec<u8>) {
        let path = self.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
}

fn remote(root: &str, cache: &Path, insecure: bool) -> Remote {
    let repos = repositories(Some(root), &[], &[]).unwrap();
    Remote::new(repos, cache, insecure, policy()).unwrap()
}

fn request(packages: &str) -> Request {
    Request {
        packages: parse_packages(packages).unwrap(),
        ..Request::default()
    }
}

fn code(e: &MavenError) -> u8 {
    let e: &(dyn Error + 'static) = e;
    exit::classify(std::iter::successors(Some(e), |e| (*e).source()))
}

fn names(r: &Resolution) -> Vec<String> {
    r.artifacts.iter().map(|a| a.file_name()).collect()
}

#[test]
fn resolves_downloads_verifies_and_rebuilds_offline() {
    let server = Server::start();
    server.module("org.a:app:1.0", &["org.b:lib:2.0"], true);
    server.module("org.b:lib:2.0", &[], true);
    let cache = tempfile::tempdir().unwrap();
    let first = remote(&server.url("m2"), cache.path(), false);
    let res = resolve(&first, &request("org.a:app:1.0")).unwrap();
    assert_eq!(names(&res), ["org.a_app-1.0.jar", "org.b_lib-2.0.jar"]);
    let got = first.download(&res.artifacts).unwrap();
    assert_eq!(got.len(), 2);
    for f in &got {
        let bytes = std::fs::read(&f.path).unwrap();
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), f.sha256);
        assert_eq!(f.repository, server.url("m2/"));
        // The strongest checksum offered is the one fetched.
        let rel = format!("/m2/{}", f.artifact.repository_path());
        assert_eq!(server.seen(&format!("{rel}.sha512")).len(), 1);
        assert!(server.seen(&format!("{rel}.sha1")).is_empty());
    }
    // A second build: the same answer from the cache, not one request.
    let before = server.all_seen().len();
    let second = remote(&server.url("m2"), cache.path(), false);
    let again = resolve(&second, &request("org.a:app:1.0")).unwrap();
    assert_eq!(again, res);
    assert_eq!(second.download(&again.artifacts).unwrap(), got);
    assert_eq!(server.all_seen().len(), before);
}

#[test]
fn a_tampered_jar_fails_with_exit_3_naming_both_sums() {
    let server = Server::start();
    server.module("org.a:app:1.0", &[], true);
    let rel = file_path(&gav("org.a:app:1.0"), "jar");
    server.put(&format!("/m2/{rel}"), noise(3000, 99));
    let cache = tempfile::tempdir().unwrap();
    let r = remote(&server.url("m2"), cache.path(), false);
    let res = resolve(&r, &request("org.a:app:1.0")).unwrap();
    let e = r.download(&res.artifacts).unwrap_err();
    assert_eq!(code(&e), exit::VERIFICATION);
    let text = e.to_string();
    let expected = common::sha512_hex(&noise(3000, 3));
    let actual = common::sha512_hex(&noise(3000, 99));
    assert!(
        text.contains(&rel) && text.contains(&server.url("m2")),
        "{text}"
    );
    assert!(text.contains(&expected) && text.contains(&actual), "{text}");
    // Nothing unverified reaches the cache.
    assert!(!cache.path().join("maven/index").join(&rel).exists());
}

#[test]
fn server_errors_are_retried() {
    let server = Server::start();
    server.module("org.a:app:1.0", &[], true);
    let pom = format!("/m2/{}", file_path(&gav("org.a:app:1.0"), "pom"));
    server.fault(&pom, Fault::Status(500, None));
    let cache = tempfile::tempdir().unwrap();
    let r = remote(&server.url("m2"), cache.path(), false);
    let res = resolve(&r, &request("org.a:app:1.0")).unwrap();
    assert_eq!(names(&res), ["org.a_app-1.0.jar"]);
    let statuses: Vec<u16> = server.seen(&pom).iter().map(|s| s.status).collect();
    assert_eq!(statuses, [500, 200]);
}

#[test]
fn missing_checksums_are_refused_unless_told() {
    let server = Server::start();
    let rel = file_path(&gav("org.a:app:1.0"), "pom");
    server.put_file(
        &rel,
        b"<project><groupId>org.a</groupId></project>".to_vec(),
    );
    server.put_file(&file_path(&gav("org.a:app:1.0"), "jar"), noise(10, 1));
    let cache = tempfile::tempdir().unwrap();
    let e = resolve(
        &remote(&server.url("m2"), cache.path(), false),
        &request("org.a:app:1.0"),
    )
    .unwrap_err();
    assert_eq!(code(&e), exit::VERIFICATION, "{e}");
    assert!(sparkimg::report::chain(&e).contains(&rel), "{e}");
    let r = remote(&server.url("m2"), cache.path(), true);
    let res = resolve(&r, &request("org.a:app:1.0")).unwrap();
    assert_eq!(r.download(&res.artifacts).unwrap().len(), 1);
}

#[test]
fn missing_poms_and_modules() {
    let server = Server::start();
    server.module("org.a:app:1.0", &["org.b:nopom:1", "org.c:gone:1"], true);
    // A jar without a POM is a module without dependencies, as Ivy takes it.
    server.with_sums(&file_path(&gav("org.b:nopom:1"), "jar"), noise(10, 2));
    let cache = tempfile::tempdir().unwrap();
    let r = remote(&server.url("m2"), cache.path(), false);
    let e = resolve(&r, &request("org.a:app:1.0")).unwrap_err();
    assert_eq!(code(&e), exit::DOWNLOAD, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("org.c:gone:1")
            && text.contains("org.a:app:1.0")
            && text.contains(&server.url("m2")),
        "{text}"
    );
    server.module("org.c:gone:1", &[], true);
    let res = resolve(&r, &request("org.a:app:1.0")).unwrap();
    assert_eq!(
        names(&res),
        ["org.a_app-1.0.jar", "org.b_nopom-1.jar", "org.c_gone-1.jar"]
    );
}

#[test]
fn file_repositories() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    repo.as_path()
        .module("org.a:app:1.0", &["org.b:lib:2.0"], true);
    repo.as_path().module("org.b:lib:2.0", &[], true);
    let cache = tempfile::tempdir().unwrap();
    let url = url::Url::from_directory_path(&repo).unwrap().to_string();
    let r = remote(&url, cache.path(), false);
    let res = resolve(&r, &request("org.a:app:1.0")).unwrap();
    let got = r.download(&res.artifacts).unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|f| f.repository == url));
}

#[test]
fn an_unreachable_repository_is_passed_over() {
    let server = Server::start();
    server.module("org.a:app:1.0", &[], true);
    // A port nothing listens on, first in the list.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/m2/", dead.local_addr().unwrap());
    drop(dead);
    let repos = repositories(Some(&dead_url), &[server.url("m2/")], &[]).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let r = Remote::new(repos, cache.path(), false, policy()).unwrap();
    let res = resolve(&r, &request("org.a:app:1.0")).unwrap();
    assert_eq!(r.download(&res.artifacts).unwrap().len(), 1);
    // Found nowhere while one repository was unreachable: the network error is the answer.
    let e = resolve(&r, &request("org.x:none:1")).unwrap_err();
    assert_eq!(code(&e), exit::DOWNLOAD, "{e}");
    assert!(sparkimg::report::chain(&e).contains(&dead_url), "{e}");
}

/// A 403 for one file (S3-backed repositories say so for what they lack) is that file's
/// answer: the repository stays in the chain for the next one.
#[test]
fn a_repository_refusing_one_file_is_still_asked_for_the_next() {
    let server = Server::start();
    server.module("org.a:app:1.0", &[], true);
    let pom = file_path(&gav("org.a:app:1.0"), "pom");
    let jar = file_path(&gav("org.a:app:1.0"), "jar");
    server.fault(&format!("/s3/{pom}"), Fault::Status(403, None));
    let repos = repositories(Some(&server.url("s3/")), &[server.url("m2/")], &[]).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let r = Remote::new(repos, cache.path(), false, policy()).unwrap();
    let res = resolve(&r, &request("org.a:app:1.0")).unwrap();
    assert_eq!(r.download(&res.artifacts).unwrap().len(), 1);
    let seen = |p: &str| server.seen(&format!("/s3/{p}"));
    assert_eq!(seen(&pom).first().map(|s| s.status), Some(403));
    assert!(!seen(&jar).is_empty(), "skipped after its 403");
}

#[test]
fn credentials_go_in_a_header_and_are_never_printed() {
    use base64::Engine as _;
    let server = Server::start();
    server.module("org.a:app:1.0", &[], true);
    let basic = |u: &str, p: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    // From the URL (percent-encoded), then from settings.xml matched by the name repo-1.
    let with_user = server
        .url("m2/")
        .replace("http://", "http://al%40ice:s3cr%3At@");
    let settings = "<settings><servers><server><id>repo-1</id><username>bob</username>\
                    <password>hunter2</password></server></servers></settings>";
    let servers = sparkimg::maven::settings::servers(settings, "settings.xml").unwrap();
    // The default repositories: one on the same server that has nothing.
    let empty = server.url("empty/");
    for (given, servers, want) in [
        (with_user.as_str(), &[][..], basic("al@ice", "s3cr:t")),
        (
            server.url("m2/").as_str(),
            &servers[..],
            basic("bob", "hunter2"),
        ),
    ] {
        let repos = repositories(Some(&empty), &[given.to_string()], servers).unwrap();
        let cache = tempfile::tempdir().unwrap();
        let r = Remote::new(repos, cache.path(), false, policy()).unwrap();
        let res = resolve(&r, &request("org.a:app:1.0")).unwrap();
        r.download(&res.artifacts).unwrap();
        let jar = format!("/m2/{}", file_path(&gav("org.a:app:1.0"), "jar"));
        let seen = server.seen(&jar);
        assert_eq!(
            seen.last().unwrap().authorization.as_deref(),
            Some(want.as_str())
        );
        // An error about that repository shows its URL without the secret.
        let e = resolve(&r, &request("org.x:none:1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(&server.url("m2/")), "{e}");
        for secret in ["s3cr", "hunter2", "al%40ice"] {
            assert!(!e.contains(secret), "{e}");
        }
        assert!(!format!("{:?}", r.repositories()).contains("hunter2"));
    }
}

#[test]
fn the_packages_command_lists_what_an_image_would_get() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    repo.as_path()
        .module("org.a:app:1.0", &["org.b:lib:2.0"], true);
    repo.as_path().module("org.b:lib:2.0", &[], true);
    let url = url::Url::from_directory_path(&repo).unwrap().to_string();
    let run = |packages: &str| {
        Sparkimg::new()
            .args(["packages", "--json", "--packages", packages])
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .env("DEFAULT_ARTIFACT_REPOSITORY", &url)
            .run()
    };
    let out = run("org.a:app:1.0");
    let jars: serde_json::Value = out.json();
    let files: Vec<&str> = jars
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["org.a_app-1.0.jar", "org.b_lib-2.0.jar"]);
    assert_exit(&run("org.a:app"), exit::USAGE);
    let missing = run("org.a:gone:1");
    assert_exit(&missing, exit::DOWNLOAD);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("org.a:gone:1"));
}

/// A POM and a 200 kB jar whose only checksum is `.sha1` (the weakest the jar path
/// must still check) when `sha1_only`, else `.sha1` and `.sha512`.
fn big_jar(server: &Server, coordinate: &str, sha1_only: bool) -> (String, Vec<u8>) {
    server.module(coordinate, &[], false);
    let rel = file_path(&gav(coordinate), "jar");
    let body = noise(200_000, 7);
    if sha1_only {
        let sum = hex::encode(sha1::Sha1::digest(&body));
        server.put_file(&format!("{rel}.sha1"), sum.into_bytes());
        server.put_file(&rel, body.clone());
    } else {
        server.with_sums(&rel, body.clone());
    }
    (format!("/m2/{rel}"), body)
}

fn partials(cache: &Path) -> usize {
    std::fs::read_dir(cache.join("maven/partial")).map_or(0, |d| d.count())
}

#[test]
fn a_cut_jar_resumes_with_range_and_verifies() {
    let server = Server::start();
    let (jar, body) = big_jar(&server, "org.a:app:1.0", false);
    server.fault(&jar, Fault::TruncateAfter(70_000));
    let cache = tempfile::tempdir().unwrap();
    let r = remote(&server.url("m2"), cache.path(), false);
    let res = resolve(&r, &request("org.a:app:1.0")).unwrap();
    let got = r.download(&res.artifacts).unwrap();
    assert_eq!(std::fs::read(&got[0].path).unwrap(), body);
    let seen = server.seen(&jar);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!((seen[0].range.as_deref(), seen[0].served), (None, 70_000));
    assert_eq!(seen[1].range.as_deref(), Some("bytes=70000-"));
    assert_eq!((seen[1].status, seen[1].served), (206, 130_000));
    assert_eq!(partials(cache.path()), 0);
}

#[test]
fn a_server_ignoring_range_still_gives_a_verified_jar() {
    let server = Server::start();
    let (jar, body) = big_jar(&server, "org.a:app:1.0", true);
    server.fault(&jar, Fault::TruncateAfter(70_000));
    server.fault(&jar, Fault::IgnoreRange);
    let cache = tempfile::tempdir().unwrap();
    let r = remote(&server.url("m2"), cache.path(), false);
    let res = resolve(&r, &request("org.a:app:1.0")).unwrap();
    let got = r.download(&res.artifacts).unwrap();
    assert_eq!(std::fs::read(&got[0].path).unwrap(), body);
    let seen = server.seen(&jar);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].range.as_deref(), Some("bytes=70000-"));
    // The whole file again, from byte 0: the 70 kB kept are dropped, not prepended.
    assert_eq!((seen[1].status, seen[1].served), (200, 200_000));
    assert_eq!(partials(cache.path()), 0);
}

#[test]
fn a_jar_cut_in_a_failed_run_is_resumed_by_the_next_run() {
    let server = Server::start();
    let (jar, body) = big_jar(&server, "org.a:app:1.0", false);
    server.fault(&jar, Fault::TruncateAfter(90_000));
    let cache = tempfile::tempdir().unwrap();
    let repos = repositories(Some(&server.url("m2")), &[], &[]).unwrap();
    let once = RetryPolicy {
        max_attempts: 1,
        ..policy()
    };
    let first = Remote::new(repos.clone(), cache.path(), false, once).unwrap();
    let res = resolve(&first, &request("org.a:app:1.0")).unwrap();
    let e = first.download(&res.artifacts).unwrap_err();
    assert_eq!(code(&e), exit::DOWNLOAD, "{e}");
    assert_eq!(partials(cache.path()), 1);

    let second = Remote::new(repos, cache.path(), false, policy()).unwrap();
    let got = second.download(&res.artifacts).unwrap();
    assert_eq!(std::fs::read(&got[0].path).unwrap(), body);
    let seen = server.seen(&jar);
    assert_eq!(seen.last().unwrap().range.as_deref(), Some("bytes=90000-"));
    // Every byte crossed the wire once.
    assert_eq!(seen.iter().map(|s| s.served).sum::<u64>(), 200_000);
    assert_eq!(partials(cache.path()), 0);
}

#[test]
fn a_tampered_jar_is_not_resumed_from() {
    let server = Server::start();
    let (jar, body) = big_jar(&server, "org.a:app:1.0", false);
    server.put(&jar, noise(200_000, 8));
    let cache = tempfile::tempdir().unwrap();
    let r = remote(&server.url("m2"), cache.path(), false);
    let res = resolve(&r, &request("org.a:app:1.0")).unwrap();
    let e = r.download(&res.artifacts).unwrap_err();
    assert_eq!(code(&e), exit::VERIFICATION, "{e}");
    assert_eq!(partials(cache.path()), 0);
    // Fixed upstream: fetched whole, from byte 0.
    server.put(&jar, body.clone());
    let got = r.download(&res.artifacts).unwrap();
    assert_eq!(std::fs::read(&got[0].path).unwrap(), body);
    assert_eq!(server.seen(&jar).last().unwrap().range, None);
}

#[test]
fn cache_ls_and_prune_know_the_maven_files() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    repo.as_path()
        .module("org.a:app:1.0", &["org.b:lib:2.0"], true);
    repo.as_path().module("org.b:lib:2.0", &[], true);
    let url = url::Url::from_directory_path(&repo).unwrap().to_string();
    let cache = dir.path().join("cache");
    let run = |args: &[&str]| {
        let out = Sparkimg::new()
            .args(args)
            .arg("--cache-dir")
            .arg(&cache)
            .env("DEFAULT_ARTIFACT_REPOSITORY", &url)
            .run();
        out.json()
    };
    let entries = |ls: &serde_json::Value, kind: &str| {
        ls["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kind"] == kind)
            .map_or(0, |k| k["entries"].as_u64().unwrap())
    };
    run(&["packages", "--json", "--packages", "org.a:app:1.0"]);
    let ls = run(&["cache", "ls", "--json"]);
    // Two POMs and two jars whose bytes are equal (`module`'s noise is seeded by the
    // version's length), stored once; one index folder (`org`).
    assert_eq!(entries(&ls, "maven-files"), 3, "{ls}");
    assert_eq!(entries(&ls, "maven-index"), 1, "{ls}");
    run(&["cache", "prune", "--all", "--json"]);
    let ls = run(&["cache", "ls", "--json"]);
    assert_eq!(entries(&ls, "maven-files"), 0, "{ls}");
    assert_eq!(entries(&ls, "maven-index"), 0, "{ls}");
    let jars = run(&["packages", "--json", "--packages", "org.a:app:1.0"]);
    assert_eq!(jars.as_array().map(Vec::len), Some(2));
}

/// A real kill: `sparkimg packages` killed while a jar's body is stalled half-way; the
/// next run asks only for the rest.
#[test]
fn a_jar_cut_by_a_kill_is_resumed_by_the_next_run() {
    let server = Server::start();
    let (jar, body) = big_jar(&server, "org.a:app:1.0", false);
    // Longer than the run's read timeout: the kill comes first.
    server.fault(&jar, Fault::StallAfter(80_000, Duration::from_secs(600)));
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let run = || {
        Sparkimg::new()
            .args(["packages", "--json", "--packages", "org.a:app:1.0"])
            .arg("--cache-dir")
            .arg(&cache)
            .env("DEFAULT_ARTIFACT_REPOSITORY", server.url("m2/"))
    };
    let mut child = run().command().spawn().unwrap();
    // Generous under load; returns as soon as the 80 kB are on disk.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let partial_len = || {
        std::fs::read_dir(cache.join("maven/partial"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .max()
    };
    while partial_len() != Some(80_000) {
        assert!(
            std::time::Instant::now() < deadline,
            "no 80 kB partial jar: {:?}",
            server.seen(&jar)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let jars = run().json();
    let sha = hex::encode(sha2::Sha256::digest(&body));
    assert_eq!(jars[0]["sha256"], sha.as_str());
    let seen = server.seen(&jar);
    assert_eq!(seen.last().unwrap().range.as_deref(), Some("bytes=80000-"));
    assert_eq!(seen.last().unwrap().served, 120_000);
    assert_eq!(partials(&cache), 0);
}

#[test]
fn a_jar_answered_500_then_200_is_retried() {
    let server = Server::start();
    let (jar, body) = big_jar(&server, "org.a:app:1.0", false);
    server.fault(&jar, Fault::Status(500, None));
    let cache = tempfile::tempdir().unwrap();
    let r = remote(&server.url("m2"), cache.path(), false);
    let res = resolve(&r, &request("org.a:app:1.0")).unwrap();
    let got = r.download(&res.artifacts).unwrap();
    assert_eq!(std::fs::read(&got[0].path).unwrap(), body);
    let statuses: Vec<u16> = server.seen(&jar).iter().map(|s| s.status).collect();
    assert_eq!(statuses, [500, 200]);
}
