// SPDX-License-Identifier: GPL-2.0
//! Caches by id, reachable without a lock; removal waits for RCU readers.

use core::sync::atomic::{AtomicPtr, Ordering};

use kernel::prelude::*;

use super::{rkmem_host_rcu_read_lock, rkmem_host_rcu_read_unlock, rkmem_host_synchronize_rcu};

/// Marks a slot taken while its entry is being built.
const RESERVED: usize = 1;

/// Entries by small id, reachable from any context without a lock (the
/// slab layer's caches: a free finds its cache from the id in the slab).
///
/// Invariant: a slot holds null, [`RESERVED`], or a pointer from
/// `KBox::into_raw` that only [`Registry::remove`] takes back, after an RCU
/// grace period. Users of an entry are either inside an RCU read-side
/// section ([`RcuRead`]: rkmem's own walks over all entries, the shrinker,
/// CPU hotplug, reports) or callers of the C API, whose contract is that
/// nothing uses a cache once `kmem_cache_destroy()` is called; rkmem's
/// debugfs files of an entry are removed before it.
pub(crate) struct Registry<T, const N: usize> {
    slots: [AtomicPtr<T>; N],
}

// SAFETY: entries are shared between threads as `&T`.
unsafe impl<T: Sync + Send, const N: usize> Sync for Registry<T, N> {}
// SAFETY: as above.
unsafe impl<T: Sync + Send, const N: usize> Send for Registry<T, N> {}

impl<T, const N: usize> Registry<T, N> {
    /// No entries.
    pub(crate) const fn new() -> Self {
        Registry {
            slots: [const { AtomicPtr::new(core::ptr::null_mut()) }; N],
        }
    }

    /// Builds an entry with its id and stores it; `EMFILE` when full.
    pub(crate) fn insert(&self, make: impl FnOnce(usize) -> Result<KBox<T>>) -> Result<usize> {
        let reserved = RESERVED as *mut T;
        let id = (0..N)
            .find(|&i| {
                self.slots[i]
                    .compare_exchange(
                        core::ptr::null_mut(),
                        reserved,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            })
            .ok_or(EMFILE)?;
        match make(id) {
            Ok(b) => {
                self.slots[id].store(KBox::into_raw(b), Ordering::Release);
                Ok(id)
            }
            Err(e) => {
                self.slots[id].store(core::ptr::null_mut(), Ordering::Release);
                Err(e)
            }
        }
    }

    /// The entry `id`.
    #[inline]
    pub(crate) fn get(&self, id: usize) -> Option<&T> {
        let p = self.slots.get(id)?.load(Ordering::Acquire);
        if p.is_null() || p as usize == RESERVED {
            return None;
        }
        // SAFETY: from `KBox::into_raw` and not yet removed (invariant).
        Some(unsafe { &*p })
    }

    /// Ids of every entry.
    pub(crate) fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        (0..N).filter(|&i| self.get(i).is_some())
    }

    /// Stores `b` as entry `id`; `EBUSY` if the slot is taken.
    pub(crate) fn insert_at(&self, id: usize, b: KBox<T>) -> Result {
        let slot = self.slots.get(id).ok_or(EINVAL)?;
        let raw = KBox::into_raw(b);
        match slot.compare_exchange(
            core::ptr::null_mut(),
            raw,
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            Ok(_) => Ok(()),
            Err(_) => {
                // SAFETY: from `into_raw` just above, never published.
                drop(unsafe { KBox::from_raw(raw) });
                Err(EBUSY)
            }
        }
    }

    /// Takes entry `id` out, once every RCU reader that may have seen it
    /// is done (may sleep).
    pub(crate) fn remove(&self, id: usize) -> Option<KBox<T>> {
        let slot = self.slots.get(id)?;
        let p = slot.load(Ordering::Acquire);
        if p.is_null() || p as usize == RESERVED {
            return None;
        }
        // Exactly one remover wins the slot.
        if slot
            .compare_exchange(
                p,
                core::ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return None;
        }
        // SAFETY: waits for RCU readers; callable from process context,
        // which `remove`'s callers are (destroy, unload).
        unsafe { rkmem_host_synchronize_rcu() };
        // SAFETY: from `KBox::into_raw`; the slot no longer hands it out,
        // readers that saw it are done, and C API users are gone
        // (invariant).
        Some(unsafe { KBox::from_raw(p) })
    }
}

impl<T, const N: usize> Drop for Registry<T, N> {
    fn drop(&mut self) {
        for slot in self.slots.iter() {
            let p = slot.swap(core::ptr::null_mut(), Ordering::AcqRel);
            if !p.is_null() && p as usize != RESERVED {
                // SAFETY: from `KBox::into_raw`; the registry is going away
                // (`&mut self`), so nothing can reach the entry any more.
                drop(unsafe { KBox::from_raw(p) });
            }
        }
    }
}

/// An RCU read-side section: entries of a [`Registry`] seen inside stay
/// valid until it ends. Must not sleep inside.
pub(crate) struct RcuRead(());

impl RcuRead {
    /// Enters the section.
    pub(crate) fn lock() -> Self {
        // SAFETY: paired with the unlock in `drop`.
        unsafe { rkmem_host_rcu_read_lock() };
        RcuRead(())
    }
}

impl Drop for RcuRead {
    fn drop(&mut self) {
        // SAFETY: pairs with `lock`.
        unsafe { rkmem_host_rcu_read_unlock() };
    }
}

impl<T, const N: usize> Registry<T, N> {
    /// Every entry, inside an RCU read-side section.
    pub(crate) fn for_each<'a>(&'a self, _rcu: &'a RcuRead, mut f: impl FnMut(&'a T)) {
        for slot in self.slots.iter() {
            let p = slot.load(Ordering::Acquire);
            if !p.is_null() && p as usize != RESERVED {
                // SAFETY: not removed before the RCU section ends (remove
                // waits for a grace period), from `KBox::into_raw`.
                f(unsafe { &*p })
            }
        }
    }
}
