//! GetObjectTorrent: a BitTorrent metainfo file (BEP 3) for an object, made by streaming the
//! object once through SHA-1 in 256 KiB pieces (nothing but the piece hashes is held). As on
//! AWS, only for objects under 5 GB. The file names no tracker (there is none here):
//! trackerless clients find peers by DHT, and the object itself stays where it is.

use futures::StreamExt as _;
use s3s::crypto::{Checksum as _, Sha1};
use s3s::dto::{GetObjectTorrentInput, GetObjectTorrentOutput, StreamingBlob};
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Gateway;

/// Bytes per piece.
const PIECE: usize = 256 * 1024;
/// AWS makes torrents for objects under 5 GB only.
const MAX_OBJECT: u64 = 5_000_000_000;

/// A bencoded byte string.
fn bstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(s);
}

/// The metainfo of a file `name` of `length` bytes whose pieces hash to `pieces` (keys in
/// byte order, as bencoding requires).
fn metainfo(name: &str, length: u64, pieces: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pieces.len() + name.len() + 128);
    out.push(b'd');
    bstr(&mut out, b"created by");
    bstr(&mut out, b"cloudstore");
    bstr(&mut out, b"info");
    out.push(b'd');
    bstr(&mut out, b"length");
    out.extend_from_slice(format!("i{length}e").as_bytes());
    bstr(&mut out, b"name");
    bstr(&mut out, name.as_bytes());
    bstr(&mut out, b"piece length");
    out.extend_from_slice(format!("i{PIECE}e").as_bytes());
    bstr(&mut out, b"pieces");
    bstr(&mut out, pieces);
    out.extend_from_slice(b"ee");
    out
}

impl Gateway {
    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetObjectTorrent", bucket = %req.input.bucket, key = %req.input.key))]
    pub(crate) async fn op_get_object_torrent(
        &self,
        req: S3Request<GetObjectTorrentInput>,
    ) -> S3Result<S3Response<GetObjectTorrentOutput>> {
        let input = req.input;
        let obj = self.object(&input.bucket, &input.key).await?;
        if obj.size >= MAX_OBJECT {
            return Err(s3_error!(InvalidRequest, "Torrents are made only for objects smaller than 5 GB."));
        }
        let key = self.object_key(&obj, None).await?;
        let mut stream = self.open_range(&obj, 0..obj.size, key.as_ref()).await?;
        let pieces_len = usize::try_from(obj.size.div_ceil(PIECE as u64)).unwrap_or(0) * 20;
        let mut pieces = Vec::with_capacity(pieces_len);
        let (mut hasher, mut filled) = (Sha1::new(), 0usize);
        while let Some(chunk) = stream.next().await {
            let mut chunk = chunk.map_err(|e| {
                tracing::error!(error = %e, "reading the object for its torrent failed");
                s3_error!(InternalError)
            })?;
            while !chunk.is_empty() {
                let take = (PIECE - filled).min(chunk.len());
                hasher.update(&chunk.split_to(take));
                filled += take;
                if filled == PIECE {
                    pieces.extend_from_slice(std::mem::replace(&mut hasher, Sha1::new()).finalize().as_ref());
                    filled = 0;
                }
            }
        }
        if filled > 0 {
            pieces.extend_from_slice(hasher.finalize().as_ref());
        }
        let name = input.key.rsplit('/').find(|s| !s.is_empty()).unwrap_or(&input.key);
        let body = bytes::Bytes::from(metainfo(name, obj.size, &pieces));
        Ok(S3Response::new(GetObjectTorrentOutput {
            body: Some(StreamingBlob::from(s3s::Body::from(body))),
            ..Default::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metainfo_is_bencoded_with_sorted_keys() {
        let pieces = [7u8; 40];
        let m = metainfo("cat.jpg", 300_000, &pieces);
        let mut want =
            b"d10:created by10:cloudstore4:infod6:lengthi300000e4:name7:cat.jpg12:piece lengthi262144e6:pieces40:"
                .to_vec();
        want.extend_from_slice(&pieces);
        want.extend_from_slice(b"ee");
        assert_eq!(m, want);
    }
}
