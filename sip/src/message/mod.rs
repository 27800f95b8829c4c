//! (placeholder: filled in by the message work)
