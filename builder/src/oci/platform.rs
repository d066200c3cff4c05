//! Platforms as OCI spells them (`linux/amd64`, `linux/arm64/v8`): parsed, printed and
//! matched here only.

use super::OciError;

/// `linux/amd64`, `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn parse(s: &str) -> Result<Platform, OciError> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || OciError::InvalidPlatform(s.to_string());
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                arch: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] if !os.is_empty() && !arch.is_empty() && !v.is_empty() => Ok(Platform {
                os: os.to_string(),
                arch: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err(bad()),
        }
    }

    /// The machine we run on, in OCI's spelling.
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform {
            os: "linux".into(),
            arch: arch.into(),
            variant: None,
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// What an image says of its platforms: a multi-platform index lists them (in its
/// order); a single image manifest has one, which its config declares
/// (`os`/`architecture`/`variant`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImagePlatforms {
    Index(Vec<Platform>),
    Single(Platform),
}

impl ImagePlatforms {
    /// Pure: the platforms of image `shown` to act on (rebase, outdated). An index:
    /// those asked for, else all it lists (none: this machine's). A single-platform
    /// image: the platform its config declares, whatever this machine is; a
    /// `--platform` it does not serve is refused, naming both.
    pub fn select(self, shown: &str, asked: &[Platform]) -> Result<Vec<Platform>, OciError> {
        match self {
            ImagePlatforms::Index(listed) => Ok(match (asked.is_empty(), listed.is_empty()) {
                (false, _) => asked.to_vec(),
                (true, false) => listed,
                (true, true) => vec![Platform::host()],
            }),
            ImagePlatforms::Single(own) => match asked.iter().find(|p| !own.serves(p)) {
                Some(p) => Err(OciError::PlatformNotServed {
                    asked: p.to_string(),
                    shown: shown.to_string(),
                    own: own.to_string(),
                }),
                None => Ok(vec![own]),
            },
        }
    }
}

impl Platform {
    /// Whether an image of this platform is what `want` asks for (`want` without a
    /// variant takes any variant, as index selection does).
    pub fn serves(&self, want: &Platform) -> bool {
        self.os == want.os
            && self.arch == want.arch
            && (want.variant.is_none() || self.variant == want.variant)
    }
}
