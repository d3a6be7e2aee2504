//! A generated PKI: a root CA, an intermediate CA and leaf certificates of every posture the tests
//! need (valid, expired, not yet valid, wrong name, self-signed, issued by the root directly).
//!
//! ```text
//!   root CA (self-signed, trust anchor)
//!     └── intermediate CA
//!           └── leaf "mx.example.test"   (chain sent by servers: leaf + intermediate)
//! ```
//!
//! Keys are ECDSA P-256 (rcgen with ring cannot make RSA keys); RSA fixtures made once with the
//! `openssl` command live beside the tests that need them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::crypto::ring as ring_provider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, SupportedProtocolVersion};
use time::OffsetDateTime;

use crate::Error;

/// One day, the unit of the validity windows below.
const DAY: Duration = Duration::from_secs(86_400);

/// A certificate authority of the lab PKI: its certificate, parameters and key.
pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: CertificateDer<'static>,
}

impl Ca {
    /// The CA certificate, DER.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.der)
    }

    /// The CA's key pair (to sign OCSP responses and CRLs).
    pub fn key(&self) -> &KeyPair {
        &self.key
    }

    /// The CA's key, PKCS#8 DER.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }

    /// An rcgen issuer for this CA, to sign further certificates or CRLs.
    pub fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }
}

/// Which certificate signs a leaf.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LeafIssuer {
    /// The intermediate CA (the usual case; the chain is leaf + intermediate).
    #[default]
    Intermediate,
    /// The root CA directly (the chain is the leaf alone).
    Root,
    /// The leaf signs itself.
    SelfSigned,
}

/// What a leaf certificate should look like.
#[derive(Clone, Debug)]
pub struct LeafSpec {
    /// Subject alternative names (DNS names or IP addresses). The first is also the CN.
    pub names: Vec<String>,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// Who signs it.
    pub issuer: LeafIssuer,
    /// CRL distribution point URL, if any.
    pub crl_url: Option<String>,
    /// OCSP responder URL for the Authority Information Access extension, if any.
    pub ocsp_url: Option<String>,
    /// Serial number; random when `None`.
    pub serial: Option<Vec<u8>>,
    /// Whether to include the intermediate in the chain the server presents.
    pub send_intermediate: bool,
    /// Whether the leaf carries the TLS Feature extension asking for a stapled OCSP response
    /// (RFC 7633 "must-staple").
    pub must_staple: bool,
}

impl LeafSpec {
    /// A spec for a leaf valid from a day before `now` to 90 days after, signed by the
    /// intermediate.
    pub fn new(names: &[&str], now: SystemTime) -> Self {
        Self {
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            not_before: now - DAY,
            not_after: now + 90 * DAY,
            issuer: LeafIssuer::Intermediate,
            crl_url: None,
            ocsp_url: None,
            serial: None,
            send_intermediate: true,
            must_staple: false,
        }
    }
}

/// A leaf certificate with its chain and key.
#[derive(Debug)]
pub struct Leaf {
    /// The chain a server presents: the leaf first, then the intermediate when it was sent.
    pub chain: Vec<CertificateDer<'static>>,
    key_der: Vec<u8>,
    /// The names in the certificate.
    pub names: Vec<String>,
    /// The serial number.
    pub serial: Vec<u8>,
}

impl Clone for Leaf {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key_der: self.key_der.clone(),
            names: self.names.clone(),
            serial: self.serial.clone(),
        }
    }
}

impl Leaf {
    /// The leaf certificate, DER.
    pub fn cert(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }

    /// The private key, PKCS#8 DER.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// The chain, PEM, leaf first (for servers such as Postfix and nginx).
    pub fn chain_pem(&self) -> String {
        self.chain
            .iter()
            .map(|c| pem_encode("CERTIFICATE", c))
            .collect()
    }

