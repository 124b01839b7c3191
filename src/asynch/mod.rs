//! Async front ends (feature `async`): [`AsyncEchoServer`] over edge-nal's
//! `TcpBind` and [`AsyncPeriodicClient`] over embedded-nal-async's `TcpConnect`,
//! for embassy-net and other async stacks. They keep the rules, counters, screen
//! and text decoding of the `poll` server and client, which they share; the async
//! delay and the crate's [`Clock`](crate::time::Clock) stand in for a timer, so no
//! executor or timer crate is tied in.

mod echo_server;
mod notify;
mod periodic_client;
mod sleep;

pub use echo_server::AsyncEchoServer;
pub use periodic_client::AsyncPeriodicClient;
