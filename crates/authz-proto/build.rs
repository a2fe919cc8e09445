//! Compiles proto/authz/v1 with protox (pure Rust, no system `protoc`) and generates the
//! tonic/prost code plus the descriptor set that server reflection serves.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "authz/v1/authorization.proto",
        "authz/v1/admin.proto",
        "authz/v1/audit.proto",
    ];
    for file in &files {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        root.join("authz/v1/common.proto").display()
    );
    let descriptors = protox::compile(files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("authz_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Services not built yet answer UNIMPLEMENTED rather than a fake answer.
        .generate_default_stubs(true)
        .compile_fds(descriptors)?;
    Ok(())
}
