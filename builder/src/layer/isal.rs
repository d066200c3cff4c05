//! Effects: raw deflate of one block with Intel's ISA-L (`isal_deflate_stateless`), the
//! only `unsafe` code of the layer build, kept to one safe type.
//!
//! Written over isal-sys's bindings because isal-rs's safe API always ends the stream
//! (a final block); [`super::compress`] needs byte-aligned, non-final blocks it can
//! join. Each block is deflated from a fresh state (no shared history), with the
//! level's default buffer size from the pinned headers, so the bytes depend only on
//! the input, the level and the ISA-L revision.
//!
//! Levels 0–2 only. Measured under qemu with other CPU models (2026-12-07): levels 0–2
//! give the same bytes on AVX-512, AVX2, AVX and SSE4.2 CPUs, level 3 gives other bytes
//! on each (its matcher is chosen by CPU), and a CPU without SSE4.2 (ISA-L's portable C
//! hash) gives other bytes at levels 1–2. [`available`] says whether this CPU is one
//! whose bytes match.

use std::io;

use isal_sys::igzip_lib as ffi;

/// ISA-L's highest level whose output does not depend on the CPU (see the module docs).
pub const MAX_LEVEL: u32 = 2;

/// True when this CPU gives the reproducible bytes: x86_64 with SSE4.2 (ISA-L's CRC
/// hash; every x86_64 CPU since about 2011).
pub fn available() -> bool {
    std::arch::is_x86_feature_detected!("sse4.2")
}

/// A reusable ISA-L deflate state for one level.
pub struct Deflater {
    level: u32,
    level_buf: Vec<u8>,
    /// 80 KiB: on the heap.
    stream: Box<ffi::isal_zstream>,
}

// SAFETY: the raw pointers in `stream` are only set for the duration of one
// `deflate` call and point into buffers that call borrows; nothing is shared.
unsafe impl Send for Deflater {}

impl Deflater {
    /// `level` must be at most [`MAX_LEVEL`].
    pub fn new(level: u32) -> Deflater {
        let level = level.min(MAX_LEVEL);
        let buf_size = match level {
            0 => 0,
            1 => ffi::ISAL_DEF_LVL1_DEFAULT,
            _ => ffi::ISAL_DEF_LVL2_DEFAULT,
        };
        let mut stream = Box::<ffi::isal_zstream>::new_uninit();
        // SAFETY: isal_deflate_stateless_init writes every field of the stream.
        let stream = unsafe {
            ffi::isal_deflate_stateless_init(stream.as_mut_ptr());
            stream.assume_init()
        };
        Deflater {
            level,
            level_buf: vec![0; buf_size as usize],
            stream,
        }
    }

    /// Raw deflate of `input` into `out` (cleared first): the last block of the
    /// stream when `last`, else ended by a byte-aligned full flush.
    pub fn deflate(&mut self, input: &[u8], last: bool, out: &mut Vec<u8>) -> io::Result<()> {
        let len = u32::try_from(input.len())
            .map_err(|_| io::Error::other("an ISA-L block must be under 4 GiB"))?;
        // Stored blocks bound the growth: 5 bytes per 64 KiB, plus headers.
        let mut room = input.len() + input.len() / 64 + 1024;
        loop {
            out.clear();
            out.resize(room, 0);
            let s = &mut *self.stream;
            // SAFETY: a fresh state for every block, as after init.
            unsafe { ffi::isal_deflate_stateless_init(s) };
            s.next_in = input.as_ptr().cast_mut();
            s.avail_in = len;
            s.next_out = out.as_mut_ptr();
            s.avail_out = u32::try_from(room).unwrap_or(u32::MAX);
            s.level = self.level;
            s.level_buf = self.level_buf.as_mut_ptr();
            s.level_buf_size = self.level_buf.len() as u32;
            s.end_of_stream = u16::from(last);
            s.flush = ffi::FULL_FLUSH as u16;
            s.gzip_flag = ffi::IGZIP_DEFLATE as u16;
            // SAFETY: next_in/avail_in and next_out/avail_out describe live buffers
            // borrowed for this call; ISA-L reads the first and writes within the second.
            let rc = unsafe { ffi::isal_deflate_stateless(s) };
            let written = s.total_out as usize;
            // Never leave pointers into buffers this call does not own.
            s.next_in = std::ptr::null_mut();
            s.next_out = std::ptr::null_mut();
            match rc {
                0 => {
                    out.truncate(written);
                    return Ok(());
                }
                ffi::STATELESS_OVERFLOW if room < 2 * input.len() + 65536 => room *= 2,
                rc => return Err(io::Error::other(format!("ISA-L deflate failed ({rc})"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate(raw: &[u8]) -> Vec<u8> {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(raw)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn blocks_round_trip_and_only_the_last_is_final() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for level in 0..=MAX_LEVEL {
            let mut d = Deflater::new(level);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            d.deflate(&data[..500_000], false, &mut a).unwrap();
            d.deflate(&data[500_000..], true, &mut b).unwrap();
            // A full flush ends with an empty stored block: 00 00 ff ff.
            assert_eq!(a[a.len() - 4..], [0, 0, 0xff, 0xff], "level {level}");
            a.extend_from_slice(&b);
            assert_eq!(inflate(&a), data, "level {level}");
            // Reused state, same bytes.
            let mut again = Vec::new();
            d.deflate(&data[500_000..], true, &mut again).unwrap();
            assert_eq!(again, b, "level {level}");
        }
        let mut empty = Vec::new();
        Deflater::new(1).deflate(&[], true, &mut empty).unwrap();
        assert_eq!(inflate(&empty), b"");
    }
}
