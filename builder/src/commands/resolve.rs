//! The resolve stage of `sparkimg build`: flags and environment → one
//! [`sparkimg::build::Request`] (version, distribution source, base, names, platforms,
//! sinks), or a usage error. Pure: no network, no disk, no stdin, so everything that can be
//! refused is refused before any work, and flag combinations are unit-tested.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sparkimg::build::request::{
    buildable_version, default_output, CompressionKind, Distribution, DockerBuild, Load, Names,
    Packages, Request, Sinks,
};
use sparkimg::build::{self, BuildError, Variant};
use sparkimg::fetch::{urls, DistSpec, SparkVersion};
use sparkimg::maven::{coordinate, settings};
use sparkimg::oci::{reference, BaseSpec, OutputSpec, Platform};
use sparkimg::registry::RegistryRef;

use super::args::{BuildArgs, CompressionArg, EngineArg};

/// The environment variables `build` reads.
#[derive(Debug, Default, Clone)]
pub struct Env {
    pub source_date_epoch: Option<String>,
    pub mirrors: Option<String>,
}

impl Env {
    pub fn from_process() -> Env {
        Env {
            source_date_epoch: std::env::var("SOURCE_DATE_EPOCH").ok(),
            mirrors: std::env::var("SPARKIMG_MIRRORS").ok(),
        }
    }
}

fn input(msg: impl Into<String>) -> BuildError {
    BuildError::usage(msg)
}

/// Flags + environment → request, or the usage error (exit 2) to print.
pub fn resolve(args: &BuildArgs, env: &Env) -> Result<Request, BuildError> {
    let engine_docker = matches!(args.engine, EngineArg::Docker);
    check_engine_flags(args, engine_docker)?;
    let push = wants_push(args)?;
    let (platforms, platform_entrypoints) = platforms(args)?;
    let compat = compat_build_args(args, engine_docker)?;
    let version = version(args)?;
    let base_str = base_choice(args, compat.java_image_tag.as_deref(), version.as_deref())?;
    let base = BaseSpec::parse(&base_str)?;
    if engine_docker && !matches!(base, BaseSpec::Registry(_)) {
        return Err(input(format!(
            "--base {base_str}: with --engine docker the base is an image the daemon has or \
             can pull (load archives with `docker load` first)"
        )));
    }
    let base_ref = match &base {
        // Same message and exit code (2) as the registry's own parse error.
        BaseSpec::Registry(r) if !engine_docker => {
            Some(RegistryRef::parse(r).map_err(|e| input(e.to_string()))?)
        }
        _ => None,
    };
    let sinks = sinks(args, push, engine_docker, platforms.len() > 1)?;
    let names = names(args);
    // Names and tag are checked now, with a stand-in tag when the version comes from
    // the distribution.
    let tag = args.tag.clone();
    names.images(tag.as_deref().or(version.as_deref()).unwrap_or("latest"))?;
    let epoch = build::parse_epoch(env.source_date_epoch.as_deref())?;
    // The zone's shape now; whether the base has it is known once the base is read.
    if !sparkimg::layer::basefs::valid_zone_name(&args.timezone) {
        return Err(BuildError::UnknownTimezone {
            zone: args.timezone.clone(),
            suggestions: Vec::new(),
        });
    }
    let req = Request {
        distribution: distribution(args, version.as_deref(), env)?,
        version,
        tag,
        names,
        base_str,
        base,
        base_ref,
        platforms,
        platform_entrypoints,
        docker: engine_docker.then(|| DockerBuild {
            dockerfiles: dockerfiles(args),
            build_args: compat.docker_build_args,
        }),
        sinks,
        compression: args.compression.map(|c| match c {
            CompressionArg::Gzip => CompressionKind::Gzip,
            CompressionArg::Zstd => CompressionKind::Zstd,
            CompressionArg::None => CompressionKind::None,
        }),
        compression_level: args.compression_level,
        uid: compat.uid.unwrap_or(args.uid),
        epoch,
        timezone: args.timezone.clone(),
        no_cache: args.no_cache,
        apt_packages: apt_packages("--apt-packages", &args.apt_packages)?,
        apt_allow_unconfigured: apt_packages(
            "--apt-allow-unconfigured",
            &args.apt_allow_unconfigured,
        )?,
        insecure_skip_verify: args.insecure_skip_verify,
        packages: packages(args)?,
        sbom: sparkimg::sbom::Formats::parse(&args.sbom).ok_or_else(|| {
            BuildError::usage(format!(
                "unknown --sbom '{}': use spdx, cyclonedx, both or none",
                args.sbom
            ))
        })?,
        sbom_dir: args.sbom_dir.clone(),
        entrypoint: args.entrypoint_binary.clone(),
        allow_unsupported_java: args.java.allow_unsupported_java,
        provenance: args.sign.provenance,
    };
    // A bad --compression-level is refused now, whichever sink ends up chosen.
    req.compression(false)?;
    Ok(req)
}

