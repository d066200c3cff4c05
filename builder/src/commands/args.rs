//! Command-line surface. One subcommand per verb; `build` and `push` slot in beside `fetch`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "sparkimg", version, about = "Build Apache Spark container images", after_help = sparkimg::exit::help())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// How long to wait for a cache lock another sparkimg process holds (the same
    /// distribution being fetched, a prune running) before failing, e.g. 30s, 10m.
    #[arg(long, global = true, value_name = "DURATION", default_value = "10m",
          value_parser = humantime::parse_duration, env = sparkimg::env_vars::LOCK_TIMEOUT)]
    pub lock_timeout: Duration,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download, verify and cache a Spark distribution; print its SPARK_HOME.
    Fetch(FetchArgs),
    /// Build Spark images (JVM, and with -p/-R the PySpark and SparkR variants) without
    /// a Docker daemon.
    Build(Box<BuildArgs>),
    /// Push images of an OCI layout (or oci-archive) to a registry.
    Push(Box<PushArgs>),
    /// Print the SBOM attached to an image (an OCI layout or a registry); exit 1 when
    /// it has none.
    Sbom(Box<SbomArgs>),
    /// Show what the cache holds, or prune it.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Resolve and download Maven packages as `build --packages` does (into the cache),
    /// and print the jars an image would get.
    Packages(Box<PackagesArgs>),
    /// Move an image sparkimg built onto a new base (a patched JRE/OS) without touching
    /// its Spark layers: the result is what `build` gives on that base.
    Rebase(Box<RebaseArgs>),
    /// Whether images' bases moved: per image and platform the recorded base digest
    /// against what its name resolves to now. Exit 0: all current; 1: any outdated.
    Outdated(Box<OutdatedArgs>),
    /// Write an ECDSA P-256 key pair for --sign-key: PREFIX.key (cosign's encrypted
    /// format) and PREFIX.pub (PKIX PEM), as `cosign generate-key-pair` does.
    Keygen(KeygenArgs),
    /// Check an image's cosign signature, SLSA provenance and SBOM against a public key.
    /// Exit 0: every check passed; 3: one failed (each is printed with its fix).
    Verify(Box<VerifyArgs>),
}

/// `sparkimg verify`.
#[derive(Debug, Args)]
#[command(
    after_help = sparkimg::exit::help(),
    override_usage = "sparkimg verify oci:DIR[:REF] | oci-archive:FILE[:REF] --key PUB.pem [OPTIONS] [--rebuild -- BUILD_FLAGS]\n       sparkimg verify REGISTRY/REPO:TAG --key PUB.pem [OPTIONS]"
)]
pub struct VerifyArgs {
    /// oci:DIR[:REF], oci-archive:FILE[:REF] or a registry reference.
    #[arg(value_name = "IMAGE")]
    pub image: String,

    /// The signer's public key (PKIX PEM: `sparkimg keygen`'s or cosign's cosign.pub).
    #[arg(long, value_name = "PUB.pem")]
    pub key: PathBuf,

    /// Rebuild from the provenance's request into a scratch layout and compare digests;
    /// the inputs' sources are the build flags after `--`, each checked against the
    /// digest the provenance names.
    #[arg(long)]
    pub rebuild: bool,

    /// `sparkimg build` flags naming the rebuild's sources (--spark-home, --dist,
    /// --mirror, --base, --entrypoint-binary, --repositories, --cache-dir).
    #[arg(last = true, value_name = "BUILD_FLAGS", requires = "rebuild")]
    pub sources: Vec<String>,

    /// Print the checks as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub cache: CacheDirArg,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `sparkimg keygen`.
#[derive(Debug, Args)]
#[command(after_help = sparkimg::exit::help())]
pub struct KeygenArgs {
    /// Write PREFIX.key and PREFIX.pub (refused when either exists).
    #[arg(long, value_name = "PREFIX", default_value = "cosign")]
    pub output_key_prefix: PathBuf,

