//! `sparkimg build`: the stages in order. Resolve (flags → [`BuildRequest`], pure, in
//! `resolve.rs`), then connect what the sinks need and read credentials (once), fetch
//! the base and the distribution, then either the Docker Engine path or the daemonless
//! plan → build → assemble (`sparkimg::build`) → publish (`sparkimg::build::publish`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use sparkimg::apt::AptOptions;
use sparkimg::build::publish::{self, Delivered, FileSink, LoadSink, RegistrySink, Sink};
use sparkimg::build::{
    self, BaseSpec, BuildError, BuildOptions, BuildReport, Platform, SbomOptions,
};
use sparkimg::engine::Daemon;
use sparkimg::fetch::{self, FetchOptions, SparkVersion};
use sparkimg::registry::{self, PushReport, RegistryOptions};
use sparkimg::usage::UsageError;

use super::args::{BuildArgs, CacheDirArg};
use super::resolve::{self, BuildRequest, Distribution, Env, Load};
use super::support;

/// What the effects before the build found: daemons, credentials, directories.
struct Prepared {
    /// `--engine docker`'s daemon.
    engine: Option<Daemon>,
    /// The daemon to load into (`--load`, or a default one that answered).
    load: Option<Daemon>,
    registry: Option<RegistryOptions>,
    cache_root: PathBuf,
    entrypoint: PathBuf,
}

pub fn run(args: BuildArgs, lock_timeout: Duration) -> Result<()> {
    let req = resolve::resolve(&args, &Env::from_process())?;
    let prepared = prepare(&req, lock_timeout)?;
    let _session = sparkimg::cache::open_session(&prepared.cache_root, lock_timeout)?;
    let bases = pull_bases(&req, prepared.registry.as_ref())?;
    let (spark_home, source, tarball) =
        fetch_distribution(&req, &prepared.cache_root, lock_timeout)?;
    let version = match &req.version {
        Some(v) => v.clone(),
        None => version_from_dist(&spark_home).ok_or_else(|| {
            UsageError::new(format!(
                "cannot tell the Spark version of {}",
                spark_home.display()
            ))
            .with_hint("pass --spark-version")
        })?,
    };
    resolve::buildable_version(&version)?;
    let tag = req.tag.clone().unwrap_or_else(|| version.clone());
    let images = req.names.images(&tag)?;
    let packages = bake_packages(&req, &spark_home, &prepared.cache_root, lock_timeout)?;
    let sbom = req.sbom.any().then(|| SbomOptions {
        formats: req.sbom,
        spark: sbom_spark_package(&version, &source, tarball.as_ref()),
    });
    if let Some(daemon) = &prepared.engine {
        let b = sparkimg::build::engine::EngineBuild {
            spark_home,
            spark_version: version,
            images,
            base: req.base_str.clone(),
            dockerfiles: req
                .docker
                .as_ref()
                .map(|d| d.dockerfiles.clone())
                .unwrap_or_default(),
            build_args: req
                .docker
                .as_ref()
                .map(|d| d.build_args.clone())
                .unwrap_or_default(),
            timezone: req.timezone.clone(),
            uid: req.uid,
            epoch: req.epoch,
            entrypoint: prepared.entrypoint.clone(),
            source,
            no_cache: req.no_cache,
            apt_packages: req.apt_packages.clone(),
            packages,
        };
        let jar_cache = (!req.no_cache).then(|| build::jar_facts_dir(&prepared.cache_root));
        let sbom = sbom.map(|so| (so, jar_cache));
        return engine_build(&req, daemon, &b, prepared.registry.as_ref(), sbom);
    }
    let opts = BuildOptions {
        spark_home,
        spark_version: version,
        images,
        base: bases.base,
        platform_bases: bases.per_platform,
        platforms: req.platforms.clone(),
        compression: req.compression(prepared.load.is_some())?,
        epoch: req.epoch,
        timezone: req.timezone.clone(),
        uid: req.uid,
        entrypoint: prepared.entrypoint.clone(),
        platform_entrypoints: req.platform_entrypoints.clone(),
        cache_dir: (!req.no_cache).then_some(prepared.cache_root.clone()),
        lock_timeout,
        host_zoneinfo: PathBuf::from("/usr/share/zoneinfo"),
        apt_packages: req.apt_packages.clone(),
        apt: AptOptions {
            cache_dir: (!req.no_cache).then_some(prepared.cache_root.clone()),
            insecure_skip_verify: req.insecure_skip_verify,
        },
        sbom,
        source,
        packages,
    };
    daemonless(&req, &opts, prepared)
}

