//! `sparkimg fetch`: download, verify and unpack a Spark distribution into the cache.

use std::time::Duration;

use anyhow::{bail, Result};
use sparkimg::fetch::{self, urls, DistSpec, FetchOptions};

use super::args::FetchArgs;
use super::support;

pub fn run(args: FetchArgs, lock_timeout: Duration) -> Result<()> {
    let cache_dir = args.cache.required()?;
    let _session = sparkimg::cache::open_session(&cache_dir, lock_timeout)?;
    let env_mirrors = std::env::var(sparkimg::env_vars::MIRRORS).ok();
    let mut opts = FetchOptions::new(cache_dir);
    opts.lock_timeout = lock_timeout;
    opts.mirrors = urls::mirror_list(
        &args.mirrors,
        env_mirrors.as_deref(),
        !args.no_default_mirrors,
    );
    opts.insecure_skip_verify = args.insecure_skip_verify;
    opts.verify_signature = args.verify_signature;
    opts.retry.max_attempts = args.retries.max(1);
    opts.retry.read_timeout = Duration::from_secs(args.read_timeout.max(1));
    opts.progress = support::progress_mode(args.progress);
    if opts.insecure_skip_verify {
        sparkimg::report::warn(
            "--insecure-skip-verify: a distribution without a usable checksum will be \
             accepted UNVERIFIED",
        );
    }

    let spec = match (args.dist, args.spark_version) {
        (Some(d), _) => DistSpec::Dist(d),
        (None, Some(v)) => DistSpec::Release {
            version: v.parse()?,
            hadoop: args.hadoop,
            scala: args.scala,
        },
        (None, None) => bail!("pass --spark-version or --dist"),
    };

    let fetched = fetch::fetch(&spec, &opts)?;
    if args.json {
        outln!("{}", serde_json::to_string(&fetched)?)?;
    } else {
        outln!("{}", fetched.path.display())?;
    }
    Ok(())
}
