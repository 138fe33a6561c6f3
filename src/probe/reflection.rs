//! A client for gRPC server reflection: asks the server for the file that
//! defines a service, then for every file that one imports, and builds a
//! descriptor pool from the answers. Speaks `grpc.reflection.v1` and falls back
//! to `v1alpha` (all that some servers, grpcio's among them, offer).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hashlink::LruCache;
use prost::Message as _;
use prost_reflect::DescriptorPool;
use prost_reflect::prost_types::FileDescriptorProto;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// How long a server's description is trusted without asking again. A call that
/// shows the API changed (UNIMPLEMENTED, or a response that does not decode)
/// drops it at once.
pub const REFLECTION_TTL: Duration = Duration::from_secs(5 * 60);
/// Descriptions kept at most, one per (target, authority, service) of the
/// reflection checks a process runs; past this the least recently used goes,
/// as in the other caches of descriptor pools, which costs one conversation with
/// the server when it is next needed.
const MAX_REFLECTED: usize = 256;

/// Whose description a cached pool is: target, authority, service.
pub type Key = (String, String, String);

type Slot = Arc<tokio::sync::Mutex<Option<(Instant, Arc<DescriptorPool>)>>>;

/// Descriptor pools fetched by reflection, shared by every check of the process.
/// Concurrent runs for one key wait for one conversation rather than each
/// starting their own.
pub struct Reflected {
    slots: Mutex<LruCache<Key, Slot>>,
    #[cfg(test)]
    fetches: std::sync::atomic::AtomicUsize,
}

impl Default for Reflected {
    fn default() -> Self {
        Reflected {
            slots: Mutex::new(LruCache::new(MAX_REFLECTED)),
            #[cfg(test)]
            fetches: Default::default(),
        }
    }
}

impl Reflected {
    /// The process-wide cache.
    pub fn shared() -> &'static Reflected {
        static SHARED: OnceLock<Reflected> = OnceLock::new();
        SHARED.get_or_init(Reflected::default)
    }

    fn slot(&self, key: &Key) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get(key) {
            return slot.clone();
        }
        // A run still holding an evicted slot finishes with it; the next run
        // for that key starts a new one.
        let slot = Slot::default();
        slots.insert(key.clone(), slot.clone());
        slot
    }

    /// The pool for `key`: cached while fresh, else fetched with `fetch`. The
    /// flag says whether it came from the cache.
    pub async fn get<F>(&self, key: &Key, fetch: F) -> Result<(Arc<DescriptorPool>, bool), String>
    where
        F: Future<Output = Result<DescriptorPool, String>>,
    {
        let slot = self.slot(key);
        let mut entry = slot.lock().await;
        if let Some((at, pool)) = entry.as_ref()
            && at.elapsed() < REFLECTION_TTL
        {
            return Ok((pool.clone(), true));
        }
        #[cfg(test)]
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pool = Arc::new(fetch.await?);
        *entry = Some((Instant::now(), pool.clone()));
        Ok((pool, false))
    }

    /// Drops what is known about `key`: the next run asks the server again.
    pub fn forget(&self, key: &Key) {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// What a reflection request asks for, whichever version carries it.
enum Ask {
    Symbol(String),
    File(String),
}

/// Fetches one file per question over one stream of one protocol version.
macro_rules! conversation {
    ($name:ident, $pb:path) => {
        async fn $name(channel: Channel, service: &str) -> Result<Vec<Vec<u8>>, Status> {
            use pb::server_reflection_request::MessageRequest;
            use pb::server_reflection_response::MessageResponse;
            use $pb as pb;
            let (tx, rx) = tokio::sync::mpsc::channel::<pb::ServerReflectionRequest>(8);
            let requests = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|r| (r, rx))
            });
            let send = |ask: Ask| {
                let message_request = match ask {
                    Ask::Symbol(s) => MessageRequest::FileContainingSymbol(s),
                    Ask::File(f) => MessageRequest::FileByFilename(f),
                };
                let tx = tx.clone();
                async move {
                    tx.send(pb::ServerReflectionRequest {
                        host: String::new(),
                        message_request: Some(message_request),
                    })
                    .await
                    .map_err(|_| Status::cancelled("reflection stream closed"))
                }
            };
            let mut client = pb::server_reflection_client::ServerReflectionClient::new(channel);
            send(Ask::Symbol(service.to_string())).await?;
            let mut answers = client.server_reflection_info(requests).await?.into_inner();
            let mut files = Files::default();
            let mut pending = 1usize;
            while pending > 0 {
                let Some(answer) = answers.message().await? else {
                    return Err(Status::unknown("reflection stream ended early"));
                };
                pending -= 1;
                match answer.message_response {
                    Some(MessageResponse::FileDescriptorResponse(r)) => {
                        for ask in files.add(r.file_descriptor_proto)? {
                            pending += 1;
                            send(ask).await?;
                        }
                    }
                    Some(MessageResponse::ErrorResponse(e)) => {
                        let status = Status::new(Code::from(e.error_code), e.error_message);
                        files.missing(status)?;
                    }
                    _ => return Err(Status::unknown("unexpected reflection answer")),
                }
            }
            Ok(files.encoded())
        }
    };
}

