//! A tonic server implementing the Forge corpus (`tests/forge/protos`): the
//! payments, inventory and well-known-types services, each SERVING in the
//! standard health service. Every method checks that the request carries the
//! fields Forge samples, so a check that is up proves the sample arrived whole.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures_util::Stream;
use tonic::{Request, Response, Status, Streaming};

use crate::servers;

#[allow(clippy::all, clippy::pedantic)]
pub mod acme {
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("acme.common.v1");
        }
    }
    pub mod payments {
        pub mod v1 {
            tonic::include_proto!("acme.payments.v1");
        }
    }
    pub mod inventory {
        pub mod v1 {
            tonic::include_proto!("acme.inventory.v1");
        }
    }
    pub mod wkt {
        pub mod v1 {
            tonic::include_proto!("acme.wkt.v1");
        }
    }
    pub mod operations {
        pub mod v1 {
            tonic::include_proto!("acme.operations.v1");
        }
    }
}

use acme::common::v1::{Currency, Money};
use acme::inventory::v1 as inv;
use acme::operations::v1 as ops;
use acme::payments::v1 as pay;
use acme::wkt::v1 as wkt;

fn status(id: &str) -> pay::PaymentStatus {
    pay::PaymentStatus {
        payment_id: id.to_string(),
        state: pay::payment_status::State::Settled as i32,
        amount: Some(Money {
            units: 1250,
            currency: Currency::Eur as i32,
        }),
        updated_at: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
    }
}

fn need(ok: bool, what: &str) -> Result<(), Status> {
    if ok {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!("missing {what}")))
    }
}

struct Payments;

#[tonic::async_trait]
impl pay::payments_server::Payments for Payments {
    async fn get_status(
        &self,
        req: Request<pay::GetStatusRequest>,
    ) -> Result<Response<pay::PaymentStatus>, Status> {
        let id = req.into_inner().payment_id;
        need(!id.is_empty(), "payment_id")?;
        Ok(Response::new(status(&id)))
    }

    type WatchPaymentsStream =
        Pin<Box<dyn Stream<Item = Result<pay::PaymentStatus, Status>> + Send>>;

    async fn watch_payments(
        &self,
        req: Request<pay::WatchRequest>,
    ) -> Result<Response<Self::WatchPaymentsStream>, Status> {
        let r = req.into_inner();
        need(
            !r.merchant_id.is_empty() && r.limit > 0,
            "merchant_id and limit",
        )?;
        let items = (0..r.limit).map(|n| Ok(status(&format!("p-{n}"))));
        Ok(Response::new(Box::pin(futures_util::stream::iter(items))))
    }

    async fn upload_receipts(
        &self,
        _: Request<Streaming<pay::Receipt>>,
    ) -> Result<Response<pay::UploadSummary>, Status> {
        Ok(Response::new(pay::UploadSummary { count: 0 }))
    }

    type ChatStream = Pin<Box<dyn Stream<Item = Result<pay::ChatMessage, Status>> + Send>>;

    async fn chat(
        &self,
        _: Request<Streaming<pay::ChatMessage>>,
    ) -> Result<Response<Self::ChatStream>, Status> {
        Ok(Response::new(Box::pin(futures_util::stream::empty())))
    }

    async fn create_payment(
        &self,
        req: Request<pay::CreatePaymentRequest>,
    ) -> Result<Response<pay::PaymentStatus>, Status> {
        let r = req.into_inner();
        need(!r.idempotency_key.is_empty(), "idempotency_key")?;
        need(r.method.is_some(), "a payment method")?;
        need(
            r.scalars
                .as_ref()
                .is_some_and(|s| s.flag && s.i64 == 1 && !s.blob.is_empty()),
            "scalars",
        )?;
        need(
            !r.quantities.is_empty() && !r.addresses_by_id.is_empty(),
            "maps",
        )?;
        need(
            r.category.as_ref().is_some_and(|c| !c.children.is_empty()),
            "category.children",
        )?;
        need(r.note.is_some(), "note")?;
        Ok(Response::new(status(&r.idempotency_key)))
    }
}

struct Inventory;

#[tonic::async_trait]
impl inv::inventory_server::Inventory for Inventory {
    async fn get_stock(
        &self,
        req: Request<inv::GetStockRequest>,
    ) -> Result<Response<inv::Stock>, Status> {
        let r = req.into_inner();
        need(r.warehouse.is_some(), "warehouse")?;
        Ok(Response::new(inv::Stock {
            sku: r.sku,
            quantity: 7,
        }))
    }

    async fn reserve_stock_for_backordered_items_across_all_regional_warehouses_immediately(
        &self,
        req: Request<inv::GetStockRequest>,
    ) -> Result<Response<inv::Stock>, Status> {
        self.get_stock(req).await
    }
}

struct Facade;

#[tonic::async_trait]
impl inv::payments_server::Payments for Facade {
    async fn get_status(
        &self,
        req: Request<pay::GetStatusRequest>,
    ) -> Result<Response<pay::PaymentStatus>, Status> {
        Ok(Response::new(status(&req.into_inner().payment_id)))
    }
}

struct WellKnown;

