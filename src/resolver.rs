//! Name resolution for the webhooks the service calls. It is injected like the clock, so
//! that tests can make a name resolve to the address they choose.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

/// What a resolution gives: the addresses of a host, or why there are none.
pub type Resolving<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;

pub trait Resolver: Send + Sync {
    /// The addresses of `host`, with `port`.
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Resolving<'a>;
}

/// The operating system's resolver: what production uses.
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Resolving<'a> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}
