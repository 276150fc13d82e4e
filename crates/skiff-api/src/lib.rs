//! skiff-api: what a Kubernetes API is made of, as pure logic: the resource registry,
//! decoding, defaulting, validation, selectors, patches and table columns. No I/O.

pub mod decode;
pub mod registry;
pub mod selector;
pub mod table;
pub mod patch;
pub mod defaults;
pub mod quantity;
pub mod validation;