    /// Read the private key's passphrase (first line) from stdin [default:
    /// $SPARKIMG_KEY_PASSWORD, else the empty passphrase, as cosign allows].
    #[arg(long)]
    pub key_pass_stdin: bool,
}

/// Signing, shared by `build`, `push` and `rebase`: every manifest they publish is
/// signed (cosign's `.sig` tag and an OCI 1.1 referrer).
#[derive(Debug, Args, Clone)]
pub struct SignArgs {
    /// Sign with this ECDSA P-256 private key: cosign's encrypted key (`sparkimg keygen`,
    /// `cosign generate-key-pair`) or an unencrypted PKCS#8 PEM.
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,

    /// Read the --sign-key passphrase (first line) from stdin [default:
    /// $SPARKIMG_KEY_PASSWORD, else the empty passphrase].
    #[arg(long, requires = "sign_key", conflicts_with = "password_stdin")]
    pub sign_key_pass_stdin: bool,

    /// Keyless signing (Fulcio, Rekor): not offered yet (exit 7).
    #[arg(long, conflicts_with = "sign_key")]
    pub sign_keyless: bool,

    /// Attach SLSA v1 provenance to every signed manifest: an in-toto statement in a
    /// DSSE envelope signed with --sign-key (cosign's `.att` tag and an OCI 1.1
    /// referrer).
    #[arg(long)]
    pub provenance: bool,
}

/// `sparkimg packages`.
#[derive(Debug, Args)]
#[command(after_help = sparkimg::exit::help())]
pub struct PackagesArgs {
    /// Maven coordinates, as for `build --packages`.
    #[arg(long, value_name = "G:A:V[,G:A:V...]")]
    pub packages: String,

    /// As for `build --repositories`.
    #[arg(long, value_name = "URL[,URL...]")]
    pub repositories: Option<String>,

    /// As for `build --exclude-packages`.
    #[arg(long, value_name = "G:A[,G:A...]")]
    pub exclude_packages: Option<String>,

    /// As for `build --ivy-settings`.
    #[arg(long, value_name = "FILE")]
    pub ivy_settings: Option<PathBuf>,

    /// A distribution whose jars/ win over resolved versions, as in `build`.
    #[arg(long, value_name = "DIR")]
    pub spark_home: Option<PathBuf>,

    #[command(flatten)]
    pub cache: CacheDirArg,

    /// Accept files whose repository offers no checksum.
    #[arg(long)]
    pub insecure_skip_verify: bool,

    /// One JSON array of {coordinate, file, sha256, repository}.
    #[arg(long)]
    pub json: bool,
}

/// `sparkimg cache`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// What is cached, by kind, with sizes (and leftovers of interrupted runs).
    Ls(CacheLsArgs),
    /// Remove leftovers of interrupted runs, and with --older-than, --keep-last or
    /// --all cache entries. Waits until no other sparkimg command uses the cache.
    Prune(CachePruneArgs),
}

/// `--allow-unsupported-java`, for `build` and `rebase`.
#[derive(Debug, Args)]
pub struct AllowUnsupportedJava {
    /// Build (or rebase) even when the base's Java is not one Spark's documentation says
    /// the line runs on (the refusal names those); a warning names the pair.
    #[arg(long)]
    pub allow_unsupported_java: bool,
}

#[derive(Debug, Args)]
pub struct CacheLsArgs {
    /// Print one JSON object (kinds, entries, leftovers) on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub cache: CacheDirArg,
}

#[derive(Debug, Args)]
pub struct CachePruneArgs {
    /// Remove entries not used for longer than DURATION (e.g. 7d, 12h).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub older_than: Option<Duration>,

    /// Keep the N most recently used entries of each kind (with --older-than: remove
    /// only entries that are both older and beyond the N newest).
    #[arg(long, value_name = "N")]
    pub keep_last: Option<usize>,

    /// Remove everything cached.
    #[arg(long, conflicts_with_all = ["older_than", "keep_last"])]
    pub all: bool,

    /// Say what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Print one JSON object (what was removed and kept) on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub cache: CacheDirArg,
}

