//! Image references (`--base`, `--to`, `--name`, `--output`): parsed or refused, never
//! a panic; a parsed registry reference prints as text that parses to the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sparkimg::oci::reference::{name_or_ref, parse_ref, BaseSpec, OutputSpec};
use sparkimg::oci::RegistryRef;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = RegistryRef::parse(s) {
        let again = RegistryRef::parse(&r.to_string()).expect("a printed reference parses");
        assert_eq!(again.to_string(), r.to_string());
    }
    let _ = parse_ref(s);
    let _ = name_or_ref(s, "3.5.3");
    let _ = BaseSpec::parse(s);
    let _ = OutputSpec::parse(s);
});
