//! Generates the server side (and, for the protocol tests, the client side)
//! of the KurrentDB gRPC protocol subset in `proto/`, compiled in-process by
//! protox: no `protoc` needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let files = protox::compile(
        [
            "streams.proto",
            "serverfeatures.proto",
            "gossip.proto",
            "status.proto",
        ],
        ["proto"],
    )?;
    tonic_build::configure()
        .build_client(true)
        .build_transport(true)
        .build_server(true)
        .compile_fds(files)?;
    Ok(())
}
