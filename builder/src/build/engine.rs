//! `sparkimg build --engine docker`: the same images from Dockerfiles, built by a daemon.
//!
//! The context of each image comes from the daemonless layer plan (see [`crate::build::context`]),
//! so the files are the same; the system files (passwd, localtime, tini links) are planned
//! by the same [`plan::system_layer`] from the base's own /etc/passwd and zoneinfo, read
//! through a container that is never started. The JVM image's config (Env, labels,
//! WorkingDir, Entrypoint, User) is the daemonless path's ([`config::set_runtime`]), set in
//! one commit after its COPY-only Dockerfile: on the classic builder each instruction is
//! a commit that walks the whole image.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::build::assemble::{oci_labels, SparkLabels};
use crate::build::config;
use crate::build::java;
use crate::build::plan::{self, Content, DistFile, SystemFiles, Variant};
use crate::build::{output, Assembled, OutputSpec};
use crate::build::{BuildError, BuildReport, ImageRef, ImageReport};
use crate::layer::basefs;
use crate::registry::{Credentials, RegistryOptions, RegistryRef};

use crate::build::context::{context_plan, empty_dirs, write_context, ContextEntry};
use crate::engine::daemon::{Daemon, ImagePath, PushAuth, PushCredentials, JAVA_HOME_PROBE};
use crate::engine::dockerfile::{self, ArgInputs};
use crate::engine::error::EngineError;

#[derive(Debug, Clone)]
pub struct EngineBuild {
    pub spark_home: PathBuf,
    pub spark_version: String,
    /// JVM first: spark-py and spark-r are built FROM it.
    pub images: Vec<(Variant, ImageRef)>,
    /// FROM of the JVM image: an image the daemon has or can pull.
    pub base: String,
    /// The user's Dockerfiles (-f, -p FILE, -R FILE) instead of the built-in ones.
    pub dockerfiles: BTreeMap<Variant, PathBuf>,
    /// `-b K=V`, passed through (and overriding ours).
    pub build_args: Vec<(String, String)>,
    pub timezone: String,
    pub uid: u64,
    pub epoch: u64,
    pub entrypoint: PathBuf,
    pub origin: super::assemble::Origin,
    pub no_cache: bool,
    /// `--apt-packages`, installed by the JVM image's RUN apt-get (spark-py and spark-r
    /// are built FROM it).
    pub apt_packages: Vec<String>,
    /// `--packages`: the jars of the `packages` context directory.
    pub packages: Vec<plan::PackageJar>,
    /// `--allow-unsupported-java`.
    pub allow_unsupported_java: bool,
}

/// The Java home the images get: `-b java_home=`, else the base's `JAVA_HOME`, else the
/// first JDK found in it by a throwaway container (as the daemonless base scan looks).
fn java_home(daemon: &Daemon, b: &EngineBuild) -> Result<String, BuildError> {
    if let Some((_, v)) = b.build_args.iter().rev().find(|(k, _)| k == "java_home") {
        return Ok(v.clone());
    }
    let info = daemon.inspect(&b.base)?.ok_or_else(|| {
        BuildError::Base(format!(
            "'{}' is not in the Docker Engine: `docker pull {0}` (or load it) first, \
             or pass -b java_home=PATH to let the build pull it",
            b.base
        ))
    })?;
    if let Some(j) = dockerfile::java_home_from_env(&info.env) {
        return Ok(j);
    }
    let out = daemon.run_sh(&b.base, JAVA_HOME_PROBE)?;
    out.lines()
        .map(str::trim)
        .find(|l| l.starts_with('/'))
        .map(String::from)
        .ok_or(BuildError::NoJava)
}

/// The base's Java against the Spark line's ([`java::check`]), before the daemon builds:
/// its config's `JAVA_VERSION` from the daemon, else `$JAVA_HOME/release` read by a
/// throwaway container. A base the daemon does not have yet (`-b java_home`) is unknown.
fn check_java(daemon: &Daemon, b: &EngineBuild, java_home: &str) -> Result<(), BuildError> {
    let found = match daemon.inspect(&b.base)? {
        Some(info) => java::from_env(&info.env).or_else(|| {
            let release = format!("{}/release", java_home.trim_end_matches('/'));
            // Quoted for sh; a path that cannot be is left unread.
            if release.contains('\'') {
                return None;
            }
            let text = daemon.run_sh(&b.base, &format!("cat '{release}'")).ok()?;
            let major = java::release_major(&text)?;
            Some(java::BaseJava {
                major,
                from: release,
            })
        }),
        None => None,
    };
    java::check(
        &b.spark_version,
        found.as_ref(),
        &b.base,
        b.allow_unsupported_java,
    )
}

