//! A small, strict HTTP/1.1 client for the fetches a receiver test makes: OCSP (POST, GET), CRLs
//! and MTA-STS policies. It never follows redirects (RFC 8461 §3.3 forbids them for MTA-STS;
//! OCSP and CRL fetches report them), bounds the body size and the total time, and for `https`
//! validates the server strictly against a [`TrustStore`].
//!
//! ```text
//!   fetch(request) ──► Connector::connect(host, port) ──► [TLS, strict] ──► hyper http1 ──► HttpResponse
//! ```

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, Uri, header};
use hyper_util::rt::TokioIo;
use rustls::crypto::ring as ring_provider;
use rustls_pki_types::ServerName;

use crate::Error;
use crate::net::{BoxStream, Connector};
use crate::trust::TrustStore;

/// An HTTP request.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: HttpMethod,
    /// The absolute URL (`http://` or `https://`).
    pub url: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body (POST only).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A GET of `url`.
    pub fn get(url: &str) -> Self {
        Self {
            method: HttpMethod::Get,
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A POST of `body` with the given content type to `url`.
    pub fn post(url: &str, content_type: &str, body: Vec<u8>) -> Self {
        Self {
            method: HttpMethod::Post,
            url: url.to_owned(),
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body,
        }
    }
}

/// The request methods used.
#[allow(clippy::exhaustive_enums)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    /// GET.
    Get,
    /// POST.
    Post,
}

/// Limits and trust for a fetch.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// The whole exchange must finish within this. Default: 10 s.
    pub timeout: Duration,
    /// Bodies longer than this are refused. Default: 1 MiB.
    pub max_body: usize,
    /// Anchors for `https` URLs. Default: Mozilla's roots.
    pub trust: TrustStore,
    /// The User-Agent header. Default: `checktls/<version>`.
    pub user_agent: String,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_body: 1 << 20,
            trust: TrustStore::mozilla(),
            user_agent: concat!("checktls/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// A response: status, content type and body. Redirects arrive here as 3xx with `location`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The Content-Type header, if any.
    pub content_type: Option<String>,
    /// The Location header, if any (for 3xx).
    pub location: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// Fetches `request` through `connector` under `options`.
pub async fn fetch(
    connector: &dyn Connector,
    request: &HttpRequest,
    options: &HttpOptions,
) -> Result<HttpResponse, Error> {
    match tokio::time::timeout(options.timeout, fetch_inner(connector, request, options)).await {
        Ok(result) => result,
        Err(_) => Err(Error::HttpTimeout {
            url: request.url.clone(),
            after: options.timeout,
        }),
    }
}

async fn fetch_inner(
    connector: &dyn Connector,
    request: &HttpRequest,
    options: &HttpOptions,
) -> Result<HttpResponse, Error> {
    let bad_url = |detail: &str| Error::BadUrl {
        url: request.url.clone(),
        detail: detail.to_owned(),
    };
    let uri: Uri = request
        .url
        .parse()
        .map_err(|_| bad_url("not an absolute URL"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(bad_url("the scheme must be http or https")),
    };
    let host = uri.host().ok_or_else(|| bad_url("no host"))?.to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_else(|| host.clone());

    let tcp = connector
        .connect(&host, port)
        .await
        .map_err(|e| Error::HttpConnect {
            host: host.clone(),
            port,
            detail: e.to_string(),
        })?;
    let stream: BoxStream = if https {
        Box::new(strict_tls(tcp, &host, &options.trust).await?)
    } else {
        tcp
    };

    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Error::Http {
            detail: e.to_string(),
        })?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });

    let method = match request.method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
    };
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, authority)
        .header(header::USER_AGENT, &options.user_agent)
        .header(header::CONNECTION, "close");
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let req = builder
        .body(Full::new(Bytes::from(request.body.clone())))
        .map_err(|e| Error::Http {
            detail: e.to_string(),
        })?;
    let response = sender.send_request(req).await.map_err(|e| Error::Http {
        detail: e.to_string(),
    })?;
    let status = response.status().as_u16();
    let header_text = |name: header::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header_text(header::CONTENT_TYPE);
    let location = header_text(header::LOCATION);
    let declared = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > options.max_body as u64) {
        driver.abort();
        return Err(Error::HttpBodyTooLarge {
            url: request.url.clone(),
            limit: options.max_body,
        });
    }
    let body = Limited::new(response.into_body(), options.max_body)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Error::HttpBodyTooLarge {
                    url: request.url.clone(),
                    limit: options.max_body,
                }
            } else {
                Error::Http {
                    detail: e.to_string(),
                }
            }
        })?
        .to_bytes()
        .to_vec();
    driver.abort();
    Ok(HttpResponse {
        status,
        content_type,
        location,
        body,
    })
}

/// A TLS client stream validated strictly (chain to `trust`, name `host`, current).
async fn strict_tls(
    tcp: BoxStream,
    host: &str,
    trust: &TrustStore,
) -> Result<tokio_rustls::client::TlsStream<BoxStream>, Error> {
    let roots = rustls::RootCertStore {
        roots: trust.anchors().to_vec(),
    };
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(ring_provider::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config {
                detail: e.to_string(),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned()).map_err(|e| Error::BadUrl {
        url: host.to_owned(),
        detail: e.to_string(),
    })?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| match Error::from_handshake_io(e) {
            Error::BadHandshakeSignature { detail } => Error::CertificateRejected {
                host: host.to_owned(),
                detail,
            },
            other => other,
        })
}
