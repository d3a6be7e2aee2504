//! Trust anchors: Mozilla's roots compiled in, the system's store, CA files, single certificates.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor};

use crate::Error;

/// The set of trust anchors a chain is validated against.
///
/// The default is Mozilla's root program as compiled into `webpki-roots`, so results are
/// reproducible and need no system files.
#[derive(Clone, Debug)]
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
    /// Whether the Mozilla roots are included (for reports).
    mozilla: bool,
    /// Certificates added by the caller, DER (for reports naming the anchor that was used).
    added: Vec<CertificateDer<'static>>,
}

impl TrustStore {
    /// Mozilla's roots (webpki-roots).
    pub fn mozilla() -> Self {
        Self {
            anchors: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            mozilla: true,
            added: Vec::new(),
        }
    }

    /// No anchors at all (add your own with [`TrustStore::add_der`] or [`TrustStore::add_pem`]).
    pub fn empty() -> Self {
        Self {
            anchors: Vec::new(),
            mozilla: false,
            added: Vec::new(),
        }
    }

    /// The operating system's trust store (rustls-native-certs: on Linux the distribution's
    /// bundle, or the files `SSL_CERT_FILE` / `SSL_CERT_DIR` name), instead of Mozilla's
    /// compiled-in roots: for hosts whose administrators add or remove anchors. Certificates
    /// the store holds that cannot serve as anchors are skipped; a store that yields none is an
    /// error, never an empty store that silently fails every chain.
    pub fn system() -> Result<Self, Error> {
        let found = rustls_native_certs::load_native_certs();
        let mut store = Self::empty();
        for cert in found.certs {
            // An entry webpki cannot read as an anchor is left out, as every TLS client does.
            let _ = store.add_der(cert);
        }
        if store.anchors.is_empty() {
            let why = found
                .errors
                .first()
                .map_or_else(|| "it holds no certificate".to_owned(), ToString::to_string);
            return Err(Error::BadInput {
                what: "the system's trust store",
                detail: why,
            });
        }
        Ok(store)
    }

    /// Adds one trusted certificate (DER).
    pub fn add_der(&mut self, cert: CertificateDer<'_>) -> Result<(), Error> {
        let anchor = webpki::anchor_from_trusted_cert(&cert)
            .map_err(|e| Error::BadInput {
                what: "trust anchor certificate",
                detail: format!("{e:?}"),
            })?
            .to_owned();
        self.anchors.push(anchor);
        self.added.push(cert.into_owned());
        Ok(())
    }

    /// Adds every certificate of a PEM bundle; returns how many were added.
    pub fn add_pem(&mut self, pem: &[u8]) -> Result<usize, Error> {
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::BadInput {
                what: "PEM CA bundle",
                detail: e.to_string(),
            })?;
            self.add_der(cert)?;
            n += 1;
        }
        if n == 0 {
            return Err(Error::BadInput {
                what: "PEM CA bundle",
                detail: "no CERTIFICATE blocks found".to_owned(),
            });
        }
        Ok(n)
    }

    /// Adds every certificate of a PEM file; returns how many were added.
    pub fn add_pem_file(&mut self, path: &std::path::Path) -> Result<usize, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::BadInput {
            what: "CA file",
            detail: format!("{}: {e}", path.display()),
        })?;
        self.add_pem(&bytes)
    }

    /// The anchors.
    pub fn anchors(&self) -> &[TrustAnchor<'static>] {
        &self.anchors
    }

    /// Whether Mozilla's roots are part of this store.
    pub fn includes_mozilla(&self) -> bool {
        self.mozilla
    }

    /// The certificates added by the caller.
    pub fn added(&self) -> &[CertificateDer<'static>] {
        &self.added
    }
}

impl TrustStore {
    /// The certificate of an anchor, when it was added as a certificate (Mozilla's roots are
    /// compiled in as names and keys only).
    pub fn certificate_of(&self, anchor: &TrustAnchor<'_>) -> Option<&CertificateDer<'static>> {
        self.added.iter().find(|c| {
            webpki::anchor_from_trusted_cert(c).is_ok_and(|a| {
                a.subject.as_ref() == anchor.subject.as_ref()
                    && a.subject_public_key_info.as_ref() == anchor.subject_public_key_info.as_ref()
            })
        })
    }
}

impl Default for TrustStore {
    fn default() -> Self {
        Self::mozilla()
    }
}
