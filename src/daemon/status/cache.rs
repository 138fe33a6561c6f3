//! Rendered pages kept for a few seconds, so that a crowd of visitors (a page
//! linked from an outage post) costs one render: the first request of a key
//! renders, the ones arriving meanwhile wait for that render, and everyone until
//! the entry expires gets its bytes. An entry is also dropped as soon as the
//! desired state changes (an apply, which may change the page), and the cache is
//! bounded in entries and bytes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::OnceCell;

/// How long a rendered page is served as is: short enough that a status change
/// shows within seconds, long enough that a crowd shares one render.
pub const CACHE_TTL: Duration = Duration::from_secs(10);
/// Entries kept at most: each page in each format, plus badges.
pub const MAX_CACHE_ENTRIES: usize = 1_024;
/// Bytes of rendered pages kept at most (plain and gzipped): a page of a thousand
/// checks is a few megabytes, so dozens of such pages fit.
pub const MAX_CACHE_BYTES: usize = 128 * 1024 * 1024;

/// What is cached: a page of a tenant in one format with its links' base, or a
/// badge.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub tenant: i64,
    pub what: String,
}

/// A rendered answer: its bytes, gzipped bytes when worth it, its ETag.
#[derive(Debug)]
pub struct Rendered {
    pub body: Bytes,
    pub gzip: Option<Bytes>,
    pub etag: String,
    pub content_type: &'static str,
}

impl Rendered {
    pub fn new(body: Vec<u8>, content_type: &'static str) -> Rendered {
        use sha2::Digest;
        let etag = format!("\"{}\"", &hex::encode(sha2::Sha256::digest(&body))[..32]);
        let gzip = (body.len() >= GZIP_FROM).then(|| gzip(&body)).flatten();
        Rendered {
            body: Bytes::from(body),
            gzip,
            etag,
            content_type,
        }
    }

    fn size(&self) -> usize {
        self.body.len() + self.gzip.as_ref().map_or(0, Bytes::len)
    }
}

/// Bodies from this size on are also kept gzipped: below it the saving is small.
const GZIP_FROM: usize = 1_024;

fn gzip(body: &[u8]) -> Option<Bytes> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 8),
        flate2::Compression::fast(),
    );
    enc.write_all(body).ok()?;
    enc.finish().ok().map(Bytes::from)
}

struct Slot {
    cell: Arc<OnceCell<Arc<Rendered>>>,
    created: Instant,
    generation: u64,
}

#[derive(Default)]
pub struct Cache {
    slots: Mutex<HashMap<Key, Slot>>,
    renders: AtomicU64,
}

impl Cache {
    /// Renders done so far (each a miss), for tests and `/metrics`.
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    /// The entry of `key`, rendered by `render` unless a fresh one of this
    /// `generation` of the desired state exists or is being rendered.
    pub async fn get_or_render<E, F, Fut>(
        &self,
        key: Key,
        generation: u64,
        render: F,
    ) -> Result<Arc<Rendered>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Rendered, E>>,
    {
        let cell = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            match slots.get(&key) {
                Some(s) if s.generation == generation && s.created.elapsed() < CACHE_TTL => {
                    Arc::clone(&s.cell)
                }
                _ => {
                    let cell = Arc::new(OnceCell::new());
                    slots.insert(
                        key,
                        Slot {
                            cell: Arc::clone(&cell),
                            created: Instant::now(),
                            generation,
                        },
                    );
                    evict(&mut slots, generation);
                    cell
                }
            }
        };
        let rendered = std::sync::atomic::AtomicBool::new(false);
        let out = cell
            .get_or_try_init(|| async {
                self.renders.fetch_add(1, Ordering::Relaxed);
                rendered.store(true, Ordering::Relaxed);
                render().await.map(Arc::new)
            })
            .await
            .map(Arc::clone)?;
        if rendered.load(Ordering::Relaxed) {
            // Bytes are known only once rendered: bound them now.
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            evict(&mut slots, generation);
        }
        Ok(out)
    }
}

/// Drops expired and stale entries, then the oldest until within the bounds.
fn evict(slots: &mut HashMap<Key, Slot>, generation: u64) {
    slots.retain(|_, s| s.generation == generation && s.created.elapsed() < CACHE_TTL);
    let bytes = |slots: &HashMap<Key, Slot>| -> usize {
        slots
            .values()
            .filter_map(|s| s.cell.get().map(|r| r.size()))
            .sum()
    };
    while slots.len() > MAX_CACHE_ENTRIES || bytes(slots) > MAX_CACHE_BYTES {
        let Some(oldest) = slots
            .iter()
            .min_by_key(|(_, s)| s.created)
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        slots.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(what: &str) -> Key {
        Key {
            tenant: 1,
            what: what.into(),
        }
    }

    #[tokio::test]
    async fn a_burst_renders_once_and_a_new_generation_renders_again() {
        let cache = Arc::new(Cache::default());
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let cache = Arc::clone(&cache);
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_render(key("p"), 0, || async {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok::<_, ()>(Rendered::new(b"page".to_vec(), "text/html"))
                    })
                    .await
            }));
        }
        for t in tasks {
            assert!(t.await.expect("task").is_ok());
        }
        assert_eq!(cache.renders(), 1);
        let again = cache
            .get_or_render(key("p"), 1, || async {
                Ok::<_, ()>(Rendered::new(b"new".to_vec(), "text/html"))
            })
            .await
            .expect("render");
        assert_eq!(&again.body[..], b"new");
        assert_eq!(cache.renders(), 2);
    }

    #[tokio::test]
    async fn a_failed_render_is_not_kept() {
        let cache = Cache::default();
        let first = cache
            .get_or_render(key("p"), 0, || async { Err::<Rendered, _>("broken") })
            .await;
        assert!(first.is_err());
        let second = cache
            .get_or_render(key("p"), 0, || async {
                Ok::<_, &str>(Rendered::new(b"ok".to_vec(), "text/html"))
            })
            .await
            .expect("render");
        assert_eq!(&second.body[..], b"ok");
    }

    #[tokio::test]
    async fn entries_are_bounded() {
        let cache = Cache::default();
        for i in 0..MAX_CACHE_ENTRIES + 10 {
            let _ = cache
                .get_or_render(key(&i.to_string()), 0, || async {
                    Ok::<_, ()>(Rendered::new(b"x".to_vec(), "text/html"))
                })
                .await;
        }
        let n = cache.slots.lock().map(|s| s.len()).unwrap_or(0);
        assert!(n <= MAX_CACHE_ENTRIES, "{n}");
    }
}
