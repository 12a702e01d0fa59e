//! Generates the GTFS-realtime messages from the official `proto/gtfs-realtime.proto` (kept in
//! the repository, so the wire format is pinned with the code): `protox` parses it in pure
//! Rust (no `protoc` needed), `prost-build` writes the structs and `pbjson-build` their serde
//! impls in protobuf's canonical JSON mapping (what `?format=json` serves).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/gtfs-realtime.proto";
    println!("cargo:rerun-if-changed={proto}");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptors = protox::compile([proto], ["proto"])?;
    let bytes = prost::Message::encode_to_vec(&descriptors);
    std::fs::write(out.join("gtfs_realtime_descriptor.bin"), &bytes)?;
    prost_build::Config::new().compile_fds(descriptors)?;
    pbjson_build::Builder::new()
        .register_descriptors(&bytes)?
        .build(&[".transit_realtime"])?;
    Ok(())
}
