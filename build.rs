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
    forge_versions();
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
        "acme/operations/v1/operations.proto",
    ])?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}

/// The versions Forge pins in the Rust crates it generates: the ones this
/// build resolved, so a generated crate builds from the same registry cache.
fn forge_versions() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut name = "";
    let mut found = std::collections::BTreeMap::new();
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = n.trim_matches('"');
        } else if let Some(v) = line.strip_prefix("version = ") {
            found
                .entry(name.to_string())
                .or_insert(v.trim_matches('"').to_string());
        }
    }
    // Used when there is no lock file (a package built from a registry).
    let fallback = [
        ("tonic", "0.14"),
        ("tonic-prost", "0.14"),
        ("tonic-prost-build", "0.14"),
        ("prost", "0.14"),
        ("prost-types", "0.14"),
        ("prost-reflect", "0.16"),
        ("protox", "0.10"),
        ("tokio", "1"),
        ("serde_json", "1"),
        ("humantime", "2"),
    ];
    for (krate, default) in fallback {
        let version = found
            .get(krate)
            .map_or_else(|| default.to_string(), |v| format!("={v}"));
        let key = krate.replace('-', "_").to_uppercase();
        println!("cargo:rustc-env=FORGE_VERSION_{key}={version}");
    }
}
