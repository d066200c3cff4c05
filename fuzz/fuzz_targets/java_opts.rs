//! `SPARK_JAVA_OPT_<N>`: every value comes back whole and once, in numeric order of N,
//! and nothing else does.
#![no_main]

use std::os::unix::ffi::OsStrExt;

use libfuzzer_sys::fuzz_target;
use spark_entrypoint::javaopts::{collect, PREFIX};

fuzz_target!(|data: &[u8]| {
    let Some(inp) = sparkimg_fuzz::decode(data) else {
        return;
    };
    let opts = collect(&inp.env);
    let mut expected: Vec<(u128, &[u8])> = Vec::new();
    for (k, v) in inp.env.iter() {
        let Some(d) = k.as_bytes().strip_prefix(PREFIX.as_bytes()) else {
            continue;
        };
        if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
            continue;
        }
        let n = std::str::from_utf8(d).ok().and_then(|d| d.parse().ok());
        expected.push((n.unwrap_or(u128::MAX), v.as_bytes()));
    }
    assert_eq!(opts.len(), expected.len());
    let mut got: Vec<&[u8]> = opts.iter().map(|o| o.as_bytes()).collect();
    let mut want: Vec<&[u8]> = expected.iter().map(|e| e.1).collect();
    // Numeric order: the N of consecutive options never decreases.
    let n_of = |o: &[u8]| {
        expected
            .iter()
            .filter(|e| e.1 == o)
            .map(|e| e.0)
            .collect::<Vec<_>>()
    };
    for w in opts.windows(2) {
        let (a, b) = (n_of(w[0].as_bytes()), n_of(w[1].as_bytes()));
        assert!(a.iter().min() <= b.iter().max(), "{opts:?}");
    }
    got.sort();
    want.sort();
    assert_eq!(got, want);
});
