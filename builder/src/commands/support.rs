//! What several commands share: registry options and credentials from flags (read
//! once per run), the progress flag, opening a layout or archive given on the command
//! line. Command modules use this and the library, never each other.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use sparkimg::oci::{layout, BaseSpec, ImagePlatforms, Location, Platform};
use sparkimg::progress::ProgressMode;
use sparkimg::registry::mirrors::Mirrors;
use sparkimg::registry::{AuthSources, Credentials, RegistryError, RegistryOptions, RegistryRef};

use super::args::{ProgressArg, RegistryArgs, SignArgs};

pub fn progress_mode(p: ProgressArg) -> ProgressMode {
    match p {
        ProgressArg::Auto => ProgressMode::Auto,
        ProgressArg::Bar => ProgressMode::Bar,
        ProgressArg::Lines => ProgressMode::Lines,
        ProgressArg::Quiet => ProgressMode::Quiet,
    }
}

/// `oci:DIR[:REF]`, `oci-archive:FILE[:REF]` or `docker-archive:FILE[:REF]` (`push`,
/// `sbom`, `rebase`): a directory as is; archives unpacked into a temporary directory (kept alive
/// by the returned guard).
pub fn open_layout_source(
    source: &str,
) -> Result<(PathBuf, Option<String>, Option<tempfile::TempDir>)> {
    let (path, sel) = match Location::parse(source)? {
        Some(Location::OciDir { dir, reference }) => return Ok((dir, reference, None)),
        Some(
            Location::OciArchive { file, reference } | Location::DockerArchive { file, reference },
        ) => (file, reference),
        Some(Location::Rootfs(_)) | None => {
            return Err(usage(format!(
                "{source}: expected oci:DIR[:REF], oci-archive:FILE[:REF] or \
                 docker-archive:FILE[:REF]"
            )))
        }
    };
    // Compressed or not, as `build --base` takes archives.
    let f = sparkimg::layer::decompressing_reader(&path)?;
    let tmp = layout::unpack_archive(f, "sparkimg-push-")
        .with_context(|| format!("unpacking {}", path.display()))?;
    if !layout::is_layout(tmp.path()) {
        return Err(usage(format!(
            "{}: no OCI layout inside (only archives written by sparkimg or docker 25+ \
             can be pushed)",
            path.display()
        )));
    }
    Ok((tmp.path().to_path_buf(), sel, Some(tmp)))
}

fn usage(msg: String) -> anyhow::Error {
    sparkimg::usage::UsageError::new(msg).into()
}

/// Flags → options, once per run: `--password-stdin` consumes stdin, so a second call
/// would read nothing. Credentials: `--creds`, else `--username` + a password from
/// stdin, else the docker/podman credential files (read now, so a broken file fails
/// early). `lock_timeout` bounds the wait for another process pulling the same blob.
pub fn registry_options(
    args: &RegistryArgs,
    cache_dir: Option<PathBuf>,
    lock_timeout: Duration,
) -> Result<RegistryOptions> {
    let credentials = match (&args.creds, &args.username) {
        (Some(c), _) => Some(Credentials::parse_user_pass(c)?),
        (None, Some(user)) => Some(password_from_stdin(user)?),
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
        progress: progress_mode(args.progress),
        cache_dir,
        lock_timeout,
        mirrors: mirrors(args)?,
        ..RegistryOptions::default()
    };
    opts.retry.max_attempts = args.registry_retries.max(1);
    if let Ok(ms) = std::env::var("SPARKIMG_RETRY_BASE_MS") {
        // Tests shorten the backoff; not a user-facing knob.
        if let Ok(ms) = ms.parse::<u64>() {
            opts.retry.base_delay = Duration::from_millis(ms);
        }
    }
    Ok(opts)
}

/// The run's registry mirrors: registries.conf, then every DIR/HOST/hosts.toml, then
/// the flags, each source winning over the previous for the same prefix.
fn mirrors(args: &RegistryArgs) -> Result<Mirrors> {
    use sparkimg::registry::mirrors::{parse_flags, parse_hosts_toml, parse_registries_conf};
    let mut m = Mirrors {
        mirrors_only: args.registry_mirrors_only,
        ..Mirrors::default()
    };
    let read =
        |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let conf = args
        .registries_conf
        .clone()
        .or_else(default_registries_conf);
    if let Some(p) = conf {
        m.add(
            parse_registries_conf(&read(&p)?, &p.display().to_string())
                .map_err(RegistryError::from)?,
        );
    }
    let dir = args
        .registry_hosts_dir
        .clone()
        .or_else(|| Some(PathBuf::from("/etc/containerd/certs.d")).filter(|d| d.is_dir()));
    if let Some(dir) = dir {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        let mut hosts: Vec<(String, PathBuf)> = Vec::new();
        for e in entries {
            let e = e.with_context(|| format!("reading {}", dir.display()))?;
            let file = e.path().join("hosts.toml");
            if file.is_file() {
                hosts.push((e.file_name().to_string_lossy().into_owned(), file));
            }
        }
        hosts.sort();
        for (host, file) in hosts {
            let origin = file.display().to_string();
            m.add(parse_hosts_toml(&host, &read(&file)?, &origin).map_err(RegistryError::from)?);
        }
    }
    m.add(parse_flags(&args.registry_mirror).map_err(RegistryError::from)?);
    Ok(m)
}

