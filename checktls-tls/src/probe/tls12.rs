//! The least of a TLS 1.2 client that completes a handshake, for the checks that need one:
//! client-initiated renegotiation and session resumption. ECDHE (X25519, P-256, P-384) or
//! RSA key transport, AES-GCM or ChaCha20-Poly1305, the RFC 5246 PRF; all crypto from ring,
//! RSA encryption as one modular exponentiation (num-bigint). It never verifies the server
//! (the prober records, it does not trust), and it is not a general TLS client.
//!
//! ```text
//!   ClientHello ─► ServerHello … ServerHelloDone ─► ClientKeyExchange, ChangeCipherSpec,
//!   Finished ─► [NewSessionTicket] ChangeCipherSpec, Finished (decrypted, verified)
//!   ─► then, encrypted: a ClientHello with renegotiation_info(client verify_data)
//!      ─► ServerHello (renegotiation accepted) | alert / close (refused)
//! ```

use num_bigint::BigUint;
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::agreement;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use super::exchange::{Conversation, Ending, Next, Outcome};
use super::hello::ClientHello;
use super::parse::{
    FlightParser, KeyExchangeParams, RecordReader, ServerAnswer, ServerFlight, alert, alert_name,
    be16, be24, content, server_key_exchange, slice,
};
use super::suites;
use crate::version::TlsVersion;

/// The suites this client can complete: ECDHE-RSA/ECDSA and RSA with AES-GCM or ChaCha20.
pub const COMPLETABLE: &[u16] = &[
    0xC02F, 0xC02B, 0xC030, 0xC02C, 0xCCA8, 0xCCA9, 0x009C, 0x009D,
];

/// The groups it can compute with.
pub const GROUPS: &[u16] = &[29, 23, 24];

/// What a completed handshake left, and what renegotiation did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Completed {
    /// The suite.
    pub suite: u16,
    /// The session id the server gave (empty: no id to resume).
    pub session_id: Vec<u8>,
    /// The ticket from a NewSessionTicket, if one came.
    pub ticket: Option<Vec<u8>>,
    /// What the server did with a ClientHello sent inside the session.
    pub renegotiation: Renegotiation,
}

/// What the server did with a client-initiated renegotiation.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Renegotiation {
    /// It answered with a ServerHello: it renegotiates on a client's request.
    Accepted,
    /// It refused (an alert such as no_renegotiation, or a close).
    Refused {
        /// How.
        how: String,
    },
    /// No answer before the time ran out.
    NoAnswer(String),
}

/// The handshake's result.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeResult {
    /// Completed (and renegotiation tried).
    Completed(Completed),
    /// Not completed: why.
    Failed(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Flight,
    ServerFinish,
    Renegotiating,
    Over,
}

struct Keys {
    key: LessSafeKey,
    iv: [u8; 12],
    explicit: bool,
    seq: u64,
}

impl Keys {
    fn nonce(&self) -> [u8; 12] {
        let mut n = self.iv;
        let seq = self.seq.to_be_bytes();
        if self.explicit {
            n[4..].copy_from_slice(&seq);
        } else {
            for (b, s) in n[4..].iter_mut().zip(seq) {
                *b ^= s;
            }
        }
        n
    }

    fn aad(&self, kind: u8, len: usize) -> [u8; 13] {
        let mut a = [0u8; 13];
        a[..8].copy_from_slice(&self.seq.to_be_bytes());
        a[8] = kind;
        a[9..11].copy_from_slice(&[3, 3]);
        a[11..].copy_from_slice(&u16::try_from(len).unwrap_or(0).to_be_bytes());
        a
    }

