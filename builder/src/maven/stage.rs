//! The `--packages` stage of `sparkimg build`: repositories (Spark's chain or an Ivy
//! settings file's, then settings.xml's mirrors) and credentials, what the
//! distribution already ships, resolution, the report of evictions and of the jars the
//! distribution wins, then the downloads. Its result is what the `packages` layer holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::coordinate::{Coordinate, ModuleId, Pattern};
use super::remote::Remote;
use super::settings::{self, Mirror, Repository, Server};
use super::{resolve, MavenError, Request, Resolution};
use crate::http::RetryPolicy;
use crate::jar::{self, Coordinates};
use crate::progress;

/// What `--packages` reads from the environment, as spark-submit does: Ivy's default
/// repository root (`DEFAULT_ARTIFACT_REPOSITORY`) and the user's Maven settings.
#[derive(Debug, Clone, Default)]
pub struct MavenEnv {
    pub default_root: Option<String>,
    pub settings_xml: Option<PathBuf>,
}

impl MavenEnv {
    pub fn from_process() -> Self {
        let default_root = std::env::var(crate::env_vars::DEFAULT_ARTIFACT_REPOSITORY)
            .ok()
            .filter(|r| !r.trim().is_empty());
        let settings_xml = std::env::var_os(crate::env_vars::HOME)
            .map(|h| PathBuf::from(h).join(".m2").join("settings.xml"));
        MavenEnv {
            default_root,
            settings_xml,
        }
    }
}

pub struct StageOptions<'a> {
    pub packages: &'a [Coordinate],
    pub excludes: &'a [Pattern],
    /// `--repositories`, credentials still in them.
    pub repositories: &'a [String],
    /// `DEFAULT_ARTIFACT_REPOSITORY`, as Spark reads it.
    pub default_root: Option<&'a str>,
    /// `~/.m2/settings.xml` (read when it exists).
    pub settings_xml: Option<PathBuf>,
    /// `--ivy-settings` (Spark's `spark.jars.ivySettings`): its default resolver's
    /// repositories replace Spark's default chain; `--repositories` follow them.
    pub ivy_settings: Option<&'a Path>,
    /// The distribution whose `jars/` win over resolved versions (none: nothing does).
    pub spark_home: Option<&'a Path>,
    pub cache_root: &'a Path,
    pub insecure_skip_verify: bool,
    pub policy: RetryPolicy,
    /// `--lock-timeout`: how long a jar another build is downloading is waited for.
    pub lock_timeout: std::time::Duration,
}

/// Pure: the module a distribution jar is, from its file name and pom.properties: the
/// entry whose `artifact-version` the file name starts with (a shaded jar carries others).
pub fn shipped_module(file: &str, poms: &[Coordinates]) -> Option<(ModuleId, String)> {
    poms.iter()
        .find(|c| file.starts_with(&format!("{}-{}", c.artifact, c.version)))
        .map(|c| (ModuleId::new(&c.group, &c.artifact), c.version.clone()))
}

/// group:artifact → version of `jars/*.jar`, read as the SBOM reads jars (and from its
/// cache). A jar that cannot be read is skipped: it only misses the deduplication.
pub fn shipped(spark_home: &Path, cache_root: &Path) -> BTreeMap<ModuleId, String> {
    let cache = cache_root.join("build").join("sbom-jars");
    let Ok(dir) = std::fs::read_dir(spark_home.join("jars")) else {
        return BTreeMap::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let facts = jar::scan_cached(&e.path(), Some(&cache), None).ok()?;
            shipped_module(&name, &facts.poms)
        })
        .collect()
}

