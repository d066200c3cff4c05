//! `sparkimg keygen`: an ECDSA P-256 key pair for `--sign-key`, as `cosign
//! generate-key-pair` writes it (PREFIX.key encrypted in cosign's format, PREFIX.pub).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use sparkimg::sign::{key, SignError};

use super::args::KeygenArgs;
use super::support;

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Writes `bytes` to `path` (mode `mode`) through a temporary file beside it, never
/// over an existing file.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SignError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(SignError::io(dir))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .and_then(|_| tmp.write_all(bytes))
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(SignError::io(path))?;
    tmp.persist_noclobber(path)
        .map_err(|e| match e.error.kind() {
            std::io::ErrorKind::AlreadyExists => SignError::Exists {
                path: path.to_path_buf(),
            },
            _ => SignError::Io {
                path: path.to_path_buf(),
                source: e.error,
            },
        })?;
    Ok(())
}

pub fn run(args: KeygenArgs) -> Result<()> {
    let (private, public) = (
        with_suffix(&args.output_key_prefix, ".key"),
        with_suffix(&args.output_key_prefix, ".pub"),
    );
    for p in [&private, &public] {
        if p.exists() {
            return Err(SignError::Exists { path: p.clone() }.into());
        }
    }
    let pass = support::passphrase(args.key_pass_stdin, "private key's")?;
    if pass.as_deref().is_none_or(<[u8]>::is_empty) {
        sparkimg::report::warn(&format!(
            "{} is encrypted with the empty passphrase (pass --key-pass-stdin or set {})",
            private.display(),
            sparkimg::env_vars::KEY_PASSWORD
        ));
    }
    let (key_pem, pub_pem) = key::generate_pair(pass.as_deref().unwrap_or_default())?;
    write_new(&private, key_pem.as_bytes(), 0o600)?;
    if let Err(e) = write_new(&public, pub_pem.as_bytes(), 0o644) {
        // Nothing half-written: a key without its public half is removed again.
        let _ = std::fs::remove_file(&private);
        return Err(e.into());
    }
    eprintln!(
        "sparkimg: private key written to {}, public key to {}",
        private.display(),
        public.display()
    );
    outln!("{}", public.display())?;
    Ok(())
}
