//! A tonic server for the gRPC tests: `shop.v1.Catalog` from
//! `tests/protos/shop.proto`, the standard health service with `shop.v1.Catalog`
//! SERVING and `shop.v1.Broken` NOT_SERVING, and server reflection.

use std::net::SocketAddr;
use std::pin::Pin;
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

struct Shop;

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
                .add_service(CatalogServer::new(Shop))
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
            .add_service(CatalogServer::new(Shop))
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
            .add_service(CatalogServer::new(Shop))
            .serve_with_incoming(incoming);
        tokio::spawn(server);
        addr
    })
}
