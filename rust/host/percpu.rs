// SPDX-License-Identifier: GPL-2.0
//! Per-CPU memory with a lock per CPU, and CPU hotplug.
//!
//! [`PerCpuCells`] is `alloc_percpu` memory holding, for each possible CPU, a
//! `spinlock_t` and a `T`. The owning CPU reaches its `T` with a trylock
//! (the host's `pcp_spin_trylock` pattern): an interrupt that arrives while
//! the CPU is in the middle of an operation on its cell finds the lock taken
//! and does without the cell, so nothing is corrupted and nothing deadlocks,
//! with interrupts left on. Other CPUs (drains, reports) take the lock and
//! wait, from process context only.

use core::cell::UnsafeCell;

use kernel::bindings;
use kernel::ffi::{c_int, c_uint, c_void};
use kernel::prelude::*;

use super::published;

extern "C" {
    fn rkmem_host_percpu_alloc(size: usize, align: usize) -> *mut c_void;
    fn rkmem_host_percpu_free(base: *mut c_void);
    fn rkmem_host_nr_cpu_ids() -> c_int;
    fn rkmem_host_cpu_possible(cpu: c_int) -> bool;
    fn rkmem_host_cpu_to_node(cpu: c_int) -> c_int;
    fn rkmem_host_pcp_trylock_local(base: *mut c_void, cpu: *mut c_int) -> *mut c_void;
    fn rkmem_host_pcp_unlock_local(cell: *mut c_void);
    fn rkmem_host_pcp_lock_cpu(base: *mut c_void, cpu: c_int) -> *mut c_void;
    fn rkmem_host_pcp_unlock_cpu(cell: *mut c_void);
    fn rkmem_host_cpuhp_register() -> c_int;
    fn rkmem_host_cpuhp_unregister(state: c_int);
}

/// Types whose all-zero bytes are a valid value (per-CPU memory comes
/// zeroed, and a large `T` must not be built on the small kernel stack).
///
/// # Safety
/// All-zero bytes must be a valid `T`.
pub(crate) unsafe trait ZeroValid {}

// SAFETY: `PcpLists` holds only integers and integer arrays; all-zero is its
// documented empty, disabled state.
unsafe impl ZeroValid for crate::logic::pcp::PcpLists {}

/// One CPU's cell: the C glue sees only the lock at offset 0.
#[repr(C)]
struct Cell<T> {
    lock: bindings::spinlock_t,
    data: UnsafeCell<T>,
}

/// A `T` per possible CPU, each behind that CPU's lock.
///
/// Invariant: `base` is `alloc_percpu` memory of `Cell<T>` for every
/// possible CPU, zeroed (so each `T` is valid, by `ZeroValid`) with each
/// lock initialised; a `T` is only reached with its lock held.
pub(crate) struct PerCpuCells<T: ZeroValid> {
    base: *mut c_void,
    _t: core::marker::PhantomData<T>,
}

// SAFETY: every access to a `T` holds its lock, so `T: Send` suffices.
unsafe impl<T: ZeroValid + Send> Send for PerCpuCells<T> {}
// SAFETY: as above.
unsafe impl<T: ZeroValid + Send> Sync for PerCpuCells<T> {}

