//! Message layer tests.
