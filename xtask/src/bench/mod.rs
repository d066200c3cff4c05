//! `cargo xtask bench`: placeholder until the entrypoint benchmark lands.

pub fn main(_args: Vec<String>) -> anyhow::Result<()> {
    anyhow::bail!("bench: not implemented yet")
}
