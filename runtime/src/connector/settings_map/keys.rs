//! The keys of KurrentDB's settings map this node reads, in their canonical
//! spelling (keys match in any case).

/// The sink that sends each event to a URL.
pub const HTTP_SINK: &str = "http-sink";
/// The sink that logs each event; here, the console sink.
pub const SERILOG_SINK: &str = "serilog-sink";
/// KurrentDB's other sinks, named in the error that refuses them.
pub const OTHER_KURRENTDB_SINKS: &[&str] = &[
    "kafka-sink",
    "elasticsearch-sink",
    "rabbit-mq-sink",
    "mongo-db-sink",
    "pulsar-sink",
    "sql-sink",
];

pub const INSTANCE_TYPE_NAME: &str = "instanceTypeName";
pub const FILTER_SCOPE: &str = "subscription:filter:scope";
pub const FILTER_TYPE: &str = "subscription:filter:filterType";
pub const FILTER_EXPRESSION: &str = "subscription:filter:expression";
pub const INITIAL_POSITION: &str = "subscription:initialPosition";
pub const TRANSFORMER_ENABLED: &str = "transformer:enabled";
pub const TRANSFORMER_FUNCTION: &str = "transformer:function";
pub const AUTOCOMMIT_INTERVAL: &str = "autocommit:interval";
pub const AUTOCOMMIT_RECORDS: &str = "autocommit:recordsThreshold";

pub const URL: &str = "url";
pub const METHOD: &str = "method";
pub const DEFAULT_HEADERS: &str = "defaultHeaders";
pub const AUTH_METHOD: &str = "authentication:method";
pub const AUTH_USERNAME: &str = "authentication:basic:username";
pub const AUTH_PASSWORD: &str = "authentication:basic:password";
pub const AUTH_TOKEN: &str = "authentication:bearer:token";

pub const INCLUDE_RECORD_DATA: &str = "includeRecordData";
pub const SERILOG_CONFIGURATION: &str = "configuration";

/// Keys every sink reads.
pub const COMMON: &[&str] = &[
    INSTANCE_TYPE_NAME,
    FILTER_SCOPE,
    FILTER_TYPE,
    FILTER_EXPRESSION,
    INITIAL_POSITION,
    TRANSFORMER_ENABLED,
    TRANSFORMER_FUNCTION,
    AUTOCOMMIT_INTERVAL,
    AUTOCOMMIT_RECORDS,
];

/// Keys of the HTTP sink.
pub const HTTP: &[&str] = &[
    URL,
    METHOD,
    DEFAULT_HEADERS,
    AUTH_METHOD,
    AUTH_USERNAME,
    AUTH_PASSWORD,
    AUTH_TOKEN,
];

/// Keys of the Serilog sink.
pub const SERILOG: &[&str] = &[INCLUDE_RECORD_DATA, SERILOG_CONFIGURATION];

/// Keys of KurrentDB's own machinery, accepted with no effect: this node
/// logs, retries (the sink's `retry`) and checkpoints its own way.
pub const IGNORED: &[&str] = &[
    "logging:enabled",
    "autocommit:enabled",
    "pooledConnectionLifetime",
    "resilience:enabled",
    "resilience:firstDelayBound:upperLimitMs",
    "resilience:firstDelayBound:delayMs",
    "resilience:secondDelayBound:upperLimitMs",
    "resilience:secondDelayBound:delayMs",
    "resilience:thirdDelayBound:upperLimitMs",
    "resilience:thirdDelayBound:delayMs",
];
