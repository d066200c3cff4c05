//! The Docker Engine side of the CLI: `build --engine docker`, `build --load` (and the
//! default load when a daemon answers), `push --engine docker`.

use std::time::Duration;

use anyhow::Result;
use sparkimg::engine::build::{build_images, EngineBuild};
use sparkimg::engine::{self, Daemon, EngineError};
use sparkimg::image::{self, Assembled, BuildReport, OutputSpec};
use sparkimg::registry::{Credentials, RegistryRef};

use crate::cli::{PushArgs, RegistryArgs};
use crate::push_cmd;

/// How long a daemon may take to answer `_ping`: a local socket answers in
/// milliseconds; the bound only matters for a tcp:// host that drops packets.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// For the implicit load of a plain `sparkimg build`: no daemon is fine there, so do
/// not make the user wait long to find out.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

fn log_line(line: &str) {
    eprintln!("{line}");
}

/// Find and connect to the daemon, or fail with the hint towards the daemonless path.
pub fn connect() -> Result<Daemon> {
    let found = engine::discover()?;
    let d = Daemon::connect(found, CONNECT_TIMEOUT)?;
    eprintln!(
        "sparkimg: Docker Engine at {} (from {}), API {}",
        d.found.endpoint, d.found.source, d.api_version
    );
    Ok(d)
}

/// For the default output of `sparkimg build`: a daemon if one answers, else `None`.
pub fn probe() -> Option<Daemon> {
    let found = engine::discover().ok()?;
    Daemon::connect(found, PROBE_TIMEOUT).ok()
}

/// Credentials for a daemon push, from the same sources as the registry client
/// (--creds / --username, then docker/podman auth files and helpers).
fn credentials(
    reference: &str,
    registry: &RegistryArgs,
) -> Result<Option<bollard::auth::DockerCredentials>> {
    let opts = push_cmd::registry_options(registry, None)?;
    let host = RegistryRef::parse(reference)?.registry;
    let creds = match opts.credentials {
        Some(c) => Some(c),
        None => opts.auth.resolve(&host)?,
    };
    Ok(creds.map(|c| {
        let mut d = bollard::auth::DockerCredentials {
            serveraddress: Some(host.clone()),
            ..Default::default()
        };
        match c {
            Credentials::Basic { username, password } => {
                d.username = Some(username);
                d.password = Some(password);
            }
            Credentials::IdentityToken(t) => d.identitytoken = Some(t),
        }
        d
    }))
}

/// Push `reference` through the daemon; its `repo@digest`.
fn push_one(daemon: &Daemon, reference: &str, registry: &RegistryArgs) -> Result<String> {
    let creds = credentials(reference, registry)?;
    eprintln!("sparkimg: pushing {reference} through the Docker Engine");
    let digest = daemon.push(reference, creds, &mut |l| log_line(l))?;
    let (name, _) = engine::daemon::split_tag(reference);
    match digest {
        Some(d) => Ok(format!("{name}@{d}")),
        None => Err(EngineError::Daemon {
            what: format!("push {reference}"),
            detail: "the daemon reported no digest".into(),
        }
        .into()),
    }
}

fn print_report(report: &BuildReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        for i in &report.images {
            match i.repo_digests.first() {
                Some(d) => println!("{d}"),
                None => println!("{} {}", i.reference, i.image_id.as_deref().unwrap_or("")),
            }
        }
    }
    Ok(())
}

/// `sparkimg build --engine docker`.
pub fn build(
    daemon: &Daemon,
    b: EngineBuild,
    push: bool,
    registry: &RegistryArgs,
    json: bool,
) -> Result<()> {
    let mut report = build_images(daemon, &b, &mut |l| log_line(l))?;
    if push {
        for i in &mut report.images {
            let d = push_one(daemon, &i.reference, registry)?;
            i.manifest_digest = d.rsplit('@').next().unwrap_or("").to_string();
            i.repo_digests = vec![d];
        }
    }
    for i in &report.images {
        eprintln!(
            "sparkimg: {} {} ({} bytes)",
            i.reference,
            i.image_id.as_deref().unwrap_or(""),
            i.size
        );
    }
    print_report(&report, json)
}

/// A daemonless build loaded into `daemon` (and written to `also_write` first, when
/// --output was given too).
pub fn build_and_load(
    opts: &image::BuildOptions,
    daemon: &Daemon,
    also_write: Option<&OutputSpec>,
) -> Result<BuildReport> {
    if let Some(spec) = also_write {
        image::output::check(spec)?;
    }
    let mut stash: Option<Assembled> = None;
    let dest = format!("docker-daemon:{}", daemon.found.endpoint);
    let mut report = image::build_with(opts, |a| {
        let out = match also_write {
            // The written path stays the report's output (`--push` reads it back).
            Some(spec) => image::output::write(&a.to_output(spec))?
                .display()
                .to_string(),
            None => dest.clone(),
        };
        stash = Some(a.clone());
        Ok(out)
    })?;
    let Some(assembled) = stash else {
        anyhow::bail!("the build produced nothing to load");
    };
    let started = std::time::Instant::now();
    engine::load(daemon, &assembled, &mut |l| {
        eprintln!("sparkimg: docker load: {l}")
    })?;
    eprintln!(
        "sparkimg: loaded into the Docker Engine in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    for i in &mut report.images {
        if let Some(info) = daemon.inspect(&i.reference)? {
            i.image_id = Some(info.id);
        }
    }
    Ok(report)
}

/// `sparkimg push --engine docker REF…`.
pub fn push(args: PushArgs) -> Result<()> {
    if !args.to.is_empty() {
        return Err(sparkimg::image::BuildError::InvalidInput(
            "--to is for pushing a layout; with --engine docker, `docker tag` the image \
             and push that reference"
                .into(),
        )
        .into());
    }
    let daemon = connect()?;
    let mut pushed = Vec::new();
    for r in std::iter::once(&args.source).chain(&args.more) {
        if daemon.inspect(r)?.is_none() {
            return Err(EngineError::Daemon {
                what: format!("push {r}"),
                detail: "no such image in the Docker Engine".into(),
            }
            .into());
        }
        let d = push_one(&daemon, r, &args.registry)?;
        pushed.push(serde_json::json!({"reference": r, "pushed": d}));
        if !args.json {
            println!("{d}");
        }
    }
    if args.json {
        println!("{}", serde_json::json!({ "pushed": pushed }));
    }
    Ok(())
}
