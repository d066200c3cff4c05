//! `sparkimg build` from a [`Request`] to delivered images, every stage in order:
//! prepare (sinks checked, daemons connected: everything that can fail before the
//! distribution is downloaded), fetch (the base pulled, the distribution fetched, the
//! `--packages` jars resolved and downloaded), then either the Docker Engine path or the
//! daemonless plan → layers → assemble ([`super::build_with`]) → publish. A new stage is
//! a module of `build/` and a call here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::assemble::Origin;
use super::engine::{self as engine_stage, EngineBuild};
use super::provenance::Provenance;
use super::publish::{self, Delivered, FileSink, LoadSink, RegistrySink, Sink};
use super::request::{buildable_version, default_output, Distribution, Load, Request};
use super::{
    build_with, dist, jar_facts_dir, plan::PackageJar, sboms, BaseSpec, BuildError, BuildOptions,
    BuildReport, Platform, SbomOptions,
};
use crate::apt::AptOptions;
use crate::engine::Daemon;
use crate::fetch::{self, FetchOptions};
use crate::maven::stage::MavenEnv;
use crate::registry::{self, PushReport, RegistryOptions};
use crate::report;
use crate::sign::Signer;

/// What the caller read from the world for this build: the cache, how long to wait
/// for its locks, registry options with credentials (read once: `--password-stdin`
/// consumes stdin; `None` when [`Request::needs_registry`] is false) and Maven's
/// environment.
pub struct Environment {
    pub cache_root: PathBuf,
    pub lock_timeout: Duration,
    pub registry: Option<RegistryOptions>,
    pub maven: MavenEnv,
    /// `--sign-key`'s signer, the key read and opened.
    pub signer: Option<Signer>,
}

/// What a build delivered.
#[derive(Debug)]
pub enum Outcome {
    /// `--engine docker`: the images are in the daemon (and pushed from it, with
    /// `--push`: then each has its repository digest).
    Engine(BuildReport),
    Daemonless {
        report: BuildReport,
        /// With `--push`: one report per pushed tag.
        pushed: Option<Vec<PushReport>>,
        /// Each sink, described (a path, the daemon, the registry).
        wrote: Vec<String>,
        /// The file written is `oci:sparkimg-out` because nothing else was asked for.
        wrote_default: bool,
    },
}

/// The daemons the sinks need and the entrypoint binary, found before the fetch.
struct Prepared {
    /// `--engine docker`'s daemon.
    engine: Option<Daemon>,
    /// The daemon to load into (`--load`, or a default one that answered).
    load: Option<Daemon>,
    entrypoint: PathBuf,
}

