//! The mock network through the async traits (features `mock` and `async`):
//! edge-nal's `TcpBind` for the async server, embedded-nal-async's `TcpConnect`
//! for the async client, with every fault of the mock (`WouldBlock`, short sends
//! and receives, chaos, resets) on the way.
//!
//! An operation that would block returns `Pending` and wakes its task at once: the
//! mock has no events to wait for, so a test's executor simply polls again after it
//! moved the clock or the peers. Deterministic, like the rest of the mock.

use core::cell::RefCell;
use core::future::poll_fn;
use core::net::{IpAddr, SocketAddr};
use core::task::{Context, Poll};

use edge_nal::{Close, Readable, TcpAccept, TcpBind, TcpShutdown, TcpSplit};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_nal::{nb, TcpClientStack, TcpFullStack};

use crate::stack::mock::{MockError, MockNetwork, MockSocket, MockStack};

/// A host of a [`MockNetwork`] seen through the async traits: from
/// [`MockNetwork::async_stack`].
pub struct AsyncMockStack<'n, const SOCKETS: usize = 32, const PIPE: usize = 4096> {
    net: &'n MockNetwork<SOCKETS, PIPE>,
    ip: IpAddr,
}

/// A listening socket of an [`AsyncMockStack`].
pub struct AsyncMockAcceptor<'n, const SOCKETS: usize = 32, const PIPE: usize = 4096> {
    net: &'n MockNetwork<SOCKETS, PIPE>,
    ip: IpAddr,
    listener: RefCell<Option<MockSocket>>,
}

/// A connected socket of an [`AsyncMockStack`]. Dropping it closes it.
pub struct AsyncMockSocket<'n, const SOCKETS: usize = 32, const PIPE: usize = 4096> {
    stack: MockStack<'n, SOCKETS, PIPE>,
    socket: Option<MockSocket>,
    reader: Peeked,
}

/// One half of a split [`AsyncMockSocket`].
pub struct AsyncMockHalf<'s, 'n, const SOCKETS: usize = 32, const PIPE: usize = 4096> {
    stack: MockStack<'n, SOCKETS, PIPE>,
    socket: Option<MockSocket>,
    reader: Option<&'s mut Peeked>,
}

/// What `readable` took from the socket to find out, and `read` hands on first:
/// the mock can only tell that data is there by receiving it.
#[derive(Default)]
struct Peeked {
    byte: Option<u8>,
    end: bool,
}

impl<const SOCKETS: usize, const PIPE: usize> MockNetwork<SOCKETS, PIPE> {
    /// The host at `ip`, through edge-nal's and embedded-nal-async's traits.
    pub fn async_stack(&self, ip: IpAddr) -> AsyncMockStack<'_, SOCKETS, PIPE> {
        AsyncMockStack { net: self, ip }
    }
}

impl embedded_io_async::Error for MockError {
    fn kind(&self) -> ErrorKind {
        match self {
            MockError::PipeClosed => ErrorKind::BrokenPipe,
            MockError::Reset => ErrorKind::ConnectionReset,
            MockError::ConnectionRefused => ErrorKind::ConnectionRefused,
            MockError::AddrInUse => ErrorKind::AddrInUse,
            MockError::NoSocket => ErrorKind::OutOfMemory,
            MockError::InvalidState => ErrorKind::InvalidInput,
            _ => ErrorKind::Other,
        }
    }
}

