// SPDX-License-Identifier: GPL-2.0
//! debugfs: rkmem's directory and files, and the read and write callbacks.

use core::fmt;
use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_ulong, c_void};
use kernel::prelude::*;

use super::published;

extern "C" {
    fn rkmem_host_debugfs_dir(name: *const c_char) -> *mut c_void;
    fn rkmem_host_debugfs_subdir(parent: *mut c_void, name: *const c_char) -> *mut c_void;
    fn rkmem_host_debugfs_file(dir: *mut c_void, name: *const c_char, mode: u16, id: c_ulong);
    fn rkmem_host_debugfs_remove(dir: *mut c_void);
    fn rkmem_host_seq_write(m: *mut c_void, s: *const c_char, len: usize);
}

/// A debugfs directory, removed with everything in it on drop.
pub(crate) struct DebugfsDir {
    pub(super) dentry: *mut c_void,
}

// SAFETY: debugfs dentries may be used and removed from any thread.
unsafe impl Send for DebugfsDir {}
// SAFETY: the handle has no interior mutability.
unsafe impl Sync for DebugfsDir {}

impl DebugfsDir {
    /// Creates `/sys/kernel/debug/<name>`.
    pub(crate) fn new(name: &CStr) -> Self {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        DebugfsDir {
            dentry: unsafe { rkmem_host_debugfs_dir(name.as_char_ptr()) },
        }
    }

    /// Creates `<name>` inside this directory (removed with it too: drop
    /// the child first).
    pub(crate) fn subdir(&self, name: &CStr) -> Self {
        // SAFETY: `self.dentry` is our directory (or an error pointer, which
        // debugfs accepts); `name` outlives the call.
        DebugfsDir {
            dentry: unsafe { rkmem_host_debugfs_subdir(self.dentry, name.as_char_ptr()) },
        }
    }

    /// Adds a file whose reads call [`Rkmem::show`] and writes
    /// [`Rkmem::write`] with `id`.
    pub(crate) fn file(&self, name: &CStr, mode: u16, id: usize) {
        // SAFETY: `self.dentry` is our directory (or an error pointer, which
        // debugfs accepts and ignores); `name` outlives the call.
        unsafe { rkmem_host_debugfs_file(self.dentry, name.as_char_ptr(), mode, id as c_ulong) }
    }
}

impl Drop for DebugfsDir {
    fn drop(&mut self) {
        // SAFETY: removes what `new` created; waits for open files' callbacks.
        unsafe { rkmem_host_debugfs_remove(self.dentry) }
    }
}

/// A `seq_file` being filled by a debugfs read.
pub(crate) struct SeqFile {
    m: *mut c_void,
}

impl fmt::Write for SeqFile {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // SAFETY: `m` is the seq_file of the running `show` callback.
        unsafe { rkmem_host_seq_write(self.m, s.as_ptr().cast(), s.len()) };
        Ok(())
    }
}

/// debugfs read of file `id`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_show(m: *mut c_void, id: c_ulong) -> c_int {
    let Some(state) = published() else {
        return -(bindings::ENODEV as c_int);
    };
    let mut seq = SeqFile { m };
    match state.show(id as usize, &mut seq) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// debugfs write of file `id`: `buf` holds `len` bytes plus a NUL.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_write(id: c_ulong, buf: *const c_char, len: usize) -> c_int {
    let Some(state) = published() else {
        return -(bindings::ENODEV as c_int);
    };
    // SAFETY: the glue passes a kernel copy of the user's `len` bytes.
    let bytes = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), len) };
    let Ok(text) = core::str::from_utf8(bytes) else {
        return -(bindings::EINVAL as c_int);
    };
    match state.write(id as usize, text) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
