#!/usr/bin/env python3
"""Small, dependency-free helpers for run.sh and boto3_suite.py.

Subcommands (all print one line to stdout):
  gen PATH SIZE SEED          write SIZE deterministic pseudo-random bytes to PATH
  sha256 PATH [RANGE]         hex SHA-256 of PATH, or of the bytes an HTTP Range
                              header value (bytes=a-b, bytes=-n, bytes=a-) selects
  checksum ALGO PATH          the S3 x-amz-checksum-ALGO value (base64) of PATH;
                              ALGO is crc32, crc32c, sha1 or sha256
  composite ALGO PARTSIZE PATH
                              the S3 COMPOSITE multipart checksum ("b64-N") of PATH
                              uploaded in PARTSIZE parts
  md5 PATH                    hex MD5 of PATH (the ETag of a single-part upload)
  mpu-etag PARTSIZE PATH      the multipart ETag ("hex-N") of PATH uploaded in
                              PARTSIZE parts
  range-bounds SIZE RANGE     "first last" byte positions RANGE selects in SIZE bytes
"""

import base64
import hashlib
import random
import struct
import sys
import zlib

CHUNK = 1 << 20

try:  # awscrt comes with botocore[crt]; fall back to a table when it is absent
    from awscrt import checksums as _crt_checksums
except ImportError:  # pragma: no cover - depends on the environment
    _crt_checksums = None

_CRC32C_TABLE = None


def _crc32c_py(data, crc=0):
    global _CRC32C_TABLE
    if _CRC32C_TABLE is None:
        table = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table.append(c)
        _CRC32C_TABLE = table
    t = _CRC32C_TABLE
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


class _Crc:
    """hashlib-like wrapper for CRC32 / CRC32C giving the 4 big-endian bytes S3 uses."""

    def __init__(self, castagnoli):
        self.castagnoli = castagnoli
        self.value = 0

    def update(self, data):
        if self.castagnoli:
            if _crt_checksums is not None:
                self.value = _crt_checksums.crc32c(data, self.value)
            else:
                self.value = _crc32c_py(data, self.value)
        else:
            self.value = zlib.crc32(data, self.value)

    def digest(self):
        return struct.pack(">I", self.value & 0xFFFFFFFF)


def new_hasher(algo):
    algo = algo.lower()
    if algo == "crc32":
        return _Crc(False)
    if algo == "crc32c":
        return _Crc(True)
    if algo in ("sha1", "sha256", "md5"):
        return hashlib.new(algo)
    raise SystemExit(f"unknown checksum algorithm {algo}")


def checksum_bytes(algo, data):
    h = new_hasher(algo)
    h.update(data)
    return base64.b64encode(h.digest()).decode()


def gen_bytes(size, seed):
    """Deterministic pseudo-random bytes (the same for the same size and seed)."""
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        out += rng.randbytes(min(CHUNK, size - len(out)))
    return bytes(out)


def gen(path, size, seed):
    rng = random.Random(seed)
    left = size
    with open(path, "wb") as f:
        while left > 0:
            n = min(CHUNK, left)
            f.write(rng.randbytes(n))
            left -= n


def iter_file(path, start=0, length=None):
    with open(path, "rb") as f:
        f.seek(start)
        left = length
        while left is None or left > 0:
            n = CHUNK if left is None else min(CHUNK, left)
            block = f.read(n)
            if not block:
                break
            if left is not None:
                left -= len(block)
            yield block


def range_bounds(size, spec):
    """Inclusive (first, last) for an HTTP Range value of a single range."""
    if not spec.startswith("bytes="):
        raise SystemExit(f"bad range {spec}")
    a, b = spec[len("bytes=") :].split("-", 1)
    if a == "":
        n = int(b)
        return max(0, size - n), size - 1
    first = int(a)
    last = size - 1 if b == "" else min(int(b), size - 1)
    return first, last


def file_digest(algo, path, start=0, length=None):
    h = new_hasher(algo)
    for block in iter_file(path, start, length):
        h.update(block)
    return h


def part_digests(algo, part_size, path):
    out = []
    with open(path, "rb") as f:
        while True:
            block = f.read(part_size)
            if not block:
                break
            h = new_hasher(algo)
            h.update(block)
            out.append(h.digest())
    return out


def mpu_etag(part_size, path):
    digests = part_digests("md5", part_size, path)
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def composite(algo, part_size, path):
    digests = part_digests(algo, part_size, path)
    h = new_hasher(algo)
    h.update(b"".join(digests))
    return f"{base64.b64encode(h.digest()).decode()}-{len(digests)}"


def main(argv):
    if not argv:
        raise SystemExit(__doc__)
    cmd, args = argv[0], argv[1:]
    if cmd == "gen":
        gen(args[0], int(args[1]), int(args[2]))
    elif cmd == "sha256":
        path = args[0]
        if len(args) > 1:
            import os

            first, last = range_bounds(os.path.getsize(path), args[1])
            print(file_digest("sha256", path, first, last - first + 1).hexdigest())
        else:
            print(file_digest("sha256", path).hexdigest())
    elif cmd == "checksum":
        print(base64.b64encode(file_digest(args[0], args[1]).digest()).decode())
    elif cmd == "composite":
        print(composite(args[0], int(args[1]), args[2]))
    elif cmd == "md5":
        print(file_digest("md5", args[0]).hexdigest())
    elif cmd == "mpu-etag":
        print(mpu_etag(int(args[0]), args[1]))
    elif cmd == "range-bounds":
        first, last = range_bounds(int(args[0]), args[1])
        print(first, last)
    else:
        raise SystemExit(f"unknown subcommand {cmd}\n{__doc__}")


if __name__ == "__main__":
    main(sys.argv[1:])
