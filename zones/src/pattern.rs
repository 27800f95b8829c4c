//! A compiled pattern of a `[[transform]]` or `[[search_rule]]`: does it match an alias's text,
//! and what does the text become when the matched part is left, stripped or replaced.
//!
//! Owns matching and rewriting of text only. Must not know about priorities, zones, sources or
//! the order rules run in (that is `router`), nor about the user/domain split (`alias`).

use causeway_config::zones::{PatternBehavior, PatternType};
use regex::Regex;
use std::fmt;

/// A pattern compiled once, when the router is built.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    kind: Kind,
    /// The pattern as the operator wrote it (for traces).
    source: String,
}

#[derive(Clone, Debug)]
enum Kind {
    Exact,
    Prefix,
    Suffix,
    /// Anchored: the regex must match the whole alias. `template` is the replacement in the
    /// regex crate's own syntax (`${1}`), converted from the operator's `\1`.
    Regex {
        re: Regex,
        template: String,
    },
    /// A regex that did not compile. Validation rejects these, but a router built from an
    /// unvalidated configuration must still not panic: such a pattern matches nothing.
    Invalid {
        error: String,
    },
}

impl Pattern {
    pub(crate) fn compile(kind: PatternType, pattern: &str, replace: &str) -> Pattern {
        let kind = match kind {
            PatternType::Exact => Kind::Exact,
            PatternType::Prefix => Kind::Prefix,
            PatternType::Suffix => Kind::Suffix,
            PatternType::Regex => match Regex::new(&format!("^(?:{pattern})$")) {
                Ok(re) => Kind::Regex {
                    re,
                    template: regex_template(replace),
                },
                Err(e) => Kind::Invalid {
                    error: e.to_string(),
                },
            },
        };
        Pattern {
            kind,
            source: pattern.to_string(),
        }
    }

    /// Why this pattern can never match, when it cannot.
    pub(crate) fn invalid(&self) -> Option<&str> {
        match &self.kind {
            Kind::Invalid { error } => Some(error),
            _ => None,
        }
    }

    /// `text` after `behavior` when the pattern matches it, `None` when it does not.
    ///
    /// `replace` is the configured replacement; for a regex it is already compiled into the
    /// pattern (capture groups need the match), so only exact/prefix/suffix read it here.
    pub(crate) fn apply(
        &self,
        text: &str,
        behavior: PatternBehavior,
        replace: &str,
    ) -> Option<String> {
        let p = self.source.as_str();
        match &self.kind {
            Kind::Exact => (text == p).then(|| match behavior {
                PatternBehavior::Leave => text.to_string(),
                PatternBehavior::Strip => String::new(),
                PatternBehavior::Replace => replace.to_string(),
            }),
            Kind::Prefix => text.strip_prefix(p).map(|rest| match behavior {
                PatternBehavior::Leave => text.to_string(),
                PatternBehavior::Strip => rest.to_string(),
                PatternBehavior::Replace => format!("{replace}{rest}"),
            }),
            Kind::Suffix => text.strip_suffix(p).map(|head| match behavior {
                PatternBehavior::Leave => text.to_string(),
                PatternBehavior::Strip => head.to_string(),
                PatternBehavior::Replace => format!("{head}{replace}"),
            }),
            Kind::Regex { re, template } => {
                let caps = re.captures(text)?;
                Some(match behavior {
                    PatternBehavior::Leave => text.to_string(),
                    // the match is the whole alias, so stripping it leaves nothing
                    PatternBehavior::Strip => String::new(),
                    PatternBehavior::Replace => {
                        let mut out = String::new();
                        caps.expand(template, &mut out);
                        out
                    }
                })
            }
            Kind::Invalid { .. } => None,
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Exact => "exact",
            Kind::Prefix => "prefix",
            Kind::Suffix => "suffix",
            Kind::Regex { .. } | Kind::Invalid { .. } => "regex",
        };
        write!(f, "{kind} `{}`", self.source)
    }
}

/// The operator's replacement (`\1`…`\9` name capture groups, as in the Expressway and GnuGk
/// dial plans) in the regex crate's syntax. Everything else must come out literally, so `$`
/// (which the regex crate reads as a group reference) is doubled, `\\` is one backslash, and
/// a backslash before anything else stays as written. `${1}` rather than `$1` because `$10`
/// would name group 10 where the operator meant group 1 then `0`.
fn regex_template(replace: &str) -> String {
    let mut out = String::with_capacity(replace.len() + 8);
    let mut chars = replace.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d @ '1'..='9') => {
                    chars.next();
                    out.push_str("${");
                    out.push(d);
                    out.push('}');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
