//! `GET /openapi.json`: the API described as an OpenAPI 3.1 document.
//!
//! The document is generated from the handlers: each carries a
//! `#[utoipa::path]` (method, path, parameters, bodies, answers) and the
//! router registers it with `utoipa_axum::routes!`, which serves the route
//! and documents it at once (see [`super::documented_routes`]), so a route
//! cannot be served without being described. [`ApiDoc`] adds what every
//! operation shares: the bearer-token scheme and, on every operation that
//! needs a token, the answers of the access checks (401, 403, 421) and of a
//! failure inside the node (500), all with the [`ErrorBody`] schema.
//! Bodies are described by the types the handlers answer with
//! (`utoipa::ToSchema`), field by field, with their doc comments as
//! descriptions. Two schemas are written by hand, for JSON built without
//! a type: a connector definition's ([`super::definition_schema`],
//! checked against its parser) and an event's envelope
//! ([`crate::connector::EventEnvelopeSchema`], as dead letters and previews
//! show events). A test compares the bodies' schemas with real answers.
//!
//! The document is public, like `/health`: it describes the API and holds
//! no data, and tools (client generators, API explorers) read it before
//! they have a token.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::connectors::KurrentListing;
use super::error::ErrorBody;

/// Paths anyone may read, with or without a token.
pub const PUBLIC_PATHS: [&str; 2] = ["/health", "/openapi.json"];

/// The name of the bearer-token scheme in the document.
const BEARER: &str = "bearer";

/// What the generated operations share.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "connectors",
        description = "The HTTP API of a connectors node: connectors and their dead letters, the cluster's members, streams, WebAssembly modules, previews. Errors are `{\"code\", \"message\"}` bodies.",
    ),
    components(schemas(ErrorBody, KurrentListing)),
    security(("bearer" = [])),
    modifiers(&BearerScheme),
    tags(
        (name = "connectors", description = "Create, inspect, reconfigure, enable, disable, reset and delete connectors"),
        (name = "dead letters", description = "The events a connector refused for good"),
        (name = "streams", description = "Append to and read the event store"),
        (name = "modules", description = "The WebAssembly components connectors use"),
        (name = "preview", description = "Runs a filter and transforms over events without creating anything"),
        (name = "node", description = "The node itself: health, members, this document"),
        (name = "KurrentDB compatibility", description = "KurrentDB Connectors' management API on the same connectors: settings maps, start, stop, reset to a position, rename; `GET /connectors` with KurrentDB's query parameters answers a `KurrentListing`"),
    )
)]
pub struct ApiDoc;

/// Adds the bearer-token scheme.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token the node was started with (`--api-token`, `CONNECTORS_API_TOKEN` or `--api-tokens-file`); required only when the node has tokens",
                    ))
                    .build(),
            ),
        );
    }
}

/// Adds the answers of the access checks and of a failure inside the node
/// to every operation that needs a token.
fn add_shared_answers(document: &mut Document) {
    let shared = [
        (
            "401",
            "No token, or an unknown one (when the node has tokens)",
        ),
        (
            "403",
            "The token's role may not do this, or a web page of another origin asked",
        ),
        (
            "421",
            "A node listening on loopback was addressed by another name",
        ),
        (
            "500",
            "The request failed inside the node (details in its log)",
        ),
    ];
    for (path, item) in document.paths.paths.iter_mut() {
        if PUBLIC_PATHS.contains(&path.as_str()) {
            continue;
        }
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            add_answers(operation, &shared);
        }
    }
}

fn add_answers(operation: &mut Operation, answers: &[(&str, &str)]) {
    for (status, description) in answers {
        let answer = ResponseBuilder::new()
            .description(*description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        operation
            .responses
            .responses
            .entry((*status).to_owned())
            .or_insert_with(|| answer.into());
    }
}

/// The whole document: every documented route, and what they share.
pub fn document() -> Document {
    let mut document = super::documented_routes(0).into_openapi();
    add_shared_answers(&mut document);
    document
}

/// The document as served, made once.
fn document_json() -> &'static [u8] {
    static JSON: OnceLock<Vec<u8>> = OnceLock::new();
    JSON.get_or_init(|| serde_json::to_vec_pretty(&document()).unwrap_or_default())
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openApiDocument",
    tag = "node",
    security(()),
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json"))
)]
pub async fn serve() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], document_json())
}
