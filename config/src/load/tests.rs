//! Unit tests of `config/src/load.rs`.

use super::*;

#[test]
fn line_col_counts_from_one() {
    assert_eq!(line_col("a\nbc\n", 0), (1, 1));
    assert_eq!(line_col("a\nbc\n", 3), (2, 2));
}
