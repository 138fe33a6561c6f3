//! A tonic server for the gRPC tests: `shop.v1.Catalog` from
//! `tests/protos/shop.proto`, the standard health service with `shop.v1.Catalog`
//! SERVING and `shop.v1.Broken` NOT_SERVING, and server reflection.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;

use crate::servers;

#[allow(clippy::all, clippy::pedantic)]
pub mod shop {
    tonic::include_proto!("shop.v1");
}

use shop::catalog_server::{Catalog, CatalogServer};
use shop::{GetItemRequest, Item, ListItemsRequest, SlowRequest, State};

const DESCRIPTOR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/shop_descriptor.bin"));

/// The catalog; `closed` makes `GetItem` answer UNAVAILABLE, as during maintenance.
#[derive(Default)]
struct Shop {
    closed: Arc<AtomicBool>,
}

fn item(sku: &str, n: u32) -> Item {
    Item {
        sku: sku.to_string(),
        display_name: format!("Widget {n}"),
        state: State::Ready as i32,
        price: Some(shop::item::Price {
            cents: 1250,
            currency: "EUR".into(),
        }),
        tags: vec!["blue".into(), "small".into()],
        stock: [("berlin".to_string(), 3)].into_iter().collect(),
    }
}

#[tonic::async_trait]
impl Catalog for Shop {
    async fn get_item(&self, req: Request<GetItemRequest>) -> Result<Response<Item>, Status> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Status::unavailable("closed for stocktaking"));
        }
        let sku = req.into_inner().sku;
        if sku != "abc-1" {
            return Err(Status::not_found(format!("no item {sku}")));
        }
        Ok(Response::new(item(&sku, 1)))
    }

    type ListItemsStream = Pin<Box<dyn Stream<Item = Result<Item, Status>> + Send>>;

    async fn list_items(
        &self,
        req: Request<ListItemsRequest>,
    ) -> Result<Response<Self::ListItemsStream>, Status> {
        let count = req.into_inner().count;
        let items = (1..=count).map(|n| Ok(item(&format!("sku-{n}"), n)));
        Ok(Response::new(Box::pin(futures_util::stream::iter(items))))
    }

    async fn fail(&self, _: Request<()>) -> Result<Response<()>, Status> {
        Err(Status::permission_denied("catalog is closed"))
    }

    async fn slow(&self, req: Request<SlowRequest>) -> Result<Response<()>, Status> {
        let millis = req.into_inner().millis;
        tokio::time::sleep(Duration::from_millis(u64::from(millis))).await;
        Ok(Response::new(()))
    }

    async fn upload(&self, _: Request<tonic::Streaming<Item>>) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }
}

/// Starts the server on 127.0.0.1 on the shared runtime; it lives as long as the
/// tests. Without `v1`, reflection speaks only v1alpha, as grpcio's does.
pub fn start(v1: bool) -> SocketAddr {
    start_with(v1, Shop::default())
}

/// A server of its own whose `GetItem` fails with UNAVAILABLE while the
/// returned switch is on.
pub fn start_switchable() -> (SocketAddr, Arc<AtomicBool>) {
    let shop = Shop::default();
    let closed = shop.closed.clone();
    (start_with(true, shop), closed)
}

fn start_with(v1: bool, shop: Shop) -> SocketAddr {
    let rt = servers::runtime();
    rt.block_on(async {
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter.set_serving::<CatalogServer<Shop>>().await;
        reporter
            .set_service_status("shop.v1.Broken", ServingStatus::NotServing)
            .await;
        let reflection_v1 = v1.then(|| {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(DESCRIPTOR)
                .build_v1()
                .unwrap()
        });
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(DESCRIPTOR)
            .build_v1alpha()
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(health)
                .add_optional_service(reflection_v1)
                .add_service(reflection_v1alpha)
                .add_service(CatalogServer::new(shop))
                .serve_with_incoming(incoming),
        );
        addr
    })
}

/// The health service and the catalog over TLS with `pki`'s leaf certificate.
pub fn start_tls(pki: &servers::Pki) -> SocketAddr {
    use tonic::transport::{Identity, ServerTlsConfig};
    let identity = Identity::from_pem(&pki.cert_pem, &pki.key_pem);
    servers::runtime().block_on(async {
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter.set_serving::<CatalogServer<Shop>>().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let server = tonic::transport::Server::builder()
            .tls_config(ServerTlsConfig::new().identity(identity))
            .unwrap()
            .add_service(health)
            .add_service(CatalogServer::new(Shop::default()))
            .serve_with_incoming(incoming);
        tokio::spawn(server);
        addr
    })
}

/// A CA with a server certificate for `localhost` and `127.0.0.1` and a client
/// certificate, all as PEM; the server side of mutual TLS.
pub struct MutualPki {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

pub fn mutual_pki() -> MutualPki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "uptimeping mutual TLS test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, "leaf");
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &*ca).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert_pem, server_key_pem) = leaf(
        vec!["localhost".into(), "127.0.0.1".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert_pem, client_key_pem) =
        leaf(vec!["probe".into()], ExtendedKeyUsagePurpose::ClientAuth);
    MutualPki {
        ca_pem: ca.pem(),
        server_cert_pem,
        server_key_pem,
        client_cert_pem,
        client_key_pem,
    }
}

