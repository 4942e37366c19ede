// SPDX-License-Identifier: GPL-2.0
//! Reports of what the checks find (SLUB's `slab_bug` and object dumps),
//! the user tracks they print, and the stack-formatted text they use.

use super::*;

/// Kinds of reports (see [`Report`]).
pub(super) const NR_REPORTS: usize = 9;

/// What a check found.
#[derive(Clone, Copy)]
pub(super) enum Report {
    RightRedzone,
    LeftRedzone,
    Poison,
    AlreadyFree,
    InvalidPointer,
    WrongCache,
    FreepointerCorrupt,
    NotOwned,
    NotSlab,
}

impl Report {
    fn what(self) -> &'static CStr {
        match self {
            Report::RightRedzone => c_str!("Right Redzone overwritten"),
            Report::LeftRedzone => c_str!("Left Redzone overwritten"),
            Report::Poison => c_str!("Poison overwritten"),
            Report::AlreadyFree => c_str!("Object already free"),
            Report::InvalidPointer => c_str!("Invalid object pointer"),
            Report::WrongCache => c_str!("Wrong slab cache, object is from another cache"),
            Report::FreepointerCorrupt => c_str!("Freepointer corrupt"),
            Report::NotOwned => c_str!("Free of memory rkmem does not own"),
            Report::NotSlab => c_str!("Free of an rkmem page that is no slab object"),
        }
    }
}

impl Cache {
    /// Reports a finding once per kind (SLUB's `slab_bug` + details) and
    /// counts it always.
    pub(super) fn report(
        &self,
        kind: Report,
        mem: Option<(SlabMem, usize)>,
        detail: core::fmt::Arguments<'_>,
    ) {
        self.corruptions.fetch_add(1, Ordering::Relaxed);
        if self.warned[kind as usize].swap(true, Ordering::Relaxed) {
            return;
        }
        let mut buf = StackStr::<160>::new();
        let _ = buf.write_fmt(detail);
        slab_bug(&self.name, kind.what(), buf.as_cstr());
        if let Some((mem, off)) = mem {
            let start = off.saturating_sub(16) & !15;
            mem.hex_dump(start, 16 + self.layout.size.min(128) + 16);
            if let Some(t) = self.layout.track_offset() {
                let obj = self.obj_start(off);
                self.read_track(&mem, obj + t).print(c_str!("Allocated"));
                self.read_track(&mem, obj + t + TRACK_SIZE)
                    .print(c_str!("Freed"));
            }
        }
    }

    /// The object start of the stride holding byte `off` of a slab.
    fn obj_start(&self, off: usize) -> usize {
        let rel = off.saturating_sub(self.layout.red_left_pad);
        (rel / self.layout.size) * self.layout.size + self.layout.red_left_pad
    }

    fn read_track(&self, mem: &SlabMem, off: usize) -> Track {
        Track {
            addr: mem.read_word(off),
            cpu: mem.read_word(off + 8),
            pid: mem.read_word(off + 16),
            when: mem.read_word(off + 24),
        }
    }

    pub(super) fn write_track(
        &self,
        mem: &SlabMem,
        obj_off: usize,
        free: bool,
        caller: usize,
        cpu: usize,
    ) {
        if let Some(t) = self.layout.track_offset() {
            let off = obj_off + t + if free { TRACK_SIZE } else { 0 };
            let t = Track::now(caller, cpu);
            mem.write_word(off, t.addr);
            mem.write_word(off + 8, t.cpu);
            mem.write_word(off + 16, t.pid);
            mem.write_word(off + 24, t.when);
        }
    }
}

/// Text formatted on the stack (reports may run in any context, so no
/// allocation), cut at `N - 1` bytes.
struct StackStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackStr<N> {
    fn new() -> Self {
        StackStr {
            buf: [0; N],
            len: 0,
        }
    }

    fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.buf[..self.len + 1]).unwrap_or(c_str!(""))
    }
}

impl<const N: usize> Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if self.len + 1 >= N {
                break;
            }
            // No NUL inside: the text ends at the first one.
            self.buf[self.len] = if b == 0 { b'?' } else { b };
            self.len += 1;
        }
        Ok(())
    }
}

/// Displays bytes as text (non-UTF-8 as '?').
pub(super) struct BStrDisplay<'a>(pub(super) &'a [u8]);

impl core::fmt::Display for BStrDisplay<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for &b in self.0 {
            f.write_char(if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            })?;
        }
        Ok(())
    }
}