conversation!(fetch_v1, tonic_reflection::pb::v1);
conversation!(fetch_v1alpha, tonic_reflection::pb::v1alpha);

/// Files received so far, and the imports already asked for.
#[derive(Default)]
struct Files {
    received: BTreeMap<String, Vec<u8>>,
    asked: BTreeSet<String>,
}

impl Files {
    /// Keeps new files and returns the questions for imports not yet known.
    fn add(&mut self, encoded: Vec<Vec<u8>>) -> Result<Vec<Ask>, Status> {
        let mut asks = Vec::new();
        for bytes in encoded {
            let file = FileDescriptorProto::decode(bytes.as_slice())
                .map_err(|e| Status::internal(format!("bad file descriptor: {e}")))?;
            let name = file.name().to_string();
            self.asked.insert(name.clone());
            for dep in &file.dependency {
                if !self.received.contains_key(dep) && self.asked.insert(dep.clone()) {
                    asks.push(Ask::File(dep.clone()));
                }
            }
            self.received.insert(name, bytes);
        }
        Ok(asks)
    }

    /// An import the server does not have is left out: servers often omit the
    /// well-known types, which [`pool`] supplies. A service it does not know is
    /// an error.
    fn missing(&mut self, status: Status) -> Result<(), Status> {
        if status.code() != Code::NotFound || self.received.is_empty() {
            return Err(status);
        }
        Ok(())
    }

    fn encoded(self) -> Vec<Vec<u8>> {
        self.received.into_values().collect()
    }
}

/// The server's descriptions of `service` and everything it depends on.
pub async fn pool(channel: Channel, service: &str) -> Result<DescriptorPool, String> {
    let files = match fetch_v1(channel.clone(), service).await {
        Err(s) if s.code() == Code::Unimplemented => fetch_v1alpha(channel, service).await,
        other => other,
    }
    .map_err(|s| format!("reflection: {}", describe(&s)))?;
    let mut protos = Vec::new();
    let mut names = BTreeSet::new();
    for bytes in files {
        let file = FileDescriptorProto::decode(bytes.as_slice()).map_err(|e| e.to_string())?;
        names.insert(file.name().to_string());
        protos.push(file);
    }
    // Servers often leave out the well-known types; protox carries them.
    let google = protox::file::GoogleFileResolver::new();
    let deps: BTreeSet<String> = protos.iter().flat_map(|f| f.dependency.clone()).collect();
    for dep in deps.difference(&names) {
        if let Ok(file) = protox::file::FileResolver::open_file(&google, dep) {
            protos.push(file.file_descriptor_proto().clone());
        }
    }
    let mut pool = DescriptorPool::new();
    pool.add_file_descriptor_protos(protos)
        .map_err(|e| format!("reflection: the server's descriptors do not build: {e}"))?;
    Ok(pool)
}

fn describe(status: &Status) -> String {
    let name = crate::spec::CODE_NAMES
        .get(status.code() as usize)
        .copied()
        .unwrap_or("UNKNOWN");
    if status.message().is_empty() {
        name.to_string()
    } else {
        format!("{name}: {}", status.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(service: &str) -> Key {
        ("h:1".into(), "h:1".into(), service.into())
    }

    #[tokio::test]
    async fn a_description_is_fetched_once_until_forgotten() {
        let cache = Reflected::default();
        let fetch = || async { Ok(DescriptorPool::new()) };
        assert!(!cache.get(&key("a"), fetch()).await.unwrap().1);
        assert!(cache.get(&key("a"), fetch()).await.unwrap().1);
        assert!(!cache.get(&key("b"), fetch()).await.unwrap().1);
        cache.forget(&key("a"));
        assert!(!cache.get(&key("a"), fetch()).await.unwrap().1);
        assert_eq!(cache.fetches.load(std::sync::atomic::Ordering::Relaxed), 3);
        // A failed fetch is not kept.
        let failing = async { Err::<DescriptorPool, _>("down".to_string()) };
        assert!(cache.get(&key("c"), failing).await.is_err());
        assert!(!cache.get(&key("c"), fetch()).await.unwrap().1);
    }

    #[tokio::test]
    async fn the_cache_stays_bounded() {
        let cache = Reflected::default();
        for i in 0..(MAX_REFLECTED * 2) {
            let fetch = async { Ok(DescriptorPool::new()) };
            cache.get(&key(&i.to_string()), fetch).await.unwrap();
            assert!(cache.slots.lock().unwrap().len() <= MAX_REFLECTED);
        }
    }

    #[tokio::test]
    async fn the_least_recently_used_description_goes_at_the_bound() {
        let cache = Reflected::default();
        let fetch = || async { Ok(DescriptorPool::new()) };
        for i in 0..MAX_REFLECTED {
            cache.get(&key(&i.to_string()), fetch()).await.unwrap();
        }
        // Use the first again, so that the second is the oldest.
        assert!(cache.get(&key("0"), fetch()).await.unwrap().1);
        cache.get(&key("new"), fetch()).await.unwrap();
        assert!(
            cache.get(&key("0"), fetch()).await.unwrap().1,
            "recent one stays"
        );
        assert!(
            !cache.get(&key("1"), fetch()).await.unwrap().1,
            "oldest went"
        );
    }
}
