// SPDX-License-Identifier: GPL-2.0
//! Memory hotplug: rkmem's memory notifier.
//!
//! rkmem's pages cannot migrate, so a block it holds in a range the host
//! takes offline (`echo offline > /sys/devices/system/memory/memoryN/state`,
//! virtio-mem) would keep `offline_pages()` waiting for it forever. On
//! `MEM_GOING_OFFLINE` (the host has isolated the range: no new block lands
//! there) rkmem gives back every wholly free block in the range, and refuses
//! the offline (`-EBUSY`, through `notifier_from_errno`) while its pages
//! there are in use. Without `CONFIG_MEMORY_HOTPLUG` the host's registration
//! is a stub and the notifier never runs.

use kernel::ffi::{c_int, c_ulong};
use kernel::prelude::*;

use super::published;

extern "C" {
    fn rkmem_host_memory_notifier_register() -> c_int;
    fn rkmem_host_memory_notifier_unregister();
}

/// rkmem's registration with the host's memory notifier chain, removed on
/// drop (the module has one state, so one registration).
pub(crate) struct MemoryNotifier {
    _private: (),
}

impl MemoryNotifier {
    /// Registers the notifier ([`rkmem_rust_memory_going_offline`]).
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: plain registration of the glue's static notifier_block;
        // the callback only reaches published state.
        let ret = unsafe { rkmem_host_memory_notifier_register() };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(MemoryNotifier { _private: () })
    }
}

impl Drop for MemoryNotifier {
    fn drop(&mut self) {
        // SAFETY: registered in `register`; removal takes the chain's rwsem
        // for writing, so it waits for a running callback.
        unsafe { rkmem_host_memory_notifier_unregister() }
    }
}

/// `MEM_GOING_OFFLINE` of `[start_pfn, start_pfn + nr_pages)`: 0 to let the
/// offline go on, or `-EBUSY`. Process context, may sleep; the host holds
/// its hotplug locks.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_memory_going_offline(
    start_pfn: c_ulong,
    nr_pages: c_ulong,
) -> c_int {
    let Some(rk) = published() else {
        return 0;
    };
    let Some(range) = rk.offline_range(start_pfn as u64, nr_pages as u64) else {
        return 0;
    };
    // Top down, as a shrink: empty slabs back to the buddy first (after
    // flushing the CPUs' slabs), then the per-CPU lists and the blocks.
    if let Some(slabs) = super::slab::slabs() {
        slabs.shrink_all(rk, true);
    }
    match rk.offline_give_back(range) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `MEM_OFFLINE` or `MEM_CANCEL_OFFLINE` (the host sends the cancel after
/// any failure, a refusal of ours included).
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_memory_offline_over() {
    if let Some(rk) = published() {
        rk.offline_over();
    }
}