/// `sparkimg outdated`.
#[derive(Debug, Args)]
#[command(
    after_help = sparkimg::exit::help(),
    override_usage = "sparkimg outdated IMAGE... [--json] [OPTIONS]"
)]
pub struct OutdatedArgs {
    /// Images: registry references or oci:DIR[:REF] (as `sparkimg build` wrote them).
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,

    /// Platforms to check [default: a layout index's, else this machine's].
    #[arg(long, value_name = "OS/ARCH", value_delimiter = ',')]
    pub platform: Vec<String>,

    /// Print one JSON object (per image and platform: base, recorded and current digest).
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub cache: CacheDirArg,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `sparkimg rebase`.
#[derive(Debug, Args)]
#[command(
    after_help = sparkimg::exit::help(),
    override_usage = "sparkimg rebase IMAGE --base NEWBASE [--to REF] [--output OUT] [--push] [OPTIONS]"
)]
pub struct RebaseArgs {
    /// The image: a registry reference (rebased registry to registry with --push; its
    /// Spark layers are never downloaded), oci:DIR[:REF], oci-archive:FILE[:REF] or
    /// docker-archive:FILE[:REF] (as written by `sparkimg build`).
    #[arg(value_name = "IMAGE")]
    pub image: String,

    /// The new base, any base `build` accepts (a registry base is pulled per platform).
    #[arg(long, value_name = "NEWBASE")]
    pub base: String,

    /// The base the image was built on [default: the one its
    /// org.opencontainers.image.base.name label records, at the recorded digest (a
    /// registry base by that digest; a layout when it still has it)]. Its layers must be
    /// the image's first ones.
    #[arg(long, value_name = "OLDBASE")]
    pub old_base: Option<String>,

    /// The rebased image's name [default: the image's own].
    #[arg(long, value_name = "REF")]
    pub to: Option<String>,

    /// Where to write: oci:DIR, oci-archive:FILE, docker-archive:FILE.
    #[arg(long, value_name = "OUT")]
    pub output: Option<String>,

    /// Push the rebased image to its reference (--to, else its own name).
    #[arg(long)]
    pub push: bool,

    /// Only these platforms of a multi-platform image [default: all of them].
    #[arg(long, value_name = "OS/ARCH", value_delimiter = ',')]
    pub platform: Vec<String>,

    /// Rebase even when the new base's Java major version differs from the image's.
    #[arg(long)]
    pub allow_java_change: bool,

    #[command(flatten)]
    pub java: AllowUnsupportedJava,

    /// Print one JSON object (the rebased image, per platform what changed) on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub cache: CacheDirArg,

    #[command(flatten)]
    pub registry: RegistryArgs,

    #[command(flatten)]
    pub sign: SignArgs,
}

/// `sparkimg sbom`.
#[derive(Debug, Args)]
#[command(
    after_help = sparkimg::exit::help(),
    override_usage = "sparkimg sbom oci:DIR[:REF] | oci-archive:FILE[:REF] | docker-archive:FILE[:REF] [OPTIONS]\n       sparkimg sbom REGISTRY/REPO:TAG [OPTIONS]"
)]
pub struct SbomArgs {
    /// oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF] (as written by
    /// `sparkimg build`) or a registry reference.
    #[arg(value_name = "IMAGE")]
    pub image: String,

    /// Which document (default: SPDX when attached, else the first one).
    #[arg(long, value_name = "FORMAT", value_parser = ["spdx", "cyclonedx"])]
    pub format: Option<String>,

    /// The platform of a multi-platform image (default: this machine's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,

    #[command(flatten)]
    pub cache: CacheDirArg,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `--cache-dir`, shared by every command that reads or fills the cache.
#[derive(Debug, Args, Clone)]
pub struct CacheDirArg {
    /// Cache directory: distributions, layers, packages, registry blobs and base scans
    /// [default: $XDG_CACHE_HOME/sparkimg or ~/.cache/sparkimg].
    #[arg(long = "cache-dir", value_name = "DIR", env = sparkimg::env_vars::CACHE_DIR)]
    pub dir: Option<PathBuf>,
}

impl CacheDirArg {
    /// The flag (or its variable), else the default location; `None` when no default
    /// can be found (no XDG_CACHE_HOME or HOME), for commands the cache only speeds up.
    pub fn root(&self) -> Option<PathBuf> {
        self.dir
            .clone()
            .or_else(sparkimg::fetch::Cache::default_root)
    }