/// The `--packages` stage: resolved and downloaded before any layer is planned.
fn bake_packages(
    req: &BuildRequest,
    spark_home: &Path,
    cache_root: &Path,
    lock_timeout: Duration,
) -> Result<Vec<sparkimg::build::plan::PackageJar>> {
    let env = support::MavenEnv::from_process();
    let jars = sparkimg::maven::stage::run(&sparkimg::maven::stage::StageOptions {
        packages: &req.packages.coordinates,
        excludes: &req.packages.excludes,
        repositories: &req.packages.repositories,
        default_root: env.default_root.as_deref(),
        settings_xml: env.settings_xml,
        spark_home: Some(spark_home),
        cache_root,
        insecure_skip_verify: req.insecure_skip_verify,
        policy: sparkimg::http::RetryPolicy::default(),
        lock_timeout,
    })?;
    if !jars.is_empty() {
        eprintln!(
            "sparkimg: packages: {} jar(s) for /opt/spark/jars",
            jars.len()
        );
    }
    Ok(jars)
}

/// Everything that can fail without the distribution, before it is fetched: no point
/// downloading hundreds of MB for a build that cannot happen.
fn prepare(req: &BuildRequest, lock_timeout: Duration) -> Result<Prepared> {
    if let Some(out) = &req.sinks.output {
        FileSink(out.clone()).check()?;
    }
    let engine = match req.docker {
        Some(_) => Some(support::connect()?),
        None => None,
    };
    let load = match req.sinks.load {
        Load::No => None,
        Load::Insist => Some(support::connect()?),
        Load::IfAnswers => {
            let d = support::probe();
            if d.is_none() {
                eprintln!(
                    "sparkimg: no Docker Engine answers; writing oci:sparkimg-out instead of \
                     loading (pass --output to choose, --load to insist on a daemon)"
                );
                FileSink(resolve::default_output()).check()?;
            }
            d
        }
    };
    let Some(entrypoint) = req.entrypoint.clone().or_else(default_entrypoint) else {
        bail!(BuildError::NoEntrypoint { path: None });
    };
    let cache_root = CacheDirArg::required_root(req.cache_dir.clone())?;
    // Credentials are read here, once per run (--password-stdin consumes stdin), so a
    // broken auth file fails before the fetch.
    let registry = match req.needs_registry() {
        true => Some(support::registry_options(
            &req.registry,
            Some(cache_root.clone()),
            lock_timeout,
        )?),
        false => None,
    };
    Ok(Prepared {
        engine,
        load,
        registry,
        cache_root,
        entrypoint,
    })
}

