//! Feature 19 (H.460.19) in H.225.0 feature sets: the descriptor an endpoint or C puts in its
//! RRQ to say it speaks H.460.19, the one E answers in RCF as media traversal server, and
//! reading either back.
//!
//! The descriptor is genericData with id standard 19 and parameters without content: 1 =
//! supportTransmitMultiplexedMedia (the sender can send multiplexed media), 2 =
//! mediaTraversalServer (the sender anchors the media of its traversal clients). GNU
//! Gatekeeper and H323Plus put the same descriptor in the Setup/Alerting/Connect
//! supportedFeatures of a call; causeway also puts it in RAS, next to feature 18, so that the
//! registration says whether the endpoint speaks H.460.19 before any call.
//!
//! Must not touch: the registration table, call state (callers decide what to do with it).

use causeway_h323_asn1::h323_messages::{
    EnumeratedParameter, FeatureDescriptor, FeatureSet, GenericData, GenericIdentifier,
};
use causeway_h323_asn1::rasn::types::Integer;

/// The H.460.19 feature identifier (standard 19).
pub const FEATURE_ID: u32 = 19;
/// Parameter 1: supportTransmitMultiplexedMedia.
const PARAM_MULTIPLEX: u32 = 1;
/// Parameter 2: mediaTraversalServer.
const PARAM_SERVER: u32 = 2;

/// What causeway's E says of itself: it anchors its traversal clients' media
/// (mediaTraversalServer); it does not claim to send multiplexed media.
pub const SERVER: Feature19 = Feature19 {
    transmit_multiplexed: false,
    traversal_server: true,
};

/// What a traversal client (C, or an endpoint) says: H.460.19 spoken, nothing more.
pub const CLIENT: Feature19 = Feature19 {
    transmit_multiplexed: false,
    traversal_server: false,
};

/// What a feature-19 descriptor says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Feature19 {
    /// supportTransmitMultiplexedMedia.
    pub transmit_multiplexed: bool,
    /// mediaTraversalServer.
    pub traversal_server: bool,
}

fn standard(n: u32) -> GenericIdentifier {
    GenericIdentifier::standard(Integer::from(n))
}

fn is(id: &GenericIdentifier, n: u32) -> bool {
    matches!(id, GenericIdentifier::standard(v) if *v == Integer::from(n))
}

/// The feature-19 descriptor saying `f`.
pub fn descriptor(f: Feature19) -> FeatureDescriptor {
    let params: Vec<EnumeratedParameter> = [
        (f.transmit_multiplexed, PARAM_MULTIPLEX),
        (f.traversal_server, PARAM_SERVER),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, n)| EnumeratedParameter::new(standard(n), None))
    .collect();
    FeatureDescriptor(GenericData::new(
        standard(FEATURE_ID),
        (!params.is_empty()).then_some(params),
    ))
}

/// What the first feature-19 descriptor of `fs` says (needed, desired or supported); `None`
/// when there is none. Unknown parameters are ignored.
pub fn find(fs: Option<&FeatureSet>) -> Option<Feature19> {
    let fs = fs?;
    let d = [
        &fs.needed_features,
        &fs.desired_features,
        &fs.supported_features,
    ]
    .into_iter()
    .flatten()
    .flatten()
    .find(|d| is(&d.0.id, FEATURE_ID))?;
    let has = |n| d.0.parameters.iter().flatten().any(|p| is(&p.id, n));
    Some(Feature19 {
        transmit_multiplexed: has(PARAM_MULTIPLEX),
        traversal_server: has(PARAM_SERVER),
    })
}

/// Whether `fs` announces H.460.19.
pub fn announces(fs: Option<&FeatureSet>) -> bool {
    find(fs).is_some()
}

/// `fs` with feature 19 (saying `f`) in its supportedFeatures, in place of any feature-19
/// descriptor it had there.
pub fn with_feature(mut fs: FeatureSet, f: Feature19) -> FeatureSet {
    let list = fs.supported_features.get_or_insert_with(Vec::new);
    list.retain(|d| !is(&d.0.id, FEATURE_ID));
    list.push(descriptor(f));
    fs
}
