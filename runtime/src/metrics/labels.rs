//! The label sets of the node's series.

use prometheus_client::encoding::EncodeLabelSet;

/// A connector's series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ConnectorLabel {
    pub connector: String,
}

/// One transform stage of a connector, named as in its status
/// (`transforms[0] (redact)`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct StageLabels {
    pub connector: String,
    pub stage: String,
}

/// A connector's sink requests of one outcome and status class.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RequestLabels {
    pub connector: String,
    /// [`super::RequestOutcome::name`].
    pub outcome: &'static str,
    /// [`super::RequestClass::name`].
    pub class: &'static str,
}

/// What a store call did.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum StoreOperation {
    /// An append to one stream, or to several at once.
    Append,
    /// A read of one stream.
    ReadStream,
    /// A read of the global log.
    ReadAll,
}

impl StoreOperation {
    pub const ALL: [StoreOperation; 3] = [Self::Append, Self::ReadStream, Self::ReadAll];

    /// The `operation` label's value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Append => "append",
            Self::ReadStream => "read_stream",
            Self::ReadAll => "read_all",
        }
    }
}

/// A store operation's series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct StoreLabels {
    /// [`StoreOperation::name`].
    pub operation: &'static str,
}

/// The members of the cluster, alive or not.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct MemberStatusLabel {
    pub status: &'static str,
}

/// One member of the cluster.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct MemberLabel {
    pub member: String,
}

/// What was built.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct BuildLabels {
    pub version: &'static str,
}
