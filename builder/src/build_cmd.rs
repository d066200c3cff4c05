//! `sparkimg build`: flags → [`sparkimg::image::BuildOptions`], fetch the distribution,
//! build, report. Everything that can be refused cheaply is refused before the fetch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sparkimg::fetch::{self, urls, Cache, DistSpec, FetchOptions, SparkVersion};
use sparkimg::image::{
    self, reference, BaseSpec, BuildError, BuildOptions, ImageRef, OutputSpec, Platform, Variant,
};
use sparkimg::registry::{self, RegistryRef};

use crate::cli::{BuildArgs, CompressionArg, EngineArg};
use crate::{engine_cmd, push_cmd};

fn not_yet(msg: &str) -> anyhow::Error {
    BuildError::NotYet(msg.to_string()).into()
}

fn input(msg: String) -> anyhow::Error {
    BuildError::InvalidInput(msg).into()
}

/// Spark version from RELEASE ("Spark 3.5.3 built for Hadoop 3.3.4") or the
/// spark-core jar name, for distributions given by path.
fn version_from_dist(home: &Path) -> Option<String> {
    if let Ok(text) = std::fs::read_to_string(home.join("RELEASE")) {
        if let Some(v) = text.split_whitespace().nth(1) {
            if v.parse::<SparkVersion>().is_ok() {
                return Some(v.to_string());
            }
        }
    }
    let jars = std::fs::read_dir(home.join("jars")).ok()?;
    let mut names: Vec<String> = jars
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names.iter().find_map(|n| {
        let rest = n.strip_prefix("spark-core_")?.strip_suffix(".jar")?;
        let v = rest.split_once('-')?.1;
        v.parse::<SparkVersion>().ok().map(|_| v.to_string())
    })
}

