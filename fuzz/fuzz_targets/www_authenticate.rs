//! `WWW-Authenticate` headers from registries: a challenge or `None`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sparkimg::registry::challenge::parse_challenge;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_challenge(s);
    }
});