    fn seal(&mut self, kind: u8, plain: &[u8]) -> Vec<u8> {
        let nonce = self.nonce();
        let aad = self.aad(kind, plain.len());
        let mut body = plain.to_vec();
        let tag = self.key.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut body,
        );
        let mut out = Vec::new();
        if self.explicit {
            out.extend_from_slice(&self.seq.to_be_bytes());
        }
        out.extend_from_slice(&body);
        if let Ok(t) = tag {
            out.extend_from_slice(t.as_ref());
        }
        self.seq += 1;
        record(kind, &out)
    }

    fn open(&mut self, kind: u8, body: &[u8]) -> Option<Vec<u8>> {
        let (nonce, ct) = if self.explicit {
            let mut n = self.iv;
            n[4..].copy_from_slice(body.get(..8)?);
            (n, body.get(8..)?)
        } else {
            (self.nonce(), body)
        };
        let len = ct.len().checked_sub(16)?;
        let aad = self.aad(kind, len);
        let mut buf = ct.to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .ok()?
            .to_vec();
        self.seq += 1;
        Some(plain)
    }
}

fn record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![kind, 3, 3];
    r.extend_from_slice(&u16::try_from(body.len()).unwrap_or(0).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let mut m = vec![ty, (n >> 16) as u8, (n >> 8) as u8, n as u8];
    m.extend_from_slice(body);
    m
}

/// The TLS 1.2 PRF (RFC 5246 §5) with HMAC-SHA-256 or -384.
pub fn prf(alg: hmac::Algorithm, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let key = hmac::Key::new(alg, secret);
    let mut label_seed = label.to_vec();
    label_seed.extend_from_slice(seed);
    let mut a = hmac::sign(&key, &label_seed).as_ref().to_vec();
    let mut out = Vec::with_capacity(len + 64);
    while out.len() < len {
        let mut input = a.clone();
        input.extend_from_slice(&label_seed);
        out.extend_from_slice(hmac::sign(&key, &input).as_ref());
        a = hmac::sign(&key, &a).as_ref().to_vec();
    }
    out.truncate(len);
    out
}

/// RSA PKCS#1 v1.5 encryption of `message` to the leaf's key (RFC 8017 §7.2.1); with `padded`,
/// raw RSA of a block already as long as the modulus. `None` when the leaf has no RSA key or
/// the message does not fit.
pub fn rsa_encrypt(
    leaf: &[u8],
    message: &[u8],
    padded: bool,
    rng: &dyn SecureRandom,
) -> Option<Vec<u8>> {
    let (n, e) = rsa_key(leaf)?;
    let k = n.len();
    let block = if padded {
        message.to_vec()
    } else {
        let ps_len = k.checked_sub(message.len() + 3)?;
        let mut ps = vec![0u8; ps_len];
        rng.fill(&mut ps).ok()?;
        for b in &mut ps {
            if *b == 0 {
                *b = 0x5A;
            }
        }
        let mut m = vec![0, 2];
        m.extend_from_slice(&ps);
        m.push(0);
        m.extend_from_slice(message);
        m
    };
    let c = pow_mod(
        &BigUint::from_bytes_be(&block),
        &BigUint::from_bytes_be(&e),
        &BigUint::from_bytes_be(&n),
    );
    let bytes = c.to_bytes_be();
    let mut out = vec![0u8; k.saturating_sub(bytes.len())];
    out.extend_from_slice(&bytes);
    Some(out)
}

/// `m^e mod n`. A public exponent of at most 32 bits (65537 in practice) is done by square
/// and multiply with plain reductions: num-bigint's `modpow` sets Montgomery arithmetic up on
/// each call, which for a 17-bit exponent costs more than the exponentiation: 85 µs against
/// 208 µs for a 2048-bit key (measured; ROBOT's five encryptions were 8% of the prober's
/// user-space CPU).
fn pow_mod(m: &BigUint, e: &BigUint, n: &BigUint) -> BigUint {
    if e.bits() > 32 || n.bits() == 0 {
        return m.modpow(e, n);
    }
    let exp = e.to_u32_digits().first().copied().unwrap_or(0);
    let base = m % n;
    let mut acc = BigUint::from(1u32) % n;
    for bit in (0..32).rev() {
        acc = &acc * &acc % n;
        if exp >> bit & 1 == 1 {
            acc = &acc * &base % n;
        }
    }
    acc
}

