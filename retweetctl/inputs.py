"""Open a load input, a file or standard input, plain or compressed, as one decompressed stream.

The compression is told by magic bytes, never by the name: gzip, bzip2 and xz
through the standard library, zstd through `zstandard`. Everything streams, so
memory stays flat whatever the size, and `Input.consumed()` counts the bytes
read from the source: a progress bar moves on the size the user sees on disk.

Layers, bottom up: the file (or stdin) -> _Source (counts bytes, holds the
magic bytes read ahead, so a pipe works too) -> the decompressor, if any ->
_Decoded (names corrupt data as such) -> a 1 MiB BufferedReader (`stream`).
"""

from __future__ import annotations

import bz2
import enum
import gzip
import io
import lzma
import os
import stat
import sys
import zlib
from types import TracebackType
from typing import IO, Any, cast

import zstandard

from retweetctl.errors import DataError, NoInputError

# gzip through ISA-L (python-isal) where its wheels exist: it decompressed 541 MB of
# twarc2 pages in 0.62 CPU-seconds against 1.66 for the standard library's zlib
# (same file, same run). The standard library otherwise; the result is the same bytes.
_isal_gzip: Any
GZIP_ERRORS: tuple[type[BaseException], ...]
try:
    from isal import igzip as _isal_gzip
    from isal import isal_zlib

    GZIP_ERRORS = (cast(type[BaseException], isal_zlib.error),)
except ImportError:  # pragma: no cover - a platform without isal wheels
    _isal_gzip = None
    GZIP_ERRORS = ()
# What a decompressor raises for damaged or truncated data.
DECOMPRESSION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    zstandard.ZstdError,
    *GZIP_ERRORS,
)

__all__ = ["STDIN", "Compression", "CorruptInput", "Input", "detect", "open_input"]

STDIN = "-"
# The BufferedReader handed to the parsers: big enough that a Python-level read
# per buffer costs nothing next to the bytes in it.
READ_BUFFER_BYTES = 1 << 20


class Compression(enum.Enum):
    NONE = "none"
    GZIP = "gzip"
    BZIP2 = "bzip2"
    XZ = "xz"
    ZSTD = "zstd"


# Each format's magic number, from its specification (RFC 1952, bzip2, xz, RFC 8878).
MAGIC: dict[Compression, bytes] = {
    Compression.GZIP: b"\x1f\x8b",
    Compression.BZIP2: b"BZh",
    Compression.XZ: b"\xfd7zXZ\x00",
    Compression.ZSTD: b"\x28\xb5\x2f\xfd",
}
MAGIC_BYTES = max(len(magic) for magic in MAGIC.values())


class CorruptInput(DataError):
    """Compressed data that does not decompress (truncated or damaged): exit 65."""


def detect(head: bytes) -> Compression:
    """The compression whose magic number starts head (NONE for anything else)."""
    for kind, magic in MAGIC.items():
        if head.startswith(magic):
            return kind
    return Compression.NONE


class _Source(io.RawIOBase):
    """The raw input: counts the bytes read and serves the magic bytes read ahead first."""

    def __init__(self, raw: IO[bytes], name: str) -> None:
        super().__init__()
        self.raw = raw
        self.name_ = name
        self.count = 0
        self.head = b""
        while len(self.head) < MAGIC_BYTES:  # a pipe may hand over fewer bytes at a time
            more = self._read(MAGIC_BYTES - len(self.head))
            if not more:
                break
            self.head += more
        self._pending = self.head

    def _read(self, size: int) -> bytes:
        read1 = getattr(self.raw, "read1", None)
        try:
            data = read1(size) if read1 is not None else self.raw.read(size)
        except OSError as exc:
            raise NoInputError(f"cannot read {self.name_}: {exc.strerror or exc}") from None
        return data or b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = 0
        if self._pending:
            size = min(len(buffer), len(self._pending))
            buffer[:size] = self._pending[:size]
            self._pending = self._pending[size:]
            if size == len(buffer):
                self.count += size
                return size
        data = self._read(len(buffer) - size)
        buffer[size : size + len(data)] = data
        size += len(data)
        self.count += size
        return size


