//! Resolution rules, case by case, on repositories held in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;

use super::coordinate::{parse_excludes, parse_packages, spark_excludes};
use super::model::interpolate;
use super::version::{compare, Range};
use super::*;

/// A Maven repository in memory: POMs, which jars exist, the version listings.
#[derive(Default)]
struct Repo {
    poms: BTreeMap<Coordinate, String>,
    jars: BTreeSet<Coordinate>,
}

impl Repo {
    /// A module with a jar; `body` goes inside `<project>` after the coordinates.
    fn add(&mut self, gav: &str, body: &str) -> &mut Repo {
        self.add_pom(gav, body);
        self.jars.insert(gav_of(gav));
        self
    }

    /// A POM without a jar.
    fn add_pom(&mut self, gav: &str, body: &str) -> &mut Repo {
        let c = gav_of(gav);
        let xml = format!(
            "<?xml version=\"1.0\"?>\n<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\
             <modelVersion>4.0.0</modelVersion><groupId>{}</groupId><artifactId>{}</artifactId>\
             <version>{}</version>{body}</project>",
            c.module.group, c.module.artifact, c.version
        );
        self.poms.insert(c, xml);
        self
    }
}

impl PomSource for Repo {
    fn pom(&self, c: &Coordinate) -> Result<Option<String>, SourceError> {
        Ok(self.poms.get(c).cloned())
    }
    fn versions(&self, m: &ModuleId) -> Result<Vec<String>, SourceError> {
        let all = self.poms.keys().chain(self.jars.iter());
        let set: BTreeSet<String> = all
            .filter(|c| &c.module == m)
            .map(|c| c.version.clone())
            .collect();
        Ok(set.into_iter().collect())
    }
    fn has_jar(&self, c: &Coordinate) -> Result<bool, SourceError> {
        Ok(self.jars.contains(c))
    }
    fn repositories(&self) -> Vec<String> {
        vec!["memory".to_string()]
    }
}

fn gav_of(s: &str) -> Coordinate {
    let f: Vec<&str> = s.split(':').collect();
    Coordinate::new(f[0], f[1], f[2])
}

/// `<dependencies>` of `g:a:v[:scope]` items; `extra` is added inside each.
fn deps(list: &[&str]) -> String {
    let mut s = String::from("<dependencies>");
    for d in list {
        s.push_str(&dep(d, ""));
    }
    s + "</dependencies>"
}

fn dep(d: &str, extra: &str) -> String {
    let f: Vec<&str> = d.split(':').collect();
    let version = f
        .get(2)
        .filter(|v| !v.is_empty())
        .map(|v| format!("<version>{v}</version>"))
        .unwrap_or_default();
    let scope = f
        .get(3)
        .map(|s| format!("<scope>{s}</scope>"))
        .unwrap_or_default();
    format!(
        "<dependency><groupId>{}</groupId><artifactId>{}</artifactId>{version}{scope}{extra}</dependency>",
        f[0], f[1]
    )
}

fn run(repo: &Repo, packages: &str) -> Resolution {
    run_with(repo, packages, "", &[])
}

fn run_with(repo: &Repo, packages: &str, excludes: &str, shipped: &[(&str, &str)]) -> Resolution {
    let req = Request {
        packages: parse_packages(packages).unwrap(),
        excludes: parse_excludes(excludes).unwrap(),
        shipped: shipped
            .iter()
            .map(|(m, v)| (gav_of(&format!("{m}:x")).module, v.to_string()))
            .collect(),
    };
    resolve(repo, &req).unwrap()
}

/// The retrieved file names, as Spark names them in its `jars/` directory.
fn files(r: &Resolution) -> Vec<String> {
    r.artifacts.iter().map(Artifact::file_name).collect()
}

fn code(e: MavenError) -> u8 {
    let e: Box<dyn Error> = Box::new(e);
    crate::exit::classify(std::iter::once(e.as_ref()))
}