    /// The private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        pem_encode("PRIVATE KEY", &self.key_der)
    }

    /// A rustls server configuration presenting this leaf, for the given protocol versions, with
    /// an optional stapled OCSP response.
    pub fn server_config(
        &self,
        versions: &[&'static SupportedProtocolVersion],
        ocsp: Option<Vec<u8>>,
    ) -> Result<Arc<ServerConfig>, Error> {
        let builder =
            ServerConfig::builder_with_provider(Arc::new(ring_provider::default_provider()))
                .with_protocol_versions(versions)?
                .with_no_client_auth();
        let config = match ocsp {
            Some(ocsp) => {
                builder.with_single_cert_with_ocsp(self.chain.clone(), self.key(), ocsp)?
            }
            None => builder.with_single_cert(self.chain.clone(), self.key())?,
        };
        Ok(Arc::new(config))
    }
}

/// The lab PKI: a root and an intermediate CA, and a factory for leaves.
pub struct Pki {
    root: Ca,
    intermediate: Ca,
    now: SystemTime,
}

impl Pki {
    /// Generates a new root and intermediate, valid from five years before `now` to ten years after.
    pub fn generate(now: SystemTime) -> Result<Self, Error> {
        let root_key = KeyPair::generate()?;
        let mut root_params = ca_params("checktls lab root CA", now)?;
        root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let root_cert = root_params.self_signed(&root_key)?;
        let root = Ca {
            der: root_cert.der().clone(),
            params: root_params,
            key: root_key,
        };

        let int_key = KeyPair::generate()?;
        let mut int_params = ca_params("checktls lab intermediate CA", now)?;
        int_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        int_params.use_authority_key_identifier_extension = true;
        let int_cert = int_params.signed_by(&int_key, &root.issuer())?;
        let intermediate = Ca {
            der: int_cert.der().clone(),
            params: int_params,
            key: int_key,
        };
        Ok(Self {
            root,
            intermediate,
            now,
        })
    }

    /// The time the PKI was generated for.
    pub fn now(&self) -> SystemTime {
        self.now
    }

    /// The root CA (the trust anchor tests give the client).
    pub fn root(&self) -> &Ca {
        &self.root
    }

    /// The intermediate CA.
    pub fn intermediate(&self) -> &Ca {
        &self.intermediate
    }

