//! The oracle for `--packages` is Spark itself: a generated Maven repository (parents,
//! properties, dependencyManagement and a BOM, scopes, optional, exclusions, a conflict
//! between two roots, a range, a relocation, packagings, a cycle, an artifact the
//! distribution ships), served over HTTP on loopback, is resolved by the fixture
//! distribution's `bin/spark-submit --packages` (Ivy, with `spark.jars.ivySettings`
//! naming only that repository and a throwaway `spark.jars.ivy`) and by sparkimg; the
//! retrieved jar sets must be equal, case by case (less the distribution's own jars,
//! sparkimg's one deliberate difference). Behind a firewall (issue 29) the same holds
//! with Spark's default chain unreachable, unreachable `--repositories` and an Ivy
//! settings chain; settings.xml mirrors and the all-unreachable error are sparkimg's.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{assert_exit, Ran, Sparkimg};
use sha1::Digest as _;
use sparkimg::exit;
use sparkimg::http::RetryPolicy;
use sparkimg::maven::coordinate::{parse_excludes, parse_packages};
use sparkimg::maven::remote::Remote;
use sparkimg::maven::settings::repositories;
use sparkimg::maven::stage::shipped;
use sparkimg::maven::{resolve, Request};

const SPARK: &str = "spark-3.5.9-bin-hadoop3";

/// Writes one module: its POM (`body` inside `<project>`), a jar unless `jar` is
/// `None` (`Some(ext)` names the main file's extension and classifier suffix), the
/// `.sha1` of each, and its `maven-metadata.xml` listing every version written so far.
fn module(repo: &Path, gav: &str, body: &str, files: &[&str]) {
    let f: Vec<&str> = gav.split(':').collect();
    let (g, a, v) = (f[0], f[1], f[2]);
    let dir = repo.join(g.replace('.', "/")).join(a);
    let vdir = dir.join(v);
    std::fs::create_dir_all(&vdir).unwrap();
    let pom = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\
         <modelVersion>4.0.0</modelVersion><groupId>{g}</groupId><artifactId>{a}</artifactId>\
         <version>{v}</version>{body}</project>\n"
    );
    write_with_sha1(&vdir.join(format!("{a}-{v}.pom")), pom.as_bytes());
    for suffix in files {
        let bytes = format!("{gav}{suffix}").into_bytes();
        write_with_sha1(&vdir.join(format!("{a}-{v}{suffix}")), &bytes);
    }
    let mut versions: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    versions.sort();
    let listed: String = versions
        .iter()
        .map(|v| format!("<version>{v}</version>"))
        .collect();
    let meta = format!(
        "<metadata><groupId>{g}</groupId><artifactId>{a}</artifactId><versioning>\
         <versions>{listed}</versions></versioning></metadata>"
    );
    write_with_sha1(&dir.join("maven-metadata.xml"), meta.as_bytes());
}

fn write_with_sha1(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    let sum = hex::encode(sha1::Sha1::digest(bytes));
    std::fs::write(format!("{}.sha1", path.display()), sum).unwrap();
}

fn deps(list: &[&str]) -> String {
    let mut s = String::from("<dependencies>");
    for d in list {
        s.push_str(&dep(d, ""));
    }
    s + "</dependencies>"
}

/// `g:a[:v[:scope]]`, `extra` inside the element.
fn dep(d: &str, extra: &str) -> String {
    let f: Vec<&str> = d.split(':').collect();
    let v = f
        .get(2)
        .filter(|v| !v.is_empty())
        .map(|v| format!("<version>{v}</version>"));
    let scope = f.get(3).map(|s| format!("<scope>{s}</scope>"));
    format!(
        "<dependency><groupId>{}</groupId><artifactId>{}</artifactId>{}{}{extra}</dependency>",
        f[0],
        f[1],
        v.unwrap_or_default(),
        scope.unwrap_or_default()
    )
}

