//! Reading an OCI image layout: the names its index entries carry, which entry a
//! `:REF` selects, and an image archive (`oci-archive:`, `docker save`) unpacked
//! into a directory to read as a layout.

use std::io::{self, Read};
use std::path::Path;

use super::reference::answers_to;

/// The tag (or name) of an index entry, as the OCI spec and skopeo write it.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The full reference of an index entry, as containerd, docker and sparkimg write it.
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// The names an index entry carries, the full reference first; `get` looks an
/// annotation up.
pub fn entry_names<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Vec<&'a str> {
    [CONTAINERD_NAME, REF_NAME]
        .iter()
        .filter_map(|k| get(k))
        .collect()
}

/// Whether an index entry answers to `selector` (a tag, or a full name:tag).
pub fn entry_answers_to<'a>(get: impl Fn(&str) -> Option<&'a str>, selector: &str) -> bool {
    entry_names(get).iter().any(|n| answers_to(n, selector))
}

/// Unpacks an image archive into a new temporary directory named `prefix…`, kept as
/// long as the returned guard lives. `archive` is the tar stream, already
/// decompressed. tar's unpack refuses entries escaping the directory (`..`, absolute
/// paths).
pub fn unpack_archive(archive: impl Read, prefix: &str) -> io::Result<tempfile::TempDir> {
    let tmp = tempfile::Builder::new().prefix(prefix).tempdir()?;
    tar::Archive::new(archive).unpack(tmp.path())?;
    Ok(tmp)
}

/// Whether `dir` holds an OCI layout (`index.json`), as an unpacked archive must.
pub fn is_layout(dir: &Path) -> bool {
    dir.join("index.json").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn names_full_reference_first_and_selection_by_tag() {
        let a = HashMap::from([
            (REF_NAME.to_string(), "3.5.3".to_string()),
            (
                CONTAINERD_NAME.to_string(),
                "r.io/x/spark:3.5.3".to_string(),
            ),
        ]);
        let get = |k: &str| a.get(k).map(String::as_str);
        assert_eq!(entry_names(get), ["r.io/x/spark:3.5.3", "3.5.3"]);
        assert!(entry_answers_to(get, "3.5.3"));
        assert!(entry_answers_to(get, "r.io/x/spark:3.5.3"));
        assert!(!entry_answers_to(get, "3.5"));
    }
}
