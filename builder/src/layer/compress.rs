//! Effects: the layer compressors, on all cores, with bytes that depend only on the
//! input, the algorithm and the level — never on the number of threads or cores, so a
//! layer's digest is the same on every machine.
//!
//! gzip is written pigz-style: the tar is cut into fixed [`BLOCK`]-sized pieces, each
//! deflated independently (no shared dictionary) and ended with a byte-aligned flush
//! (not final), the last with a final block; the pieces, concatenated behind one fixed
//! header and followed by the combined CRC-32 and ISIZE, are ONE valid gzip member.
//! The deflate is ISA-L's (`super::isal`) where it is built, else zlib-rs's
//! ([`GzipBackend`]). Written by hand because no maintained crate offers deterministic
//! parallel gzip (gzp's output depends on its buffer sizes and threads; pigz is a tool,
//! not a library). zstd uses libzstd's multi-threaded frame layout with nbWorkers ≥ 1 always
//! (its output is the same for every worker count ≥ 1; 0 would be another layout).

use std::io::{self, Write};
use std::mem;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use super::{Compression, GzipBackend};

/// gzip block size: fixed, so the bytes never depend on the machine. 1 MiB keeps the
/// ratio within a fraction of a percent of one stream (jars are already deflated).
pub const BLOCK: usize = 1 << 20;

/// The environment variable that sets the compression pool size (default: all cores).
pub const THREADS_ENV: &str = crate::env_vars::THREADS;

/// Worker threads per compressed stream: `SPARKIMG_THREADS` when it is a positive
/// integer, else the cores available. Read once per process.
pub fn threads() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        match std::env::var(THREADS_ENV) {
            Err(_) => cores,
            Ok(v) => parse_threads(&v).unwrap_or_else(|| {
                crate::report::warn(&format!(
                    "{THREADS_ENV}={v:?} is not a positive integer; using {cores} (the cores \
                     available)"
                ));
                cores
            }),
        }
    })
}

/// Pure: a pool size, a positive integer.
pub fn parse_threads(v: &str) -> Option<usize> {
    v.trim().parse::<usize>().ok().filter(|&n| n > 0)
}

/// The gzip backend layers are written with: ISA-L where it is built and this CPU gives
/// its reproducible bytes (see `super::isal`), else zlib-rs (with a warning once when
/// ISA-L is built but the CPU does not match: digests then differ from other machines').
#[cfg(sparkimg_isal)]
pub fn default_gzip() -> GzipBackend {
    static CHOICE: OnceLock<GzipBackend> = OnceLock::new();
    *CHOICE.get_or_init(|| {
        if super::isal::available() {
            return GzipBackend::Isal;
        }
        crate::report::warn(
            "this CPU lacks SSE4.2, on which ISA-L's gzip bytes depend: gzip layers use \
             zlib-rs, so their digests differ from other machines' builds",
        );
        GzipBackend::ZlibRs
    })
}

/// The gzip backend layers are written with: zlib-rs (ISA-L is not built).
#[cfg(not(sparkimg_isal))]
pub fn default_gzip() -> GzipBackend {
    GzipBackend::ZlibRs
}

/// A layer's compressor, writing into `W`.
pub enum Compressor<W: Write + Send + 'static> {
    Gzip(BlockGz<W>),
    Zstd(zstd::Encoder<'static, W>),
    None(W),
}

impl<W: Write + Send + 'static> Compressor<W> {
    pub fn new(w: W, c: Compression, threads: usize) -> io::Result<Self> {
        Ok(match c {
            Compression::Gzip(b, l) => Compressor::Gzip(BlockGz::new(w, b, l, threads)?),
            Compression::Zstd(l) => {
                let mut z = zstd::Encoder::new(w, l)?;
                // ≥ 1 whatever the pool: the multi-threaded frame layout is then the
                // same for every worker count.
                z.multithread(threads.max(1) as u32)?;
                Compressor::Zstd(z)
            }
            Compression::None => Compressor::None(w),
        })
    }

    pub fn finish(self) -> io::Result<W> {
        match self {
            Compressor::Gzip(g) => g.finish(),
            Compressor::Zstd(z) => z.finish(),
            Compressor::None(w) => Ok(w),
        }
    }
}

impl<W: Write + Send + 'static> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Gzip(g) => g.write(buf),
            Compressor::Zstd(z) => z.write(buf),
            Compressor::None(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Gzip(g) => g.flush(),
            Compressor::Zstd(z) => z.flush(),
            Compressor::None(w) => w.flush(),
        }
    }
}

/// One deflated block and the CRC-32 of its input.
struct Deflated {
    data: Vec<u8>,
    crc: crc32fast::Hasher,
}

