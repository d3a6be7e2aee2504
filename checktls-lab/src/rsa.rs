//! An RSA key made in the lab (ring cannot generate RSA keys), its certificate from the lab PKI,
//! and raw decryption: what a padding-oracle responder needs to read ClientKeyExchange.
//!
//! ```text
//!   RsaKey::generate(1024) ─► two Miller-Rabin primes (num-bigint), e = 65537, d = e⁻¹
//!   key.leaf(&pki, name)   ─► [leaf (RSA key, signed by the lab intermediate), intermediate]
//!   key.decrypt(c)         ─► m = c^d mod n, k bytes (no padding check: the caller's job)
//! ```
//!
//! Test-only: not constant time, small keys. Never for anything but the lab.

use num_bigint::BigUint;
use ring::rand::{SecureRandom, SystemRandom};
use rustls_pki_types::CertificateDer;

use crate::Error;
use crate::pki::Pki;

/// An RSA key pair.
#[derive(Clone, Debug)]
pub struct RsaKey {
    n: BigUint,
    e: BigUint,
    d: BigUint,
    der: Vec<u8>,
}

const SMALL_PRIMES: &[u32] = &[
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191,
];

fn random(bytes: usize) -> Result<BigUint, Error> {
    let mut b = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| Error::Random)?;
    Ok(BigUint::from_bytes_be(&b))
}

/// Miller-Rabin with 32 random bases.
fn probably_prime(n: &BigUint) -> Result<bool, Error> {
    let one = BigUint::from(1u32);
    let two = BigUint::from(2u32);
    let n1 = n - &one;
    let s = n1.trailing_zeros().unwrap_or(0);
    let d = &n1 >> s;
    let bytes = usize::try_from(n.bits().div_ceil(8)).unwrap_or(1);
    'bases: for _ in 0..32 {
        let a = random(bytes)? % (n - 3u32) + &two;
        let mut x = a.modpow(&d, n);
        if x == one || x == n1 {
            continue;
        }
        for _ in 1..s {
            x = x.modpow(&two, n);
            if x == n1 {
                continue 'bases;
            }
        }
        return Ok(false);
    }
    Ok(true)
}

fn prime(bits: usize) -> Result<BigUint, Error> {
    loop {
        let mut p = random(bits / 8)?;
        p |= BigUint::from(3u32) << (bits - 2); // the top two bits: n has exactly 2 × bits
        p |= BigUint::from(1u32);
        if SMALL_PRIMES
            .iter()
            .any(|&q| (&p % q) == BigUint::from(0u32))
        {
            continue;
        }
        if probably_prime(&p)? {
            return Ok(p);
        }
    }
}

/// A DER INTEGER of a non-negative value.
fn der_integer(v: &BigUint) -> Vec<u8> {
    let mut b = v.to_bytes_be();
    if b.first().is_some_and(|x| x & 0x80 != 0) {
        b.insert(0, 0);
    }
    let mut out = vec![0x02];
    out.extend(der_len(b.len()));
    out.extend(b);
    out
}

fn der_len(n: usize) -> Vec<u8> {
    match n {
        0..=127 => vec![n as u8],
        128..=255 => vec![0x81, n as u8],
        _ => vec![0x82, (n >> 8) as u8, n as u8],
    }
}

impl RsaKey {
    /// A new key with a modulus of `bits` bits (a multiple of 16).
    pub fn generate(bits: usize) -> Result<Self, Error> {
        let e = BigUint::from(65537u32);
        loop {
            let p = prime(bits / 2)?;
            let q = prime(bits / 2)?;
            if p == q {
                continue;
            }
            let one = BigUint::from(1u32);
            let phi = (&p - &one) * (&q - &one);
            let Some(d) = e.modinv(&phi) else { continue };
            let n = p * q;
            let mut body = der_integer(&n);
            body.extend(der_integer(&e));
            let mut der = vec![0x30];
            der.extend(der_len(body.len()));
            der.extend(body);
            return Ok(Self { n, e, d, der });
        }
    }

    /// The modulus's length in bytes.
    pub fn len(&self) -> usize {
        usize::try_from(self.n.bits().div_ceil(8)).unwrap_or(0)
    }

    /// Whether the modulus is empty (never, for a generated key).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Raw RSA decryption, `len()` bytes, big-endian.
    pub fn decrypt(&self, c: &[u8]) -> Vec<u8> {
        let m = BigUint::from_bytes_be(c)
            .modpow(&self.d, &self.n)
            .to_bytes_be();
        let mut out = vec![0u8; self.len().saturating_sub(m.len())];
        out.extend(m);
        out
    }

    /// Raw RSA encryption (for tests of the decryption).
    pub fn encrypt(&self, m: &[u8]) -> Vec<u8> {
        let c = BigUint::from_bytes_be(m)
            .modpow(&self.e, &self.n)
            .to_bytes_be();
        let mut out = vec![0u8; self.len().saturating_sub(c.len())];
        out.extend(c);
        out
    }

    /// A chain for `name` whose leaf carries this key, signed by the lab intermediate.
    pub fn chain(&self, pki: &Pki, name: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
        let mut params = rcgen::CertificateParams::new(vec![name.to_owned()])?;
        params.not_before = time::OffsetDateTime::from(pki.now()) - time::Duration::hours(1);
        params.not_after = time::OffsetDateTime::from(pki.now()) + time::Duration::days(30);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyEncipherment];
        let cert = params.signed_by(self, &pki.intermediate().issuer())?;
        Ok(vec![cert.der().clone(), pki.intermediate().der().clone()])
    }
}

impl rcgen::PublicKeyData for RsaKey {
    fn der_bytes(&self) -> &[u8] {
        &self.der
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_certificate() {
        let k = RsaKey::generate(768).unwrap();
        assert_eq!(k.len(), 96);
        let mut m = vec![0u8, 2];
        m.extend_from_slice(&[7; 94]);
        assert_eq!(k.decrypt(&k.encrypt(&m)), m);
        let pki = Pki::generate(std::time::SystemTime::now()).unwrap();
        let chain = k.chain(&pki, "mx.lab.test").unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&chain[0]).unwrap();
        let Ok(x509_parser::public_key::PublicKey::RSA(pk)) = cert.public_key().parsed() else {
            panic!("not RSA")
        };
        assert_eq!(pk.key_size(), 768);
    }
}