/// The RSA modulus (without leading zeros) and exponent of a certificate.
pub fn rsa_key(leaf: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    use x509_parser::public_key::PublicKey;
    let (_, cert) = X509Certificate::from_der(leaf).ok()?;
    match cert.public_key().parsed().ok()? {
        PublicKey::RSA(k) => {
            let n: Vec<u8> = k.modulus.iter().copied().skip_while(|b| *b == 0).collect();
            Some((n, k.exponent.to_vec()))
        }
        _ => None,
    }
}

/// A full TLS 1.2 handshake, then a client-initiated renegotiation attempt.
pub struct HandshakeExchange {
    hello: ClientHello,
    client_random: [u8; 32],
    flight: FlightParser,
    records: RecordReader,
    transcript: Vec<u8>,
    phase: Phase,
    suite: u16,
    session_id: Vec<u8>,
    ticket: Option<Vec<u8>>,
    hash: &'static ring::digest::Algorithm,
    hmac: hmac::Algorithm,
    master: Vec<u8>,
    client_keys: Option<Keys>,
    server_keys: Option<Keys>,
    server_ccs: bool,
    client_verify: Vec<u8>,
    pending: Vec<u8>,
    result: Option<Result<(), String>>,
    renegotiation: Option<Renegotiation>,
}

impl std::fmt::Debug for HandshakeExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandshakeExchange")
            .field("phase", &self.phase)
            .field("suite", &self.suite)
            .finish()
    }
}

impl HandshakeExchange {
    /// A handshake offering `suites` (those in [`COMPLETABLE`] are kept), asking for a session
    /// ticket when `ticket` (servers then give no session id, RFC 5077 §3.4).
    pub fn new(suites: &[u16], sni: Option<String>, ticket: bool) -> Self {
        let offered: Vec<u16> = suites
            .iter()
            .copied()
            .filter(|s| COMPLETABLE.contains(s))
            .collect();
        let mut hello = ClientHello::new(TlsVersion::Tls12, offered);
        hello.sni = sni;
        hello.groups = GROUPS.to_vec();
        hello.session_ticket = ticket.then(Vec::new);
        hello.renegotiation_info = Some(Vec::new());
        Self {
            hello,
            client_random: [0; 32],
            flight: FlightParser::new(),
            records: RecordReader::new(),
            transcript: Vec::new(),
            phase: Phase::Flight,
            suite: 0,
            session_id: Vec::new(),
            ticket: None,
            hash: &ring::digest::SHA256,
            hmac: hmac::HMAC_SHA256,
            master: Vec::new(),
            client_keys: None,
            server_keys: None,
            server_ccs: false,
            client_verify: Vec::new(),
            pending: Vec::new(),
            result: None,
            renegotiation: None,
        }
    }

    fn fail(&mut self, why: impl Into<String>) -> Next {
        self.result = Some(Err(why.into()));
        self.phase = Phase::Over;
        Next::Done
    }

