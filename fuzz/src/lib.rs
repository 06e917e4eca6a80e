//! What the fuzz targets share: a global allocator that treats any single allocation
//! over a target's limit as a crash (issue #14: "every reader has a limit on what it
//! allocates from a number in its input"). A reader that sizes a buffer from a field
//! it read (a tar size, a JSON length, an ELF `e_phnum`) without bounding it first
//! shows up here as an abort with the size asked for, and libFuzzer keeps the input.
//!
//! Only Rust allocations are counted (libFuzzer's own and C libraries' are not), and
//! the check works without a sanitizer, so the targets build with `-s none` (faster
//! to build and to run; the code they fuzz is safe Rust).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

/// From now on, an allocation of more than `bytes` aborts the process.
pub fn limit_allocations(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

struct Limited;

#[global_allocator]
static ALLOCATOR: Limited = Limited;

fn check(size: usize) {
    let limit = LIMIT.load(Ordering::Relaxed);
    if size > limit {
        // No allocation from here on: the message is put together on the stack.
        let mut buf = [0u8; 128];
        let mut w = &mut buf[..];
        let _ = write!(
            w,
            "\nsmidge-fuzz: an allocation of {size} bytes, over this target's limit of {limit}\n"
        );
        let left = w.len();
        let _ = std::io::stderr().write_all(&buf[..buf.len() - left]);
        std::process::abort();
    }
}

// SAFETY: every call is passed to the system allocator unchanged; `check` only reads
// the size and, when it is over the limit, aborts without allocating.
unsafe impl GlobalAlloc for Limited {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}
