//! What the OCI model refuses: a name, location, platform or digest that does not
//! parse. All are the user's input, so the exit code is a usage error, except an image
//! asked for a platform it does not serve.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum OciError {
    #[error("invalid image reference '{reference}': {reason}")]
    InvalidReference { reference: String, reason: String },

    #[error("invalid location '{location}': {reason}")]
    InvalidLocation { location: String, reason: String },

    #[error("invalid platform '{0}': expected OS/ARCH[/VARIANT], e.g. linux/amd64")]
    InvalidPlatform(String),

    #[error("invalid digest '{0}': expected sha256: and 64 lowercase hex digits")]
    InvalidDigest(String),

    #[error(
        "--platform {asked} does not match {shown}: it is a single-platform image whose \
         config says {own} (drop --platform, or pass --platform {own})"
    )]
    PlatformNotServed {
        asked: String,
        shown: String,
        own: String,
    },
}
