//! A tonic server implementing the Forge corpus (`tests/forge/protos`): the
//! payments, inventory and well-known-types services, each SERVING in the
//! standard health service. Every method checks that the request carries the
//! fields Forge samples, so a check that is up proves the sample arrived whole.

use std::net::SocketAddr;
use std::pin::Pin;

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
}

use acme::common::v1::{Currency, Money};
use acme::inventory::v1 as inv;
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
