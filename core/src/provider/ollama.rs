//! The `ollama` provider.
use super::*;

/// The `ollama` provider.
pub struct Ollama {
    _cfg: ProviderConfig,
}

impl Ollama {
    /// Builds it.
    pub fn new(cfg: ProviderConfig) -> Self {
        Ollama { _cfg: cfg }
    }
}

impl Provider for Ollama {
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
