// SPDX-License-Identifier: GPL-2.0
//! The slab layer's debugfs files: `slabinfo`, `slab/<cache>/` as
//! `/sys/kernel/slab/<cache>/`, the `slab_debug` knob and the `slab_test`
//! trigger.

use core::fmt::Write;
use core::sync::atomic::Ordering::Relaxed;

use kernel::c_str;
use kernel::prelude::*;

use super::{cmd_err, fmt_err};
use crate::host::slab::{slabs, RcuRead, Registry};
use crate::host::{self, DebugfsDir};
use crate::logic::cmd;
use crate::slab::{flags, Cache, ObjReq, Slabs, MAX_CACHES, STATS};
use crate::Rkmem;

/// Ids at and above this are files of a cache directory:
/// `SLAB_FILE_BASE | cache id << 8 | file`.
pub(super) const SLAB_FILE_BASE: usize = 1 << 24;

#[derive(Clone, Copy)]
enum CacheFile {
    ObjectSize,
    SlabSize,
    Align,
    Order,
    ObjsPerSlab,
    Ctor,
    RedZone,
    Poison,
    StoreUser,
    SanityChecks,
    Corruptions,
    MetaBytes,
    Objects,
    Partial,
    Slabs,
    TotalObjects,
    CpuSlabs,
    MinPartial,
    CpuPartial,
    Shrink,
    Validate,
}

/// A cache directory's files, SLUB's names; its statistics follow.
const CACHE_FILES: [(CacheFile, &CStr, u16); 21] = [
    (CacheFile::ObjectSize, c_str!("object_size"), 0o400),
    (CacheFile::SlabSize, c_str!("slab_size"), 0o400),
    (CacheFile::Align, c_str!("align"), 0o400),
    (CacheFile::Order, c_str!("order"), 0o400),
    (CacheFile::ObjsPerSlab, c_str!("objs_per_slab"), 0o400),
    (CacheFile::Ctor, c_str!("ctor"), 0o400),
    (CacheFile::RedZone, c_str!("red_zone"), 0o400),
    (CacheFile::Poison, c_str!("poison"), 0o400),
    (CacheFile::StoreUser, c_str!("store_user"), 0o400),
    (CacheFile::SanityChecks, c_str!("sanity_checks"), 0o400),
    (CacheFile::Corruptions, c_str!("corruptions"), 0o400),
    (CacheFile::MetaBytes, c_str!("meta_bytes"), 0o400),
    (CacheFile::Objects, c_str!("objects"), 0o400),
    (CacheFile::Partial, c_str!("partial"), 0o400),
    (CacheFile::Slabs, c_str!("slabs"), 0o400),
    (CacheFile::TotalObjects, c_str!("total_objects"), 0o400),
    (CacheFile::CpuSlabs, c_str!("cpu_slabs"), 0o400),
    (CacheFile::MinPartial, c_str!("min_partial"), 0o600),
    (CacheFile::CpuPartial, c_str!("cpu_partial"), 0o600),
    (CacheFile::Shrink, c_str!("shrink"), 0o200),
    (CacheFile::Validate, c_str!("validate"), 0o600),
];

/// Largest `min_partial` and `cpu_partial` the knobs take.
const MAX_MIN_PARTIAL: u64 = 1024;
const MAX_CPU_PARTIAL: u64 = 10000;

/// `slab/` and each cache's directory in it, by cache id.
static SLAB_ROOT: Registry<DebugfsDir, 1> = Registry::new();
static CACHE_DIRS: Registry<DebugfsDir, MAX_CACHES> = Registry::new();

/// Creates `slab/` in `dir` with a directory for every cache so far.
pub(crate) fn create_slab_dirs(dir: &DebugfsDir, slabs: &Slabs) {
    if let Ok(root) = KBox::new(dir.subdir(c_str!("slab")), GFP_KERNEL) {
        let _ = SLAB_ROOT.insert_at(0, root);
    }
    for id in slabs.caches.ids() {
        slab_cache_created(slabs, id);
    }
}

/// Removes `slab/` and everything in it (before its parent goes).
pub(crate) fn remove_slab_dirs() {
    for id in 0..MAX_CACHES {
        drop(CACHE_DIRS.remove(id));
    }
    drop(SLAB_ROOT.remove(0));
}

