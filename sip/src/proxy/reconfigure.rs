//! Reconfiguring a running core (`causeway reload`, SIGHUP, later a committed cluster
//! configuration): the cluster-wide part of the configuration (the dial plan, the registrar
//! domains and policy, digest authentication and its credentials, the amplification limit)
//! replaced between two inputs. What is in flight stays: transactions and their targets,
//! dialogs, registrations, flows and traversal links; what arrives next meets the new tables.
//!
//! Owns only the swap. Must not touch the transaction tables or the registrations (a policy
//! change applies to the next REGISTER, as a restarted registrar would apply it).

use super::core::{AuthSettings, Core};
use crate::auth::DigestServer;
use crate::registrar::RegistrarPolicy;
use causeway_zones::Router;

/// What a reload may change in a running core.
pub struct Policy {
    /// Registrar domains (the local zone).
    pub domains: Vec<String>,
    pub registrar: RegistrarPolicy,
    pub auth: Option<AuthSettings>,
    /// The dial plan (zones, transforms, search rules).
    pub router: Router,
    pub amplification_limit: bool,
}

impl Core {
    /// Applies `policy` from the next input on. Digest nonces already handed out stay valid
    /// while the realm, the algorithms and the nonce lifetime are the same (only the
    /// credentials changed): a UA between its 401 and its retry is not failed by a reload.
    pub fn reconfigure(&mut self, policy: Policy) {
        let Policy {
            domains,
            registrar,
            auth,
            router,
            amplification_limit,
        } = policy;
        let same_digest = match (&self.settings.auth, &auth) {
            (Some(a), Some(b)) => {
                a.realm == b.realm
                    && a.algorithms == b.algorithms
                    && a.nonce_lifetime == b.nonce_lifetime
            }
            _ => false,
        };
        if !same_digest {
            // the old secret when there was one: nonces are bound to the realm anyway
            let secret = self.settings.auth.as_ref().map(|a| a.secret);
            self.digest = auth.as_ref().map(|a| {
                DigestServer::new(
                    &a.realm,
                    &a.algorithms,
                    secret.unwrap_or(a.secret),
                    a.nonce_lifetime,
                )
            });
        }
        self.identity.set_domains(domains.clone());
        self.settings.domains = domains;
        self.registrar.set_policy(registrar.clone());
        self.settings.registrar = registrar;
        self.settings.auth = auth;
        self.router = router;
        self.settings.router = None;
        self.amplification_limit = amplification_limit;
    }

    /// A reload's traversal client zones (the traversal layer rebuilds their clients).
    pub fn set_client_zones(&mut self, zones: Vec<String>) {
        self.settings.client_zones = zones.clone();
        self.links.set_clients(zones);
    }
}