#[tonic::async_trait]
impl wkt::well_known_server::WellKnown for WellKnown {
    async fn inspect(&self, req: Request<wkt::WellKnownRequest>) -> Result<Response<()>, Status> {
        let r = req.into_inner();
        need(r.at.is_some() && r.within.is_some(), "at and within")?;
        need(
            r.detail
                .as_ref()
                .is_some_and(|a| a.type_url.ends_with("google.protobuf.Duration")),
            "detail",
        )?;
        need(
            r.attributes.is_some() && r.mask.is_some() && r.string_value.is_some(),
            "struct, mask and wrappers",
        )?;
        Ok(Response::new(()))
    }

    async fn ping(&self, _: Request<()>) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }
}

/// Starts the server on 127.0.0.1 on the shared runtime; it lives as long as the tests.
pub fn start() -> SocketAddr {
    servers::runtime().block_on(async {
        let (reporter, health) = tonic_health::server::health_reporter();
        for name in [
            "acme.payments.v1.Payments",
            "acme.inventory.v1.Inventory",
            "acme.inventory.v1.Payments",
            "acme.wkt.v1.WellKnown",
        ] {
            reporter
                .set_service_status(name, tonic_health::ServingStatus::Serving)
                .await;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(health)
                .add_service(pay::payments_server::PaymentsServer::new(Payments))
                .add_service(inv::inventory_server::InventoryServer::new(Inventory))
                .add_service(inv::payments_server::PaymentsServer::new(Facade))
                .add_service(wkt::well_known_server::WellKnownServer::new(WellKnown))
                .serve_with_incoming(incoming),
        );
        addr
    })
}

/// How often each method of the operations server was called, by name.
#[derive(Clone, Default)]
pub struct Calls(Arc<Mutex<BTreeMap<String, usize>>>);

impl Calls {
    fn count(&self, method: &str) {
        *self
            .0
            .lock()
            .unwrap()
            .entry(method.to_string())
            .or_default() += 1;
    }

    pub fn get(&self, method: &str) -> usize {
        self.0.lock().unwrap().get(method).copied().unwrap_or(0)
    }

    pub fn all(&self) -> BTreeMap<String, usize> {
        self.0.lock().unwrap().clone()
    }
}

/// The operations server: counts every call; `GetOperation` knows only
/// `operations/known`, as a real server knows only real names.
struct Operations(Calls);

fn operation(name: &str) -> ops::Operation {
    ops::Operation {
        name: name.to_string(),
        done: true,
    }
}

#[tonic::async_trait]
impl ops::operations_server::Operations for Operations {
    async fn list_operations(
        &self,
        _: Request<ops::ListOperationsRequest>,
    ) -> Result<Response<ops::ListOperationsResponse>, Status> {
        self.0.count("ListOperations");
        Ok(Response::new(ops::ListOperationsResponse {
            operations: vec![operation("operations/known")],
        }))
    }

    async fn get_operation(
        &self,
        req: Request<ops::GetOperationRequest>,
    ) -> Result<Response<ops::Operation>, Status> {
        self.0.count("GetOperation");
        let name = req.into_inner().name;
        if name != "operations/known" {
            return Err(Status::not_found(format!("no operation {name}")));
        }
        Ok(Response::new(operation(&name)))
    }

    async fn delete_operation(
        &self,
        _: Request<ops::DeleteOperationRequest>,
    ) -> Result<Response<()>, Status> {
        self.0.count("DeleteOperation");
        Ok(Response::new(()))
    }

    async fn cancel_operation(
        &self,
        _: Request<ops::CancelOperationRequest>,
    ) -> Result<Response<()>, Status> {
        self.0.count("CancelOperation");
        Ok(Response::new(()))
    }

    async fn wait_operation(
        &self,
        req: Request<ops::WaitOperationRequest>,
    ) -> Result<Response<ops::Operation>, Status> {
        self.0.count("WaitOperation");
        Ok(Response::new(operation(&req.into_inner().name)))
    }

    async fn operation_tally(
        &self,
        _: Request<ops::TallyRequest>,
    ) -> Result<Response<ops::TallyResponse>, Status> {
        self.0.count("OperationTally");
        Ok(Response::new(ops::TallyResponse {
            by_state: [("done".to_string(), 1)].into_iter().collect(),
        }))
    }

    async fn get_lease(
        &self,
        req: Request<ops::GetOperationRequest>,
    ) -> Result<Response<ops::Operation>, Status> {
        self.0.count("GetLease");
        Ok(Response::new(operation(&req.into_inner().name)))
    }
}

/// Starts an operations server of its own on 127.0.0.1, SERVING in the
/// health service; the calls it gets are counted in the returned `Calls`.
pub fn start_operations() -> (SocketAddr, Calls) {
    let calls = Calls::default();
    let server = Operations(calls.clone());
    let addr = servers::runtime().block_on(async {
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter
            .set_service_status(
                "acme.operations.v1.Operations",
                tonic_health::ServingStatus::Serving,
            )
            .await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(health)
                .add_service(ops::operations_server::OperationsServer::new(server))
                .serve_with_incoming(incoming),
        );
        addr
    });
    (addr, calls)
}
