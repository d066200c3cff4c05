//! Pure: sparkimg's Dockerfiles (from `dockerfiles/` at the repository root, compiled in
//! so the binary needs no checkout) and the build args they take.

use std::collections::BTreeMap;

use crate::layer::plan::Variant;

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

/// How a built-in Dockerfile's COPY of context directories into SPARK_HOME starts and ends.
const COPY_START: &str = "COPY --chown=${spark_uid}:0 ";
const COPY_END: &str = " /opt/spark/";

/// Pure: the context directories a built-in Dockerfile line copies into SPARK_HOME
/// (`COPY --chown=… spark-jars/ examples/ /opt/spark/`), none for any other line.
fn copy_sources(line: &str) -> Vec<&str> {
    line.trim_end()
        .strip_prefix(COPY_START)
        .and_then(|l| l.strip_suffix(COPY_END))
        .map(|s| {
            s.split_whitespace()
                .filter_map(|d| d.strip_suffix('/'))
                .collect()
        })
        .unwrap_or_default()
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

/// Pure: the built-in Dockerfile of `variant` without the `empty` context directories
/// in its COPYs, and without a COPY left with none. Docker 20.10's classic builder cannot
/// commit a COPY that follows the COPY of an empty directory ("failed to get layer …:
/// layer does not exist"), and on any builder such a COPY is an empty layer; the
/// daemonless path writes none either.
pub fn builtin_without(variant: Variant, empty: &[&str]) -> String {
    let mut out = String::new();
    for l in builtin(variant).lines() {
        let sources = copy_sources(l);
        let kept: Vec<&str> = sources
            .iter()
            .copied()
            .filter(|d| !empty.contains(d))
            .collect();
        if kept.len() == sources.len() {
            out.push_str(l);
        } else if kept.is_empty() {
            continue;
        } else {
            let kept: Vec<String> = kept.iter().map(|d| format!("{d}/")).collect();
            out.push_str(&format!("{COPY_START}{}{COPY_END}", kept.join(" ")));
        }
        out.push('\n');
    }
    out
}

/// Pure: whether the last stage of a Dockerfile (the image it makes) is `FROM
/// ${base_img}` (or `$base_img`), the base the build passes, rather than an image it
/// names itself.
pub fn from_base_arg(dockerfile: &str) -> bool {
    let last = dockerfile.lines().rev().find_map(|l| {
        let mut words = l.split_whitespace();
        let from = words.next().is_some_and(|w| w.eq_ignore_ascii_case("FROM"));
        // FROM [--platform=…] IMAGE [AS name]
        from.then(|| words.find(|w| !w.starts_with("--")))
    });
    matches!(last, Some(Some("${base_img}" | "$base_img")))
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
    pub uid: u64,
    /// `--apt-packages`, comma-separated; empty: none.
    pub apt_packages: &'a str,
}

/// Pure: the build args of one image. `user` (`-b K=V`, in order) comes last and wins,
/// so a user's own Dockerfile can get anything it declares. The JVM Dockerfile's
/// `${spark_uid}` is substituted by [`render_uid`] instead (an ARG after FROM costs the
/// classic builder a commit); its config is set after the build (see `engine::build`).
pub fn build_args(
    variant: Variant,
    inputs: &ArgInputs,
    user: &[(String, String)],
) -> BTreeMap<String, String> {
    let mut args = BTreeMap::new();
    let mut set = |k: &str, v: &str| {
        args.insert(k.to_string(), v.to_string());
    };
    match variant {
        Variant::Jvm => {
            set("base_img", inputs.base);
            if !inputs.apt_packages.is_empty() {
                set("apt_packages", inputs.apt_packages);
            }
        }
        // docker-image-tool.sh passes the JVM image to the bindings as base_img too.
        Variant::Python | Variant::R => {
            set("spark_uid", &inputs.uid.to_string());
            set("base_img", inputs.jvm_image);
        }
    }
    for (k, v) in user {
        args.insert(k.clone(), v.clone());
    }
    args
}

/// Pure: the Spark user's UID: `-b spark_uid=N` (the last one) when given, else `default`.
pub fn spark_uid(user: &[(String, String)], default: u64) -> Result<u64, String> {
    match user.iter().rev().find(|(k, _)| k == "spark_uid") {
        None => Ok(default),
        Some((_, v)) => v
            .parse()
            .map_err(|_| format!("-b spark_uid={v}: expected a numeric UID")),
    }
}

/// Pure: `dockerfile` with `${spark_uid}` replaced by `uid` (a number: nothing to quote).
pub fn render_uid(dockerfile: &str, uid: u64) -> String {
    dockerfile.replace("${spark_uid}", &uid.to_string())
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

    #[test]
    fn the_last_stage_names_its_base() {
        assert!(from_base_arg("ARG base_img\nFROM ${base_img}\nCOPY x /\n"));
        assert!(from_base_arg(
            "FROM alpine AS b\nFROM --platform=linux/amd64 $base_img AS final\n"
        ));
        assert!(!from_base_arg("FROM ${base_img} AS b\nFROM debian:12\n"));
        assert!(!from_base_arg("COPY x /\n"));
    }

    /// Every context directory has exactly one COPY line to drop, so an edit to a
    /// Dockerfile cannot silently bring back the empty-layer COPY.
    #[test]
    fn every_context_dir_has_one_copy_line() {
        let copied = |d: &str| -> Vec<Vec<String>> {
            d.lines()
                .map(copy_sources)
                .filter(|s| !s.is_empty())
                .map(|s| s.iter().map(|x| x.to_string()).collect())
                .collect()
        };
        for v in [Variant::Jvm, Variant::Python, Variant::R] {
            let all: Vec<String> = copied(builtin(v)).concat();
            let mut dirs: Vec<String> = crate::build::context::dirs_for(v)
                .iter()
                .map(|d| d.to_string())
                .collect();
            let mut sorted = all.clone();
            sorted.sort();
            dirs.sort();
            assert_eq!(sorted, dirs, "{v:?}");
            for d in crate::build::context::dirs_for(v) {
                let without = builtin_without(v, &[d]);
                assert!(
                    !copied(&without).concat().iter().any(|x| x == d),
                    "{v:?}: {d}"
                );
            }
            assert_eq!(builtin_without(v, &[]), builtin(v));
        }
        // examples/ rides with Spark's jars (they change together): one commit fewer.
        assert_eq!(
            copied(builtin(Variant::Jvm)),
            [
                vec!["spark-deps"],
                vec!["spark-jars", "examples"],
                vec!["packages"],
                vec!["spark-bin"]
            ]
        );
        let jvm = builtin_without(Variant::Jvm, &["examples", "packages"]);
        assert_eq!(
            copied(&jvm),
            [vec!["spark-deps"], vec!["spark-jars"], vec!["spark-bin"]]
        );
        assert_eq!(
            copied(&builtin_without(Variant::Jvm, &["spark-jars", "examples"])).len(),
            3
        );
    }

    fn inputs() -> ArgInputs<'static> {
        ArgInputs {
            base: "eclipse-temurin:17-jre",
            jvm_image: "x/spark:3.5.3",
            uid: 185,
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
        assert!(without.contains("COPY system/ /") && without.contains("FROM ${base_img}"));
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
        assert_eq!(a.keys().collect::<Vec<_>>(), ["base_img"]);
        assert_eq!(a["base_img"], "eclipse-temurin:17-jre");
        let p = build_args(Variant::Python, &inputs(), &[("x".into(), "1".into())]);
        assert_eq!(p["base_img"], "x/spark:3.5.3");
        assert_eq!(p["spark_uid"], "185");
        assert_eq!(p["x"], "1");
        let over = build_args(
            Variant::Python,
            &inputs(),
            &[("spark_uid".into(), "1000".into())],
        );
        assert_eq!(over["spark_uid"], "1000");
    }

    #[test]
    fn the_jvm_dockerfile_is_copies_only() {
        // Every instruction after FROM is a commit on the classic builder: only the COPYs
        // (and, with --apt-packages, the install) may be there; the config is one commit.
        let jvm = render_uid(&without_apt_block(JVM), 185);
        let steps: Vec<&str> = jvm
            .lines()
            .skip_while(|l| !l.starts_with("FROM "))
            .skip(1)
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect();
        assert!(steps.iter().all(|l| l.starts_with("COPY ")), "{steps:?}");
        assert!(jvm.contains("COPY --chown=185:0 spark-bin/ /opt/spark/"));
        assert!(jvm.contains("COPY system/ /") && !jvm.contains("${spark_uid}"));
        let user = [("spark_uid".to_string(), "1000".to_string())];
        assert_eq!(spark_uid(&user, 185), Ok(1000));
        assert_eq!(spark_uid(&[], 185), Ok(185));
        assert!(spark_uid(&[("spark_uid".into(), "x".into())], 185).is_err());
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