/// A new cache's directory (once `slab/` exists).
pub(crate) fn slab_cache_created(slabs: &Slabs, id: usize) {
    let (Some(root), Some(cache)) = (SLAB_ROOT.get(0), slabs.caches.get(id)) else {
        return;
    };
    let dir = root.subdir(&cache.name);
    for (i, (_, name, mode)) in CACHE_FILES.iter().enumerate() {
        dir.file(name, *mode, SLAB_FILE_BASE | id << 8 | i);
    }
    for (i, (_, name)) in STATS.iter().enumerate() {
        dir.file(
            name,
            0o400,
            SLAB_FILE_BASE | id << 8 | (CACHE_FILES.len() + i),
        );
    }
    if let Ok(b) = KBox::new(dir, GFP_KERNEL) {
        let _ = CACHE_DIRS.insert_at(id, b);
    }
}

/// A cache's directory goes (waits for its open files).
pub(crate) fn slab_cache_removed(id: usize) {
    drop(CACHE_DIRS.remove(id));
}

/// `%-17s` of a name that is not `str`.
fn write_padded(out: &mut impl Write, name: &CStr, width: usize) -> core::fmt::Result {
    let b = name.as_bytes();
    for &c in b {
        out.write_char(if c.is_ascii_graphic() { c as char } else { '?' })?;
    }
    for _ in b.len()..width {
        out.write_char(' ')?;
    }
    Ok(())
}

/// `/proc/slabinfo`, version 2.1, as `mm/slab_common.c` prints it.
pub(super) fn show_slabinfo(out: &mut impl Write) -> core::fmt::Result {
    out.write_str("slabinfo - version: 2.1\n")?;
    out.write_str(
        "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>",
    )?;
    out.write_str(" : tunables <limit> <batchcount> <sharedfactor>")?;
    out.write_str(" : slabdata <active_slabs> <num_slabs> <sharedavail>\n")?;
    let Some(slabs) = slabs() else { return Ok(()) };
    // Caches seen here stay until the section ends (destroy waits).
    let _rcu = RcuRead::lock();
    for id in slabs.caches.ids() {
        let Some(c) = slabs.caches.get(id) else {
            continue;
        };
        let (mut nr_slabs, mut total, mut free) = (0, 0, 0);
        for n in 0..c.nr_nodes() {
            let (s, t, f, _) = c.node_counts(n);
            nr_slabs += s;
            total += t;
            free += f;
        }
        write_padded(out, &c.name, 17)?;
        writeln!(
            out,
            " {:>6} {:>6} {:>6} {:>4} {:>4} : tunables {:>4} {:>4} {:>4} : slabdata {:>6} {:>6} {:>6}",
            total - free.min(total),
            total,
            c.layout.size,
            c.nr,
            1u32 << c.order,
            0,
            0,
            0,
            nr_slabs,
            nr_slabs,
            0
        )?;
    }
    Ok(())
}

pub(super) fn show_slab_debug(out: &mut impl Write) -> core::fmt::Result {
    let bits = slabs().map_or(0, |s| s.debug_flags.load(Relaxed));
    let (letters, n) = cmd::slab_letters(bits);
    for &l in &letters[..n] {
        out.write_char(l as char)?;
    }
    out.write_char('\n')
}

pub(super) fn write_slab_debug(text: &str) -> Result {
    let bits = cmd::parse_slab_letters(text, false).map_err(cmd_err)?;
    slabs().ok_or(ENODEV)?.debug_flags.store(bits, Relaxed);
    Ok(())
}

pub(super) fn show_slab_test(out: &mut impl Write) -> core::fmt::Result {
    let Some(slabs) = slabs() else { return Ok(()) };
    let test = slabs.test.lock();
    for t in test.iter().flatten() {
        if let Some(c) = slabs.caches.get(t.id) {
            write_padded(out, &c.name, 0)?;
            writeln!(out, " held={}", t.held.len())?;
        }
    }
    Ok(())
}

