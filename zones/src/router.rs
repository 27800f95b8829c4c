//! The router: alias in, ordered targets out.
//!
//! Search rules are a chain (GnuGk style): each rule answers "I route this" or "next". Today the
//! chain holds the implicit LocalZone rule only: an alias in one of the registrar domains goes to
//! the local registrations; anything else has no route (the caller answers 404). Must not touch
//! protocol state: the caller resolves a `Target::LocalZone` against its own registrar.

use crate::alias::Alias;

/// Name of the implicit zone holding local registrations.
pub const LOCAL_ZONE: &str = "LocalZone";

/// Where a call may go next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The local registrations: look the alias up in the registrar (SIP) or gatekeeper (H.323).
    LocalZone { alias: Alias },
}

/// The router's answer: targets to try in order, and which rules produced them (for logs and
/// the dial-plan check).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route {
    pub targets: Vec<Target>,
    pub trace: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Router {
    local_domains: Vec<String>,
}

impl Router {
    pub fn new(local_domains: &[String]) -> Router {
        Router {
            local_domains: local_domains
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
        }
    }

    pub fn is_local_domain(&self, domain: &str) -> bool {
        self.local_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }

    pub fn route(&self, alias: &Alias) -> Route {
        let mut route = Route::default();
        match &alias.domain {
            Some(d) if self.is_local_domain(d) => {
                route
                    .trace
                    .push(format!("{LOCAL_ZONE}: `{d}` is a registrar domain"));
                route.targets.push(Target::LocalZone {
                    alias: alias.clone(),
                });
            }
            _ => route
                .trace
                .push(format!("no search rule matches `{alias}`")),
        }
        route
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_domain_goes_to_local_zone_case_insensitively() {
        let r = Router::new(&["example.com".into()]);
        let a = Alias::new(Some("alice"), Some("EXAMPLE.com"));
        assert_eq!(
            r.route(&a).targets,
            vec![Target::LocalZone { alias: a.clone() }]
        );
    }

    #[test]
    fn foreign_domain_has_no_route() {
        let r = Router::new(&["example.com".into()]);
        let route = r.route(&Alias::new(Some("bob"), Some("example.org")));
        assert!(route.targets.is_empty());
        assert_eq!(
            route.trace,
            vec!["no search rule matches `bob@example.org`"]
        );
    }
}
