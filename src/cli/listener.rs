//! The listener of `portus serve`, which stops without resetting a connection.
//!
//! When a server stops listening, the connections the kernel has already completed but the
//! server has not accepted yet are reset: a load balancer that had sent a request on one of
//! them gets no answer, and it may not send a POST again elsewhere (it cannot know whether it
//! was handled). [`DrainingListener`] therefore, once told to stop, takes every connection
//! queued, closes the socket (new connections are refused: the load balancer sends them to
//! another instance) and hands the queued ones to the server, which answers them as requests in
//! flight; then, once the server has read their requests (so that it does not take them for
//! idle connections), it says it is closed, and the server's graceful shutdown begins.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot, watch};

/// The longest a queued connection that sends nothing holds up the shutdown.
const FIRST_READ_WAIT: Duration = Duration::from_secs(2);

/// Handed-over connections whose request the server has not read yet.
#[derive(Debug, Default)]
struct Unread {
    count: AtomicUsize,
    changed: Notify,
}

/// An accepted connection; one handed over at the stop says when the server first reads it.
#[derive(Debug)]
pub(super) struct Connection {
    stream: TcpStream,
    unread: Option<Arc<Unread>>,
}

impl AsyncRead for Connection {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if polled.is_ready()
            && let Some(unread) = this.unread.take()
        {
            unread.count.fetch_sub(1, Ordering::AcqRel);
            unread.changed.notify_waiters();
        }
        polled
    }
}

impl AsyncWrite for Connection {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Never read (the server dropped it): it holds nothing up.
        if let Some(unread) = self.unread.take() {
            unread.count.fetch_sub(1, Ordering::AcqRel);
            unread.changed.notify_waiters();
        }
    }
}

/// A TCP listener for `axum::serve` that hands over its queue when `stop` turns true.
#[derive(Debug)]
pub(super) struct DrainingListener {
    listener: Option<TcpListener>,
    addr: SocketAddr,
    stop: watch::Receiver<bool>,
    /// Connections taken from the queue at the stop, not yet given to the server.
    queued: VecDeque<(TcpStream, SocketAddr)>,
    unread: Arc<Unread>,
    /// Told once the socket is closed and the queue handed over.
    closed: Option<oneshot::Sender<()>>,
}

impl DrainingListener {
    /// Wraps `listener`; the answer's receiver completes once it is closed and its queue handed
    /// over after `stop` turned true (the server's graceful shutdown signal).
    pub(super) fn new(
        listener: TcpListener,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<(Self, oneshot::Receiver<()>)> {
        let (closed, closed_rx) = oneshot::channel();
        let addr = listener.local_addr()?;
        let draining = DrainingListener {
            listener: Some(listener),
            addr,
            stop,
            queued: VecDeque::new(),
            unread: Arc::default(),
            closed: Some(closed),
        };
        Ok((draining, closed_rx))
    }

    /// Takes every connection the kernel has queued and closes the socket, with no wait in
    /// between: a connection arriving after it is refused, not reset.
    fn close(&mut self) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        match listener.into_std() {
            Ok(listener) => {
                // tokio left it non-blocking: accept until the queue is empty.
                while let Ok((stream, addr)) = listener.accept() {
                    let adopted = stream.set_nonblocking(true).and_then(|()| TcpStream::from_std(stream));
                    match adopted {
                        Ok(stream) => self.queued.push_back((stream, addr)),
                        Err(e) => tracing::debug!(error = %e, "a queued connection was lost at shutdown"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "the listener could not hand over its queue"),
        }
        self.unread.count.store(self.queued.len(), Ordering::Release);
        tracing::debug!(queued = self.queued.len(), "listener closed");
    }

    /// Waits until the server has read every handed-over connection (at most
    /// [`FIRST_READ_WAIT`]).
    async fn all_read(&self) {
        let _ = tokio::time::timeout(FIRST_READ_WAIT, async {
            loop {
                let changed = self.unread.changed.notified();
                if self.unread.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                changed.await;
            }
        })
        .await;
    }
}

impl axum::serve::Listener for DrainingListener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Some((stream, addr)) = self.queued.pop_front() {
                let unread = Some(self.unread.clone());
                return (Connection { stream, unread }, addr);
            }
            let Some(listener) = &self.listener else {
                // Closed and handed over: the server shuts down once it has read what it was
                // given (a connection it has not read yet, it would close as idle).
                if let Some(closed) = self.closed.take() {
                    self.all_read().await;
                    let _ = closed.send(());
                }
                std::future::pending::<()>().await;
                unreachable!("pending never completes");
            };
            if *self.stop.borrow() {
                self.close();
                continue;
            }
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, addr)) => return (Connection { stream, unread: None }, addr),
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::debug!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = self.stop.changed() => {}
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

#[cfg(test)]
mod tests {
    use std::future::IntoFuture;
    use std::io::{Read, Write};

    use super::*;

    /// Connections the kernel queued before the stop, whose requests are sent already, are
    /// all answered; a connection after the stop is refused.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_queued_at_the_stop_are_answered_and_later_ones_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Queued by the kernel, nobody accepting yet, each with its request sent.
        let clients: Vec<std::net::TcpStream> = (0..3)
            .map(|_| {
                let mut client = std::net::TcpStream::connect(addr).unwrap();
                client
                    .write_all(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .unwrap();
                client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                client
            })
            .collect();
        let (stop, stopping) = watch::channel(true);
        let (draining, closed) = DrainingListener::new(listener, stopping).unwrap();
        let app = axum::Router::new().route("/x", axum::routing::post(|| async { "answered" }));
        let server = tokio::spawn(
            axum::serve(draining, app)
                .with_graceful_shutdown(async move {
                    let _ = closed.await;
                })
                .into_future(),
        );
        let answers = tokio::task::spawn_blocking(move || {
            clients
                .into_iter()
                .map(|mut client| {
                    let mut answer = String::new();
                    let _ = client.read_to_string(&mut answer);
                    answer
                })
                .collect::<Vec<String>>()
        })
        .await
        .unwrap();
        for answer in &answers {
            assert!(
                answer.starts_with("HTTP/1.1 200") && answer.ends_with("answered"),
                "{answer:?}"
            );
        }
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
        assert!(std::net::TcpStream::connect(addr).is_err(), "refused after the stop");
        drop(stop);
    }
}