/// Polls an `nb` call until it stops blocking.
fn ready<T>(cx: &mut Context<'_>, result: nb::Result<T, MockError>) -> Poll<Result<T, MockError>> {
    match result {
        Ok(value) => Poll::Ready(Ok(value)),
        Err(nb::Error::Other(e)) => Poll::Ready(Err(e)),
        Err(nb::Error::WouldBlock) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl<'n, const SOCKETS: usize, const PIPE: usize> TcpBind for AsyncMockStack<'n, SOCKETS, PIPE> {
    type Error = MockError;
    type Accept<'a>
        = AsyncMockAcceptor<'n, SOCKETS, PIPE>
    where
        Self: 'a;

    /// Listens on `local`'s port (the mock has one address per host).
    async fn bind(&self, local: SocketAddr) -> Result<Self::Accept<'_>, MockError> {
        let mut stack = self.net.stack(self.ip);
        let mut listener = TcpClientStack::socket(&mut stack)?;
        let listening = TcpFullStack::bind(&mut stack, &mut listener, local.port())
            .and_then(|()| stack.listen(&mut listener));
        if let Err(e) = listening {
            let _ = TcpClientStack::close(&mut stack, listener);
            return Err(e);
        }
        Ok(AsyncMockAcceptor {
            net: self.net,
            ip: self.ip,
            listener: RefCell::new(Some(listener)),
        })
    }
}

impl<'n, const SOCKETS: usize, const PIPE: usize> TcpAccept
    for AsyncMockAcceptor<'n, SOCKETS, PIPE>
{
    type Error = MockError;
    type Socket<'a>
        = AsyncMockSocket<'n, SOCKETS, PIPE>
    where
        Self: 'a;

    async fn accept(&self) -> Result<(SocketAddr, Self::Socket<'_>), MockError> {
        let mut stack = self.net.stack(self.ip);
        let (socket, peer) = poll_fn(|cx| match self.listener.borrow_mut().as_mut() {
            Some(listener) => ready(cx, stack.accept(listener)),
            None => Poll::Ready(Err(MockError::InvalidState)),
        })
        .await?;
        Ok((peer, AsyncMockSocket::new(stack, socket)))
    }
}

impl<const SOCKETS: usize, const PIPE: usize> Drop for AsyncMockAcceptor<'_, SOCKETS, PIPE> {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.get_mut().take() {
            let _ = TcpClientStack::close(&mut self.net.stack(self.ip), listener);
        }
    }
}

impl<'n, const SOCKETS: usize, const PIPE: usize> embedded_nal_async::TcpConnect
    for AsyncMockStack<'n, SOCKETS, PIPE>
{
    type Error = MockError;
    type Connection<'a>
        = AsyncMockSocket<'n, SOCKETS, PIPE>
    where
        Self: 'a;

    async fn connect<'a>(&'a self, remote: SocketAddr) -> Result<Self::Connection<'a>, MockError> {
        let mut stack = self.net.stack(self.ip);
        let mut socket = TcpClientStack::socket(&mut stack)?;
        let connected = poll_fn(|cx| ready(cx, stack.connect(&mut socket, remote))).await;
        match connected {
            Ok(()) => Ok(AsyncMockSocket::new(stack, socket)),
            Err(e) => {
                let _ = TcpClientStack::close(&mut stack, socket);
                Err(e)
            }
        }
    }
}

impl<'n, const SOCKETS: usize, const PIPE: usize> AsyncMockSocket<'n, SOCKETS, PIPE> {
    fn new(stack: MockStack<'n, SOCKETS, PIPE>, socket: MockSocket) -> Self {
        Self {
            stack,
            socket: Some(socket),
            reader: Peeked::default(),
        }
    }

    /// The socket's address on the network, as the peer sees it.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.stack.local_addr(self.socket.as_ref()?)
    }
}

impl<const SOCKETS: usize, const PIPE: usize> Drop for AsyncMockSocket<'_, SOCKETS, PIPE> {
    fn drop(&mut self) {
        if let Some(socket) = self.socket.take() {
            let _ = TcpClientStack::close(&mut self.stack, socket);
        }
    }
}

/// Receives into `buf`, the peeked byte first.
async fn receive<const S: usize, const P: usize>(
    stack: &mut MockStack<'_, S, P>,
    socket: Option<&mut MockSocket>,
    peeked: &mut Peeked,
    buf: &mut [u8],
) -> Result<usize, MockError> {
    let Some(socket) = socket else {
        return Err(MockError::InvalidState);
    };
    let Some((first, rest)) = buf.split_first_mut() else {
        return Ok(0);
    };
    if let Some(byte) = peeked.byte.take() {
        *first = byte;
        return match stack.receive(socket, rest) {
            Ok(n) => Ok(1 + n),
            Err(_) => Ok(1),
        };
    }
    if peeked.end {
        return Ok(0);
    }
    poll_fn(|cx| ready(cx, stack.receive(socket, buf))).await
}

/// Waits until a receive would not block: data, the end, or an error.
async fn peek<const S: usize, const P: usize>(
    stack: &mut MockStack<'_, S, P>,
    socket: Option<&mut MockSocket>,
    peeked: &mut Peeked,
) -> Result<(), MockError> {
    let Some(socket) = socket else {
        return Err(MockError::InvalidState);
    };
    if peeked.byte.is_some() || peeked.end {
        return Ok(());
    }
    let mut byte = [0u8; 1];
    match poll_fn(|cx| ready(cx, stack.receive(socket, &mut byte))).await? {
        0 => peeked.end = true,
        _ => peeked.byte = Some(byte[0]),
    }
    Ok(())
}