fn packages(args: &BuildArgs) -> Result<Packages, BuildError> {
    let usage = |e: sparkimg::maven::MavenError| {
        let hint = e.hint();
        BuildError::Usage(sparkimg::usage::UsageError {
            message: e.to_string(),
            hint,
        })
    };
    let list = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or("").to_string();
    let coordinates = match list(&args.packages) {
        p if p.is_empty() => Vec::new(),
        p => coordinate::parse_packages(&p).map_err(usage)?,
    };
    let excludes = coordinate::parse_excludes(&list(&args.exclude_packages)).map_err(usage)?;
    let repositories: Vec<String> = list(&args.repositories)
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(String::from)
        .collect();
    settings::repositories(None, &repositories, &[]).map_err(usage)?;
    Ok(Packages {
        coordinates,
        excludes,
        repositories,
        ivy_settings: args.ivy_settings.clone(),
    })
}

/// Debian policy's package names (lowercase letters, digits, `+ - .`; two characters at
/// least, starting alphanumeric), so a typo fails before any download.
fn apt_packages(flag: &str, names: &[String]) -> Result<Vec<String>, BuildError> {
    let mut out: Vec<String> = Vec::new();
    for n in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let ok = n.len() >= 2
            && n.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
        if !ok {
            return Err(input(format!(
                "{flag} {n:?}: not a Debian package name (lowercase letters, digits, \
                 '+', '-', '.')"
            )));
        }
        if !out.iter().any(|o| o == n) {
            out.push(n.to_string());
        }
    }
    Ok(out)
}

fn check_engine_flags(args: &BuildArgs, engine_docker: bool) -> Result<(), BuildError> {
    if let (Some(f), false) = (&args.dockerfile, engine_docker) {
        return Err(input(format!(
            "-f {f}: Dockerfiles are used only with --engine docker; the daemonless build \
             needs none"
        )));
    }
    if engine_docker && args.output.is_some() {
        return Err(input(
            "--output with --engine docker: the images stay in the Docker Engine (`docker \
             save` them), or build daemonless to write files",
        ));
    }
    if engine_docker && !args.apt_allow_unconfigured.is_empty() {
        return Err(input(
            "--apt-allow-unconfigured with --engine docker: apt-get runs the maintainer \
             scripts there, so every package is configured; drop the flag",
        ));
    }
    if args.minikube {
        return Err(BuildError::NotYet(
            "-m (minikube's Docker): loading into a daemon lands with --load".into(),
        ));
    }
    for (flag, v) in [("-p", &args.python), ("-R", &args.r)] {
        if let Some(Some(file)) = v {
            if file != "build" && file != "push" && !engine_docker {
                eprintln!(
                    "sparkimg: warning: {flag} {file}: Dockerfile ignored (only --engine docker \
                     uses Dockerfiles); building the variant from sparkimg's layer plan"
                );
            }
        }
    }
    Ok(())
}

/// `--push`, `-X`, the trailing `push` verb, or `-p push` / `-R push` (getopts-style
/// parsing took the trailing verb as the value).
fn wants_push(args: &BuildArgs) -> Result<bool, BuildError> {
    match args.verb.as_deref() {
        None | Some("build") | Some("push") => {}
        Some(other) => {
            return Err(input(format!(
                "unexpected argument '{other}' (only `build` or `push`)"
            )))
        }
    }
    Ok(args.push
        || args.buildx
        || args.verb.as_deref() == Some("push")
        || [&args.python, &args.r]
            .iter()
            .any(|v| matches!(v, Some(Some(f)) if f == "push")))
}

type Platforms = (Vec<Platform>, BTreeMap<String, PathBuf>);