fn default_entrypoint() -> Option<PathBuf> {
    let candidates = [
        PathBuf::from("target/dist/spark-entrypoint"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/dist/spark-entrypoint"),
    ];
    candidates.into_iter().find(|p| p.is_file())
}

struct Bases {
    base: BaseSpec,
    per_platform: BTreeMap<String, BaseSpec>,
}

/// The fetch stage for a registry base: each platform pulled into the cache.
fn pull_bases(req: &BuildRequest, ropts: Option<&RegistryOptions>) -> Result<Bases> {
    let mut bases = Bases {
        base: req.base.clone(),
        per_platform: BTreeMap::new(),
    };
    let (Some(r), Some(ropts)) = (&req.base_ref, ropts) else {
        return Ok(bases);
    };
    let first = match req.platforms.first() {
        Some(p) => p.clone(),
        None => Platform::parse("linux/amd64")?,
    };
    let pulled = registry::pull(r, &first, ropts)?;
    eprintln!(
        "sparkimg: base {} -> {} ({} blobs, {} bytes downloaded)",
        pulled.reference, pulled.manifest_digest, pulled.blobs_downloaded, pulled.bytes_downloaded
    );
    bases.base = BaseSpec::Pulled {
        dir: pulled.layout.clone(),
        name: pulled.reference.clone(),
    };
    // The other platforms of a multi-platform build, each pulled on its own.
    for other in req.platforms.iter().skip(1) {
        let pulled = registry::pull(r, other, ropts)?;
        eprintln!(
            "sparkimg: base {} for {other} -> {}",
            pulled.reference, pulled.manifest_digest
        );
        bases.per_platform.insert(
            other.to_string(),
            BaseSpec::Pulled {
                dir: pulled.layout.clone(),
                name: pulled.reference.clone(),
            },
        );
    }
    Ok(bases)
}

/// A fetched distribution tarball: its file name and sha512.
type Tarball = (String, String);

/// The fetch stage for the distribution: SPARK_HOME, the `source` label and, when
/// fetched, the tarball's file name and sha512 (for the SBOM).
fn fetch_distribution(
    req: &BuildRequest,
    cache_root: &Path,
    lock_timeout: Duration,
) -> Result<(PathBuf, String, Option<Tarball>)> {
    match &req.distribution {
        Distribution::Home(home) => {
            Ok((home.clone(), "https://github.com/apache/spark".into(), None))
        }
        Distribution::Fetch {
            spec,
            mirrors,
            insecure_skip_verify,
        } => {
            let mut opts = FetchOptions::new(cache_root.to_path_buf());
            opts.lock_timeout = lock_timeout;
            opts.mirrors = mirrors.clone();
            opts.insecure_skip_verify = *insecure_skip_verify;
            let fetched = fetch::fetch(spec, &opts).map_err(BuildError::from)?;
            eprintln!(
                "sparkimg: distribution {} ({})",
                fetched.path.display(),
                fetched.source
            );
            Ok((
                fetched.path,
                fetched.source,
                Some((fetched.file, fetched.sha512)),
            ))
        }
    }
}

/// The Spark distribution as an SBOM package; a local tarball has no download URL.
fn sbom_spark_package(
    version: &str,
    source: &str,
    tarball: Option<&Tarball>,
) -> sparkimg::sbom::Package {
    let url = (source.starts_with("https://") || source.starts_with("http://")).then_some(source);
    let mut p = sparkimg::sbom::spark_package(
        version,
        tarball.map(|t| t.0.as_str()),
        url.unwrap_or("NOASSERTION"),
        tarball.map(|t| t.1.as_str()),
    );
    if url.is_none() {
        p.download = None;
    }
    p
}

/// Writes each SBOM document to `--sbom-dir` as `<image>_<tag>_<os>-<arch>.<suffix>`.
fn write_sbom_dir(dir: &Path, docs: &[build::SbomDoc]) -> Result<(), BuildError> {
    std::fs::create_dir_all(dir).map_err(BuildError::io(dir))?;
    for d in docs {
        let name: String = format!("{}_{}", d.reference, d.platform)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{name}.{}", d.format.suffix()));
        std::fs::write(&path, &d.document.bytes).map_err(BuildError::io(&path))?;
    }
    Ok(())
}

/// Spark version from RELEASE ("Spark 3.5.3 built for Hadoop 3.3.4") or the
/// spark-core jar name, for distributions given by path.
fn version_from_dist(home: &Path) -> Option<String> {
    let from_release = std::fs::read_to_string(home.join("RELEASE"))
        .ok()
        .and_then(|text| SparkVersion::from_release_file(&text));
    let version = from_release.or_else(|| {
        let mut names: Vec<String> = std::fs::read_dir(home.join("jars"))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        names.sort();
        names
            .iter()
            .find_map(|n| SparkVersion::from_core_jar_name(n))
    })?;
    Some(version.to_string())
}

/// `--engine docker`: the daemon builds from the Dockerfiles and, with --push, pushes;
/// then the SBOMs (with the jar facts' cache directory) go to `--sbom-dir` and, pushed,
/// beside the images as referrers.
fn engine_build(
    req: &BuildRequest,
    daemon: &Daemon,
    b: &sparkimg::build::engine::EngineBuild,
    ropts: Option<&RegistryOptions>,
    sbom: Option<(SbomOptions, Option<PathBuf>)>,
) -> Result<()> {
    let mut report = build::engine::build_images(daemon, b, &mut |l| eprintln!("{l}"))?;
    let ropts = ropts.filter(|_| req.sinks.push);
    if let Some(ropts) = ropts {
        for i in &mut report.images {
            eprintln!(
                "sparkimg: pushing {} through the Docker Engine",
                i.reference
            );
            let d =
                build::engine::push_image(daemon, &i.reference, ropts, &mut |l| eprintln!("{l}"))?;
            i.manifest_digest = d.rsplit('@').next().unwrap_or("").to_string();
            i.repo_digests = vec![d];
        }
    }
    if let Some((so, jar_cache)) = &sbom {
        let docs = build::engine_sbom::documents(daemon, b, &report, so, jar_cache.as_deref())?;
        if let Some(dir) = &req.sbom_dir {
            write_sbom_dir(dir, &docs)?;
        }
        match ropts {
            Some(ropts) => {
                let created = build::json::rfc3339(b.epoch);
                publish::push_referrers(&docs, ropts, &created)?;
                eprintln!(
                    "sparkimg: {} SBOM document(s) attached in the registry",
                    docs.len()
                );
            }
            None if req.sbom_dir.is_none() => eprintln!("{}", sbom_not_kept_hint()),
            None => {}
        }
    }
    for i in &report.images {
        eprintln!(
            "sparkimg: {} {} ({} bytes)",
            i.reference,
            i.image_id.as_deref().unwrap_or(""),
            i.size
        );
    }
    if req.json {
        outln!("{}", serde_json::to_string(&report)?)?;
    } else {
        for i in &report.images {
            match i.repo_digests.first() {
                Some(d) => outln!("{d}")?,
                None => outln!("{} {}", i.reference, i.image_id.as_deref().unwrap_or(""))?,
            }
        }
    }
    Ok(())
}

/// The sinks of a daemonless build, in delivery order: files, the daemon, the registry
/// (a push is last, so a failed push leaves the local outputs usable); and whether the
/// file written is the default `oci:sparkimg-out`.
fn sinks(req: &BuildRequest, opts: &BuildOptions, p: Prepared) -> (Vec<Box<dyn Sink>>, bool) {
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    let (output, defaulted) = match (&req.sinks.output, req.sinks.load, &p.load) {
        (Some(o), _, _) => (Some(o.clone()), req.sinks.defaulted),
        (None, Load::IfAnswers, None) => (Some(resolve::default_output()), true),
        _ => (None, false),
    };
    if let Some(o) = output {
        sinks.push(Box::new(FileSink(o)));
    }
    if let Some(daemon) = p.load {
        sinks.push(Box::new(LoadSink {
            daemon,
            references: opts.images.iter().map(|(_, r)| r.to_string()).collect(),
        }));
    }
    if let (true, Some(ropts)) = (req.sinks.push, p.registry) {
        sinks.push(Box::new(RegistrySink {
            opts: ropts,
            select: None,
            to: Vec::new(),
            source: PathBuf::from("the built images"),
        }));
    }
    (sinks, defaulted)
}

/// A Docker Engine has no referrers: said when its images' SBOMs would be lost.
fn sbom_not_kept_hint() -> &'static str {
    "hint: the Docker Engine keeps no SBOM beside an image: pass --sbom-dir DIR to write \
     the SBOM, --push to attach it in the registry (`sparkimg sbom REF` reads it there), \
     or --output oci:DIR to keep it in a layout"
}

