// SPDX-License-Identifier: GPL-2.0
//! The mempool layer's files: `mempools` (one line per pool) and the
//! `mempool_test` trigger (pools made, drained, used and resized from the
//! shell).

use core::fmt::Write;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use kernel::prelude::*;
use kernel::sync::Arc;

use super::cmd_err;
use crate::host::mempool::{alloc_call, mempools};
use crate::host::slab::slabs;
use crate::host::{self, pages::GFP_KERNEL};
use crate::logic::cmd::{self, MempoolTestCmd, TestBacking};
use crate::mempool::{Backing, Mempools, PoolSpec, TestPool};
use crate::Rkmem;

/// Most elements `drain` takes (a bound for a backing that never ends).
const MAX_DRAINED: usize = 1 << 20;

/// `mempools`: every pool's line.
pub(super) fn show_mempools(out: &mut impl Write) -> core::fmt::Result {
    match mempools() {
        Some(pools) => pools.for_each(|p| p.show(out)),
        None => Ok(()),
    }
}

/// `mempool_test` read: the trigger's pools and what they hold.
pub(super) fn show_mempool_test(out: &mut impl Write) -> core::fmt::Result {
    let Some(pools) = mempools() else {
        return Ok(());
    };
    let test = pools.test.lock();
    for t in test.iter().flatten() {
        writeln!(
            out,
            "{} held={} drained={}{}",
            t.pool.name(),
            t.held.lock().len(),
            t.drained.lock().len(),
            if t.destroyed.load(Relaxed) {
                " destroyed"
            } else {
                ""
            }
        )?;
    }
    Ok(())
}

/// A trigger pool in use by one command: it cannot be destroyed meanwhile.
struct InUse(Arc<TestPool>);

impl Drop for InUse {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Release);
    }
}

/// The trigger pool named `name`, marked in use (ENOENT if none).
fn in_use(pools: &Mempools, name: &str) -> Result<InUse> {
    let test = pools.test.lock();
    let t = test
        .iter()
        .flatten()
        .find(|t| t.pool.name() == name)
        .ok_or(ENOENT)?;
    t.busy.fetch_add(1, Acquire);
    Ok(InUse(t.clone()))
}

impl Rkmem {
    /// A `mempool_test` write.
    pub(super) fn write_mempool_test(&self, text: &str) -> Result {
        let pools = mempools().ok_or(ENODEV)?;
        match cmd::parse_mempool_test(text).map_err(cmd_err)? {
            MempoolTestCmd::Create {
                name,
                backing,
                min_nr,
            } => self.create_test_pool(pools, name, backing, min_nr),
            MempoolTestCmd::Alloc {
                name,
                count,
                atomic,
            } => {
                let t = in_use(pools, name)?;
                let (pool, call) = (
                    t.0.pool,
                    alloc_call(if atomic {
                        host::pages::GFP_ATOMIC
                    } else {
                        GFP_KERNEL
                    }),
                );
                t.0.held.lock().reserve(count)?;
                for _ in 0..count {
                    // No lock is held while a sleeping allocation waits:
                    // a `free` from another process can wake it.
                    let got = if atomic {
                        host::in_atomic_section(|| pool.alloc(&call))
                    } else {
                        pool.alloc(&call)
                    };
                    let e = got.ok_or(ENOMEM)?;
                    let mut held = t.0.held.lock();
                    if !held.push(e) && (held.reserve(1).is_err() || !held.push(e)) {
                        drop(held);
                        pool.free(e, 0);
                        return Err(ENOMEM);
                    }
                }
                Ok(())
            }
            MempoolTestCmd::Free { name, count } => {
                let t = in_use(pools, name)?;
                if count > t.0.held.lock().len() {
                    return Err(ERANGE);
                }
                for _ in 0..count {
                    // Checked one by one: a concurrent `free` may race.
                    let e = t.0.held.lock().pop().ok_or(ERANGE)?;
                    t.0.pool.free(e, 0);
                }
                Ok(())
            }
            MempoolTestCmd::Drain { name } => {
                let t = in_use(pools, name)?;
                let call = alloc_call(host::pages::GFP_NOWAIT);
                let mut drained = t.0.drained.lock();
                loop {
                    if drained.len() >= MAX_DRAINED {
                        return Err(ENOSPC);
                    }
                    // Up to a million calls: let others run, stop if killed
                    // (what was taken stays drained; `release` returns it).
                    if host::LongLoop::Killable.should_stop() {
                        return Err(EINTR);
                    }
                    drained.reserve(1)?;
                    match t
                        .0
                        .pool
                        .backing_alloc(call.gfp, call.flags, call.highest_kind, 0)
                    {
                        Some(e) => {
                            drained.push(e);
                        }
                        None => return Ok(()),
                    }
                }
            }
            MempoolTestCmd::Release { name } => {
                let t = in_use(pools, name)?;
                let mut drained = t.0.drained.lock();
                while let Some(e) = drained.pop() {
                    t.0.pool.backing_free(e, 0);
                }
                Ok(())
            }
            MempoolTestCmd::Resize { name, min_nr } => {
                let t = in_use(pools, name)?;
                t.0.pool.resize(min_nr)
            }
            MempoolTestCmd::Destroy { name } => self.destroy_test_pool(pools, name),
        }
    }

