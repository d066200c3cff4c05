//! Jars, a leaf: Maven coordinates from a jar's own `META-INF/maven/<g>/<a>/pom.properties`
//! (pure: [`parse_pom_properties`], [`from_file_name`]), and [`scan`], which reads a
//! jar once: sha1 and sha256 of its bytes, then from the same bytes the zip central
//! directory and only the pom.properties entries. A jar the layer build has just tarred
//! comes with its hashes ([`HashingReader`] tees them off the tar's read), so only its
//! central directory and pom.properties entries are read again. The SBOM (`sbom::jar`)
//! and `--packages` (`maven::stage`) both read jars through it.

use std::io::Read;
use std::path::Path;

pub use crate::digest::{Hashes, HashingReader};
use crate::digest::{Sha1, Sha256};

/// A jar that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum JarError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl JarError {
    fn io(path: impl Into<std::path::PathBuf>) -> impl FnOnce(std::io::Error) -> JarError {
        let path = path.into();
        move |source| JarError::Io { path, source }
    }
}

/// `groupId:artifactId:version` of one pom.properties.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Coordinates {
    pub group: String,
    pub artifact: String,
    pub version: String,
}

/// What one read of a jar found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JarFacts {
    pub sha1: String,
    pub sha256: String,
    /// Every pom.properties, sorted; several for a shaded jar.
    pub poms: Vec<Coordinates>,
    /// Why no coordinates could be read (not a zip), if so.
    pub unreadable: Option<String>,
}

/// Java properties, the subset pom.properties uses: `key=value` or `key: value`, `#`
/// and `!` comments.
pub fn parse_pom_properties(text: &str) -> Option<Coordinates> {
    let mut group = None;
    let mut artifact = None;
    let mut version = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', '!']) {
            continue;
        }
        let Some((k, v)) = line.split_once(['=', ':']) else {
            continue;
        };
        let v = Some(v.trim().to_string());
        match k.trim() {
            "groupId" => group = v,
            "artifactId" => artifact = v,
            "version" => version = v,
            _ => {}
        }
    }
    Some(Coordinates {
        group: group.filter(|s| !s.is_empty())?,
        artifact: artifact.filter(|s| !s.is_empty())?,
        version: version.filter(|s| !s.is_empty())?,
    })
}

/// `spark-core_2.12-3.5.3.jar` → (`spark-core_2.12`, `3.5.3`): the version starts at
/// the first `-` followed by a digit.
pub fn from_file_name(file: &str) -> (String, String) {
    let stem = file.strip_suffix(".jar").unwrap_or(file);
    let bytes = stem.as_bytes();
    let cut = (1..bytes.len()).find(|&i| bytes[i - 1] == b'-' && bytes[i].is_ascii_digit());
    match cut {
        Some(i) => (stem[..i - 1].to_string(), stem[i..].to_string()),
        None => (stem.to_string(), String::new()),
    }
}

/// [`scan`], remembered in `cache` (a directory) by the file's path, size and mtime, so
/// an unchanged rebuild reads no jar. A cache that cannot be read or written only costs
/// the scan.
pub fn scan_cached(
    file: &Path,
    cache: Option<&Path>,
    hashes: Option<Hashes>,
) -> Result<JarFacts, JarError> {
    use std::os::unix::fs::MetadataExt;
    let scan = |file: &Path| match hashes {
        Some(h) => scan_hashed(file, h),
        None => scan(file),
    };
    let Some(dir) = cache else {
        return scan(file);
    };
    let md = std::fs::metadata(file).map_err(JarError::io(file))?;
    let key = format!(
        "{}\0{}\0{}.{}",
        file.display(),
        md.len(),
        md.mtime(),
        md.mtime_nsec()
    );
    let entry = dir.join(hex::encode(Sha256::digest(key)));
    if let Some(f) = std::fs::read(&entry)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
    {
        return Ok(f);
    }
    let facts = scan(file)?;
    if let Ok(bytes) = serde_json::to_vec(&facts) {
        let _ = std::fs::create_dir_all(dir).and_then(|_| {
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            std::io::Write::write_all(&mut tmp, &bytes)?;
            tmp.persist(&entry).map(|_| ()).map_err(|e| e.error)
        });
    }
    Ok(facts)
}

