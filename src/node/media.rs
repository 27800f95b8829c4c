//! The media relay of a node (`[media]`): the relay driver on its port range, and the
//! anchoring state machines over its one relay table: the SIP proxy core anchors SDP through
//! [`anchor`], H.323 call signaling its H.245 channels through [`channel_anchor`] (so the
//! relay's counters and limits cover both).

use anyhow::Context;
use causeway_config::media::Anchor as Policy;
use causeway_config::Config;
use causeway_media::latch::{LatchConfig, Relatch};
use causeway_media::ports::PortPair;
use causeway_media::relay::{self, RelayConfig, RelayHandle};
use causeway_media::session::TableConfig;
use causeway_media::{Anchor, AnchorConfig, ChannelAnchor, Relay};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// SO_RCVBUF of relay sockets, as the SIP UDP transport's (the kernel caps it at
/// `net.core.rmem_max`).
const RELAY_RECV_BUFFER: usize = 4 * 1024 * 1024;

/// The media relay, unless `[media] anchor = "none"`. E (a node with traversal server zones)
/// also binds the multiplexed pair its links' media arrives on.
pub(super) fn start(
    config: &Config,
    has_server_zones: bool,
) -> anyhow::Result<Option<RelayHandle>> {
    let m = &config.media;
    if m.anchor == Policy::None {
        return Ok(None);
    }
    let multiplexed = if has_server_zones && m.multiplexed {
        Some(
            PortPair::from_range(m.multiplexed_ports)
                .context("media.multiplexed_ports is not one even/odd pair")?,
        )
    } else {
        None
    };
    let table = TableConfig {
        ports: m.ports,
        multiplexed,
        max_sessions: m.max_sessions,
        latch: LatchConfig {
            relatch: if m.relatch_after == 0 {
                Relatch::Never
            } else {
                Relatch::AfterSilence(Duration::from_secs(m.relatch_after))
            },
            ..LatchConfig::default()
        },
    };
    let ip = m.address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let mut rc = RelayConfig::new(ip, table);
    rc.inactivity = Duration::from_secs(m.inactivity_timeout);
    // every relay socket (the multiplexed one above all: the default overflows at some 50k
    // packets/s); a kernel that refuses it only gets a warning per socket
    rc.recv_buffer = Some(RELAY_RECV_BUFFER);
    rc.keepalive_payload_type = m.keepalive_payload_type;
    rc.io = m.relay_io;
    let relay = relay::spawn(rc).with_context(|| {
        format!(
            "media relay on {ip} (multiplexed pair {})",
            m.multiplexed_ports
        )
    })?;
    info!(
        "media relay: ports {}, anchor {:?}, I/O {}{}",
        m.ports,
        m.anchor,
        relay.io().name(),
        match multiplexed {
            Some(p) => format!(", traversal media on {p}"),
            None => String::new(),
        }
    );
    Ok(Some(relay))
}

fn anchor_config(config: &Config) -> AnchorConfig {
    let m = &config.media;
    AnchorConfig {
        policy: m.anchor,
        address: m.address,
        strip_ice: m.strip_ice,
        on_inactivity: m.on_inactivity,
        multiplexed: m.multiplexed,
    }
}

/// The anchoring of SIP calls on `relay`, by the `[media]` policy.
pub(super) fn anchor(config: &Config, relay: &RelayHandle) -> Anchor {
    Anchor::new(relay.table(), anchor_config(config))
}

/// The anchoring of H.323 calls on `relay`, by the same policy; it binds relay ports itself
/// through the handle (on the H.323 task, inside the runtime the relay runs on).
pub(super) fn channel_anchor(config: &Config, relay: &RelayHandle) -> ChannelAnchor {
    let handle: Arc<dyn Relay + Send + Sync> = Arc::new(relay.clone());
    ChannelAnchor::new(relay.table(), handle, anchor_config(config))
}