struct Job {
    data: Vec<u8>,
    last: bool,
    reply: SyncSender<io::Result<Deflated>>,
}

/// The running pipeline: workers deflate blocks, a writer thread takes their results in
/// block order, combines the CRCs and hashes/writes the bytes (the sink's sha256 runs
/// there, beside the tar's sha256 on the caller's thread).
struct Pipeline<W> {
    jobs: SyncSender<Job>,
    order: SyncSender<Receiver<io::Result<Deflated>>>,
    writer: JoinHandle<io::Result<(W, crc32fast::Hasher)>>,
}

/// Block-parallel gzip (see the module docs).
pub struct BlockGz<W: Write + Send + 'static> {
    backend: GzipBackend,
    level: u32,
    threads: usize,
    buf: Vec<u8>,
    /// The output until the second block starts the pipeline.
    inner: Option<W>,
    pipeline: Option<Pipeline<W>>,
    len: u64,
}

impl<W: Write + Send + 'static> BlockGz<W> {
    pub fn new(mut w: W, backend: GzipBackend, level: u32, threads: usize) -> io::Result<Self> {
        w.write_all(&header(level))?;
        Ok(BlockGz {
            backend,
            level,
            threads: threads.max(1),
            buf: Vec::with_capacity(BLOCK),
            inner: Some(w),
            pipeline: None,
            len: 0,
        })
    }

    fn submit(&mut self, data: Vec<u8>, last: bool) -> io::Result<()> {
        if self.pipeline.is_none() {
            let w = self.inner.take().ok_or_else(stopped)?;
            self.pipeline = Some(start(w, self.backend, self.level, self.threads));
        }
        let p = self.pipeline.as_ref().ok_or_else(stopped)?;
        let (reply, result) = mpsc::sync_channel(1);
        let sent = p.order.send(result).is_ok() && p.jobs.send(Job { data, last, reply }).is_ok();
        if sent {
            Ok(())
        } else {
            // The writer stopped (a write failed): its error is the one to report.
            Err(self.stop().err().unwrap_or_else(stopped))
        }
    }

    fn stop(&mut self) -> io::Result<(W, crc32fast::Hasher)> {
        let p = self.pipeline.take().ok_or_else(stopped)?;
        drop(p.jobs);
        drop(p.order);
        p.writer.join().map_err(|_| stopped())?
    }

    /// The last block (the only one of a small layer is deflated right here), then
    /// the trailer.
    pub fn finish(mut self) -> io::Result<W> {
        let last = mem::take(&mut self.buf);
        let (mut w, crc) = if self.pipeline.is_none() {
            let mut w = self.inner.take().ok_or_else(stopped)?;
            let d = deflate(&mut Deflater::new(self.backend, self.level), &last, true)?;
            w.write_all(&d.data)?;
            (w, d.crc)
        } else {
            self.submit(last, true)?;
            self.stop()?
        };
        w.write_all(&crc.finalize().to_le_bytes())?;
        // ISIZE: the input length modulo 2^32 (RFC 1952).
        w.write_all(&(self.len as u32).to_le_bytes())?;
        Ok(w)
    }
}

impl<W: Write + Send + 'static> Write for BlockGz<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        // A full block is sent only once more input arrives: the stream's last block is
        // then always the one `finish` marks final, whatever the write sizes were.
        if self.buf.len() == BLOCK {
            let full = mem::replace(&mut self.buf, Vec::with_capacity(BLOCK));
            self.submit(full, false)?;
        }
        let n = data.len().min(BLOCK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        self.len += n as u64;
        Ok(n)
    }
    /// Nothing to do: a flush mid-block would change the bytes.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn stopped() -> io::Error {
    io::Error::other("the layer compressor stopped")
}

/// RFC 1952 header, fixed: mtime 0, no name, XFL as flate2 sets it, OS 255 (unknown).
fn header(level: u32) -> [u8; 10] {
    let xfl = match level {
        9.. => 2,
        0..=1 => 4,
        _ => 0,
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}

/// One worker's deflate state.
enum Deflater {
    Zlib(flate2::Compress),
    #[cfg(sparkimg_isal)]
    Isal(super::isal::Deflater),
}

impl Deflater {
    fn new(backend: GzipBackend, level: u32) -> Deflater {
        match backend {
            // Raw deflate: the gzip framing is ours.
            GzipBackend::ZlibRs => Deflater::Zlib(flate2::Compress::new(
                flate2::Compression::new(level),
                false,
            )),
            #[cfg(sparkimg_isal)]
            GzipBackend::Isal => Deflater::Isal(super::isal::Deflater::new(level)),
        }
    }
}

/// Deflate one block from a fresh state: flushed to a byte boundary, or finished when
/// `last`.
fn deflate(c: &mut Deflater, input: &[u8], last: bool) -> io::Result<Deflated> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 16 + 64);
    match c {
        Deflater::Zlib(c) => deflate_zlib(c, input, last, &mut out)?,
        #[cfg(sparkimg_isal)]
        Deflater::Isal(c) => c.deflate(input, last, &mut out)?,
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(input);
    Ok(Deflated { data: out, crc })
}