/// Runs every stage of `req`. `daemon_log` gets the Docker Engine's own output lines
/// (its build and push logs) as they come.
pub fn run(
    req: &Request,
    env: Environment,
    daemon_log: &mut dyn FnMut(&str),
) -> Result<Outcome, BuildError> {
    let prepared = prepare(req)?;
    if req.provenance && env.signer.is_none() {
        return Err(BuildError::Usage(super::sign::provenance_needs_key()));
    }
    if req.docker.is_some() && env.signer.is_some() {
        return Err(BuildError::usage(
            "--sign-key signs daemonless builds; with --engine docker, --push and then sign \
             with `cosign sign`",
        ));
    }
    let _session = crate::cache::open_session(&env.cache_root, env.lock_timeout)?;
    let bases = pull_bases(req, env.registry.as_ref())?;
    refuse_java_early(req, &bases.base, &env.cache_root)?;
    let fetched = fetch_distribution(req, &env)?;
    let version = match &req.version {
        Some(v) => v.clone(),
        None => dist::spark_version(&fetched.spark_home).ok_or_else(|| {
            crate::usage::UsageError::new(format!(
                "cannot tell the Spark version of {}",
                fetched.spark_home.display()
            ))
            .with_hint("pass --spark-version")
        })?,
    };
    buildable_version(&version)?;
    let images = req.names.images(req.tag.as_deref().unwrap_or(&version))?;
    let packages = bake_packages(req, &fetched.spark_home, &env)?;
    let sbom = req.sbom.any().then(|| SbomOptions {
        formats: req.sbom,
        spark: sboms::spark_package(&version, &fetched.origin, fetched.tarball.as_ref()),
    });
    let cache_dir = (!req.no_cache).then(|| env.cache_root.clone());
    if let Some(daemon) = &prepared.engine {
        let docker = req.docker.clone().unwrap_or_else(|| super::DockerBuild {
            dockerfiles: BTreeMap::new(),
            build_args: Vec::new(),
        });
        let b = EngineBuild {
            spark_home: fetched.spark_home,
            spark_version: version,
            images,
            base: req.base_str.clone(),
            dockerfiles: docker.dockerfiles,
            build_args: docker.build_args,
            timezone: req.timezone.clone(),
            uid: req.uid,
            epoch: req.epoch,
            entrypoint: prepared.entrypoint.clone(),
            origin: fetched.origin,
            no_cache: req.no_cache,
            apt_packages: req.apt_packages.clone(),
            packages,
            allow_unsupported_java: req.allow_unsupported_java,
        };
        let jar_cache = cache_dir.as_deref().map(jar_facts_dir);
        let ropts = env.registry.as_ref().filter(|_| req.sinks.push);
        let sbom = sbom.map(|so| (so, jar_cache));
        return engine_build(req, daemon, &b, ropts, sbom, daemon_log).map(Outcome::Engine);
    }
    let opts = BuildOptions {
        spark_home: fetched.spark_home,
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
        cache_dir: cache_dir.clone(),
        lock_timeout: env.lock_timeout,
        host_zoneinfo: PathBuf::from("/usr/share/zoneinfo"),
        apt_packages: req.apt_packages.clone(),
        apt: AptOptions {
            cache_dir,
            insecure_skip_verify: req.insecure_skip_verify,
            allow_unconfigured: req.apt_allow_unconfigured.clone(),
        },
        sbom,
        origin: fetched.origin,
        packages,
        allow_unsupported_java: req.allow_unsupported_java,
    };
    daemonless(req, &opts, prepared, env.registry, env.signer)
}

/// Everything that can fail without the distribution, before it is fetched: no point
/// downloading hundreds of MB for a build that cannot happen.
fn prepare(req: &Request) -> Result<Prepared, BuildError> {
    if let Some(out) = &req.sinks.output {
        FileSink(out.clone()).check().map_err(Box::new)?;
    }
    let engine = match req.docker {
        Some(_) => Some(crate::engine::connect()?),
        None => None,
    };
    let load = match req.sinks.load {
        Load::No => None,
        Load::Insist => Some(crate::engine::connect()?),
        Load::IfAnswers => {
            let d = crate::engine::probe();
            if d.is_none() {
                report::note(
                    "no Docker Engine answers; writing oci:sparkimg-out instead of loading \
                     (pass --output to choose, --load to insist on a daemon)",
                );
                FileSink(default_output()).check().map_err(Box::new)?;
            }
            d
        }
    };
    let Some(entrypoint) = req.entrypoint.clone().or_else(default_entrypoint) else {
        return Err(BuildError::NoEntrypoint { path: None });
    };
    Ok(Prepared {
        engine,
        load,
        entrypoint,
    })
}

