//! The system layer's inputs: the time zone, the base's Java and passwd, and the
//! entrypoint binary (checked against the platform's architecture).

use super::base;
use super::plan;
use super::BuildError;
use super::Platform;
use super::SystemFiles;
use crate::layer::basefs;
use crate::layer::basefs::is_tzif;
use crate::layer::basefs::BaseFs;
use crate::layer::basefs::ZONEINFO;
use crate::layer::plan::Content;
use std::fs;
use std::path::Path;
use std::sync::Arc;

pub(super) fn host_zone_names(root: &Path) -> Vec<String> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let rel = e
                .path()
                .strip_prefix(root)
                .ok()?
                .to_string_lossy()
                .into_owned();
            if rel.starts_with("posix/") || rel.starts_with("right/") {
                return None;
            }
            let mut magic = [0u8; 4];
            use std::io::Read;
            fs::File::open(e.path()).ok()?.read_exact(&mut magic).ok()?;
            is_tzif(&magic).then_some(rel)
        })
        .collect()
}

/// The TZif bytes for `zone`: from the base when it ships zoneinfo, else from the host.
pub fn resolve_timezone(
    zone: &str,
    basefs: &BaseFs,
    host_zoneinfo: &Path,
) -> Result<Vec<u8>, BuildError> {
    let unknown = |names: Vec<String>| BuildError::UnknownTimezone {
        zone: zone.to_string(),
        suggestions: basefs::suggest_zones(zone, &names),
    };
    let base_has_zoneinfo = basefs
        .nodes
        .keys()
        .any(|k| k.starts_with("usr/share/zoneinfo/"));
    if !basefs::valid_zone_name(zone) {
        let names = if base_has_zoneinfo {
            basefs.zone_names()
        } else {
            host_zone_names(host_zoneinfo)
        };
        return Err(unknown(names));
    }
    if base_has_zoneinfo {
        return match basefs.read(&format!("{ZONEINFO}/{zone}")) {
            Some(b) if is_tzif(b) => Ok(b.to_vec()),
            _ => Err(unknown(basefs.zone_names())),
        };
    }
    match fs::read(host_zoneinfo.join(zone)) {
        Ok(b) if is_tzif(&b) => Ok(b),
        _ => Err(unknown(host_zone_names(host_zoneinfo))),
    }
}

/// `/usr/share/zoneinfo/<zone>` when the base has that zone, for `/etc/localtime` to
/// point to (as Debian's tzdata sets it up); `None` when the zone comes from the host.
pub fn localtime_link(zone: &str, basefs: &BaseFs) -> Option<String> {
    let path = format!("{ZONEINFO}/{zone}");
    (basefs::valid_zone_name(zone) && basefs.read(&path).is_some_and(is_tzif))
        .then(|| format!("/{path}"))
}

/// The base's Java: its config's `JAVA_HOME`, else one found in its files; none is
/// refused. One definition for `build` and `rebase`.
pub(crate) fn java_home(base: &base::BaseImage, basefs: &BaseFs) -> Result<String, BuildError> {
    let env_java = base
        .config
        .config()
        .as_ref()
        .and_then(|c| c.env().as_ref())
        .and_then(|env| {
            env.iter()
                .find_map(|l| l.strip_prefix("JAVA_HOME=").map(String::from))
        });
    env_java
        .or_else(|| basefs.java_home())
        .ok_or(BuildError::NoJava)
}

/// The system layer's files for a base: its passwd with our user, its zoneinfo (else the
/// host's) for `timezone`, and the entrypoint binary. `build` and `rebase` both use it.
pub(crate) fn system_files(
    basefs: &BaseFs,
    (timezone, uid): (&str, u64),
    host_zoneinfo: &Path,
    entrypoint: Content,
) -> Result<SystemFiles, BuildError> {
    let localtime = resolve_timezone(timezone, basefs, host_zoneinfo)?;
    let passwd = plan::passwd_with_spark(basefs.read("etc/passwd"), uid);
    Ok(SystemFiles {
        entrypoint,
        passwd: Arc::from(passwd),
        localtime: Arc::from(localtime),
        localtime_link: localtime_link(timezone, basefs),
        timezone: timezone.to_string(),
        uid,
    })
}

/// Refuses an entrypoint binary built for another architecture than the image's (it
/// would fail with "exec format error" in every container). Files that are not ELF are
/// left alone: there is nothing to compare.
pub(super) fn check_entrypoint_arch(
    path: &Path,
    arch: &str,
    want: &Platform,
) -> Result<(), BuildError> {
    use std::io::Read;
    let mut header = [0u8; 20];
    let mut f = fs::File::open(path).map_err(BuildError::io(path))?;
    if f.read_exact(&mut header).is_err() {
        return Ok(());
    }
    match elf_arch(&header) {
        Some(found) if found != arch => Err(BuildError::EntrypointArch {
            path: path.to_path_buf(),
            found: found.to_string(),
            arch: arch.to_string(),
            platform: want.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Pure: the OCI architecture name of an ELF file's machine field, when known.
pub fn elf_arch(header: &[u8]) -> Option<&'static str> {
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        return None;
    }
    // e_machine is at byte 18, in the file's byte order (EI_DATA: 1 little, 2 big).
    let machine = match header[5] {
        1 => u16::from_le_bytes([header[18], header[19]]),
        2 => u16::from_be_bytes([header[18], header[19]]),
        _ => return None,
    };
    Some(match machine {
        3 => "386",
        8 => "mips64",
        21 => "ppc64le",
        22 => "s390x",
        40 => "arm",
        62 => "amd64",
        183 => "arm64",
        243 => "riscv64",
        _ => return None,
    })
}