fn platforms(args: &BuildArgs) -> Result<Platforms, BuildError> {
    let mut names = args.platform.clone();
    if args.buildx && names.is_empty() {
        names = vec!["linux/amd64".into(), "linux/arm64".into()];
    }
    let platforms: Vec<Platform> = names
        .iter()
        .map(|p| Platform::parse(p))
        .collect::<Result<_, _>>()?;
    let mut entrypoints = BTreeMap::new();
    for spec in &args.platform_entrypoint {
        let Some((platform, path)) = spec.split_once('=') else {
            return Err(input(format!(
                "--platform-entrypoint {spec:?}: expected OS/ARCH=PATH"
            )));
        };
        entrypoints.insert(Platform::parse(platform)?.to_string(), PathBuf::from(path));
    }
    Ok((platforms, entrypoints))
}

/// What docker-image-tool.sh's `-b K=V` build args mean here.
struct Compat {
    uid: Option<u64>,
    java_image_tag: Option<String>,
    docker_build_args: Vec<(String, String)>,
}

fn compat_build_args(args: &BuildArgs, engine_docker: bool) -> Result<Compat, BuildError> {
    let mut c = Compat {
        uid: None,
        java_image_tag: None,
        docker_build_args: Vec::new(),
    };
    for a in &args.build_args {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| input(format!("-b {a}: expected KEY=VALUE")))?;
        if engine_docker && k != "base_img" {
            // The Dockerfiles may declare anything; spark_uid and java_image_tag still
            // mean what they mean below.
            c.docker_build_args.push((k.to_string(), v.to_string()));
        }
        match k {
            "java_image_tag" => c.java_image_tag = Some(v.to_string()),
            "spark_uid" => {
                c.uid = Some(
                    v.parse()
                        .map_err(|_| input(format!("-b spark_uid={v}: not a number")))?,
                )
            }
            "base_img" => eprintln!(
                "sparkimg: warning: -b base_img ignored: spark-py and spark-r are built on the \
                 JVM image's layers"
            ),
            _ if engine_docker => {}
            _ => {
                return Err(input(format!(
                "-b {k}: unsupported build arg (supported: java_image_tag, spark_uid, base_img)"
            )))
            }
        }
    }
    Ok(c)
}

/// `--spark-version`, else a tag that is a Spark version; `None` when the distribution
/// (`--dist`, `--spark-home`) will tell.
fn version(args: &BuildArgs) -> Result<Option<String>, BuildError> {
    let tag_version = args
        .tag
        .as_deref()
        .filter(|t| t.parse::<SparkVersion>().is_ok());
    let version = args.spark_version.clone().or(tag_version.map(String::from));
    if let Some(v) = &version {
        buildable_version(v)?;
    }
    if version.is_none() && args.dist.is_none() && args.spark_home.is_none() {
        return Err(input(match &args.tag {
            Some(t) => format!("tag '{t}' is not a Spark version: pass --spark-version"),
            None => {
                "pass --spark-version, or a --tag that is a Spark version (e.g. -t 3.5.3)".into()
            }
        }));
    }
    if let Some(t) = &args.tag {
        reference::validate_tag(t)?;
    }
    Ok(version)
}

fn base_choice(
    args: &BuildArgs,
    java_image_tag: Option<&str>,
    version: Option<&str>,
) -> Result<String, BuildError> {
    Ok(match (&args.base, java_image_tag) {
        (Some(_), Some(_)) => {
            return Err(input(
                "-b java_image_tag and --base both choose the base; pass one",
            ))
        }
        (Some(b), None) => b.clone(),
        (None, Some(t)) => format!("eclipse-temurin:{t}"),
        (None, None) => {
            let major = version
                .and_then(|v| v.parse::<SparkVersion>().ok())
                .map_or(3, |v| v.major);
            reference::default_base(major).to_string()
        }
    })
}

fn sinks(
    args: &BuildArgs,
    push: bool,
    engine_docker: bool,
    multi_platform: bool,
) -> Result<Sinks, BuildError> {
    if multi_platform && (args.load || engine_docker) {
        return Err(input(
            "several platforms make an image index, which a Docker Engine cannot load or \
             build here: drop --load/--engine docker, or pass one --platform",
        ));
    }
    let output = args.output.as_deref().map(OutputSpec::parse).transpose()?;
    if multi_platform && matches!(output, Some(OutputSpec::DockerArchive(_))) {
        return Err(input(
            "a docker-archive holds one platform (docker load has no multi-platform images); \
             write several platforms to oci:DIR or oci-archive:FILE, or pass one --platform",
        ));
    }
    let nothing_asked = output.is_none() && !push && !args.load && !engine_docker;
    // Without any output flag the images go into the Docker Engine when one answers
    // (docker-image-tool.sh's `build` leaves them there too); an index cannot.
    let (output, defaulted, load) = match (nothing_asked, multi_platform) {
        (true, true) => (Some(default_output()), true, Load::No),
        (true, false) => (None, false, Load::IfAnswers),
        (false, _) if args.load && !engine_docker => (output, false, Load::Insist),
        (false, _) => (output, false, Load::No),
    };
    Ok(Sinks {
        output,
        defaulted,
        push,
        load,
    })
}

