//! docker `config.json` and podman `auth.json`: parsed or refused, and any lookup on a
//! parsed file gives an answer without a panic; `--creds` text too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sparkimg::registry::credentials::{lookup, AuthFile, Credentials};

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = serde_json::from_slice::<AuthFile>(data) {
        let files = [f];
        for host in ["docker.io", "127.0.0.1:5000", "quay.io", "[::1]:5000", ""] {
            let _ = lookup(&files, host);
        }
        for k in files[0].auths.keys() {
            let _ = lookup(&files, k);
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Credentials::parse_user_pass(s);
    }
});
