//! Unit tests of `config/src/types.rs`.

use super::*;
use proptest::prelude::*;

#[test]
fn port_range_forms() {
    assert_eq!(
        "25000-29999".parse::<PortRange>(),
        Ok(PortRange {
            start: 25000,
            end: 29999
        })
    );
    assert_eq!(
        "5060".parse::<PortRange>(),
        Ok(PortRange {
            start: 5060,
            end: 5060
        })
    );
    assert!("29999-25000".parse::<PortRange>().is_err());
    assert!("0-10".parse::<PortRange>().is_err());
    assert!("a-b".parse::<PortRange>().is_err());
    assert!("70000".parse::<PortRange>().is_err());
}

proptest! {
    #[test]
    fn port_range_display_parse_identity(a in 1u16.., b in 1u16..) {
        let r = PortRange { start: a.min(b), end: a.max(b) };
        prop_assert_eq!(r.to_string().parse::<PortRange>(), Ok(r));
    }

    #[test]
    fn port_range_parse_never_panics(s in ".{0,20}") {
        let _ = s.parse::<PortRange>();
    }
}
