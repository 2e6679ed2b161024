//! Code generated from `wit/` by `bindgen!`; nothing outside `wasm/` sees it.

pub(super) mod transform {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "kurrent:connector/transform",
        imports: { default: async },
        exports: { default: async },
    });
}

pub(super) mod sink {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "kurrent:connector/sink",
        imports: { default: async },
        exports: { default: async },
        with: {
            "kurrent:connector/types": super::transform::kurrent::connector::types,
            "kurrent:connector/logging": super::transform::kurrent::connector::logging,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
        },
        require_store_data_send: true,
    });
}

pub(super) use transform::kurrent::connector::{logging, types};
