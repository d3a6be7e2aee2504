//! A small HTTP/1.1 server (optionally over TLS) on an ephemeral loopback port, answering with a
//! closure. The OCSP responder, the CRL server and the MTA-STS policy host are built on it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::Error;

/// A request as the handler sees it.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    /// The method (`GET`, `POST`).
    pub method: String,
    /// The path and query.
    pub path: String,
    /// The headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the handler answers.
#[derive(Clone, Debug)]
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpReply {
    /// A 200 reply with a content type and body.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body: body.into(),
        }
    }

    /// A reply with only a status.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

/// The handler: a closure from request to reply.
pub type Handler = Arc<dyn Fn(&HttpRequest) -> HttpReply + Send + Sync>;

/// A running HTTP server; stops when dropped.
pub struct HttpServer {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl HttpServer {
    /// Starts serving `handler` on 127.0.0.1 (ephemeral port), over TLS when `tls` is given.
    pub async fn start(tls: Option<Arc<ServerConfig>>, handler: Handler) -> Result<Self, Error> {
        Self::start_on(
            "127.0.0.1:0".parse().map_err(|_| Error::Random)?,
            tls,
            handler,
        )
        .await
    }

    /// Starts serving `handler` on `addr` (port 0 for an ephemeral port).
    pub async fn start_on(
        addr: SocketAddr,
        tls: Option<Arc<ServerConfig>>,
        handler: Handler,
    ) -> Result<Self, Error> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let handler = handler.clone();
                let counter = counter.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<Incoming>| {
                        let handler = handler.clone();
                        let counter = counter.clone();
                        async move {
                            counter.fetch_add(1, Ordering::SeqCst);
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes().to_vec())
                                .unwrap_or_default();
                            let request = HttpRequest {
                                method: parts.method.as_str().to_owned(),
                                path: parts
                                    .uri
                                    .path_and_query()
                                    .map(|p| p.as_str().to_owned())
                                    .unwrap_or_else(|| "/".to_owned()),
                                headers: parts
                                    .headers
                                    .iter()
                                    .map(|(n, v)| {
                                        (
                                            n.as_str().to_owned(),
                                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                        )
                                    })
                                    .collect(),
                                body,
                            };
                            let reply = handler(&request);
                            let mut response = hyper::Response::builder().status(reply.status);
                            for (n, v) in &reply.headers {
                                response = response.header(n.as_str(), v.as_str());
                            }
                            let response = response
                                .body(Full::new(Bytes::from(reply.body)))
                                .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())));
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let builder = hyper::server::conn::http1::Builder::new();
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(tcp).await {
                                let _ = builder.serve_connection(TokioIo::new(tls), service).await;
                            }
                        }
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                        }
                    }
                });
            }
        });
        Ok(Self {
            addr,
            requests,
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many requests it has answered.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
