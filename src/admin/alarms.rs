//! The alarms of a status snapshot: what an operator must act on, computed from the snapshot
//! itself (links, media ports) and from the node's certificate, read once at start-up.
//!
//! Plain data in, alarms out; the publisher calls `evaluate` on each snapshot and keeps this
//! value between snapshots only to know since when the media ports have been short.

use super::snapshot::{Alarm, Severity, Status};
use causeway_traversal::LinkStatus;

/// A certificate expiring within this many days raises a warning.
pub const CERT_WARNING_DAYS: u64 = 30;
/// Media port pairs in use at or above this share of the range raise a warning.
pub const PORTS_WARNING_PERCENT: usize = 90;

const DAY: u64 = 86_400;

#[derive(Debug, Default)]
pub struct Alarms {
    /// Unix seconds of the node certificate's notAfter, when the node has one.
    cert_not_after: Option<u64>,
    /// Since when the media ports have been short (warning or exhausted).
    ports_since: Option<u64>,
    cluster_since: Option<u64>,
}

impl Alarms {
    pub fn new(cert_not_after: Option<u64>) -> Alarms {
        Alarms {
            cert_not_after,
            ports_since: None,
            cluster_since: None,
        }
    }

    /// The alarms of `s`, most severe first (`s.time` is now).
    pub fn evaluate(&mut self, s: &Status) -> Vec<Alarm> {
        // a zone to a cluster with another link or flow up still carries calls: a warning
        let sip_up: Vec<&str> = s
            .links
            .iter()
            .filter(|l| l.state == "up")
            .map(|l| l.zone.as_str())
            .collect();
        let mut v: Vec<Alarm> = s
            .links
            .iter()
            .filter_map(|l| link(l, sip_up.contains(&l.zone.as_str())))
            .collect();
        let h323 = s.h323.iter().flat_map(|h| &h.zones);
        let h323_up: Vec<&str> = h323
            .clone()
            .filter(|z| z.state == "up")
            .map(|z| z.zone.as_str())
            .collect();
        v.extend(h323.filter_map(|z| h323_zone(z, h323_up.contains(&z.zone.as_str()))));
        v.extend(self.ports(s));
        v.extend(self.certificate(s.time));
        v.extend(self.cluster(s));
        v.sort_by_key(|a| a.severity);
        v
    }

    fn ports(&mut self, s: &Status) -> Option<Alarm> {
        let m = s.media.as_ref().filter(|m| m.ports_capacity > 0);
        let alarm = m.and_then(|m| {
            let (used, cap) = (m.ports_in_use, m.ports_capacity);
            if used >= cap {
                Some((
                    Severity::Critical,
                    format!("media port range exhausted: all {cap} pairs in use"),
                ))
            } else if used * 100 >= cap * PORTS_WARNING_PERCENT {
                Some((
                    Severity::Warning,
                    format!("media port range nearly exhausted: {used} of {cap} pairs in use"),
                ))
            } else {
                None
            }
        });
        let Some((severity, text)) = alarm else {
            self.ports_since = None;
            return None;
        };
        let since = *self.ports_since.get_or_insert(s.time);
        Some(Alarm {
            severity,
            text,
            since,
        })
    }

    /// A cluster peer whose engine stopped, or that knows no leader (no majority reachable:
    /// `config apply` fails until one is).
    fn cluster(&mut self, s: &Status) -> Option<Alarm> {
        use causeway_cluster::Role;
        let alarm = s.cluster.as_ref().and_then(|c| match (c.role, c.leader) {
            (Role::Shutdown, _) => Some((
                Severity::Critical,
                "cluster engine stopped (the log says why): restart the node".to_string(),
            )),
            (Role::Leader, _)
                if c.since_quorum_ack
                    .is_some_and(|d| d > std::time::Duration::from_secs(2)) =>
            {
                Some((
                    Severity::Warning,
                    format!(
                        "cluster {} leader without a majority: fewer than a majority of its peers \
                         are reachable",
                        c.name
                    ),
                ))
            }
            (_, None) => Some((
                Severity::Warning,
                format!(
                    "cluster {} has no leader: fewer than a majority of its peers are reachable",
                    c.name
                ),
            )),
            _ => None,
        });
        let Some((severity, text)) = alarm else {
            self.cluster_since = None;
            return None;
        };
        let since = *self.cluster_since.get_or_insert(s.time);
        Some(Alarm {
            severity,
            text,
            since,
        })
    }

