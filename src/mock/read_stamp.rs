//! When each request's bytes reached the server, for `--timing-log`: when the kernel queued
//! them on the socket, and when the server first read them. The handler starts later still
//! (HTTP parsing, routing, reading the body). Arrival to first read is the server's own read
//! queue (its workers busy with other connections); the client's send stamp to arrival is the
//! client's write path and loopback, which is what a client can be held to.
//!
//! Each accepted connection is wrapped in a [`StampedStream`]. While its stamps are empty, a read
//! asks the kernel for the receive time of the bytes it returns (`SO_TIMESTAMPNS`, Linux) and
//! stamps the wall clock; the handler takes the stamps (leaving them empty for the next request
//! on the connection), through the connection's [`ReadStamp`]. HTTP/1.1 without pipelining sends
//! a request only after the previous response, so the first bytes read after a take are the
//! next request's.

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections stamp their reads (with Nagle off, as every mock
/// connection), counting the connections it accepts.
pub struct StampingListener(TcpListener, Arc<AtomicU64>);

impl StampingListener {
    /// Wraps `listener`, asking the kernel to stamp what it receives from now on, so that a
    /// request sent with the connection (before it is accepted) carries its arrival too: the
    /// accepted sockets inherit the listener's option, and its bytes were stamped on arrival.
    /// (Linux switches stamping on from a work queue, a moment later: a request in that moment
    /// is logged without an arrival.)
    pub fn new(listener: TcpListener, connections: Arc<AtomicU64>) -> Self {
        kernel_stamps::enable(&listener);
        Self(listener, connections)
    }
}

/// A connection that stamps the first read of each request.
pub struct StampedStream {
    inner: TcpStream,
    stamps: Arc<Stamps>,
}

/// Wall-clock nanoseconds, 0 while not stamped.
#[derive(Debug, Default)]
struct Stamps {
    first_read: AtomicU64,
    arrived: AtomicU64,
}

/// The connection's stamps, as the handler sees them (axum's connect info).
#[derive(Clone, Debug)]
pub struct ReadStamp(Arc<Stamps>);

/// When the current request's first bytes reached the server (wall-clock nanoseconds).
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestArrival {
    /// When the server's first read returned them.
    pub first_read_ns: Option<u64>,
    /// When the kernel queued the bytes that read returned on the socket; `None` where the
    /// kernel does not say.
    pub arrived_ns: Option<u64>,
}

impl ReadStamp {
    /// The current request's stamps, leaving them empty for the next one.
    pub fn take(&self) -> RequestArrival {
        let set = |ns: u64| Some(ns).filter(|&ns| ns != 0);
        // Arrival first: a read that stamps between the two swaps then shows as a missing
        // arrival, never as one request's arrival paired with another's read.
        let arrived_ns = set(self.0.arrived.swap(0, Ordering::AcqRel));
        RequestArrival {
            first_read_ns: set(self.0.first_read.swap(0, Ordering::AcqRel)),
            arrived_ns,
        }
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
                    let stamps = Arc::default();
                    return (StampedStream { inner, stamps }, addr);
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
        ReadStamp(stream.io().stamps.clone())
    }
}

impl AsyncRead for StampedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.stamps.first_read.load(Ordering::Acquire) != 0 {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        // The first read of a request: with its bytes' receive time.
        loop {
            ready!(self.inner.poll_read_ready(cx))?;
            let inner = &self.inner;
            let unfilled = buf.initialize_unfilled();
            match inner.try_io(Interest::READABLE, || kernel_stamps::recv(inner, unfilled)) {
                Ok((0, _)) => return Poll::Ready(Ok(())),
                Ok((n, arrived)) => {
                    buf.advance(n);
                    let now = super::server::wall_ns();
                    let stamps = &self.stamps;
                    stamps
                        .arrived
                        .store(arrived.unwrap_or(0), Ordering::Release);
                    stamps.first_read.store(now, Ordering::Release);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// The kernel's receive time of a read's bytes (`SO_TIMESTAMPNS`).
#[cfg(target_os = "linux")]
mod kernel_stamps {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};
    use std::os::fd::{AsFd, AsRawFd};
    use tokio::net::TcpStream;

    /// Asks the kernel to stamp what it receives on `socket` and on the connections it accepts
    /// (best effort: without it, reads carry no arrival).
    pub fn enable(socket: &impl AsFd) {
        let _ = setsockopt(&socket.as_fd(), sockopt::ReceiveTimestampns, &true);
    }

    /// Reads into `buf` (without blocking), with the receive time of the last bytes read.
    pub fn recv(stream: &TcpStream, buf: &mut [u8]) -> std::io::Result<(usize, Option<u64>)> {
        let mut iov = [std::io::IoSliceMut::new(buf)];
        let mut control = nix::cmsg_space!(nix::sys::time::TimeSpec);
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut control),
            MsgFlags::MSG_DONTWAIT,
        )?;
        let mut arrived = None;
        if let Ok(cmsgs) = msg.cmsgs() {
            for cmsg in cmsgs {
                if let ControlMessageOwned::ScmTimestampns(ts) = cmsg {
                    let ns = ts.tv_sec() as i128 * 1_000_000_000 + ts.tv_nsec() as i128;
                    arrived = u64::try_from(ns).ok().filter(|&ns| ns != 0);
                }
            }
        }
        Ok((msg.bytes, arrived))
    }
}

/// Elsewhere reads carry no arrival.
#[cfg(not(target_os = "linux"))]
mod kernel_stamps {
    use tokio::net::TcpStream;

    pub fn enable<T>(_: &T) {}

    pub fn recv(stream: &TcpStream, buf: &mut [u8]) -> std::io::Result<(usize, Option<u64>)> {
        Ok((stream.try_read(buf)?, None))
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
