//! `sparkimg push`, and the registry flags → [`RegistryOptions`] mapping `build` shares.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sparkimg::fetch::progress::ProgressMode;
use sparkimg::fetch::Cache;
use sparkimg::registry::{
    self, AuthSources, Credentials, RegistryError, RegistryOptions, RegistryRef,
};

use crate::cli::{ProgressArg, PushArgs, RegistryArgs};

/// Flags → options. Credentials: `--creds`, else `--username` + a password from stdin,
/// else the docker/podman credential files (read now, so a broken file fails early).
pub fn registry_options(
    args: &RegistryArgs,
    cache_dir: Option<PathBuf>,
) -> Result<RegistryOptions> {
    let credentials = match (&args.creds, &args.username) {
        (Some(c), _) => Some(Credentials::parse_user_pass(c)?),
        (None, Some(user)) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the registry password from stdin")?;
            let password = line.trim_end_matches(['\n', '\r']).to_string();
            if password.is_empty() {
                return Err(RegistryError::Credentials(
                    "--password-stdin: stdin held no password".into(),
                )
                .into());
            }
            Some(Credentials::Basic {
                username: user.clone(),
                password,
            })
        }
        (None, None) => None,
    };
    let auth = if credentials.is_some() {
        AuthSources::default()
    } else {
        AuthSources::from_env()?
    };
    let mut opts = RegistryOptions {
        credentials,
        auth,
        ca_certs: args.ca_cert.clone(),
        insecure_registries: args.insecure_registry.clone(),
        jobs: args.jobs.max(1),
        progress: match args.progress {
            ProgressArg::Auto => ProgressMode::Auto,
            ProgressArg::Bar => ProgressMode::Bar,
            ProgressArg::Lines => ProgressMode::Lines,
            ProgressArg::Quiet => ProgressMode::Quiet,
        },
        cache_dir,
        ..RegistryOptions::default()
    };
    opts.retry.max_attempts = args.registry_retries.max(1);
    if let Ok(ms) = std::env::var("SPARKIMG_RETRY_BASE_MS") {
        // Tests shorten the backoff; not a user-facing knob.
        if let Ok(ms) = ms.parse::<u64>() {
            opts.retry.base_delay = std::time::Duration::from_millis(ms);
        }
    }
    Ok(opts)
}

/// An `oci:` directory as is; archives unpacked into a temporary directory (kept alive
/// by the returned guard).
pub fn open_source(source: &str) -> Result<(PathBuf, Option<String>, Option<tempfile::TempDir>)> {
    let (kind, rest) = source.split_once(':').ok_or_else(|| {
        usage(format!(
            "{source}: expected oci:DIR[:REF] or oci-archive:FILE[:REF]"
        ))
    })?;
    let (path, sel) = match rest.split_once(':') {
        Some((p, r)) if !r.is_empty() => (PathBuf::from(p), Some(r.to_string())),
        Some((p, _)) => (PathBuf::from(p), None),
        None => (PathBuf::from(rest), None),
    };
    if path.as_os_str().is_empty() {
        return Err(usage(format!("{source}: missing path")));
    }
    match kind {
        "oci" => Ok((path, sel, None)),
        "oci-archive" | "docker-archive" => {
            let tmp = tempfile::Builder::new()
                .prefix("sparkimg-push-")
                .tempdir()
                .context("creating a temporary directory")?;
            let f = std::fs::File::open(&path).with_context(|| path.display().to_string())?;
            tar::Archive::new(f)
                .unpack(tmp.path())
                .with_context(|| format!("unpacking {}", path.display()))?;
            if !tmp.path().join("index.json").is_file() {
                return Err(usage(format!(
                    "{}: no OCI layout inside (only archives written by sparkimg or docker 25+ \
                     can be pushed)",
                    path.display()
                )));
            }
            Ok((tmp.path().to_path_buf(), sel, Some(tmp)))
        }
        _ => Err(usage(format!(
            "{source}: expected oci:DIR[:REF], oci-archive:FILE[:REF] or docker-archive:FILE"
        ))),
    }
}

fn usage(msg: String) -> anyhow::Error {
    RegistryError::Layout {
        path: PathBuf::from("."),
        reason: msg,
    }
    .into()
}

pub fn parse_targets(to: &[String]) -> Result<Vec<RegistryRef>> {
    let mut out = Vec::new();
    for t in to {
        let r = RegistryRef::parse(t)?;
        if r.digest.is_some() {
            return Err(RegistryError::InvalidReference {
                reference: t.clone(),
                reason: "push to a tag, not a digest".into(),
            }
            .into());
        }
        out.push(r);
    }
    Ok(out)
}

/// Push `layout` and return the reports.
pub fn push_layout(
    layout: &Path,
    select: Option<&str>,
    to: &[RegistryRef],
    opts: &RegistryOptions,
) -> Result<Vec<registry::PushReport>> {
    let plans = registry::layout::plans(layout, select, to)?;
    Ok(registry::push(&plans, opts)?)
}

pub fn run(args: PushArgs) -> Result<()> {
    let to = parse_targets(&args.to)?;
    let (dir, select, _guard) = open_source(&args.source)?;
    let cache = args.cache_dir.clone().or_else(Cache::default_root);
    let opts = registry_options(&args.registry, cache)?;
    let reports = push_layout(&dir, select.as_deref(), &to, &opts)?;
    if args.json {
        println!("{}", serde_json::json!({ "pushed": reports }));
    } else {
        for r in &reports {
            println!("{}", r.pushed);
        }
    }
    Ok(())
}