/// The inputs every image needs, refused before the daemon does any work: a valid
/// zone, the entrypoint binary, and a distribution with what the images need.
fn checked_dist(b: &EngineBuild) -> Result<Vec<DistFile>, BuildError> {
    if !basefs::valid_zone_name(&b.timezone) {
        return Err(BuildError::UnknownTimezone {
            zone: b.timezone.clone(),
            suggestions: Vec::new(),
        });
    }
    if !b.entrypoint.is_file() {
        return Err(BuildError::NoEntrypoint {
            path: Some(b.entrypoint.clone()),
        });
    }
    let mut dist = crate::build::walk_dist(&b.spark_home)?;
    dist.extend(crate::build::package_dist(&b.packages)?);
    // A user's own spark-py/spark-r Dockerfile may bring Python or R itself.
    let needs: BTreeSet<Variant> = b
        .images
        .iter()
        .map(|(v, _)| *v)
        .filter(|v| !b.dockerfiles.contains_key(v))
        .chain([Variant::Jvm])
        .collect();
    plan::check_dist(&dist, &needs).map_err(|reason| BuildError::Distribution {
        path: b.spark_home.clone(),
        reason,
    })?;
    Ok(dist)
}

/// The user's Dockerfile for `variant`, or the built-in one without the COPYs of empty
/// context directories and, when no packages were asked for, without the apt block.
fn dockerfile_for(
    b: &EngineBuild,
    variant: Variant,
    entries: &[ContextEntry],
    uid: u64,
) -> Result<Vec<u8>, BuildError> {
    if let Some(p) = b.dockerfiles.get(&variant) {
        let text = std::fs::read(p).map_err(|source| EngineError::Io {
            path: p.clone(),
            source,
        })?;
        // spark-py and spark-r are built FROM the JVM image, jars included.
        let lacks = !dockerfile::copies_packages(&String::from_utf8_lossy(&text));
        if variant == Variant::Jvm && !b.packages.is_empty() && lacks {
            crate::report::warn(&format!(
                "{} has no `COPY packages/ /opt/spark/`: the --packages jars will not be in \
                 the image",
                p.display()
            ));
        }
        return Ok(text);
    }
    let d = dockerfile::builtin_without(variant, &empty_dirs(entries, variant));
    let d = match b.apt_packages.is_empty() {
        true => dockerfile::without_apt_block(&d),
        false => d,
    };
    Ok(dockerfile::render_uid(&d, uid).into_bytes())
}

/// The longest chain of links followed to a zone file (zoneinfo has one or two).
const MAX_LINKS: usize = 8;

/// The base's files the system layer is made of: its /etc/passwd with the Spark user,
/// and `/etc/localtime` as a link to the zone, which must be a file in the base (links
/// followed), as the daemonless path finds it.
fn system_files(daemon: &Daemon, b: &EngineBuild, uid: u64) -> Result<SystemFiles, BuildError> {
    // With -b java_home the base may not be here yet (the build would have pulled it).
    if daemon.inspect(&b.base)?.is_none() {
        daemon.pull(&b.base)?;
    }
    let peek = daemon.peek(&b.base)?;
    let passwd = match peek.read("/etc/passwd")? {
        Some(ImagePath::File(bytes)) => Some(bytes),
        _ => None,
    };
    let zone = format!("/{}/{}", basefs::ZONEINFO, b.timezone);
    let mut path = zone.clone();
    for _ in 0..MAX_LINKS {
        match peek.read(&path)? {
            Some(ImagePath::File(_)) => {
                return Ok(SystemFiles {
                    entrypoint: Content::Path {
                        path: b.entrypoint.clone(),
                        size: 0,
                        mtime_ns: 0,
                    },
                    passwd: plan::passwd_with_spark(passwd.as_deref(), uid).into(),
                    localtime: Arc::from(&b""[..]),
                    localtime_link: Some(zone),
                    timezone: b.timezone.clone(),
                    uid,
                });
            }
            Some(ImagePath::Link(target)) => path = resolve_link(&path, &target),
            _ => break,
        }
    }
    Err(BuildError::Base(format!(
        "'{}' has no zoneinfo file for time zone '{}' ({zone}); install tzdata in the base \
         or pick another --timezone",
        b.base, b.timezone
    )))
}

