//! The gRPC contract (generated from `proto/authz/v1` at build time, no system `protoc`) and
//! the validated conversions between its messages and `authz-core` values.

pub mod admin;
pub mod convert;

/// Generated messages and service stubs of package `authz.v1`.
#[allow(
    clippy::all,
    unreachable_pub,
    missing_debug_implementations,
    reason = "generated code"
)]
pub mod pb {
    tonic::include_proto!("authz.v1");
}

/// The encoded descriptor set of every `authz.v1` file, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/authz_descriptor.bin"));
