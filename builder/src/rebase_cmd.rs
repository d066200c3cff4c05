//! `sparkimg rebase`: flags → [`RebaseOptions`], a registry base pulled per platform,
//! then `image::rebase` and the publish stage's sinks (files, then the registry).

use std::path::PathBuf;

use anyhow::{Context, Result};
use sparkimg::fetch::Cache;
use sparkimg::image::rebase::{self, RebaseOptions, RebaseReport};
use sparkimg::image::reference::parse_ref;
use sparkimg::image::{self, BaseSpec, BuildError, OutputSpec, Platform};
use sparkimg::publish::{self, Delivered, FileSink, RegistrySink, Sink};
use sparkimg::registry::{self, RegistryOptions, RegistryRef};

use crate::cli::RebaseArgs;
use crate::support;

pub fn run(args: RebaseArgs) -> Result<()> {
    let image = BaseSpec::parse(&args.image)?;
    if matches!(image, BaseSpec::Rootfs(_)) {
        return Err(BuildError::InvalidInput(format!(
            "{}: rebase takes a registry reference, oci:DIR[:REF], oci-archive:FILE[:REF] \
             or docker-archive:FILE",
            args.image
        ))
        .into());
    }
    if matches!(image, BaseSpec::Registry(_)) && (args.output.is_some() || !args.push) {
        return Err(BuildError::InvalidInput(
            "a registry image is rebased registry to registry (its Spark layers are never \
             downloaded): pass --push (and --to REF for another repository of that registry)"
                .into(),
        )
        .into());
    }
    let platforms = args
        .platform
        .iter()
        .map(|p| Platform::parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    let output = args.output.as_deref().map(OutputSpec::parse).transpose()?;
    if output.is_none() && !args.push {
        return Err(BuildError::InvalidInput(
            "nowhere to put the rebased image: pass --output OUT and/or --push".into(),
        )
        .into());
    }
    if let Some(o) = &output {
        FileSink(o.clone()).check()?;
    }
    let cache_root = args.cache_dir.clone().or_else(Cache::default_root);
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
        )?),
        false => None,
    };
    let wanted = image_platforms(&image, &platforms)?;
    let (image, platform_images) = pulled(image, &wanted, ropts.as_ref(), true)?;
    let (base, platform_bases) = pulled(base, &wanted, ropts.as_ref(), false)?;
    let old_base = match old_base {
        Some(b) => Some(pulled(b, &wanted[..1], ropts.as_ref(), false)?.0),
        None => None,
    };
    let opts = RebaseOptions {
        image,
        platform_images,
        base,
        platform_bases,
        old_base,
        platforms,
        to: args.to.as_deref().map(parse_ref).transpose()?,
        allow_java_change: args.allow_java_change,
        host_zoneinfo: PathBuf::from("/usr/share/zoneinfo"),
        cache_dir: cache_root.map(|c| c.join("build")),
    };
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(o) = output {
        sinks.push(Box::new(FileSink(o)));
    }
    if let (true, Some(ropts)) = (args.push, ropts) {
        let to = match &opts.to {
            Some(r) => vec![RegistryRef::parse(&r.to_string())?],
            None => Vec::new(),
        };
        sinks.push(Box::new(RegistrySink {
            opts: ropts,
            select: None,
            to,
            source: PathBuf::from("the rebased image"),
        }));
    }
    let (mut report, delivered) =
        rebase::rebase_with(&opts, |a| publish::publish_all(&mut sinks, a))?;
    for w in &report.warnings {
        eprintln!("sparkimg: warning: {w}");
    }
    print_report(&mut report, &delivered, args.json)
}

/// The platforms to pull a registry base for: those asked for, else the image's.
fn image_platforms(image: &BaseSpec, asked: &[Platform]) -> Result<Vec<Platform>> {
    if !asked.is_empty() {
        return Ok(asked.to_vec());
    }
    let listed = match image {
        BaseSpec::OciDir { dir, reference } => {
            image::base::layout_image(dir, reference.as_deref())?.1
        }
        // A registry image: the platform asked for, else this machine's.
        _ => Vec::new(),
    };
    Ok(match listed.is_empty() {
        true => vec![Platform::host()],
        false => listed,
    })
}

/// A registry image pulled for each platform (the first as the image, the others per
/// platform; `sparse`: without its layers but the last); anything else as it is.
fn pulled(
    spec: BaseSpec,
    platforms: &[Platform],
    ropts: Option<&RegistryOptions>,
    sparse: bool,
) -> Result<(BaseSpec, std::collections::BTreeMap<String, BaseSpec>)> {
    let mut per_platform = std::collections::BTreeMap::new();
    let (BaseSpec::Registry(r), Some(ropts)) = (&spec, ropts) else {
        return Ok((spec, per_platform));
    };
    let r = RegistryRef::parse(r)?;
    let mut first = None;
    for p in platforms {
        let got = registry::pull::pull_some(&r, p, ropts, sparse.then_some(1))?;
        eprintln!(
            "sparkimg: {} {} for {p} -> {} ({} bytes downloaded)",
            if sparse { "image" } else { "base" },
            got.reference,
            got.manifest_digest,
            got.bytes_downloaded
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

fn print_report(report: &mut RebaseReport, delivered: &[Delivered], json: bool) -> Result<()> {
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
        println!("{v}");
    } else if !pushed.is_empty() {
        for p in &pushed {
            println!("{}", p.pushed);
        }
    } else {
        println!(
            "{}@{}",
            report.image.reference, report.image.manifest_digest
        );
    }
    Ok(())
}
