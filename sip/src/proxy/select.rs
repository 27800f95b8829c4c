//! RFC 3261 16.7 step 6: choosing the best final response among the branches a proxy tried.
//!
//! Pure ranking of status codes; it neither builds nor sends responses.

/// Whether `candidate` should replace `current` as the response to send upstream.
///
/// 6xx wins over everything (a global failure); otherwise the lowest class wins (3xx before 4xx
/// before 5xx), and within a class the first one received is kept, except that a 408 or a 503
/// that we made up for a dead branch gives way to anything a real peer said.
pub fn better(candidate: u16, current: Option<u16>) -> bool {
    let Some(current) = current else {
        return true;
    };
    let class = |s: u16| s / 100;
    if class(current) == 6 {
        return false;
    }
    if class(candidate) == 6 {
        return true;
    }
    let weak = |s: u16| s == 408 || s == 503;
    if class(candidate) < class(current) {
        return true;
    }
    if class(candidate) == class(current) {
        return weak(current) && !weak(candidate);
    }
    weak(current) && !weak(candidate) && class(candidate) <= 5
}

#[cfg(test)]
mod tests {
    use super::better;

    #[test]
    fn rfc3261_16_7_step6_prefers_6xx() {
        assert!(better(603, Some(302)));
        assert!(!better(302, Some(603)));
    }

    #[test]
    fn rfc3261_16_7_step6_lowest_class_wins() {
        assert!(better(302, Some(486)));
        assert!(better(404, Some(500)));
        assert!(!better(500, Some(404)));
        assert!(!better(486, Some(404)));
    }

    #[test]
    fn local_timeouts_give_way_to_real_answers() {
        assert!(better(486, Some(408)));
        assert!(better(500, Some(503)));
        assert!(!better(408, Some(486)));
        assert!(better(408, None));
    }
}
