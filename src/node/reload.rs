//! Live reconfiguration of a running node: `causeway reload` (`POST /reload` on the admin
//! listener) and SIGHUP re-read the node's file, validate it as `check-config` does, and hand
//! the cluster-wide part (`causeway_config::scope`) to the running SIP machine and H.323
//! service between two of their inputs. Calls, registrations and traversal links whose zone did
//! not change stay; a bad file is refused with its `file:line:col` error and nothing changes.
//! Peer-local changes (listeners, certificates, ports) are named in the answer: they apply at
//! the next start.
//!
//! Owns the reload task and the diff of traversal-client zones; builds the new tables with the
//! same functions the node starts with (`sip`, `h323`). Must not touch protocol state itself.

use super::{h323, sip};
use anyhow::Context;
use causeway_config::zones::ZoneType;
use causeway_config::{scope, Config};
use causeway_sip::driver::Control;
use causeway_sip::transport::TlsMaterial;
use causeway_traversal::{Applied, LinkedProxy, Reconfig};
use causeway_zones::{Router, SearchRecorder};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::fmt::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

/// The H.323 side as a reload reaches it.
pub(super) struct H323Side {
    pub control: mpsc::UnboundedSender<causeway_h323::driver::Control>,
    pub q931: SocketAddr,
    pub endpoint_id_prefix: u32,
}

pub(super) struct Reloader {
    /// `None`: the embedded default, nothing to re-read.
    pub path: Option<PathBuf>,
    /// What the node started with: peer-local changes are measured against it.
    pub started: Config,
    /// What runs now (the last applied file).
    pub current: Config,
    pub tls: Option<TlsMaterial>,
    pub recorder: Option<Arc<dyn SearchRecorder>>,
    pub sip: mpsc::UnboundedSender<Control<LinkedProxy>>,
    pub h323: Option<H323Side>,
    pub rng: StdRng,
}

impl Reloader {
    /// Re-reads and applies the file; the answer for the operator.
    pub async fn reload(&mut self) -> Result<String, String> {
        let Some(path) = self.path.clone() else {
            return Err(
                "the node runs on the embedded default configuration: there is no file \
                        to re-read (start it with --config FILE)\n"
                    .into(),
            );
        };
        let new = Config::load(&path).map_err(|e| format!("error: {e}\n"))?;
        let answer = self
            .apply(&new)
            .await
            .map_err(|e| format!("error: {}: {e:#}\n", path.display()))?;
        self.current = new;
        Ok(answer)
    }

    async fn apply(&mut self, new: &Config) -> anyhow::Result<String> {
        let later = scope::restart_needed(&self.started, new);
        let links = sip::link_configs(new, self.tls.as_ref()).await?;
        let unchanged = unchanged_links(&self.current, new);
        let mut router = Router::from_config(new);
        if let Some(r) = &self.recorder {
            router = router.with_recorder(r.clone());
        }
        // the gatekeeper's first: a bad pattern refuses the whole file before anything applies
        let gatekeeper = match &self.h323 {
            Some(h) => Some((
                h323::gatekeeper_config(new, h.q931, h.endpoint_id_prefix)?,
                h323::neighbors(new).await,
            )),
            None => None,
        };
        let reconfig = Reconfig {
            policy: sip::policy(new, &mut self.rng, router.clone()),
            credentials: sip::credentials(new),
            links,
            unchanged,
            rng: StdRng::from_rng(&mut self.rng).context("random generator")?,
        };
        let (tx, rx) = oneshot::channel();
        let apply: Control<LinkedProxy> = Box::new(move |m, now, out| {
            let _ = tx.send(m.reconfigure(reconfig, now, out));
        });
        self.sip
            .send(apply)
            .ok()
            .context("the SIP side is stopping")?;
        let applied = rx.await.ok().context("the SIP side is stopping")?;
        if let (Some(h), Some((cfg, neighbors))) = (&self.h323, gatekeeper) {
            let router = router.clone();
            let apply: causeway_h323::driver::Control = Box::new(move |svc, _| {
                svc.gatekeeper.reconfigure(cfg, router, neighbors);
            });
            h.control
                .send(apply)
                .ok()
                .context("the H.323 side is stopping")?;
        }
        Ok(summary(new, &applied, &later))
    }
}

/// Traversal-client zones whose settings are as they were (their links stay up). The node's
/// name goes into every link REGISTER, so a new name would change them all; it needs a
/// restart anyway.
fn unchanged_links(old: &Config, new: &Config) -> Vec<String> {
    let clients = |c: &Config| -> Vec<(String, String)> {
        c.zones
            .iter()
            .filter(|z| z.kind == ZoneType::TraversalClient)
            .map(|z| (z.name.clone(), format!("{z:?}")))
            .collect()
    };
    let before = clients(old);
    clients(new)
        .into_iter()
        .filter(|z| before.contains(z))
        .map(|(name, _)| name)
        .collect()
}

fn summary(new: &Config, applied: &Applied, later: &[&str]) -> String {
    let mut s = format!(
        "applied: {} zones, {} transforms, {} search rules, {} credentials, registrar domains {:?}\n",
        new.zones.len(),
        new.transforms.len(),
        new.search_rules.len(),
        new.credentials.len(),
        new.registrar_domains(),
    );
    for (what, zones) in [
        ("kept", &applied.kept),
        ("added", &applied.added),
        ("restarted", &applied.restarted),
        ("removed", &applied.removed),
    ] {
        if !zones.is_empty() {
            let _ = writeln!(s, "traversal links {what}: {}", zones.join(", "));
        }
    }
    if !later.is_empty() {
        let _ = writeln!(s, "not applied until the next start: {}", later.join(", "));
    }
    s
}

/// Serves reloads asked for on the admin listener and by SIGHUP, one at a time, until the
/// node stops.
pub(super) async fn serve(
    mut r: Reloader,
    mut asks: mpsc::Receiver<oneshot::Sender<Result<String, String>>>,
) {
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut open = true;
    loop {
        #[cfg(unix)]
        let hangup = async {
            match hup.as_mut() {
                Some(h) => h.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<Option<()>>();
        tokio::select! {
            ask = asks.recv(), if open => {
                // no admin listener: SIGHUP only
                let Some(reply) = ask else { open = false; continue };
                let answer = r.reload().await;
                log(&answer);
                let _ = reply.send(answer);
            }
            Some(()) = hangup => log(&r.reload().await),
        }
    }
}

fn log(answer: &Result<String, String>) {
    match answer {
        Ok(a) => info!(
            "configuration reloaded: {}",
            a.trim_end().replace('\n', "; ")
        ),
        Err(e) => warn!("configuration not reloaded: {}", e.trim_end()),
    }
}
