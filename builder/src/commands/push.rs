//! `sparkimg push`: an OCI layout or archive fed to the registry sink a build uses.

use std::time::Duration;

use anyhow::Result;
use sparkimg::build::pipeline;
use sparkimg::build::publish::{self, RegistrySink};
use sparkimg::registry::RegistryRef;
use sparkimg::usage::UsageError;

use super::args::PushArgs;
use super::support;

fn parse_targets(to: &[String]) -> Result<Vec<RegistryRef>> {
    let mut out = Vec::new();
    for t in to {
        let r = RegistryRef::parse(t)?;
        if r.digest.is_some() {
            return Err(sparkimg::oci::OciError::InvalidReference {
                reference: t.clone(),
                reason: "push to a tag, not a digest".into(),
            }
            .into());
        }
        out.push(r);
    }
    Ok(out)
}

pub fn run(args: PushArgs, lock_timeout: Duration) -> Result<()> {
    let to = parse_targets(&args.to)?;
    let (dir, select, _guard) = support::open_layout_source(&args.source)?;
    let cache = args.cache.root();
    let _session = support::cache_session(cache.as_deref(), lock_timeout)?;
    let opts = support::registry_options(&args.registry, cache, lock_timeout)?;
    let signer = support::signer(&args.sign)?;
    let images = publish::open_layout(&dir)?;
    // The layout's attestations name what built it, which a push cannot know: they are
    // pushed as they are (their subjects' digests do not change), never made anew.
    if args.sign.provenance && !sparkimg::build::sign::has_attestations(&images) {
        return Err(
            UsageError::new(format!("{} holds no provenance to push", args.source))
                .with_hint(
                    "build it with --sign-key KEY --provenance --output oci:DIR, then push that",
                )
                .into(),
        );
    }
    // Signed as where they go: the --to references, else each image's own.
    let (images, signatures) = pipeline::sign_stage(&images, signer.as_ref(), &to, None)?;
    let sink = RegistrySink {
        opts,
        select,
        to,
        source: dir,
    };
    let reports = sink.push(&images)?;
    if args.json {
        let mut v = serde_json::json!({ "pushed": reports });
        if !signatures.is_empty() {
            v["signatures"] = serde_json::to_value(&signatures)?;
        }
        outln!("{v}")?;
    } else {
        for r in &reports {
            outln!("{}", r.pushed)?;
        }
    }
    Ok(())
}
