//! The Spark version grammar: parsed or refused, never a panic; what parses prints as
//! text that parses to an equal version, and the order agrees with equality.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spark_version::{Patch, SparkVersion};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for patch in [Patch::Required, Patch::Optional] {
        if let Ok(v) = SparkVersion::parse(s, patch) {
            let again = SparkVersion::parse(&v.to_string(), patch).expect("printed version parses");
            assert_eq!(again, v);
            assert_eq!(again.cmp(&v), std::cmp::Ordering::Equal);
        }
    }
    let _ = SparkVersion::from_release_file(s);
    let _ = SparkVersion::from_core_jar_name(s);
    let _ = spark_entrypoint::version::parse(s);
});