    /// The cache root, for commands that cannot work without one.
    pub fn required(&self) -> anyhow::Result<PathBuf> {
        Self::required_root(self.dir.clone())
    }

    /// [`required`](Self::required) for a flag value carried in a resolved request.
    pub fn required_root(dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
        use anyhow::Context;
        dir.or_else(sparkimg::fetch::Cache::default_root)
            .context("cannot find a cache directory: set --cache-dir, SPARKIMG_CACHE_DIR or HOME")
    }
}

/// Registry access, shared by `build` (--push, registry --base) and `push`.
#[derive(Debug, Args, Clone)]
pub struct RegistryArgs {
    /// Registry credentials USER:PASSWORD for every registry of this run (instead of
    /// docker/podman credential files). Prefer --password-stdin: arguments are visible
    /// to other users of the machine.
    #[arg(long, value_name = "USER:PASS", conflicts_with = "username")]
    pub creds: Option<String>,

    /// Registry user name; the password is read from stdin (--password-stdin).
    #[arg(long, value_name = "USER", requires = "password_stdin")]
    pub username: Option<String>,

    /// Read the registry password (first line) from stdin.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,

    /// Extra CA certificate (PEM) to trust for registries, beside the system roots.
    /// Repeatable.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,

    /// Allow plain HTTP (after HTTPS fails) for this registry HOST[:PORT]; localhost,
    /// 127.0.0.1 and [::1] always are. Repeatable.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,

    /// Pull images of registry HOST through a mirror (`docker.io=harbor.corp/dockerhub`,
    /// `quay.io=http://127.0.0.1:5000`); the URL's path is a repository prefix there.
    /// Repeatable, tried in order, then HOST itself; wins over the files. Pushes never
    /// go to a mirror.
    #[arg(long, value_name = "HOST=URL")]
    pub registry_mirror: Vec<String>,

    /// containers' registries.conf to read mirrors from ([[registry]] prefix/location,
    /// [[registry.mirror]]) [default: $XDG_CONFIG_HOME/containers/registries.conf, else
    /// /etc/containers/registries.conf, where present].
    #[arg(long, value_name = "FILE")]
    pub registries_conf: Option<PathBuf>,

    /// Directory of containerd-style DIR/HOST/hosts.toml files (server, [host."URL"]
    /// with capabilities) [default: /etc/containerd/certs.d, where present].
    #[arg(long, value_name = "DIR")]
    pub registry_hosts_dir: Option<PathBuf>,

    /// Pull only from mirrors, never from the registry a reference names (an air gap).
    #[arg(long)]
    pub registry_mirrors_only: bool,

    /// Blobs pushed or pulled at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub jobs: usize,

    /// Attempts per registry operation (connection errors, 5xx, 429 are retried).
    #[arg(long = "registry-retries", value_name = "N", default_value_t = 5)]
    pub registry_retries: u32,

    /// Transfer progress on stderr (auto: bars on a terminal, lines in CI or logs).
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressArg,
}

/// `sparkimg push`.
#[derive(Debug, Args)]
#[command(
    after_help = sparkimg::exit::help(),
    override_usage = "sparkimg push oci:DIR[:REF] [--to REGISTRY/REPO:TAG]... [OPTIONS]\n       sparkimg push oci-archive:FILE[:REF] [--to REF]..."
)]
pub struct PushArgs {
    /// oci:DIR, oci-archive:FILE or docker-archive:FILE (as written by `sparkimg
    /// build`), optionally :REF to select one image by tag or full name.
    #[arg(value_name = "SOURCE")]
    pub source: String,

    /// With --engine docker: more image references to push.
    #[arg(value_name = "REF", hide = true)]
    pub more: Vec<String>,

