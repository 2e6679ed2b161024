//! The status page in a real headless Chromium: what a person sees of a
//! connector, and of its state after they press "Disable"; the token form
//! of a node with API tokens; dead letters replayed with a button.
//! Screenshots go to `target/ui-screenshots/`.

use std::time::Duration;

use serde_json::json;

use crate::replay::dead_lettered_hook;
use crate::support::browser::Browser;
use crate::support::NodeProcess;

const WAIT: Duration = Duration::from_secs(30);
const SECRET: &str = "SUPERSECRET-ui-header-5d21";
const TOKEN: &str = "ui-test-admin-token-9f3e1c7a5b";

/// `document.querySelector` of a connector's cell, as text (`null` when
/// absent).
fn cell(id: &str, field: &str) -> String {
    format!(
        "(document.querySelector('[data-connector-id=\"{id}\"] [data-field=\"{field}\"]')?.textContent ?? null)"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_shows_and_disables_from_the_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    node.create_connector(
        "orders-out",
        json!({
            "name": "Orders to the hook",
            "sink": { "type": "http", "url": "http://127.0.0.1:9/hook",
                      "headers": { "x-api-key": { "secret": SECRET } } },
            "filter": { "streams": { "prefixes": ["orders-"] } }
        }),
    )
    .await;

    let mut browser = Browser::open(&node.url("/ui")).await;
    let state = cell("orders-out", "state");
    browser
        .wait_for(
            &format!("{state} === 'running'"),
            "the connector running",
            WAIT,
        )
        .await;
    assert_eq!(
        browser.eval(&cell("orders-out", "member")).await,
        json!(node.base.trim_start_matches("http://"))
    );
    assert_eq!(
        browser.eval(&cell("orders-out", "name")).await,
        json!("Orders to the hook")
    );
    browser.screenshot("connectors").await;

    browser
        .eval("document.querySelector('[data-connector-id=\"orders-out\"] button[data-action=\"disable\"]').click()")
        .await;
    browser
        .wait_for(
            &format!("{state} === 'disabled'"),
            "the connector disabled after pressing Disable",
            WAIT,
        )
        .await;
    browser.screenshot("after-disable").await;
    let (status, connector) = node.get("/connectors/orders-out").await;
    assert_eq!(status, 200);
    assert_eq!(connector["enabled"], json!(false), "{connector}");

    // Its own page: the definition without the secret, its state.
    browser
        .navigate(&node.url("/ui#/connector/orders-out"))
        .await;
    browser
        .wait_for(
            "document.getElementById('definition')?.textContent.includes('x-api-key') === true",
            "the connector's definition",
            WAIT,
        )
        .await;
    let page = browser.eval("document.body.innerText").await;
    let page = page.as_str().expect("the page's text");
    assert!(!page.contains(SECRET), "the page shows the secret:\n{page}");
    assert!(page.contains("disabled"), "{page}");
    browser.screenshot("connector").await;

    // Modules, members: the tables a person reads.
    browser.navigate(&node.url("/ui#/members")).await;
    browser
        .wait_for(
            "document.querySelectorAll('#members tbody tr').length === 1",
            "this node among the members",
            WAIT,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_tokens_asks_for_one_and_then_shows_its_connectors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start_with_token(&dir.path().join("node"), TOKEN).await;
    node.create_connector(
        "guarded",
        json!({ "sink": { "type": "console" }, "filter": { "streams": { "prefixes": ["orders-"] } } }),
    )
    .await;

    let mut browser = Browser::open(&node.url("/ui")).await;
    browser
        .wait_for(
            "document.getElementById('token').hidden === false",
            "the token form",
            WAIT,
        )
        .await;
    assert_eq!(
        browser
            .eval("document.querySelectorAll('[data-connector-id]').length")
            .await,
        json!(0),
        "connectors shown without a token"
    );
    browser.screenshot("token-form").await;

    // A wrong token: the form stays.
    submit_token(&mut browser, "not-the-token").await;
    browser
        .wait_for(
            "document.getElementById('token-error').textContent === 'The node refused that token.' && document.querySelectorAll('[data-connector-id]').length === 0",
            "the token refused",
            WAIT,
        )
        .await;

    submit_token(&mut browser, TOKEN).await;
    browser
        .wait_for(
            &format!("{} === 'running'", cell("guarded", "state")),
            "the connector once the token was given",
            WAIT,
        )
        .await;
    assert_eq!(
        browser
            .eval("document.getElementById('token').hidden")
            .await,
        json!(true)
    );
    browser.screenshot("with-token").await;
}

async fn submit_token(browser: &mut Browser, token: &str) {
    browser
        .eval(&format!(
            "document.getElementById('token-input').value = '{token}'; \
             document.getElementById('token-form').requestSubmit(); true"
        ))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_replayed_from_the_connector_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start(dir.path()).await;
    let receiver = dead_lettered_hook(&node, 3).await;

    let mut browser = Browser::open(&node.url("/ui#/connector/hook")).await;
    let replay = "document.querySelector('button[data-action=\"replay\"]')";
    browser
        .wait_for(&format!("{replay} !== null"), "the Replay button", WAIT)
        .await;
    // A first click only asks for a second one.
    browser.eval(&format!("{replay}.click(); true")).await;
    browser
        .wait_for(
            &format!("{replay}.textContent === 'Confirm replay'"),
            "the Replay button asking for confirmation",
            WAIT,
        )
        .await;
    assert_eq!(receiver.count(), 0, "replayed before the confirmation");
    browser.eval(&format!("{replay}.click(); true")).await;
    browser
        .wait_for(
            "document.getElementById('replay-result')?.textContent.startsWith('Last replay: 3 delivered') === true",
            "the replay's summary",
            WAIT,
        )
        .await;
    browser.screenshot("after-replay").await;
    assert_eq!(receiver.numbers(), [1, 2, 3]);
}