    fn certificate(&self, now: u64) -> Option<Alarm> {
        let end = self.cert_not_after?;
        let warn_from = end.saturating_sub(CERT_WARNING_DAYS * DAY);
        if now < warn_from {
            return None;
        }
        let (severity, text) = if now >= end {
            (
                Severity::Critical,
                format!(
                    "the node's TLS certificate expired {} days ago",
                    (now - end) / DAY
                ),
            )
        } else {
            (
                Severity::Warning,
                format!(
                    "the node's TLS certificate expires in {} days",
                    (end - now).div_ceil(DAY)
                ),
            )
        };
        Some(Alarm {
            severity,
            text,
            since: warn_from,
        })
    }
}

/// A link that is not up, unless it is still on its first attempt (a node starting up):
/// critical, or a warning when another link of its zone (another peer of a cluster) is up.
fn link(l: &LinkStatus, zone_up: bool) -> Option<Alarm> {
    if l.state == "up" || (l.state == "connecting" && l.attempts == 0) {
        return None;
    }
    let mut text = format!("traversal link {} is down", l.zone);
    if !l.peer.is_empty() {
        text.push_str(&format!(" (peer {})", l.peer));
    }
    if let Some(e) = &l.last_error {
        text.push_str(&format!(": {e}"));
    }
    if l.attempts > 0 {
        text.push_str(&format!(" [{} attempts]", l.attempts));
    }
    if zone_up {
        text.push_str(" (the zone's other peers carry its calls)");
    }
    Some(Alarm {
        severity: degraded(zone_up),
        text,
        since: l.since,
    })
}

/// Unix seconds of a DER certificate's notAfter; `None` when it does not parse.
pub fn not_after(der: &[u8]) -> Option<u64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    u64::try_from(cert.validity().not_after.timestamp()).ok()
}

/// Critical when nothing else carries the zone's calls, a warning when another peer does.
fn degraded(zone_up: bool) -> Severity {
    if zone_up {
        Severity::Warning
    } else {
        Severity::Critical
    }
}