    /// `docker`: SOURCE (and any further arguments) are images in the Docker Engine,
    /// pushed by the daemon with credentials from the same places as the registry client.
    #[arg(long, value_enum, default_value = "daemonless")]
    pub engine: EngineArg,

    /// Where to push (repeatable). Without it every image goes to the full reference
    /// it was built as (its io.containerd.image.name annotation).
    #[arg(long, value_name = "REF")]
    pub to: Vec<String>,

    /// Print one JSON object (pushed references with digests) on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub cache: CacheDirArg,

    #[command(flatten)]
    pub registry: RegistryArgs,

    #[command(flatten)]
    pub sign: SignArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProgressArg {
    Auto,
    Bar,
    Lines,
    Quiet,
}

#[derive(Debug, Args)]
#[command(after_help = sparkimg::exit::help())]
pub struct FetchArgs {
    /// Spark release, e.g. 3.5.3 or 4.0.0-preview1.
    #[arg(long, value_name = "VERSION", required_unless_present = "dist")]
    pub spark_version: Option<String>,

    /// Hadoop build: 3, 3.2, 2.7, 2, … or `without`. Default depends on the version.
    #[arg(long, value_name = "LINE")]
    pub hadoop: Option<String>,

    /// Scala build, e.g. 2.13. Default depends on the version.
    #[arg(long, value_name = "VERSION")]
    pub scala: Option<String>,

    /// Mirror base URL (the directory holding `spark-<version>/`). Repeatable; tried
    /// before SPARKIMG_MIRRORS, then dlcdn.apache.org and archive.apache.org.
    #[arg(long = "mirror", value_name = "URL")]
    pub mirrors: Vec<String>,

    /// Do not fall back to the Apache mirrors.
    #[arg(long)]
    pub no_default_mirrors: bool,

    #[command(flatten)]
    pub cache: CacheDirArg,

    /// Use this local .tgz or URL instead of resolving a release; its checksum is
    /// `<dist>.sha512`.
    #[arg(long, value_name = "PATH_OR_URL", conflicts_with_all = ["spark_version", "hadoop", "scala", "mirrors"])]
    pub dist: Option<String>,

    /// Print one JSON object instead of the bare SPARK_HOME.
    #[arg(long)]
    pub json: bool,

    /// Continue when no usable checksum exists (a wrong checksum still fails).
    #[arg(long)]
    pub insecure_skip_verify: bool,

    /// Also check the OpenPGP signature against the mirror's KEYS.
    #[arg(long)]
    pub verify_signature: bool,

    /// Attempts per mirror before failing over.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub retries: u32,

    /// Seconds of silence before a download attempt is abandoned.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub read_timeout: u64,

    /// Progress display on stderr (auto: bar on a terminal, lines in CI or logs).
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EngineArg {
    /// Write layers and manifests directly (no daemon).
    Daemonless,
    /// Build with a Docker Engine from Dockerfiles (classic builder or BuildKit).
    Docker,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompressionArg {
    Gzip,
    Zstd,
    None,
}

/// `sparkimg build`. Short flags follow docker-image-tool.sh where they mean the same.
#[derive(Debug, Args)]
#[command(
    after_help = build_help(),
    override_usage = "sparkimg build -r REPO -t TAG [--spark-version V] [-p] [-R] [--base BASE] [--output OUT] [OPTIONS]"
)]
pub struct BuildArgs {
    /// docker-image-tool.sh's trailing verb: `build` (default) or `push` (= --push).
    #[arg(value_name = "build|push", hide = true)]
    pub verb: Option<String>,

    /// Repository prefix: images are REPO/spark, REPO/spark-py, REPO/spark-r.
    /// Without it the names are spark, spark-py, spark-r (as docker-image-tool.sh).
    #[arg(help_heading = "What to build", short = 'r', long, value_name = "REPO")]
    pub repo: Option<String>,

    /// Tag for every image. Defaults to the Spark version; when --spark-version is absent
    /// a tag that is a Spark version (3.5.3) selects the version.
    #[arg(help_heading = "What to build", short = 't', long, value_name = "TAG")]
    pub tag: Option<String>,

