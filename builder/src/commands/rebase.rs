//! `sparkimg rebase`: flags → [`RebaseOptions`], a registry base pulled per platform,
//! then `build::rebase` and the publish stage's sinks (files, then the registry).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use sparkimg::build::pipeline;
use sparkimg::build::provenance::Provenance;
use sparkimg::build::publish::{self, Delivered, FileSink, RegistrySink, Sink};
use sparkimg::build::rebase::{self, RebaseOptions, RebaseReport};
use sparkimg::build::sign::Signature;
use sparkimg::build::{self, BaseSpec, Compression, OutputSpec, Platform};
use sparkimg::layer::basefs::{self, ScanTap};
use sparkimg::layer::cache::LayerCache;
use sparkimg::oci::reference::parse_ref;
use sparkimg::oci::Location;
use sparkimg::registry::push::BlobTap;
use sparkimg::registry::{self, RegistryOptions, RegistryRef};
use sparkimg::sbom::Format;
use sparkimg::usage::UsageError;

use super::args::RebaseArgs;
use super::support;

pub fn run(args: RebaseArgs, lock_timeout: Duration) -> Result<()> {
    let image = BaseSpec::parse(&args.image)?;
    // An oci-archive is unpacked once and rebased as the layout inside, so that its
    // platforms and SBOM referrers are read as an `oci:` layout's are.
    let (image, _unpacked) = match image {
        BaseSpec::Local(Location::OciArchive { .. }) => {
            let (dir, reference, guard) = support::open_layout_source(&args.image)?;
            (BaseSpec::Local(Location::OciDir { dir, reference }), guard)
        }
        other => (other, None),
    };
    if matches!(image, BaseSpec::Local(Location::Rootfs(_))) {
        return Err(UsageError::new(format!(
            "{}: rebase takes a registry reference, oci:DIR[:REF], oci-archive:FILE[:REF] \
             or docker-archive:FILE",
            args.image
        ))
        .into());
    }
    if matches!(image, BaseSpec::Registry(_)) && (args.output.is_some() || !args.push) {
        return Err(UsageError::new(
            "a registry image is rebased registry to registry (its Spark layers are never \
             downloaded)",
        )
        .with_hint("pass --push (and --to REF for another repository or registry)")
        .into());
    }
    let platforms = args
        .platform
        .iter()
        .map(|p| Platform::parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    let output = args.output.as_deref().map(OutputSpec::parse).transpose()?;
    if output.is_none() && !args.push {
        return Err(UsageError::new("nowhere to put the rebased image")
            .with_hint("pass --output OUT and/or --push")
            .into());
    }
    if let Some(o) = &output {
        FileSink(o.clone()).check()?;
    }
    let signer = support::signer(&args.sign)?;
    let cache_root = args.cache.root();
    // Pulls write into the cache: a session keeps another command's start-up sweep
    // from taking this run's downloads for a dead process's leftovers.
    let _session = support::cache_session(cache_root.as_deref(), lock_timeout)?;
    let base = BaseSpec::parse(&args.base)?;
    let old_base = args.old_base.as_deref().map(BaseSpec::parse).transpose()?;
    let needs_registry = args.push
        || matches!(image, BaseSpec::Registry(_))
        || matches!(base, BaseSpec::Registry(_))
        || matches!(old_base, Some(BaseSpec::Registry(_)));
    let ropts = match needs_registry {
        true => Some(support::registry_options(
            &args.registry,
            cache_root.clone(),
            lock_timeout,
        )?),
        false => None,
    };
    let wanted = support::image_platforms((&args.image, &image), &platforms, ropts.as_ref())?;
    let old_sboms = old_sboms(&image, &wanted, ropts.as_ref())?;
    let image_is_registry = matches!(image, BaseSpec::Registry(_));
    let copy_to = copy_target(&args, &image, &base, output.is_some())?;
    let (image, platform_images) = pulled(image, &wanted, ropts.as_ref(), Some(1))?;
    let (base, platform_bases) = match (&copy_to, &ropts, &cache_root) {
        (Some(to), Some(ropts), Some(root)) => copied_base(base, &wanted, ropts, to, root)?,
        _ => pulled(base, &wanted, ropts.as_ref(), None)?,
    };
    // Only the old base's diff_ids are compared: its manifests and configs suffice.
    let platform_old_bases = match old_base {
        Some(b) => pulled(b, &wanted, ropts.as_ref(), Some(0))?.1,
        None => recorded_old_bases(&image, &platform_images, &wanted, ropts.as_ref())?,
    };
    let opts = RebaseOptions {
        image,
        platform_images,
        base,
        platform_bases,
        old_base: None,
        platform_old_bases,
        // A registry image's pulled layouts are single-platform: the platforms of its
        // index are named here, so each is rebased and the result is an index again.
        platforms: match image_is_registry {
            true => wanted.clone(),
            false => platforms,
        },
        to: args.to.as_deref().map(parse_ref).transpose()?,
        allow_java_change: args.allow_java_change,
        allow_unsupported_java: args.java.allow_unsupported_java,
        host_zoneinfo: PathBuf::from("/usr/share/zoneinfo"),
        cache_dir: cache_root,
        old_sboms,
    };
    let to = (opts.to.iter().map(|r| RegistryRef::parse(&r.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(o) = output {
        sinks.push(Box::new(FileSink(o)));
    }
    if let (true, Some(ropts)) = (args.push, ropts) {
        sinks.push(Box::new(RegistrySink {
            opts: ropts,
            select: None,
            to: to.clone(),
            source: PathBuf::from("the rebased image"),
        }));
    }
    // The rebased digest is signed anew (the old signatures name the old one).
    let provenance = args.sign.provenance.then(|| Provenance::of_rebase(&opts));
    let (mut report, (delivered, signatures)) = rebase::rebase_with(&opts, |a| {
        let (a, made) = pipeline::sign_stage(a, signer.as_ref(), &to, provenance.as_ref())?;
        publish::publish_all(&mut sinks, &a).map(|d| (d, made))
    })?;
    for w in &report.warnings {
        eprintln!("sparkimg: warning: {w}");
    }
    print_report(&mut report, &delivered, &signatures, args.json)
}

/// Where a registry `--base` on another registry than the result's is copied to
/// beforehand (see [`copied_base`]): the result's repository when it is pushed only
/// (files would need the base's layers here) and its name is known (`--to`, or the
/// registry image's own).
fn copy_target(
    args: &RebaseArgs,
    image: &BaseSpec,
    base: &BaseSpec,
    files: bool,
) -> Result<Option<RegistryRef>> {
    let BaseSpec::Registry(b) = base else {
        return Ok(None);
    };
    let target = match (&args.to, image) {
        _ if !args.push || files => return Ok(None),
        (Some(to), _) => RegistryRef::parse(to)?,
        (None, BaseSpec::Registry(r)) => RegistryRef::parse(r)?,
        (None, _) => return Ok(None),
    };
    Ok((RegistryRef::parse(b)?.registry != target.registry).then_some(target))
}

/// A registry base on another registry than the result: pulled sparse (manifests and
/// config), its layers copied into the result's repository first, each streamed once
/// from its GET into the PUT and through the scan (`basefs::ScanTap`) that the system
/// layer and `JAVA_HOME` are then read from. Nothing of the layers is stored here; one
/// the target already has is read only when its scan is not cached.
fn copied_base(
    spec: BaseSpec,
    platforms: &[Platform],
    ropts: &RegistryOptions,
    to: &RegistryRef,
    cache_root: &Path,
) -> Result<(BaseSpec, BTreeMap<String, BaseSpec>)> {
    let (first, per_platform) = pulled(spec, platforms, Some(ropts), Some(0))?;
    let tap = ScanTaps(LayerCache::new(cache_root).base_scans());
    let scratch = tempfile::tempdir()?;
    for (p, spec) in &per_platform {
        let BaseSpec::Pulled { name, .. } = spec else {
            continue;
        };
        let opened = build::base::open(
            spec,
            &Platform::parse(p)?,
            Compression::None,
            scratch.path(),
            None,
        )?;
        let blobs: Vec<(String, u64)> = opened
            .layers
            .iter()
            .map(|l| (l.blob.digest.clone(), l.blob.size))
            .collect();
        let from = RegistryRef::parse(name)?.name();
        let r = registry::push::copy_blobs(&from, to, &blobs, &tap, ropts)?;
        eprintln!(
            "sparkimg: {name} for {p}: {} layers copied to {}, {} there already ({} read \
             for their files)",
            r.uploaded,
            to.name(),
            r.present,
            r.read_for_tap
        );
    }
    Ok((first, per_platform))
}

/// The base-scan cache as the tap of a copy: a layer not scanned yet is scanned from
/// its bytes as they stream past.
struct ScanTaps(PathBuf);

impl BlobTap for ScanTaps {
    fn wants(&self, digest: &str) -> bool {
        !basefs::scanned(&self.0, digest)
    }

    fn open(&self, digest: &str) -> Box<dyn Write + Send> {
        Box::new(ScanTap::start(&self.0, digest))
    }
}

/// A recorded registry base pulled by the digest the image records (manifests and
/// config), per platform, so the old base is checked even after its tag moved. One that
/// is gone from the registry is left out (`rebase` then warns that it did not check).
fn recorded_old_bases(
    image: &BaseSpec,
    platform_images: &BTreeMap<String, BaseSpec>,
    wanted: &[Platform],
    ropts: Option<&RegistryOptions>,
) -> Result<BTreeMap<String, BaseSpec>> {
    let mut out = BTreeMap::new();
    let Some(ropts) = ropts else {
        return Ok(out);
    };
    let scratch = tempfile::tempdir()?;
    for p in wanted {
        let spec = platform_images.get(&p.to_string()).unwrap_or(image);
        let opened = build::base::open(spec, p, Compression::None, scratch.path(), None)?;
        let labels = opened
            .config
            .config()
            .as_ref()
            .and_then(|c| c.labels().clone())
            .unwrap_or_default();
        let (Some(name), Some(digest)) = (
            labels.get("org.opencontainers.image.base.name"),
            labels.get("org.opencontainers.image.base.digest"),
        ) else {
            continue;
        };
        let Ok(BaseSpec::Registry(r)) = BaseSpec::parse(name) else {
            continue;
        };
        let pinned = RegistryRef {
            digest: Some(digest.clone()),
            ..RegistryRef::parse(&r)?
        };
        match registry::pull::pull_some(&pinned, p, ropts, Some(0)) {
            Ok(got) => {
                let spec = BaseSpec::Pulled {
                    dir: got.layout,
                    name: got.reference,
                };
                out.insert(p.to_string(), spec);
            }
            Err(e) => eprintln!(
                "sparkimg: warning: the old base {pinned}: {}",
                sparkimg::report::chain(&e)
            ),
        }
    }
    Ok(out)
}

/// The image's SBOM documents per platform (`rebase` makes them again for the new
/// base): from the layout's index, or the registry's referrers (small documents only,
/// no layer). An `oci-archive:` image arrives here as the layout unpacked from it.
fn old_sboms(
    image: &BaseSpec,
    wanted: &[Platform],
    ropts: Option<&RegistryOptions>,
) -> Result<rebase::OldSboms> {
    let types = [Format::Spdx, Format::CycloneDx].map(Format::artifact_type);
    let mut out = BTreeMap::new();
    for p in wanted {
        let found = match (image, ropts) {
            (BaseSpec::Local(Location::OciDir { dir, reference }), _) => {
                registry::layout::referrers(dir, reference.as_deref(), p)?
            }
            (BaseSpec::Registry(r), Some(ropts)) => {
                registry::referrers(&RegistryRef::parse(r)?, p, &types, ropts)?
            }
            _ => continue,
        };
        let docs = found
            .documents
            .into_iter()
            .filter(|(t, _)| types.contains(&t.as_str()))
            .collect();
        out.insert(p.to_string(), docs);
    }
    Ok(out)
}

/// A registry image pulled for each platform (the first as the image, the others per
/// platform; `last_layers` as for `pull_some`); anything else as it is, for every
/// platform.
fn pulled(
    spec: BaseSpec,
    platforms: &[Platform],
    ropts: Option<&RegistryOptions>,
    last_layers: Option<usize>,
) -> Result<(BaseSpec, BTreeMap<String, BaseSpec>)> {
    let mut per_platform = BTreeMap::new();
    let (BaseSpec::Registry(r), Some(ropts)) = (&spec, ropts) else {
        for p in platforms {
            per_platform.insert(p.to_string(), spec.clone());
        }
        return Ok((spec, per_platform));
    };
    let r = RegistryRef::parse(r)?;
    let mut first = None;
    for p in platforms {
        let got = registry::pull::pull_some(&r, p, ropts, last_layers)?;
        eprintln!(
            "sparkimg: {} for {p} -> {} ({} bytes downloaded)",
            got.reference, got.manifest_digest, got.bytes_downloaded
        );
        let spec = BaseSpec::Pulled {
            dir: got.layout.clone(),
            name: got.reference.clone(),
        };
        per_platform.insert(p.to_string(), spec.clone());
        first.get_or_insert(spec);
    }
    let first = first.context("no platform to pull the base for")?;
    Ok((first, per_platform))
}

fn print_report(
    report: &mut RebaseReport,
    delivered: &[Delivered],
    signatures: &[Signature],
    json: bool,
) -> Result<()> {
    let mut pushed = Vec::new();
    for (n, d) in delivered.iter().enumerate() {
        let out = match d {
            Delivered::Written(p) => p.display().to_string(),
            Delivered::Pushed(p) => {
                pushed.extend(p.iter().cloned());
                p.iter()
                    .map(|r| r.pushed.clone())
                    .collect::<Vec<_>>()
                    .join(",")
            }
            Delivered::Loaded { endpoint, .. } => format!("docker-daemon:{endpoint}"),
        };
        if n == 0 {
            report.output = out;
        }
    }
    if json {
        let mut v = serde_json::to_value(&*report)?;
        if !pushed.is_empty() {
            v["pushed"] = serde_json::to_value(&pushed)?;
        }
        if !signatures.is_empty() {
            v["signatures"] = serde_json::to_value(signatures)?;
        }
        outln!("{v}")?;
    } else if !pushed.is_empty() {
        for p in &pushed {
            outln!("{}", p.pushed)?;
        }
    } else {
        outln!(
            "{}@{}",
            report.image.reference,
            report.image.manifest_digest
        )?;
    }
    Ok(())
}