/// C's H.323 traversal flow down: calls to and from E cannot cross (critical, as a SIP link;
/// a warning while a flow to another E peer of the zone is up). E's side of a zone without a
/// client is how E looks before C connects: no alarm there.
fn h323_zone(z: &super::snapshot::H323Zone, zone_up: bool) -> Option<Alarm> {
    (z.role == "client" && z.state != "up").then(|| Alarm {
        severity: degraded(zone_up),
        text: format!(
            "H.323 traversal zone {} down{}",
            z.zone,
            z.last_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
        since: z.since,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::snapshot::MediaStatus;

    const NOW: u64 = 1_700_000_000;

    fn status(links: Vec<LinkStatus>, ports: (usize, usize)) -> Status {
        Status {
            time: NOW,
            links,
            media: Some(MediaStatus {
                ports_in_use: ports.0,
                ports_capacity: ports.1,
                ..MediaStatus::default()
            }),
            ..Status::default()
        }
    }

    #[test]
    fn a_link_not_up_past_its_first_attempt_is_critical_with_its_error_and_since() {
        let down = LinkStatus {
            zone: "to-edge".into(),
            peer: "192.0.2.1:7001".into(),
            state: "down".into(),
            since: NOW - 30,
            last_error: Some("connection refused".into()),
            attempts: 3,
            ..LinkStatus::default()
        };
        let up = LinkStatus {
            zone: "other".into(),
            state: "up".into(),
            ..LinkStatus::default()
        };
        let starting = LinkStatus {
            zone: "third".into(),
            state: "connecting".into(),
            ..LinkStatus::default()
        };
        let retrying = LinkStatus {
            attempts: 1,
            ..starting.clone()
        };
        let a = Alarms::default().evaluate(&status(vec![up, starting, down], (0, 100)));
        assert_eq!(
            a,
            vec![Alarm {
                severity: Severity::Critical,
                text: "traversal link to-edge is down (peer 192.0.2.1:7001): connection refused \
                       [3 attempts]"
                    .into(),
                since: NOW - 30,
            }]
        );
        let a = Alarms::default().evaluate(&status(vec![retrying], (0, 100)));
        assert_eq!(a[0].text, "traversal link third is down [1 attempts]");
    }

    #[test]
    fn a_down_link_of_a_zone_whose_other_peer_is_up_is_a_warning() {
        let link = |peer: &str, state: &str| LinkStatus {
            zone: "to-edge".into(),
            peer: peer.into(),
            state: state.into(),
            attempts: 2,
            ..LinkStatus::default()
        };
        let a = Alarms::default().evaluate(&status(
            vec![link("192.0.2.1:7001", "down"), link("192.0.2.2:7001", "up")],
            (0, 100),
        ));
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].severity, Severity::Warning);
        assert!(a[0].text.contains("192.0.2.1") && a[0].text.contains("other peers"));
        // both down: the zone is cut off
        let a = Alarms::default().evaluate(&status(
            vec![
                link("192.0.2.1:7001", "down"),
                link("192.0.2.2:7001", "down"),
            ],
            (0, 100),
        ));
        assert_eq!(a.len(), 2);
        assert!(a.iter().all(|a| a.severity == Severity::Critical), "{a:?}");
    }

    #[test]
    fn media_ports_warn_at_90_percent_and_are_critical_when_exhausted() {
        let mut alarms = Alarms::default();
        assert!(alarms.evaluate(&status(vec![], (89, 100))).is_empty());
        let a = alarms.evaluate(&status(vec![], (90, 100)));
        assert_eq!(a[0].severity, Severity::Warning);
        assert_eq!(a[0].since, NOW);
        let mut later = status(vec![], (100, 100));
        later.time = NOW + 5;
        let a = alarms.evaluate(&later);
        assert_eq!(a[0].severity, Severity::Critical);
        assert!(a[0].text.contains("exhausted: all 100"), "{a:?}");
        assert_eq!(a[0].since, NOW, "short since the warning");
        assert!(alarms.evaluate(&status(vec![], (0, 100))).is_empty());
        assert!(
            alarms.evaluate(&status(vec![], (0, 0))).is_empty(),
            "no range"
        );
    }

    #[test]
    fn certificate_warns_30_days_ahead_and_is_critical_once_expired() {
        let s = status(vec![], (0, 100));
        assert!(Alarms::new(Some(NOW + 31 * DAY)).evaluate(&s).is_empty());
        let a = Alarms::new(Some(NOW + 29 * DAY + 1)).evaluate(&s);
        assert_eq!(a[0].severity, Severity::Warning);
        assert!(a[0].text.contains("expires in 30 days"), "{a:?}");
        let a = Alarms::new(Some(NOW - 2 * DAY)).evaluate(&s);
        assert_eq!(a[0].severity, Severity::Critical);
        assert!(a[0].text.contains("expired 2 days ago"), "{a:?}");
    }

    #[test]
    fn not_after_of_a_generated_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["node".into()]).unwrap_or_default();
        params.not_after = rcgen::date_time_ymd(2031, 1, 2);
        let der = rcgen::KeyPair::generate()
            .and_then(|k| params.self_signed(&k))
            .map(|c| c.der().to_vec())
            .unwrap_or_default();
        assert_eq!(not_after(&der), Some(1_925_078_400)); // 2031-01-02T00:00:00Z
        assert_eq!(not_after(b"not a certificate"), None);
    }
}
