//! OS-package layers against a loopback apt repository generated here: a key made with
//! the `pgp` crate, a clear-signed `InRelease`, a gzip `Packages` index and small
//! `.deb`s, served on 127.0.0.1. Checks the layer (files, dpkg status, info lists), the
//! cache (a rebuild downloads no index and no package), and every refusal with its exit
//! code: unsigned or wrongly signed repositories and tampered indexes or packages (3), a
//! package that does not exist, an unsatisfiable dependency and a base that is not
//! Debian (6), and a bad name with an unreachable registry base (2, at once).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::{assert_exit, Ran, Server, Sparkimg};
use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, KeyType, SecretKeyParamsBuilder, SignedPublicKey,
    SignedSecretKey,
};
use pgp::types::Password;
use sha2::{Digest, Sha256};
use sparkimg::exit;

fn key() -> SignedSecretKey {
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id("sparkimg test repository <test@example.invalid>".into());
    let mut rng = rand::thread_rng();
    let key = params.build().unwrap().generate(&mut rng).unwrap();
    key.sign(&mut rng, &Password::from("")).unwrap()
}

fn armored_public(k: &SignedSecretKey) -> String {
    SignedPublicKey::from(k.clone())
        .to_armored_string(ArmorOptions::default())
        .unwrap()
}

fn tar_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data, mode) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(*mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        if path.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            b.append_data(&mut h, path, &b""[..]).unwrap();
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, path, *data).unwrap();
        }
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// A `.deb` as dpkg-deb writes one: debian-binary, control.tar.gz, data.tar.gz.
fn deb(control: &str, files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let ctl = gzip(&tar_of(&[("./control", control.as_bytes(), 0o644)]));
    let data = gzip(&tar_of(files));
    let mut ar = ar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("debian-binary", &b"2.0\n"[..]),
        ("control.tar.gz", &ctl[..]),
        ("data.tar.gz", &data[..]),
    ] {
        ar.append(
            &ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64),
            bytes,
        )
        .unwrap();
    }
    ar.into_inner().unwrap()
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The repository: `hello` (depends on `libhello (>= 1.0)`), `libhello`, and `needy`
/// (depends on a `libhello` version nobody has).
struct Repo {
    server: Server,
    key: SignedSecretKey,
    packages_gz: Vec<u8>,
}

const HELLO_CONTROL: &str = "Package: hello\nVersion: 1.0-1\nArchitecture: all\nDepends: libhello (>= 1.0) | libhello-ng\nDescription: greets\n in two lines\n";

fn repo() -> Repo {
    let server = Server::start();
    let key = key();
    let debs = [
        (
            "hello",
            deb(
                HELLO_CONTROL,
                &[
                    ("./", b"", 0o755),
                    ("./usr/", b"", 0o755),
                    ("./usr/bin/", b"", 0o755),
                    ("./usr/bin/hello", b"#!/bin/sh\necho hello\n", 0o755),
                ],
            ),
            "Depends: libhello (>= 1.0) | libhello-ng\n",
        ),
        (
            "libhello",
            deb(
                "Package: libhello\nVersion: 1.2\nArchitecture: all\nDescription: lib\n",
                &[
                    ("./usr/", b"", 0o755),
                    ("./usr/lib/", b"", 0o755),
                    ("./usr/lib/libhello.so.1", b"ELF", 0o644),
                ],
            ),
            "",
        ),
        (
            "needy",
            deb(
                "Package: needy\nVersion: 1\nArchitecture: all\nDescription: x\n",
                &[("./usr/share/needy", b"x", 0o644)],
            ),
            "Depends: hello, libhello (>= 9)\n",
        ),
    ];
    let mut index = String::new();
    for (name, bytes, depends) in &debs {
        let path = format!("pool/main/{name}_all.deb");
        let version = if *name == "libhello" { "1.2" } else { "1.0-1" };
        index.push_str(&format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\n{depends}Filename: {path}\nSize: {}\nSHA256: {}\nDescription: test\n\n",
            bytes.len(),
            sha256(bytes)
        ));
        server.put(&format!("/repo/{path}"), bytes.clone());
    }
    let packages_gz = gzip(index.as_bytes());
    server.put(
        "/repo/dists/stable/main/binary-amd64/Packages.gz",
        packages_gz.clone(),
    );
    let r = Repo {
        server,
        key,
        packages_gz,
    };
    r.publish_release(&r.key.clone());
    r
}

impl Repo {
    fn release_text(&self) -> String {
        format!(
            "Origin: test\nSuite: stable\nArchitectures: amd64\nComponents: main\nSHA256:\n {} {} main/binary-amd64/Packages.gz\n",
            sha256(&self.packages_gz),
            self.packages_gz.len()
        )
    }