    fn create_test_pool(
        &self,
        pools: &Mempools,
        name: &str,
        backing: TestBacking,
        min_nr: usize,
    ) -> Result {
        let mut test = pools.test.lock();
        if test.iter().flatten().any(|t| t.pool.name() == name) {
            return Err(EEXIST);
        }
        let slot = test.iter().position(|t| t.is_none()).ok_or(ENOSPC)?;
        let slabs = slabs().ok_or(ENODEV)?;
        let (backing, cache) = match backing {
            TestBacking::Slab(size) => {
                // The parser keeps pool names short enough for the prefix.
                let mut cache_name = [0u8; cmd::SLAB_TEST_NAME_MAX];
                let n = name.len().min(cmd::SLAB_TEST_NAME_MAX - 8);
                cache_name[..8].copy_from_slice(b"mempool-");
                cache_name[8..8 + n].copy_from_slice(&name.as_bytes()[..n]);
                let id = slabs.create(&cache_name[..8 + n], size, 0, 0, None)?;
                let cache = slabs.caches.get(id).ok_or(ENOENT)?;
                (Backing::Slab(cache), Some(id))
            }
            TestBacking::Kmalloc(size) => (Backing::Kmalloc(size, slabs.kmalloc_cache(size)), None),
            TestBacking::Pages(order) => (Backing::Pages(order), None),
        };
        let spec = PoolSpec {
            min_nr: min_nr as i32,
            node: None,
            gfp: GFP_KERNEL,
            flags: alloc_call(GFP_KERNEL).flags,
            name: name.as_bytes(),
            backing_name: b"",
        };
        let made = pools
            .create(spec, backing)
            .and_then(|pool| match TestPool::new(pool, cache) {
                Ok(t) => Ok(t),
                Err(e) => {
                    pools.destroy(pool);
                    Err(e)
                }
            });
        match made {
            Ok(t) => {
                test[slot] = Some(t);
                Ok(())
            }
            Err(e) => {
                if let Some(id) = cache {
                    slabs.destroy(self, id);
                }
                Err(e)
            }
        }
    }

    /// `destroy POOL`: with elements held, the pool is destroyed with them
    /// out (the warning) and stays listed so `free` still works; a second
    /// `destroy` once they are back removes it.
    fn destroy_test_pool(&self, pools: &Mempools, name: &str) -> Result {
        let mut test = pools.test.lock();
        let i = test
            .iter()
            .position(|t| t.as_ref().is_some_and(|t| t.pool.name() == name))
            .ok_or(ENOENT)?;
        let Some(t) = test[i].as_ref() else {
            return Err(ENOENT);
        };
        if t.busy.load(Acquire) > 0 {
            return Err(EBUSY);
        }
        if t.held.lock().len() > 0 {
            if t.destroyed.swap(true, Relaxed) {
                return Err(EBUSY);
            }
            release_drained(t);
            pools.destroy(t.pool);
            return Ok(());
        }
        let Some(t) = test[i].take() else {
            return Err(ENOENT);
        };
        drop(test);
        release_drained(&t);
        // A pool destroyed with elements out goes now that they are back.
        let gone = if t.destroyed.load(Relaxed) {
            pools.reap(t.pool)
        } else {
            pools.destroy(t.pool);
            true
        };
        // The pool is gone, and its cache's objects with it.
        if let (true, Some(id), Some(slabs)) = (gone, t.cache, slabs()) {
            slabs.destroy(self, id);
        }
        Ok(())
    }

    /// At unload: the trigger's pools give back what they hold and go.
    pub(crate) fn teardown_test_pools(&self, pools: &Mempools) {
        let mut test = pools.test.lock();
        for t in test.iter_mut().filter_map(|t| t.take()) {
            release_drained(&t);
            let mut held = t.held.lock();
            while let Some(e) = held.pop() {
                t.pool.free(e, 0);
            }
            drop(held);
            if !t.destroyed.load(Relaxed) {
                pools.destroy(t.pool);
                if let (Some(id), Some(slabs)) = (t.cache, slabs()) {
                    slabs.destroy(self, id);
                }
            }
        }
    }
}

/// What `drain` took goes back to the backing.
fn release_drained(t: &TestPool) {
    let mut drained = t.drained.lock();
    while let Some(e) = drained.pop() {
        t.pool.backing_free(e, 0);
    }
}