/// `target/dist/spark-entrypoint` under the working directory, else in the checkout
/// sparkimg was built from.
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
fn pull_bases(req: &Request, ropts: Option<&RegistryOptions>) -> Result<Bases, BuildError> {
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
    let pull = |p: &Platform| registry::pull(r, p, ropts).map_err(Box::new);
    let pulled = pull(&first)?;
    let via = pulled
        .mirror
        .as_ref()
        .map(|m| format!(" via mirror {m}"))
        .unwrap_or_default();
    report::note(&format!(
        "base {} -> {}{via} ({} blobs, {} bytes downloaded)",
        pulled.reference, pulled.manifest_digest, pulled.blobs_downloaded, pulled.bytes_downloaded
    ));
    bases.base = BaseSpec::Pulled {
        dir: pulled.layout.clone(),
        name: pulled.reference.clone(),
    };
    // The other platforms of a multi-platform build, each pulled on its own.
    for other in req.platforms.iter().skip(1) {
        let pulled = pull(other)?;
        report::note(&format!(
            "base {} for {other} -> {}",
            pulled.reference, pulled.manifest_digest
        ));
        bases.per_platform.insert(
            other.to_string(),
            BaseSpec::Pulled {
                dir: pulled.layout,
                name: pulled.reference,
            },
        );
    }
    Ok(bases)
}

/// A base whose Java the Spark line does not run on, refused before the distribution is
/// downloaded when the version is known from the flags and the base is a layout (cheap
/// to open; its scan is cached for the layer build). Warnings are left to the layer
/// build's check ([`super::java::check`]), which covers every base.
fn refuse_java_early(req: &Request, base: &BaseSpec, cache_root: &Path) -> Result<(), BuildError> {
    use super::java;
    use crate::oci::Location;
    let cheap = matches!(
        base,
        BaseSpec::Pulled { .. } | BaseSpec::Local(Location::OciDir { .. })
    );
    let (Some(version), true, None, false) = (&req.version, cheap, &req.docker, req.no_cache)
    else {
        return Ok(());
    };
    let want = req
        .platforms
        .first()
        .cloned()
        .unwrap_or_else(Platform::host);
    let scratch = tempfile::tempdir().map_err(BuildError::io(std::env::temp_dir()))?;
    let opened = super::base::open(base, &want, super::Compression::None, scratch.path(), None)?;
    let layers: Vec<(&Path, &str)> = opened
        .layers
        .iter()
        .map(|l| (l.path.as_path(), l.blob.digest.as_str()))
        .collect();
    let scans = crate::layer::cache::LayerCache::new(cache_root).base_scans();
    let fs = crate::layer::basefs::scan(&layers, Some(&scans))?;
    let home = super::java_home(&opened, &fs)?;
    let found = java::of_image(&opened, &home, &fs);
    match java::verdict(
        version,
        found.as_ref(),
        &opened.name,
        req.allow_unsupported_java,
    ) {
        java::Verdict::Refuse(e) => Err(e),
        _ => Ok(()),
    }
}

/// The distribution, fetched or given: its SPARK_HOME, its canonical origin and, when
/// fetched, the tarball's file name and sha512 (for the SBOM).
struct Fetched {
    spark_home: PathBuf,
    origin: Origin,
    tarball: Option<sboms::Tarball>,
}

fn fetch_distribution(req: &Request, env: &Environment) -> Result<Fetched, BuildError> {
    match &req.distribution {
        Distribution::Home(home) => Ok(Fetched {
            spark_home: home.clone(),
            origin: Origin {
                source: Some("https://github.com/apache/spark".into()),
                sha512: None,
            },
            tarball: None,
        }),
        Distribution::Fetch {
            spec,
            mirrors,
            insecure_skip_verify,
        } => {
            let mut opts = FetchOptions::new(env.cache_root.clone());
            opts.lock_timeout = env.lock_timeout;
            opts.mirrors = mirrors.clone();
            opts.insecure_skip_verify = *insecure_skip_verify;
            let fetched = fetch::fetch(spec, &opts)?;
            report::note(&format!(
                "distribution {} ({})",
                fetched.path.display(),
                fetched.source
            ));
            // A release is named by Apache's archive whichever mirror served it; a
            // `--dist` file or URL by its sha512 alone (its location is the host's).
            let source = (fetched.version.as_deref())
                .map(|v| crate::fetch::urls::canonical_url(v, &fetched.file));
            Ok(Fetched {
                spark_home: fetched.path,
                origin: Origin {
                    source,
                    sha512: Some(fetched.sha512.clone()),
                },
                tarball: Some(sboms::Tarball {
                    file: fetched.file,
                    sha512: fetched.sha512,
                }),
            })
        }
    }
}

