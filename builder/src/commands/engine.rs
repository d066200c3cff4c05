//! `sparkimg push --engine docker REF…`: images in the Docker Engine pushed by the
//! daemon, with credentials from the same places as the registry client.

use anyhow::Result;
use sparkimg::engine::EngineError;

use super::args::PushArgs;
use super::support;

pub fn push(args: PushArgs) -> Result<()> {
    if !args.to.is_empty() {
        return Err(sparkimg::usage::UsageError::new(
            "--to is for pushing a layout; with --engine docker, `docker tag` the image \
             and push that reference",
        )
        .into());
    }
    let daemon = sparkimg::engine::connect()?;
    // Read once: --password-stdin cannot be read again for the next image.
    let opts =
        support::registry_options(&args.registry, None, sparkimg::cache::DEFAULT_LOCK_TIMEOUT)?;
    let mut pushed = Vec::new();
    for r in std::iter::once(&args.source).chain(&args.more) {
        if daemon.inspect(r)?.is_none() {
            return Err(EngineError::Daemon {
                what: format!("push {r}"),
                detail: "no such image in the Docker Engine".into(),
            }
            .into());
        }
        eprintln!("sparkimg: pushing {r} through the Docker Engine");
        let d = sparkimg::build::engine::push_image(&daemon, r, &opts, &mut |l| eprintln!("{l}"))?;
        pushed.push(serde_json::json!({"reference": r, "pushed": d}));
        if !args.json {
            outln!("{d}")?;
        }
    }
    if args.json {
        outln!("{}", serde_json::json!({ "pushed": pushed }))?;
    }
    Ok(())
}
