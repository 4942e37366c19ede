// SPDX-License-Identifier: GPL-2.0
//! The partial-list policy: node lists (`min_partial`) and CPU lists (`cpu_partial`).

use super::*;

// ------------------------------------------------------------- partial lists

/// Fewest empty slabs a node keeps on its partial list (`MIN_PARTIAL`).
pub const MIN_PARTIAL: u32 = 5;
/// Most the default `min_partial` goes (`MAX_PARTIAL`).
pub const MAX_PARTIAL: u32 = 10;

/// Default `min_partial` for stride `size` (`set_min_partial()`): bigger
/// objects make slabs costlier to get again, so keep a few more.
pub const fn min_partial(size: usize) -> u32 {
    let m = if size == 0 { 0 } else { size.ilog2() / 2 };
    if m < MIN_PARTIAL {
        MIN_PARTIAL
    } else if m > MAX_PARTIAL {
        MAX_PARTIAL
    } else {
        m
    }
}

/// Default `cpu_partial` in objects for stride `size` (`set_cpu_partial()`,
/// the host's current values; older kernels used 2 / 6 / 13 / 30).
pub const fn cpu_partial_objects(size: usize) -> u32 {
    if size >= PAGE_SIZE {
        6
    } else if size >= 1024 {
        24
    } else if size >= 256 {
        52
    } else {
        120
    }
}

/// Slabs a CPU's partial list may hold for `cpu_partial` objects
/// (`slub_set_cpu_partial()`: slabs assumed half full).
pub const fn cpu_partial_slabs(cpu_partial: u32, objects_per_slab: usize) -> u32 {
    if objects_per_slab == 0 {
        return 0;
    }
    (cpu_partial as usize * 2).div_ceil(objects_per_slab) as u32
}

/// What a free that took a full slab for its CPU does with the CPU's
/// partial list (`put_cpu_partial()` with `drain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuPartialPut {
    /// Onto the list; it has room.
    Push,
    /// The list already holds its `cpu_partial_slabs`: those go to their
    /// nodes first, and the new slab starts the list again (it is the one
    /// whose objects are being freed now, so it stays with the CPU).
    DrainThenPush,
    /// `cpu_partial_slabs` is 0: the slab goes to its node at once.
    PushThenDrain,
}

/// [`CpuPartialPut`] for a list of `len` slabs and a limit of `max` slabs
/// (`slub_get_cpu_partial()`). As SLUB: the list is drained when it is
/// already full, before the slab joins it, never with the slab.
pub const fn cpu_partial_put(len: usize, max: u32) -> CpuPartialPut {
    if max == 0 {
        CpuPartialPut::PushThenDrain
    } else if len >= max as usize {
        CpuPartialPut::DrainThenPush
    } else {
        CpuPartialPut::Push
    }
}

/// Slabs a CPU takes from a node's partial list onto its own partial list
/// besides the one it makes its active slab (`get_partial_node()`: up to
/// `cpu_partial_slabs / 2 + 1`, none when it is 0), its list holding
/// `len` slabs; never beyond `max`.
pub const fn cpu_partial_refill(max: u32, len: usize) -> usize {
    if max == 0 {
        return 0;
    }
    let want = max as usize / 2 + 1;
    let room = (max as usize).saturating_sub(len);
    if want < room {
        want
    } else {
        room
    }
}

/// What to do with a slab whose last object was just freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptySlab {
    /// Keep it on the node's partial list (it is counted there now).
    Keep,
    /// Take it off the list (if it was on it) and free it to the buddy.
    Discard,
}

/// The count side of one node's partial list; the caller holds the node
/// lock and keeps the slabs' list itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePartial {
    nr_partial: u32,
    /// Empty slabs kept rather than freed (the `min_partial` knob).
    pub min_partial: u32,
}

impl NodePartial {
    /// An empty list.
    pub const fn new(min_partial: u32) -> Self {
        NodePartial {
            nr_partial: 0,
            min_partial,
        }
    }

    /// Slabs on the list.
    pub fn nr_partial(&self) -> u32 {
        self.nr_partial
    }

    /// A slab with free objects joins the list (`add_partial()`).
    pub fn add(&mut self) {
        self.nr_partial += 1;
    }

    /// A slab leaves the list (taken by a CPU, discarded by shrink).
    pub fn remove(&mut self) {
        self.nr_partial = self.nr_partial.saturating_sub(1);
    }

    /// A slab became empty; `on_list` says whether it is on this list. As
    /// `__slab_free()`: discard it once the list holds `min_partial` slabs
    /// (itself included), so at most `min_partial` empty slabs are kept.
    pub fn emptied(&mut self, on_list: bool) -> EmptySlab {
        if self.nr_partial >= self.min_partial {
            if on_list {
                self.remove();
            }
            EmptySlab::Discard
        } else {
            if !on_list {
                self.add();
            }
            EmptySlab::Keep
        }
    }
}