fn excl(g: &str, a: &str) -> String {
    format!("<exclusions><exclusion><groupId>{g}</groupId><artifactId>{a}</artifactId></exclusion></exclusions>")
}

fn leaf(repo: &Path, gav: &str) {
    module(repo, gav, "", &[".jar"]);
}

/// Every case's modules in one repository.
fn generate(repo: &Path) {
    // Parents and properties.
    module(repo, "org.p:parent:1", "<packaging>pom</packaging><properties><lib.version>2.${minor}</lib.version><minor>1</minor></properties>", &[]);
    let parent = "<parent><groupId>org.p</groupId><artifactId>parent</artifactId><version>1</version></parent>";
    module(
        repo,
        "org.c:child:1.0",
        &format!(
            "{parent}{}",
            deps(&[
                "org.l:lib:${lib.version}",
                "org.c:sibling:${project.version}"
            ])
        ),
        &[".jar"],
    );
    leaf(repo, "org.l:lib:2.1");
    leaf(repo, "org.c:sibling:1.0");
    // dependencyManagement, a BOM import, and mediation of a transitive version.
    let managed = |l: &[&str]| format!("<dependencyManagement>{}</dependencyManagement>", deps(l));
    module(
        repo,
        "org.b:bom:1",
        &format!(
            "<packaging>pom</packaging>{}",
            managed(&["org.x:x:5", "org.y:y:7"])
        ),
        &[],
    );
    let dm = format!(
        "<dependencyManagement><dependencies>{}{}</dependencies></dependencyManagement>",
        dep("org.own:own:2", ""),
        dep("org.b:bom:1:import", "<type>pom</type>")
    );
    module(
        repo,
        "org.d:app:1",
        &format!(
            "{dm}{}",
            deps(&["org.x:x", "org.y:y", "org.own:own", "org.m:mid:1"])
        ),
        &[".jar"],
    );
    module(repo, "org.m:mid:1", &deps(&["org.x:x:4"]), &[".jar"]);
    for gav in ["org.x:x:4", "org.x:x:5", "org.y:y:7", "org.own:own:2"] {
        leaf(repo, gav);
    }
    generate_more(repo);
}

fn generate_more(repo: &Path) {
    // Scopes and optional.
    let optional = dep("org.so:optional:1", "<optional>true</optional>");
    let scoped = deps(&[
        "org.sc:compile:1:compile",
        "org.sr:runtime:1:runtime",
        "org.st:test:1:test",
        "org.sp:provided:1:provided",
    ]);
    module(
        repo,
        "org.s:scoped:1",
        &scoped.replace("</dependencies>", &format!("{optional}</dependencies>")),
        &[".jar"],
    );
    for gav in [
        "org.sc:compile:1",
        "org.sr:runtime:1",
        "org.st:test:1",
        "org.sp:provided:1",
        "org.so:optional:1",
    ] {
        leaf(repo, gav);
    }
    // Exclusions, one a wildcard; z is also reached on a path without one.
    let ex = format!(
        "<dependencies>{}{}{}</dependencies>",
        dep("org.eb:b:1", &excl("org.ex", "x")),
        dep("org.ew:w:1", &excl("*", "*")),
        dep("org.ec:c:1", "")
    );
    module(repo, "org.e:ex:1", &ex, &[".jar"]);
    module(
        repo,
        "org.eb:b:1",
        &deps(&["org.ex:x:1", "org.ey:y:1"]),
        &[".jar"],
    );
    module(
        repo,
        "org.ew:w:1",
        &deps(&["org.ey:y:1", "org.ez:z:1"]),
        &[".jar"],
    );
    module(repo, "org.ec:c:1", &deps(&["org.ez:z:1"]), &[".jar"]);
    for gav in ["org.ex:x:1", "org.ey:y:1", "org.ez:z:1"] {
        leaf(repo, gav);
    }
    // A conflict between two roots; the evicted revision has a dependency of its own.
    module(repo, "org.k:k1:1", &deps(&["org.v:v:1.0"]), &[".jar"]);
    module(repo, "org.k:k2:1", &deps(&["org.v:v:1.10"]), &[".jar"]);
    module(repo, "org.v:v:1.0", &deps(&["org.v:only-old:1"]), &[".jar"]);
    leaf(repo, "org.v:v:1.10");
    leaf(repo, "org.v:only-old:1");
    // A range.
    module(
        repo,
        "org.r:ranged:1",
        &deps(&["org.rv:rv:[1.0,2.0)"]),
        &[".jar"],
    );
    for v in ["0.9", "1.0", "1.5", "2.0"] {
        leaf(repo, &format!("org.rv:rv:{v}"));
    }
    // A relocation.
    module(repo, "org.old:lib:1", "<distributionManagement><relocation><groupId>org.new</groupId></relocation></distributionManagement>", &[]);
    module(repo, "org.new:lib:1", &deps(&["org.nd:d:1"]), &[".jar"]);
    leaf(repo, "org.nd:d:1");
    generate_rest(repo);
}

