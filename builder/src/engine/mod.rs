//! The Docker Engine path: build from sparkimg's Dockerfiles through a daemon
//! (`--engine docker`), load daemonless builds into it (`--load`), push through it
//! (`push --engine docker`).
//!
//! Pure: [`discovery`] (which daemon), [`context`] (what the build context holds),
//! [`dockerfile`] (the Dockerfiles and their build args). Effects: [`daemon`] (bollard),
//! [`sbom`] (the images' SBOMs).

pub mod build;
pub mod context;
pub mod daemon;
pub mod discovery;
pub mod dockerfile;
pub mod error;
pub mod sbom;

pub use daemon::Daemon;
pub use discovery::{discover, Endpoint, Found};
pub use error::EngineError;

use std::path::PathBuf;

use crate::image::{output, Assembled, OutputSpec};
use crate::registry::{Credentials, RegistryOptions, RegistryRef};

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

/// Credentials for a daemon push of `reference`, from the same sources as the registry
/// client (`opts.credentials`, resolved once per run, else the auth files and helpers).
fn docker_credentials(
    reference: &str,
    opts: &RegistryOptions,
) -> Result<Option<bollard::auth::DockerCredentials>, EngineError> {
    let host = RegistryRef::parse(reference)?.registry;
    let creds = match &opts.credentials {
        Some(c) => Some(c.clone()),
        None => opts.auth.resolve(&host).map_err(Box::new)?,
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

/// Push `reference` through the daemon; returns its `repo@digest`.
pub fn push_image(
    daemon: &Daemon,
    reference: &str,
    opts: &RegistryOptions,
    log: &mut dyn FnMut(&str),
) -> Result<String, EngineError> {
    let creds = docker_credentials(reference, opts)?;
    let digest = daemon.push(reference, creds, log)?;
    let (name, _) = daemon::split_tag(reference);
    match digest {
        Some(d) => Ok(format!("{name}@{d}")),
        None => Err(EngineError::Daemon {
            what: format!("push {reference}"),
            detail: "the daemon reported no digest".into(),
        }),
    }
}