/// Reads the jar at `file` once. A file that is not a zip still gets its hashes.
pub fn scan(file: &Path) -> Result<JarFacts, JarError> {
    let bytes = std::fs::read(file).map_err(JarError::io(file))?;
    Ok(scan_bytes(&bytes))
}

/// [`scan`] of a jar already in memory (e.g. read from an image's exported file system).
pub fn scan_bytes(bytes: &[u8]) -> JarFacts {
    let sha1 = hex::encode(Sha1::digest(bytes));
    let sha256 = hex::encode(Sha256::digest(bytes));
    let poms =
        rawzip::ZipArchive::from_slice(bytes).and_then(|zip| read_poms(&zip.into_reader_archive()));
    facts((sha1, sha256), poms)
}

/// A jar whose `hashes` are known (the layer build teed them off): only its central
/// directory and pom.properties entries are read.
pub fn scan_hashed(file: &Path, hashes: Hashes) -> Result<JarFacts, JarError> {
    let f = std::fs::File::open(file).map_err(JarError::io(file))?;
    let mut buf = vec![0; rawzip::RECOMMENDED_BUFFER_SIZE];
    let poms = rawzip::ZipArchive::from_file(f, &mut buf).and_then(|zip| read_poms(&zip));
    Ok(facts(hashes, poms))
}

fn facts((sha1, sha256): Hashes, poms: Result<Vec<Coordinates>, rawzip::Error>) -> JarFacts {
    let (poms, unreadable) = match poms {
        Ok(p) => (p, None),
        Err(e) => (Vec::new(), Some(format!("not a readable jar: {e}"))),
    };
    JarFacts {
        sha1,
        sha256,
        poms,
        unreadable,
    }
}

/// pom.properties is a few hundred bytes; more than this is not one (or is a bomb).
const MAX_POM_PROPERTIES: u64 = 64 * 1024;

/// The coordinates of every `META-INF/maven/**/pom.properties` entry. rawzip, not the
/// zip crate: it walks the central directory without building an index of every entry
/// (a twentieth of the zip crate's time on Spark's 137,000 entries).
fn read_poms<R: rawzip::ReaderAt>(
    zip: &rawzip::ZipArchive<R>,
) -> Result<Vec<Coordinates>, rawzip::Error> {
    let mut buf = vec![0; rawzip::RECOMMENDED_BUFFER_SIZE];
    let mut wanted = Vec::new();
    let mut entries = zip.entries(&mut buf);
    while let Some(e) = entries.next_entry()? {
        let name = e.file_path();
        let name = name.as_ref();
        if name.starts_with(b"META-INF/maven/") && name.ends_with(b"/pom.properties") {
            wanted.push((e.wayfinder(), e.compression_method()));
        }
    }
    let mut poms = Vec::new();
    for (at, method) in wanted {
        // A damaged entry loses one coordinate, not the jar.
        if let Some(text) = read_entry(zip, at, method) {
            poms.extend(parse_pom_properties(&text));
        }
    }
    poms.sort();
    poms.dedup();
    Ok(poms)
}

/// One stored or deflated entry as text, at most [`MAX_POM_PROPERTIES`] bytes.
fn read_entry<R: rawzip::ReaderAt>(
    zip: &rawzip::ZipArchive<R>,
    at: rawzip::ZipArchiveEntryWayfinder,
    method: rawzip::CompressionMethod,
) -> Option<String> {
    let entry = zip.get_entry(at).ok()?;
    let raw: Box<dyn Read> = match method {
        rawzip::CompressionMethod::STORE => Box::new(entry.reader()),
        rawzip::CompressionMethod::DEFLATE => {
            Box::new(flate2::read::DeflateDecoder::new(entry.reader()))
        }
        _ => return None,
    };
    let mut text = String::new();
    entry
        .verifying_reader(raw.take(MAX_POM_PROPERTIES))
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}
