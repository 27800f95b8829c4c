//! (placeholder: filled in by the registrar work)