/// Plan, build, assemble, publish; then report.
fn daemonless(req: &BuildRequest, opts: &BuildOptions, p: Prepared) -> Result<()> {
    // Only loaded into a daemon: the documents would go nowhere.
    let only_loaded = p.load.is_some() && req.sinks.output.is_none() && !req.sinks.push;
    let (mut sinks, written_default) = sinks(req, opts, p);
    if opts.sbom.is_some() && req.sbom_dir.is_none() && only_loaded {
        eprintln!("{}", sbom_not_kept_hint());
    }
    let described: Vec<String> = sinks.iter().map(|s| s.describe()).collect();
    let (mut report, delivered) = build::build_with(opts, |a| {
        if let Some(dir) = &req.sbom_dir {
            write_sbom_dir(dir, &a.sboms)?;
        }
        publish::publish_all(&mut sinks, a)
    })?;
    let pushed = apply_deliveries(&mut report, &delivered);
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
        described.join(", "),
        if written_default {
            " (default; pass --output, or `docker load` a docker-archive: output)"
        } else {
            ""
        }
    );
    print_report(&report, req.sinks.push.then_some(&pushed), req.json)
}

/// What the sinks did, into the report: `output` names the first delivery (a path, the
/// daemon, or the pushed references); loaded images get their IDs. Returns the pushes.
fn apply_deliveries(report: &mut BuildReport, delivered: &[Delivered]) -> Vec<PushReport> {
    let mut pushed = Vec::new();
    for (n, d) in delivered.iter().enumerate() {
        let output = match d {
            Delivered::Written(p) => p.display().to_string(),
            Delivered::Loaded {
                endpoint,
                image_ids,
            } => {
                for i in &mut report.images {
                    if let Some((_, id)) = image_ids.iter().find(|(r, _)| *r == i.reference) {
                        i.image_id = Some(id.clone());
                    }
                }
                format!("docker-daemon:{endpoint}")
            }
            Delivered::Pushed(p) => {
                pushed.extend(p.iter().cloned());
                p.iter()
                    .map(|r| r.pushed.clone())
                    .collect::<Vec<_>>()
                    .join(",")
            }
        };
        if n == 0 {
            report.output = output;
        }
    }
    pushed
}

fn print_report(report: &BuildReport, pushed: Option<&Vec<PushReport>>, json: bool) -> Result<()> {
    if json {
        let mut v = serde_json::to_value(report)?;
        if let Some(p) = pushed {
            v["pushed"] = serde_json::to_value(p)?;
        }
        outln!("{v}")?;
    } else if let Some(pushed) = pushed {
        for p in pushed {
            outln!("{}", p.pushed)?;
        }
    } else {
        for i in &report.images {
            outln!("{}@{}", i.reference, i.manifest_digest)?;
        }
    }
    Ok(())
}
