//! `sparkimg push`: an OCI layout or archive fed to the registry sink a build uses.

use std::time::Duration;

use anyhow::Result;
use sparkimg::build::publish::{self, RegistrySink};
use sparkimg::registry::RegistryRef;

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
    let images = publish::open_layout(&dir)?;
    let sink = RegistrySink {
        opts,
        select,
        to,
        source: dir,
    };
    let reports = sink.push(&images)?;
    if args.json {
        outln!("{}", serde_json::json!({ "pushed": reports }))?;
    } else {
        for r in &reports {
            outln!("{}", r.pushed)?;
        }
    }
    Ok(())
}
