//! Pure: which files go into which layer, with what path, owner and mode.
//!
//! Layers run from least to most often changing (Jib's order), so a rebuild after editing
//! `conf/` or swapping the entrypoint only rebuilds the last layers, and a registry or a
//! node already holding the big jar layers never transfers them again:
//!
//! 1. `spark-deps`: third-party jars (`jars/` minus `spark-*`);
//! 2. `spark-jars`: Spark's own `jars/spark-*`;
//!    then `packages`: the jars `--packages` resolved, also in `jars/` (every role's
//!    classpath, as upstream's images have it);
//! 3. `examples`: `examples/`, `data/`, `kubernetes/tests` → `/opt/spark/tests`;
//! 4. `python` (spark-py only): `python/pyspark`, `python/lib`; `r` (spark-r only): `R/`;
//! 5. `spark-bin`: `bin/`, `sbin/`, `conf/`, `kubernetes/` (without tests), `RELEASE`;
//! 6. `system`: `/opt/spark-entrypoint`, `/usr/bin/tini`, `/opt/decom.sh`, `/opt/entrypoint.sh`,
//!    `/opt/spark/work-dir`, `/etc/passwd`, `/etc/localtime` (a link into the base's
//!    zoneinfo when it has one), `/etc/timezone`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

pub use crate::layer::plan::{
    add_parents, dir, file_mode, sort_entries, Content, Entry, Kind, LayerPlan, Variant, SPARK_GID,
    SPARK_HOME,
};

/// One file of the unpacked distribution, relative to SPARK_HOME (`jars/x.jar`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFile {
    pub rel: String,
    pub kind: DistKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DistKind {
    Dir,
    File {
        path: PathBuf,
        size: u64,
        mtime_ns: i128,
        executable: bool,
    },
    Symlink(String),
}

/// Everything besides the distribution that goes into the image.
#[derive(Debug, Clone)]
pub struct SystemFiles {
    pub entrypoint: Content,
    pub passwd: Arc<[u8]>,
    pub localtime: Arc<[u8]>,
    /// `/etc/localtime` as a symlink to this (the base's `/usr/share/zoneinfo/<zone>`)
    /// instead of a copy: the JVM then names the zone, not an alias of it (`PRC`).
    pub localtime_link: Option<String>,
    pub timezone: String,
    pub uid: u64,
}

pub use crate::maven::stage::PackageJar;

/// Where package jars sit among the distribution's files (`layer_of` maps them).
pub const PACKAGES_DIR: &str = "packages";

fn layer_of(rel: &str) -> Option<(&'static str, Option<Variant>, String)> {
    let first = rel.split('/').next().unwrap_or("");
    let under = |dest: &str| format!("{SPARK_HOME}/{dest}");
    match first {
        "jars" => {
            let file = rel.strip_prefix("jars/")?;
            let name = if file.starts_with("spark-") {
                "spark-jars"
            } else {
                "spark-deps"
            };
            Some((name, None, under(rel)))
        }
        "examples" | "data" => Some(("examples", None, under(rel))),
        PACKAGES_DIR => {
            let file = rel.strip_prefix("packages/")?;
            Some(("packages", None, under(&format!("jars/{file}"))))
        }
        "python" => {
            // Upstream's spark-py copies python/pyspark and python/lib only.
            let second = rel.split('/').nth(1)?;
            matches!(second, "pyspark" | "lib")
                .then(|| ("python", Some(Variant::Python), under(rel)))
        }
        "R" => Some(("r", Some(Variant::R), under(rel))),
        "kubernetes" => match rel.strip_prefix("kubernetes/tests") {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                Some(("examples", None, under(&format!("tests{rest}"))))
            }
            _ => Some(("spark-bin", None, under(rel))),
        },
        "bin" | "sbin" | "conf" => Some(("spark-bin", None, under(rel))),
        "RELEASE" if rel == "RELEASE" => Some(("spark-bin", None, under(rel))),
        _ => None,
    }
}

