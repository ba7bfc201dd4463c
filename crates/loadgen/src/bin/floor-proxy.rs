//! `cloudstore-floor-proxy`: the cheapest gateway there can be, to measure what the gateway's
//! CPU per request is compared against.
//!
//! It forwards every request verbatim (method, path, query, headers, body) to one backend over
//! the same stack the gateway uses — hyper 1 server and client, `TCP_NODELAY`, keep-alive, one
//! current-thread tokio runtime — and streams the answer back. No authentication, no parsing,
//! no metadata, no re-signing: the client's signature is checked by the backend itself, which
//! sees the `Host` the client signed. So the CPU this process spends per request is the floor
//! of any gateway that adds one network hop in front of the backend on this machine (see
//! docs/benchmarks.md, "The floor of one extra hop").
//!
//! ```text
//! cloudstore-floor-proxy --listen 127.0.0.1:39100 --backend http://127.0.0.1:58333
//! ```
//!
//! A benchmark tool only: it does no checks at all and must never face a network.

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use clap::Parser;
use http::uri::{Authority, Scheme};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// Forwards requests verbatim to one backend (a benchmark floor; see the module docs).
#[derive(Debug, Parser)]
#[command(name = "cloudstore-floor-proxy", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:39100")]
    listen: SocketAddr,
    /// The backend, http://host:port.
    #[arg(long)]
    backend: Uri,
}

type Body = BoxBody<Bytes, hyper::Error>;

fn main() -> Result<()> {
    let args = Args::parse();
    let (Some(scheme), Some(authority)) = (args.backend.scheme().cloned(), args.backend.authority().cloned()) else {
        bail!("--backend must be http://host:port");
    };
    if scheme != Scheme::HTTP {
        bail!("--backend must be plain http");
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("runtime")?;
    rt.block_on(serve(args.listen, scheme, authority))
}

async fn serve(listen: SocketAddr, scheme: Scheme, authority: Authority) -> Result<()> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).pool_max_idle_per_host(256).build(connector);
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("bind {listen}"))?;
    eprintln!("forwarding {listen} -> {scheme}://{authority}");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            eprintln!("TCP_NODELAY: {e}");
        }
        let (client, scheme, authority) = (client.clone(), scheme.clone(), authority.clone());
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req| forward(client.clone(), scheme.clone(), authority.clone(), req));
            if let Err(e) =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await
            {
                eprintln!("connection: {e}");
            }
        });
    }
}

/// Sends `req` to the backend as it is (only the URI's scheme and authority change) and hands
/// back its answer, or 502 when the backend cannot be reached.
async fn forward(
    client: Client<HttpConnector, Incoming>,
    scheme: Scheme,
    authority: Authority,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let mut parts = req.uri().clone().into_parts();
    parts.scheme = Some(scheme);
    parts.authority = Some(authority);
    match Uri::from_parts(parts) {
        Ok(uri) => *req.uri_mut() = uri,
        Err(e) => return Ok(error(StatusCode::BAD_REQUEST, &format!("bad request target: {e}"))),
    }
    Ok(match client.request(req).await {
        Ok(resp) => resp.map(BodyExt::boxed),
        Err(e) => error(StatusCode::BAD_GATEWAY, &format!("backend: {e}")),
    })
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    let body = Full::new(Bytes::from(format!("{message}\n"))).map_err(|never| match never {}).boxed();
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp
}