impl<T: ZeroValid> PerCpuCells<T> {
    /// Zeroed cells for every possible CPU (may sleep).
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: plain allocation of a size and alignment from a Rust type;
        // the glue initialises each CPU's lock (offset 0 of `Cell`).
        let base = unsafe {
            rkmem_host_percpu_alloc(
                core::mem::size_of::<Cell<T>>(),
                core::mem::align_of::<Cell<T>>(),
            )
        };
        if base.is_null() {
            return Err(ENOMEM);
        }
        Ok(PerCpuCells {
            base,
            _t: core::marker::PhantomData,
        })
    }

    /// Bytes of one CPU's cell (its lock and its `T`).
    pub(crate) const BYTES_PER_CPU: usize = core::mem::size_of::<Cell<T>>();

    /// Runs `f` on this CPU's `T` (with its CPU number) if its lock is free
    /// now; `None` if not (an interrupted operation on this CPU holds it, or
    /// a drain). Any context; `f` runs with preemption off and must not sleep.
    pub(crate) fn try_local<R>(&self, f: impl FnOnce(usize, &mut T) -> R) -> Option<R> {
        let mut cpu: c_int = 0;
        // SAFETY: `base` is valid (invariant); the glue disables preemption
        // and returns this CPU's locked cell or NULL.
        let cell = unsafe { rkmem_host_pcp_trylock_local(self.base, &mut cpu) };
        if cell.is_null() {
            return None;
        }
        let cell = cell.cast::<Cell<T>>();
        // SAFETY: we hold the cell's lock, so this is the only reference.
        let r = f(cpu as usize, unsafe { &mut *(*cell).data.get() });
        // SAFETY: releases the lock taken above, re-enables preemption.
        unsafe { rkmem_host_pcp_unlock_local(cell.cast()) };
        Some(r)
    }

    /// Runs `f` on `cpu`'s `T`, waiting for its lock. Process context (or
    /// any context that is not inside this CPU's own `try_local`).
    pub(crate) fn with_cpu<R>(&self, cpu: usize, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        if !cpu_possible(cpu) {
            return None;
        }
        // SAFETY: a possible CPU's cell of our live allocation.
        let cell = unsafe { rkmem_host_pcp_lock_cpu(self.base, cpu as c_int) }.cast::<Cell<T>>();
        // SAFETY: we hold the cell's lock, so this is the only reference.
        let r = f(unsafe { &mut *(*cell).data.get() });
        // SAFETY: releases the lock taken above.
        unsafe { rkmem_host_pcp_unlock_cpu(cell.cast()) };
        Some(r)
    }
}

impl<T: ZeroValid> Drop for PerCpuCells<T> {
    fn drop(&mut self) {
        // `T`s hold no resources of their own to drop (`ZeroValid` data).
        // SAFETY: ours; no reference into it outlives `&self` borrows.
        unsafe { rkmem_host_percpu_free(self.base) }
    }
}

/// Possible CPU ids (`for_each_possible_cpu`).
pub(crate) fn possible_cpus() -> impl Iterator<Item = usize> {
    // SAFETY: `nr_cpu_ids` is fixed at boot.
    let n = unsafe { rkmem_host_nr_cpu_ids() } as usize;
    (0..n).filter(|&c| cpu_possible(c))
}

/// Whether `cpu` is a possible CPU.
pub(crate) fn cpu_possible(cpu: usize) -> bool {
    // SAFETY: `cpu_possible` accepts any id below `nr_cpu_ids`.
    cpu < (unsafe { rkmem_host_nr_cpu_ids() } as usize)
        && unsafe { rkmem_host_cpu_possible(cpu as c_int) }
}

/// The NUMA node of `cpu`.
pub(crate) fn cpu_node(cpu: usize) -> usize {
    // SAFETY: a lookup valid for possible CPUs (callers pass those).
    unsafe { rkmem_host_cpu_to_node(cpu as c_int) as usize }
}

/// rkmem's CPU-hotplug state: a CPU that went offline has its lists
/// drained (from another CPU, after it is dead), removed on drop.
pub(crate) struct CpuHotplug {
    state: c_int,
}

impl CpuHotplug {
    /// Registers the dead-CPU callback ([`crate::Rkmem::cpu_dead`]).
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: plain registration; the callback only reaches published state.
        let state = unsafe { rkmem_host_cpuhp_register() };
        if state < 0 {
            return Err(Error::from_errno(state));
        }
        Ok(CpuHotplug { state })
    }
}

impl Drop for CpuHotplug {
    fn drop(&mut self) {
        // SAFETY: ours; removal waits for a running callback (hotplug lock).
        unsafe { rkmem_host_cpuhp_unregister(self.state) }
    }
}

/// The dead-CPU callback.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_cpu_dead(cpu: c_uint) {
    if let Some(state) = published() {
        // Top down: the slab layer's CPU slabs go to their nodes (freeing
        // empty ones to this CPU's page lists), then the page lists drain.
        if let Some(slabs) = super::slab::slabs() {
            slabs.cpu_dead(state, super::slab::DeadCpu(cpu as usize));
        }
        state.cpu_dead(cpu as usize);
    }
}