/// Pure: what an image variant cannot do without, checked before any layer is built so
/// that a trimmed distribution (no `examples/`, `data/`, `kubernetes/`; users strip them
/// to slim images) builds, while one missing what a requested image runs is refused by
/// name instead of becoming an image that fails on its first job.
pub fn check_dist(dist: &[DistFile], variants: &BTreeSet<Variant>) -> Result<(), String> {
    // docker-image-tool.sh's own check: without Spark's jars nothing runs.
    if !dist.iter().any(|f| f.rel.starts_with("jars/spark-")) {
        return Err("no jars/spark-*.jar: not a runnable Spark distribution".into());
    }
    let has_file_under = |layer: &str| {
        dist.iter().any(|f| {
            matches!(f.kind, DistKind::File { .. })
                && layer_of(&f.rel).is_some_and(|(name, _, _)| name == layer)
        })
    };
    for v in variants {
        let (layer, what, flag) = match v {
            Variant::Jvm => continue,
            Variant::Python => ("python", "python/pyspark or python/lib", "-p"),
            Variant::R => ("r", "R/lib/SparkR", "-R"),
        };
        // SparkR's package is what `-R` images load; a bare R/ directory runs nothing.
        let sparkr = *v != Variant::R
            || dist.iter().any(|f| {
                f.rel.starts_with("R/lib/SparkR/") && matches!(f.kind, DistKind::File { .. })
            });
        if !has_file_under(layer) || !sparkr {
            return Err(format!(
                "{} needs {what}, which this distribution lacks: use a full Spark \
                 distribution (a -bin-hadoop download), or drop {flag}",
                v.image_name()
            ));
        }
    }
    Ok(())
}

/// Layer names in image order; `python` and `r` sit at the same position.
const ORDER: [&str; 8] = [
    "spark-deps",
    "spark-jars",
    "packages",
    "examples",
    "python",
    "r",
    "spark-bin",
    "system",
];

/// Plan every distinct layer. Files of the distribution that no image uses (LICENSE,
/// NOTICE, licenses/, README.md, yarn/, python/ outside pyspark and lib) are left out,
/// as upstream's Dockerfiles do.
pub fn plan_layers(dist: &[DistFile], sys: &SystemFiles) -> Vec<LayerPlan> {
    let mut layers = dist_layers(dist, sys.uid);
    let system = finished(system_layer(sys), sys.uid);
    let rank = |name: &str| ORDER.iter().position(|n| *n == name);
    let at = layers
        .iter()
        .position(|l| rank(l.name) > rank(system.name))
        .unwrap_or(layers.len());
    if system.entries.iter().any(|e| !matches!(e.kind, Kind::Dir)) {
        layers.insert(at, system);
    }
    layers
}

/// The layers of the distribution alone, in [`ORDER`], without the system layer: they
/// depend on the distribution and the user id only, never on the base, so a build can
/// tar and compress them while it still reads the base.
pub fn dist_layers(dist: &[DistFile], uid: u64) -> Vec<LayerPlan> {
    let mut layers: Vec<LayerPlan> = ORDER
        .iter()
        .map(|name| LayerPlan {
            name,
            only: match *name {
                "python" => Some(Variant::Python),
                "r" => Some(Variant::R),
                _ => None,
            },
            entries: Vec::new(),
        })
        .collect();
    let idx = |name: &str| ORDER.iter().position(|n| *n == name).unwrap_or(0);
    for f in dist {
        let Some((layer, _, dest)) = layer_of(&f.rel) else {
            continue;
        };
        let entry = match &f.kind {
            DistKind::Dir => dir(&dest, uid, SPARK_GID, 0o755),
            DistKind::File {
                path,
                size,
                mtime_ns,
                executable,
            } => Entry {
                path: dest,
                kind: Kind::File(Content::Path {
                    path: path.clone(),
                    size: *size,
                    mtime_ns: *mtime_ns,
                }),
                mode: file_mode(*executable),
                uid,
                gid: SPARK_GID,
            },
            DistKind::Symlink(t) => Entry {
                path: dest,
                kind: Kind::Symlink(t.clone()),
                mode: 0o777,
                uid,
                gid: SPARK_GID,
            },
        };
        layers[idx(layer)].entries.push(entry);
    }
    // A part the distribution lacks (or has only as empty directories) makes no layer:
    // an empty layer costs a blob, a registry round trip and a daemon commit for nothing.
    layers
        .into_iter()
        .filter(|l| l.name != "system")
        .map(|l| finished(l, uid))
        .filter(|l| l.entries.iter().any(|e| !matches!(e.kind, Kind::Dir)))
        .collect()
}