/// settings.xml's `<servers>` and `<mirrors>`; none when there is no such file.
fn read_settings(settings_xml: Option<&Path>) -> Result<(Vec<Server>, Vec<Mirror>), MavenError> {
    let Some(path) = settings_xml else {
        return Ok(Default::default());
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let file = path.display().to_string();
            Ok((
                settings::servers(&text, &file)?,
                settings::mirrors(&text, &file)?,
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
        Err(source) => Err(MavenError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The repositories of an Ivy settings file's default resolver.
fn ivy_chain(file: &Path, servers: &[Server]) -> Result<Vec<Repository>, MavenError> {
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|source| MavenError::IvySettingsRead {
        file: file.to_path_buf(),
        source,
    })?;
    let dir = std::path::absolute(file)
        .ok()
        .and_then(|f| f.parent().map(|d| d.display().to_string()))
        .unwrap_or_default();
    let bad = |reason: String| MavenError::IvySettings {
        file: shown.clone(),
        reason,
    };
    let repos = super::ivysettings::repositories(&text, &dir).map_err(bad)?;
    repos
        .into_iter()
        .map(|r| {
            let origin = format!("resolver {} in --ivy-settings {shown}", r.name);
            settings::repository(&r.name, &r.root, servers, &origin)
        })
        .collect()
}

/// The repositories asked, in order: Spark's default chain (or the Ivy settings file's
/// default resolver, as Spark puts it first), then `--repositories`; then settings.xml's
/// mirrors in place of what they mirror.
pub fn chain(o: &StageOptions) -> Result<Vec<Repository>, MavenError> {
    let (servers, mirrors) = read_settings(o.settings_xml.as_deref())?;
    let repos = match o.ivy_settings {
        None => settings::repositories(o.default_root, o.repositories, &servers)?,
        Some(file) => {
            let mut repos = ivy_chain(file, &servers)?;
            repos.extend(settings::user_list(o.repositories, &servers)?);
            if repos.is_empty() {
                return Err(MavenError::IvySettings {
                    file: file.display().to_string(),
                    reason: "it names no defaultResolver, and no --repositories are given"
                        .to_string(),
                });
            }
            repos
        }
    };
    let file = o
        .settings_xml
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    settings::apply_mirrors(repos, &mirrors, &servers, &file)
}

/// The lines a resolution is reported with: evictions, and each jar the distribution
/// ships in another version than the one resolved.
pub fn report_lines(res: &Resolution) -> Vec<String> {
    let mut lines: Vec<String> = res
        .evictions
        .iter()
        .map(|e| format!("packages: {} {} evicted by {}", e.module, e.revision, e.by))
        .collect();
    lines.extend(
        res.shipped
            .iter()
            .filter(|s| s.resolved != s.shipped)
            .map(|s| {
                format!(
                    "packages: {} {} is already in the distribution's jars/ as {}; keeping {}",
                    s.module, s.resolved, s.shipped, s.shipped
                )
            }),
    );
    lines
}

/// A jar `--packages` resolved, verified and in the cache; it goes to
/// `/opt/spark/jars/<file_name>` in the `packages` layer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PackageJar {
    /// `group:artifact:version[:classifier]`.
    pub coordinate: String,
    /// Spark's name for it (`group_artifact-version.jar`).
    pub file: String,
    pub sha256: String,
    /// The repository it came from (no credentials).
    pub repository: String,
    #[serde(skip)]
    pub path: PathBuf,
}

/// Resolves and downloads `--packages`; nothing to do without coordinates.
pub fn run(o: &StageOptions) -> Result<Vec<PackageJar>, MavenError> {
    if o.packages.is_empty() {
        return Ok(Vec::new());
    }
    let repos = chain(o)?;
    let remote = Remote::new(
        repos,
        o.cache_root,
        o.insecure_skip_verify,
        o.policy.clone(),
    )?
    .with_lock_timeout(o.lock_timeout);
    let req = Request {
        packages: o.packages.to_vec(),
        excludes: o.excludes.to_vec(),
        shipped: o
            .spark_home
            .map(|h| shipped(h, o.cache_root))
            .unwrap_or_default(),
    };
    let res = resolve(&remote, &req)?;
    for line in report_lines(&res) {
        progress::note(&line);
    }
    let fetched = remote.download(&res.artifacts)?;
    Ok(fetched
        .into_iter()
        .map(|f| {
            let mut coordinate = f.artifact.coordinate.to_string();
            if let Some(k) = &f.artifact.classifier {
                coordinate = format!("{coordinate}:{k}");
            }
            PackageJar {
                coordinate,
                file: f.artifact.file_name(),
                sha256: f.sha256,
                repository: f.repository,
                path: f.path,
            }
        })
        .collect())
}