/// The `--packages` stage: resolved and downloaded before any layer is planned.
fn bake_packages(
    req: &Request,
    spark_home: &Path,
    env: &Environment,
) -> Result<Vec<PackageJar>, BuildError> {
    let jars = crate::maven::stage::run(&crate::maven::stage::StageOptions {
        packages: &req.packages.coordinates,
        excludes: &req.packages.excludes,
        repositories: &req.packages.repositories,
        default_root: env.maven.default_root.as_deref(),
        settings_xml: env.maven.settings_xml.clone(),
        ivy_settings: req.packages.ivy_settings.as_deref(),
        spark_home: Some(spark_home),
        cache_root: &env.cache_root,
        insecure_skip_verify: req.insecure_skip_verify,
        policy: crate::http::RetryPolicy::default(),
        lock_timeout: env.lock_timeout,
    })?;
    if !jars.is_empty() {
        report::note(&format!(
            "packages: {} jar(s) for /opt/spark/jars",
            jars.len()
        ));
    }
    Ok(jars)
}

/// A Docker Engine has no referrers: said when its images' SBOMs would be lost.
fn warn_sbom_not_kept() {
    report::warn(
        "the Docker Engine keeps no SBOM beside an image, so this build's is dropped: pass \
         --sbom-dir DIR to write it, --push to attach it in the registry (`sparkimg sbom \
         REF` reads it there), or --output oci:DIR to keep it in a layout",
    );
}

/// `--engine docker`: the daemon builds from the Dockerfiles and, with --push, pushes;
/// then the SBOMs (with the jar facts' cache directory) go to `--sbom-dir` and, pushed,
/// beside the images as referrers.
fn engine_build(
    req: &Request,
    daemon: &Daemon,
    b: &EngineBuild,
    ropts: Option<&RegistryOptions>,
    sbom: Option<(SbomOptions, Option<PathBuf>)>,
    log: &mut dyn FnMut(&str),
) -> Result<BuildReport, BuildError> {
    let mut report = engine_stage::build_images(daemon, b, log)?;
    if let Some(ropts) = ropts {
        for i in &mut report.images {
            report::note(&format!(
                "pushing {} through the Docker Engine",
                i.reference
            ));
            let d = engine_stage::push_image(daemon, &i.reference, ropts, log)?;
            i.manifest_digest = d.rsplit('@').next().unwrap_or("").to_string();
            i.repo_digests = vec![d];
        }
    }
    if let Some((so, jar_cache)) = &sbom {
        let docs = super::engine_sbom::documents(daemon, b, &report, so, jar_cache.as_deref())?;
        if let Some(dir) = &req.sbom_dir {
            sboms::write_dir(dir, &docs)?;
        }
        match ropts {
            Some(ropts) => {
                let created = super::json::rfc3339(b.epoch);
                publish::push_referrers(&docs, ropts, &created).map_err(Box::new)?;
                report::note(&format!(
                    "{} SBOM document(s) attached in the registry",
                    docs.len()
                ));
            }
            None if req.sbom_dir.is_none() => warn_sbom_not_kept(),
            None => {}
        }
    }
    Ok(report)
}

