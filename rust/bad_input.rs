// SPDX-License-Identifier: GPL-2.0
//! Bad input to the C API (see `logic/bad_input.rs` for the kinds): a
//! refused call is counted per kind (shown in zoneinfo) and reported with a
//! rate-limited warning and a stack trace, as the host's `warn_alloc` and
//! "Bad page state" reports.

use core::sync::atomic::Ordering;

use kernel::prelude::*;

use crate::host::{self, pages};
use crate::logic::bad_input::BadInput;
use crate::Rkmem;

impl Rkmem {
    /// Counts a refused call of `kind`.
    fn count_bad_input(&self, kind: BadInput) {
        self.bad_input[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Refused calls of `kind` so far.
    pub(crate) fn bad_input_count(&self, kind: BadInput) -> u64 {
        self.bad_input[kind as usize].load(Ordering::Relaxed)
    }

    #[cold]
    #[inline(never)]
    pub(super) fn report_refused_free(&self, pfn: u64, order: u32, kind: BadInput) {
        self.count_bad_input(kind);
        // One warning with a stack trace per kind per interval, as the
        // host's warn_alloc and bad_page reports.
        if host::bad_input_ratelimit(kind) {
            pr_warn!(
                "refused free of pfn {:#x} order {}: {} (counted in zoneinfo {}; one warning per kind per {} s)\n",
                pfn,
                order,
                kind.what(),
                kind.counter(),
                host::BAD_INPUT_INTERVAL_SECS
            );
            host::dump_stack();
        }
    }

    /// An allocation the C API refused as bad input (node, zone modifiers,
    /// order): counted, and warned about unless `__GFP_NOWARN`.
    #[cold]
    #[inline(never)]
    pub(crate) fn refused_alloc(&self, kind: BadInput, nid: i32, gfp: u32, order: u32) {
        self.count_bad_input(kind);
        if gfp & pages::GFP_NOWARN == 0 && host::bad_input_ratelimit(kind) {
            host::warn_bad_alloc(kind, nid, gfp, order);
        }
    }
}
