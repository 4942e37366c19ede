// SPDX-License-Identifier: GPL-2.0
//! The host's shrinker: memory pressure asks rkmem to give memory back.

use kernel::ffi::{c_int, c_ulong, c_void};
use kernel::prelude::*;

use super::{published, slab};

extern "C" {
    fn rkmem_host_shrinker_register() -> *mut c_void;
    fn rkmem_host_shrinker_unregister(s: *mut c_void);
}

/// rkmem's registration with the host's shrinker (memory pressure).
pub(crate) struct Shrinker {
    shrinker: *mut c_void,
}

// SAFETY: a registered shrinker may be freed from any thread.
unsafe impl Send for Shrinker {}
// SAFETY: the handle has no interior mutability.
unsafe impl Sync for Shrinker {}

impl Shrinker {
    /// Registers the NUMA-aware shrinker "rkmem"; its callbacks call
    /// [`Rkmem::shrink_count`] and [`Rkmem::shrink_scan`].
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: plain registration; callbacks only reach published state.
        let shrinker = unsafe { rkmem_host_shrinker_register() };
        if shrinker.is_null() {
            return Err(ENOMEM);
        }
        Ok(Shrinker { shrinker })
    }
}

impl Drop for Shrinker {
    fn drop(&mut self) {
        // SAFETY: ours; `shrinker_free` waits for running callbacks.
        unsafe { rkmem_host_shrinker_unregister(self.shrinker) }
    }
}

/// Shrinker count: pages rkmem could give back on `nid` now.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_shrink_count(nid: c_int) -> c_ulong {
    // Empty slabs count too: a scan gives them back first.
    let slab_pages = slab::slabs().map_or(0, |s| s.reclaimable_pages());
    published().map_or(0, |s| {
        (s.shrink_count(nid as usize) + slab_pages) as c_ulong
    })
}

/// Shrinker scan: give back up to `nr` pages on `nid`; returns pages freed.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_shrink_scan(nid: c_int, nr: c_ulong) -> c_ulong {
    let Some(rk) = published() else {
        return 0;
    };
    // Top down: empty slabs back to the buddy, then whole blocks back.
    if let Some(slabs) = slab::slabs() {
        slabs.shrink_all(rk, false);
    }
    rk.shrink_scan(nid as usize, nr as usize) as c_ulong
}
