use std::path::Path;

use clap::{CommandFactory, FromArgMatches, Parser};

use super::*;

/// A command shaped like `connectors serve`, for parsing in tests.
#[derive(Parser)]
struct TestCli {
    #[command(flatten)]
    serve: ServeArgs,
}

fn read(text: &str) -> Result<NodeSettingsFile, ConfigFileError> {
    NodeSettingsFile::parse(Path::new("node.toml"), text)
}

/// The node configuration from `text` as a file and `flags` on the command
/// line (no environment variables of these options are set in tests).
fn config(text: &str, flags: &[&str]) -> crate::node::NodeConfig {
    let file = read(text).expect("a valid file");
    let command = file.apply_as_defaults(TestCli::command());
    let matches = command
        .try_get_matches_from(std::iter::once("serve").chain(flags.iter().copied()))
        .expect("valid flags");
    TestCli::from_arg_matches(&matches)
        .expect("arguments")
        .serve
        .config("./data")
}

#[test]
fn the_file_sets_what_no_flag_sets() {
    let config = config(
        "listen = \"127.0.0.1:3000\"\nmember = \"m1\"\nno-connectors = true\nheartbeat-ms = 250\nsink-deny = [\"10.0.0.0/8\", \"192.168.0.0/16\"]\n",
        &[],
    );
    assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
    assert_eq!(config.member, "m1");
    assert!(!config.runs_connectors);
    assert_eq!(config.heartbeat.as_millis(), 250);
    assert_eq!(config.destinations.deny.len(), 2);
}

#[test]
fn a_flag_wins_over_the_file() {
    let config = config(
        "listen = \"127.0.0.1:3000\"\nmember = \"m1\"\n",
        &["--member", "m2"],
    );
    assert_eq!(config.member, "m2");
    assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
}

#[test]
fn the_file_wins_over_the_defaults_and_an_empty_file_changes_nothing() {
    let empty = config("", &[]);
    assert_eq!(empty.listen.to_string(), "127.0.0.1:2119");
    assert_eq!(empty.member, "127.0.0.1:2119");
    let set = config("max-body-bytes = 1024\n", &[]);
    assert_eq!(set.max_body_bytes, 1024);
    assert_eq!(set.max_module_bytes, empty.max_module_bytes);
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let error = read("listen = \"127.0.0.1:3000\"\n\nlisen = \"x\"\n").expect_err("unknown key");
    assert_eq!(
        error.to_string(),
        "node.toml:3: unknown setting `lisen` (the settings are the long options of `connectors serve`, such as `listen`)"
    );
    assert!(matches!(
        read("config = \"other.toml\"\n"),
        Err(ConfigFileError::UnknownKey { .. })
    ));
    assert!(matches!(
        read("[serve]\nlisten = \"a\"\n"),
        Err(ConfigFileError::UnknownKey { .. })
    ));
}

#[test]
fn a_wrong_type_is_named_with_what_is_expected() {
    let error = read("no-connectors = \"yes\"\n").expect_err("wrong type");
    assert_eq!(
        error.to_string(),
        "node.toml:1: `no-connectors` must be a boolean (true or false)"
    );
    let error = read("\nlisten = 1.5\n").expect_err("wrong type");
    assert_eq!(
        error.to_string(),
        "node.toml:2: `listen` must be a string or an integer"
    );
}

#[test]
fn an_invalid_value_is_named_and_a_secret_one_is_not_shown() {
    let error = read("listen = \"nowhere\"\n").expect_err("invalid address");
    let message = error.to_string();
    assert!(
        message.starts_with("node.toml:1: `listen`: invalid value `nowhere`"),
        "{message}"
    );
    let error = read("role = \"captain\"\n").expect_err("invalid role");
    assert!(error.to_string().contains("one of:"), "{error}");
    let error = read("api-token = \"\"\n").expect_err("an empty token");
    assert_eq!(
        error.to_string(),
        "node.toml:1: `api-token`: invalid value (not shown: it may be secret)"
    );
}

#[test]
fn a_syntax_error_does_not_quote_the_line() {
    let error = read("store = \"esdb://admin:s3cret@db:2113\n").expect_err("unterminated string");
    let message = error.to_string();
    assert!(
        message.starts_with("node.toml:1: not valid TOML"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
}

#[test]
fn an_unreadable_file_names_the_file() {
    let error = NodeSettingsFile::read(Path::new("/nonexistent/node.toml")).expect_err("no file");
    assert_eq!(
        error.to_string(),
        "cannot read the settings file /nonexistent/node.toml"
    );
    assert!(
        std::error::Error::source(&error).is_some(),
        "the cause is kept"
    );
}

/// Whether `line` reads `key = value`, `key` a lowercase option name.
fn is_setting(line: &str) -> bool {
    line.split_once(" = ").is_some_and(|(key, _)| {
        !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '-')
    })
}

/// The example at the repository root: it parses as it is, and again with
/// every commented-out setting switched on; it mentions every option.
#[test]
fn the_example_file_is_true() {
    let example = include_str!("../../../connectors.example.toml");
    read(example).expect("the example as it is");
    let switched_on: String = example
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(setting) if is_setting(setting) => setting,
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let file = read(&switched_on).expect("the example with every setting on");
    for arg in serve_options().get_arguments() {
        if let Some(key) = key_of(arg) {
            assert!(
                file.settings.iter().any(|s| s.id == arg.get_id().as_str()),
                "the example does not show `{key}`"
            );
        }
    }
}

/// `check_ties` over `text` as a file and `flags` on the command line.
fn ties(text: &str, flags: &[&str]) -> Result<(), ConfigFileError> {
    let file = read(text).expect("a valid file");
    let matches = file
        .apply_as_defaults(TestCli::command())
        .try_get_matches_from(std::iter::once("serve").chain(flags.iter().copied()))
        .expect("valid flags");
    file.check_ties(&matches)
}

#[test]
fn options_that_go_together_may_come_from_the_file_and_the_flags() {
    ties("tls-key = \"key.pem\"\n", &["--tls-cert", "cert.pem"]).expect("cert and key");
    ties("tls-key = \"key.pem\"\ntls-cert = \"cert.pem\"\n", &[]).expect("both in the file");
    ties("listen = \"127.0.0.1:3000\"\n", &[]).expect("no ties");
}

#[test]
fn an_option_without_the_one_it_needs_is_refused_even_from_the_file() {
    let error = ties("tls-cert = \"cert.pem\"\n", &[]).expect_err("a certificate without a key");
    assert!(
        error
            .to_string()
            .starts_with("node.toml: these settings need --tls-key"),
        "{error}"
    );
    let error = ties("grpc-credentials = \"admin:s3cret\"\n", &[]).expect_err("no gRPC listener");
    assert!(error.to_string().contains("--grpc-listen"), "{error}");
    assert!(!error.to_string().contains("s3cret"), "{error}");
}