fn generate_rest(repo: &Path) {
    // Packagings and classifiers.
    let pk = format!(
        "<dependencies>{}{}{}{}</dependencies>",
        dep("org.pb:bundle:1", ""),
        dep("org.pp:pomonly:1", ""),
        dep("org.pt:withtests:1", "<type>test-jar</type>"),
        dep("org.pn:native:1", "<classifier>linux</classifier>")
    );
    module(repo, "org.pk:pk:1", &pk, &[".jar"]);
    module(
        repo,
        "org.pb:bundle:1",
        "<packaging>bundle</packaging>",
        &[".jar"],
    );
    module(
        repo,
        "org.pp:pomonly:1",
        &format!("<packaging>pom</packaging>{}", deps(&["org.pd:d:1"])),
        &[],
    );
    leaf(repo, "org.pd:d:1");
    module(repo, "org.pt:withtests:1", "", &[".jar", "-tests.jar"]);
    module(repo, "org.pn:native:1", "", &[".jar", "-linux.jar"]);
    // Spark's own modules and Scala are never fetched (they are not even here); a jar the
    // distribution ships (commons-lang3 3.12.0) in another version.
    let conn = deps(&[
        "org.apache.spark:spark-sql_2.12:3.5.9",
        "org.scala-lang:scala-library:2.12.18",
        "org.apache.commons:commons-lang3:3.99",
        "org.t:tiny:1",
    ]);
    module(repo, "org.sh:conn_2.12:1", &conn, &[".jar"]);
    leaf(repo, "org.apache.commons:commons-lang3:3.99");
    leaf(repo, "org.t:tiny:1");
    // A cycle.
    module(repo, "org.cy:a:1", &deps(&["org.cy:b:1"]), &[".jar"]);
    module(
        repo,
        "org.cy:b:1",
        &deps(&["org.cy:a:1", "org.cy:c:1"]),
        &[".jar"],
    );
    module(repo, "org.cy:c:1", &deps(&["org.cy:b:1"]), &[".jar"]);
}

/// `(name, --packages, --exclude-packages)`.
const CASES: &[(&str, &str, &str)] = &[
    ("parents and properties", "org.c:child:1.0", ""),
    ("dependencyManagement, BOM, mediation", "org.d:app:1", ""),
    ("scopes and optional", "org.s:scoped:1", ""),
    ("exclusions", "org.e:ex:1", ""),
    ("--exclude-packages", "org.e:ex:1", "org.ey:y,org.ec:*"),
    ("conflict between two roots", "org.k:k1:1,org.k:k2:1", ""),
    ("range", "org.r:ranged:1", ""),
    ("relocation", "org.old:lib:1", ""),
    ("packagings and classifiers", "org.pk:pk:1", ""),
    (
        "Spark's modules and the distribution's jars",
        "org.sh:conn_2.12:1",
        "",
    ),
    ("cycle", "org.cy:a:1", ""),
];

