//! The typed values of the headers a proxy acts on (Via, From, To, Call-ID, CSeq, Max-Forwards,
//! Route, Record-Route, Contact, Expires, Content-Length), read once from a message's split
//! header fields.
//!
//! `Typed::read` walks the fields with the header section as one `&str` (checked to be UTF-8
//! once, by `parse`), so no value is checked or copied again before its grammar rule runs.

use super::grammar::{
    blank_name_addr, parse_cseq, parse_name_addr_list, parse_u32, parse_vias,
    single_name_addr_into, trim, unfold,
};
use super::parse::{full_name, Field, Known};
use super::types::{Contacts, Defect, Method, NameAddr, Uri, Via};
use std::borrow::Cow;
use std::ops::Range;

/// The typed header values of one message; the first of a single-valued header wins, list
/// headers (Via, Route, Record-Route, Contact) accumulate across fields.
#[derive(Clone, Debug, Default)]
pub(crate) struct Typed {
    /// A request's Request-URI (`None` for a response, or when malformed: see `defect`).
    pub request_uri: Option<Uri>,
    pub vias: Vec<Via>,
    pub from: Option<NameAddr>,
    pub to: Option<NameAddr>,
    pub call_id: Option<Range<usize>>,
    pub cseq: Option<(u32, Method)>,
    pub max_forwards: Option<u32>,
    pub routes: Vec<NameAddr>,
    pub record_routes: Vec<NameAddr>,
    pub contacts: Option<Contacts>,
    pub expires: Option<u32>,
    pub content_length: Option<usize>,
}

impl Typed {
    /// Reads every known field of `fields` (ranges into a buffer whose header section `head`
    /// starts at `offset`). The first malformed value becomes `defect` unless one is set.
    pub fn read(
        &mut self,
        fields: &[Field],
        head: &str,
        offset: usize,
        defect: &mut Option<Defect>,
    ) {
        let text = |r: &Range<usize>| head.get(r.start - offset..r.end - offset).unwrap_or("");
        for f in fields {
            if f.kind == Known::Other || f.kind == Known::ContentType {
                continue;
            }
            let value = text(&f.value);
            // the grammar rules read unfolded text; the numbers and the Call-ID are checked as
            // written (a fold in them is an error either way, and its reason shows the value)
            let value = if f.folded && f.kind.is_grammar_rule() {
                unfold(value)
            } else {
                Cow::Borrowed(value)
            };
            if let Err(e) = self.read_field(f, &value) {
                if defect.is_none() {
                    *defect = Some(Defect::bad(format!(
                        "malformed {} header: {e}",
                        full_name(text(&f.name))
                    )));
                }
            }
        }
    }

    /// Reads field `f` (with `value`) into its typed slot. The error text becomes the defect's
    /// "malformed <name> header: ..." reason.
    fn read_field(&mut self, f: &Field, value: &str) -> Result<(), String> {
        match f.kind {
            Known::Via => parse_vias(value, &mut self.vias),
            Known::From if self.from.is_none() => read_in_place(&mut self.from, value),
            Known::To if self.to.is_none() => read_in_place(&mut self.to, value),
            Known::From | Known::To => Ok(()),
            Known::CallId => {
                if trim(value).is_empty() || value.bytes().any(|b| b.is_ascii_whitespace()) {
                    Err("Call-ID must be one word".to_string())
                } else {
                    if self.call_id.is_none() {
                        self.call_id = Some(f.value.clone());
                    }
                    Ok(())
                }
            }
            Known::CSeq => parse_cseq(value).map(|c| {
                if self.cseq.is_none() {
                    self.cseq = Some(c)
                }
            }),
            Known::MaxForwards => parse_u32(value, 255)
                .map(|n| {
                    if self.max_forwards.is_none() {
                        self.max_forwards = Some(n)
                    }
                })
                .map_err(|e| format!("Max-Forwards {e}")),
            Known::ContentLength => parse_u32(value, u64::from(u32::MAX))
                .map(|n| {
                    if self.content_length.is_none() {
                        self.content_length = Some(n as usize)
                    }
                })
                .map_err(|e| format!("Content-Length {e}")),
            Known::Expires => expires_value(value).map(|n| self.expires = Some(n)),
            Known::Route => parse_name_addr_list(value, &mut self.routes),
            Known::RecordRoute => parse_name_addr_list(value, &mut self.record_routes),
            Known::Contact => self.add_contacts(value),
            Known::Other | Known::ContentType => Ok(()),
        }
    }

    /// One Contact field: `*` (which must stay the only contact) or a list that extends the
    /// contacts of earlier Contact fields.
    fn add_contacts(&mut self, value: &str) -> Result<(), String> {
        if trim(value) == "*" {
            if self.contacts.is_some() {
                Err("Contact: * must be the only contact".into())
            } else {
                self.contacts = Some(Contacts::Star);
                Ok(())
            }
        } else {
            match &mut self.contacts {
                Some(Contacts::Star) => {
                    // a malformed list is reported as such, before the mix with `*`
                    parse_name_addr_list(value, &mut Vec::new())?;
                    Err("Contact: * must be the only contact".into())
                }
                Some(Contacts::List(list)) => parse_name_addr_list(value, list),
                None => {
                    let mut list = Vec::new();
                    parse_name_addr_list(value, &mut list)?;
                    self.contacts = Some(Contacts::List(list));
                    Ok(())
                }
            }
        }
    }
}

/// One From or To value, read where it stays (`grammar::blank_name_addr` says why); `slot` stays
/// `None` when the value is malformed.
fn read_in_place(slot: &mut Option<NameAddr>, value: &str) -> Result<(), String> {
    let r = single_name_addr_into(value, slot.insert(blank_name_addr()));
    if r.is_err() {
        *slot = None;
    }
    r
}

/// An Expires value: delta-seconds (RFC 3261 20.19).
fn expires_value(value: &str) -> Result<u32, String> {
    let v = trim(value);
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // RFC 3261 20.19: values beyond 2**32-1 mean 2**32-1
        Ok(parse_u32(v, u64::from(u32::MAX)).unwrap_or(u32::MAX))
    } else {
        Err(format!(
            "Expires `{}` is not a number of seconds",
            super::types::truncate(v)
        ))
    }
}