/// "total C0=x C1=y" (CPUs with nonzero values), as SLUB's `show_stat`.
fn write_per_cpu(out: &mut impl Write, value: impl Fn(usize) -> u64) -> core::fmt::Result {
    let total: u64 = host::percpu::possible_cpus().map(&value).sum();
    write!(out, "{}", total)?;
    for cpu in host::percpu::possible_cpus() {
        let v = value(cpu);
        if v != 0 {
            write!(out, " C{}={}", cpu, v)?;
        }
    }
    out.write_char('\n')
}

/// "total N0=x N1=y" (nodes with nonzero values), as SLUB's
/// `show_slab_objects`.
fn write_per_node(
    out: &mut impl Write,
    c: &Cache,
    value: impl Fn((u64, u64, u64, u64)) -> u64,
) -> core::fmt::Result {
    let per: KVec<u64> = {
        let mut v = KVec::new();
        for n in 0..c.nr_nodes() {
            v.push(value(c.node_counts(n)), GFP_KERNEL)
                .map_err(|_| core::fmt::Error)?;
        }
        v
    };
    write!(out, "{}", per.iter().sum::<u64>())?;
    for (n, v) in per.iter().enumerate() {
        if *v != 0 {
            write!(out, " N{}={}", n, v)?;
        }
    }
    out.write_char('\n')
}

impl Rkmem {
    fn cache_file(&self, id: usize) -> Result<(&'static Slabs, &'static Cache, usize)> {
        let slabs = slabs().ok_or(ENODEV)?;
        let cache = slabs.caches.get((id >> 8) & 0xffff).ok_or(ENOENT)?;
        Ok((slabs, cache, id & 0xff))
    }

    pub(super) fn show_cache_file(&self, id: usize, out: &mut impl Write) -> Result {
        let (_, c, file) = self.cache_file(id)?;
        let Some((kind, _, _)) = CACHE_FILES.get(file) else {
            let (stat, _) = STATS.get(file - CACHE_FILES.len()).ok_or(EINVAL)?;
            return write_per_cpu(out, |cpu| c.stat(cpu, *stat)).map_err(fmt_err);
        };
        let b = |v: bool| v as u64;
        let num = match kind {
            CacheFile::ObjectSize => Some(c.layout.object_size as u64),
            CacheFile::SlabSize => Some(c.layout.size as u64),
            CacheFile::Align => Some(c.layout.align as u64),
            CacheFile::Order => Some(c.order as u64),
            CacheFile::ObjsPerSlab => Some(c.nr as u64),
            CacheFile::Ctor => Some(b(c.has_ctor())),
            CacheFile::RedZone => Some(b(c.has(flags::RED_ZONE))),
            CacheFile::Poison => Some(b(c.has(flags::POISON))),
            CacheFile::StoreUser => Some(b(c.has(flags::STORE_USER))),
            CacheFile::SanityChecks => Some(b(c.has(flags::CONSISTENCY_CHECKS))),
            CacheFile::Corruptions => Some(c.corruptions.load(Relaxed)),
            CacheFile::MetaBytes => Some(c.meta_bytes() as u64),
            CacheFile::MinPartial => Some(c.min_partial.load(Relaxed) as u64),
            CacheFile::CpuPartial => Some(c.cpu_partial.load(Relaxed) as u64),
            _ => None,
        };
        let r = match (num, kind) {
            (Some(v), _) => writeln!(out, "{}", v),
            (None, CacheFile::Objects) => write_per_node(out, c, |(_, t, f, _)| t - f.min(t)),
            (None, CacheFile::Partial) => write_per_node(out, c, |(_, _, _, p)| p),
            (None, CacheFile::Slabs) => write_per_node(out, c, |(s, _, _, _)| s),
            (None, CacheFile::TotalObjects) => write_per_node(out, c, |(_, t, _, _)| t),
            (None, CacheFile::CpuSlabs) => write_per_cpu(out, |cpu| c.cpu_slabs(cpu)),
            (None, CacheFile::Validate) => {
                let (slabs, objects, errors) = c.validated();
                writeln!(out, "slabs={} objects={} errors={}", slabs, objects, errors)
            }
            _ => Ok(()),
        };
        r.map_err(fmt_err)
    }

