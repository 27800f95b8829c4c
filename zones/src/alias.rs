//! `Alias`: what a caller dialled, in the protocol-neutral form the router matches on.
//!
//! Owns the split of an alias into user and domain and its text form `user@domain` (the text
//! every pattern is matched against). Must not hold matching rules: those live in `pattern`
//! and `router`.

use std::fmt;

/// A dialled destination: `user@domain`, a bare `domain`, or (H.323) a bare user/number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Alias {
    pub user: Option<String>,
    pub domain: Option<String>,
}

impl Alias {
    /// `user@domain` (SIP URI without scheme and parameters); the domain is lower-cased because
    /// host comparison is case-insensitive (RFC 3261 19.1.4), the user part is kept as dialled.
    pub fn new(user: Option<&str>, domain: Option<&str>) -> Alias {
        Alias {
            user: user.map(str::to_string),
            domain: domain.map(|d| d.to_ascii_lowercase()),
        }
    }

    /// The alias written as text, the inverse of `Display`: split at the last `@` (a user part
    /// may itself hold `@`, a domain never does). Without `@`, text holding a `.` is a domain
    /// (`example.com`), anything else a user or number (`1234`, `alice`); empty text is the
    /// empty alias.
    pub fn parse(text: &str) -> Alias {
        match text.rsplit_once('@') {
            Some((user, domain)) => Alias::new(Some(user), Some(domain)),
            None if text.is_empty() => Alias::new(None, None),
            None if text.contains('.') => Alias::new(None, Some(text)),
            None => Alias::new(Some(text), None),
        }
    }
}

impl fmt::Display for Alias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.user, &self.domain) {
            (Some(u), Some(d)) => write!(f, "{u}@{d}"),
            (Some(u), None) => f.write_str(u),
            (None, Some(d)) => f.write_str(d),
            (None, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
