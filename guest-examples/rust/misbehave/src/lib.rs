//! `misbehave`: a `transform` component that misbehaves on purpose, for the
//! runtime's fault and sandbox tests. `{"mode": "..."}` chooses how; see
//! README.md for the list.

use std::hint::black_box;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};

wit_bindgen::generate!({
    path: "../../../wit",
    world: "transform",
    // The vendored wasi:cli@0.2.12 imports an `@unstable(feature = clocks-timezone)`
    // interface, which this wit-parser can only resolve with the feature on;
    // it adds nothing to the `transform` world.
    features: ["clocks-timezone"],
});

use kurrent::connector::logging::{log, Level};
use kurrent::connector::types::{Emitted, ErrorKind};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Ok,
    Trap,
    Loop,
    Grow,
    HugeOutput,
    Invalid,
    Fatal,
    Retryable,
    ReadFile,
    Sleep,
    WrongCount,
    InitFail,
    InitTrap,
}

const MODES: &[(&str, Mode)] = &[
    ("ok", Mode::Ok),
    ("trap", Mode::Trap),
    ("loop", Mode::Loop),
    ("grow", Mode::Grow),
    ("huge-output", Mode::HugeOutput),
    ("invalid", Mode::Invalid),
    ("fatal", Mode::Fatal),
    ("retryable", Mode::Retryable),
    ("read-file", Mode::ReadFile),
    ("sleep", Mode::Sleep),
    ("wrong-count", Mode::WrongCount),
    ("init-fail", Mode::InitFail),
    ("init-trap", Mode::InitTrap),
];

struct Config {
    mode: Mode,
    /// `huge-output`: bytes of data in each record (default 64 MiB).
    bytes: usize,
    /// `huge-output`: records emitted for each event (default 1).
    records: usize,
    /// `sleep`: how long each call sleeps (default 1000 ms).
    ms: u64,
}

static CONFIG: Mutex<Option<Config>> = Mutex::new(None);

/// The memory `grow` holds on to, so that none of it can be freed.
static HOARD: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

fn error(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error {
        kind,
        message: message.into(),
    }
}

fn unsigned(value: &Value, key: &str, default: u64) -> Result<u64, String> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| format!("config `{key}` must be a non-negative integer")),
    }
}

fn parse_config(config: &str) -> Result<Config, String> {
    let value: Value =
        serde_json::from_str(config).map_err(|e| format!("config is not valid JSON: {e}"))?;
    let name = match value.get("mode") {
        None | Some(Value::Null) => "ok",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err("config `mode` must be a string".into()),
    };
    let mode = MODES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, m)| *m)
        .ok_or_else(|| {
            let names: Vec<&str> = MODES.iter().map(|(n, _)| *n).collect();
            format!("unknown mode `{name}`: one of {}", names.join(", "))
        })?;
    let bytes = usize::try_from(unsigned(&value, "bytes", 64 << 20)?)
        .map_err(|_| "config `bytes` is too large".to_string())?;
    let records = usize::try_from(unsigned(&value, "records", 1)?)
        .map_err(|_| "config `records` is too large".to_string())?;
    let ms = unsigned(&value, "ms", 1000)?;
    Ok(Config {
        mode,
        bytes,
        records,
        ms,
    })
}