/// zlib-rs: a sync flush (an empty stored block) ends a block that is not the last.
fn deflate_zlib(
    c: &mut flate2::Compress,
    input: &[u8],
    last: bool,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    c.reset();
    let flush = if last {
        flate2::FlushCompress::Finish
    } else {
        flate2::FlushCompress::Sync
    };
    loop {
        let done = c.total_in() as usize;
        let status = c
            .compress_vec(&input[done..], out, flush)
            .map_err(io::Error::other)?;
        let room_left = out.len() < out.capacity();
        let all_in = c.total_in() as usize == input.len();
        match status {
            flate2::Status::StreamEnd => return Ok(()),
            _ if all_in && room_left && !last => return Ok(()),
            _ => out.reserve(out.capacity().max(4096)),
        }
    }
}

fn start<W: Write + Send + 'static>(
    w: W,
    backend: GzipBackend,
    level: u32,
    threads: usize,
) -> Pipeline<W> {
    let (jobs, job_rx) = mpsc::sync_channel::<Job>(threads);
    let job_rx = Arc::new(Mutex::new(job_rx));
    for _ in 0..threads {
        let rx = Arc::clone(&job_rx);
        std::thread::spawn(move || {
            let mut c = Deflater::new(backend, level);
            loop {
                let job = match rx.lock() {
                    Ok(g) => g.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                // A dropped receiver means the stream was abandoned; nothing to report.
                let _ = job.reply.send(deflate(&mut c, &job.data, job.last));
            }
        });
    }
    // Blocks in flight: enough to keep every worker busy while the writer catches up.
    let (order, order_rx) = mpsc::sync_channel::<Receiver<io::Result<Deflated>>>(2 * threads);
    let writer = std::thread::spawn(move || {
        let mut w = w;
        let mut crc = crc32fast::Hasher::new();
        for next in order_rx {
            let d = next.recv().map_err(|_| stopped())??;
            crc.combine(&d.crc);
            w.write_all(&d.data)?;
        }
        Ok((w, crc))
    });
    Pipeline {
        jobs,
        order,
        writer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Text-like bytes (deflate has real work) from a fixed LCG: same on every run.
    fn sample(len: usize) -> Vec<u8> {
        let words: [&[u8]; 6] = [
            b"spark ",
            b"jar ",
            b"org.apache.",
            b"\n",
            b"0123 ",
            b"class ",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut out = Vec::with_capacity(len + 16);
        while out.len() < len {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if x >> 62 == 0 {
                out.push((x >> 33) as u8); // some noise
            } else {
                out.extend_from_slice(words[(x >> 40) as usize % words.len()]);
            }
        }
        out.truncate(len);
        out
    }

    /// Compress `data` written in `chunk`-sized writes with `threads` workers.
    fn compress(data: &[u8], c: Compression, threads: usize, chunk: usize) -> Vec<u8> {
        let mut z = Compressor::new(Vec::new(), c, threads).unwrap();
        for piece in data.chunks(chunk.max(1)) {
            z.write_all(piece).unwrap();
        }
        z.finish().unwrap()
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        // A single-member decoder: the bytes must be ONE member, CRC and ISIZE checked.
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn gzip_bytes_do_not_depend_on_threads_or_write_sizes() {
        for &b in GzipBackend::ALL {
            for len in [0, 1, 1000, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 12345] {
                let data = sample(len);
                let one = compress(&data, Compression::Gzip(b, 1), 1, 64 * 1024);
                let four = compress(&data, Compression::Gzip(b, 1), 4, 7919);
                assert_eq!(one, four, "{b:?} len {len}: 1 thread vs 4 threads");
                assert_eq!(gunzip(&one), data, "{b:?} len {len}: round trip");
                assert_eq!(one[..4], [0x1f, 0x8b, 8, 0], "{b:?} len {len}: header");
                let isize = (len as u32).to_le_bytes();
                assert_eq!(one[one.len() - 4..], isize, "{b:?} len {len}: isize");
            }
        }
    }

    #[test]
    fn gzip_levels_round_trip_and_compress() {
        let data = sample(2 * BLOCK + 99);
        for &b in GzipBackend::ALL {
            for level in [0, 1, 2, 6, 9].into_iter().filter(|&l| l <= b.max_level()) {
                let gz = compress(&data, Compression::Gzip(b, level), 3, 1 << 16);
                assert_eq!(gunzip(&gz), data, "{b:?} level {level}");
                assert_eq!(gz[8], header(level)[8], "{b:?} level {level}: XFL");
                // zlib's level 0 stores; ISA-L's compresses.
                if level > 0 || b != GzipBackend::ZlibRs {
                    let n = gz.len();
                    assert!(n < data.len() / 2, "{b:?} level {level}: {n} bytes");
                }
            }
        }
    }

    /// Two independent readers: gzip -t (zlib's inflate, CRC and ISIZE checked) and
    /// Python's gzip module (the bytes read back, by sha256).
    #[test]
    fn gzip_is_read_by_gzip_and_python() {
        let data = sample(2 * BLOCK + 7);
        let want = hex::encode(crate::digest::Sha256::digest(&data));
        let dir = tempfile::tempdir().unwrap();
        for &b in GzipBackend::ALL {
            let path = dir.path().join(format!("{b:?}.gz"));
            std::fs::write(&path, compress(&data, Compression::Gzip(b, 1), 2, 1 << 16)).unwrap();
            let gzip = std::process::Command::new("gzip")
                .arg("-t")
                .arg(&path)
                .status()
                .expect("gzip (Debian: essential, always installed)");
            assert!(gzip.success(), "{b:?}: gzip -t refused the stream");
            let py = std::process::Command::new("python3")
                .args(["-c", "import gzip, hashlib, sys; print(hashlib.sha256(gzip.open(sys.argv[1]).read()).hexdigest())"])
                .arg(&path)
                .output()
                .expect("python3 (a prerequisite)");
            assert!(
                py.status.success(),
                "{b:?}: {}",
                String::from_utf8_lossy(&py.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&py.stdout).trim(), want, "{b:?}");
        }
    }

    /// The sha256 of ISA-L's stream of `sample(3 * BLOCK + 12345)` at levels 0–2, as
    /// this revision writes it on an SSE4.2-or-later x86_64 CPU: a new ISA-L, or a CPU
    /// path with other bytes, fails here.
    #[cfg(sparkimg_isal)]
    const ISAL_GOLDEN: [(u32, &str); 3] = [
        (
            0,
            "5101d483aff29058c47be767ec054cbe33678ba85911e0c7d79188a76b98e4d5",
        ),
        (
            1,
            "bb73b141efb02954fd74e3ee1f3eb7ae084c81e6ee80750fb6e7662983f96a3b",
        ),
        (
            2,
            "e386c9241727971585bc237cd09a8c1a3b638b129db20aa918dce97e6bc5b6e1",
        ),
    ];

    #[cfg(sparkimg_isal)]
    #[test]
    fn isal_bytes_are_pinned() {
        let data = sample(3 * BLOCK + 12345);
        for (level, want) in ISAL_GOLDEN {
            let gz = compress(
                &data,
                Compression::Gzip(GzipBackend::Isal, level),
                2,
                1 << 16,
            );
            let got = hex::encode(crate::digest::Sha256::digest(&gz));
            assert_eq!(got, want, "level {level}: {} bytes", gz.len());
        }
    }

    /// The pinned bytes again, in this test binary run by qemu as CPUs with fewer vector
    /// extensions (ISA-L picks its code by CPU): AVX2, and SSE4.2 only (AVX, ISA-L's
    /// third x86_64 path, measured the same by hand).
    #[cfg(sparkimg_isal)]
    #[test]
    fn isal_bytes_do_not_depend_on_the_cpu() {
        let exe = std::env::current_exe().unwrap();
        for cpu in ["Haswell", "Nehalem"] {
            let out = std::process::Command::new("qemu-x86_64")
                .args(["-cpu", cpu])
                .arg(&exe)
                .args(["--exact", "layer::compress::tests::isal_bytes_are_pinned"])
                .output()
                .expect("qemu-x86_64 (Debian qemu-user, a prerequisite)");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{cpu}: {stdout}{stderr}");
            assert!(stdout.contains("1 passed"), "{cpu}: ran no test: {stdout}");
        }
    }

    #[test]
    fn zstd_bytes_do_not_depend_on_threads() {
        let data = sample(5 * BLOCK + 3);
        let one = compress(&data, Compression::Zstd(3), 1, 1 << 16);
        let four = compress(&data, Compression::Zstd(3), 4, 4099);
        assert_eq!(one, four);
        assert_eq!(zstd::decode_all(&one[..]).unwrap(), data);
    }

    #[test]
    fn pool_size_parses_positive_integers_only() {
        assert_eq!(parse_threads("4"), Some(4));
        assert_eq!(parse_threads(" 1 "), Some(1));
        assert_eq!(parse_threads("0"), None);
        assert_eq!(parse_threads("-2"), None);
        assert_eq!(parse_threads("all"), None);
    }
}