    /// The client's second flight: ClientKeyExchange, ChangeCipherSpec, Finished.
    fn key_exchange(&mut self, f: &ServerFlight) -> Result<Vec<u8>, String> {
        let rng = SystemRandom::new();
        let suite = suites::suite(f.hello.cipher).ok_or("unknown suite")?;
        if !COMPLETABLE.contains(&suite.code) {
            return Err(format!(
                "the server chose {}, which this client cannot complete",
                suite.name
            ));
        }
        if f.certificate_request {
            return Err("the server asks for a client certificate".into());
        }
        self.suite = suite.code;
        self.session_id = f.hello.session_id.clone();
        if suite.mac == suites::Mac::Sha384 {
            self.hash = &ring::digest::SHA384;
            self.hmac = hmac::HMAC_SHA384;
        }
        let (pms, cke) = if suite.kx == suites::KeyExchange::Rsa {
            let mut pms = vec![3, 3];
            let mut r = [0u8; 46];
            rng.fill(&mut r).map_err(|_| "no randomness")?;
            pms.extend_from_slice(&r);
            let leaf = f.chain.first().ok_or("no certificate")?;
            let c = rsa_encrypt(leaf, &pms, false, &rng).ok_or("no RSA key in the certificate")?;
            let mut body = u16::try_from(c.len()).unwrap_or(0).to_be_bytes().to_vec();
            body.extend_from_slice(&c);
            (pms, body)
        } else {
            let ske = f
                .key_exchange
                .as_deref()
                .and_then(|b| server_key_exchange(b, suite, TlsVersion::Tls12))
                .ok_or("no readable ServerKeyExchange")?;
            let KeyExchangeParams::Ec { group, public } = ske.params else {
                return Err("not an elliptic-curve exchange".into());
            };
            let alg = match group {
                29 => &agreement::X25519,
                23 => &agreement::ECDH_P256,
                24 => &agreement::ECDH_P384,
                g => return Err(format!("group {g} is not one this client computes")),
            };
            let private = agreement::EphemeralPrivateKey::generate(alg, &rng)
                .map_err(|_| "key generation failed")?;
            let mine = private
                .compute_public_key()
                .map_err(|_| "key generation failed")?;
            let peer = agreement::UnparsedPublicKey::new(alg, public);
            let pms = agreement::agree_ephemeral(private, &peer, |s| s.to_vec())
                .map_err(|_| "a bad server point")?;
            let mut body = vec![u8::try_from(mine.as_ref().len()).unwrap_or(0)];
            body.extend_from_slice(mine.as_ref());
            (pms, body)
        };
        let mut seed = self.client_random.to_vec();
        seed.extend_from_slice(&f.hello.random);
        self.master = prf(self.hmac, &pms, b"master secret", &seed, 48);
        let mut seed = f.hello.random.to_vec();
        seed.extend_from_slice(&self.client_random);
        let (aead_alg, key_len, iv_len, explicit) = match suite.cipher {
            suites::Cipher::ChaCha20 => (&aead::CHACHA20_POLY1305, 32, 12, false),
            _ if suite.bits == 256 => (&aead::AES_256_GCM, 32, 4, true),
            _ => (&aead::AES_128_GCM, 16, 4, true),
        };
        let block = prf(
            self.hmac,
            &self.master,
            b"key expansion",
            &seed,
            2 * key_len + 2 * iv_len,
        );
        let keys = |k: &[u8], iv: &[u8]| -> Option<Keys> {
            let mut full = [0u8; 12];
            full.get_mut(..iv.len())?.copy_from_slice(iv);
            Some(Keys {
                key: LessSafeKey::new(UnboundKey::new(aead_alg, k).ok()?),
                iv: full,
                explicit,
                seq: 0,
            })
        };
        let ck = slice(&block, 0, key_len).ok_or("key block")?;
        let sk = slice(&block, key_len, key_len).ok_or("key block")?;
        let civ = slice(&block, 2 * key_len, iv_len).ok_or("key block")?;
        let siv = slice(&block, 2 * key_len + iv_len, iv_len).ok_or("key block")?;
        self.client_keys = keys(ck, civ);
        self.server_keys = keys(sk, siv);
        let cke = handshake(16, &cke);
        self.transcript.extend_from_slice(&cke);
        let hash = ring::digest::digest(self.hash, &self.transcript);
        self.client_verify = prf(
            self.hmac,
            &self.master,
            b"client finished",
            hash.as_ref(),
            12,
        );
        let finished = handshake(20, &self.client_verify);
        self.transcript.extend_from_slice(&finished);
        let mut out = record(content::HANDSHAKE, &cke);
        out.extend(record(content::CHANGE_CIPHER_SPEC, &[1]));
        let keys = self.client_keys.as_mut().ok_or("keys")?;
        out.extend(keys.seal(content::HANDSHAKE, &finished));
        Ok(out)
    }

    /// A ClientHello inside the session, with our verify_data (RFC 5746 §3.5).
    fn renegotiate(&mut self) -> Next {
        let mut h = self.hello.clone();
        h.renegotiation_info = Some(self.client_verify.clone());
        h.session_ticket = None;
        let mut random = [0u8; 32];
        let _ = SystemRandom::new().fill(&mut random);
        let msg = h.message(random);
        match self.client_keys.as_mut() {
            Some(keys) => Next::Send(keys.seal(content::HANDSHAKE, &msg)),
            None => self.fail("keys"),
        }
    }