async fn send<const S: usize, const P: usize>(
    stack: &mut MockStack<'_, S, P>,
    socket: Option<&mut MockSocket>,
    buf: &[u8],
) -> Result<usize, MockError> {
    let Some(socket) = socket else {
        return Err(MockError::InvalidState);
    };
    poll_fn(|cx| ready(cx, stack.send(socket, buf))).await
}

impl<const SOCKETS: usize, const PIPE: usize> ErrorType for AsyncMockSocket<'_, SOCKETS, PIPE> {
    type Error = MockError;
}

impl<const SOCKETS: usize, const PIPE: usize> Read for AsyncMockSocket<'_, SOCKETS, PIPE> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, MockError> {
        receive(&mut self.stack, self.socket.as_mut(), &mut self.reader, buf).await
    }
}

impl<const SOCKETS: usize, const PIPE: usize> Readable for AsyncMockSocket<'_, SOCKETS, PIPE> {
    async fn readable(&mut self) -> Result<(), MockError> {
        peek(&mut self.stack, self.socket.as_mut(), &mut self.reader).await
    }
}

impl<const SOCKETS: usize, const PIPE: usize> Write for AsyncMockSocket<'_, SOCKETS, PIPE> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, MockError> {
        send(&mut self.stack, self.socket.as_mut(), buf).await
    }

    /// The mock delivers what it takes at once: nothing waits to be flushed.
    async fn flush(&mut self) -> Result<(), MockError> {
        Ok(())
    }
}

impl<const SOCKETS: usize, const PIPE: usize> TcpShutdown for AsyncMockSocket<'_, SOCKETS, PIPE> {
    /// Closes the whole socket whatever `what` is: the mock has no half-close.
    async fn close(&mut self, _what: Close) -> Result<(), MockError> {
        match self.socket.take() {
            Some(socket) => TcpClientStack::close(&mut self.stack, socket),
            None => Ok(()),
        }
    }

    async fn abort(&mut self) -> Result<(), MockError> {
        if let Some(socket) = self.socket.as_ref() {
            self.stack.reset(socket);
        }
        self.close(Close::Both).await
    }
}

impl<'n, const SOCKETS: usize, const PIPE: usize> TcpSplit for AsyncMockSocket<'n, SOCKETS, PIPE> {
    type Read<'a>
        = AsyncMockHalf<'a, 'n, SOCKETS, PIPE>
    where
        Self: 'a;
    type Write<'a>
        = AsyncMockHalf<'a, 'n, SOCKETS, PIPE>
    where
        Self: 'a;

    fn split(&mut self) -> (Self::Read<'_>, Self::Write<'_>) {
        let net = self.stack.network();
        let ip = self.stack.ip();
        let handle = || self.socket.as_ref().map(MockSocket::alias);
        let (read, write) = (handle(), handle());
        (
            AsyncMockHalf {
                stack: net.stack(ip),
                socket: read,
                reader: Some(&mut self.reader),
            },
            AsyncMockHalf {
                stack: net.stack(ip),
                socket: write,
                reader: None,
            },
        )
    }
}

impl<const SOCKETS: usize, const PIPE: usize> ErrorType for AsyncMockHalf<'_, '_, SOCKETS, PIPE> {
    type Error = MockError;
}

impl<const SOCKETS: usize, const PIPE: usize> Read for AsyncMockHalf<'_, '_, SOCKETS, PIPE> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, MockError> {
        let mut unused = Peeked::default();
        let peeked = self.reader.as_deref_mut().unwrap_or(&mut unused);
        receive(&mut self.stack, self.socket.as_mut(), peeked, buf).await
    }
}

impl<const SOCKETS: usize, const PIPE: usize> Readable for AsyncMockHalf<'_, '_, SOCKETS, PIPE> {
    async fn readable(&mut self) -> Result<(), MockError> {
        let mut unused = Peeked::default();
        let peeked = self.reader.as_deref_mut().unwrap_or(&mut unused);
        peek(&mut self.stack, self.socket.as_mut(), peeked).await
    }
}

impl<const SOCKETS: usize, const PIPE: usize> Write for AsyncMockHalf<'_, '_, SOCKETS, PIPE> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, MockError> {
        send(&mut self.stack, self.socket.as_mut(), buf).await
    }

    /// The mock delivers what it takes at once: nothing waits to be flushed.
    async fn flush(&mut self) -> Result<(), MockError> {
        Ok(())
    }
}