/// The health service and the catalog over TLS that requires a client
/// certificate issued by `pki`'s CA.
pub fn start_mutual_tls(pki: &MutualPki) -> SocketAddr {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let identity = Identity::from_pem(&pki.server_cert_pem, &pki.server_key_pem);
    let tls = ServerTlsConfig::new()
        .identity(identity)
        .client_ca_root(Certificate::from_pem(&pki.ca_pem));
    servers::runtime().block_on(async {
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter.set_serving::<CatalogServer<Shop>>().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let server = tonic::transport::Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(health)
            .add_service(CatalogServer::new(Shop::default()))
            .serve_with_incoming(incoming);
        tokio::spawn(server);
        addr
    })
}

/// `flip.v1.Flip/Get` in two versions of one API: the reply holds a
/// `string name = 1` in version 1 and an `int64 count = 1` in version 2, so a
/// version 1 description cannot decode a version 2 reply.
const FLIP_V1: &str = "syntax = \"proto3\";\npackage flip.v1;\nservice Flip { rpc Get(Ask) returns (Reply); }\nmessage Ask {}\nmessage Reply { string name = 1; }\n";
const FLIP_V2: &str = "syntax = \"proto3\";\npackage flip.v1;\nservice Flip { rpc Get(Ask) returns (Reply); }\nmessage Ask {}\nmessage Reply { int64 count = 1; }\n";

#[derive(Clone, PartialEq, prost::Message)]
struct Ask {}

#[derive(Clone, PartialEq, prost::Message)]
struct ReplyV1 {
    #[prost(string, tag = "1")]
    name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ReplyV2 {
    #[prost(int64, tag = "1")]
    count: i64,
}

/// A server whose API changes from version 1 to 2 on demand, reflection
/// included, counting the reflection conversations it is asked for.
pub struct Versioned {
    pub addr: SocketAddr,
    version: Arc<AtomicU8>,
    reflections: Arc<AtomicUsize>,
}

impl Versioned {
    pub fn start() -> Versioned {
        let version = Arc::new(AtomicU8::new(1));
        let reflections = Arc::new(AtomicUsize::new(0));
        let describe = |source: &str| {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("flip.proto"), source).unwrap();
            let mut compiler = protox::Compiler::new([dir.path()]).unwrap();
            compiler.open_file("flip.proto").unwrap();
            // The builder borrows the set for as long as the server lives.
            let set: &'static [u8] = Box::leak(compiler.encode_file_descriptor_set().into());
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(set)
                .build_v1()
                .unwrap()
        };
        let reflection = Reflection {
            versions: [describe(FLIP_V1), describe(FLIP_V2)],
            version: version.clone(),
            count: reflections.clone(),
        };
        let flip = Flip {
            version: version.clone(),
        };
        let addr = servers::runtime().block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            tokio::spawn(
                tonic::transport::Server::builder()
                    .add_service(reflection)
                    .add_service(flip)
                    .serve_with_incoming(incoming),
            );
            addr
        });
        Versioned {
            addr,
            version,
            reflections,
        }
    }

    /// Switches the API to version 2.
    pub fn upgrade(&self) {
        self.version.store(2, Ordering::SeqCst);
    }

    /// Reflection conversations so far.
    pub fn reflections(&self) -> usize {
        self.reflections.load(Ordering::SeqCst)
    }
}

type Req = http::Request<tonic::body::Body>;
type Resp = http::Response<tonic::body::Body>;
type Answer = Pin<Box<dyn std::future::Future<Output = Result<Resp, Infallible>> + Send>>;

/// Reflection for the current version, counting conversations.
#[derive(Clone)]
struct Reflection<R> {
    versions: [R; 2],
    version: Arc<AtomicU8>,
    count: Arc<AtomicUsize>,
}

impl<R> tonic::server::NamedService for Reflection<R> {
    const NAME: &'static str = "grpc.reflection.v1.ServerReflection";
}

impl<R> tower::Service<Req> for Reflection<R>
where
    R: tower::Service<Req, Response = Resp, Error = Infallible> + Clone + Send + 'static,
    R::Future: Send + 'static,
{
    type Response = Resp;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Answer {
        self.count.fetch_add(1, Ordering::SeqCst);
        let v = usize::from(self.version.load(Ordering::SeqCst) - 1);
        let mut inner = self.versions[v].clone();
        Box::pin(async move { inner.call(req).await })
    }
}

/// `flip.v1.Flip/Get`, answering in the current version.
#[derive(Clone)]
struct Flip {
    version: Arc<AtomicU8>,
}

impl tonic::server::NamedService for Flip {
    const NAME: &'static str = "flip.v1.Flip";
}

/// A unary handler that always answers `T`.
struct Always<T>(T);

impl<T: Clone + Send + 'static> tonic::server::UnaryService<Ask> for Always<T> {
    type Response = T;
    type Future = std::future::Ready<Result<Response<T>, Status>>;

    fn call(&mut self, _: Request<Ask>) -> Self::Future {
        std::future::ready(Ok(Response::new(self.0.clone())))
    }
}

impl tower::Service<Req> for Flip {
    type Response = Resp;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Answer {
        let version = self.version.load(Ordering::SeqCst);
        Box::pin(async move {
            Ok(match version {
                1 => {
                    let codec = tonic_prost::ProstCodec::<ReplyV1, Ask>::default();
                    let reply = ReplyV1 { name: "one".into() };
                    tonic::server::Grpc::new(codec)
                        .unary(Always(reply), req)
                        .await
                }
                _ => {
                    let codec = tonic_prost::ProstCodec::<ReplyV2, Ask>::default();
                    let reply = ReplyV2 { count: 7 };
                    tonic::server::Grpc::new(codec)
                        .unary(Always(reply), req)
                        .await
                }
            })
        })
    }
}
