//! `sparkimg cache ls` and `sparkimg cache prune` (the library side is `sparkimg::cache`).

use std::time::Duration;

use anyhow::Result;
use indicatif::HumanBytes;
use sparkimg::cache::{self, Policy};

use super::args::{CacheCommand, CacheLsArgs, CachePruneArgs};

pub fn run(cmd: CacheCommand, lock_timeout: Duration) -> Result<()> {
    match cmd {
        CacheCommand::Ls(args) => ls(args),
        CacheCommand::Prune(args) => prune(args, lock_timeout),
    }
}

/// Read-only: lists leftovers without removing them, so they can be looked at.
fn ls(args: CacheLsArgs) -> Result<()> {
    let root = args.cache.required()?;
    let listing = cache::scan(&root, true)?;
    let totals = listing.totals();
    let total: u64 = totals.iter().map(|t| t.bytes).sum::<u64>()
        + listing.leftovers.iter().map(|l| l.bytes).sum::<u64>();
    if args.json {
        let v = serde_json::json!({
            "root": listing.root,
            "kinds": totals,
            "entries": listing.entries,
            "leftovers": listing.leftovers,
            "total_bytes": total,
        });
        outln!("{v}")?;
        return Ok(());
    }
    outln!("cache {}", root.display())?;
    outln!("{:<16} {:>8} {:>12}", "KIND", "ENTRIES", "SIZE")?;
    for t in &totals {
        let size = HumanBytes(t.bytes).to_string();
        outln!("{:<16} {:>8} {:>12}", t.kind.name(), t.entries, size)?;
    }
    if !listing.leftovers.is_empty() {
        let bytes: u64 = listing.leftovers.iter().map(|l| l.bytes).sum();
        let size = HumanBytes(bytes).to_string();
        let n = listing.leftovers.len();
        outln!(
            "{:<16} {n:>8} {size:>12}  (interrupted runs; `sparkimg cache prune` removes them)",
            "leftovers"
        )?;
    }
    outln!(
        "{:<16} {:>8} {:>12}",
        "total",
        "",
        HumanBytes(total).to_string()
    )?;
    Ok(())
}

fn prune(args: CachePruneArgs, lock_timeout: Duration) -> Result<()> {
    let root = args.cache.required()?;
    let policy = Policy {
        older_than: args.older_than,
        keep_last: args.keep_last,
        all: args.all,
    };
    if !policy.removes_entries() {
        eprintln!(
            "sparkimg: no --older-than, --keep-last or --all: removing leftovers of \
             interrupted runs only"
        );
    }
    let p = cache::prune(&root, &policy, lock_timeout, args.dry_run)?;
    if args.json {
        outln!("{}", serde_json::to_string(&p)?)?;
        return Ok(());
    }
    let verb = if p.dry_run { "would remove" } else { "removed" };
    for e in &p.removed {
        eprintln!("sparkimg: {verb} {} {}", e.kind.name(), e.path.display());
    }
    outln!(
        "{verb} {} entries ({}) and {} leftovers ({}); kept {} entries ({})",
        p.entries.count,
        HumanBytes(p.entries.bytes),
        p.leftovers.count,
        HumanBytes(p.leftovers.bytes),
        p.kept.count,
        HumanBytes(p.kept.bytes)
    )?;
    Ok(())
}