class _ZstdReader(io.RawIOBase):
    """zstd frames, one after another; a frame cut short is an EOFError.

    zstandard's own stream_reader ends quietly at a truncated frame, which would
    load half an archive without a word.
    """

    def __init__(self, source: IO[bytes]) -> None:
        super().__init__()
        self.source = source
        self.context = zstandard.ZstdDecompressor()
        self.frame = self.context.decompressobj()
        self.in_frame = False  # bytes of an unfinished frame were fed
        self.out = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self.out:
            if self.frame.eof:
                rest = self.frame.unused_data
                self.frame = self.context.decompressobj()
                self.in_frame = False
                if rest:
                    self.out = memoryview(self.frame.decompress(rest))
                    self.in_frame = True
                    continue
            data = self.source.read(READ_BUFFER_BYTES)
            if not data:
                if self.in_frame and not self.frame.eof:
                    raise EOFError("zstd frame not finished")
                return 0
            self.out = memoryview(self.frame.decompress(data))
            self.in_frame = True
        size = min(len(buffer), len(self.out))
        buffer[:size] = self.out[:size]
        self.out = self.out[size:]
        return size


class _Decoded(io.RawIOBase):
    """The decompressed bytes; decompression errors become CorruptInput.

    tell() (the decompressed position) works, so parsers that ask a seekable
    stream where they are keep working; any real seek is refused.
    """

    def __init__(self, inner: IO[bytes], name: str, kind: Compression) -> None:
        super().__init__()
        self.inner = inner
        self.name_ = name
        self.kind = kind
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if (offset, whence) in ((0, os.SEEK_CUR), (self.position, os.SEEK_SET)):
            return self.position
        raise io.UnsupportedOperation("a load input is read once, from start to end")

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            size = self.inner.readinto(buffer)  # type: ignore[attr-defined]
        except NoInputError:
            raise
        except DECOMPRESSION_ERRORS as exc:
            raise CorruptInput(
                f"{self.name_}: corrupt {self.kind.value} data ({_reason(exc)})"
            ) from None
        size = size or 0
        self.position += size
        return int(size)


def _gzip_reader(source: IO[bytes]) -> IO[bytes]:
    if _isal_gzip is not None:
        return cast(IO[bytes], _isal_gzip.GzipFile(fileobj=source, mode="rb"))
    return cast(IO[bytes], gzip.GzipFile(fileobj=source, mode="rb"))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "it ends too early: truncated?"
    return str(exc) or type(exc).__name__


class Input:
    """One opened input: `stream` holds its decompressed bytes (peek, readline, iteration)."""

    def __init__(self, name: str, raw: IO[bytes], size: int | None, owned: bool) -> None:
        self.name = name
        self.size = size  # bytes on disk (compressed); None for a pipe or stdin
        self._raw = raw if owned else None
        self._source = _Source(raw, name)
        self.compression = detect(self._source.head)
        buffered = io.BufferedReader(self._source, READ_BUFFER_BYTES)
        inner: IO[bytes]
        if self.compression is Compression.GZIP:
            inner = _gzip_reader(buffered)
        elif self.compression is Compression.BZIP2:
            inner = cast(IO[bytes], bz2.BZ2File(buffered, mode="rb"))
        elif self.compression is Compression.XZ:
            inner = cast(IO[bytes], lzma.LZMAFile(buffered, mode="rb"))  # noqa: SIM115
        elif self.compression is Compression.ZSTD:
            inner = cast(IO[bytes], _ZstdReader(buffered))
        else:
            inner = cast(IO[bytes], self._source)
        self._inner = inner
        self.stream: IO[bytes] = io.BufferedReader(
            _Decoded(inner, name, self.compression), READ_BUFFER_BYTES
        )

    def identity(self) -> tuple[str, int, int] | None:
        """(path, device, inode) of an uncompressed regular file, which other processes may
        open and read in ranges; None for anything else (stdin, a pipe, compressed data)."""
        if self._raw is None or self.size is None or self.compression is not Compression.NONE:
            return None
        info = os.fstat(self._raw.fileno())
        return (os.path.abspath(self.name), info.st_dev, info.st_ino)

    def consumed(self) -> int:
        """Bytes read from the source so far (compressed bytes for a compressed input)."""
        return self._source.count

    def peek(self, size: int) -> bytes:
        """Up to size decompressed bytes from the current position, without consuming them."""
        head: bytes = self.stream.peek(size)[:size]  # type: ignore[attr-defined]
        return head

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()

    def __enter__(self) -> Input:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_input(name: str, stdin: IO[bytes] | None = None) -> Input:
    """Open a file, or standard input for '-'; NoInputError (exit 66) if it cannot be read."""
    if name == STDIN:
        return Input(name, stdin if stdin is not None else sys.stdin.buffer, None, owned=False)
    try:
        raw = open(name, "rb", buffering=0)  # noqa: SIM115 - closed by Input.close()
    except OSError as exc:
        raise NoInputError(f"cannot read {name}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(raw.fileno())
        size = info.st_size if stat.S_ISREG(info.st_mode) else None
        return Input(name, raw, size, owned=True)
    except BaseException:
        raw.close()
        raise