/// The sinks of a daemonless build, in delivery order: files, the daemon, the registry
/// (a push is last, so a failed push leaves the local outputs usable); and whether the
/// file written is the default `oci:sparkimg-out`.
fn sinks(
    req: &Request,
    opts: &BuildOptions,
    load: Option<Daemon>,
    registry: Option<RegistryOptions>,
) -> (Vec<Box<dyn Sink>>, bool) {
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    let (output, defaulted) = match (&req.sinks.output, req.sinks.load, &load) {
        (Some(o), _, _) => (Some(o.clone()), req.sinks.defaulted),
        (None, Load::IfAnswers, None) => (Some(default_output()), true),
        _ => (None, false),
    };
    if let Some(o) = output {
        sinks.push(Box::new(FileSink(o)));
    }
    if let Some(daemon) = load {
        sinks.push(Box::new(LoadSink {
            daemon,
            references: opts.images.iter().map(|(_, r)| r.to_string()).collect(),
        }));
    }
    if let (true, Some(ropts)) = (req.sinks.push, registry) {
        sinks.push(Box::new(RegistrySink {
            opts: ropts,
            select: None,
            to: Vec::new(),
            source: PathBuf::from("the built images"),
        }));
    }
    (sinks, defaulted)
}

/// Plan, build, assemble, publish.
fn daemonless(
    req: &Request,
    opts: &BuildOptions,
    p: Prepared,
    registry: Option<RegistryOptions>,
    signer: Option<Signer>,
) -> Result<Outcome, BuildError> {
    // Only loaded into a daemon: the documents would go nowhere.
    let only_loaded = p.load.is_some() && req.sinks.output.is_none() && !req.sinks.push;
    let (mut sinks, wrote_default) = sinks(req, opts, p.load, registry);
    if opts.sbom.is_some() && req.sbom_dir.is_none() && only_loaded {
        warn_sbom_not_kept();
    }
    if signer.is_some() && only_loaded {
        report::warn("the Docker Engine keeps no signatures: pass --push or --output oci:DIR");
    }
    let wrote: Vec<String> = sinks.iter().map(|s| s.describe()).collect();
    let (mut report, (delivered, signatures)) = build_with(opts, |a| {
        if let Some(dir) = &req.sbom_dir {
            sboms::write_dir(dir, &a.sboms)?;
        }
        let provenance = req.provenance.then(|| Provenance {
            build_type: crate::sign::provenance::BUILD_TYPE,
            external: super::provenance::build_parameters(req, opts),
        });
        let (a, signatures) = sign_stage(a, signer.as_ref(), &[], provenance.as_ref())?;
        publish::publish_all(&mut sinks, &a)
            .map(|d| (d, signatures))
            .map_err(|e| BuildError::from(Box::new(e)))
    })?;
    report.signatures = signatures;
    let pushed = apply_deliveries(&mut report, &delivered);
    Ok(Outcome::Daemonless {
        report,
        pushed: req.sinks.push.then_some(pushed),
        wrote,
        wrote_default,
    })
}

/// The signing stage ([`super::sign`]) when there is a signer: `images` with their
/// signatures as `as_references` (empty: each image's own) and, with `provenance`,
/// their attestations; and the signatures made.
pub fn sign_stage(
    images: &super::Assembled,
    signer: Option<&Signer>,
    as_references: &[crate::oci::RegistryRef],
    provenance: Option<&Provenance>,
) -> Result<(super::Assembled, Vec<super::sign::Signature>), BuildError> {
    let Some(signer) = signer else {
        if provenance.is_some() {
            return Err(BuildError::Usage(super::sign::provenance_needs_key()));
        }
        return Ok((images.clone(), Vec::new()));
    };
    let opts = super::sign::SignOptions {
        signer: signer.clone(),
        as_references: as_references.to_vec(),
        provenance: provenance.cloned(),
    };
    let (signed, made) = super::sign::sign(images, &opts)?;
    let attested = made.iter().filter(|s| s.attestation.is_some()).count();
    match attested {
        0 => report::note(&format!("{} manifest signature(s) made", made.len())),
        n => report::note(&format!(
            "{} manifest signature(s) and {n} provenance attestation(s) made",
            made.len()
        )),
    }
    Ok((signed, made))
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
