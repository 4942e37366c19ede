// SPDX-License-Identifier: GPL-2.0
//! Bulk allocation and free (`kmem_cache_alloc_bulk`,
//! `kmem_cache_free_bulk`): one hold of the CPU's part for a run of
//! objects.

use super::*;

impl Cache {
    /// Fills `out` with objects, all or none (`kmem_cache_alloc_bulk`).
    pub(crate) fn alloc_bulk(&self, rk: &Rkmem, req: &ObjReq, out: &mut [usize]) -> bool {
        let mut i = 0;
        if !self.debug && req.node.is_none() {
            // One hold of the CPU's part for what its list has.
            i = self
                .cpu
                .fast(|c, st| {
                    let mut i = 0;
                    // Up to a word that does not decode: the slow path
                    // reports it.
                    while i < out.len() {
                        let Some(Ok(off)) = self.pop_cpu_list(c) else {
                            break;
                        };
                        out[i] = c.mem.addr() + off;
                        i += 1;
                    }
                    st.add(Stat::AllocFastpath, i as u64);
                    i
                })
                .unwrap_or(0);
            if self.want_zero(req) {
                for &o in &out[..i] {
                    self.zero_obj(rk, o);
                }
            }
        }
        while i < out.len() {
            match self.alloc(rk, req) {
                Some(o) => out[i] = o,
                None => {
                    self.free_bulk(rk, &out[..i], req.caller);
                    return false;
                }
            }
            i += 1;
        }
        true
    }

    fn zero_obj(&self, rk: &Rkmem, obj: usize) {
        if let Some((slab, _)) = slab_page_of(rk, obj) {
            let mem = slab.mem(self.order);
            mem.fill(obj - mem.addr(), self.layout.object_size, 0);
        }
    }

    /// Frees every non-null object of `objs` (`kmem_cache_free_bulk`).
    pub(crate) fn free_bulk(&self, rk: &Rkmem, objs: &[usize], caller: usize) {
        if self.debug {
            for &o in objs.iter().filter(|&&o| o != 0) {
                self.free_slow(rk, o, caller);
            }
            return;
        }
        let mut i = 0;
        while i < objs.len() {
            // One hold of the CPU's part for a run of objects of the
            // active slab; the first other one takes the slow path.
            i += self
                .cpu
                .fast(|c, st| {
                    let mut n = 0;
                    for &o in &objs[i..] {
                        if o != 0 && self.push_active(c, o) != Pushed::Done {
                            break;
                        }
                        n += 1;
                    }
                    st.add(Stat::FreeFastpath, n as u64);
                    n
                })
                .unwrap_or(0);
            if let Some(&o) = objs.get(i) {
                // The run stopped here: free it on its own (which also
                // reports a repeated free), NULL skipped.
                if o != 0 {
                    self.free(rk, o, caller);
                }
                i += 1;
            }
        }
    }
}