    /// Reads the server's records after our Finished (and after the renegotiation hello).
    fn read(&mut self) -> Next {
        loop {
            let rec = match self.records.next_record() {
                Ok(Some(r)) => r,
                Ok(None) => return Next::Wait,
                Err(e) => return self.fail(e.to_string()),
            };
            let plain = if self.server_ccs && rec.kind != content::CHANGE_CIPHER_SPEC {
                match self
                    .server_keys
                    .as_mut()
                    .and_then(|k| k.open(rec.kind, &rec.body))
                {
                    Some(p) => p,
                    None => return self.fail("a server record did not decrypt"),
                }
            } else {
                rec.body
            };
            match (self.phase, rec.kind) {
                (Phase::ServerFinish, content::CHANGE_CIPHER_SPEC) => self.server_ccs = true,
                (Phase::ServerFinish, content::HANDSHAKE) => {
                    self.pending.extend_from_slice(&plain);
                    while let Some(len) = be24(&self.pending, 1) {
                        if self.pending.len() < 4 + len {
                            break;
                        }
                        let msg: Vec<u8> = self.pending.drain(..4 + len).collect();
                        match msg.first() {
                            // NewSessionTicket: lifetime (4), ticket (2-byte length).
                            Some(4) if !self.server_ccs => {
                                self.ticket = be16(&msg, 8)
                                    .and_then(|n| slice(&msg, 10, n))
                                    .map(<[u8]>::to_vec);
                                self.transcript.extend_from_slice(&msg);
                            }
                            Some(20) if self.server_ccs => {
                                let hash = ring::digest::digest(self.hash, &self.transcript);
                                let want = prf(
                                    self.hmac,
                                    &self.master,
                                    b"server finished",
                                    hash.as_ref(),
                                    12,
                                );
                                if msg.get(4..) != Some(want.as_slice()) {
                                    return self.fail("the server's Finished did not verify");
                                }
                                self.result = Some(Ok(()));
                                self.phase = Phase::Renegotiating;
                                return self.renegotiate();
                            }
                            _ => return self.fail("an unexpected handshake message"),
                        }
                    }
                }
                (Phase::ServerFinish, content::ALERT) => {
                    let d = alert(&plain).map_or(0, |(_, d)| d);
                    return self.fail(format!("alert {d} ({}) after our Finished", alert_name(d)));
                }
                (Phase::Renegotiating, content::HANDSHAKE) => {
                    self.renegotiation = Some(if plain.first() == Some(&2) {
                        Renegotiation::Accepted
                    } else {
                        Renegotiation::Refused {
                            how: format!(
                                "handshake message {}",
                                plain.first().copied().unwrap_or(0)
                            ),
                        }
                    });
                    self.phase = Phase::Over;
                    return Next::Done;
                }
                (Phase::Renegotiating, content::ALERT) => {
                    let d = alert(&plain).map_or(0, |(_, d)| d);
                    self.renegotiation = Some(Renegotiation::Refused {
                        how: format!("alert {d} ({})", alert_name(d)),
                    });
                    self.phase = Phase::Over;
                    return Next::Done;
                }
                // Application data (a banner after the handshake) is skipped.
                _ => {}
            }
        }
    }
}

impl Conversation for HandshakeExchange {
    fn start(&mut self, random: [u8; 32]) -> Vec<u8> {
        self.client_random = random;
        self.transcript = self.hello.message(random);
        self.hello.record(random)
    }

    fn input(&mut self, bytes: &[u8]) -> Next {
        if self.phase != Phase::Flight {
            if self.records.feed(bytes).is_err() {
                return self.fail("too much data");
            }
            return self.read();
        }
        if let Err(e) = self.flight.feed(bytes) {
            return self.fail(e.to_string());
        }
        match self.flight.answer() {
            Ok(None) => Next::Wait,
            Err(e) => self.fail(e.to_string()),
            Ok(Some(ServerAnswer::Hello(f))) if f.done && f.hello.version == TlsVersion::Tls12 => {
                self.transcript.extend_from_slice(&f.transcript);
                match self.key_exchange(&f) {
                    Ok(out) => {
                        self.phase = Phase::ServerFinish;
                        let rest = self.flight.rest().to_vec();
                        let _ = self.records.feed(&rest);
                        match self.read() {
                            Next::Wait => Next::Send(out),
                            other => other,
                        }
                    }
                    Err(e) => self.fail(e),
                }
            }
            Ok(Some(ServerAnswer::Alert { description, .. })) => {
                self.fail(format!("alert {description} ({})", alert_name(description)))
            }
            Ok(Some(_)) => self.fail("no TLS 1.2 full handshake offered"),
        }
    }

