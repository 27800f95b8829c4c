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
use crate::admin::server::Ask;
use anyhow::Context;
use causeway_cluster::{AppliedDocument, Cluster};
use causeway_config::zones::ZoneType;
use causeway_config::{document, scope, Config};
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
use tokio::sync::{mpsc, oneshot, watch};
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
    /// On a cluster peer, the cluster document in force (a name for errors, its text): its
    /// tables replace the file's shared ones (`causeway_config::document`).
    pub document: Option<(String, String)>,
    /// The zones the status lists, replaced with each applied configuration.
    pub zones: super::publish::Zones,
}

impl Reloader {
    /// Re-reads and applies the file (with the cluster document in force, on a peer); the
    /// answer for the operator.
    pub async fn reload(&mut self) -> Result<String, String> {
        self.take(self.document.clone()).await
    }

    /// Applies a committed cluster document (this peer's file with its tables).
    pub async fn apply_document(&mut self, name: String, text: String) -> Result<String, String> {
        self.take(Some((name, text))).await
    }

    /// Whether a cluster document, with this peer's file, makes a valid configuration.
    pub fn check_document(&self, name: &str, text: &str) -> Result<(), String> {
        let document = (name.to_string(), text.to_string());
        self.read(&self.file()?, Some(&document)).map(|_| ())
    }

    /// Reads the file with `document` and applies the result; `document` is in force after.
    async fn take(&mut self, document: Option<(String, String)>) -> Result<String, String> {
        let path = self.file()?;
        let new = self.read(&path, document.as_ref())?;
        let answer = self
            .apply(&new)
            .await
            .map_err(|e| format!("error: {}: {e:#}\n", path.display()))?;
        self.current = new;
        self.document = document;
        Ok(answer)
    }

    fn file(&self) -> Result<PathBuf, String> {
        self.path.clone().ok_or_else(|| {
            "the node runs on the embedded default configuration: there is no file to re-read \
             (start it with --config FILE)\n"
                .to_string()
        })
    }

    /// The node's configuration from its file and, on a cluster peer, `document`.
    fn read(
        &self,
        path: &std::path::Path,
        document: Option<&(String, String)>,
    ) -> Result<Config, String> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("error: {name}: cannot read: {e}\n"))?;
        match document {
            Some((doc_name, doc)) => document::merge((&name, &text), (doc_name, doc)),
            None => Config::parse(&name, &text),
        }
        .map_err(|e| format!("error: {e}\n"))
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
        if let Ok(mut z) = self.zones.lock() {
            *z = super::publish::zone_status(new);
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

/// Serves what the admin listener asks (`Ask`), SIGHUP and, on a cluster peer, each committed
/// document, one at a time, until the node stops.
pub(super) async fn serve(
    mut r: Reloader,
    mut asks: mpsc::Receiver<Ask>,
    (cluster, view): (Option<Cluster>, super::cluster::View),
) {
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut documents = cluster.as_ref().map(Cluster::watch);
    // the document in force on a restarted peer is applied at once (it came back from disk)
    let mut applied: Option<u64> = None;
    apply_committed(&mut r, documents.as_mut(), &mut applied).await;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
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
        let committed = async {
            match documents.as_mut() {
                Some(d) => d.changed().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ask = asks.recv(), if open => match ask {
                Some(Ask::Reload(reply)) => {
                    let answer = r.reload().await;
                    log(&answer);
                    let _ = reply.send(answer);
                }
                Some(Ask::Apply(text, reply)) => {
                    let answer = match &cluster {
                        Some(c) => submit(&mut r, c, text, (documents.as_mut(), &mut applied)).await,
                        None => Err(NOT_A_PEER.into()),
                    };
                    let _ = reply.send(answer);
                }
                // no admin listener: SIGHUP only
                None => open = false,
            },
            Some(()) = hangup => log(&r.reload().await),
            Ok(()) = committed => {
                apply_committed(&mut r, documents.as_mut(), &mut applied).await;
            }
            _ = tick.tick() => {
                if let (Some(c), Ok(mut v)) = (&cluster, view.lock()) {
                    *v = Some(c.status());
                }
            }
        }
    }
}

/// Applies the committed document when it is newer than the one applied here.
async fn apply_committed(
    r: &mut Reloader,
    documents: Option<&mut watch::Receiver<Option<AppliedDocument>>>,
    applied: &mut Option<u64>,
) -> Option<Result<String, String>> {
    let doc = documents?.borrow_and_update().clone()?;
    if applied.is_some_and(|i| i >= doc.index) {
        return None;
    }
    *applied = Some(doc.index);
    let name = format!("cluster document #{} ({})", doc.index, short(&doc.hash));
    let answer = r.apply_document(name, doc.text.to_string()).await;
    match &answer {
        Ok(a) => info!(
            index = doc.index,
            hash = %doc.hash,
            "cluster document applied: {}",
            a.trim_end().replace('\n', "; ")
        ),
        // committed by a majority but not valid with this peer's file: the peer keeps what
        // it runs, and says so (status shows its applied hash beside the others')
        Err(e) => warn!(
            index = doc.index,
            "cluster document not applied here: {}",
            e.trim_end()
        ),
    }
    Some(answer)
}

/// `causeway config apply`: checked against this peer's file, committed by a majority, then
/// applied here before the answer.
async fn submit(
    r: &mut Reloader,
    cluster: &Cluster,
    text: String,
    (documents, applied): (
        Option<&mut watch::Receiver<Option<AppliedDocument>>>,
        &mut Option<u64>,
    ),
) -> Result<String, String> {
    r.check_document("document", &text)?;
    let done = cluster
        .apply(text, super::cluster::APPLY_TIMEOUT)
        .await
        .map_err(|e| format!("error: not committed: {e}\n"))?;
    let Some(documents) = documents else {
        return Err(NOT_A_PEER.into());
    };
    // the entry is committed; this peer applies it as soon as its state machine has
    let deadline = tokio::time::Instant::now() + super::cluster::APPLY_TIMEOUT;
    while documents
        .borrow()
        .as_ref()
        .is_none_or(|d| d.index < done.index)
    {
        if tokio::time::timeout_at(deadline, documents.changed())
            .await
            .is_err()
        {
            break;
        }
    }
    let here = match apply_committed(r, Some(documents), applied).await {
        Some(Ok(a)) => a,
        Some(Err(e)) => format!("not applied on this peer: {e}"),
        None => String::new(),
    };
    Ok(format!(
        "committed: index {} hash {}\n{here}",
        done.index, done.hash
    ))
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

const NOT_A_PEER: &str = "this node is not a cluster peer ([cluster] is absent): edit its file \
                          and run `causeway reload`\n";

fn log(answer: &Result<String, String>) {
    match answer {
        Ok(a) => info!(
            "configuration reloaded: {}",
            a.trim_end().replace('\n', "; ")
        ),
        Err(e) => warn!("configuration not reloaded: {}", e.trim_end()),
    }
}