fn spark_submit(
    home: &Path,
    work: &Path,
    repo_url: &str,
    packages: &str,
    excludes: &str,
) -> BTreeSet<String> {
    std::fs::create_dir_all(work).unwrap();
    let settings = work.join("ivysettings.xml");
    std::fs::write(
        &settings,
        format!(
            "<ivysettings><settings defaultResolver=\"repo\"/><resolvers>\
             <ibiblio name=\"repo\" m2compatible=\"true\" root=\"{repo_url}\"/></resolvers></ivysettings>"
        ),
    )
    .unwrap();
    let mut args = vec!["--packages".to_string(), packages.to_string()];
    if !excludes.is_empty() {
        args.extend(["--exclude-packages".to_string(), excludes.to_string()]);
    }
    args.push("--conf".into());
    args.push(format!("spark.jars.ivySettings={}", settings.display()));
    spark_submit_with(home, work, &args)
}

/// `spark-submit ARGS` with `work` as HOME (no ~/.m2, no ~/.ivy2 of the developer's)
/// and a throwaway `spark.jars.ivy`: the jars Ivy retrieved.
fn spark_submit_with(home: &Path, work: &Path, args: &[String]) -> BTreeSet<String> {
    std::fs::create_dir_all(work).unwrap();
    let ivy = work.join("ivy");
    let _ = std::fs::remove_dir_all(&ivy);
    let mut cmd = Command::new(home.join("bin/spark-submit"));
    cmd.env("HOME", work)
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .env_remove("DEFAULT_ARTIFACT_REPOSITORY");
    cmd.args(args);
    cmd.arg("--conf")
        .arg(format!("spark.jars.ivy={}", ivy.display()));
    // Resolution happens before the main class is loaded; none is needed.
    cmd.args(["--class", "NoSuchMain", "spark-internal"]);
    let out = cmd.output().expect("run spark-submit");
    let jars = std::fs::read_dir(ivy.join("jars"));
    let Ok(jars) = jars else {
        panic!(
            "spark-submit retrieved nothing:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    jars.flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Every file of the generated repository on a loopback HTTP server, under `/m2/`.
fn serve(repo: &Path) -> common::Server {
    let server = common::Server::start();
    for entry in walkdir::WalkDir::new(repo) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(repo).unwrap();
            let body = std::fs::read(entry.path()).unwrap();
            server.put(&format!("/m2/{}", rel.display()), body);
        }
    }
    server
}

fn fixture_home() -> Option<PathBuf> {
    let home = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/fixtures/dist")
        .join(SPARK);
    home.join("bin/spark-submit").is_file().then_some(home)
}

#[test]
fn same_jars_as_spark_submit_packages() {
    let Some(home) = fixture_home() else {
        common::skip(&format!("no {SPARK} fixture (cargo xtask fixtures)"));
        return;
    };
    if !common::need("java") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    generate(&repo);
    // Both resolvers read it over HTTP on loopback, as they would a real repository.
    let server = serve(&repo);
    let url = server.url("m2/");
    let cache = work.path().join("cache");
    let policy = RetryPolicy::default();
    let remote = Remote::new(
        repositories(Some(&url), &[], &[]).unwrap(),
        &cache,
        false,
        policy,
    )
    .unwrap();
    let dist_jars = shipped(&home, &cache);
    // Two spark-submits at a time: each is a JVM start and an Ivy resolution (~10 s).
    let theirs: Vec<BTreeSet<String>> = std::thread::scope(|s| {
        let runs: Vec<_> = CASES
            .iter()
            .enumerate()
            .map(|(i, (_, packages, excludes))| {
                let (home, url, work) = (&home, &url, work.path().join(format!("case-{i}")));
                (i, move || {
                    spark_submit(home, &work, url, packages, excludes)
                })
            })
            .collect();
        let mut out = vec![BTreeSet::new(); CASES.len()];
        for pair in runs.chunks(2) {
            let handles: Vec<_> = pair.iter().map(|(i, f)| (*i, s.spawn(f.clone()))).collect();
            for (i, h) in handles {
                out[i] = h.join().unwrap();
            }
        }
        out
    });
    let mut failures = Vec::new();
    for ((name, packages, excludes), theirs) in CASES.iter().zip(theirs) {
        let req = Request {
            packages: parse_packages(packages).unwrap(),
            excludes: parse_excludes(excludes).unwrap(),
            shipped: dist_jars.clone(),
        };
        let res = resolve(&remote, &req).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ours: BTreeSet<String> = res.artifacts.iter().map(|a| a.file_name()).collect();
        assert!(!ours.is_empty(), "{name}: nothing resolved");
        // The deliberate difference: what the distribution ships is not added again.
        let kept: BTreeSet<String> = res
            .shipped
            .iter()
            .map(|s| {
                format!(
                    "{}_{}-{}.jar",
                    s.module.group, s.module.artifact, s.resolved
                )
            })
            .collect();
        let theirs: BTreeSet<String> = theirs.difference(&kept).cloned().collect();
        if ours != theirs {
            failures.push(format!(
                "{name}:\n  sparkimg:     {ours:?}\n  spark-submit: {theirs:?}"
            ));
        }
    }
    // The shipped case did meet the distribution's commons-lang3.
    let conn = Request {
        packages: parse_packages("org.sh:conn_2.12:1").unwrap(),
        excludes: Vec::new(),
        shipped: dist_jars.clone(),
    };
    let res = resolve(&remote, &conn).unwrap();
    assert_eq!(res.shipped.len(), 1, "{:?}", res.shipped);
    assert_eq!(
        (
            res.shipped[0].resolved.as_str(),
            res.shipped[0].shipped.as_str()
        ),
        ("3.99", "3.12.0")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The closure: two roots, a pom-packaged parent (never a dependency) giving
/// versions through dependencyManagement, a BOM import; six jars in all.
fn generate_firewalled(repo: &Path) {
    let managed = format!(
        "<packaging>pom</packaging><dependencyManagement>{}</dependencyManagement>",
        deps(&["com.example:conn-api:1.0", "org.dep:util:3.1"])
    );
    module(repo, "com.example:conn-parent:1.0", &managed, &[]);
    let parent = "<parent><groupId>com.example</groupId><artifactId>conn-parent</artifactId>\
                  <version>1.0</version></parent>";
    let core = format!(
        "{parent}{}",
        deps(&["com.example:conn-api", "org.dep:util"])
    );
    module(repo, "com.example:conn-core:1.0", &core, &[".jar"]);
    module(repo, "com.example:conn-api:1.0", parent, &[".jar"]);
    module(
        repo,
        "org.dep:util:3.1",
        &deps(&["org.dep:base:1"]),
        &[".jar"],
    );
    leaf(repo, "org.dep:base:1");
    let bom = format!(
        "<packaging>pom</packaging><dependencyManagement>{}</dependencyManagement>",
        deps(&["org.dep:extra:2"])
    );
    module(repo, "org.dep:bom:1", &bom, &[]);
    let import = dep("org.dep:bom:1:import", "<type>pom</type>");
    let other = format!(
        "<dependencyManagement><dependencies>{import}</dependencies></dependencyManagement>{}",
        deps(&["org.dep:extra"])
    );
    module(repo, "com.example:other:2.0", &other, &[".jar"]);
    leaf(repo, "org.dep:extra:2");
}

const FIREWALLED: &str = "com.example:conn-core:1.0,com.example:other:2.0";

/// A loopback port nothing listens on: connections to it are refused.
fn refused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `sparkimg packages --json --packages FIREWALLED ARGS` with `home` as HOME and no
/// DEFAULT_ARTIFACT_REPOSITORY: the jar files, stderr, and how long it took.
fn sparkimg_packages(home: &Path, args: &[String]) -> (BTreeSet<String>, String, Duration) {
    let t = Instant::now();
    let out = Sparkimg::new()
        .args(["packages", "--json", "--packages", FIREWALLED])
        .args(args)
        .arg("--cache-dir")
        .arg(home.join("cache"))
        .env("HOME", home)
        .env_remove("DEFAULT_ARTIFACT_REPOSITORY")
        .run();
    let took = t.elapsed();
    let jars = out.json();
    let files = jars
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["file"].as_str().unwrap().to_string())
        .collect();
    (
        files,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        took,
    )
}

fn six_jars() -> BTreeSet<String> {
    [
        "com.example_conn-core-1.0.jar",
        "com.example_conn-api-1.0.jar",
        "org.dep_util-3.1.jar",
        "org.dep_base-1.jar",
        "com.example_other-2.0.jar",
        "org.dep_extra-2.jar",
    ]
    .map(String::from)
    .into()
}

/// (name, spark-submit's flags, sparkimg's flags, warnings sparkimg must give once).
type Case<'a> = (&'a str, Vec<String>, Vec<String>, Vec<&'a str>);

/// Issue 29: Spark's flags as a user behind a firewall passes them (the default chain's
/// Maven Central and spark-packages do not resolve here), an unreachable repository
/// before a working one, and an Ivy settings file: Spark's Ivy and sparkimg agree.
#[test]
fn behind_a_firewall_the_same_jars_as_spark_submit() {
    let Some(spark) = fixture_home() else {
        common::skip(&format!("no {SPARK} fixture (cargo xtask fixtures)"));
        return;
    };
    if !common::need("java") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    generate_firewalled(&repo);
    let server = serve(&repo);
    let url = server.url("m2/");
    let refused = format!("http://127.0.0.1:{}/m2/", refused_port());
    let repos = |list: &[&str]| vec!["--repositories".to_string(), list.join(",")];
    let ivy_file = work.path().join("ivysettings.xml");
    std::fs::write(
        &ivy_file,
        format!(
            "<ivysettings><settings defaultResolver=\"corp\"/><resolvers><chain name=\"corp\">\
             <ibiblio name=\"gone\" m2compatible=\"true\" root=\"http://nexus.invalid/m2/\"/>\
             <ibiblio name=\"loop\" m2compatible=\"true\" root=\"{url}\"/></chain></resolvers>\
             </ivysettings>"
        ),
    )
    .unwrap();
    let ivy_conf = vec![
        "--conf".to_string(),
        format!("spark.jars.ivySettings={}", ivy_file.display()),
    ];
    let ivy_flag = vec!["--ivy-settings".to_string(), ivy_file.display().to_string()];
    let cases: Vec<Case> = vec![
        (
            "--repositories after the unreachable default chain",
            repos(&[&url]),
            repos(&[&url]),
            vec!["central", "spark-packages"],
        ),
        (
            "a refused port and an .invalid host before the working one",
            repos(&[&refused, "http://nosuch.invalid/m2/", &url]),
            repos(&[&refused, "http://nosuch.invalid/m2/", &url]),
            vec!["central", "spark-packages", "repo-1", "repo-2"],
        ),
        ("an ivysettings chain", ivy_conf, ivy_flag, vec!["gone"]),
    ];
    let mut failures = Vec::new();
    for (i, (name, theirs_args, our_args, warned)) in cases.iter().enumerate() {
        let case = work.path().join(format!("case-{i}"));
        let theirs = spark_submit_with(
            &spark,
            &case.join("spark"),
            &[
                &["--packages".to_string(), FIREWALLED.to_string()][..],
                theirs_args,
            ]
            .concat(),
        );
        let home = case.join("sparkimg");
        std::fs::create_dir_all(&home).unwrap();
        let (ours, stderr, took) = sparkimg_packages(&home, our_args);
        assert_eq!(ours, six_jars(), "{name}: sparkimg\n{stderr}");
        if ours != theirs {
            failures.push(format!(
                "{name}:\n  sparkimg: {ours:?}\n  spark-submit: {theirs:?}"
            ));
        }
        for repo in warned {
            let once = format!("repository {repo} (");
            assert_eq!(stderr.matches(&once).count(), 1, "{name}: {repo}\n{stderr}");
        }
        assert_eq!(
            stderr.matches("cannot be reached").count(),
            warned.len(),
            "{name}\n{stderr}"
        );
        // Nothing waited out a backoff (the policy's would be 1 + 2 + 4 s per file).
        assert!(
            took < Duration::from_secs(5),
            "{name}: took {took:?}\n{stderr}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A settings.xml `<mirror>` of `*` sends the whole default chain to the loopback
/// repository: no warning, nothing asked elsewhere.
#[test]
fn a_settings_xml_mirror_of_everything_is_used() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    generate_firewalled(&repo);
    let server = serve(&repo);
    let home = work.path().join("home");
    std::fs::create_dir_all(home.join(".m2")).unwrap();
    std::fs::write(
        home.join(".m2/settings.xml"),
        format!(
            "<settings><mirrors><mirror><id>corp</id><name>Corp</name><url>{}</url>\
             <mirrorOf>*</mirrorOf></mirror></mirrors></settings>",
            server.url("m2/")
        ),
    )
    .unwrap();
    let (ours, stderr, _) = sparkimg_packages(&home, &[]);
    assert_eq!(ours, six_jars(), "{stderr}");
    assert!(!stderr.contains("cannot be reached"), "{stderr}");
    let out = Sparkimg::new()
        .args(["packages", "--json", "--packages", FIREWALLED])
        .arg("--cache-dir")
        .arg(home.join("cache"))
        .env("HOME", &home)
        .json();
    assert!(
        out.as_array()
            .unwrap()
            .iter()
            .all(|j| j["repository"] == server.url("m2/")),
        "{out}"
    );
}

/// With no repository answering, the error names each one, what it said and where it
/// comes from, at once; an ivysettings resolver sparkimg cannot read is a usage error.
#[test]
fn no_repository_answering_names_each_and_unknown_resolvers_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let refused = format!("http://127.0.0.1:{}/m2/", refused_port());
    let t = Instant::now();
    let out = Sparkimg::new()
        .args([
            "packages",
            "--packages",
            FIREWALLED,
            "--repositories",
            &refused,
        ])
        .arg("--cache-dir")
        .arg(work.path().join("cache"))
        .env("HOME", work.path())
        .env_remove("DEFAULT_ARTIFACT_REPOSITORY")
        .run();
    assert_exit(&out, exit::DOWNLOAD);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(took_little(t.elapsed()), "{:?}\n{err}", t.elapsed());
    assert!(err.contains("no repository could answer"), "{err}");
    for (name, origin) in [
        ("central", "Spark's default chain"),
        ("spark-packages", "Spark's default chain"),
        ("repo-1", "--repositories"),
    ] {
        assert!(err.contains(&format!("{name} (")), "{name}\n{err}");
        assert!(err.contains(origin), "{origin}\n{err}");
    }
    assert!(err.to_lowercase().contains("refused"), "{err}");
    assert!(err.contains("hint: "), "{err}");

    let ivy = work.path().join("ivysettings.xml");
    std::fs::write(
        &ivy,
        "<ivysettings><settings defaultResolver=\"c\"/><resolvers><chain name=\"c\">\
         <filesystem name=\"shared\"/></chain></resolvers></ivysettings>",
    )
    .unwrap();
    let out = Sparkimg::new()
        .args(["packages", "--packages", FIREWALLED, "--ivy-settings"])
        .arg(&ivy)
        .arg("--cache-dir")
        .arg(work.path().join("cache"))
        .run();
    assert_exit(&out, exit::USAGE);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("resolver `shared` is a <filesystem>"), "{err}");
}

/// Well under one backoff sequence of the retry policy (1 + 2 + 4 s), even loaded.
fn took_little(d: Duration) -> bool {
    d < Duration::from_secs(5)
}
