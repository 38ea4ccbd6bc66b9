//! When the server first read each request's bytes, for `--timing-log`: the handler starts
//! later (HTTP parsing, routing, reading the body), and the difference is the server's own
//! share of a request's send-side delay.
//!
//! Each accepted connection is wrapped in a [`StampedStream`] that stamps the wall clock at the
//! first read returning bytes while its stamp is empty; the handler takes the stamp (leaving it
//! empty for the next request on the connection), through the connection's [`ReadStamp`].
//! HTTP/1.1 without pipelining sends a request only after the previous response, so the first
//! bytes read after a take are the next request's.

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections stamp their reads (with Nagle off, as every mock
/// connection), counting the connections it accepts.
pub struct StampingListener(pub TcpListener, pub Arc<AtomicU64>);

/// A connection that stamps the first read of each request.
pub struct StampedStream {
    inner: TcpStream,
    stamp: Arc<AtomicU64>,
}

/// The connection's stamp, as the handler sees it (axum's connect info).
#[derive(Clone, Debug)]
pub struct ReadStamp(Arc<AtomicU64>);

impl ReadStamp {
    /// The wall-clock nanoseconds of the first read of the current request, leaving the stamp
    /// empty for the next one; `None` if nothing was stamped.
    pub fn take(&self) -> Option<u64> {
        Some(self.0.swap(0, Ordering::AcqRel)).filter(|&ns| ns != 0)
    }
}

impl Listener for StampingListener {
    type Io = StampedStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((inner, addr)) => {
                    let _ = inner.set_nodelay(true);
                    self.1.fetch_add(1, Ordering::Relaxed);
                    let stamp = Arc::new(AtomicU64::new(0));
                    return (StampedStream { inner, stamp }, addr);
                }
                // As axum's own listener: a failed accept (EMFILE, a reset) is retried after a
                // pause rather than ending the server.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, StampingListener>> for ReadStamp {
    fn connect_info(stream: IncomingStream<'_, StampingListener>) -> Self {
        ReadStamp(stream.io().stamp.clone())
    }
}

impl AsyncRead for StampedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let now = super::server::wall_ns();
            let _ = self
                .stamp
                .compare_exchange(0, now, Ordering::AcqRel, Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncWrite for StampedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