    fn publish_release(&self, signer: &SignedSecretKey) {
        let signed = CleartextSignedMessage::sign(
            rand::thread_rng(),
            &self.release_text(),
            &signer.primary_key,
            &Password::from(""),
        )
        .unwrap()
        .to_armored_string(ArmorOptions::default())
        .unwrap();
        self.server
            .put("/repo/dists/stable/InRelease", signed.into_bytes());
    }

    fn sources_line(&self) -> String {
        format!("deb {} stable main\n", self.server.url("repo"))
    }
}

/// A Debian-like base: fake Java, dpkg status, the repository in sources.list and its
/// key in trusted.gpg.d. `debian: false` leaves out dpkg and apt entirely.
fn base(dir: &Path, repo: &Repo, debian: bool) -> PathBuf {
    let status =
        "Package: base-files\nStatus: install ok installed\nVersion: 12.4\nArchitecture: amd64\n";
    let sources = repo.sources_line();
    let key = armored_public(&repo.key);
    let mut entries: Vec<(&str, &[u8], u32)> = vec![
        ("etc/", b"", 0o755),
        ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644),
        ("usr/lib/jvm/java-17/bin/java", b"#!/bin/sh\n", 0o755),
    ];
    if debian {
        entries.extend([
            ("var/lib/dpkg/status", status.as_bytes(), 0o644),
            ("etc/apt/sources.list", sources.as_bytes(), 0o644),
            ("etc/apt/trusted.gpg.d/test.asc", key.as_bytes(), 0o644),
        ]);
    }
    let path = dir.join(if debian { "base.tar" } else { "plain.tar" });
    fs::write(&path, tar_of(&entries)).unwrap();
    path
}

/// A base whose source is a deb822 `.sources` file with `Signed-By:` a binary keyring
/// holding `signed_by`, while `trusted.gpg.d/` holds `global`.
fn base_deb822(
    dir: &Path,
    repo: &Repo,
    signed_by: &SignedSecretKey,
    global: &SignedSecretKey,
) -> PathBuf {
    use pgp::ser::Serialize;
    let status = "Package: base-files\nStatus: install ok installed\nVersion: 12.4\n";
    let sources = format!(
        "Types: deb\nURIs: {}\nSuites: stable\nComponents: main\nSigned-By: /usr/share/keyrings/test.gpg\n",
        repo.server.url("repo")
    );
    let keyring = SignedPublicKey::from(signed_by.clone()).to_bytes().unwrap();
    let global = armored_public(global);
    let entries: Vec<(&str, &[u8], u32)> = vec![
        ("usr/lib/jvm/java-17/bin/java", b"#!/bin/sh\n", 0o755),
        ("var/lib/dpkg/status", status.as_bytes(), 0o644),
        (
            "etc/apt/sources.list.d/test.sources",
            sources.as_bytes(),
            0o644,
        ),
        ("usr/share/keyrings/test.gpg", &keyring, 0o644),
        ("etc/apt/trusted.gpg.d/other.asc", global.as_bytes(), 0o644),
    ];
    let path = dir.join("base822.tar");
    fs::write(&path, tar_of(&entries)).unwrap();
    path
}

#[test]
fn deb822_signed_by_a_binary_keyring_is_the_only_key() {
    let repo = repo();
    let run = Run::new();
    let stranger = key();
    // The repository's key, as a binary keyring named by Signed-By: accepted.
    let good = base_deb822(run.dir.path(), &repo, &repo.key, &stranger);
    let rep = report(&run.build(&good, &["--apt-packages", "hello"]));
    let (_, entries) = os_layer(&run, &rep);
    assert_eq!(file(&entries, "usr/bin/hello"), b"#!/bin/sh\necho hello\n");
    // Signed-By names another key: refused although trusted.gpg.d has the right one.
    let bad = base_deb822(run.dir.path(), &repo, &stranger, &repo.key);
    let o = run.build(&bad, &["--apt-packages", "hello"]);
    assert_exit(&o, exit::VERIFICATION);
    assert!(
        stderr(&o).contains("bad OpenPGP signature"),
        "{}",
        stderr(&o)
    );
}

