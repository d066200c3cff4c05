//! The entrypoint planner: any container arguments and environment give a plan or a
//! clean error, never a panic; and the plan's argv holds no byte outside printable
//! ASCII that the arguments or the environment did not supply (the probe's answers
//! and the planner's own words are printable ASCII), so nothing is invented, cut
//! inside a character or decoded and re-encoded.
#![no_main]

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use spark_entrypoint::inputs::Env;
use spark_entrypoint::plan::plan;
use spark_entrypoint::probe::{PathKind, Probe};
use spark_entrypoint::version;

/// A container with Java, Hadoop, both Pythons and a Spark distribution.
struct Container;

impl Probe for Container {
    fn java_home(&self, _: &Env) -> Option<OsString> {
        Some("/opt/java/openjdk".into())
    }
    fn hadoop_classpath(&self, home: &OsStr, _: &Env) -> Result<OsString, String> {
        match home.as_bytes().len() % 2 {
            0 => Ok("/opt/hadoop/etc:/opt/hadoop/share/*".into()),
            _ => Err("hadoop: No such file or directory".into()),
        }
    }
    fn python_version(&self, python: &str, _: &Env) -> Option<String> {
        (python != "python").then(|| "Python 3.11.2".into())
    }
    fn cwd(&self) -> OsString {
        "/opt/spark/work-dir".into()
    }
    fn path_kind(&self, path: &Path) -> PathKind {
        if path.ends_with("jars") || path.ends_with("conf") {
            PathKind::Dir
        } else {
            PathKind::Missing
        }
    }
    fn find_program(&self, name: &str, _: &Env) -> Option<PathBuf> {
        (!name.is_empty()).then(|| PathBuf::from("/usr/bin").join(name))
    }
    fn fqdn(&self) -> OsString {
        "spark-0.spark.default.svc".into()
    }
    fn list_dir(&self, dir: &Path) -> Vec<OsString> {
        // A 3.5 distribution without the Connect server: the connect role's refusal
        // and its argument scan are both reached.
        if dir.ends_with("jars") {
            vec!["spark-core_2.12-3.5.3.jar".into()]
        } else {
            Vec::new()
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(inp) = sparkimg_fuzz::decode(data) else {
        return;
    };
    let Ok(v) = version::parse(inp.version) else {
        return;
    };
    let Ok(p) = plan(&inp.args, &inp.env, &v, &Container) else {
        return;
    };
    for a in &p.argv {
        for &b in a.as_bytes() {
            if (0x20..0x7f).contains(&b) {
                continue;
            }
            assert!(
                inp.supplied.iter().any(|s| s.contains(&b)),
                "argv byte {b:#04x} in {a:?} was not supplied"
            );
        }
    }
});