    /// Spark release to package.
    #[arg(help_heading = "What to build", long, value_name = "VERSION")]
    pub spark_version: Option<String>,

    /// Also build the PySpark image; with --engine docker an optional Dockerfile replaces
    /// sparkimg's (the daemonless path ignores it, with a warning).
    #[arg(help_heading = "What to build", short = 'p', long, value_name = "DOCKERFILE", num_args = 0..=1)]
    pub python: Option<Option<String>>,

    /// Also build the SparkR image (optional Dockerfile as for -p).
    #[arg(help_heading = "What to build", short = 'R', long = "r", value_name = "DOCKERFILE", num_args = 0..=1)]
    pub r: Option<Option<String>>,

    /// Full name (or name:tag) of the JVM image [default: REPO/spark].
    #[arg(help_heading = "What to build", long, value_name = "NAME")]
    pub name: Option<String>,

    /// Full name (or name:tag) of the PySpark image [default: REPO/spark-py]; implies -p.
    #[arg(help_heading = "What to build", long, value_name = "NAME")]
    pub python_name: Option<String>,

    /// Full name (or name:tag) of the SparkR image [default: REPO/spark-r]; implies -R.
    #[arg(help_heading = "What to build", long, value_name = "NAME")]
    pub r_name: Option<String>,

