//! The `openai` provider.
use super::*;

/// The `openai` provider.
pub struct OpenAi {
    _cfg: ProviderConfig,
}

impl OpenAi {
    /// Builds it.
    pub fn new(cfg: ProviderConfig) -> Self {
        OpenAi { _cfg: cfg }
    }
}

impl Provider for OpenAi {
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
