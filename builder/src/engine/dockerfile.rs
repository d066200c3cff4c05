//! Pure: sparkimg's Dockerfiles (from `dockerfiles/` at the repository root, compiled in
//! so the binary needs no checkout) and the build args they take.

use std::collections::BTreeMap;

use crate::image::plan::Variant;

pub const JVM: &str = include_str!("../../../dockerfiles/spark/Dockerfile");
pub const PYTHON: &str = include_str!("../../../dockerfiles/spark-py/Dockerfile");
pub const R: &str = include_str!("../../../dockerfiles/spark-r/Dockerfile");

/// The built-in Dockerfile of an image.
pub fn builtin(variant: Variant) -> &'static str {
    match variant {
        Variant::Jvm => JVM,
        Variant::Python => PYTHON,
        Variant::R => R,
    }
}

/// The line of a built-in Dockerfile that copies context directory `dir` into SPARK_HOME.
fn copy_line(dir: &str) -> String {
    format!("COPY --chown=${{spark_uid}}:0 {dir}/ /opt/spark/")
}

const APT_BEGIN: &str = "# apt-packages:begin";
const APT_END: &str = "# apt-packages:end";

/// Pure: `dockerfile` without its `--apt-packages` block when no packages are asked
/// for (a RUN that installs nothing would still cost a container commit and a layer).
pub fn without_apt_block(dockerfile: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for l in dockerfile.lines() {
        if l.starts_with(APT_BEGIN) {
            inside = true;
        }
        if !inside {
            out.push_str(l);
            out.push('\n');
        }
        if l.starts_with(APT_END) {
            inside = false;
        }
    }
    out
}

/// Pure: the built-in Dockerfile of `variant` without the COPYs of `empty` context
/// directories. Docker 20.10's classic builder cannot commit a COPY that follows the COPY
/// of an empty directory ("failed to get layer …: layer does not exist"), and on any
/// builder such a COPY is an empty layer; the daemonless path writes none either.
pub fn builtin_without(variant: Variant, empty: &[&str]) -> String {
    let drop: Vec<String> = empty.iter().map(|d| copy_line(d)).collect();
    builtin(variant)
        .lines()
        .filter(|l| !drop.iter().any(|d| l.trim_end() == d))
        .fold(String::new(), |mut out, l| {
            out.push_str(l);
            out.push('\n');
            out
        })
}

/// Pure: whether a Dockerfile copies the context's `packages/` directory (a COPY or ADD
/// naming it), without which the `--packages` jars are not in the image.
pub fn copies_packages(dockerfile: &str) -> bool {
    dockerfile.lines().any(|l| {
        let mut words = l.split_whitespace();
        let copy = words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("COPY") || w.eq_ignore_ascii_case("ADD"));
        copy && words.any(|w| w.trim_start_matches("./").starts_with("packages"))
    })
}

/// What the built-in Dockerfiles are parameterised by.
#[derive(Debug, Clone)]
pub struct ArgInputs<'a> {
    /// FROM of the JVM image (a daemon image reference).
    pub base: &'a str,
    /// The JVM image just built: FROM of spark-py and spark-r.
    pub jvm_image: &'a str,
    pub spark_version: &'a str,
    pub java_home: &'a str,
    pub timezone: &'a str,
    pub uid: u64,
    /// For the `org.opencontainers.image.source` label.
    pub source: &'a str,
    /// RFC 3339 of SOURCE_DATE_EPOCH, for the `created` label.
    pub created: &'a str,
    /// `--apt-packages`, comma-separated; empty: none.
    pub apt_packages: &'a str,
}

/// Pure: the build args of one image. `user` (`-b K=V`, in order) comes last and wins,
/// so a user's own Dockerfile can get anything it declares.
pub fn build_args(
    variant: Variant,
    inputs: &ArgInputs,
    user: &[(String, String)],
) -> BTreeMap<String, String> {
    let mut args = BTreeMap::new();
    let mut set = |k: &str, v: &str| {
        args.insert(k.to_string(), v.to_string());
    };
    set("spark_uid", &inputs.uid.to_string());
    match variant {
        Variant::Jvm => {
            set("spark_version", inputs.spark_version);
            set("base_img", inputs.base);
            set("java_home", inputs.java_home);
            set("timezone", inputs.timezone);
            set("source", inputs.source);
            set("created", inputs.created);
            if !inputs.apt_packages.is_empty() {
                set("apt_packages", inputs.apt_packages);
            }
        }
        // docker-image-tool.sh passes the JVM image to the bindings as base_img too.
        Variant::Python | Variant::R => set("base_img", inputs.jvm_image),
    }
    for (k, v) in user {
        args.insert(k.clone(), v.clone());
    }
    args
}

/// Pure: split `-b K=V` arguments.
pub fn parse_build_arg(s: &str) -> Option<(String, String)> {
    let (k, v) = s.split_once('=')?;
    (!k.is_empty()).then(|| (k.to_string(), v.to_string()))
}

