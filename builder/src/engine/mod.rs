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
