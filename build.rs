//! Generates the server side of `tests/protos/shop.proto` for the integration
//! tests' gRPC server, and its encoded descriptor set for their reflection
//! service. protox compiles the file, so no `protoc` is needed; the work is a
//! few milliseconds, so it is not worth gating on the build profile.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=tests/protos");
    let mut compiler = protox::Compiler::new(["tests/protos"])?;
    compiler.include_imports(true);
    compiler.open_file("shop.proto")?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("shop_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;
    forge_protos()?;
    Ok(())
}

/// The Forge tests' server: services from the corpus in `tests/forge/protos`.
fn forge_protos() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=tests/forge/protos");
    let mut compiler = protox::Compiler::new(["tests/forge/protos"])?;
    compiler.include_imports(true);
    compiler.open_files([
        "acme/payments/v1/payments.proto",
        "acme/inventory/v1/inventory.proto",
        "acme/wkt/v1/wkt.proto",
    ])?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
