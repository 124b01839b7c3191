//! Helpers shared by the integration tests: a hand-driven peer on the mock network.
#![allow(dead_code)]

pub mod i2c;
pub mod ipv6;
pub mod saved;
pub mod std_calls;
pub mod streams;
pub mod watchdog;

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use embedded_nal::{nb, TcpClientStack, TcpFullStack};
use nal_echo::stack::mock::{MockError, MockNetwork, MockSocket, MockStack};

pub const SERVER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 0, 4));

pub fn client_ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 168, 0, 10 + n))
}

pub fn server_addr(port: u16) -> SocketAddr {
    SocketAddr::new(SERVER_IP, port)
}

/// A test peer: one socket on its own stack, driven step by step by the test.
pub struct Peer<'n> {
    pub stack: MockStack<'n>,
    pub socket: Option<MockSocket>,
    pub received: Vec<u8>,
    pub closed: bool,
    pub reset: bool,
}

impl<'n> Peer<'n> {
    pub fn connect(net: &'n MockNetwork, ip: IpAddr, to: SocketAddr) -> Self {
        let mut stack = net.stack(ip);
        let mut socket = stack.socket().unwrap();
        stack.connect(&mut socket, to).unwrap();
        Self {
            stack,
            socket: Some(socket),
            received: Vec::new(),
            closed: false,
            reset: false,
        }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.stack
            .local_addr(self.socket.as_ref().unwrap())
            .unwrap()
    }

    /// Sends what the stack takes now; returns the count.
    pub fn send(&mut self, bytes: &[u8]) -> usize {
        match self.stack.send(self.socket.as_mut().unwrap(), bytes) {
            Ok(n) => n,
            Err(nb::Error::WouldBlock) => 0,
            Err(nb::Error::Other(MockError::PipeClosed)) => {
                self.closed = true;
                0
            }
            Err(e) => panic!("send failed: {e:?}"),
        }
    }

    /// Reads everything available now into `received`; notes an orderly close or reset.
    pub fn read(&mut self) -> usize {
        let mut total = 0;
        let mut buf = [0u8; 512];
        for _ in 0..10_000 {
            match self.stack.receive(self.socket.as_mut().unwrap(), &mut buf) {
                Ok(0) => {
                    self.closed = true;
                    break;
                }
                Ok(n) => {
                    self.received.extend_from_slice(&buf[..n]);
                    total += n;
                }
                Err(nb::Error::WouldBlock) => break,
                Err(nb::Error::Other(MockError::Reset)) => {
                    self.reset = true;
                    break;
                }
                Err(e) => panic!("receive failed: {e:?}"),
            }
        }
        total
    }

    pub fn close(&mut self) {
        if let Some(s) = self.socket.take() {
            self.stack.close(s).unwrap();
        }
    }
}

/// A hand-driven server socket: listen, accept one peer, read and write on demand.
pub struct ManualServer<'n> {
    pub stack: MockStack<'n>,
    pub listener: Option<MockSocket>,
    pub conn: Option<(MockSocket, SocketAddr)>,
    pub received: Vec<u8>,
}

impl<'n> ManualServer<'n> {
    pub fn listen(net: &'n MockNetwork, port: u16) -> Self {
        let mut stack = net.stack(SERVER_IP);
        let mut l = stack.socket().unwrap();
        stack.bind(&mut l, port).unwrap();
        stack.listen(&mut l).unwrap();
        Self {
            stack,
            listener: Some(l),
            conn: None,
            received: Vec::new(),
        }
    }

    pub fn accept(&mut self) -> bool {
        if self.conn.is_some() {
            return true;
        }
        match self.stack.accept(self.listener.as_mut().unwrap()) {
            Ok(c) => {
                self.conn = Some(c);
                true
            }
            Err(nb::Error::WouldBlock) => false,
            Err(e) => panic!("accept failed: {e:?}"),
        }
    }

    /// Reads what arrived; returns the new bytes.
    pub fn read(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let Some((s, _)) = self.conn.as_mut() else {
            return out;
        };
        let mut buf = [0u8; 512];
        while let Ok(n @ 1..) = self.stack.receive(s, &mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        self.received.extend_from_slice(&out);
        out
    }

    pub fn write(&mut self, bytes: &[u8]) {
        let (s, _) = self.conn.as_mut().unwrap();
        assert_eq!(self.stack.send(s, bytes).unwrap(), bytes.len());
    }

    pub fn drop_conn(&mut self) {
        if let Some((s, _)) = self.conn.take() {
            let _ = self.stack.close(s);
        }
    }

    pub fn stop_listening(&mut self) {
        self.drop_conn();
        if let Some(l) = self.listener.take() {
            self.stack.close(l).unwrap();
        }
    }
}
