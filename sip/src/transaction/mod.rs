//! (placeholder: filled in by the transaction work)
