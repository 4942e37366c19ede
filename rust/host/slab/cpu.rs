// SPDX-License-Identifier: GPL-2.0
//! Per-CPU slab parts: a CPU's active slab and partial list, taken with a
//! busy flag, and its counters.

use core::arch::asm;
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;

use super::super::percpu::{self, ZeroValid};
use super::{
    rkmem_host_atomic_begin, rkmem_host_atomic_end, rkmem_host_percpu_alloc_zeroed,
    rkmem_host_percpu_free, rkmem_host_percpu_ptr, this_cpu_off,
};

/// This CPU's offset into per-CPU memory (`this_cpu_off`). With preemption
/// on the answer may be stale at once: callers only use it to pick a part,
/// which they then own through its busy flag, not through the CPU.
#[inline(always)]
fn this_cpu_offset() -> usize {
    let off: u64;
    // SAFETY: `this_cpu_off` is the host's exported per-CPU variable, read
    // %gs-relative as `raw_cpu_read` does; a plain load.
    unsafe {
        asm!("movq %gs:{v}, {o}", v = sym this_cpu_off, o = out(reg) off,
             options(att_syntax, nostack, readonly, preserves_flags))
    };
    off as usize
}

/// Adds one to a counter with a single instruction, without a lock prefix
/// (as `this_cpu_inc`): exact against interrupts on this CPU; a rare race
/// with another CPU (a task that migrated) may lose a count, which only
/// statistics use.
#[inline(always)]
pub(crate) fn count_inc(c: &AtomicU64) {
    // SAFETY: `c` is a valid, aligned 8-byte counter; the asm writes only it.
    unsafe { asm!("incq ({0})", in(reg) c.as_ptr(), options(att_syntax, nostack)) };
}

/// One CPU's part of a [`PerCpuSlab`].
#[repr(C)]
struct CpuPart<T, S> {
    /// 1 while someone owns `own` (a trylock, the host's
    /// `pcp_spin_trylock` pattern without the spinlock).
    busy: AtomicU32,
    /// The CPU this part belongs to.
    cpu: u32,
    own: UnsafeCell<T>,
    shared: S,
}

/// Per CPU, a `T` owned by whoever holds its busy flag (the CPU's own
/// allocations and frees, or a flush from process context), and an `S`
/// anyone reads (counters).
///
/// The owning CPU takes its part with one `xchg` and no interrupt or
/// preemption control: an interrupt that arrives while the part is held
/// finds it busy and does without it (the slab layer then works on the
/// node lists directly), so nothing is corrupted, nothing deadlocks, and
/// interrupts stay on. A task that is preempted or migrated while holding
/// a part keeps it exclusively until it lets go; others meanwhile do
/// without it.
///
/// Invariant: `base` is zeroed `alloc_percpu` memory of `CpuPart<T, S>` for
/// every possible CPU, each `cpu` set; a `T` is reached mutably only with
/// its busy flag taken (Acquire) and released after (Release).
pub(crate) struct PerCpuSlab<T: ZeroValid, S: ZeroValid + Sync> {
    base: *mut c_void,
    _t: PhantomData<(T, S)>,
}

// SAFETY: each `T` is used by one owner at a time (invariant); `S` is `Sync`.
unsafe impl<T: ZeroValid + Send, S: ZeroValid + Sync> Send for PerCpuSlab<T, S> {}
// SAFETY: as above.
unsafe impl<T: ZeroValid + Send, S: ZeroValid + Sync> Sync for PerCpuSlab<T, S> {}

/// A CPU that went offline and is dead (made only by the hotplug callback).
#[derive(Clone, Copy)]
pub(crate) struct DeadCpu(pub(in crate::host) usize);