/// Pure: where the link at absolute `path` to `target` points, as an absolute path.
fn resolve_link(path: &str, target: &str) -> String {
    if target.starts_with('/') {
        return target.to_string();
    }
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    parts.pop();
    for t in target.split('/') {
        match t {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            t => parts.push(t),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Set the JVM image's config on the COPY-only image `built`: the daemonless path's
/// runtime settings and labels over the base's config. Returns the image's ID.
fn commit_jvm_config(
    daemon: &Daemon,
    b: &EngineBuild,
    built: &str,
    reference: &str,
    inputs: &config::ConfigInputs,
) -> Result<String, BuildError> {
    let info = daemon.inspect(built)?.ok_or_else(|| EngineError::Daemon {
        what: format!("build {reference}"),
        detail: "the built image is gone".into(),
    })?;
    let mut config = match info.config {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    config::set_runtime(&mut config, inputs);
    let comment = format!(
        "sparkimg build --engine docker: Env, Labels, WorkingDir, Entrypoint and User \
         of Spark {}",
        b.spark_version
    );
    Ok(daemon.commit_config(built, reference, config.into(), &comment)?)
}

/// The daemonless layer plan of `b`'s images: what the contexts hold (and the SBOMs
/// list), after the checks of [`checked_dist`].
pub fn planned_layers(b: &EngineBuild) -> Result<Vec<plan::LayerPlan>, BuildError> {
    let dist = checked_dist(b)?;
    // Only the file layout matters here: the system files' contents, which
    // `system_files` reads from the base, list nothing in an SBOM.
    let sys = SystemFiles {
        entrypoint: Content::Path {
            path: b.entrypoint.clone(),
            size: 0,
            mtime_ns: 0,
        },
        passwd: Arc::from(&b""[..]),
        localtime: Arc::from(&b""[..]),
        localtime_link: None,
        timezone: b.timezone.clone(),
        uid: b.uid,
    };
    Ok(plan::plan_layers(&dist, &sys))
}

/// Build every image of `b`, streaming build output lines to `log`.
pub fn build_images(
    daemon: &Daemon,
    b: &EngineBuild,
    log: &mut dyn FnMut(&str),
) -> Result<BuildReport, BuildError> {
    let dist = checked_dist(b)?;
    let uid = dockerfile::spark_uid(&b.build_args, b.uid).map_err(BuildError::usage)?;
    let java_home = java_home(daemon, b)?;
    check_java(daemon, b, &java_home)?;
    let sys = system_files(daemon, b, uid)?;
    let layers = plan::plan_layers(&dist, &sys);
    let apt_packages = b.apt_packages.join(",");
    let jvm_ref = b
        .images
        .iter()
        .find(|(v, _)| *v == Variant::Jvm)
        .map(|(_, r)| r.to_string())
        .unwrap_or_default();
    let inputs = ArgInputs {
        base: &b.base,
        jvm_image: &jvm_ref,
        uid,
        apt_packages: &apt_packages,
    };
    let coordinates: Vec<String> = b.packages.iter().map(|j| j.coordinate.clone()).collect();
    let spark = SparkLabels {
        spark_version: &b.spark_version,
        origin: &b.origin,
        epoch: b.epoch,
        packages: &coordinates,
    };
    let config_inputs = config::ConfigInputs {
        created: b.epoch,
        spark_version: &b.spark_version,
        java_home: &java_home,
        timezone: &b.timezone,
        uid,
        layers: Vec::new(),
        labels: oci_labels(&spark, &b.base, None, Variant::Jvm),
    };

    // Given to the daemon rather than written in the Dockerfile, so a user's own `-f`
    // Dockerfile gets it too.
    let labels: BTreeMap<String, String> = crate::build::assemble::packages_label(&coordinates)
        .into_iter()
        .collect();

    let mut reports = Vec::new();
    for (variant, reference) in &b.images {
        let reference = reference.to_string();
        let entries = context_plan(&layers, *variant);
        let dockerfile = dockerfile_for(b, *variant, &entries, uid)?;
        let epoch = b.epoch;
        let args = dockerfile::build_args(*variant, &inputs, &b.build_args);
        log(&format!(
            "sparkimg: building {reference} with the Docker Engine ({} context entries)",
            entries.len()
        ));
        let mut id = daemon.build(
            Box::new(move |w| {
                write_context(&entries, &dockerfile, epoch, w)
                    .map(|_| ())
                    .map_err(EngineError::stream)
            }),
            &reference,
            &args,
            &labels,
            b.no_cache,
            log,
        )?;
        if *variant == Variant::Jvm && !b.dockerfiles.contains_key(variant) {
            id = commit_jvm_config(daemon, b, &id, &reference, &config_inputs)?;
        }
        let info = daemon.inspect(&reference)?;
        let (size, platform, repo_digests) = match info {
            Some(i) => (i.size, format!("{}/{}", i.os, i.arch), i.repo_digests),
            None => (0, String::new(), Vec::new()),
        };
        reports.push(ImageReport {
            reference,
            // A manifest exists only once a registry has the image (see repo_digests).
            manifest_digest: String::new(),
            config_digest: id.clone(),
            size,
            platform,
            platforms: Vec::new(),
            image_id: Some(id),
            repo_digests,
        });
    }
    Ok(BuildReport {
        output: format!("docker-daemon:{}", daemon.found.endpoint),
        images: reports,
        layers: Vec::new(),
        layers_built: 0,
        layers_cached: 0,
        java_home,
        base: b.base.clone(),
        packages: b.packages.clone(),
        signatures: Vec::new(),
    })
}

/// `--load`: stream `assembled` into the daemon as a `docker load` archive (the layers
/// as they are in the layer store; uncompressed ones make the daemon's unpacking
/// cheapest). Images are tagged by the archive's manifest.json RepoTags.
pub fn load(
    daemon: &Daemon,
    assembled: &Assembled,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    let a = assembled.clone();
    daemon.load(
        Box::new(move |w| {
            // Only named in error messages: the archive never touches the disk.
            let spec = OutputSpec::DockerArchive(PathBuf::from("docker load stream"));
            output::write_archive(&a.to_output(&spec), w).map_err(EngineError::stream)?;
            Ok(())
        }),
        log,
    )
}

/// Credentials for a daemon push of `reference`, from the same sources as the registry
/// client (`opts.credentials`, resolved once per run, else the auth files and helpers).
fn docker_credentials(
    reference: &str,
    opts: &RegistryOptions,
) -> Result<Option<PushCredentials>, BuildError> {
    let host = RegistryRef::parse(reference)?.registry;
    let creds = match &opts.credentials {
        Some(c) => Some(c.clone()),
        None => opts.auth.resolve(&host).map_err(Box::new)?,
    };
    Ok(creds.map(|c| PushCredentials {
        server: host.clone(),
        auth: match c {
            Credentials::Basic { username, password } => PushAuth::Basic { username, password },
            Credentials::IdentityToken(t) => PushAuth::IdentityToken(t),
        },
    }))
}

/// Push `reference` through the daemon; returns its `repo@digest`.
pub fn push_image(
    daemon: &Daemon,
    reference: &str,
    opts: &RegistryOptions,
    log: &mut dyn FnMut(&str),
) -> Result<String, BuildError> {
    let creds = docker_credentials(reference, opts)?;
    let digest = daemon.push(reference, creds, log)?;
    let (name, _) = crate::engine::daemon::split_tag(reference);
    match digest {
        Some(d) => Ok(format!("{name}@{d}")),
        None => Err(EngineError::Daemon {
            what: format!("push {reference}"),
            detail: "the daemon reported no digest".into(),
        }
        .into()),
    }
}
