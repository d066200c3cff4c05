//! Registry client (OCI distribution spec) on the shared [`crate::http`] client: pull
//! base images, push built images.
//!
//! Pure: [`reference`] (names, Docker Hub, which hosts may use HTTP), [`challenge`]
//! (`WWW-Authenticate`, scope merging, token answers), [`credentials::lookup`]
//! (docker/podman credential files), [`manifest`] (media types, platform selection),
//! the retry policy (shared with `fetch`: [`crate::http::retry`]), [`push::pick_mount_source`].
//! Effects: [`client`] (transport, auth handshake, retry loop), [`push`], [`pull`],
//! [`layout`] (reading an OCI layout into push plans), [`progress`].

pub mod challenge;
pub mod client;
pub mod credentials;
pub mod error;
pub mod layout;
pub mod manifest;
pub mod mirrors;
pub mod progress;
pub mod pull;
pub mod push;
pub mod reference;

pub use client::RegistryOptions;
pub use credentials::{AuthSources, Credentials};
pub use error::RegistryError;
pub use pull::{
    blobs_once, manifest_descriptor, manifest_if_any, pull, referrers, Pulled, Referrers,
};
pub use push::{push, PushPlan, PushReport};
pub use reference::RegistryRef;
