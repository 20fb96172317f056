//! The accept loop of the small side servers (OAuth2 token endpoint, forward proxy): each
//! connection in a task of its own, everything stopped when the handle drops. The exporter
//! has its own loop in `server.rs`, which shuts connections down gracefully instead.

use std::future::Future;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::defence::{self, AcceptBackoff};

/// The running loop. Dropping it aborts the loop, whose `JoinSet` aborts every connection.
#[derive(Debug)]
pub(crate) struct AcceptLoop(JoinHandle<()>);

impl AcceptLoop {
    /// Accepts on `listener` and runs `serve(stream)` for each connection.
    pub(crate) fn spawn<F, Fut>(listener: TcpListener, mut serve: F) -> Self
    where
        F: FnMut(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self(tokio::spawn(async move {
            let mut conns = JoinSet::new();
            let mut backoff = AcceptBackoff::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            backoff.succeeded();
                            conns.spawn(serve(stream));
                        }
                        // EMFILE and friends: back off instead of spinning.
                        Err(e) => defence::accept_failed(&e, &mut backoff).await,
                    },
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        }))
    }
}

impl Drop for AcceptLoop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
