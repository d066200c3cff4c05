//! The Docker Engine path: build from sparkimg's Dockerfiles through a daemon
//! (`--engine docker`), load daemonless builds into it (`--load`), push through it
//! (`push --engine docker`).
//!
//! Pure: [`discovery`] (which daemon), [`context`] (what the build context holds),
//! [`dockerfile`] (the Dockerfiles and their build args). Effects: [`daemon`] (bollard).

pub mod build;
pub mod context;
pub mod daemon;
pub mod discovery;
pub mod dockerfile;
pub mod error;

pub use daemon::Daemon;
pub use discovery::{discover, Endpoint, Found};
pub use error::EngineError;

use std::path::PathBuf;

use crate::image::{output, Assembled, OutputSpec};

/// `--load`: stream `assembled` into the daemon as a `docker load` archive (the layers
/// as they are in the layer store; uncompressed ones make the daemon's unpacking
/// cheapest). Images are tagged by the archive's manifest.json RepoTags.
pub fn load(
    daemon: &Daemon,
    assembled: &Assembled,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    let a = assembled.clone();
    daemon.load(
        Box::new(move |w| {
            // Only named in error messages: the archive never touches the disk.
            let spec = OutputSpec::DockerArchive(PathBuf::from("docker load stream"));
            output::write_archive(&a.to_output(&spec), w)?;
            Ok(())
        }),
        log,
    )
}