fn dist(dir: &Path) -> PathBuf {
    let home = dir.join("spark");
    for (p, b) in [
        ("jars/spark-core_2.12-3.5.3.jar", &b"PK core"[..]),
        ("bin/spark-submit", b"#!/bin/sh\n"),
        ("python/pyspark/__init__.py", b"#\n"),
        ("RELEASE", b"Spark 3.5.3 built for Hadoop 3.3.4\n"),
    ] {
        let f = home.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, b).unwrap();
    }
    fs::write(dir.join("entrypoint"), b"#!/bin/sh\n").unwrap();
    home
}

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Run {
        Run {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn build(&self, base: &Path, extra: &[&str]) -> Output {
        let d = self.dir.path();
        let home = if d.join("spark").is_dir() {
            d.join("spark")
        } else {
            dist(d)
        };
        let out = d.join("out");
        let _ = fs::remove_dir_all(&out);
        Sparkimg::new()
            .arg("build")
            .arg("--spark-home")
            .arg(&home)
            .arg("--base")
            .arg(format!("rootfs:{}", base.display()))
            .args(["--repo", "localhost/apt-test", "--tag", "1", "--json"])
            .arg("--entrypoint-binary")
            .arg(d.join("entrypoint"))
            .arg("--cache-dir")
            .arg(d.join("cache"))
            .arg("--output")
            .arg(format!("oci:{}", out.display()))
            .args(extra)
            .run()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn report(o: &Output) -> serde_json::Value {
    o.json()
}

/// The os-packages layer of a build: (cached, path → (mode, contents)).
fn os_layer(run: &Run, rep: &serde_json::Value) -> (bool, Vec<(String, u32, Vec<u8>)>) {
    let layers = rep["layers"].as_array().unwrap();
    let l = layers
        .iter()
        .find(|l| l["name"] == "os-packages")
        .unwrap_or_else(|| panic!("no os-packages layer in {rep}"));
    assert_eq!(layers[0]["name"], "os-packages", "right after the base");
    let digest = l["digest"].as_str().unwrap().trim_start_matches("sha256:");
    let blob = run.dir.path().join("out/blobs/sha256").join(digest);
    let mut t = tar::Archive::new(flate2::read::GzDecoder::new(fs::File::open(blob).unwrap()));
    let mut out = Vec::new();
    for e in t.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let mode = e.header().mode().unwrap();
        // SOURCE_DATE_EPOCH (unset: 0), not the packages' own mtimes.
        assert_eq!(e.header().mtime().unwrap(), 0, "{path}");
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push((path, mode, data));
    }
    (l["cached"].as_bool().unwrap(), out)
}

fn file<'a>(entries: &'a [(String, u32, Vec<u8>)], path: &str) -> &'a [u8] {
    &entries
        .iter()
        .find(|(p, _, _)| p == path)
        .unwrap_or_else(|| panic!("no {path} in the layer"))
        .2
}

#[test]
fn packages_layer_from_a_signed_repository_and_cached() {
    let repo = repo();
    let run = Run::new();
    let base = base(run.dir.path(), &repo, true);
    let rep = report(&run.build(&base, &["--apt-packages", "hello"]));
    let (cached, entries) = os_layer(&run, &rep);
    assert!(!cached);
    assert_eq!(file(&entries, "usr/bin/hello"), b"#!/bin/sh\necho hello\n");
    assert_eq!(file(&entries, "usr/lib/libhello.so.1"), b"ELF");
    let mode = entries
        .iter()
        .find(|(p, _, _)| p == "usr/bin/hello")
        .unwrap()
        .1;
    assert_eq!(mode, 0o755);
    let status = String::from_utf8(file(&entries, "var/lib/dpkg/status").to_vec()).unwrap();
    assert!(
        status.starts_with("Package: base-files\nStatus: install ok installed\n"),
        "{status}"
    );
    assert!(
        status.contains("Package: hello\nStatus: install ok installed\nVersion: 1.0-1\n"),
        "{status}"
    );
    assert!(
        status.contains("Description: greets\n in two lines\n"),
        "{status}"
    );
    assert!(status.contains("Package: libhello\nStatus: install ok installed\nVersion: 1.2\n"));
    assert_eq!(
        file(&entries, "var/lib/dpkg/info/hello.list"),
        b"/.\n/usr\n/usr/bin\n/usr/bin/hello\n"
    );
    // Sorted, parents first.
    let paths: Vec<&str> = entries
        .iter()
        .map(|(p, _, _)| p.trim_end_matches('/'))
        .collect();
    let mut sorted = paths.clone();
    sorted.sort_by(|a, b| a.split('/').cmp(b.split('/')));
    assert_eq!(paths, sorted);

    // A rebuild: the InRelease again, but no index and no package downloaded.
    let before = repo.server.all_seen().len();
    let again = report(&run.build(&base, &["--apt-packages", "hello"]));
    let (cached, _) = os_layer(&run, &again);
    assert!(cached, "{again}");
    let paths_seen: Vec<String> = repo.server.all_seen()[before..]
        .iter()
        .map(|s| s.path.clone())
        .collect();
    assert_eq!(paths_seen, ["/repo/dists/stable/InRelease"]);
    assert_eq!(
        rep["images"][0]["manifest_digest"],
        again["images"][0]["manifest_digest"]
    );
}