fn default_entrypoint() -> Option<PathBuf> {
    let candidates = [
        PathBuf::from("target/dist/spark-entrypoint"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/dist/spark-entrypoint"),
    ];
    candidates.into_iter().find(|p| p.is_file())
}

pub fn run(args: BuildArgs) -> Result<()> {
    let engine_docker = matches!(args.engine, EngineArg::Docker);
    if let (Some(f), false) = (&args.dockerfile, engine_docker) {
        bail!(input(format!(
            "-f {f}: Dockerfiles are used only with --engine docker; the daemonless build \
             needs none"
        )));
    }
    if engine_docker && args.output.is_some() {
        bail!(input(
            "--output with --engine docker: the images stay in the Docker Engine (`docker \
             save` them), or build daemonless to write files"
                .into()
        ));
    }
    if args.minikube {
        return Err(not_yet(
            "-m (minikube's Docker): loading into a daemon lands with --load",
        ));
    }
    let push = args.push || args.buildx || args.verb.as_deref() == Some("push");
    match args.verb.as_deref() {
        None | Some("build") | Some("push") => {}
        Some(other) => bail!(input(format!(
            "unexpected argument '{other}' (only `build` or `push`)"
        ))),
    }
    let mut platforms = args.platform.clone();
    if args.buildx && platforms.is_empty() {
        platforms = vec!["linux/amd64".into(), "linux/arm64".into()];
    }
    let platforms: Vec<Platform> = platforms
        .iter()
        .map(|p| Platform::parse(p))
        .collect::<Result<_, _>>()?;
    // Several platforms make one image index per image: Spark layers shared, a base
    // and an entrypoint binary per platform.
    let multi_platform = platforms.len() > 1;
    let mut platform_entrypoints = BTreeMap::new();
    for spec in &args.platform_entrypoint {
        let Some((platform, path)) = spec.split_once('=') else {
            bail!(input(format!(
                "--platform-entrypoint {spec:?}: expected OS/ARCH=PATH"
            )));
        };
        platform_entrypoints.insert(Platform::parse(platform)?.to_string(), PathBuf::from(path));
    }

    // docker-image-tool.sh build args.
    let mut uid = args.uid;
    let mut java_image_tag = None;
    let mut docker_build_args = Vec::new();
    for a in &args.build_args {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| input(format!("-b {a}: expected KEY=VALUE")))?;
        if engine_docker && k != "base_img" {
            // The Dockerfiles may declare anything; spark_uid and java_image_tag still
            // mean what they mean below.
            docker_build_args.push((k.to_string(), v.to_string()));
        }
        match k {
            "java_image_tag" => java_image_tag = Some(v.to_string()),
            "spark_uid" => {
                uid = v
                    .parse()
                    .map_err(|_| input(format!("-b spark_uid={v}: not a number")))?
            }
            "base_img" => eprintln!(
                "sparkimg: warning: -b base_img ignored: spark-py and spark-r are built on the \
                 JVM image's layers"
            ),
            _ if engine_docker => {}
            _ => bail!(input(format!(
                "-b {k}: unsupported build arg (supported: java_image_tag, spark_uid, base_img)"
            ))),
        }
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
    // `-p push` / `-R push`: getopts-style parsing took the trailing verb as the value.
    let push = push
        || [&args.python, &args.r]
            .iter()
            .any(|v| matches!(v, Some(Some(f)) if f == "push"));

    // Version and tag.
    let tag_version = args
        .tag
        .as_deref()
        .filter(|t| t.parse::<SparkVersion>().is_ok());
    let mut version: Option<String> = args.spark_version.clone().or(tag_version.map(String::from));
    if let Some(v) = &version {
        let parsed: SparkVersion = v.parse()?;
        if (parsed.major, parsed.minor) < (2, 3) {
            bail!(input(format!(
                "Spark {v}: Kubernetes images exist from Spark 2.3 on"
            )));
        }
    }
    if version.is_none() && args.dist.is_none() && args.spark_home.is_none() {
        bail!(input(match &args.tag {
            Some(t) => format!("tag '{t}' is not a Spark version: pass --spark-version"),
            None =>
                "pass --spark-version, or a --tag that is a Spark version (e.g. -t 3.5.3)".into(),
        }));
    }
    if let Some(t) = &args.tag {
        reference::validate_tag(t)?;
    }

    // Base, output, options that need no distribution.
    let base_str = match (&args.base, &java_image_tag) {
        (Some(_), Some(_)) => bail!(input(
            "-b java_image_tag and --base both choose the base; pass one".into()
        )),
        (Some(b), None) => b.clone(),
        (None, Some(t)) => format!("eclipse-temurin:{t}"),
        (None, None) => {
            let major = version
                .as_deref()
                .and_then(|v| v.parse::<SparkVersion>().ok())
                .map_or(3, |v| v.major);
            reference::default_base(major).to_string()
        }
    };
    let mut base = BaseSpec::parse(&base_str)?;
    if engine_docker && !matches!(base, BaseSpec::Registry(_)) {
        bail!(input(format!(
            "--base {base_str}: with --engine docker the base is an image the daemon has or \
             can pull (load archives with `docker load` first)"
        )));
    }
    // With --engine docker the daemon resolves FROM itself.
    let base_ref = match &base {
        BaseSpec::Registry(r) if !engine_docker => Some(RegistryRef::parse(r)?),
        _ => None,
    };
    let (output, defaulted) = match &args.output {
        Some(o) => (OutputSpec::parse(o)?, false),
        None => (OutputSpec::OciDir(PathBuf::from("sparkimg-out")), true),
    };
    if push && !engine_docker && !matches!(output, OutputSpec::OciDir(_)) {
        // Pushing reads the layout back; an archive would have to be unpacked again.
        bail!(input(
            "--push needs an oci:DIR output (the default); push an archive afterwards with \
             `sparkimg push oci-archive:FILE`"
                .into()
        ));
    }
    image::output::check(&output)?;
    let epoch = image::parse_epoch(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref())?;
    // Without --output or --push the images go into the Docker Engine when one answers
    // (docker-image-tool.sh's `build` leaves them there too); --load insists on one.
    if multi_platform && (args.load || engine_docker) {
        bail!(input(
            "several platforms make an image index, which a Docker Engine cannot load or \
             build here: drop --load/--engine docker, or pass one --platform"
                .into()
        ));
    }
    // The daemon is found before the distribution is fetched: no point downloading
    // hundreds of MB for a build that cannot happen.
    let engine_daemon = if engine_docker {
        Some(engine_cmd::connect()?)
    } else {
        None
    };
    let load = if engine_docker {
        None
    } else if args.load {
        Some(engine_cmd::connect()?)
    } else if defaulted && !push && !multi_platform {
        let d = engine_cmd::probe();
        if d.is_none() {
            eprintln!(
                "sparkimg: no Docker Engine answers; writing oci:sparkimg-out instead of \
                 loading (pass --output to choose, --load to insist on a daemon)"
            );
        }
        d
    } else {
        None
    };
    // Uncompressed layers are what the daemon unpacks fastest from a local stream; any
    // file output keeps gzip unless asked otherwise.
    let only_load = load.is_some() && defaulted;
    let kind = match args.compression {
        Some(CompressionArg::Gzip) => "gzip",
        Some(CompressionArg::Zstd) => "zstd",
        Some(CompressionArg::None) => "none",
        None if only_load => "none",
        None => "gzip",
    };
    let compression = image::parse_compression(kind, args.compression_level)?;
    let entrypoint = match args.entrypoint_binary.clone().or_else(default_entrypoint) {
        Some(p) => p,
        None => bail!(input(
            "no spark-entrypoint binary: run `cargo xtask dist` (writes \
             target/dist/spark-entrypoint) or pass --entrypoint-binary PATH"
                .into()
        )),
    };
    let cache_root = match &args.cache_dir {
        Some(d) => d.clone(),
        None => Cache::default_root().context(
            "cannot find a cache directory: set --cache-dir, SPARKIMG_CACHE_DIR or HOME",
        )?,
    };

    // Registry access (credentials are read now so a broken auth file fails before the
    // fetch), then the base pull.
    let registry_opts = if push || base_ref.is_some() {
        Some(push_cmd::registry_options(
            &args.registry,
            Some(cache_root.clone()),
        )?)
    } else {
        None
    };
    let mut platform_bases = BTreeMap::new();
    if let (Some(r), Some(ropts)) = (&base_ref, &registry_opts) {
        let want = platforms
            .first()
            .cloned()
            .unwrap_or_else(|| Platform::parse("linux/amd64").expect("static platform"));
        let pulled = registry::pull(r, &want, ropts)?;
        eprintln!(
            "sparkimg: base {} -> {} ({} blobs, {} bytes downloaded)",
            pulled.reference,
            pulled.manifest_digest,
            pulled.blobs_downloaded,
            pulled.bytes_downloaded
        );
        base = BaseSpec::Pulled {
            dir: pulled.layout.clone(),
            name: pulled.reference.clone(),
        };
        // The other platforms of a multi-platform build, each pulled on its own.
        for other in platforms.iter().skip(1) {
            let pulled = registry::pull(r, other, ropts)?;
            eprintln!(
                "sparkimg: base {} for {other} -> {}",
                pulled.reference, pulled.manifest_digest
            );
            platform_bases.insert(
                other.to_string(),
                BaseSpec::Pulled {
                    dir: pulled.layout.clone(),
                    name: pulled.reference.clone(),
                },
            );
        }
    }

    // The distribution.
    let (spark_home, source) = if let Some(home) = &args.spark_home {
        (home.clone(), "https://github.com/apache/spark".to_string())
    } else {
        let mut opts = FetchOptions::new(cache_root.clone());
        let env_mirrors = std::env::var("SPARKIMG_MIRRORS").ok();
        opts.mirrors = urls::mirror_list(
            &args.mirrors,
            env_mirrors.as_deref(),
            !args.no_default_mirrors,
        );
        opts.insecure_skip_verify = args.insecure_skip_verify;
        let spec = match (&args.dist, &version) {
            (Some(d), _) => DistSpec::Dist(d.clone()),
            (None, Some(v)) => DistSpec::Release {
                version: v.parse()?,
                hadoop: args.hadoop.clone(),
                scala: args.scala.clone(),
            },
            (None, None) => bail!(input("pass --spark-version or --dist".into())),
        };
        let fetched = fetch::fetch(&spec, &opts)?;
        eprintln!(
            "sparkimg: distribution {} ({})",
            fetched.path.display(),
            fetched.source
        );
        (fetched.path, fetched.source)
    };
    if version.is_none() {
        version = version_from_dist(&spark_home);
    }
    let Some(version) = version else {
        bail!(input(format!(
            "cannot tell the Spark version of {}: pass --spark-version",
            spark_home.display()
        )));
    };
    let tag = args.tag.clone().unwrap_or_else(|| version.clone());

    // Images.
    let repo = args.repo.as_deref();
    let image = |name: &Option<String>, v: Variant| -> Result<ImageRef, BuildError> {
        match name {
            Some(n) => reference::name_or_ref(n, &tag),
            None => reference::name_or_ref(&reference::default_name(repo, v.image_name()), &tag),
        }
    };
    let mut images = vec![(Variant::Jvm, image(&args.name, Variant::Jvm)?)];
    if args.python.is_some() || args.python_name.is_some() {
        images.push((Variant::Python, image(&args.python_name, Variant::Python)?));
    }
    if args.r.is_some() || args.r_name.is_some() {
        images.push((Variant::R, image(&args.r_name, Variant::R)?));
    }

    if let Some(daemon) = engine_daemon {
        let mut dockerfiles = std::collections::BTreeMap::new();
        for (v, f) in [
            (Variant::Jvm, args.dockerfile.clone()),
            (Variant::Python, args.python.clone().flatten()),
            (Variant::R, args.r.clone().flatten()),
        ] {
            if let Some(f) = f.filter(|f| f != "build" && f != "push") {
                dockerfiles.insert(v, PathBuf::from(f));
            }
        }
        let b = sparkimg::engine::build::EngineBuild {
            spark_home,
            spark_version: version,
            images,
            base: base_str,
            dockerfiles,
            build_args: docker_build_args,
            timezone: args.timezone.clone(),
            uid,
            epoch,
            entrypoint,
            source,
            no_cache: args.no_cache,
        };
        return engine_cmd::build(&daemon, b, push, &args.registry, args.json);
    }

    let opts = BuildOptions {
        spark_home,
        spark_version: version,
        images,
        base,
        platform_bases,
        output: output.clone(),
        platforms,
        compression,
        epoch,
        timezone: args.timezone.clone(),
        uid,
        entrypoint,
        platform_entrypoints,
        cache_dir: (!args.no_cache).then_some(cache_root),
        source,
        host_zoneinfo: PathBuf::from("/usr/share/zoneinfo"),
    };
    let report = match &load {
        Some(daemon) => engine_cmd::build_and_load(&opts, daemon, (!defaulted).then_some(&output))?,
        None => image::build(&opts)?,
    };
    for l in &report.layers {
        eprintln!(
            "sparkimg: layer {:<11} {} {} ({} bytes)",
            l.name,
            if l.cached { "cached" } else { "built " },
            l.digest,
            l.size
        );
    }
    eprintln!(
        "sparkimg: {} layers built, {} cached; wrote {}{}",
        report.layers_built,
        report.layers_cached,
        match (&output, &load) {
            (_, Some(d)) if defaulted => format!("the Docker Engine at {}", d.found.endpoint),
            (OutputSpec::OciDir(p), _) => format!("oci:{}", p.display()),
            (OutputSpec::OciArchive(p), _) => format!("oci-archive:{}", p.display()),
            (OutputSpec::DockerArchive(p), _) => format!("docker-archive:{}", p.display()),
        },
        if defaulted && load.is_none() {
            " (default; pass --output, or `docker load` a docker-archive: output)"
        } else {
            ""
        }
    );
    let mut pushed = Vec::new();
    if let (true, Some(ropts)) = (push, &registry_opts) {
        // Every image of the layout to the reference it was built as.
        pushed = push_cmd::push_layout(Path::new(&report.output), None, &[], ropts)?;
    }
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        if push {
            v["pushed"] = serde_json::to_value(&pushed)?;
        }
        println!("{v}");
    } else if push {
        for p in &pushed {
            println!("{}", p.pushed);
        }
    } else {
        for i in &report.images {
            println!("{}@{}", i.reference, i.manifest_digest);
        }
    }
    Ok(())
}
