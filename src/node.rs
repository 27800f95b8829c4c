//! Wiring of one node: configuration -> TLS material -> transports -> SIP proxy core -> driver.
//! Nothing here decides protocol behaviour; it only builds the parts from the configuration and
//! runs them until a shutdown signal.

use anyhow::{bail, Context};
use causeway_config::{Config, DigestAlgorithm, SipTransport};
use causeway_sip::auth::Algorithm;
use causeway_sip::driver;
use causeway_sip::proxy::{AuthSettings, Core, ProxySettings};
use causeway_sip::registrar::RegistrarPolicy;
use causeway_sip::transaction::TimerConfig;
use causeway_sip::transport::{self, ListenerSpec, TlsMaterial, TransportConfig, TransportKind};
use std::time::Duration;
use tracing::info;

pub async fn run(config: Config) -> anyhow::Result<()> {
    let role = config.system.role;
    let sip = &config.sip;
    let mut listeners = Vec::new();
    for (t, kind, mtls) in [
        (SipTransport::Udp, TransportKind::Udp, false),
        (SipTransport::Tcp, TransportKind::Tcp, false),
        (SipTransport::Tls, TransportKind::Tls, false),
        (SipTransport::Mtls, TransportKind::Tls, true),
    ] {
        let l = sip.listener(t, role);
        if l.enabled {
            listeners.extend(l.listen.iter().map(|addr| ListenerSpec {
                kind,
                addr: *addr,
                mtls,
            }));
        }
    }
    let needs_tls = listeners.iter().any(|l| l.kind == TransportKind::Tls);
    let tls = match (&sip.certificate, &sip.private_key) {
        (Some(cert), Some(key)) => Some(
            TlsMaterial::from_pem_files(cert, key)
                .with_context(|| format!("sip.certificate `{}`", cert.display()))?,
        ),
        _ if needs_tls => {
            let mut names = vec![
                config.system.name.clone(),
                config.system.domain.clone(),
                "localhost".to_string(),
            ];
            names.extend(
                listeners
                    .iter()
                    .filter(|l| !l.addr.ip().is_unspecified())
                    .map(|l| l.addr.ip().to_string()),
            );
            names.sort();
            names.dedup();
            info!(names = ?names, "no certificate configured: generated a self-signed one");
            Some(TlsMaterial::self_signed(&names).context("self-signed certificate")?)
        }
        _ => None,
    };
    let tcfg = TransportConfig {
        listeners,
        outbound_ports: sip.outbound_ports.as_range(),
        idle_timeout: Duration::from_secs(sip.idle_timeout),
        max_message_size: sip.max_message_size,
        max_headers: sip.max_headers,
        max_connections: sip.max_connections,
        max_connections_per_ip: sip.max_connections_per_ip,
        tls,
        trusted_ca: sip.trusted_ca.clone(),
        verify_outbound: sip.tls_verify == causeway_config::TlsVerify::Enforce,
    };
    let (handle, events) = transport::start(tcfg)
        .await
        .context("cannot start SIP transports")?;
    let bound = handle.local_addrs();
    for (kind, addr, mtls) in &bound {
        info!(
            "listening on SIP {}{} {addr}",
            kind.via_token(),
            if *mtls { " (MTLS)" } else { "" }
        );
    }
    if bound.is_empty() {
        bail!("no SIP listener could be started");
    }

    let credentials = config
        .credentials
        .iter()
        .map(|c| (c.username.clone(), c.password.clone()))
        .collect();
    let r = &config.registrar;
    let auth = r.authenticate.then(|| AuthSettings {
        realm: r
            .realm
            .clone()
            .unwrap_or_else(|| config.system.domain.clone()),
        algorithms: r
            .algorithms
            .iter()
            .map(|a| match a {
                DigestAlgorithm::Sha256 => Algorithm::Sha256,
                DigestAlgorithm::Md5 => Algorithm::Md5,
            })
            .collect(),
        credentials,
        nonce_lifetime: Duration::from_secs(r.nonce_lifetime),
        secret: rand::random(),
    });
    let settings = ProxySettings {
        system_name: config.system.name.clone(),
        domains: config.registrar_domains(),
        timers: TimerConfig {
            t1: Duration::from_millis(sip.t1_ms),
            t2: Duration::from_millis(sip.t2_ms),
            t4: Duration::from_millis(sip.t4_ms),
            timer_c: Duration::from_secs(sip.timer_c),
        },
        max_transactions: sip.max_transactions,
        max_message_size: sip.max_message_size,
        max_headers: sip.max_headers,
        registrar: RegistrarPolicy {
            min_expires: r.min_expires,
            max_expires: r.max_expires,
            default_expires: r.default_expires,
            max_bindings_per_aor: r.max_bindings_per_aor,
            max_aors: r.max_registrations,
        },
        auth,
    };
    let listeners = bound.iter().map(|(k, a, _)| (*k, *a)).collect();
    let core = Core::new(settings, listeners, Box::new(driver::OsNetEnv));
    info!(
        system = %config.system.name,
        role = %role,
        domains = ?config.registrar_domains(),
        "causeway {} running",
        env!("CARGO_PKG_VERSION")
    );
    driver::run(core, handle.clone(), events, shutdown_signal()).await;
    handle.shutdown();
    info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