/// The SPDX documents `--sbom-dir` holds: file name → (bytes, purl of every package).
fn sboms(dir: &Path) -> BTreeMap<String, (Vec<u8>, BTreeSet<String>)> {
    let mut out = BTreeMap::new();
    for f in fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
        let bytes = fs::read(&f).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let purls = doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["externalRefs"][0]["referenceLocator"].as_str())
            .map(String::from)
            .collect();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        out.insert(name, (bytes, purls));
    }
    out
}

/// The SBOM lists what dpkg has installed in the final image, i.e. the status file the
/// os-packages layer writes (base packages and added ones), with their versions; the
/// same when the layer comes from the cache and nothing is unpacked.
#[test]
fn sbom_lists_the_packages_the_layer_installs() {
    let repo = repo();
    let run = Run::new();
    let base = base(run.dir.path(), &repo, true);
    let dir = run.dir.path().join("sboms");
    let args = [
        "--apt-packages",
        "hello",
        "--sbom-dir",
        dir.to_str().unwrap(),
    ];
    let rep = report(&run.build(&base, &args));
    let (cached, entries) = os_layer(&run, &rep);
    assert!(!cached);
    let status = String::from_utf8(file(&entries, "var/lib/dpkg/status").to_vec()).unwrap();
    let first = sboms(&dir);
    assert_eq!(first.len(), 1, "{:?}", first.keys());
    let (_, purls) = first.values().next().unwrap();
    let mut installed = 0;
    for st in status
        .split("\n\n")
        .filter(|s| s.contains("Status: install ok installed"))
    {
        let field = |k: &str| {
            st.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                .unwrap()
        };
        let want = format!(
            "pkg:deb/debian/{}@{}?arch={}",
            field("Package"),
            field("Version"),
            field("Architecture")
        );
        assert!(
            purls.iter().any(|p| p.starts_with(&want)),
            "{want} is not in {purls:?}"
        );
        installed += 1;
    }
    assert_eq!(installed, 3, "base-files, hello, libhello: {status}");
    assert_eq!(
        purls.iter().filter(|p| p.starts_with("pkg:deb/")).count(),
        3
    );

    fs::remove_dir_all(&dir).unwrap();
    let again = report(&run.build(&base, &args));
    assert!(os_layer(&run, &again).0, "{again}");
    assert_eq!(sboms(&dir), first, "the cached layer's SBOM differs");
}

