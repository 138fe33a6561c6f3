use std::process::ExitCode;

/// mimalloc gives freed memory back to the system soon after it is freed. With the
/// system allocator, the peak of an apply of many thousands of checks stayed
/// resident for the daemon's life: at 100,000 checks, about 1.1 GiB of its 1.5 GiB
/// were freed pages that glibc kept.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Transparent huge pages make each first touch of memory zero 2 MiB and count
    // it whole as resident: a fifth of `uptimeping test`'s CPU in a profile, and
    // tens of MiB of the daemon's peak. mimalloc is built not to ask for them
    // (`no_thp`); this also keeps a kernel set to `always` from giving them. A
    // kernel without the setting changes nothing, so its error is of no use.
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_thp_disable(true);
    uptimeping::run()
}
