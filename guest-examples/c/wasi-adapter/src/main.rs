//! `wasi-adapter <out.wasm>`: writes the wasi_snapshot_preview1 reactor adapter.

use std::process::ExitCode;

use wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: wasi-adapter <out.wasm>");
        return ExitCode::from(2);
    };
    match std::fs::write(&out, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasi-adapter: writing {}: {e}", out.to_string_lossy());
            ExitCode::FAILURE
        }
    }
}
