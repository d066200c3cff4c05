//! What the fuzz targets share: turning fuzzer bytes into container arguments and an
//! environment (the same encoding `seeds` writes from the entrypoint's test vectors).
//!
//! Encoding: byte 0 picks the Spark version from [`VERSIONS`]; the rest is split at NUL
//! bytes into items; an item starting with byte 1 is an environment variable (name
//! before the first `=`), any other item is the next container argument.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use spark_entrypoint::inputs::Env;

pub const VERSIONS: &[&str] = &[
    "2.3.0",
    "2.4.8",
    "3.0.3",
    "3.1.3",
    "3.2.4",
    "3.3.4",
    "3.4.4",
    "3.5.3",
    "4.0.1",
    "4.1.0-preview1",
];

pub struct Inputs {
    pub version: &'static str,
    pub args: Vec<OsString>,
    pub env: Env,
    /// Every byte string the inputs supplied (arguments, names, values).
    pub supplied: Vec<Vec<u8>>,
}

pub fn decode(data: &[u8]) -> Option<Inputs> {
    let (&v, rest) = data.split_first()?;
    let version = VERSIONS[v as usize % VERSIONS.len()];
    let mut args = Vec::new();
    let mut env = Env::new();
    let mut supplied = Vec::new();
    for item in rest.split(|b| *b == 0) {
        match item.split_first() {
            Some((1, var)) => {
                let (k, v) = match var.iter().position(|b| *b == b'=') {
                    Some(i) => (&var[..i], &var[i + 1..]),
                    None => (var, &b""[..]),
                };
                supplied.push(k.to_vec());
                supplied.push(v.to_vec());
                env.set(
                    OsString::from_vec(k.to_vec()),
                    OsString::from_vec(v.to_vec()),
                );
            }
            _ => {
                supplied.push(item.to_vec());
                args.push(OsString::from_vec(item.to_vec()));
            }
        }
    }
    Some(Inputs {
        version,
        args,
        env,
        supplied,
    })
}

/// The inverse of [`decode`], for seeds.
pub fn encode(version: usize, args: &[&[u8]], env: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = vec![version as u8];
    let mut items: Vec<Vec<u8>> = Vec::new();
    for (k, v) in env {
        items.push([&[1u8][..], k, b"=", v].concat());
    }
    items.extend(args.iter().map(|a| a.to_vec()));
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(it);
    }
    out
}
