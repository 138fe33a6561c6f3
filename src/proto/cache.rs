//! The one cache of descriptor pools: compiled `.proto` sources and decoded
//! descriptor sets, by a digest of their content, shared by the spec (load-time
//! checks), the probes and Forge.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use hashlink::LruCache;
use prost_reflect::DescriptorPool;
use sha2::{Digest, Sha256};

/// Descriptor pools kept at most. A daemon's gRPC checks share a few APIs, one
/// pool per distinct schema, so real use stays far below; the bound is for a
/// daemon whose API is fed ever new schemas (Forge requests, plans of inline
/// sources), whose pools would otherwise stay for the life of the process. Past
/// it the least recently used pool goes, which costs one compile when it is
/// next needed, never a wrong answer.
pub const MAX_CACHED_POOLS: usize = 128;

/// A digest of what a pool is made from: SHA-256, so that content chosen to
/// collide cannot hand one check another's schema.
pub type Key = [u8; 32];

/// Builds a [`Key`] from length-prefixed parts, so that no two different
/// sequences of parts run together into the same bytes.
#[derive(Default)]
pub struct KeyBuilder(Sha256);

impl KeyBuilder {
    pub fn part(mut self, bytes: &[u8]) -> Self {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    pub fn finish(self) -> Key {
        self.0.finalize().into()
    }
}

/// A bounded, least-recently-used map of pools. Failures are not kept: an error
/// is cheap to find again and its text may change with the sources around it.
pub struct Pools {
    lru: Mutex<LruCache<Key, Arc<DescriptorPool>>>,
    made: AtomicUsize,
}

impl Pools {
    pub fn new(capacity: usize) -> Self {
        Pools {
            lru: Mutex::new(LruCache::new(capacity)),
            made: AtomicUsize::new(0),
        }
    }

    /// The process-wide cache, of [`MAX_CACHED_POOLS`].
    pub fn shared() -> &'static Pools {
        static SHARED: OnceLock<Pools> = OnceLock::new();
        SHARED.get_or_init(|| Pools::new(MAX_CACHED_POOLS))
    }

    /// The pool for `key`, made with `make` when it is not kept. Two callers that
    /// miss at once both make it; the pools are equal, and one of them is kept.
    pub fn get_or_make<E>(
        &self,
        key: Key,
        make: impl FnOnce() -> Result<DescriptorPool, E>,
    ) -> Result<Arc<DescriptorPool>, E> {
        let kept = self
            .lru
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        if let Some(pool) = kept {
            return Ok(pool);
        }
        self.made.fetch_add(1, Ordering::Relaxed);
        let pool = Arc::new(make()?);
        self.lru
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, pool.clone());
        Ok(pool)
    }

    /// How many pools were made (cache misses that ran `make`) so far.
    pub fn made(&self) -> usize {
        self.made.load(Ordering::Relaxed)
    }

    /// How many pools are kept.
    pub fn len(&self) -> usize {
        self.lru.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: usize) -> Key {
        KeyBuilder::default().part(&i.to_le_bytes()).finish()
    }

    #[test]
    fn a_hit_does_not_make_the_pool_again() {
        let pools = Pools::new(4);
        let first = pools
            .get_or_make(key(1), || Ok::<_, ()>(DescriptorPool::new()))
            .unwrap();
        let again = pools
            .get_or_make(key(1), || -> Result<DescriptorPool, ()> {
                panic!("a kept pool is made again")
            })
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(pools.made(), 1);
    }

    #[test]
    fn the_least_recently_used_pool_goes_at_the_bound() {
        let bound = 8;
        let pools = Pools::new(bound);
        let make = || Ok::<_, ()>(DescriptorPool::new());
        for i in 0..bound {
            pools.get_or_make(key(i), make).unwrap();
        }
        // Use the first again, so that the second is the oldest.
        pools.get_or_make(key(0), make).unwrap();
        assert_eq!((pools.made(), pools.len()), (bound, bound));
        pools.get_or_make(key(bound), make).unwrap();
        assert_eq!(pools.len(), bound, "the cache stays at its bound");
        pools.get_or_make(key(0), make).unwrap();
        assert_eq!(pools.made(), bound + 1, "the recently used pool stayed");
        pools.get_or_make(key(1), make).unwrap();
        assert_eq!(pools.made(), bound + 2, "the oldest pool went");
    }

    #[test]
    fn a_failure_is_not_kept() {
        let pools = Pools::new(4);
        assert!(pools.get_or_make(key(1), || Err("bad")).is_err());
        assert!(pools.is_empty());
        pools
            .get_or_make(key(1), || Ok::<_, &str>(DescriptorPool::new()))
            .unwrap();
        assert_eq!(pools.made(), 2);
    }

    #[test]
    fn parts_do_not_run_together() {
        let ab_c = KeyBuilder::default().part(b"ab").part(b"c").finish();
        let a_bc = KeyBuilder::default().part(b"a").part(b"bc").finish();
        assert_ne!(ab_c, a_bc);
    }
}
