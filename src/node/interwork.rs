//! The SIP <-> H.323 interworking gateway of a node (`[interworking]`): its loopback sockets,
//! bound before the two stacks are told where it is, and its task. Nothing here decides
//! protocol behaviour (that is `causeway_interwork::gateway`'s).

use anyhow::Context;
use causeway_config::{Config, InterworkingMode, Transport};
use causeway_interwork::driver::{self, Sockets, StatusHandle};
use causeway_interwork::gateway::Config as GwConfig;
use causeway_sip::transaction::TimerConfig;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tracing::info;

/// How long an interworked call may go unanswered (the proxy's timer C).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(180);

/// The gateway's sockets when the node interworks: H.323 on and `[interworking] mode` not
/// off.
pub(super) async fn bind(config: &Config) -> anyhow::Result<Option<Sockets>> {
    if !config.h323.enabled || config.interworking.mode == InterworkingMode::Off {
        return Ok(None);
    }
    let s = Sockets::bind(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .await
        .context("interworking: cannot bind its loopback sockets")?;
    Ok(Some(s))
}

/// `addr` as the gateway reaches it: an unspecified address means loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(a) if a.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(a) if a.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

/// Runs the gateway between the proxy's UDP listener and the gatekeeper's call signaling.
pub(super) fn start(
    config: &Config,
    sockets: Sockets,
    bound: &[(Transport, SocketAddr, bool)],
    gatekeeper: SocketAddr,
) -> anyhow::Result<(tokio::task::JoinHandle<()>, StatusHandle)> {
    let proxy = bound
        .iter()
        .find(|(k, _, _)| *k == Transport::Udp)
        .map(|(_, a, _)| reachable(*a))
        .context("interworking needs a SIP UDP listener ([sip] udp)")?;
    let cfg = GwConfig {
        sip_local: sockets.sip_addr()?,
        proxy,
        gatekeeper: reachable(gatekeeper),
        h225_local: sockets.h225_addr()?,
        domain: config.system.domain.clone(),
        // each interworked call is an H.323 call and takes a media session (its tap)
        max_calls: config.h323.max_calls.min(config.media.max_sessions),
        answer_timeout: ANSWER_TIMEOUT,
        timers: TimerConfig::default(),
    };
    info!(
        "SIP/H.323 interworking ({}): SIP udp {} <-> proxy {proxy}, H.323 tcp {} <-> gatekeeper {}",
        config.interworking.mode.as_str(),
        cfg.sip_local,
        cfg.h225_local,
        cfg.gatekeeper
    );
    // the calls' media taps listen where the node's media does (the SIP side's relay or
    // the UAs themselves send there)
    let media_ip = config
        .media
        .address
        .or_else(|| {
            bound
                .iter()
                .map(|(_, a, _)| a.ip())
                .find(|ip| !ip.is_unspecified())
        })
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let status = StatusHandle::default();
    let rng = Box::new(StdRng::from_entropy());
    let task = driver::spawn(cfg, rng, sockets, media_ip, status.clone());
    Ok((task, status))
}