fn unchanged(event: Event) -> Outcome {
    Outcome::Emit(vec![Emitted {
        data: event.data,
        event_type: None,
        content_type: None,
        headers: Vec::new(),
    }])
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What the sandbox lets a component see of the machine: a test asserts that
/// the file and the directory cannot be read and that there is no environment.
fn probe_sandbox() -> Value {
    let file = match std::fs::read_to_string("/etc/passwd") {
        Ok(contents) => contents,
        Err(e) => format!("error: {e}"),
    };
    let dir = match std::fs::read_dir(".") {
        Ok(entries) => Value::Array(
            entries
                .map(|e| match e {
                    Ok(e) => Value::String(e.file_name().to_string_lossy().into_owned()),
                    Err(e) => Value::String(format!("error: {e}")),
                })
                .collect(),
        ),
        Err(e) => Value::String(format!("error: {e}")),
    };
    let socket = match std::net::TcpStream::connect(("127.0.0.1", 9)) {
        Ok(_) => "connected".to_string(),
        Err(e) => format!("error: {e}"),
    };
    json!({
        "file": file,
        "dir": dir,
        "env": std::env::vars_os().count(),
        "home": std::env::var("HOME").ok(),
        "args": std::env::args_os().count(),
        "socket": socket,
    })
}

struct Component;

impl Guest for Component {
    fn init(config: String) -> Result<(), Error> {
        let config = parse_config(&config).map_err(|m| error(ErrorKind::Fatal, m))?;
        log(Level::Info, &format!("misbehave: mode {:?}", config.mode));
        match config.mode {
            Mode::InitFail => {
                return Err(error(ErrorKind::Fatal, "misbehave: init fails on purpose"))
            }
            Mode::InitTrap => panic!("misbehave: init traps on purpose"),
            _ => {}
        }
        *CONFIG.lock().unwrap_or_else(PoisonError::into_inner) = Some(config);
        Ok(())
    }

    fn transform(events: Vec<Event>) -> Result<Vec<Outcome>, Error> {
        let guard = CONFIG.lock().unwrap_or_else(PoisonError::into_inner);
        let config = guard
            .as_ref()
            .ok_or_else(|| error(ErrorKind::Fatal, "transform called before init"))?;
        match config.mode {
            Mode::Ok | Mode::InitFail | Mode::InitTrap => {
                log(
                    Level::Debug,
                    &format!("misbehave: {} event(s)", events.len()),
                );
                Ok(events.into_iter().map(unchanged).collect())
            }
            Mode::Trap => panic!("misbehave: transform traps on purpose"),
            Mode::Loop => {
                let mut i: u64 = 0;
                loop {
                    i = black_box(i.wrapping_add(1));
                }
            }
            Mode::Grow => {
                log(
                    Level::Warn,
                    "misbehave: allocating 1 MiB at a time, forever",
                );
                let mut hoard = HOARD.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    let block = vec![0xA5u8; 1 << 20];
                    hoard.push(black_box(block));
                }
            }
            Mode::HugeOutput => Ok(events
                .iter()
                .map(|_| {
                    Outcome::Emit(
                        (0..config.records)
                            .map(|_| Emitted {
                                data: vec![b'x'; config.bytes],
                                event_type: None,
                                content_type: Some("application/octet-stream".into()),
                                headers: Vec::new(),
                            })
                            .collect(),
                    )
                })
                .collect()),
            Mode::Invalid => Ok(events
                .into_iter()
                .map(|event| {
                    if contains(&event.data, b"poison") {
                        Outcome::Fail(error(
                            ErrorKind::InvalidEvent,
                            format!("misbehave: event {} is poison", event.id),
                        ))
                    } else {
                        unchanged(event)
                    }
                })
                .collect()),
            Mode::Fatal => Err(error(
                ErrorKind::Fatal,
                "misbehave: transform fails on purpose",
            )),
            Mode::Retryable => Err(error(
                ErrorKind::Retryable,
                "misbehave: transform asks for a retry on purpose",
            )),
            Mode::ReadFile => {
                let data = serde_json::to_vec(&probe_sandbox()).unwrap_or_default();
                let mut outcomes: Vec<Outcome> = Vec::with_capacity(events.len());
                for (i, _) in events.iter().enumerate() {
                    outcomes.push(if i == 0 {
                        Outcome::Emit(vec![Emitted {
                            data: data.clone(),
                            event_type: Some("SandboxProbe".into()),
                            content_type: Some("application/json".into()),
                            headers: Vec::new(),
                        }])
                    } else {
                        Outcome::Drop
                    });
                }
                Ok(outcomes)
            }
            Mode::Sleep => {
                std::thread::sleep(Duration::from_millis(config.ms));
                Ok(events.into_iter().map(unchanged).collect())
            }
            Mode::WrongCount => {
                let n = events.len();
                let mut outcomes: Vec<Outcome> = events.into_iter().map(unchanged).collect();
                if n == 0 {
                    outcomes.push(Outcome::Drop);
                } else {
                    outcomes.pop();
                }
                Ok(outcomes)
            }
        }
    }
}

export!(Component);
