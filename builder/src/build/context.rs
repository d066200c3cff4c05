//! The build context streamed to the daemon: only what the image's Dockerfile copies.
//!
//! docker-image-tool.sh sends the whole SPARK_HOME (300–600 MB, licenses, python docs,
//! yarn, …) once per image. Here the context is derived from the daemonless layer plan
//! ([`crate::build::plan::plan_layers`]), so both paths package exactly the same files:
//! each `/opt/spark/...` entry of a layer goes under a directory named after the layer
//! (`spark-deps/jars/x.jar`), which the Dockerfile COPYs to `/opt/spark/`. The JVM image
//! gets the jar, examples and bin layers plus the entrypoint; spark-py only `python/`;
//! spark-r only `r/`.
//!
//! Pure: [`context_plan`]. Effects: [`write_context`] (a tar to any writer).

use std::fs::File;
use std::io::{self, Read, Write};

use crate::build::plan::{Content, Kind, LayerPlan, Variant, SPARK_HOME};
use crate::build::BuildError;

use crate::engine::error::EngineError;

/// Context directories of the JVM image, in Dockerfile order.
pub const JVM_DIRS: [&str; 5] = [
    "spark-deps",
    "spark-jars",
    "packages",
    "examples",
    "spark-bin",
];

/// One entry of the context tar (path relative to the context root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    pub path: String,
    pub kind: Kind,
    pub mode: u32,
}

fn dir(path: &str) -> ContextEntry {
    ContextEntry {
        path: path.to_string(),
        kind: Kind::Dir,
        mode: 0o755,
    }
}

/// The context directories an image's Dockerfile COPYs.
pub fn dirs_for(variant: Variant) -> &'static [&'static str] {
    match variant {
        Variant::Jvm => &JVM_DIRS,
        Variant::Python => &["python"],
        Variant::R => &["r"],
    }
}

/// Pure: the context of `variant` (without the Dockerfile, which the caller adds).
/// Every COPY source directory is present even when empty, so a distribution without
/// `examples/` still builds.
pub fn context_plan(layers: &[LayerPlan], variant: Variant) -> Vec<ContextEntry> {
    let wanted = dirs_for(variant);
    let mut out: Vec<ContextEntry> = wanted.iter().map(|d| dir(d)).collect();
    let prefix = format!("{SPARK_HOME}/");
    for layer in layers {
        if layer.name == "system" {
            if variant == Variant::Jvm {
                out.extend(system_entries(layer));
            }
            continue;
        }
        if !wanted.contains(&layer.name) {
            continue;
        }
        for e in &layer.entries {
            // `opt` and `opt/spark` themselves are the COPY destination, not content.
            let Some(rel) = e.path.strip_prefix(&prefix) else {
                continue;
            };
            out.push(ContextEntry {
                path: format!("{}/{rel}", layer.name),
                kind: e.kind.clone(),
                mode: e.mode,
            });
        }
    }
    out
}

/// Pure: the system layer as context entries: its root-owned files under `system/` (the
/// built-in Dockerfile's `COPY system/ /`), the work directory, which belongs to the Spark
/// user, under `spark-bin/` (`COPY --chown`), and the entrypoint also as
/// `spark-entrypoint`, where users' own Dockerfiles (`-f`) find it.
fn system_entries(layer: &LayerPlan) -> Vec<ContextEntry> {
    let mut out = vec![dir("system")];
    let prefix = format!("{SPARK_HOME}/");
    for e in &layer.entries {
        let entry = |path: String| ContextEntry {
            path,
            kind: e.kind.clone(),
            mode: e.mode,
        };
        if e.path == "opt/spark-entrypoint" {
            out.push(entry("spark-entrypoint".into()));
        }
        if e.path == SPARK_HOME {
            // The first Spark COPY makes /opt/spark, the Spark user's.
            continue;
        }
        out.push(match e.path.strip_prefix(&prefix) {
            Some(rel) => entry(format!("spark-bin/{rel}")),
            None => entry(format!("system/{}", e.path)),
        });
    }
    out
}