/// Pure: a Java home from an image's `Env` (`JAVA_HOME=...`).
pub fn java_home_from_env(env: &[String]) -> Option<String> {
    env.iter()
        .find_map(|l| l.strip_prefix("JAVA_HOME="))
        .filter(|v| !v.is_empty())
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every context directory has exactly one COPY line to drop, so an edit to a
    /// Dockerfile cannot silently bring back the empty-layer COPY.
    #[test]
    fn every_context_dir_has_one_copy_line() {
        for v in [Variant::Jvm, Variant::Python, Variant::R] {
            for d in crate::engine::context::dirs_for(v) {
                let line = copy_line(d);
                let n = builtin(v).lines().filter(|l| l.trim_end() == line).count();
                assert_eq!(n, 1, "{v:?}: {line}");
                let without = builtin_without(v, &[d]);
                assert!(!without.contains(&line), "{v:?}: {line}");
                assert_eq!(without.lines().count() + 1, builtin(v).lines().count());
            }
            assert_eq!(builtin_without(v, &[]), builtin(v));
        }
        let jvm = builtin_without(Variant::Jvm, &["examples"]);
        assert!(jvm.contains(&copy_line("spark-jars")) && jvm.contains(&copy_line("spark-bin")));
    }

    fn inputs() -> ArgInputs<'static> {
        ArgInputs {
            base: "eclipse-temurin:17-jre",
            jvm_image: "x/spark:3.5.3",
            spark_version: "3.5.3",
            java_home: "/opt/java/openjdk",
            timezone: "Europe/Paris",
            uid: 185,
            source: "https://github.com/apache/spark",
            created: "1970-01-01T00:00:00Z",
            apt_packages: "",
        }
    }

    #[test]
    fn packages_copy_is_found() {
        assert!(copies_packages(JVM));
        assert!(copies_packages(
            "FROM x\nadd ./packages/jars/ /opt/spark/jars/\n"
        ));
        for other in [
            "FROM x\nCOPY spark-jars/ /opt/spark/\n",
            "# COPY packages/ /opt/spark/\n",
            "RUN ls packages/\n",
        ] {
            assert!(!copies_packages(other), "{other}");
        }
    }

    #[test]
    fn apt_block_only_with_packages() {
        assert!(JVM.contains("apt-get install"));
        let without = without_apt_block(JVM);
        assert!(!without.contains("apt-get") && !without.contains("apt_packages"));
        assert!(without.contains("ENTRYPOINT") && without.contains("FROM ${base_img}"));
        assert_eq!(without_apt_block(PYTHON), PYTHON);
        let with = ArgInputs {
            apt_packages: "krb5-user,procps",
            ..inputs()
        };
        assert_eq!(
            build_args(Variant::Jvm, &with, &[])["apt_packages"],
            "krb5-user,procps"
        );
        assert!(!build_args(Variant::Jvm, &inputs(), &[]).contains_key("apt_packages"));
        assert!(!build_args(Variant::Python, &with, &[]).contains_key("apt_packages"));
    }

    #[test]
    fn jvm_and_binding_args() {
        let a = build_args(Variant::Jvm, &inputs(), &[]);
        assert_eq!(a["base_img"], "eclipse-temurin:17-jre");
        assert_eq!(a["timezone"], "Europe/Paris");
        assert_eq!(a["spark_uid"], "185");
        let p = build_args(Variant::Python, &inputs(), &[("x".into(), "1".into())]);
        assert_eq!(p["base_img"], "x/spark:3.5.3");
        assert_eq!(p["x"], "1");
        assert!(!p.contains_key("java_home"));
        let over = build_args(
            Variant::Jvm,
            &inputs(),
            &[("spark_uid".into(), "1000".into())],
        );
        assert_eq!(over["spark_uid"], "1000");
    }

    #[test]
    fn every_arg_we_pass_is_declared() {
        // Undeclared args only warn on the classic builder, but a typo here would silently
        // drop a setting: keep the Dockerfiles and build_args in step.
        for v in [Variant::Jvm, Variant::Python, Variant::R] {
            // `ARG a b=1 c`: one instruction may declare several.
            let declared: Vec<&str> = builtin(v)
                .lines()
                .filter_map(|l| l.strip_prefix("ARG "))
                .flat_map(str::split_whitespace)
                .map(|d| d.split('=').next().unwrap_or(d))
                .collect();
            for k in build_args(v, &inputs(), &[]).keys() {
                assert!(
                    declared.contains(&k.as_str()),
                    "{v:?} Dockerfile does not declare {k}"
                );
            }
        }
    }

    #[test]
    fn misc() {
        assert_eq!(parse_build_arg("a=b=c"), Some(("a".into(), "b=c".into())));
        assert_eq!(parse_build_arg("=x"), None);
        assert_eq!(
            java_home_from_env(&["PATH=/bin".into(), "JAVA_HOME=/j".into()]),
            Some("/j".into())
        );
    }
}