#[test]
fn coordinates_follow_sparks_grammar() {
    let ok = parse_packages("g:a:1.0,g/b:2.0,h:c:3:").unwrap();
    assert_eq!(
        ok,
        vec![
            Coordinate::new("g", "a", "1.0"),
            Coordinate::new("g", "b", "2.0"),
            Coordinate::new("h", "c", "3")
        ]
    );
    assert_eq!(parse_packages("g:a:1.0,").unwrap().len(), 1);
    for bad in [
        "g:a",
        "g:a:1:jdk8",
        " :a:1",
        "g: :1",
        "g:a: ",
        "",
        ",g:a:1",
        "g::a:1",
    ] {
        let e = parse_packages(bad).unwrap_err();
        assert!(matches!(e, MavenError::Coordinate { .. }), "{bad}");
        assert_eq!(code(e), crate::exit::USAGE, "{bad}");
    }
    assert!(parse_packages("g:a")
        .unwrap_err()
        .to_string()
        .contains("`g:a`"));
}

#[test]
fn exclusions_are_group_artifact_globs() {
    let ex = parse_excludes("org.slf4j:*,com.x:y").unwrap();
    assert_eq!(
        ex,
        vec![Pattern::new("org.slf4j", "*"), Pattern::new("com.x", "y")]
    );
    assert!(ex[0].matches(&ModuleId::new("org.slf4j", "slf4j-api")));
    assert!(!ex[0].matches(&ModuleId::new("org.slf4jx", "slf4j-api")));
    assert!(parse_excludes("").unwrap().is_empty());
    for bad in ["g:a:1", "g", ":a"] {
        assert_eq!(
            code(parse_excludes(bad).unwrap_err()),
            crate::exit::USAGE,
            "{bad}"
        );
    }
    assert!(Pattern::new("a?c", "x*y*z").matches(&ModuleId::new("abc", "xyyz")));
    assert!(!Pattern::new("a?c", "x*y*z").matches(&ModuleId::new("ac", "xyz")));
}

#[test]
fn sparks_own_modules_and_scala_are_excluded() {
    let rules = spark_excludes();
    let hit = |g: &str, a: &str| rules.iter().any(|p| p.matches(&ModuleId::new(g, a)));
    assert!(hit("org.apache.spark", "spark-core_2.12"));
    assert!(hit("org.apache.spark", "spark-sql_2.13"));
    assert!(hit("org.apache.spark", "spark-network-common_2.12"));
    assert!(hit("org.scala-lang", "scala-library"));
    assert!(!hit("org.scala-lang", "scala-reflect"));
    // Connectors are Spark modules too, but not part of the distribution.
    assert!(!hit("org.apache.spark", "spark-sql-kafka-0-10_2.12"));
    assert!(!hit("org.apache.spark", "spark-streaming-kafka-0-10_2.12"));
    assert!(!hit("org.apache.spark", "spark-avro_2.12"));
}

#[test]
fn ivy_revision_order() {
    use std::cmp::Ordering::*;
    let cases = [
        ("1.0", "1.0.1", Less),
        ("1.0-beta", "1.0", Less),
        ("1.0-rc1", "1.0", Less),
        ("1.0-dev", "1.0-alpha", Less),
        ("1.0-alpha", "1.0-rc", Less),
        ("1.0-rc", "1.0-final", Less),
        ("1.9", "1.10", Less),
        ("1.99", "2.0.0", Less),
        ("1.0a1", "1.0.a.1", Equal),
        ("2.0", "2.0", Equal),
        ("1.0.0", "1.0", Greater),
        ("1.2.3", "1.2.3-SNAPSHOT", Greater),
        ("10000000000000000000000", "9", Greater),
    ];
    for (a, b, want) in cases {
        assert_eq!(compare(a, b), want, "{a} vs {b}");
        assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
    }
}

#[test]
fn version_ranges_as_ivy_reads_them() {
    let listed: Vec<String> = ["0.9", "1.0", "1.5", "2.0", "2.1"]
        .map(String::from)
        .to_vec();
    let pick = |r: &str| Range::parse(r).unwrap().pick(&listed).map(str::to_string);
    assert_eq!(pick("[1.0,2.0)").as_deref(), Some("1.5"));
    assert_eq!(pick("[1.0,2.0]").as_deref(), Some("2.0"));
    assert_eq!(pick("]1.0,2.0[").as_deref(), Some("1.5"));
    assert_eq!(pick("(,1.0]").as_deref(), Some("1.0"));
    assert_eq!(pick("(,1.0)").as_deref(), Some("0.9"));
    assert_eq!(pick("[2.0,)").as_deref(), Some("2.1"));
    assert_eq!(pick("[ 3.0 , )"), None);
    for not in ["1.0", "[1.0]", "[1.0,2.0),[3.0,)", "(,)", "[,", "1,2"] {
        assert_eq!(Range::parse(not), None, "{not}");
    }
}