/// Pure: the COPY source directories of `variant` with nothing but directories in them.
/// The built-in Dockerfiles leave their COPYs out (see [`crate::engine::dockerfile::builtin_without`]),
/// as the daemonless path leaves out the layer.
pub fn empty_dirs(entries: &[ContextEntry], variant: Variant) -> Vec<&'static str> {
    dirs_for(variant)
        .iter()
        .copied()
        .filter(|d| {
            let prefix = format!("{d}/");
            !entries
                .iter()
                .any(|e| e.path.starts_with(&prefix) && !matches!(e.kind, Kind::Dir))
        })
        .collect()
}

fn header(entry_type: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(entry_type);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Effects: write the context tar (`Dockerfile` first, then `entries`) to `w`. Times
/// are `mtime` (SOURCE_DATE_EPOCH) so the daemon's build cache sees the same context
/// for the same distribution.
pub fn write_context<W: Write>(
    entries: &[ContextEntry],
    dockerfile: &[u8],
    mtime: u64,
    w: W,
) -> Result<W, BuildError> {
    let io_err = |path: &str| {
        let path = path.to_string();
        move |source: io::Error| EngineError::Io {
            path: path.into(),
            source,
        }
    };
    let mut b = tar::Builder::new(w);
    let mut h = header(
        tar::EntryType::Regular,
        0o644,
        dockerfile.len() as u64,
        mtime,
    );
    b.append_data(&mut h, "Dockerfile", dockerfile)
        .map_err(io_err("Dockerfile"))?;
    for e in entries {
        match &e.kind {
            Kind::Dir => {
                let mut h = header(tar::EntryType::Directory, e.mode, 0, mtime);
                b.append_data(&mut h, format!("{}/", e.path), io::empty())
                    .map_err(io_err(&e.path))?;
            }
            Kind::Symlink(target) => {
                let mut h = header(tar::EntryType::Symlink, e.mode, 0, mtime);
                b.append_link(&mut h, &e.path, target)
                    .map_err(io_err(&e.path))?;
            }
            Kind::File(Content::Bytes(bytes)) => {
                let mut h = header(tar::EntryType::Regular, e.mode, bytes.len() as u64, mtime);
                b.append_data(&mut h, &e.path, &bytes[..])
                    .map_err(io_err(&e.path))?;
            }
            Kind::File(Content::Path { path, .. }) => {
                let err = |source| EngineError::Io {
                    path: path.clone(),
                    source,
                };
                let f = File::open(path).map_err(err)?;
                let size = f
                    .metadata()
                    .map_err(|source| EngineError::Io {
                        path: path.clone(),
                        source,
                    })?
                    .len();
                let mut h = header(tar::EntryType::Regular, e.mode, size, mtime);
                b.append_data(&mut h, &e.path, f.take(size))
                    .map_err(|source| EngineError::Io {
                        path: path.clone(),
                        source,
                    })?;
            }
        }
    }
    Ok(b.into_inner().map_err(io_err("build context"))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::plan::{plan_layers, DistFile, DistKind, SystemFiles};
    use std::path::PathBuf;
    use std::sync::Arc;

    fn f(rel: &str) -> DistFile {
        DistFile {
            rel: rel.into(),
            kind: DistKind::File {
                path: PathBuf::from("/d").join(rel),
                size: 1,
                mtime_ns: 0,
                executable: rel.starts_with("bin/"),
            },
        }
    }

    fn layers() -> Vec<LayerPlan> {
        let dist = vec![
            f("jars/spark-core_2.12-3.5.3.jar"),
            f("jars/scala-library-2.12.18.jar"),
            f("packages/org.a_x-1.jar"),
            f("bin/spark-submit"),
            f("python/pyspark/__init__.py"),
            f("python/docs/index.html"),
            f("R/lib/SparkR/DESCRIPTION"),
            f("kubernetes/tests/a.py"),
            f("LICENSE"),
            f("yarn/spark-yarn-shuffle.jar"),
        ];
        plan_layers(&dist, &sys())
    }

    fn sys() -> SystemFiles {
        SystemFiles {
            entrypoint: Content::Bytes(Arc::from(&b"ep"[..])),
            passwd: Arc::from(&b""[..]),
            localtime: Arc::from(&b""[..]),
            localtime_link: None,
            timezone: "UTC".into(),
            uid: 185,
        }
    }

    fn paths(v: &[ContextEntry]) -> Vec<&str> {
        v.iter().map(|e| e.path.as_str()).collect()
    }

    #[test]
    fn jvm_context_is_the_jvm_layers_and_the_entrypoint() {
        let c = context_plan(&layers(), Variant::Jvm);
        // The system layer's entries: see `jvm_context_has_the_system_files`.
        let from_system = |p: &&str| {
            p.starts_with("system") || *p == "spark-entrypoint" || *p == "spark-bin/work-dir"
        };
        let spark: Vec<&str> = paths(&c).into_iter().filter(|p| !from_system(p)).collect();
        assert_eq!(
            spark,
            [
                "spark-deps",
                "spark-jars",
                "packages",
                "examples",
                "spark-bin",
                "spark-deps/jars",
                "spark-deps/jars/scala-library-2.12.18.jar",
                "spark-jars/jars",
                "spark-jars/jars/spark-core_2.12-3.5.3.jar",
                // --packages jars land in /opt/spark/jars through their own COPY.
                "packages/jars",
                "packages/jars/org.a_x-1.jar",
                "examples/tests",
                "examples/tests/a.py",
                "spark-bin/bin",
                "spark-bin/bin/spark-submit",
            ]
        );
        let submit = c.iter().find(|e| e.path == "spark-bin/bin/spark-submit");
        assert_eq!(submit.unwrap().mode, 0o755);
    }

    #[test]
    fn jvm_context_has_the_system_files() {
        let c = context_plan(&layers(), Variant::Jvm);
        let at = |p: &str| {
            c.iter()
                .find(|e| e.path == p)
                .unwrap_or_else(|| panic!("{p}"))
        };
        assert_eq!(at("system/etc/passwd").mode, 0o664);
        assert_eq!(at("system/etc/timezone").mode, 0o644);
        assert!(matches!(&at("system/usr/bin/tini").kind,
            Kind::Symlink(t) if t == "/opt/spark-entrypoint"));
        assert_eq!(at("system/opt/spark-entrypoint").mode, 0o755);
        assert_eq!(at("spark-entrypoint").mode, 0o755);
        // The Spark user's directory goes with the Spark files' COPY --chown.
        let work = at("spark-bin/work-dir");
        assert_eq!((work.mode, &work.kind), (0o775, &Kind::Dir));
        assert!(!paths(&c)
            .iter()
            .any(|p| *p == "system/opt/spark" || p.starts_with("system/opt/spark/")));
        assert!(paths(&context_plan(&layers(), Variant::Python))
            .iter()
            .all(|p| p.starts_with("python")));
    }

    #[test]
    fn variants_get_only_their_directory() {
        let py = context_plan(&layers(), Variant::Python);
        assert_eq!(
            paths(&py),
            [
                "python",
                "python/python",
                "python/python/pyspark",
                "python/python/pyspark/__init__.py"
            ]
        );
        let r = context_plan(&layers(), Variant::R);
        assert!(paths(&r).contains(&"r/R/lib/SparkR/DESCRIPTION"));
        assert!(!paths(&r).iter().any(|p| p.starts_with("python")));
    }

    #[test]
    fn empty_dirs_are_the_parts_a_distribution_lacks() {
        assert!(empty_dirs(&context_plan(&layers(), Variant::Jvm), Variant::Jvm).is_empty());
        let trimmed = vec![
            f("jars/spark-core_2.12-3.5.3.jar"),
            f("bin/spark-submit"),
            DistFile {
                rel: "data".into(),
                kind: DistKind::Dir,
            },
        ];
        let plan = plan_layers(&trimmed, &sys());
        let jvm = context_plan(&plan, Variant::Jvm);
        assert_eq!(
            empty_dirs(&jvm, Variant::Jvm),
            ["spark-deps", "packages", "examples"]
        );
        let py = context_plan(&plan, Variant::Python);
        assert_eq!(empty_dirs(&py, Variant::Python), ["python"]);
    }

    #[test]
    fn tar_has_dockerfile_first() {
        let entries = vec![
            dir("spark-bin"),
            ContextEntry {
                path: "spark-bin/RELEASE".into(),
                kind: Kind::File(Content::Bytes(Arc::from(&b"Spark 3.5.3"[..]))),
                mode: 0o644,
            },
        ];
        let buf = write_context(&entries, b"FROM x\n", 7, Vec::new()).unwrap();
        let mut ar = tar::Archive::new(&buf[..]);
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["Dockerfile", "spark-bin/", "spark-bin/RELEASE"]);
    }
}