/// containers' own choice: the user's file when it exists, else the system's.
fn default_registries_conf() -> Option<PathBuf> {
    use sparkimg::env_vars::{HOME, XDG_CONFIG_HOME};
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let user = var(XDG_CONFIG_HOME)
        .or_else(|| var(HOME).map(|h| h.join(".config")))
        .map(|c| c.join("containers/registries.conf"));
    user.into_iter()
        .chain([PathBuf::from("/etc/containers/registries.conf")])
        .find(|p| p.is_file())
}

fn password_from_stdin(user: &str) -> Result<Credentials> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the registry password from stdin")?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Err(
            RegistryError::Credentials("--password-stdin: stdin held no password".into()).into(),
        );
    }
    Ok(Credentials::Basic {
        username: user.to_string(),
        password,
    })
}

/// The first line of stdin, without its line end: a passphrase.
pub fn passphrase_from_stdin(what: &str) -> Result<Vec<u8>> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("reading the {what} passphrase from stdin"))?;
    Ok(line.trim_end_matches(['\n', '\r']).as_bytes().to_vec())
}

/// A passphrase from stdin when `stdin` is set, else `$SPARKIMG_KEY_PASSWORD`, else none.
pub fn passphrase(stdin: bool, what: &str) -> Result<Option<Vec<u8>>> {
    if stdin {
        return passphrase_from_stdin(what).map(Some);
    }
    Ok(std::env::var_os(sparkimg::env_vars::KEY_PASSWORD)
        .map(|v| v.to_string_lossy().into_owned().into_bytes()))
}

/// The signer `--sign-key` names, its passphrase read once (`None` without the flag);
/// `--sign-keyless` is refused, not yet offered.
pub fn signer(args: &SignArgs) -> Result<Option<sparkimg::sign::Signer>> {
    use sparkimg::sign::{key, SignError, Signer};
    if args.sign_keyless {
        return Err(SignError::KeylessNotYet.into());
    }
    let Some(path) = &args.sign_key else {
        if args.provenance {
            return Err(sparkimg::build::sign::provenance_needs_key().into());
        }
        return Ok(None);
    };
    let text = std::fs::read(path).map_err(SignError::io(path))?;
    let pass = passphrase(args.sign_key_pass_stdin, "--sign-key")?;
    Ok(Some(Signer::Key(key::read(path, &text, pass.as_deref())?)))
}

/// The cache session of a command for which the cache is optional (push: mount hints;
/// sbom: pulled manifests): a cache that cannot be created is a warning, while a lock
/// not obtained in time is still an error.
pub fn cache_session(
    root: Option<&std::path::Path>,
    lock_timeout: std::time::Duration,
) -> anyhow::Result<Option<sparkimg::cache::Session>> {
    let Some(root) = root else { return Ok(None) };
    match sparkimg::cache::open_session(root, lock_timeout) {
        Ok(s) => Ok(Some(s)),
        Err(e @ sparkimg::cache::CacheError::Io { .. }) => {
            eprintln!(
                "sparkimg: warning: not using the cache {}: {}",
                root.display(),
                sparkimg::report::chain(&e)
            );
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The platforms of an image to act on (`rebase`, and `pull` a registry base for;
/// `outdated`): see [`ImagePlatforms::select`]. A registry or layout image's are read
/// from its index, or from its config when it is a single image manifest.
pub fn image_platforms(
    (shown, image): (&str, &BaseSpec),
    asked: &[Platform],
    ropts: Option<&RegistryOptions>,
) -> Result<Vec<Platform>> {
    let found = match (image, ropts) {
        (BaseSpec::Local(Location::OciDir { dir, reference }), _) => {
            sparkimg::build::base::layout_platforms(dir, reference.as_deref())?
        }
        (BaseSpec::Registry(r), Some(ropts)) => {
            sparkimg::registry::pull::platforms(&RegistryRef::parse(r)?, ropts)?
        }
        _ => ImagePlatforms::Index(Vec::new()),
    };
    Ok(found.select(shown, asked)?)
}