    /// User the images run as (docker-image-tool.sh -u; Spark files are owned by it, gid 0).
    #[arg(
        help_heading = "What to build",
        short = 'u',
        long,
        value_name = "UID",
        default_value_t = 185
    )]
    pub uid: u64,

    /// docker-image-tool.sh -X (buildx, amd64+arm64, push): same as
    /// --platform linux/amd64,linux/arm64 --push.
    #[arg(help_heading = "What to build", short = 'X')]
    pub buildx: bool,

    /// docker-image-tool.sh -m (minikube's Docker): not supported yet.
    #[arg(help_heading = "What to build", short = 'm')]
    pub minikube: bool,

    /// Platform(s), e.g. linux/amd64,linux/arm64. Default: the base's. Several make one
    /// image index per image (Spark layers shared) and need a base for each platform (a
    /// multi-platform oci: layout or registry image) and --platform-entrypoint binaries.
    #[arg(
        help_heading = "What to build",
        long,
        value_name = "OS/ARCH",
        value_delimiter = ','
    )]
    pub platform: Vec<String>,

    /// Time zone of the images: TZ, /etc/localtime, /etc/timezone.
    #[arg(
        help_heading = "What to build",
        long,
        value_name = "ZONE",
        default_value = "UTC"
    )]
    pub timezone: String,

    /// Base image: a registry reference (eclipse-temurin:17-jre, host/repo@sha256:…),
    /// oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REPO:TAG],
    /// rootfs:FILE.tar[.gz|.zst]. Registry bases are pulled for --platform
    /// (default linux/amd64) into the cache.
    /// [default: eclipse-temurin:8-jre for Spark 2.x, eclipse-temurin:17-jre for 3.x/4.x]
    #[arg(help_heading = "Base", long, value_name = "BASE")]
    pub base: Option<String>,

    #[command(flatten, next_help_heading = "Base")]
    pub java: AllowUnsupportedJava,

    /// The static spark-entrypoint binary [default: target/dist/spark-entrypoint, made by
    /// `cargo xtask dist`].
    #[arg(
        help_heading = "Base",
        long,
        value_name = "PATH",
        env = sparkimg::env_vars::ENTRYPOINT
    )]
    pub entrypoint_binary: Option<PathBuf>,

    /// The spark-entrypoint binary for one platform of a multi-platform build, e.g.
    /// linux/arm64=target/aarch64-unknown-linux-gnu/dist/spark-entrypoint (repeatable;
    /// platforms without one use --entrypoint-binary, which must match their architecture).
    #[arg(help_heading = "Base", long, value_name = "OS/ARCH=PATH")]
    pub platform_entrypoint: Vec<String>,

    /// OS packages added to every image from the base's own apt sources (comma-separated,
    /// repeatable), e.g. krb5-user,procps. spark-py and spark-r also get python3 or R
    /// when the base lacks them.
    #[arg(
        help_heading = "OS and Maven packages",
        long,
        value_name = "PKG[,PKG...]",
        value_delimiter = ','
    )]
    pub apt_packages: Vec<String>,

    /// Packages (comma-separated, repeatable) added even though their maintainer
    /// scripts do what sparkimg cannot reproduce: dpkg lists them as unpacked, not
    /// installed, so a later apt-get in a derived image configures them.
    #[arg(
        help_heading = "OS and Maven packages",
        long,
        value_name = "PKG[,PKG...]",
        value_delimiter = ','
    )]
    pub apt_allow_unconfigured: Vec<String>,

    /// Maven coordinates baked into /opt/spark/jars with their dependencies, resolved
    /// as `spark-submit --packages` resolves them (Spark's syntax).
    #[arg(
        help_heading = "OS and Maven packages",
        long,
        value_name = "G:A:V[,G:A:V...]"
    )]
    pub packages: Option<String>,

    /// Maven repositories asked after Maven Central and spark-packages (http://,
    /// https:// or file://; `user:pass@` or ~/.m2/settings.xml for credentials).
    #[arg(
        help_heading = "OS and Maven packages",
        long,
        value_name = "URL[,URL...]"
    )]
    pub repositories: Option<String>,

    /// group:artifact pairs (globs allowed) left out of the --packages resolution.
    #[arg(
        help_heading = "OS and Maven packages",
        long,
        value_name = "G:A[,G:A...]"
    )]
    pub exclude_packages: Option<String>,

    /// An Ivy settings file, as Spark's spark.jars.ivySettings: its default resolver's
    /// ibiblio/url repositories replace Maven Central and spark-packages.
    #[arg(help_heading = "OS and Maven packages", long, value_name = "FILE")]
    pub ivy_settings: Option<PathBuf>,

    /// Where to write: oci:DIR, oci-archive:FILE, docker-archive:FILE (for `docker load`).
    /// [default: load into the Docker Engine if one answers, else oci:sparkimg-out]
    #[arg(help_heading = "Outputs and registry", long, value_name = "OUT")]
    pub output: Option<String>,

    /// Push the images to their registries, straight from the layer store (blobs first,
    /// then manifests, then tags; see `sparkimg push`); with --output/--load, after them.
    #[arg(help_heading = "Outputs and registry", long)]
    pub push: bool,

    /// Load into the Docker Engine (a `docker load` streamed from the build: no archive
    /// on disk; uncompressed layers unless --output or --compression asks otherwise).
    #[arg(help_heading = "Outputs and registry", long)]
    pub load: bool,

    /// SBOM documents to attach to every image as OCI referrers (in a layout or, pushed,
    /// in the registry; `--engine docker` attaches them to what it pushes).
    #[arg(long, value_name = "FORMAT", default_value = "spdx",
          value_parser = ["spdx", "cyclonedx", "both", "none"])]
    #[arg(help_heading = "Outputs and registry")]
    pub sbom: String,

    /// Also write each SBOM document to DIR (`<name>_<tag>_<os>-<arch>.spdx.json`, …).
    #[arg(help_heading = "Outputs and registry", long, value_name = "DIR")]
    pub sbom_dir: Option<PathBuf>,

    /// Print one JSON object (images with digests, layers built/cached) on stdout.
    #[arg(help_heading = "Outputs and registry", long)]
    pub json: bool,

    #[command(flatten, next_help_heading = "Registry access")]
    pub registry: RegistryArgs,

    #[command(flatten, next_help_heading = "Signing")]
    pub sign: SignArgs,

    /// Use this unpacked distribution instead of fetching one.
    #[arg(help_heading = "Distribution", long, value_name = "DIR", conflicts_with_all = ["dist", "hadoop", "scala", "mirrors"])]
    pub spark_home: Option<PathBuf>,

    /// Hadoop build, as for `sparkimg fetch`.
    #[arg(help_heading = "Distribution", long, value_name = "LINE")]
    pub hadoop: Option<String>,

    /// Scala build, as for `sparkimg fetch`.
    #[arg(help_heading = "Distribution", long, value_name = "VERSION")]
    pub scala: Option<String>,

    /// Mirror base URL (repeatable), as for `sparkimg fetch`.
    #[arg(help_heading = "Distribution", long = "mirror", value_name = "URL")]
    pub mirrors: Vec<String>,

    /// Do not fall back to the Apache mirrors.
    #[arg(help_heading = "Distribution", long)]
    pub no_default_mirrors: bool,

    /// Local .tgz or URL of the distribution, as for `sparkimg fetch`.
    #[arg(help_heading = "Distribution", long, value_name = "PATH_OR_URL", conflicts_with_all = ["hadoop", "scala", "mirrors"])]
    pub dist: Option<String>,

    /// Continue when no usable distribution checksum exists, and accept unsigned apt
    /// repositories for OS packages (checksums that exist are still checked).
    #[arg(help_heading = "Distribution", long)]
    pub insecure_skip_verify: bool,

    /// [default: gzip; none when only loading into the Docker Engine]
    #[arg(help_heading = "Reproducibility and caching", long, value_enum)]
    pub compression: Option<CompressionArg>,

    /// gzip 0-9 (default 1; on ISA-L, the default backend: 0, 1, and 2 for 2-9), zstd
    /// 1-19 (default 3).
    #[arg(
        help_heading = "Reproducibility and caching",
        long,
        value_name = "N",
        allow_negative_numbers = false
    )]
    pub compression_level: Option<i32>,

    /// Do not use or fill the layer cache (docker-image-tool.sh -n).
    #[arg(help_heading = "Reproducibility and caching", short = 'n', long)]
    pub no_cache: bool,

    #[command(flatten, next_help_heading = "Reproducibility and caching")]
    pub cache: CacheDirArg,

    /// `docker`: build with a Docker Engine from Dockerfiles instead of writing layers
    /// and manifests directly.
    #[arg(
        help_heading = "Docker Engine (--engine docker)",
        long,
        value_enum,
        default_value = "daemonless"
    )]
    pub engine: EngineArg,

    /// docker-image-tool.sh build args: java_image_tag=T (base eclipse-temurin:T),
    /// spark_uid=N (as -u); base_img is ignored. With --engine docker every K=V is
    /// passed to the Dockerfiles.
    #[arg(
        help_heading = "Docker Engine (--engine docker)",
        short = 'b',
        long = "build-arg",
        value_name = "K=V"
    )]
    pub build_args: Vec<String>,

    /// JVM Dockerfile (docker-image-tool.sh -f) instead of sparkimg's; --engine docker only.
    /// It gets the same context and build args as the built-in one.
    #[arg(
        help_heading = "Docker Engine (--engine docker)",
        short = 'f',
        long,
        value_name = "FILE"
    )]
    pub dockerfile: Option<String>,
}

const BUILD_TEXT: &str = "\
Layers, least to most often changing: base (untouched), third-party jars, spark-* jars,
--packages jars (also in jars/), examples/data, python (spark-py) or R (spark-r),
bin/sbin/conf/kubernetes, and a small system layer (/opt/spark-entrypoint, /usr/bin/tini
-> it, work-dir, /etc/passwd, /etc/localtime, /etc/timezone). Outputs are reproducible: SOURCE_DATE_EPOCH (default 0)
sets file times and `created`. Unchanged layers come from the cache without tar or
compression.

Without --output, --push or --load, the images are loaded into the Docker Engine when one
answers (as docker-image-tool.sh's `build` leaves them there), else written to
oci:sparkimg-out. --push alone pushes from the layer store and writes no files; several
of --output, --load and --push deliver to each in one run.

--engine docker builds from sparkimg's Dockerfiles (dockerfiles/ in the source; -f, -p
FILE, -R FILE replace them) with a build context holding only what they copy; -b K=V
are passed as build args (java_home=PATH skips the base's Java lookup).";

fn build_help() -> String {
    format!("{BUILD_TEXT}\n\n{}", sparkimg::exit::help())
}
