//! What every step of a running pipeline works with: the connector, where
//! its streams are, the tenure it delivers under, the status it reports to
//! and the token that stops it. Built once when the pipeline starts and
//! lent to the run loop ([`super::run`]), the transform step
//! ([`super::transform_step`]) and the delivery step ([`super::delivery`]).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::connector::{ConnectorRepository, ConnectorState, OnFailure};
use crate::metrics::ConnectorMetrics;

use super::status::PipelineStatus;
use super::tenure::Tenure;

/// One running pipeline's connector and surroundings.
pub(super) struct RunContext {
    /// The connectors' streams (checkpoints, dead letters) and the store.
    pub repository: ConnectorRepository,
    /// The connector as it was when the pipeline started.
    pub connector: ConnectorState,
    /// While it holds, the pipeline may deliver and checkpoint.
    pub tenure: Tenure,
    /// What the connector's status shows.
    pub status: Arc<PipelineStatus>,
    /// Cancelled when the pipeline is asked to stop.
    pub cancel: CancellationToken,
    /// The connector's series in the node's metrics.
    pub metrics: ConnectorMetrics,
}

impl RunContext {
    /// Whether a refused event stops the connector (else it is
    /// dead-lettered).
    pub fn faults_on_failure(&self) -> bool {
        self.connector.definition.on_failure == OnFailure::Fault
    }
}
