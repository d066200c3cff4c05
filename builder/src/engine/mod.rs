//! The Docker Engine as a component: which daemon (`discovery`, pure), sparkimg's
//! Dockerfiles and their build args (`dockerfile`, pure), and the daemon client
//! (`daemon`, bollard). The build pipeline's engine stage (`build::engine`) drives it.

pub mod daemon;
pub mod discovery;
pub mod dockerfile;
pub mod error;

pub use daemon::Daemon;
pub use discovery::{discover, Endpoint, Found};
pub use error::EngineError;

use std::time::Duration;

/// How long a daemon may take to answer `_ping`: a local socket answers in
/// milliseconds; the bound only matters for a tcp:// host that drops packets.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// For the implicit load of a plain `sparkimg build`: no daemon is fine there, so do
/// not make the user wait long to find out.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Find and connect to the daemon (`DOCKER_HOST`, the docker context, the socket), or
/// fail with the hint towards the daemonless path.
pub fn connect() -> Result<Daemon, EngineError> {
    let d = Daemon::connect(discover()?, CONNECT_TIMEOUT)?;
    crate::report::note(&format!(
        "Docker Engine at {} (from {}), API {}",
        d.found.endpoint, d.found.source, d.api_version
    ));
    Ok(d)
}

/// A daemon if one answers soon, else `None` (for a load that is only a default).
pub fn probe() -> Option<Daemon> {
    Daemon::connect(discover().ok()?, PROBE_TIMEOUT).ok()
}