fn names(args: &BuildArgs) -> Names {
    let mut wanted = vec![(Variant::Jvm, args.name.clone())];
    if args.python.is_some() || args.python_name.is_some() {
        wanted.push((Variant::Python, args.python_name.clone()));
    }
    if args.r.is_some() || args.r_name.is_some() {
        wanted.push((Variant::R, args.r_name.clone()));
    }
    Names::new(args.repo.clone(), wanted)
}

fn distribution(
    args: &BuildArgs,
    version: Option<&str>,
    env: &Env,
) -> Result<Distribution, BuildError> {
    if let Some(home) = &args.spark_home {
        return Ok(Distribution::Home(home.clone()));
    }
    let spec = match (&args.dist, version) {
        (Some(d), _) => DistSpec::Dist(d.clone()),
        (None, Some(v)) => DistSpec::Release {
            version: buildable_version(v)?,
            hadoop: args.hadoop.clone(),
            scala: args.scala.clone(),
        },
        (None, None) => return Err(input("pass --spark-version or --dist")),
    };
    Ok(Distribution::Fetch {
        spec,
        mirrors: urls::mirror_list(
            &args.mirrors,
            env.mirrors.as_deref(),
            !args.no_default_mirrors,
        ),
        insecure_skip_verify: args.insecure_skip_verify,
    })
}

