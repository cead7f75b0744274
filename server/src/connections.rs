//! Connections that cannot be held open for nothing: every connection
//! closes when no byte has moved either way for `IDLE` (a client that
//! connects and says nothing, or stops in the middle of its headers, or
//! keeps a connection open between requests for longer), and no
//! connection lives longer than `LIFETIME` whatever trickles through it.
//! A client's HTTP pool reconnects on its own.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep, Instant, Sleep};

/// No byte either way for this long closes the connection.
pub(crate) const IDLE: Duration = Duration::from_secs(20);
/// No connection lives longer (a slow trickle of bytes included).
pub(crate) const LIFETIME: Duration = Duration::from_secs(300);

/// An I/O stream with the two limits, holding its place among the
/// connections the server admits (crate::admission) while it lives.
pub(crate) struct Timed<T> {
    inner: T,
    idle: Duration,
    quiet: Pin<Box<Sleep>>,
    end: Pin<Box<Sleep>>,
    _admitted: Option<crate::admission::Ticket>,
}

impl<T> Timed<T> {
    pub(crate) fn new(
        inner: T,
        idle: Duration,
        lifetime: Duration,
        admitted: Option<crate::admission::Ticket>,
    ) -> Timed<T> {
        Timed {
            inner,
            idle,
            quiet: Box::pin(sleep(idle)),
            end: Box::pin(sleep(lifetime)),
            _admitted: admitted,
        }
    }

    fn moved(&mut self) {
        let idle = self.idle;
        self.quiet.as_mut().reset(Instant::now() + idle);
    }

    /// Pending I/O: an error once either limit has passed.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        let quiet = self.quiet.as_mut().poll(cx).is_ready();
        let end = self.end.as_mut().poll(cx).is_ready();
        (quiet || end).then(|| io::Error::new(io::ErrorKind::TimedOut, "the connection was idle"))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Timed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.moved();
                }
                Poll::Ready(r)
            }
            Poll::Pending => match self.expired(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Timed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, data) {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    self.moved();
                }
                Poll::Ready(r)
            }
            Poll::Pending => match self.expired(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A plain TCP listener whose connections carry the limits, and that
/// turns a connection over the caps away with a `503` (crate::admission).
pub(crate) struct TimedListener {
    pub(crate) inner: TcpListener,
    pub(crate) idle: Duration,
    pub(crate) admission: std::sync::Arc<crate::admission::Admission>,
}

impl axum::serve::Listener for TimedListener {
    type Io = Timed<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, peer)) => match self.admission.admit(peer.ip()) {
                    Some(ticket) => {
                        return (Timed::new(stream, self.idle, LIFETIME, Some(ticket)), peer)
                    }
                    None => {
                        // Best effort: a fresh socket's buffer takes it whole.
                        let _ = stream.try_write(crate::admission::TURNED_AWAY);
                    }
                },
                // Out of descriptors and the like: wait, then go on.
                Err(_) => sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The address a connection came from, for the handlers (axum's
/// `ConnectInfo<Peer>`), whichever listener accepted it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) std::net::SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TimedListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TimedListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}
