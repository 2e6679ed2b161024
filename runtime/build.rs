//! Generates the server side and the client side of the KurrentDB gRPC
//! protocol subset in `proto/`, compiled in-process by protox: no `protoc`
//! needed. The payloads of read answers are `bytes::Bytes`, so they move
//! between the store, the wire and the events read without copies.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let files = protox::compile(
        [
            "streams.proto",
            "serverfeatures.proto",
            "gossip.proto",
            "status.proto",
            "kurrentdb/protocol/v2/streams/streams.proto",
            "kurrentdb/protocol/v2/streams/errors.proto",
        ],
        ["proto"],
    )?;
    tonic_build::configure()
        .build_client(true)
        .build_transport(true)
        .build_server(true)
        .bytes([".event_store.client.streams.ReadResp"])
        .compile_fds(files)?;
    Ok(())
}
