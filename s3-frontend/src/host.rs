//! Virtual-hosted-style addressing: `bucket.<domain>[:port]` names a bucket; the bare domain,
//! an IP address or any other host name is path-style. (s3s's own parsers treat an unknown
//! host as a bucket name and don't strip the port, which breaks `localhost:9000`.)

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

/// Base domains under which a leading label names a bucket.
#[derive(Debug, Clone)]
pub struct Domains {
    domains: Vec<String>,
}

impl Domains {
    /// `domains` are lower-cased; empty entries are dropped.
    #[must_use]
    pub fn new(domains: &[String]) -> Self {
        Self { domains: domains.iter().map(|d| d.trim().to_ascii_lowercase()).filter(|d| !d.is_empty()).collect() }
    }
}

impl Domains {
    /// Whether `host` (a Host header) names a bucket, virtual-hosted-style.
    #[must_use]
    pub fn names_bucket(&self, host: &str) -> bool {
        self.parse_host_header(host).is_ok_and(|v| v.bucket().is_some())
    }
}

/// `host` without a trailing `:port` (IPv6 literals keep their brackets).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    match host.split_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

impl S3Host for Domains {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = strip_port(host);
        for d in &self.domains {
            if name.eq_ignore_ascii_case(d) {
                return Ok(VirtualHost::new(d.as_str()));
            }
            if name.len() > d.len() + 1 {
                let (head, tail) = name.split_at(name.len() - d.len());
                if tail.eq_ignore_ascii_case(d) && head.ends_with('.') {
                    let bucket = &head[..head.len() - 1];
                    return Ok(VirtualHost::new(d.as_str()).with_bucket(bucket.to_ascii_lowercase()));
                }
            }
        }
        Ok(VirtualHost::new(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket_of(d: &Domains, host: &str) -> Option<String> {
        d.parse_host_header(host).ok().and_then(|v| v.bucket().map(str::to_owned))
    }

    #[test]
    fn only_subdomains_of_known_domains_name_buckets() {
        let d = Domains::new(&["localhost".into(), "s3.example.com".into()]);
        assert_eq!(bucket_of(&d, "localhost:9000"), None);
        assert_eq!(bucket_of(&d, "localhost"), None);
        assert_eq!(bucket_of(&d, "photos.localhost:9000").as_deref(), Some("photos"));
        assert_eq!(bucket_of(&d, "my.dotted.bucket.s3.example.com").as_deref(), Some("my.dotted.bucket"));
        assert_eq!(bucket_of(&d, "S3.Example.com"), None);
        assert_eq!(bucket_of(&d, "other-host:9000"), None);
        assert_eq!(bucket_of(&d, "127.0.0.1:9000"), None);
        assert_eq!(bucket_of(&d, "[::1]:9000"), None);
        assert_eq!(bucket_of(&d, "evilexample.com"), None);
    }
}
