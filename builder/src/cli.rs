//! Command-line surface. One subcommand per verb; `build` and `push` slot in beside `fetch`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  other error (I/O, cache, bad arguments to the library)
  2  usage error
  3  verification failed (checksum missing, unparsable or wrong; bad signature)
  4  download failed on every mirror (not found, network, server errors)
  5  unsafe or oversized archive refused";

#[derive(Debug, Parser)]
#[command(name = "sparkimg", version, about = "Build Apache Spark container images", after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download, verify and cache a Spark distribution; print its SPARK_HOME.
    Fetch(FetchArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProgressArg {
    Auto,
    Bar,
    Lines,
    Quiet,
}

#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
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

    /// Cache directory [default: $XDG_CACHE_HOME/sparkimg or ~/.cache/sparkimg].
    #[arg(long, value_name = "DIR", env = "SPARKIMG_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

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
