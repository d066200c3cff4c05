//! Checksum files from mirrors (sha512sum, BSD and `gpg --print-md` styles): a digest
//! or an error, never a panic; a digest is always 128 lower-case hex digits that occur
//! in the text (case aside, spaces and line breaks aside for the gpg style).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sparkimg::fetch::parse_sha512;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (name, body) = text
        .split_once('\n')
        .unwrap_or(("spark-3.5.3-bin-hadoop3.tgz", &text));
    if let Ok(hex) = parse_sha512(body, name) {
        assert_eq!(hex.len(), 128);
        assert!(
            hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{hex}"
        );
        let squeezed: String = body
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        assert!(squeezed.contains(&hex), "{hex} is not in the text");
    }
});
