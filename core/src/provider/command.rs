//! The `command` provider.
use super::*;

/// The `command` provider.
pub struct CommandProvider {
    _cfg: ProviderConfig,
}

impl CommandProvider {
    /// Builds it.
    pub fn new(cfg: ProviderConfig) -> Self {
        CommandProvider { _cfg: cfg }
    }
}

impl Provider for CommandProvider {
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