impl<T: ZeroValid, S: ZeroValid + Sync> PerCpuSlab<T, S> {
    /// Zeroed parts for every possible CPU (may sleep).
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: a plain zeroed per-CPU allocation of a Rust type's layout.
        let base = unsafe {
            rkmem_host_percpu_alloc_zeroed(
                core::mem::size_of::<CpuPart<T, S>>(),
                core::mem::align_of::<CpuPart<T, S>>(),
            )
        };
        if base.is_null() {
            return Err(ENOMEM);
        }
        let me = PerCpuSlab {
            base,
            _t: PhantomData,
        };
        for cpu in percpu::possible_cpus() {
            // SAFETY: a possible CPU's part of our new allocation; nobody
            // else sees it yet.
            unsafe { (*me.part(cpu)).cpu = cpu as u32 };
        }
        Ok(me)
    }

    /// Bytes per CPU.
    pub(crate) const BYTES_PER_CPU: usize = core::mem::size_of::<CpuPart<T, S>>();

    fn part(&self, cpu: usize) -> *mut CpuPart<T, S> {
        // SAFETY: `base` is live per-CPU memory; callers pass possible CPUs.
        unsafe { rkmem_host_percpu_ptr(self.base, cpu as c_int).cast() }
    }

    #[inline(always)]
    fn here_part(&self) -> &CpuPart<T, S> {
        let p = (self.base as usize).wrapping_add(this_cpu_offset()) as *const CpuPart<T, S>;
        // SAFETY: a CPU's part (base + its offset, as `this_cpu_ptr`),
        // alive as long as `self`; only `busy`, `cpu` and `shared` are
        // read through this shared reference (`own` is an `UnsafeCell`).
        unsafe { &*p }
    }

    /// The fast paths: `f` on this CPU's parts if its part is free now;
    /// `None` if it is held (we interrupted its owner, or a flush has it).
    /// Any context. Preemption stays on: `f` must be a few instructions on
    /// the part (pop or push; no slab changes hands), so a holder that is
    /// preempted, even migrated, lets go within them, and a part that is no
    /// longer its CPU's (it went offline) is only flushed after.
    #[inline(always)]
    pub(crate) fn fast<R>(&self, f: impl FnOnce(&mut T, &S) -> R) -> Option<R> {
        let part = self.here_part();
        if part.busy.swap(1, Ordering::Acquire) != 0 {
            return None;
        }
        // SAFETY: we hold the busy flag, so this is the only reference to
        // `own` (invariant).
        let r = f(unsafe { &mut *part.own.get() }, &part.shared);
        part.busy.store(0, Ordering::Release);
        Some(r)
    }

    /// The slow paths: `f` with this CPU's id and parts, preemption off for
    /// the whole hold (bounded work that moves slabs: never stranded on a
    /// CPU that went away, never held by a preempted task); `None` if the
    /// part is held. Any context; `f` must not sleep.
    pub(crate) fn local<R>(&self, f: impl FnOnce(usize, &mut T, &S) -> R) -> Option<R> {
        // SAFETY: paired with `rkmem_host_atomic_end` on every path below.
        unsafe { rkmem_host_atomic_begin() };
        let part = self.here_part();
        let r = if part.busy.swap(1, Ordering::Acquire) != 0 {
            None
        } else {
            // Preemption is off: this is our CPU's part for the whole hold.
            // SAFETY: we hold the busy flag, so this is the only reference (invariant).
            let own = unsafe { &mut *part.own.get() };
            let r = f(part.cpu as usize, own, &part.shared);
            part.busy.store(0, Ordering::Release);
            Some(r)
        };
        // SAFETY: pairs with the `rkmem_host_atomic_begin` above.
        unsafe { rkmem_host_atomic_end() };
        r
    }

    /// This CPU's id and shared part, without taking anything.
    #[inline(always)]
    pub(crate) fn here(&self) -> (usize, &S) {
        let part = self.here_part();
        (part.cpu as usize, &part.shared)
    }

    /// `cpu`'s shared part (counters), from anywhere (`None` for a CPU
    /// that is not possible).
    pub(crate) fn shared(&self, cpu: usize) -> Option<&S> {
        if !percpu::cpu_possible(cpu) {
            return None;
        }
        // SAFETY: a possible CPU's part; `S` is only ever shared (`Sync`);
        // the memory lives as long as `self`.
        Some(unsafe { &(*self.part(cpu)).shared })
    }

    /// `f` on `cpu`'s parts, spinning until its busy flag is free, then
    /// with preemption off for the hold. Slow-path holders run with
    /// preemption off; a fast-path holder keeps the flag a few
    /// instructions, and if it was preempted there it runs again when we
    /// are (we spin preemptible). Process context; does not sleep, so RCU
    /// readers may call it.
    pub(crate) fn with_cpu<R>(&self, cpu: usize, f: impl FnOnce(&mut T, &S) -> R) -> R {
        // SAFETY: a possible CPU's part of our allocation.
        let part = unsafe { &*self.part(cpu) };
        loop {
            // Test, then test-and-set: spin on a plain load.
            while part.busy.load(Ordering::Relaxed) != 0 {
                core::hint::spin_loop();
            }
            // SAFETY: paired with `rkmem_host_atomic_end` below; taken
            // before the flag, so we are never preempted holding it (a
            // spinner on this CPU could then wait for us forever).
            unsafe { rkmem_host_atomic_begin() };
            if part.busy.swap(1, Ordering::Acquire) == 0 {
                break;
            }
            // SAFETY: pairs with the begin above; spin preemptible.
            unsafe { rkmem_host_atomic_end() };
        }
        // SAFETY: we hold the busy flag (invariant).
        let r = f(unsafe { &mut *part.own.get() }, &part.shared);
        part.busy.store(0, Ordering::Release);
        // SAFETY: pairs with the begin that preceded the winning swap.
        unsafe { rkmem_host_atomic_end() };
        r
    }

    /// `f` on a dead CPU's parts (from its hotplug teardown).
    pub(crate) fn dead<R>(&self, cpu: DeadCpu, f: impl FnOnce(&mut T, &S) -> R) -> R {
        self.with_cpu(cpu.0, f)
    }

    /// `f` on every possible CPU's parts, one after the other, each taken
    /// as [`PerCpuSlab::with_cpu`] does (no IPIs). Process context.
    pub(crate) fn for_each_cpu(&self, mut f: impl FnMut(&mut T, &S)) {
        for cpu in percpu::possible_cpus() {
            self.with_cpu(cpu, |t, s| f(t, s));
        }
    }
}

impl<T: ZeroValid, S: ZeroValid + Sync> Drop for PerCpuSlab<T, S> {
    fn drop(&mut self) {
        // SAFETY: ours; `T` and `S` hold no resources of their own.
        unsafe { rkmem_host_percpu_free(self.base) }
    }
}
