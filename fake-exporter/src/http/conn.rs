//! A per-connection control channel from request handlers to the connection task, used by
//! the close-after-response and reset faults.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// What a handler asks the connection task to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnAction {
    /// Finish in-flight responses, then close (HTTP/1.1: no keep-alive; HTTP/2: GOAWAY).
    Close,
    /// Drop the socket at once without answering; with SO_LINGER 0 the peer sees an RST.
    Reset,
}

/// Shared between one connection task and the requests it serves (as a request extension).
#[derive(Clone, Debug, Default)]
pub struct ConnControl {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// 0 = nothing, 1 = close, 2 = reset; only ever increases.
    action: AtomicU8,
    notify: Notify,
}

impl ConnControl {
    /// Asks for `action`; a reset overrides a close.
    pub fn request(&self, action: ConnAction) {
        let code = match action {
            ConnAction::Close => 1,
            ConnAction::Reset => 2,
        };
        self.inner.action.fetch_max(code, Ordering::SeqCst);
        self.inner.notify.notify_one();
    }

    /// Waits until an action is requested and returns it.
    pub async fn requested(&self) -> ConnAction {
        loop {
            let notified = self.inner.notify.notified();
            match self.inner.action.load(Ordering::SeqCst) {
                1 => return ConnAction::Close,
                2 => return ConnAction::Reset,
                _ => notified.await,
            }
        }
    }

    /// The action requested so far, if any.
    pub fn pending(&self) -> Option<ConnAction> {
        match self.inner.action.load(Ordering::SeqCst) {
            1 => Some(ConnAction::Close),
            2 => Some(ConnAction::Reset),
            _ => None,
        }
    }
}