/// A layer's entries with their parent directories, sorted parents first, each once.
fn finished(mut l: LayerPlan, uid: u64) -> LayerPlan {
    add_parents(&mut l.entries, uid);
    sort_entries(&mut l.entries);
    l.entries.dedup_by(|a, b| a.path == b.path);
    l
}

/// The one layer that depends on the base (its passwd and zoneinfo) and the platform
/// (the entrypoint binary): `build` plans it with the others, `rebase` alone for a new base.
pub fn system_layer(sys: &SystemFiles) -> LayerPlan {
    let mut system = Vec::new();
    let file = |path: &str, content: Content, mode: u32| Entry {
        path: path.to_string(),
        kind: Kind::File(content),
        mode,
        uid: 0,
        gid: 0,
    };
    system.push(file("opt/spark-entrypoint", sys.entrypoint.clone(), 0o755));
    system.push(Entry {
        path: "usr/bin/tini".into(),
        kind: Kind::Symlink("/opt/spark-entrypoint".into()),
        mode: 0o777,
        uid: 0,
        gid: 0,
    });
    // Spark's default `spark.kubernetes.decommission.script`; invoked under this name the
    // entrypoint acts as `spark-entrypoint decommission`.
    system.push(Entry {
        path: "opt/decom.sh".into(),
        kind: Kind::Symlink("/opt/spark-entrypoint".into()),
        mode: 0o777,
        uid: 0,
        gid: 0,
    });
    // Upstream's entrypoint path, for pod templates that name it (`command:
    // ["/opt/entrypoint.sh"]`): the entrypoint, which needs no shell.
    system.push(Entry {
        path: "opt/entrypoint.sh".into(),
        kind: Kind::Symlink("/opt/spark-entrypoint".into()),
        mode: 0o777,
        uid: 0,
        gid: 0,
    });
    // Group-writable for the arbitrary UIDs OpenShift and friends run with (gid 0).
    system.push(dir("opt/spark/work-dir", sys.uid, SPARK_GID, 0o775));
    // Group-writable so the entrypoint can append an entry for a random UID (upstream's
    // `chmod ug+rw /etc/passwd`).
    system.push(file(
        "etc/passwd",
        Content::Bytes(sys.passwd.clone()),
        0o664,
    ));
    system.push(match &sys.localtime_link {
        Some(target) => Entry {
            path: "etc/localtime".into(),
            kind: Kind::Symlink(target.clone()),
            mode: 0o777,
            uid: 0,
            gid: 0,
        },
        None => file(
            "etc/localtime",
            Content::Bytes(sys.localtime.clone()),
            0o644,
        ),
    });
    system.push(file(
        "etc/timezone",
        Content::Bytes(format!("{}\n", sys.timezone).into_bytes().into()),
        0o644,
    ));

    add_parents(&mut system, sys.uid);
    sort_entries(&mut system);
    system.dedup_by(|a, b| a.path == b.path);
    LayerPlan {
        name: "system",
        only: None,
        entries: system,
    }
}

/// The layers of one image, in order.
pub fn layers_for(layers: &[LayerPlan], v: Variant) -> Vec<usize> {
    (0..layers.len())
        .filter(|&i| layers[i].only.is_none_or(|o| o == v))
        .collect()
}