    fn finish(self: Box<Self>, ending: Ending) -> Outcome {
        let ending_text = match &ending {
            Ending::Done => "done".to_owned(),
            Ending::Closed => "the server closed the connection".to_owned(),
            Ending::TimedOut { ms } => format!("no answer within {ms} ms"),
            Ending::Failed(e) => e.clone(),
        };
        Outcome::Handshake(match self.result {
            Some(Ok(())) => HandshakeResult::Completed(Completed {
                suite: self.suite,
                session_id: self.session_id,
                ticket: self.ticket,
                renegotiation: self.renegotiation.unwrap_or(match ending {
                    Ending::Closed => Renegotiation::Refused {
                        how: "closed the connection".into(),
                    },
                    _ => Renegotiation::NoAnswer(ending_text),
                }),
            }),
            Some(Err(e)) => HandshakeResult::Failed(e),
            None => HandshakeResult::Failed(ending_text),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_exponents_agree_with_modpow() {
        use num_bigint::BigUint;
        // A 2048-bit odd modulus and messages of every size below it, from a hash stream.
        let stream = |seed: u8, len: usize| -> Vec<u8> {
            let mut out = Vec::new();
            let mut i = 0u32;
            while out.len() < len {
                let mut input = vec![seed];
                input.extend_from_slice(&i.to_be_bytes());
                out.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, &input).as_ref());
                i += 1;
            }
            out.truncate(len);
            out
        };
        let mut n = stream(1, 256);
        n[0] |= 0x80;
        n[255] |= 1;
        let n = BigUint::from_bytes_be(&n);
        for (seed, len) in [(2u8, 255usize), (3, 256), (4, 17), (5, 1), (6, 0)] {
            let m = BigUint::from_bytes_be(&stream(seed, len));
            for e in [3u32, 17, 65537, 0xFFFF_FFFF, 1, 0] {
                let e = BigUint::from(e);
                assert_eq!(super::pow_mod(&m, &e, &n), m.modpow(&e, &n), "{seed} {e}");
            }
        }
    }

    use super::*;

    #[test]
    fn prf_is_hmac_iterated_as_rfc_5246_says() {
        // P_SHA256(secret, seed) = HMAC(secret, A(1) + seed) + HMAC(secret, A(2) + seed) + …,
        // A(0) = seed, A(i) = HMAC(secret, A(i-1)); computed here step by step.
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"secret");
        let seed = b"labelseed";
        let a1 = hmac::sign(&key, seed);
        let a2 = hmac::sign(&key, a1.as_ref());
        let mut want = hmac::sign(&key, &[a1.as_ref(), seed].concat())
            .as_ref()
            .to_vec();
        want.extend_from_slice(hmac::sign(&key, &[a2.as_ref(), seed].concat()).as_ref());
        let got = prf(hmac::HMAC_SHA256, b"secret", b"label", b"seed", 48);
        assert_eq!(got, want[..48]);
    }

    #[test]
    fn records_seal_and_open() {
        let k = |seq| Keys {
            key: LessSafeKey::new(UnboundKey::new(&aead::AES_128_GCM, &[7; 16]).unwrap()),
            iv: [1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0],
            explicit: true,
            seq,
        };
        let (mut a, mut b) = (k(5), k(5));
        let rec = a.seal(22, b"hello");
        assert_eq!(rec.len(), 5 + 8 + 5 + 16);
        assert_eq!(b.open(22, &rec[5..]).unwrap(), b"hello");
        assert!(
            k(6).open(22, &rec[5..]).is_none(),
            "another sequence number"
        );
    }
}
