//! Rows being delivered right now, so that the delivery loop and `deliver_now`
//! never send the same row twice at once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Claims {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    held: Mutex<HashSet<i64>>,
    released: Notify,
}

/// A row held for delivery; released when dropped.
pub struct Claim {
    claims: Claims,
    id: i64,
}

impl Claims {
    fn held(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        // A poisoned lock means a delivery panicked while inserting; the set is still usable.
        self.inner.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds `id` unless someone else does.
    pub fn try_claim(&self, id: i64) -> Option<Claim> {
        self.held().insert(id).then(|| Claim {
            claims: self.clone(),
            id,
        })
    }

    /// Holds `id`, waiting for whoever holds it now to finish.
    pub async fn claim(&self, id: i64) -> Claim {
        loop {
            let released = self.inner.released.notified();
            tokio::pin!(released);
            // Registered before trying, so that a release in between is not missed.
            released.as_mut().enable();
            if let Some(claim) = self.try_claim(id) {
                return claim;
            }
            released.await;
        }
    }
}

impl Claim {
    pub fn id(&self) -> i64 {
        self.id
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.claims.held().remove(&self.id);
        self.claims.inner.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_claimed_row_waits_for_its_release() {
        let claims = Claims::default();
        let first = claims.try_claim(1).expect("free");
        assert!(claims.try_claim(1).is_none());
        assert!(claims.try_claim(2).is_some());
        let waiter = tokio::spawn({
            let claims = claims.clone();
            async move { claims.claim(1).await.id }
        });
        drop(first);
        let id = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("released in time")
            .expect("joins");
        assert_eq!(id, 1);
        assert!(claims.try_claim(1).is_some());
    }
}