#[test]
fn unsigned_wrongly_signed_and_tampered_repositories_are_refused() {
    let repo = repo();
    let run = Run::new();
    let base = base(run.dir.path(), &repo, true);
    let hello = ["--apt-packages", "hello", "--no-cache"];

    // Signed by a key the base does not trust.
    repo.publish_release(&key());
    let o = run.build(&base, &hello);
    assert_exit(&o, exit::VERIFICATION);
    assert!(
        stderr(&o).contains("bad OpenPGP signature"),
        "{}",
        stderr(&o)
    );

    // Not signed at all: refused unless --insecure-skip-verify.
    repo.server.put(
        "/repo/dists/stable/InRelease",
        repo.release_text().into_bytes(),
    );
    let o = run.build(&base, &hello);
    assert_exit(&o, exit::VERIFICATION);
    assert!(
        stderr(&o).contains("refusing an unsigned repository"),
        "{}",
        stderr(&o)
    );
    let insecure = [&hello[..], &["--insecure-skip-verify"]].concat();
    report(&run.build(&base, &insecure));

    // A tampered package, then a tampered index (hashes are checked even then).
    repo.publish_release(&repo.key);
    repo.server
        .put("/repo/pool/main/hello_all.deb", deb(HELLO_CONTROL, &[]));
    let o = run.build(&base, &insecure);
    assert_exit(&o, exit::VERIFICATION);
    assert!(
        stderr(&o).contains("hello_all.deb: sha256 mismatch"),
        "{}",
        stderr(&o)
    );
    let mut bad = repo.packages_gz.clone();
    let n = bad.len();
    bad[n - 9] ^= 1;
    repo.server
        .put("/repo/dists/stable/main/binary-amd64/Packages.gz", bad);
    let o = run.build(&base, &insecure);
    assert_exit(&o, exit::VERIFICATION);
    assert!(
        stderr(&o).contains("Packages.gz: sha256 mismatch"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn missing_unsatisfiable_and_not_debian_are_refused() {
    let repo = repo();
    let run = Run::new();
    let base_deb = base(run.dir.path(), &repo, true);

    let o = run.build(&base_deb, &["--apt-packages", "no-such-thing"]);
    assert_exit(&o, exit::BASE_OR_DIST);
    let err = stderr(&o);
    assert_eq!(
        err.matches("package 'no-such-thing' is not in the base's apt sources")
            .count(),
        1,
        "{err}"
    );
    assert!(err.contains("\nhint: check the name"), "{err}");

    let o = run.build(&base_deb, &["--apt-packages", "needy"]);
    assert_exit(&o, exit::BASE_OR_DIST);
    assert!(
        stderr(&o).contains("cannot satisfy 'libhello (>= 9)', needed by needy"),
        "{}",
        stderr(&o)
    );

    // spark-py on a base without python3 whose sources lack it.
    let o = run.build(&base_deb, &["-p"]);
    assert_exit(&o, exit::BASE_OR_DIST);
    assert!(
        stderr(&o).contains("package 'python3' is not in"),
        "{}",
        stderr(&o)
    );

    // spark-r: the distribution's SparkR is required first (this one has no R/ at
    // all), then R from the sources when the base lacks it.
    let o = run.build(&base_deb, &["-R"]);
    assert_exit(&o, exit::BASE_OR_DIST);
    assert!(
        stderr(&o).contains("spark-r needs R/lib/SparkR"),
        "{}",
        stderr(&o)
    );
    let sparkr = run.dir.path().join("spark/R/lib/SparkR/DESCRIPTION");
    fs::create_dir_all(sparkr.parent().unwrap()).unwrap();
    fs::write(&sparkr, b"Package: SparkR\n").unwrap();
    let o = run.build(&base_deb, &["-R"]);
    assert_exit(&o, exit::BASE_OR_DIST);
    assert!(
        stderr(&o).contains("package 'r-base-core' is not in"),
        "{}",
        stderr(&o)
    );

    // A base that is not Debian: refused naming what is missing and the fix, and
    // without a request to any repository.
    let before = repo.server.all_seen().len();
    let plain = base(run.dir.path(), &repo, false);
    let o = run.build(&plain, &["-p"]);
    let err = stderr(&o);
    assert_exit(&o, exit::BASE_OR_DIST);
    assert!(err.contains("spark-py needs python3"), "{err}");
    assert!(err.contains("no /var/lib/dpkg/status"), "{err}");
    assert!(
        err.contains("hint: use a base that has it, or a Debian/Ubuntu base"),
        "{err}"
    );
    assert_eq!(repo.server.all_seen().len(), before);

    // A bad package name is a usage error before anything is read.
    let o = run.build(&base_deb, &["--apt-packages", "Bad_Name"]);
    assert_exit(&o, exit::USAGE);
}

#[test]
fn bad_names_are_refused_before_any_network() {
    // The base is a registry that does not resolve: a pull would retry for seconds.
    let run = Run::new();
    let home = dist(run.dir.path());
    let started = Instant::now();
    let o = Sparkimg::new()
        .args(["build", "--repo", "Quay.io/X Y", "--tag", "3.5.9", "-p"])
        .args(["--base", "registry.invalid/x/base:1", "--spark-home"])
        .arg(&home)
        .args(["--apt-packages", "procps"])
        .run();
    let took = started.elapsed();
    assert_exit(&o, exit::USAGE);
    assert!(
        stderr(&o).contains("invalid image reference"),
        "{}",
        stderr(&o)
    );
    // Before any work: pulling the (unreachable) base would retry for 1 + 2 + 4 s first.
    // Not tighter: a debug binary's start alone can take a second on a loaded CI machine.
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // A malformed time zone and a bad package name: the same, at once.
    for bad in [
        &["--timezone", "../etc/passwd"][..],
        &["--apt-packages", "Not A Package"],
    ] {
        let started = Instant::now();
        let o = Sparkimg::new()
            .args(["build", "--repo", "quay.io/x", "--tag", "3.5.9", "-p"])
            .args(["--base", "registry.invalid/x/base:1", "--spark-home"])
            .arg(&home)
            .args(bad)
            .run();
        assert_eq!(
            o.status.code(),
            Some(exit::USAGE.into()),
            "{bad:?}: {}",
            stderr(&o)
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{bad:?}");
    }
}

/// Removes the images a test loaded or built, also when it panics
/// ([`common::remove_images`]).
struct Loaded(Vec<String>);

impl Drop for Loaded {
    fn drop(&mut self) {
        common::remove_images(&self.0);
    }
}

/// What the real-apt tests build from: the JVM-only Debian base (no python3), the
/// fixture distribution and the static entrypoint, all made by `cargo xtask test`'s
/// setup; `None` after a recorded skip (a failure under CI) when any is missing.
struct RealInputs {
    base: PathBuf,
    home: PathBuf,
    ep: PathBuf,
}

fn real_inputs() -> Option<RealInputs> {
    if !common::need_docker_engine() {
        return None;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let inputs = RealInputs {
        base: root.join("target/fixtures/base/bookworm-jre17-nopython.tar"),
        home: root.join("target/fixtures/dist/spark-3.5.9-bin-hadoop3"),
        ep: root.join("target/dist/spark-entrypoint"),
    };
    if let Some(p) = [&inputs.base, &inputs.home, &inputs.ep]
        .into_iter()
        .find(|p| !p.exists())
    {
        common::skip(&format!(
            "{} is missing: run `cargo xtask fixtures --jvm-only-base` and `cargo xtask dist`",
            p.display()
        ));
        return None;
    }
    Some(inputs)
}

fn docker(args: &[&str]) -> String {
    let o = Command::new("docker").args(args).output().unwrap();
    assert!(o.status.success(), "docker {args:?}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The real apt path: spark-py on a Debian base with Java and no python3 (`cargo xtask
/// fixtures --jvm-only-base`) gets python3 from deb.debian.org; dpkg knows it, PySpark
/// runs Python tasks in the image, and a rebuild downloads no package.
#[test]
fn python_added_to_a_jvm_only_debian_base() {
    let Some(RealInputs { base, home, ep }) = real_inputs() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let repo = format!("localhost/sparkimg-apt-test-{}", std::process::id());
    let image = format!("{repo}/spark-py:1");
    let _guard = Loaded(vec![format!("{repo}/spark:1"), image.clone()]);
    let cache = dir.path().join("cache");
    let build = || {
        let archive = dir.path().join("images.tar");
        let _ = fs::remove_file(&archive);
        let o = Sparkimg::new()
            .arg("build")
            .arg("--spark-home")
            .arg(&home)
            .arg("--base")
            .arg(format!("rootfs:{}", base.display()))
            .args(["--repo", &repo, "--tag", "1", "-p", "--json"])
            .arg("--entrypoint-binary")
            .arg(&ep)
            .arg("--cache-dir")
            .arg(&cache)
            .arg("--output")
            .arg(format!("docker-archive:{}", archive.display()))
            .run();
        (report(&o), archive)
    };
    let (first, archive) = build();
    let layer = |r: &serde_json::Value| {
        r["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "os-packages")
            .cloned()
            .unwrap_or_else(|| panic!("no os-packages layer: {r}"))
    };
    assert_eq!(layer(&first)["cached"], false);
    let downloaded = files_under(&cache.join("apt/sha256"));
    assert!(downloaded.len() > 5, "{downloaded:?}");

    docker(&["load", "-i", archive.to_str().unwrap()]);
    let status = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "dpkg",
        &image,
        "-s",
        "python3",
    ]);
    assert!(status.contains("Status: install ok installed"), "{status}");
    // The JVM image has no python3: the layer is only in the images that need it.
    let jvm = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--entrypoint",
            "dpkg",
            &format!("{repo}/spark:1"),
        ])
        .args(["-s", "python3"])
        .output()
        .unwrap();
    assert!(
        !jvm.status.success(),
        "{}",
        String::from_utf8_lossy(&jvm.stdout)
    );
    // target/fixtures, for pi.py (home is target/fixtures/dist/<name>).
    let fixtures = home.parent().and_then(Path::parent).unwrap();
    let pi = docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/opt/e2e/fixtures:ro", fixtures.display()),
        &image,
        "/opt/spark/bin/spark-submit",
        "--master",
        "local[2]",
        "--driver-memory",
        "512m",
        "/opt/e2e/fixtures/pi.py",
        "4",
    ]);
    assert!(pi.contains("Pi is roughly 3.1"), "{pi}");

    // The rebuild: the layer from the cache, no package or index downloaded again.
    let (second, _) = build();
    assert_eq!(layer(&second)["cached"], true);
    assert_eq!(layer(&second)["digest"], layer(&first)["digest"]);
    assert_eq!(files_under(&cache.join("apt/sha256")), downloaded);
}

/// The real apt path for R: `--apt-packages r-base-core` (SparkR itself cannot be had
/// here: PyPI's pyspark sdist has no `R/`, so `-R` is tested as a refusal above); R and
/// its standard packages run in the image, `/etc/R/Renviron` made as the postinst would.
/// R's closure has scripts the layer cannot reproduce (ucf and debconf registrations,
/// fontconfig's cache, update-mime): without `--apt-allow-unconfigured` it is refused,
/// and those packages stay `unpacked`; R runs without any of it.
#[test]
fn r_added_to_a_jvm_only_debian_base() {
    let Some(RealInputs { base, home, ep }) = real_inputs() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let repo = format!("localhost/sparkimg-apt-test-r-{}", std::process::id());
    let image = format!("{repo}/spark:1");
    let _guard = Loaded(vec![image.clone()]);
    let archive = dir.path().join("images.tar");
    let build = |extra: &[&str]| {
        Sparkimg::new()
            .arg("build")
            .arg("--spark-home")
            .arg(&home)
            .arg("--base")
            .arg(format!("rootfs:{}", base.display()))
            .args(["--repo", &repo, "--tag", "1", "--json"])
            .args(["--apt-packages", "r-base-core"])
            .arg("--entrypoint-binary")
            .arg(&ep)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .arg("--output")
            .arg(format!("docker-archive:{}", archive.display()))
            .args(extra)
            .run()
    };
    let refused = build(&[]);
    assert_exit(&refused, exit::BASE_OR_DIST);
    let unconfigured = "fontconfig,libpaper1,r-base-core,ucf,unzip,x11-common";
    assert!(
        stderr(&refused).contains(&format!("--apt-allow-unconfigured {unconfigured}")),
        "{}",
        stderr(&refused)
    );
    report(&build(&["--apt-allow-unconfigured", unconfigured]));
    docker(&["load", "-i", archive.to_str().unwrap()]);
    let out = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "Rscript",
        &image,
        "-e",
        "cat(stats::median(c(1, 5, 9)), utils::packageVersion('base') >= '4', '\\n')",
    ]);
    assert_eq!(out.trim(), "5 TRUE");
    let status = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "dpkg",
        &image,
        "-s",
        "r-base-core",
    ]);
    assert!(status.contains("Status: install ok unpacked"), "{status}");
}

