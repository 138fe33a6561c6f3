//! The daemon's own resource use: memory and CPU from `/proc/self` (Linux only;
//! elsewhere those series are left out), and the bytes of the data directory.

use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// Clock ticks per second in `/proc/<pid>/stat`: the kernel's `USER_HZ`, which is
/// part of its user-space interface and 100 on every architecture Linux supports.
const USER_HZ: f64 = 100.0;
/// Files and directories looked at when adding up the data directory: it holds a
/// handful (the database, its WAL and shared-memory files, the admin key), so this
/// is far more than it needs and keeps a scrape short if something else fills it.
pub const MAX_DATA_DIR_ENTRIES: usize = 10_000;
/// How deep the data directory is walked, for the same reason.
const MAX_DATA_DIR_DEPTH: usize = 4;

/// Resident memory of the process in bytes (`VmRSS`).
pub fn memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    rss_from_status(&status)
}

fn rss_from_status(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib.saturating_mul(1024))
}

/// CPU time used by the process so far (user and system), in seconds.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    cpu_from_stat(&stat)
}

/// Fields 14 and 15 of `/proc/<pid>/stat`; counted after the command name, which is
/// in parentheses and may itself hold spaces and parentheses.
fn cpu_from_stat(stat: &str) -> Option<f64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// CPU use between two scrapes, as a percentage of one core.
pub struct Cpu {
    last: Mutex<Option<(Instant, f64)>>,
}

impl Cpu {
    /// Starts measuring now, so that the first scrape sees the use since the start.
    pub fn new() -> Cpu {
        Cpu {
            last: Mutex::new(cpu_seconds().map(|s| (Instant::now(), s))),
        }
    }

    /// The percentage of one core used since the previous call (100 = one core busy
    /// all the time); `None` where `/proc/self/stat` cannot be read.
    pub fn percent(&self) -> Option<f64> {
        let now = Instant::now();
        let used = cpu_seconds()?;
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let previous = last.replace((now, used));
        let (then, before) = previous?;
        let wall = now.duration_since(then).as_secs_f64();
        if wall <= 0.0 {
            return Some(0.0);
        }
        Some(((used - before).max(0.0) / wall) * 100.0)
    }
}

impl Default for Cpu {
    fn default() -> Self {
        Self::new()
    }
}

/// Bytes in the files under `dir` (sizes as `ls` shows them), looking at no more than
/// [`MAX_DATA_DIR_ENTRIES`] entries, [`MAX_DATA_DIR_DEPTH`] levels down. Symbolic
/// links are not followed.
pub fn disk_bytes(dir: &Path) -> u64 {
    let mut total = 0u64;
    let mut seen = 0usize;
    let mut pending = vec![(dir.to_path_buf(), 0usize)];
    while let Some((path, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_DATA_DIR_ENTRIES {
                return total;
            }
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_file() {
                total = total.saturating_add(meta.len());
            } else if meta.is_dir() && depth + 1 < MAX_DATA_DIR_DEPTH {
                pending.push((entry.path(), depth + 1));
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_is_read_in_bytes() {
        let status = "Name:\tuptimeping\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t4\n";
        assert_eq!(rss_from_status(status), Some(1234 * 1024));
        assert_eq!(rss_from_status("Name:\tx\n"), None);
    }

    #[test]
    fn cpu_time_counts_fields_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0";
        assert_eq!(cpu_from_stat(stat), Some(3.0));
        assert_eq!(cpu_from_stat("42 (x) S 1"), None);
    }

    #[test]
    fn the_live_process_reports_memory_and_cpu() {
        assert!(memory_bytes().is_some_and(|b| b > 0));
        let cpu = Cpu::new();
        assert!(cpu.percent().is_some_and(|p| p >= 0.0));
    }

    #[test]
    fn disk_use_adds_up_files_below_the_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a"), [0u8; 100]).expect("write");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub/b"), [0u8; 23]).expect("write");
        assert_eq!(disk_bytes(dir.path()), 123);
        assert_eq!(disk_bytes(&dir.path().join("missing")), 0);
    }
}
