//! Limits hold for a component as a whole: its time budget covers the time
//! it waits in host calls (an outgoing request, a sleep), and its memory
//! limit covers all of its memories together.

use std::time::Duration;

use serde_json::{json, Value};
use wasm_encoder::ComponentSection;

use crate::support::{event, eventually, NodeProcess, Receiver};

/// A TCP listener on loopback that accepts connections and never answers.
async fn silent_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_waiting_in_a_host_call_is_stopped_at_its_time_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    node.upload_example("webhook-hmac").await;
    node.upload_example("misbehave").await;

    // A sink whose request is never answered.
    let silent = silent_receiver().await;
    node.create_connector(
        "hanging-sink",
        json!({
            "sink": {
                "type": "wasm",
                "module": "webhook-hmac",
                "config": { "url": format!("http://{silent}/hook"), "secret": "s" },
                "allowHosts": [silent],
                "limits": { "timeoutMs": 1000 }
            },
            "filter": { "streams": { "prefixes": ["hang-"] } }
        }),
    )
    .await;
    // A transform sleeping far longer than its budget.
    let receiver = Receiver::start().await;
    node.create_connector(
        "sleeping-transform",
        json!({
            "sink": { "type": "http", "url": receiver.url },
            "filter": { "streams": { "prefixes": ["hang-"] } },
            "transforms": [{
                "module": "misbehave",
                "config": { "mode": "sleep", "ms": 600000 },
                "limits": { "timeoutMs": 500 }
            }]
        }),
    )
    .await;
    node.append("hang-1", &[event("Poke", json!({ "n": 1 }))])
        .await;

    let message = node.wait_fault_message("hanging-sink").await;
    assert!(message.contains("time budget of 1000 ms"), "{message}");
    let message = node.wait_fault_message("sleeping-transform").await;
    assert!(message.contains("time budget of 500 ms"), "{message}");
    assert!(message.contains("transforms[0] (misbehave)"), "{message}");
    assert_eq!(receiver.count(), 0);
    let (status, _) = node.get("/health").await;
    assert_eq!(status, 200, "the node is still up");
}

const PAGE: u32 = 64 * 1024;

/// `misbehave` with one more core module, instantiated beside its own, that
/// defines a linear memory big enough that the two memories together pass
/// `limit_pages` while each stays under it. Returns the component and the
/// sizes of both memories, in pages.
fn with_second_memory(component: &[u8], limit_pages: u32) -> (Vec<u8>, u32, u32) {
    let modules = core_modules(component);
    let main = modules
        .iter()
        .max_by_key(|m| m.len())
        .expect("a core module");
    let initial = u32::try_from(first_memory_pages(main)).expect("a 32-bit memory");
    let extra = limit_pages - initial + 8;
    assert!(initial < limit_pages && extra < limit_pages);

    // A core module with one memory of `extra` pages...
    let mut memories = wasm_encoder::MemorySection::new();
    memories.memory(wasm_encoder::MemoryType {
        minimum: u64::from(extra),
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut module = wasm_encoder::Module::new();
    module.section(&memories);
    // ...and a core instance of it, after everything else.
    let mut instances = wasm_encoder::InstanceSection::new();
    let no_args: [(&str, wasm_encoder::ModuleArg); 0] = [];
    instances.instantiate(modules.len() as u32, no_args);
    let mut out = component.to_vec();
    wasm_encoder::ModuleSection(&module).append_to_component(&mut out);
    instances.append_to_component(&mut out);
    (out, initial, extra)
}

/// The core modules a component defines at its top level, in order.
fn core_modules(component: &[u8]) -> Vec<&[u8]> {
    let mut modules = Vec::new();
    // parse_all walks into nested modules and components; only sections of
    // the outermost component count.
    let mut depth = 0;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        match payload.expect("a valid component") {
            wasmparser::Payload::ModuleSection {
                unchecked_range, ..
            } => {
                if depth == 0 {
                    modules.push(&component[unchecked_range]);
                }
                depth += 1;
            }
            wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) if depth > 0 => depth -= 1,
            _ => {}
        }
    }
    modules
}

/// The initial size, in pages, of the first memory `module` defines.
fn first_memory_pages(module: &[u8]) -> u64 {
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        if let wasmparser::Payload::MemorySection(memories) = payload.expect("a valid module") {
            let memory = memories
                .into_iter()
                .next()
                .expect("a memory")
                .expect("a valid memory");
            assert!(!memory.memory64, "a 32-bit memory");
            return memory.initial;
        }
    }
    panic!("the main module defines no memory")
}

fn transform(module: &str, prefix: &str, url: &str, memory_mib: u32) -> Value {
    json!({
        "sink": { "type": "http", "url": url },
        "filter": { "streams": { "prefixes": [prefix] } },
        "transforms": [{
            "module": module,
            "config": { "mode": "ok" },
            "limits": { "memoryMib": memory_mib }
        }]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memories_together_are_held_to_the_memory_limit() {
    const LIMIT_MIB: u32 = 16;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../guest-examples/dist/misbehave.wasm");
    let original = std::fs::read(&path).expect("guest-examples/dist/misbehave.wasm");
    let (bytes, initial, extra) = with_second_memory(&original, LIMIT_MIB * 1024 * 1024 / PAGE);
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let (status, body) = node
        .call_typed(
            reqwest::Method::PUT,
            "/modules/two-memories",
            "application/wasm",
            bytes,
        )
        .await;
    assert!(status == 201 || status == 200, "upload: {status} {body}");

    let receiver = Receiver::start().await;
    // Instantiating the stage to check its config already breaks the limit.
    let (status, body) = node
        .post(
            "/connectors/over",
            &transform("two-memories", "two-", &receiver.url, LIMIT_MIB),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let message = body["message"].as_str().expect("message");
    assert!(
        message.starts_with("`transforms[0]`: ")
            && message.contains(&format!("over its limit of {} bytes", LIMIT_MIB << 20)),
        "memories of {initial} and {extra} pages together: {message}"
    );
    node.create_connector(
        "roomy",
        transform("two-memories", "two-", &receiver.url, 4 * LIMIT_MIB),
    )
    .await;
    node.append("two-1", &[event("Poke", json!({ "n": 1 }))])
        .await;
    // The same component with room for both memories runs.
    eventually(Duration::from_secs(30), "the roomy delivery", || async {
        (receiver.count() == 1).then_some(())
    })
    .await;
    assert_eq!(node.status("roomy").await["state"], "running");
}
