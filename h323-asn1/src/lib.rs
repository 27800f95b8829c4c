//! The ASN.1 types of H.225.0 (RAS, H323-UserInformation), H.245 and the H.460 containers in
//! aligned PER (issue 4, in progress). Kept in a crate of its own: the generated code is large
//! and slow to build, and must not be rebuilt on every edit of the protocol code.