    /// Issues a leaf as `spec` describes.
    pub fn leaf(&self, spec: &LeafSpec) -> Result<Leaf, Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(spec.names.clone())?;
        let mut dn = DistinguishedName::new();
        if let Some(first) = spec.names.first() {
            dn.push(DnType::CommonName, first.clone());
        }
        params.distinguished_name = dn;
        params.not_before = OffsetDateTime::from(spec.not_before);
        params.not_after = OffsetDateTime::from(spec.not_after);
        let serial = match &spec.serial {
            Some(s) => s.clone(),
            None => random_serial()?,
        };
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = spec.issuer != LeafIssuer::SelfSigned;
        if let Some(url) = &spec.crl_url {
            params.crl_distribution_points = vec![CrlDistributionPoint {
                uris: vec![url.clone()],
            }];
        }
        if let Some(url) = &spec.ocsp_url {
            params.custom_extensions.push(aia_ocsp_extension(url));
        }
        if spec.must_staple {
            // id-pe-tlsfeature 1.3.6.1.5.5.7.1.24: SEQUENCE { INTEGER 5 (status_request) }
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 5, 5, 7, 1, 24],
                    vec![0x30, 0x03, 0x02, 0x01, 0x05],
                ));
        }
        let (cert, chain_tail) = match spec.issuer {
            LeafIssuer::Intermediate => {
                let cert = params.signed_by(&key, &self.intermediate.issuer())?;
                let tail = if spec.send_intermediate {
                    vec![self.intermediate.der.clone()]
                } else {
                    Vec::new()
                };
                (cert, tail)
            }
            LeafIssuer::Root => (params.signed_by(&key, &self.root.issuer())?, Vec::new()),
            LeafIssuer::SelfSigned => (params.self_signed(&key)?, Vec::new()),
        };
        let mut chain = vec![cert.der().clone()];
        chain.extend(chain_tail);
        Ok(Leaf {
            chain,
            key_der: key.serialize_der(),
            names: spec.names.clone(),
            serial,
        })
    }

    /// An impostor of the intermediate CA: the same subject name, another key, signed by
    /// itself. Served between a leaf and the real intermediate, it is what a wrong-issuer
    /// attack puts in a chain (its OCSP responses must not count for the real CA's leaves).
    pub fn impostor_intermediate(&self) -> Result<Ca, Error> {
        let key = KeyPair::generate()?;
        let mut params = ca_params("checktls lab intermediate CA", self.now)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            der: cert.der().clone(),
            params,
            key,
        })
    }

    /// A valid leaf for `name`, signed by the intermediate.
    pub fn valid(&self, name: &str) -> Result<Leaf, Error> {
        self.leaf(&LeafSpec::new(&[name], self.now))
    }

    /// A leaf for `name` that expired ten days ago.
    pub fn expired(&self, name: &str) -> Result<Leaf, Error> {
        let mut spec = LeafSpec::new(&[name], self.now);
        spec.not_before = self.now - 100 * DAY;
        spec.not_after = self.now - 10 * DAY;
        self.leaf(&spec)
    }

    /// A leaf for `name` that becomes valid in ten days.
    pub fn not_yet_valid(&self, name: &str) -> Result<Leaf, Error> {
        let mut spec = LeafSpec::new(&[name], self.now);
        spec.not_before = self.now + 10 * DAY;
        spec.not_after = self.now + 100 * DAY;
        self.leaf(&spec)
    }

    /// A valid leaf whose only name is `other.invalid`, whatever host presents it.
    pub fn wrong_name(&self) -> Result<Leaf, Error> {
        self.leaf(&LeafSpec::new(&["other.invalid"], self.now))
    }

    /// A self-signed leaf for `name`.
    pub fn self_signed(&self, name: &str) -> Result<Leaf, Error> {
        let mut spec = LeafSpec::new(&[name], self.now);
        spec.issuer = LeafIssuer::SelfSigned;
        self.leaf(&spec)
    }
}

fn ca_params(cn: &str, now: SystemTime) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "checktls lab");
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    // Valid for years before `now`, as real CAs are, so an expired leaf still chains.
    params.not_before = OffsetDateTime::from(now - 5 * 365 * DAY);
    params.not_after = OffsetDateTime::from(now + 3650 * DAY);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
    Ok(params)
}

/// A positive random 16-byte serial number.
pub fn random_serial() -> Result<Vec<u8>, Error> {
    use ring::rand::SecureRandom;
    let mut serial = vec![0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut serial)
        .map_err(|_| Error::Random)?;
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    Ok(serial)
}

/// The Authority Information Access extension naming one OCSP responder (RFC 5280 §4.2.2.1).
fn aia_ocsp_extension(url: &str) -> CustomExtension {
    // AuthorityInfoAccessSyntax ::= SEQUENCE OF AccessDescription
    // AccessDescription ::= SEQUENCE { accessMethod OID id-ad-ocsp, accessLocation [6] IA5String }
    const ID_AD_OCSP: [u8; 10] = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    let mut location = vec![0x86];
    push_len(&mut location, url.len());
    location.extend_from_slice(url.as_bytes());
    let mut description = Vec::from(ID_AD_OCSP);
    description.extend(location);
    let mut access = vec![0x30];
    push_len(&mut access, description.len());
    access.extend(description);
    let mut seq = vec![0x30];
    push_len(&mut seq, access.len());
    seq.extend(access);
    // id-pe-authorityInfoAccess 1.3.6.1.5.5.7.1.1
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], seq)
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
}

/// PEM-encodes `der` with the given label.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der).unwrap_or_default()
}
