//! The `anthropic` provider.
use super::*;

/// The `anthropic` provider.
pub struct Anthropic {
    _cfg: ProviderConfig,
}

impl Anthropic {
    /// Builds it.
    pub fn new(cfg: ProviderConfig) -> Self {
        Anthropic { _cfg: cfg }
    }
}

impl Provider for Anthropic {
    fn stream(
        &self,
        _req: &ChatRequest,
        _cancel: &CancelToken,
        _emit: &mut dyn FnMut(StreamEvent) -> bool,
    ) -> Result<(), ProviderError> {
        Err(ProviderError::new(
            ProviderErrorKind::Protocol,
            "not built yet",
        ))
    }
}
