//! Definition files: one connector each, the body `POST /connectors/{id}`
//! takes (a definition, plus `enable`, which only matters when the
//! connector is created, and `name`, a name for people). Its id is the
//! file's `id` field when it has one, else the file name without `.json`.
//! A file in KurrentDB's shape (`{"name", "settings"}`) is read as the
//! definition its settings map says ([`crate::connector::settings_map`]). [`read_dir`] reads every `*.json`
//! file of a directory (not its subdirectories) for `connector apply`;
//! other files are ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::connector::{settings_map, ConnectorId};

/// Why a directory of definitions cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionFileError {
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{}` is not JSON: {source}", path.display())]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("`{}` must hold a JSON object (a connector definition), e.g. `{{\"sink\": {{\"type\": \"console\"}}}}`", path.display())]
    NotAnObject { path: PathBuf },
    #[error("`{}`: {reason}", path.display())]
    InvalidId { path: PathBuf, reason: String },
    #[error("`{}` and `{}` both define connector `{id}`", first.display(), second.display())]
    DuplicateId {
        id: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("`{}` holds no `*.json` definition files", .0.display())]
    Empty(PathBuf),
    #[error("`{}`: {reason}", path.display())]
    Settings { path: PathBuf, reason: String },
}

/// One definition file.
#[derive(Debug, Clone)]
pub struct DefinitionFile {
    pub path: PathBuf,
    pub id: ConnectorId,
    /// `enable` as the file says, for a create.
    pub enable: Option<Value>,
    /// The name for people the file gives.
    pub name: Option<String>,
    /// The definition: the file without `id`, `enable` and `name`.
    pub definition: Map<String, Value>,
}

impl DefinitionFile {
    /// Reads `path`; its id is `id` when given, else the file's `id` field,
    /// else the file name without its extension.
    pub fn read(path: &Path, id: Option<&str>) -> Result<Self, DefinitionFileError> {
        let bytes = std::fs::read(path).map_err(|source| DefinitionFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|source| DefinitionFileError::NotJson {
                path: path.to_owned(),
                source,
            })?;
        let Value::Object(mut definition) = value else {
            return Err(DefinitionFileError::NotAnObject {
                path: path.to_owned(),
            });
        };
        let field = definition.remove("id");
        let enable = definition.remove("enable");
        let invalid = |reason: String| DefinitionFileError::InvalidId {
            path: path.to_owned(),
            reason,
        };
        let not_settings = |reason: String| DefinitionFileError::Settings {
            path: path.to_owned(),
            reason,
        };
        let name = match definition.remove("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => Some(name),
            Some(other) => {
                return Err(not_settings(format!(
                    "`name` must be a string, not `{other}`"
                )))
            }
        };
        if let Some(settings) = definition.remove("settings") {
            definition = from_settings(settings, &definition).map_err(not_settings)?;
        }
        let id = match (id, field) {
            (Some(id), _) => id.to_owned(),
            (None, Some(Value::String(id))) => id,
            (None, Some(other)) => {
                return Err(invalid(format!("`id` must be a string, not `{other}`")))
            }
            (None, None) => path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let id = ConnectorId::parse(&id).map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            path: path.to_owned(),
            id,
            enable,
            name,
            definition,
        })
    }

    /// What `POST /connectors/{id}` takes: the definition, `enable` and
    /// `name`.
    pub fn create_body(&self) -> Value {
        let mut body = self.definition.clone();
        if let Some(enable) = &self.enable {
            body.insert("enable".into(), enable.clone());
        }
        if let Some(name) = &self.name {
            body.insert("name".into(), name.clone().into());
        }
        Value::Object(body)
    }

    /// What `PUT /connectors/{id}` takes: the definition.
    pub fn update_body(&self) -> Value {
        Value::Object(self.definition.clone())
    }

    /// The file name, for messages.
    pub fn name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

/// The native definition a KurrentDB settings map says, as JSON; `rest` is
/// what the file holds beside `settings`, `name`, `enable` and `id`.
fn from_settings(settings: Value, rest: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    if let Some(field) = rest.keys().next() {
        return Err(format!(
            "`{field}` cannot stand beside `settings`: a file in KurrentDB's shape holds \
             `name`, `settings` (and `id`, `enable`)"
        ));
    }
    let Value::Object(settings) = settings else {
        return Err("`settings` must be an object of settings".into());
    };
    let settings = settings_map::from_json("settings", settings).map_err(|e| e.to_string())?;
    let definition = settings_map::to_definition(&settings).map_err(|e| e.to_string())?;
    match serde_json::to_value(definition) {
        Ok(Value::Object(definition)) => Ok(definition),
        _ => Err("its settings do not make a definition".into()),
    }
}

/// Reads every `*.json` file in `dir`, ordered by id.
pub fn read_dir(dir: &Path) -> Result<Vec<DefinitionFile>, DefinitionFileError> {
    let read_error = |source| DefinitionFileError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.extension().is_some_and(|e| e == "json") && path.is_file() {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Err(DefinitionFileError::Empty(dir.to_owned()));
    }
    paths.sort();
    let mut files: BTreeMap<ConnectorId, DefinitionFile> = BTreeMap::new();
    for path in paths {
        let file = DefinitionFile::read(&path, None)?;
        if let Some(first) = files.get(&file.id) {
            return Err(DefinitionFileError::DuplicateId {
                id: file.id.to_string(),
                first: first.path.clone(),
                second: file.path,
            });
        }
        files.insert(file.id.clone(), file);
    }
    Ok(files.into_values().collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn files_name_their_connectors_and_duplicates_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("orders.json"),
            r#"{"sink": {"type": "console"}}"#,
        )
        .expect("write");
        std::fs::write(
            dir.path().join("other.json"),
            r#"{"id": "named", "enable": false, "sink": {"type": "console"}}"#,
        )
        .expect("write");
        std::fs::write(dir.path().join("notes.txt"), "not a definition").expect("write");
        let files = read_dir(dir.path()).expect("read the directory");
        let ids: Vec<&str> = files.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, vec!["named", "orders"]);
        assert_eq!(files[0].create_body()["enable"], json!(false));
        assert!(files[0].update_body().get("enable").is_none());
        assert!(files[0].update_body().get("id").is_none());

        std::fs::write(
            dir.path().join("again.json"),
            r#"{"id": "orders", "sink": {"type": "console"}}"#,
        )
        .expect("write");
        let error = read_dir(dir.path()).expect_err("two files define `orders`");
        assert!(
            error.to_string().contains("both define connector `orders`"),
            "{error}"
        );
    }

    #[test]
    fn a_bad_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("broken.json"), "{").expect("write");
        let error = read_dir(dir.path()).expect_err("not JSON");
        assert!(error.to_string().contains("broken.json"), "{error}");
        let empty = tempfile::tempdir().expect("temp dir");
        assert!(matches!(
            read_dir(empty.path()),
            Err(DefinitionFileError::Empty(_))
        ));
    }
}