    pub(super) fn write_cache_file(&self, id: usize, text: &str) -> Result {
        let (_, c, file) = self.cache_file(id)?;
        let (kind, _, _) = CACHE_FILES.get(file).ok_or(EPERM)?;
        match kind {
            CacheFile::MinPartial => {
                let v = cmd::parse_knob_number(text, MAX_MIN_PARTIAL).map_err(cmd_err)?;
                c.set_min_partial(v as u32);
                Ok(())
            }
            CacheFile::CpuPartial => {
                let v = cmd::parse_knob_number(text, MAX_CPU_PARTIAL).map_err(cmd_err)?;
                c.set_cpu_partial(v as u32)
            }
            CacheFile::Shrink | CacheFile::Validate => {
                // A trigger, not a number: anything but "1" is malformed.
                if cmd::parse_knob_number(text, 1) != Ok(1) {
                    return Err(EINVAL);
                }
                if matches!(kind, CacheFile::Shrink) {
                    c.shrink(self, true);
                } else {
                    c.validate(self);
                }
                Ok(())
            }
            _ => Err(EPERM),
        }
    }

    pub(super) fn write_slab_test(&self, text: &str) -> Result {
        use crate::slab::TestCache;
        let slabs = slabs().ok_or(ENODEV)?;
        let command = cmd::parse_slab_test(text, self.nr_nodes()).map_err(cmd_err)?;
        let mut test = slabs.test.lock();
        let find = |test: &[Option<TestCache>], name: &str| {
            test.iter().position(|t| {
                t.as_ref().is_some_and(|t| {
                    slabs
                        .caches
                        .get(t.id)
                        .is_some_and(|c| c.name.as_bytes() == name.as_bytes())
                })
            })
        };
        let take = |test: &mut [Option<TestCache>], name: &str| -> Result<usize> {
            let i = find(test, name).ok_or(ENOENT)?;
            Ok(i)
        };
        match command {
            cmd::SlabTestCmd::Create {
                name,
                size,
                align,
                flags,
            } => {
                if find(&test[..], name).is_some() {
                    return Err(EEXIST);
                }
                let slot = test.iter().position(|t| t.is_none()).ok_or(ENOSPC)?;
                let id = slabs.create(name.as_bytes(), size, align, flags, None)?;
                test[slot] = Some(TestCache::new(id));
                Ok(())
            }
            cmd::SlabTestCmd::Alloc { name, count, node } => {
                let i = take(&mut test[..], name)?;
                let Some(t) = test[i].as_mut() else {
                    return Err(ENOENT);
                };
                let c = slabs.caches.get(t.id).ok_or(ENOENT)?;
                t.held.reserve(count)?;
                let req = ObjReq {
                    gfp: host::pages::GFP_KERNEL,
                    node,
                    this_node: node.is_some(),
                    can_sleep: true,
                    zero: false,
                    init: false,
                    nofail: false,
                    caller: 0,
                };
                for got in 0..count {
                    match c.alloc(self, &req) {
                        Some(o) => {
                            t.held.push(o);
                        }
                        None => {
                            for _ in 0..got {
                                if let Some(o) = t.held.pop() {
                                    c.free(self, o, 0);
                                }
                            }
                            return Err(ENOMEM);
                        }
                    }
                }
                Ok(())
            }
            cmd::SlabTestCmd::Free { name, count } => {
                let i = take(&mut test[..], name)?;
                let Some(t) = test[i].as_mut() else {
                    return Err(ENOENT);
                };
                let c = slabs.caches.get(t.id).ok_or(ENOENT)?;
                for _ in 0..count {
                    match t.held.pop() {
                        Some(o) => c.free(self, o, 0),
                        None => break,
                    }
                }
                Ok(())
            }
            cmd::SlabTestCmd::Destroy { name } | cmd::SlabTestCmd::Leak { name } => {
                let i = take(&mut test[..], name)?;
                let leak = matches!(command, cmd::SlabTestCmd::Leak { .. });
                let Some(mut t) = test[i].take() else {
                    return Err(ENOENT);
                };
                if let Some(c) = slabs.caches.get(t.id) {
                    while !leak {
                        match t.held.pop() {
                            Some(o) => c.free(self, o, 0),
                            None => break,
                        }
                    }
                }
                slabs.destroy(self, t.id);
                Ok(())
            }
        }
    }
}