fn dockerfiles(args: &BuildArgs) -> BTreeMap<Variant, PathBuf> {
    let mut out = BTreeMap::new();
    for (v, f) in [
        (Variant::Jvm, args.dockerfile.clone()),
        (Variant::Python, args.python.clone().flatten()),
        (Variant::R, args.r.clone().flatten()),
    ] {
        if let Some(f) = f.filter(|f| f != "build" && f != "push") {
            out.insert(v, PathBuf::from(f));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::commands::args::{Cli, Command};
    use sparkimg::build::Compression;
    use sparkimg::maven::{Coordinate, Pattern};

    fn resolve_args(args: &[&str]) -> Result<Request, BuildError> {
        let argv = ["sparkimg", "build"].iter().chain(args);
        let Command::Build(b) = Cli::try_parse_from(argv).expect("flags parse").command else {
            panic!("not a build")
        };
        resolve(&b, &Env::default())
    }

    fn usage(args: &[&str], needle: &str) {
        // A usage error is whatever the one classifier calls one.
        match resolve_args(args) {
            Err(e) => {
                let code = sparkimg::exit::classify([&e as &(dyn std::error::Error + 'static)]);
                assert_eq!(code, sparkimg::exit::USAGE, "{args:?}: {e}");
                assert!(e.to_string().contains(needle), "{args:?}: {e}")
            }
            Ok(r) => panic!("{args:?}: expected a usage error, got {r:?}"),
        }
    }

    #[test]
    fn version_from_tag_or_flag_and_the_2_3_rule() {
        let r = resolve_args(&["-t", "3.5.3"]).unwrap();
        assert_eq!(r.version.as_deref(), Some("3.5.3"));
        assert!(matches!(
            r.distribution,
            Distribution::Fetch {
                spec: DistSpec::Release { .. },
                ..
            }
        ));
        let r = resolve_args(&["-t", "mine", "--spark-version", "3.4.1"]).unwrap();
        assert_eq!(
            r.names.images("mine").unwrap()[0].1.to_string(),
            "spark:mine"
        );
        usage(&["-t", "2.2.0"], "from Spark 2.3 on");
        usage(&["-t", "mine"], "tag 'mine' is not a Spark version");
        usage(&[], "pass --spark-version");
        usage(&["--spark-version", "3.5"], "names a release line");
        usage(&["--spark-version", "3.x"], "is not a Spark version");
        assert!(buildable_version("2.3.0").is_ok());
        // From the distribution: nothing to check yet but the names.
        let r = resolve_args(&["--spark-home", "/x", "-r", "quay.io/me"]).unwrap();
        assert_eq!(r.version, None);
        assert!(matches!(r.distribution, Distribution::Home(_)));
    }

    #[test]
    fn bad_names_and_flag_combinations_are_refused_before_any_work() {
        usage(
            &["-t", "3.5.3", "-r", "Bad Repo"],
            "invalid image reference",
        );
        usage(&["-t", "3.5.3:x"], "");
        usage(&["-t", "3.5.3", "-f", "Dockerfile"], "--engine docker");
        usage(
            &["-t", "3.5.3", "--engine", "docker", "--output", "oci:x"],
            "--output with --engine docker",
        );
        usage(&["-t", "3.5.3", "-b", "nope"], "expected KEY=VALUE");
        usage(&["-t", "3.5.3", "-b", "x=1"], "unsupported build arg");
        usage(
            &["-t", "3.5.3", "--base", "b:1", "-b", "java_image_tag=17"],
            "pass one",
        );
        usage(
            &[
                "-t",
                "3.5.3",
                "--platform",
                "linux/amd64,linux/arm64",
                "--load",
            ],
            "several platforms",
        );
        usage(
            &[
                "-t",
                "3.5.3",
                "--platform",
                "linux/amd64,linux/arm64",
                "--output",
                "docker-archive:x.tar",
            ],
            "a docker-archive holds one platform",
        );
        usage(&["-t", "3.5.3", "--compression-level", "12"], "gzip level");
        usage(&["-t", "3.5.3", "frobnicate"], "unexpected argument");
        assert!(matches!(
            resolve_args(&["-t", "3.5.3", "-m"]),
            Err(BuildError::NotYet(_))
        ));
        let env = Env {
            source_date_epoch: Some("yesterday".into()),
            mirrors: None,
        };
        let Command::Build(b) = Cli::parse_from(["sparkimg", "build", "-t", "3.5.3"]).command
        else {
            panic!("not a build")
        };
        assert!(matches!(
            resolve(&b, &env),
            Err(BuildError::SourceDateEpoch(_))
        ));
    }

    #[test]
    fn sinks_from_output_push_and_load() {
        let s = |args: &[&str]| resolve_args(args).unwrap().sinks;
        // Nothing asked: load when a daemon answers (else the default layout).
        let d = s(&["-t", "3.5.3"]);
        assert!(d.output.is_none() && !d.push && d.load == Load::IfAnswers);
        // --push alone: the registry only, no file.
        let p = s(&["-t", "3.5.3", "--push"]);
        assert!(p.output.is_none() && p.push && p.load == Load::No && !p.defaulted);
        // All three at once.
        let all = s(&["-t", "3.5.3", "--output", "oci:d", "--push", "--load"]);
        assert!(matches!(all.output, Some(OutputSpec::OciDir(_))));
        assert!(all.push && all.load == Load::Insist);
        // An archive and a push: fine now that pushes do not read the output back.
        let a = s(&["-t", "3.5.3", "--output", "oci-archive:x.tar", "--push"]);
        assert!(matches!(a.output, Some(OutputSpec::OciArchive(_))) && a.push);
        // Several platforms and nothing asked: the default layout (no daemon for an index).
        let m = s(&["-t", "3.5.3", "--platform", "linux/amd64,linux/arm64"]);
        assert!(m.defaulted && m.load == Load::No);
        // docker-image-tool.sh's spellings of push.
        assert!(s(&["-t", "3.5.3", "push"]).push);
        assert!(s(&["-t", "3.5.3", "-p", "push"]).push);
        assert!(s(&["-t", "3.5.3", "-X"]).push);
    }

    #[test]
    fn compression_follows_the_sinks() {
        let r = |args: &[&str]| resolve_args(args).unwrap();
        let only_load = r(&["-t", "3.5.3"]);
        assert_eq!(only_load.compression(true).unwrap(), Compression::None);
        assert_eq!(only_load.compression(false).unwrap(), Compression::gzip(1));
        let push_and_load = r(&["-t", "3.5.3", "--push", "--load"]);
        assert_eq!(
            push_and_load.compression(true).unwrap(),
            Compression::gzip(1)
        );
        let zstd = r(&["-t", "3.5.3", "--compression", "zstd"]);
        assert_eq!(zstd.compression(true).unwrap(), Compression::Zstd(3));
    }

    #[test]
    fn base_defaults_per_major_and_compat_args() {
        let r = |args: &[&str]| resolve_args(args).unwrap();
        assert_eq!(r(&["-t", "2.4.8"]).base_str, reference::default_base(2));
        assert_eq!(r(&["-t", "3.5.3"]).base_str, reference::default_base(3));
        let c = r(&[
            "-t",
            "3.5.3",
            "-b",
            "java_image_tag=11-jre",
            "-b",
            "spark_uid=1000",
        ]);
        assert_eq!(c.base_str, "eclipse-temurin:11-jre");
        assert_eq!(c.uid, 1000);
        assert!(c.base_ref.is_some() && c.needs_registry());
        let local = r(&["-t", "3.5.3", "--base", "oci:/b"]);
        assert!(local.base_ref.is_none() && !local.needs_registry());
        let docker = r(&["-t", "3.5.3", "--engine", "docker", "-b", "x=1"]);
        let d = docker.docker.expect("docker path");
        assert_eq!(d.build_args, vec![("x".to_string(), "1".to_string())]);
        assert!(docker.base_ref.is_none());
    }

    #[test]
    fn packages_flags_are_checked_here_in_sparks_grammar() {
        let r = resolve_args(&[
            "-t",
            "3.5.3",
            "--packages",
            "org.a:x:1,org.b/y:2",
            "--exclude-packages",
            "org.c:*",
            "--repositories",
            "https://u:p@repo.example/m2, file:///srv/m2",
            "--ivy-settings",
            "conf/ivysettings.xml",
        ])
        .unwrap();
        assert_eq!(
            r.packages.ivy_settings.as_deref(),
            Some(std::path::Path::new("conf/ivysettings.xml"))
        );
        assert_eq!(
            r.packages.coordinates,
            [
                Coordinate::new("org.a", "x", "1"),
                Coordinate::new("org.b", "y", "2")
            ]
        );
        assert_eq!(r.packages.excludes, [Pattern::new("org.c", "*")]);
        assert_eq!(r.packages.repositories.len(), 2);
        assert!(resolve_args(&["-t", "3.5.3"])
            .unwrap()
            .packages
            .coordinates
            .is_empty());
        usage(&["-t", "3.5.3", "--packages", "org.a:x"], "`org.a:x`");
        usage(
            &["-t", "3.5.3", "--packages", "org.a:x:1:jdk8"],
            "groupId:artifactId:version",
        );
        usage(
            &["-t", "3.5.3", "--exclude-packages", "org.a:x:1"],
            "groupId:artifactId",
        );
        usage(&["-t", "3.5.3", "--repositories", "ftp://h/"], "ftp://h/");
        // A secret in a bad repository URL is not echoed.
        match resolve_args(&["-t", "3.5.3", "--repositories", "gopher://u:hunter2@h/"]) {
            Err(e) => assert!(!e.to_string().contains("hunter2"), "{e}"),
            Ok(_) => panic!("gopher accepted"),
        }
    }

    #[test]
    fn apt_packages_and_time_zones_are_checked_here() {
        let r = resolve_args(&[
            "-t",
            "3.5.3",
            "--apt-packages",
            "krb5-user,procps",
            "--apt-packages",
            "procps,libstdc++6",
        ])
        .unwrap();
        assert_eq!(r.apt_packages, ["krb5-user", "procps", "libstdc++6"]);
        let r = resolve_args(&[
            "-t",
            "3.5.3",
            "--apt-allow-unconfigured",
            "ca-certificates,ucf",
            "--apt-allow-unconfigured",
            "ucf",
        ])
        .unwrap();
        assert_eq!(r.apt_allow_unconfigured, ["ca-certificates", "ucf"]);
        usage(
            &["-t", "3.5.3", "--apt-allow-unconfigured", "Ucf"],
            "--apt-allow-unconfigured \"Ucf\": not a Debian package name",
        );
        usage(
            &[
                "-t",
                "3.5.3",
                "--engine",
                "docker",
                "--apt-allow-unconfigured",
                "ucf",
            ],
            "apt-get runs the maintainer scripts there",
        );
        for bad in ["Procps", "a", "+x", "pro cps", "pkg;rm"] {
            usage(
                &["-t", "3.5.3", "--apt-packages", bad],
                "not a Debian package name",
            );
        }
        assert!(matches!(
            resolve_args(&["-t", "3.5.3", "--timezone", "../../etc/passwd"]),
            Err(BuildError::UnknownTimezone { .. })
        ));
        assert!(resolve_args(&["-t", "3.5.3", "--timezone", "Asia/Shanghai"]).is_ok());
    }
}
