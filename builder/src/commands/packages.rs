//! `sparkimg packages`: the `--packages` stage of `build` on its own (resolve, verify,
//! download into the cache) and the jars an image would get, one per line or as JSON.
//! Warms the cache for offline builds and shows what a coordinate brings in.

use anyhow::Result;
use sparkimg::maven::{coordinate, settings, stage};

use super::args::PackagesArgs;

pub fn run(args: PackagesArgs, lock_timeout: std::time::Duration) -> Result<()> {
    let packages = coordinate::parse_packages(args.packages.trim())?;
    let excludes = coordinate::parse_excludes(args.exclude_packages.as_deref().unwrap_or(""))?;
    let repositories: Vec<String> = args
        .repositories
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(String::from)
        .collect();
    settings::repositories(None, &repositories, &[])?;
    let cache_root = args.cache.required()?;
    // As every command using the cache: a prune waits for it, and it sweeps what dead
    // runs left (resumable jars kept).
    let _session = sparkimg::cache::open_session(&cache_root, lock_timeout)?;
    let env = sparkimg::maven::stage::MavenEnv::from_process();
    let jars = stage::run(&stage::StageOptions {
        packages: &packages,
        excludes: &excludes,
        repositories: &repositories,
        default_root: env.default_root.as_deref(),
        settings_xml: env.settings_xml,
        ivy_settings: args.ivy_settings.as_deref(),
        spark_home: args.spark_home.as_deref(),
        cache_root: &cache_root,
        insecure_skip_verify: args.insecure_skip_verify,
        policy: sparkimg::http::RetryPolicy::default(),
        lock_timeout,
    })?;
    if args.json {
        outln!("{}", serde_json::to_string(&jars)?)?;
    } else {
        for j in &jars {
            outln!(
                "{}\t{}\t{}\t{}",
                j.coordinate,
                j.file,
                j.sha256,
                j.repository
            )?;
        }
    }
    Ok(())
}
