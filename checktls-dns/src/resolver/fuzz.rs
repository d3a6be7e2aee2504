//! The validator's inputs for the fuzz targets (not part of the API): one DNS message, served by
//! a fake upstream on loopback as the answer to every question the resolver asks (its ID and
//! question made to match), so the validator, the chain building, the denial checks and the
//! second look all run on hostile data; and the pure checks on the message itself.

use std::sync::OnceLock;
use std::time::Duration;

use hickory_resolver::proto::dnssec::rdata::DNSSECRData;
use hickory_resolver::proto::dnssec::{PublicKey, Verifier};
use hickory_resolver::proto::op::Message;
use hickory_resolver::proto::rr::{Name, RData};
use hickory_resolver::proto::serialize::binary::BinDecodable;

use super::anchored;
use super::engine::from_name;
use super::{Dnssec, Nameservers, Resolver, ResolverOptions};
use crate::{DomainName, TrustAnchor, TrustAnchors};

fn runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RT: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()
    })
    .as_ref()
}

/// Runs the validator on `data` as every upstream answer.
pub(crate) fn validator(data: &[u8]) {
    let Ok(template) = Message::from_bytes(data) else {
        return;
    };
    // The name asked: the message's question, or its first answer's owner.
    let qname = template
        .queries
        .first()
        .map(|q| q.name().clone())
        .or_else(|| template.answers.first().map(|r| r.name.clone()))
        .unwrap_or_else(Name::root);
    // Anchors: every key-signing key the message carries, so signatures are really checked.
    let mut anchors = TrustAnchors::none();
    for r in &template.answers {
        if let RData::DNSSEC(DNSSECRData::DNSKEY(k)) = &r.data
            && k.secure_entry_point()
            && let Ok(zone) = from_name(&r.name)
        {
            anchors.push(TrustAnchor::Dnskey {
                zone,
                flags: k.flags(),
                protocol: 3,
                algorithm: u8::from(k.algorithm()),
                public_key: k.public_key().public_bytes().to_vec(),
            });
        }
    }
    // The pure checks.
    let of_zone: Vec<&TrustAnchor> = anchors.anchors().iter().collect();
    let _ = anchored::authenticated_keys(&template, &qname, &of_zone, 1_800_000_000);
    let _ = anchored::opt_out_denial(&template.authorities, &qname);
    let Ok(ours) = from_name(&qname) else {
        return;
    };
    if anchors.anchors().is_empty()
        && let Ok(root) = DomainName::parse(".")
    {
        // No key in the message: a DS anchor it cannot meet (validation still runs).
        anchors.push(TrustAnchor::Ds {
            zone: root,
            key_tag: 20326,
            algorithm: 8,
            digest_type: 2,
            digest: vec![0xe0; 32],
        });
    }
    let Some(rt) = runtime() else {
        return;
    };
    // Bounded: a message that makes the resolver wait (dropped, truncated) costs at most this.
    rt.block_on(async {
        let _ =
            tokio::time::timeout(Duration::from_millis(300), ask(template, ours, anchors)).await;
    });
}

async fn ask(template: Message, name: DomainName, anchors: TrustAnchors) {
    let Ok(socket) = tokio::net::UdpSocket::bind("127.0.0.1:0").await else {
        return;
    };
    let Ok(addr) = socket.local_addr() else {
        return;
    };
    let _server = AbortOnDrop(tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let Some(request) = buf.get(..n).and_then(|b| Message::from_bytes(b).ok()) else {
                continue;
            };
            let mut reply = template.clone();
            reply.metadata.id = request.metadata.id;
            reply.metadata.message_type = hickory_resolver::proto::op::MessageType::Response;
            reply.queries = request.queries.clone();
            if let Ok(bytes) = reply.to_vec() {
                let _ = socket.send_to(&bytes, from).await;
            }
        }
    }));
    let o = ResolverOptions {
        nameservers: Nameservers::Given(vec![addr]),
        dnssec: Dnssec::Validate(anchors),
        cache: false,
        timeout: Duration::from_millis(50),
        attempts: 1,
        ..ResolverOptions::default()
    };
    if let Ok(r) = Resolver::new(o).await {
        let _ = tokio::join!(
            r.lookup_mx(&name),
            r.lookup_tlsa(&name),
            r.lookup_a(&name),
            r.lookup_txt(&name)
        );
    }
}

/// Stops the fake upstream however `ask` ends (also when the time bound drops it).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