/// `/etc/passwd` for the image: the base's lines, plus a `spark` entry for `uid` unless
/// the base already has that uid (spark-docker adds one; our entrypoint appends entries
/// for random uids itself, so this only names the default user).
pub fn passwd_with_spark(base: Option<&[u8]>, uid: u64) -> Vec<u8> {
    let mut out = match base {
        Some(b) => b.to_vec(),
        None => b"root:x:0:0:root:/root:/bin/sh\n".to_vec(),
    };
    let text = String::from_utf8_lossy(&out);
    let has_uid = text
        .lines()
        .any(|l| l.split(':').nth(2) == Some(uid.to_string().as_str()));
    let has_name = text.lines().any(|l| l.split(':').next() == Some("spark"));
    if !has_uid {
        if !out.is_empty() && !out.ends_with(b"\n") {
            out.push(b'\n');
        }
        let name = if has_name { "sparkuser" } else { "spark" };
        out.extend_from_slice(
            format!("{name}:x:{uid}:0:spark:/opt/spark:/usr/sbin/nologin\n").as_bytes(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(rel: &str, exec: bool) -> DistFile {
        DistFile {
            rel: rel.into(),
            kind: DistKind::File {
                path: PathBuf::from("/d").join(rel),
                size: 1,
                mtime_ns: 0,
                executable: exec,
            },
        }
    }

    fn sys() -> SystemFiles {
        SystemFiles {
            entrypoint: Content::Bytes(Arc::from(&b"ep"[..])),
            passwd: Arc::from(&b"root:x:0:0::/root:/bin/sh\n"[..]),
            localtime: Arc::from(&b"TZif"[..]),
            localtime_link: None,
            timezone: "UTC".into(),
            uid: 185,
        }
    }

    #[test]
    fn splits_and_orders() {
        let dist = vec![
            f("jars/spark-core_2.12-3.5.3.jar", false),
            f("jars/scala-library-2.12.18.jar", false),
            f("bin/spark-submit", true),
            f("conf/x.conf", false),
            f("python/pyspark/__init__.py", false),
            f("python/docs/x", false),
            f("R/lib/SparkR/DESCRIPTION", false),
            f("kubernetes/tests/a.py", false),
            f("LICENSE", false),
            f("RELEASE", false),
        ];
        let layers = plan_layers(&dist, &sys());
        let names: Vec<_> = layers.iter().map(|l| l.name).collect();
        assert_eq!(
            names,
            [
                "spark-deps",
                "spark-jars",
                "examples",
                "python",
                "r",
                "spark-bin",
                "system"
            ]
        );
        let deps = &layers[0].entries;
        assert_eq!(
            deps.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
            [
                "opt",
                "opt/spark",
                "opt/spark/jars",
                "opt/spark/jars/scala-library-2.12.18.jar"
            ]
        );
        assert_eq!((deps[0].uid, deps[1].uid, deps[1].gid), (0, 185, 0));
        let py: Vec<_> = layers[3].entries.iter().map(|e| e.path.as_str()).collect();
        assert!(py.contains(&"opt/spark/python/pyspark/__init__.py"));
        assert!(!py.iter().any(|p| p.contains("docs")));
        let ex: Vec<_> = layers[2].entries.iter().map(|e| e.path.as_str()).collect();
        assert!(ex.contains(&"opt/spark/tests/a.py"));
        let bin = &layers[5].entries;
        let submit = bin
            .iter()
            .find(|e| e.path == "opt/spark/bin/spark-submit")
            .unwrap();
        assert_eq!(submit.mode, 0o755);
        assert!(bin.iter().any(|e| e.path == "opt/spark/RELEASE"));
        let sys_l = &layers[6].entries;
        let wd = sys_l
            .iter()
            .find(|e| e.path == "opt/spark/work-dir")
            .unwrap();
        assert_eq!(wd.mode, 0o775);
        assert_eq!(layers_for(&layers, Variant::Jvm), [0, 1, 2, 5, 6]);
        assert_eq!(layers_for(&layers, Variant::Python), [0, 1, 2, 3, 5, 6]);
        assert_eq!(layers_for(&layers, Variant::R), [0, 1, 2, 4, 5, 6]);
    }

    #[test]
    fn packages_go_to_jars_between_spark_jars_and_examples() {
        let dist = vec![
            f("jars/spark-core_2.12-3.5.3.jar", false),
            f("packages/org.a_x-1.jar", false),
            f("examples/jars/e.jar", false),
        ];
        let layers = plan_layers(&dist, &sys());
        let names: Vec<_> = layers.iter().map(|l| l.name).collect();
        assert_eq!(names, ["spark-jars", "packages", "examples", "system"]);
        let jar = layers[1].entries.last().unwrap();
        assert_eq!(jar.path, "opt/spark/jars/org.a_x-1.jar");
        assert_eq!((jar.mode, jar.uid, jar.gid), (0o644, 185, 0));
        assert_eq!(layers_for(&layers, Variant::Jvm), [0, 1, 2, 3]);
    }

    #[test]
    fn system_layer_links_and_localtime() {
        let system = |sys: &SystemFiles| {
            let layers = plan_layers(&[f("jars/a.jar", false)], sys);
            let system = layers.into_iter().find(|l| l.name == "system").unwrap();
            system.entries
        };
        let kind = |entries: &[Entry], path: &str| {
            entries
                .iter()
                .find(|e| e.path == path)
                .map(|e| e.kind.clone())
                .unwrap_or_else(|| panic!("no {path}"))
        };
        let copied = system(&sys());
        for link in ["usr/bin/tini", "opt/decom.sh", "opt/entrypoint.sh"] {
            assert_eq!(
                kind(&copied, link),
                Kind::Symlink("/opt/spark-entrypoint".into()),
                "{link}"
            );
        }
        assert!(matches!(kind(&copied, "etc/localtime"), Kind::File(_)));
        let linked = system(&SystemFiles {
            localtime_link: Some("/usr/share/zoneinfo/Asia/Shanghai".into()),
            ..sys()
        });
        assert_eq!(
            kind(&linked, "etc/localtime"),
            Kind::Symlink("/usr/share/zoneinfo/Asia/Shanghai".into())
        );
        assert!(matches!(kind(&linked, "etc/timezone"), Kind::File(_)));
    }

    #[test]
    fn parents_first_and_sorted() {
        let dist = vec![f("jars/a-b.jar", false), f("jars/a/b.jar", false)];
        let l = plan_layers(&dist, &sys());
        let p: Vec<_> = l[0].entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            p,
            [
                "opt",
                "opt/spark",
                "opt/spark/jars",
                "opt/spark/jars/a",
                "opt/spark/jars/a/b.jar",
                "opt/spark/jars/a-b.jar"
            ]
        );
    }

    #[test]
    fn a_trimmed_distribution_makes_no_empty_layer() {
        let dist = vec![
            f("jars/spark-core_2.12-3.5.3.jar", false),
            f("jars/scala-library-2.12.18.jar", false),
            f("bin/spark-submit", true),
            DistFile {
                rel: "examples".into(),
                kind: DistKind::Dir,
            },
            DistFile {
                rel: "examples/jars".into(),
                kind: DistKind::Dir,
            },
        ];
        let layers = plan_layers(&dist, &sys());
        let names: Vec<_> = layers.iter().map(|l| l.name).collect();
        assert_eq!(names, ["spark-deps", "spark-jars", "spark-bin", "system"]);
        assert_eq!(layers_for(&layers, Variant::Jvm), [0, 1, 2, 3]);
    }

    #[test]
    fn check_dist_refuses_only_what_an_image_needs() {
        let jvm = BTreeSet::from([Variant::Jvm]);
        let all = BTreeSet::from([Variant::Jvm, Variant::Python, Variant::R]);
        let core = f("jars/spark-core_2.12-3.5.3.jar", false);
        assert!(check_dist(std::slice::from_ref(&core), &jvm).is_ok());
        let e = check_dist(&[f("jars/x.jar", false)], &jvm).unwrap_err();
        assert!(e.contains("jars/spark-"), "{e}");

        let py = check_dist(std::slice::from_ref(&core), &all).unwrap_err();
        assert!(
            py.contains("spark-py needs python/") && py.contains("-p"),
            "{py}"
        );
        // python/docs is not what spark-py copies; an empty python/pyspark neither.
        let docs_only = vec![
            core.clone(),
            f("python/docs/index.html", false),
            DistFile {
                rel: "python/pyspark".into(),
                kind: DistKind::Dir,
            },
        ];
        let py = BTreeSet::from([Variant::Jvm, Variant::Python]);
        assert!(check_dist(&docs_only, &py).is_err());

        let with_py = vec![core.clone(), f("python/lib/py4j-0.10.9.7-src.zip", false)];
        assert!(check_dist(&with_py, &py).is_ok());
        let r = check_dist(&with_py, &all).unwrap_err();
        assert!(r.contains("spark-r needs R/") && r.contains("-R"), "{r}");
        let mut full = with_py;
        full.push(f("R/pkg/DESCRIPTION", false));
        let r = check_dist(&full, &all).unwrap_err();
        assert!(r.contains("R/lib/SparkR"), "{r}");
        full.push(f("R/lib/SparkR/DESCRIPTION", false));
        assert!(check_dist(&full, &all).is_ok());
    }

    #[test]
    fn passwd() {
        let p = passwd_with_spark(Some(b"root:x:0:0::/root:/bin/sh"), 185);
        assert_eq!(
            String::from_utf8(p).unwrap(),
            "root:x:0:0::/root:/bin/sh\nspark:x:185:0:spark:/opt/spark:/usr/sbin/nologin\n"
        );
        let p = passwd_with_spark(Some(b"spark:x:185:185::/:/bin/false\n"), 185);
        assert_eq!(p, b"spark:x:185:185::/:/bin/false\n");
    }
}
