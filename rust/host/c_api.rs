// SPDX-License-Identifier: GPL-2.0
//! The C API's entry points: page allocation and free, and the refusals
//! of bad input (their warnings and counters).

use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_uint, c_ulong};

use super::published;
use crate::logic::bad_input::BadInput;
use crate::logic::zonelist::ZoneType;

extern "C" {
    fn rkmem_host_bad_input_ratelimit(kind: c_uint) -> bool;
    fn rkmem_host_dump_stack();
    fn rkmem_host_warn_bad_alloc(
        what: *const c_char,
        what_len: c_int,
        counter: *const c_char,
        counter_len: c_int,
        nid: c_int,
        gfp: bindings::gfp_t,
        order: c_uint,
    );
}

// `enum rkmem_alloc_flags` of host_glue.h (the slab and mempool layers'
// entry points decode the same bits).
pub(crate) const ALLOC_THISNODE: c_uint = 1;
pub(crate) const ALLOC_CAN_SLEEP: c_uint = 2;
pub(crate) const ALLOC_ZERO: c_uint = 4;
const ALLOC_COMP: c_uint = 8;
pub(crate) const ALLOC_NOFAIL: c_uint = 16;
pub(crate) const ALLOC_INIT: c_uint = 32;

/// A page request from the C API's decoded gfp (`None`: no such zone).
pub(crate) fn alloc_request(
    node: usize,
    highest_kind: c_int,
    gfp: bindings::gfp_t,
    flags: c_uint,
    order: u32,
) -> Option<crate::AllocRequest> {
    let zone = usize::try_from(highest_kind)
        .ok()
        .and_then(ZoneType::from_index)?;
    Some(crate::AllocRequest {
        placement: crate::logic::zonelist::Placement {
            node,
            highest_zone: zone,
            this_node: flags & ALLOC_THISNODE != 0,
        },
        order,
        gfp,
        can_sleep: flags & ALLOC_CAN_SLEEP != 0,
        zero: flags & (ALLOC_ZERO | ALLOC_INIT) != 0,
        comp: flags & ALLOC_COMP != 0,
        nofail: flags & ALLOC_NOFAIL != 0,
    })
}

/// Backs `rkmem_alloc_pages()`: 0 and `*pfn` set, or a negative errno.
/// `flags` are the `RKMEM_ALLOC_*` bits the glue decoded from `gfp`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_alloc(
    nid: c_int,
    highest_kind: c_int,
    gfp: bindings::gfp_t,
    flags: c_uint,
    order: c_uint,
    pfn: *mut c_ulong,
) -> c_int {
    let Some(state) = published() else {
        return -(bindings::ENODEV as c_int);
    };
    let Some(request) = usize::try_from(nid)
        .ok()
        .and_then(|node| alloc_request(node, highest_kind, gfp, flags, order))
    else {
        return -(bindings::EINVAL as c_int);
    };
    match state.alloc_pages_client(&request) {
        Ok(got) => {
            // SAFETY: the glue passes a valid out pointer.
            unsafe { *pfn = got as c_ulong };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// The interval of the bad-input warnings' rate limit (host_glue.c).
pub(crate) const BAD_INPUT_INTERVAL_SECS: u32 = 5;

/// Whether a warning about bad input of `kind` may be printed now: one per
/// kind per [`BAD_INPUT_INTERVAL_SECS`] (`__ratelimit`).
pub(crate) fn bad_input_ratelimit(kind: BadInput) -> bool {
    // SAFETY: the glue checks the index against its table.
    unsafe { rkmem_host_bad_input_ratelimit(kind as c_uint) }
}

/// `dump_stack()`: the stack trace of a report.
pub(crate) fn dump_stack() {
    // SAFETY: a plain call, any context.
    unsafe { rkmem_host_dump_stack() }
}

/// The warning of a refused allocation, in the host's `warn_alloc` words
/// (`mode:%#x(%pGg)`), with a stack trace.
pub(crate) fn warn_bad_alloc(kind: BadInput, nid: i32, gfp: u32, order: u32) {
    let (what, counter) = (kind.what(), kind.counter());
    // SAFETY: both strings are valid for their lengths, printed with "%.*s".
    unsafe {
        rkmem_host_warn_bad_alloc(
            what.as_ptr().cast(),
            what.len() as c_int,
            counter.as_ptr().cast(),
            counter.len() as c_int,
            nid,
            gfp,
            order,
        )
    }
}

/// Backs the C API's refusals of bad allocation input (`kind`: a
/// [`BadInput`] number the glue passes).
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_bad_alloc(
    kind: c_int,
    nid: c_int,
    gfp: bindings::gfp_t,
    order: c_uint,
) {
    let kind = usize::try_from(kind).ok().and_then(BadInput::from_index);
    if let (Some(state), Some(kind)) = (published(), kind) {
        state.refused_alloc(kind, nid, gfp, order);
    }
}

/// Backs `rkmem_free_pages()`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_free(pfn: c_ulong, order: c_uint) {
    if let Some(state) = published() {
        state.free_pages(pfn as u64, order);
    }
}