/// `--engine docker`: the Dockerfiles' RUN apt-get, as upstream's: spark-py on a base
/// image without python3 gets it, and `--apt-packages` goes into every image.
#[test]
fn engine_path_installs_python3_and_apt_packages() {
    let Some(RealInputs {
        base: base_tar,
        home,
        ep,
    }) = real_inputs()
    else {
        return;
    };
    let pid = std::process::id();
    let base = format!("localhost/sparkimg-apt-test-base:{pid}");
    let repo = format!("localhost/sparkimg-apt-test-engine-{pid}");
    let (jvm, py) = (format!("{repo}/spark:1"), format!("{repo}/spark-py:1"));
    let _guard = Loaded(vec![base.clone(), jvm.clone(), py.clone()]);
    docker(&[
        "import",
        "--change",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        base_tar.to_str().unwrap(),
        &base,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let o = Sparkimg::new()
        .args(["build", "--engine", "docker", "--base", &base])
        .arg("--spark-home")
        .arg(&home)
        .args(["--repo", &repo, "--tag", "1", "-p", "--json"])
        .args(["--apt-packages", "less"])
        .arg("--entrypoint-binary")
        .arg(&ep)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .run();
    report(&o);
    for (image, pkgs) in [(&jvm, &["less"][..]), (&py, &["less", "python3"][..])] {
        for p in pkgs {
            let s = docker(&["run", "--rm", "--entrypoint", "dpkg", image, "-s", p]);
            assert!(
                s.contains("Status: install ok installed"),
                "{image} {p}: {s}"
            );
        }
    }
    let jvm_py = Command::new("docker")
        .args(["run", "--rm", "--entrypoint", "dpkg", &jvm, "-s", "python3"])
        .output()
        .unwrap();
    assert!(!jvm_py.status.success(), "python3 only in spark-py");
}

/// A copy of the JVM-only base in `dir` without `pkg` in dpkg's status and without
/// the tar paths `gone` says: a Debian base that lacks it.
fn base_without(src: &Path, dir: &Path, pkg: &str, gone: impl Fn(&str) -> bool) -> PathBuf {
    let out = dir.join("base.tar");
    let mut b = tar::Builder::new(fs::File::create(&out).unwrap());
    let mut t = tar::Archive::new(fs::File::open(src).unwrap());
    let stanza = format!("Package: {pkg}\n");
    for e in t.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().into_owned();
        let p = path.to_string_lossy().into_owned();
        if gone(&p) {
            continue;
        }
        let mut h = e.header().clone();
        if let Some(link) = e.link_name().unwrap().map(|l| l.into_owned()) {
            b.append_link(&mut h, &path, &link).unwrap();
            continue;
        }
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        if p == "./var/lib/dpkg/status" {
            let text = String::from_utf8(data).unwrap();
            let kept: Vec<&str> = text
                .split("\n\n")
                .filter(|s| !s.starts_with(&stanza))
                .collect();
            assert!(
                kept.len() < text.split("\n\n").count(),
                "{pkg} not in the base"
            );
            data = kept.join("\n\n").into_bytes();
            h.set_size(data.len() as u64);
        }
        b.append_data(&mut h, &path, &data[..]).unwrap();
    }
    b.finish().unwrap();
    out
}

/// Issue 28: ca-certificates on a Debian JVM base that lacks it. Its postinst runs
/// update-ca-certificates, which the layer cannot reproduce: the build is refused (6),
/// naming the package and the effect, before any layer is built. With
/// `--apt-allow-unconfigured` it builds and warns; dpkg lists the package `unpacked`
/// with its scripts in `info/`, so `dpkg --configure -a` in the image configures it
/// (and only then are there certificates). procps, whose scripts need nothing, is
/// `installed` with the files and conffile hashes `dpkg --verify` expects.
#[test]
fn unreproducible_scripts_are_refused_or_left_unconfigured() {
    let Some(RealInputs { base, home, ep }) = real_inputs() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The certificates go too (not Java's keystore: its package stays installed).
    let gone = |p: &str| {
        (p.starts_with("./etc/ssl/certs/") && !p.starts_with("./etc/ssl/certs/java"))
            || p.starts_with("./usr/share/ca-certificates/")
            || p == "./etc/ca-certificates.conf"
    };
    let base = base_without(&base, dir.path(), "ca-certificates", gone);
    let repo = format!("localhost/sparkimg-apt-test-ca-{}", std::process::id());
    let image = format!("{repo}/spark:1");
    let _guard = Loaded(vec![image.clone()]);
    let archive = dir.path().join("images.tar");
    let build = |extra: &[&str]| {
        Sparkimg::new()
            .arg("build")
            .arg("--spark-home")
            .arg(&home)
            .arg("--base")
            .arg(format!("rootfs:{}", base.display()))
            .args(["--repo", &repo, "--tag", "1", "--sbom", "none"])
            .args(["--apt-packages", "ca-certificates,procps"])
            .arg("--entrypoint-binary")
            .arg(&ep)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .arg("--output")
            .arg(format!("docker-archive:{}", archive.display()))
            .args(extra)
            .run()
    };
    let refused = build(&[]);
    assert_exit(&refused, exit::BASE_OR_DIST);
    let err = stderr(&refused);
    assert!(
        err.contains("cannot reproduce: ca-certificates (update-ca-certificates,"),
        "{err}"
    );
    // procps's scripts are all reproduced or no-ops: only ca-certificates is named.
    assert!(
        err.contains("`--apt-allow-unconfigured ca-certificates`"),
        "{err}"
    );
    assert!(!err.contains("procps ("), "{err}");
    assert!(err.contains("--engine docker"), "{err}");
    assert!(!err.contains("built"), "no layer before the refusal: {err}");
    assert!(!archive.exists());

    let ok = build(&["--apt-allow-unconfigured", "ca-certificates"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let err = stderr(&ok);
    assert!(
        err.contains("warning: left unconfigured (--apt-allow-unconfigured): ca-certificates;"),
        "{err}"
    );
    docker(&["load", "-i", archive.to_str().unwrap()]);
    let script = "dpkg -s ca-certificates | grep '^Status'; \
                  test -x /var/lib/dpkg/info/ca-certificates.postinst && echo postinst; \
                  ls /etc/ssl/certs | grep -c pem; \
                  DEBIAN_FRONTEND=noninteractive dpkg --configure -a >/tmp/log 2>&1 \
                  || cat /tmp/log; \
                  dpkg -s ca-certificates | grep '^Status'; \
                  test -s /etc/ssl/certs/ca-certificates.crt && echo bundle; \
                  dpkg -s procps | grep '^Status'; \
                  dpkg --verify procps && echo verified";
    let out = docker(&[
        "run",
        "--rm",
        "-u",
        "0",
        "--entrypoint",
        "sh",
        &image,
        "-c",
        script,
    ]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "Status: install ok unpacked",
            "postinst",
            "0",
            "Status: install ok installed",
            "bundle",
            // Its files, conffiles included, match the hashes dpkg's database has.
            "Status: install ok installed",
            "verified"
        ],
        "{out}"
    );
}