#[test]
fn interpolation_nests_and_keeps_unknown_names() {
    let props: BTreeMap<String, String> = [("a", "${b}-x"), ("b", "1.0"), ("loop", "${loop}")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    assert_eq!(
        interpolate("v${a}/${nope}/${b", &props),
        "v1.0-x/${nope}/${b"
    );
    assert_eq!(interpolate("${loop}", &props), "${loop}");
}

#[test]
fn parents_properties_and_project_version() {
    let mut r = Repo::default();
    r.add_pom(
        "org.p:parent:3",
        "<packaging>pom</packaging><properties><lib.version>2.${minor}</lib.version><minor>1</minor></properties>",
    );
    r.add(
        "org.c:child:1.0",
        &format!(
            "<parent><groupId>org.p</groupId><artifactId>parent</artifactId><version>3</version></parent>{}",
            deps(&["org.l:lib:${lib.version}", "org.c:sibling:${project.version}", "org.q:q:${parent.version}"])
        ),
    );
    r.add("org.l:lib:2.1", "");
    r.add("org.c:sibling:1.0", "");
    r.add("org.q:q:3", "");
    let res = run(&r, "org.c:child:1.0");
    assert_eq!(
        files(&res),
        [
            "org.c_child-1.0.jar",
            "org.c_sibling-1.0.jar",
            "org.l_lib-2.1.jar",
            "org.q_q-3.jar"
        ]
    );
    // The pom-packaged parent is not a dependency and has no jar.
    assert!(res.evictions.is_empty() && res.shipped.is_empty());
}

#[test]
fn child_inherits_group_version_and_dependencies_from_parent() {
    let mut r = Repo::default();
    r.add_pom(
        "org.p:parent:3",
        &format!("<packaging>pom</packaging>{}", deps(&["org.l:log:1"])),
    );
    let child = "<parent><groupId>org.p</groupId><artifactId>parent</artifactId><version>3</version></parent>\
                 <artifactId>child</artifactId>";
    // No groupId/version of its own: the parent's, as Maven reads it.
    r.poms.insert(
        Coordinate::new("org.p", "child", "3"),
        format!(
            "<project>{child}{}</project>",
            deps(&["org.d:dep:${project.version}"])
        ),
    );
    r.jars.insert(Coordinate::new("org.p", "child", "3"));
    r.add("org.l:log:1", "").add("org.d:dep:3", "");
    assert_eq!(
        files(&run(&r, "org.p:child:3")),
        ["org.d_dep-3.jar", "org.l_log-1.jar", "org.p_child-3.jar"]
    );
}

#[test]
fn dependency_management_and_bom_imports() {
    let mut r = Repo::default();
    let managed = |list: &[&str]| {
        format!(
            "<dependencyManagement>{}</dependencyManagement>",
            deps(list)
        )
    };
    r.add_pom(
        "org.b:bom:1",
        &format!(
            "<packaging>pom</packaging>{}",
            managed(&["org.x:x:5", "org.y:y:7", "org.own:own:1"])
        ),
    );
    r.add_pom(
        "org.p:parent:1",
        &format!(
            "<packaging>pom</packaging>{}",
            managed(&["org.z:z:9:runtime", "org.x:x:4"])
        ),
    );
    let mut dm = deps(&["org.own:own:2"]);
    dm = dm.replace(
        "</dependencies>",
        &format!(
            "{}</dependencies>",
            dep("org.b:bom:1:import", "<type>pom</type>")
        ),
    );
    r.add(
        "org.a:app:1",
        &format!(
            "<parent><groupId>org.p</groupId><artifactId>parent</artifactId><version>1</version></parent>\
             <dependencyManagement>{dm}</dependencyManagement>{}",
            deps(&["org.x:x", "org.y:y", "org.z:z", "org.own:own"])
        ),
    );
    for gav in [
        "org.x:x:5",
        "org.y:y:7",
        "org.z:z:9",
        "org.own:own:2",
        "org.x:x:4",
    ] {
        r.add(gav, "");
    }
    // own entry (own:2) over the BOM's, the BOM's (x:5) over the parent's (x:4).
    assert_eq!(
        files(&run(&r, "org.a:app:1")),
        [
            "org.a_app-1.jar",
            "org.own_own-2.jar",
            "org.x_x-5.jar",
            "org.y_y-7.jar",
            "org.z_z-9.jar"
        ]
    );
    // A dependency with no version anywhere is an error naming both.
    r.add("org.n:nov:1", &deps(&["org.m:missing"]));
    let e = resolve(
        &r,
        &Request {
            packages: parse_packages("org.n:nov:1").unwrap(),
            ..Request::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("org.m:missing"), "{e}");
}

#[test]
fn dependency_management_mediates_transitive_versions_only() {
    let mut r = Repo::default();
    // root's dM pins lib to 1.0 for its subtree; mid asks 2.0; root itself asks util 3.
    r.add(
        "org.r:root:1",
        &format!(
            "<dependencyManagement>{}</dependencyManagement>{}",
            deps(&["org.l:lib:1.0", "org.u:util:1"]),
            deps(&["org.m:mid:1", "org.u:util:3"])
        ),
    );
    r.add("org.m:mid:1", &deps(&["org.l:lib:2.0"]));
    r.add("org.l:lib:1.0", "")
        .add("org.l:lib:2.0", "")
        .add("org.u:util:3", "")
        .add("org.u:util:1", "");
    let res = run(&r, "org.r:root:1");
    assert_eq!(
        files(&res),
        [
            "org.l_lib-1.0.jar",
            "org.m_mid-1.jar",
            "org.r_root-1.jar",
            "org.u_util-3.jar"
        ]
    );
    assert!(res.evictions.is_empty(), "{:?}", res.evictions);
}

#[test]
fn scopes_and_optional() {
    let mut r = Repo::default();
    r.add(
        "org.a:a:1",
        &deps(&[
            "org.c:compile:1:compile",
            "org.r:runtime:1:runtime",
            "org.t:test:1:test",
            "org.p:provided:1:provided",
            "org.s:system:1:system",
        ])
        .replace(
            "</dependencies>",
            &format!(
                "{}</dependencies>",
                dep("org.o:optional:1", "<optional>true</optional>")
            ),
        ),
    );
    for gav in [
        "org.c:compile:1",
        "org.t:test:1",
        "org.p:provided:1",
        "org.s:system:1",
        "org.o:optional:1",
    ] {
        r.add(gav, "");
    }
    // Transitively too: runtime's own runtime dependency is kept, its test one is not.
    r.add(
        "org.r:runtime:1",
        &deps(&["org.rr:deep:1:runtime", "org.rt:deeptest:1:test"]),
    );
    r.add("org.rr:deep:1", "").add("org.rt:deeptest:1", "");
    assert_eq!(
        files(&run(&r, "org.a:a:1")),
        [
            "org.a_a-1.jar",
            "org.c_compile-1.jar",
            "org.r_runtime-1.jar",
            "org.rr_deep-1.jar"
        ]
    );
}

#[test]
fn exclusions_hold_along_their_path() {
    let mut r = Repo::default();
    let excl = |g: &str, a: &str| {
        format!("<exclusions><exclusion><groupId>{g}</groupId><artifactId>{a}</artifactId></exclusion></exclusions>")
    };
    r.add(
        "org.a:a:1",
        &format!(
            "<dependencies>{}{}{}</dependencies>",
            dep("org.b:b:1", &excl("org.x", "x")),
            dep("org.w:w:1", &excl("*", "*")),
            dep("org.c:c:1", "")
        ),
    );
    r.add("org.b:b:1", &deps(&["org.x:x:1", "org.y:y:1"]));
    r.add("org.w:w:1", &deps(&["org.y:y:1", "org.z:z:1"]));
    // c reaches z on a path with no exclusion: z stays.
    r.add("org.c:c:1", &deps(&["org.z:z:1"]));
    r.add("org.x:x:1", "")
        .add("org.y:y:1", "")
        .add("org.z:z:1", "");
    assert_eq!(
        files(&run(&r, "org.a:a:1")),
        [
            "org.a_a-1.jar",
            "org.b_b-1.jar",
            "org.c_c-1.jar",
            "org.w_w-1.jar",
            "org.y_y-1.jar",
            "org.z_z-1.jar"
        ]
    );
    // --exclude-packages holds everywhere, roots and globs included.
    assert_eq!(
        files(&run_with(&r, "org.a:a:1,org.y:y:1", "org.y:*,org.c:c", &[])),
        ["org.a_a-1.jar", "org.b_b-1.jar", "org.w_w-1.jar"]
    );
}

#[test]
fn latest_revision_wins_conflicts_and_evictions_are_reported() {
    let mut r = Repo::default();
    r.add("org.a:a:1", &deps(&["org.c:c:1.0"]));
    r.add("org.b:b:1", &deps(&["org.c:c:1.10"]));
    r.add("org.c:c:1.0", &deps(&["org.old:only-in-old:1"]));
    r.add("org.c:c:1.10", "");
    r.add("org.old:only-in-old:1", "");
    let res = run(&r, "org.a:a:1,org.b:b:1");
    // The evicted revision's own dependencies go with it.
    assert_eq!(
        files(&res),
        ["org.a_a-1.jar", "org.b_b-1.jar", "org.c_c-1.10.jar"]
    );
    assert_eq!(
        res.evictions,
        [Eviction {
            module: ModuleId::new("org.c", "c"),
            revision: "1.0".into(),
            by: "1.10".into()
        }]
    );
    // Latest, not nearest: a root asking for an older one is evicted too.
    let res = run(&r, "org.c:c:1.0,org.b:b:1");
    assert_eq!(files(&res), ["org.b_b-1.jar", "org.c_c-1.10.jar"]);
}

#[test]
fn ranges_are_pinned_to_the_latest_listed_inside() {
    let mut r = Repo::default();
    r.add("org.a:a:1", &deps(&["org.c:c:[1.0,2.0)"]));
    for v in ["0.9", "1.0", "1.5", "2.0"] {
        r.add(&format!("org.c:c:{v}"), "");
    }
    assert_eq!(
        files(&run(&r, "org.a:a:1")),
        ["org.a_a-1.jar", "org.c_c-1.5.jar"]
    );
    r.add("org.b:b:1", &deps(&["org.c:c:[3.0,)"]));
    let e = resolve(
        &r,
        &Request {
            packages: parse_packages("org.b:b:1").unwrap(),
            ..Request::default()
        },
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("[3.0,)") && text.contains("org.b:b:1") && text.contains("1.5"),
        "{text}"
    );
}

#[test]
fn relocations_point_to_their_target() {
    let mut r = Repo::default();
    r.add_pom(
        "old.g:lib:1",
        "<distributionManagement><relocation><groupId>new.g</groupId></relocation></distributionManagement>",
    );
    r.add("new.g:lib:1", &deps(&["org.d:d:1"]));
    r.add("org.d:d:1", "");
    assert_eq!(
        files(&run(&r, "old.g:lib:1")),
        ["new.g_lib-1.jar", "org.d_d-1.jar"]
    );
}

#[test]
fn packaging_types_and_classifiers() {
    let mut r = Repo::default();
    r.add(
        "org.a:a:1",
        &format!(
            "<dependencies>{}{}{}{}{}</dependencies>",
            dep("org.b:bundle:1", ""),
            dep("org.w:war:1", ""),
            dep("org.p:pomonly:1", ""),
            dep("org.t:withtests:1", "<type>test-jar</type>"),
            dep("org.k:native:1", "<classifier>linux-x86_64</classifier>"),
        ),
    );
    r.add("org.b:bundle:1", "<packaging>bundle</packaging>");
    r.add("org.w:war:1", "<packaging>war</packaging>");
    r.add_pom(
        "org.p:pomonly:1",
        &format!("<packaging>pom</packaging>{}", deps(&["org.d:d:1"])),
    );
    r.add("org.d:d:1", "")
        .add("org.t:withtests:1", "")
        .add("org.k:native:1", "");
    let res = run(&r, "org.a:a:1");
    assert_eq!(
        files(&res),
        [
            "org.a_a-1.jar",
            "org.b_bundle-1.jar",
            "org.d_d-1.jar",
            "org.k_native-1-linux-x86_64.jar",
            "org.t_withtests-1-tests.jar"
        ]
    );
    let native = res
        .artifacts
        .iter()
        .find(|a| a.classifier.is_some() && a.coordinate.module.group == "org.k")
        .unwrap();
    assert_eq!(
        native.repository_path(),
        "org/k/native/1/native-1-linux-x86_64.jar"
    );
}

#[test]
fn spark_modules_are_not_resolved_and_shipped_jars_are_not_added() {
    let mut r = Repo::default();
    r.add(
        "org.k:connector_2.12:1",
        &deps(&[
            "org.apache.spark:spark-sql_2.12:3.5.0",
            "org.scala-lang:scala-library:2.12.18",
            "org.j:json:2",
            "org.t:tiny:1",
        ]),
    );
    r.add("org.j:json:2", "").add("org.t:tiny:1", "");
    let res = run_with(
        &r,
        "org.k:connector_2.12:1",
        "",
        &[("org.j:json", "1"), ("org.t:tiny", "1")],
    );
    assert_eq!(files(&res), ["org.k_connector_2.12-1.jar"]);
    assert_eq!(
        res.shipped,
        [
            Shipped {
                module: ModuleId::new("org.j", "json"),
                resolved: "2".into(),
                shipped: "1".into()
            },
            Shipped {
                module: ModuleId::new("org.t", "tiny"),
                resolved: "1".into(),
                shipped: "1".into()
            },
        ]
    );
}

#[test]
fn errors_name_coordinate_chain_and_repositories() {
    let mut r = Repo::default();
    r.add("org.a:a:1", &deps(&["org.b:b:1"]));
    r.add("org.b:b:1", &deps(&["org.gone:gone:9"]));
    let req = |p: &str| Request {
        packages: parse_packages(p).unwrap(),
        ..Request::default()
    };
    let e = resolve(&r, &req("org.a:a:1")).unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("org.gone:gone:9: not found"), "{text}");
    assert!(
        text.contains("--packages -> org.a:a:1 -> org.b:b:1") && text.contains("memory"),
        "{text}"
    );
    // A POM missing while its jar is there: a module without dependencies (Ivy's allownomd).
    r.jars.insert(Coordinate::new("org.gone", "gone", "9"));
    assert_eq!(files(&run(&r, "org.a:a:1")).len(), 3);
    // A parent that does not exist, a parent cycle, a broken POM.
    let parent = |g: &str| {
        format!(
            "<parent><groupId>{g}</groupId><artifactId>p</artifactId><version>1</version></parent>"
        )
    };
    r.add("org.o:orphan:1", &parent("org.none"));
    assert!(matches!(
        resolve(&r, &req("org.o:orphan:1")),
        Err(MavenError::ParentNotFound { .. })
    ));
    r.add_pom("org.x:p:1", &parent("org.y"))
        .add_pom("org.y:p:1", &parent("org.x"));
    r.add("org.z:kid:1", &parent("org.x"));
    assert!(matches!(
        resolve(&r, &req("org.z:kid:1")),
        Err(MavenError::ParentCycle { .. })
    ));
    r.poms.insert(
        Coordinate::new("org.bad", "bad", "1"),
        "<project><unclosed></project>".into(),
    );
    assert!(matches!(
        resolve(&r, &req("org.bad:bad:1")),
        Err(MavenError::Pom { .. })
    ));
}

#[test]
fn dependency_cycles_are_walked_once() {
    let mut r = Repo::default();
    r.add("org.a:a:1", &deps(&["org.b:b:1"]));
    r.add("org.b:b:1", &deps(&["org.a:a:1", "org.c:c:1"]));
    r.add("org.c:c:1", &deps(&["org.b:b:1"]));
    assert_eq!(
        files(&run(&r, "org.a:a:1")),
        ["org.a_a-1.jar", "org.b_b-1.jar", "org.c_c-1.jar"]
    );
}

#[test]
fn distribution_jars_are_known_by_their_own_pom_properties() {
    use crate::jar::Coordinates;
    use stage::shipped_module;
    let c = |g: &str, a: &str, v: &str| Coordinates {
        group: g.into(),
        artifact: a.into(),
        version: v.into(),
    };
    // A shaded jar carries several; the one its file is named after counts.
    let poms = [
        c("com.google.guava", "guava", "14.0.1"),
        c("org.x", "shaded-inside", "9"),
    ];
    assert_eq!(
        shipped_module("guava-14.0.1.jar", &poms),
        Some((ModuleId::new("com.google.guava", "guava"), "14.0.1".into()))
    );
    assert_eq!(shipped_module("unknown-1.jar", &poms), None);
    assert_eq!(shipped_module("x.jar", &[]), None);
}

#[test]
fn report_names_evictions_and_the_distributions_wins() {
    let res = Resolution {
        artifacts: Vec::new(),
        evictions: vec![Eviction {
            module: ModuleId::new("g", "c"),
            revision: "1".into(),
            by: "2".into(),
        }],
        shipped: vec![
            Shipped {
                module: ModuleId::new("g", "same"),
                resolved: "1".into(),
                shipped: "1".into(),
            },
            Shipped {
                module: ModuleId::new("g", "json"),
                resolved: "2".into(),
                shipped: "1".into(),
            },
        ],
    };
    assert_eq!(
        stage::report_lines(&res),
        [
            "packages: g:c 1 evicted by 2",
            "packages: g:json 2 is already in the distribution's jars/ as 1; keeping 1",
        ]
    );
}

#[test]
fn partial_names_come_from_the_expected_sum() {
    let sum = |s: &str| Some(("sha1", "SHA-1", s.to_string()));
    let hex40 = "a".repeat(40);
    assert_eq!(
        remote::partial_key(&sum(&hex40), "http://r/x.jar"),
        format!("sha1-{hex40}")
    );
    // Whatever a server sends, the name stays one short, safe path component.
    for hostile in ["../../etc/passwd", &"f".repeat(4000), ""] {
        let k = remote::partial_key(&sum(hostile), "http://r/x.jar");
        assert!(k.len() < 100 && !k.contains('/') && k != "sha1-", "{k}");
    }
    let a = remote::partial_key(&None, "http://r/x.jar");
    assert!(a.starts_with("unverified-"), "{a}");
    assert_ne!(a, remote::partial_key(&None, "http://s/x.jar"));
}

/// A [`Repo`] whose jar probes are recorded; probing a jar it lists none for fails, as
/// an unreachable repository would.
struct Probed(Repo, std::cell::RefCell<Vec<String>>);

impl PomSource for Probed {
    fn pom(&self, c: &Coordinate) -> Result<Option<String>, SourceError> {
        self.0.pom(c)
    }
    fn versions(&self, m: &ModuleId) -> Result<Vec<String>, SourceError> {
        self.0.versions(m)
    }
    fn has_jar(&self, c: &Coordinate) -> Result<bool, SourceError> {
        self.1.borrow_mut().push(c.to_string());
        self.0.has_jar(c)
    }
    fn repositories(&self) -> Vec<String> {
        self.0.repositories()
    }
}

#[test]
fn parents_and_boms_are_read_as_poms_never_probed_for_a_jar() {
    let mut repo = Repo::default();
    let bom = "<packaging>pom</packaging><dependencyManagement><dependencies>\
               <dependency><groupId>org.l</groupId><artifactId>lib</artifactId>\
               <version>2</version></dependency></dependencies></dependencyManagement>";
    repo.add_pom("org.p:parent:1", "<packaging>pom</packaging>")
        .add_pom("org.b:bom:1", bom)
        .add("org.l:lib:2", "")
        .add_pom("org.pp:pomdep:1", "<packaging>pom</packaging>");
    let import = dep("org.b:bom:1:import", "<type>pom</type>");
    repo.add(
        "org.c:conn:1",
        &format!(
            "<parent><groupId>org.p</groupId><artifactId>parent</artifactId><version>1</version>\
             </parent><dependencyManagement><dependencies>{import}</dependencies>\
             </dependencyManagement>{}",
            deps(&["org.l:lib", "org.pp:pomdep:1"])
        ),
    );
    let probed = Probed(repo, Default::default());
    let req = Request {
        packages: parse_packages("org.c:conn:1").unwrap(),
        excludes: Vec::new(),
        shipped: BTreeMap::new(),
    };
    let res = resolve(&probed, &req).unwrap();
    assert_eq!(
        files(&res),
        ["org.c_conn-1.jar", "org.l_lib-2.jar"],
        "a pom-packaged dependency without a jar adds none"
    );
    // Only the pom-packaged dependency is asked about, once.
    assert_eq!(*probed.1.borrow(), ["org.pp:pomdep:1"]);
}
