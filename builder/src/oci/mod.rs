//! The OCI data model, a leaf: content digests, platforms, the one reference grammar
//! (registry names and tags, `oci:`/`oci-archive:`/`docker-archive:`/`rootfs:`
//! locations), the image JSON documents (config, manifest, index, referrers) in
//! canonical form, and reading a layout's index. It uses nothing of ours but the hash
//! functions of [`crate::digest`].

pub mod digest;
mod error;
pub mod json;
pub mod layout;
pub mod platform;
pub mod reference;

pub use digest::{blob_path, Digest};
pub use error::OciError;
pub use json::JsonBlob;
pub use platform::{ImagePlatforms, Platform};
pub use reference::{BaseSpec, ImageRef, Location, OutputSpec, RegistryRef};
