//! Just enough ELF64 reading to tell whether an executable is statically linked.
//!
//! A static (or static-pie) binary has no `PT_INTERP` (nothing asks the kernel to
//! start ld.so) and no `DT_NEEDED` entries (no shared libraries). A static-pie still
//! has a `PT_DYNAMIC` segment for its self-relocation, so its presence alone proves
//! nothing; we look inside it. A hand-written reader keeps `object`/`goblin` (and their
//! compile time) out of xtask.

use anyhow::{bail, ensure, Context, Result};

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;

#[derive(Debug, PartialEq, Eq)]
pub struct Linkage {
    /// `e_type`: 2 = ET_EXEC (classic static), 3 = ET_DYN (PIE / static-pie).
    pub elf_type: u16,
    /// The requested program interpreter (e.g. `/lib64/ld-linux-x86-64.so.2`), if any.
    pub interpreter: Option<String>,
    /// How many `DT_NEEDED` (shared library) entries the dynamic section lists.
    pub needed: usize,
}

impl Linkage {
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed == 0
    }

    pub fn describe(&self) -> &'static str {
        match (self.is_static(), self.elf_type) {
            (true, 3) => "static-pie",
            (true, _) => "static",
            (false, _) => "dynamically linked",
        }
    }
}

fn u16_at(data: &[u8], off: usize) -> Result<u16> {
    let bytes = data.get(off..off + 2).context("ELF truncated")?;
    Ok(u16::from_le_bytes(bytes.try_into()?))
}

fn u32_at(data: &[u8], off: usize) -> Result<u32> {
    let bytes = data.get(off..off + 4).context("ELF truncated")?;
    Ok(u32::from_le_bytes(bytes.try_into()?))
}

fn u64_at(data: &[u8], off: usize) -> Result<u64> {
    let bytes = data.get(off..off + 8).context("ELF truncated")?;
    Ok(u64::from_le_bytes(bytes.try_into()?))
}

fn usize_at(data: &[u8], off: usize) -> Result<usize> {
    Ok(usize::try_from(u64_at(data, off)?)?)
}

/// Reads the program headers of a little-endian ELF64 file (all we build for).
pub fn linkage(data: &[u8]) -> Result<Linkage> {
    ensure!(data.starts_with(b"\x7fELF"), "not an ELF file");
    ensure!(
        data.get(4) == Some(&2) && data.get(5) == Some(&1),
        "not a little-endian ELF64 file"
    );
    let elf_type = u16_at(data, 0x10)?;
    let phoff = usize_at(data, 0x20)?;
    let phentsize = usize::from(u16_at(data, 0x36)?);
    let phnum = usize::from(u16_at(data, 0x38)?);
    ensure!(phentsize >= 56, "odd program header size {phentsize}");

    let mut linkage = Linkage {
        elf_type,
        interpreter: None,
        needed: 0,
    };
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let p_type = u32_at(data, ph)?;
        let offset = usize_at(data, ph + 8)?;
        let filesz = usize_at(data, ph + 32)?;
        let segment = data
            .get(offset..offset + filesz)
            .context("segment outside the file")?;
        match p_type {
            PT_INTERP => {
                let path = segment.split(|b| *b == 0).next().unwrap_or_default();
                linkage.interpreter = Some(String::from_utf8_lossy(path).into_owned());
            }
            PT_DYNAMIC => {
                for entry in segment.chunks_exact(16) {
                    match u64_at(entry, 0)? {
                        DT_NULL => break,
                        DT_NEEDED => linkage.needed += 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if elf_type != 2 && elf_type != 3 {
        bail!("ELF type {elf_type} is not an executable");
    }
    Ok(linkage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_elf() {
        assert!(linkage(b"#!/bin/sh\n").is_err());
    }

    /// The running test binary is a normal dynamically linked Rust program.
    #[test]
    fn own_test_binary_is_dynamic() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let l = linkage(&exe).unwrap();
        assert!(l.interpreter.is_some(), "{l:?}");
        assert!(l.needed > 0, "{l:?}");
        assert!(!l.is_static());
    }
}
