//! `cargo xtask bench push`: `sparkimg push` against `skopeo copy` of the same OCI
//! layout to a real registry (Debian's `docker-registry`, the CNCF distribution) on
//! 127.0.0.1, plus an unchanged re-push whose requests are counted from the access log.
//!
//! The image is the real one: the fixture Spark distribution on the fixture JVM base,
//! built by `sparkimg build` into an OCI layout once (untimed).

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use serde_json::json;

use super::{timed, Options, Row, Stats};
use crate::util::{self, human_size, Step};

pub(super) const REGISTRY: &str = "/usr/bin/docker-registry";
const MAX_UNCHANGED_NS: u64 = 500_000_000;
/// Issue 19: a cold push at least 1.5× as fast as skopeo's.
const MIN_SPEEDUP: f64 = 1.5;
/// The push floor: every blob of the layout uploaded at once, one `curl -T` each (a
/// POST for the session, then the monolithic PUT), into the same kind of registry.
const CURL_FLOOR: &str = r#"set -euo pipefail
reg=$1; dir=$2; pids=()
for f in "$dir"/*; do
  (
    loc=$(curl -sSf -X POST -D - -o /dev/null "http://$reg/v2/bench/floor/blobs/uploads/" \
      | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
    case $loc in http*) ;; *) loc="http://$reg$loc" ;; esac
    case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
    curl -sSf -o /dev/null -T "$f" "$loc${sep}digest=sha256:$(basename "$f")"
  ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
"#;

pub fn run(opts: &Options) -> Result<Vec<Row>> {
    let runs = opts.runs.unwrap_or(if opts.quick { 1 } else { 3 });
    ensure!(runs > 0, "--runs must be positive");
    ensure!(
        Path::new(REGISTRY).is_file() && util::have("skopeo"),
        "needs Debian's docker-registry and skopeo (apt-get install docker-registry skopeo)"
    );
    let inputs = super::build::inputs()?;
    let (version, sparkimg) = (inputs.version.clone(), inputs.sparkimg.clone());
    let dir = util::target_dir().join("bench").join("push");
    fs::create_dir_all(&dir)?;
    let layout = image(&inputs, &dir)?;
    let source = format!("oci:{}", layout.display());
    let size = dir_size(&layout.join("blobs"));

    let step = Step::start(format!(
        "bench: push {} to a loopback registry, {runs} runs per side",
        human_size(size)
    ));
    let (mut ours, mut theirs, mut unchanged) = (vec![], vec![], vec![]);
    let mut floor = vec![];
    let mut requests = Vec::new();
    for i in 0..runs {
        // A fresh registry (empty storage) per side and run: cold pushes, no mounts.
        let push_ours = |registry: &Registry| -> Result<u64> {
            let to = format!("{}/bench/spark:{version}", registry.host());
            timed(
                Command::new(&sparkimg)
                    .args(["push", &source, "--to", &to, "--progress", "quiet"])
                    .arg("--cache-dir")
                    .arg(registry.dir.join("client-cache"))
                    .stdout(Stdio::null()),
                "sparkimg push",
            )
        };
        let registry = Registry::start(&dir, &format!("ours-{i}"))?;
        ours.push(push_ours(&registry)?);
        let before = registry.log_len();
        unchanged.push(push_ours(&registry)?);
        requests.push(registry.requests_since(before));
        drop(registry);

        floor.push(curl_floor(&dir, i, &layout.join("blobs/sha256"))?);
        theirs.push(skopeo_copy(
            &dir,
            i,
            &format!("{source}:{version}"),
            &version,
        )?);
    }
    step.done();

    let ours = Stats::of(&ours);
    let theirs = Stats::of(&theirs);
    let unchanged = Stats::of(&unchanged);
    let floor = Stats::of(&floor);
    let ratio = theirs.median as f64 / ours.median.max(1) as f64;
    let last = requests.last().cloned().unwrap_or_default();
    let counts = summarize(&last);
    let blob_writes = last
        .iter()
        .filter(|(m, uri)| (m == "POST" || m == "PUT" || m == "PATCH") && uri.contains("/blobs/"))
        .count();
    Ok(vec![
        Row {
            label: "push: cold, vs skopeo copy".into(),
            what: format!(
                "push spark {version} ({}), cold, to a loopback registry (median of {runs}); theirs: skopeo copy oci:… docker://…",
                human_size(size)
            ),
            ours: ours.describe(),
            theirs: theirs.describe(),
            ratio: Some(ratio),
            target: format!("≥ {MIN_SPEEDUP}×"),
            pass: Some(ratio >= MIN_SPEEDUP),
            detail: json!({ "runs": runs, "bytes": size, "ours": ours.to_json(), "theirs": theirs.to_json() }),
        },
        Row {
            label: "push: cold vs floor (parallel curl -T)".into(),
            what: format!(
                "push spark {version} ({}), cold, to a loopback registry (median of {runs}); theirs: the floor, every blob uploaded at once by its own curl -T",
                human_size(size)
            ),
            ours: ours.describe(),
            theirs: floor.describe(),
            ratio: Some(floor.median as f64 / ours.median.max(1) as f64),
            target: String::new(),
            pass: None,
            detail: json!({ "runs": runs, "bytes": size, "ours": ours.to_json(), "theirs": floor.to_json() }),
        },
        Row {
            label: "push: unchanged re-push".into(),
            what: format!("push spark {version} again, unchanged; requests: {counts}"),
            ours: unchanged.describe(),
            theirs: "—".into(),
            ratio: None,
            target: format!("< {}, no blob uploads", super::ms(MAX_UNCHANGED_NS)),
            pass: Some(unchanged.median < MAX_UNCHANGED_NS && blob_writes == 0),
            detail: json!({ "runs": runs, "ours": unchanged.to_json(), "requests": last }),
        },
    ])
}

/// The image to push, built into `dir/image` (cached, untimed).
fn image(inputs: &super::build::Inputs, dir: &Path) -> Result<PathBuf> {
    let layout = dir.join("image");
    let step = Step::start("bench: the image to push (sparkimg build, cached)");
    util::run(
        Command::new(&inputs.sparkimg)
            .args([
                "build",
                "-r",
                "bench",
                "-t",
                &inputs.version,
                "--spark-home",
            ])
            .arg(&inputs.spark_home)
            .arg("--base")
            .arg(&inputs.base_ref)
            .arg("--entrypoint-binary")
            .arg(&inputs.entrypoint)
            .arg("--output")
            .arg(format!("oci:{}", layout.display()))
            .arg("--cache-dir")
            .arg(dir.join("cache"))
            .stdout(Stdio::null()),
    )?;
    step.done();
    Ok(layout)
}

/// The push floor into a fresh registry: [`CURL_FLOOR`] on the layout's blobs.
fn curl_floor(dir: &Path, i: usize, blobs: &Path) -> Result<u64> {
    let registry = Registry::start(dir, &format!("curl-{i}"))?;
    timed(
        Command::new("bash")
            .args(["-c", CURL_FLOOR, "bash", &registry.host()])
            .arg(blobs),
        "curl -T (the push floor)",
    )
}

/// `skopeo copy` of `source` (a one-image layout named by its tag, see `sparkimg
/// build`) into a fresh registry.
fn skopeo_copy(dir: &Path, i: usize, source: &str, version: &str) -> Result<u64> {
    let registry = Registry::start(dir, &format!("skopeo-{i}"))?;
    timed(
        Command::new("skopeo")
            .args(["copy", "-q", "--dest-tls-verify=false", source])
            .arg(format!(
                "docker://{}/bench/spark:{version}",
                registry.host()
            )),
        "skopeo copy",
    )
}

/// `HEAD 7, PUT 1, GET 1` from a request list.
fn summarize(requests: &[(String, String)]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for (method, _) in requests {
        match counts.iter_mut().find(|(m, _)| m == method) {
            Some((_, n)) => *n += 1,
            None => counts.push((method.clone(), 1)),
        }
    }
    counts
        .iter()
        .map(|(m, n)| format!("{m} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn dir_size(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let md = e.metadata();
            match md {
                Ok(md) if md.is_dir() => dir_size(&e.path()),
                Ok(md) => md.len(),
                Err(_) => 0,
            }
        })
        .sum()
}

/// One `docker-registry serve` on a free loopback port with its own storage; stopped
/// and removed on drop.
pub(super) struct Registry {
    pub(super) dir: PathBuf,
    port: u16,
    child: Child,
}

impl Registry {
    pub(super) fn start(parent: &Path, name: &str) -> Result<Registry> {
        let dir = parent.join(format!(".registry-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        fs::write(dir.join("config.yml"), config)?;
        let log = fs::File::create(dir.join("access.log"))?;
        let child = Command::new(REGISTRY)
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start docker-registry")?;
        let registry = Registry { dir, port, child };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(20) {
                bail!("docker-registry did not listen on 127.0.0.1:{port} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(registry)
    }

    pub(super) fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(super) fn log_len(&self) -> u64 {
        fs::metadata(self.dir.join("access.log")).map_or(0, |m| m.len())
    }

    /// `(method, uri)` of the access-log lines written since byte `from`.
    pub(super) fn requests_since(&self, from: u64) -> Vec<(String, String)> {
        let bytes = fs::read(self.dir.join("access.log")).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes[(from as usize).min(bytes.len())..]).into_owned();
        text.lines()
            .filter_map(|l| {
                let rest = &l[l.find("] \"")? + 3..];
                let mut parts = rest.split(' ');
                let (method, uri) = (parts.next()?, parts.next()?);
                uri.starts_with("/v2/")
                    .then(|| (method.to_string(), uri.to_string()))
            })
            .collect()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
