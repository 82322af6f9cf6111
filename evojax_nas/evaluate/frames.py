"""Length-prefixed JSON frames over a socket, read without ever blocking: the peer may be hostile.

A frame is an 8-byte big-endian length and that many bytes of UTF-8 JSON. The reader takes whatever has
arrived; a frame larger than its limit or bytes that are not JSON are a FrameError, a close is reported,
and the caller owns the deadline (it waits on the socket with `select`)."""

from __future__ import annotations

import json
import os
import socket
import struct
from typing import Any

HEADER = struct.Struct("!Q")


class FrameError(Exception):
    """The peer closed, sent garbage or sent too much."""


def send(sock: socket.socket | int, message: Any) -> None:
    """Send one frame (blocking: used by the side whose peer is the trusted parent)."""
    payload = json.dumps(message, default=float).encode()
    data = HEADER.pack(len(payload)) + payload
    fd = sock if isinstance(sock, int) else sock.fileno()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class FrameReader:
    """Accumulates bytes from a non-blocking socket and yields whole frames."""

    def __init__(self, sock: socket.socket, limit: int, max_containers: int = 10_000):
        self.sock, self.limit, self.max_containers = sock, limit, max_containers
        self.sock.setblocking(False)
        self.buffer = bytearray()
        self.closed = False

    def fileno(self) -> int:
        """For select/wait."""
        return self.sock.fileno()

    def read(self) -> list[Any]:
        """Read what is available; return the complete frames decoded (possibly none). Once the peer has
        closed, `closed` is true; bytes left of an unfinished frame are then `truncated`.
        Raises FrameError on oversize or garbage."""
        while not self.closed:
            try:
                chunk = self.sock.recv(1 << 20)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                chunk = b""  # a reset connection is a closed one
            if not chunk:
                self.closed = True
                break
            self.buffer += chunk
            if len(self.buffer) > self.limit + HEADER.size:
                raise FrameError(f"reply larger than {self.limit} bytes")
        frames = []
        while len(self.buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self.buffer)
            if size > self.limit:
                raise FrameError(f"reply frame of {size} bytes, over the limit of {self.limit}")
            if len(self.buffer) < HEADER.size + size:
                break
            payload = bytes(self.buffer[HEADER.size:HEADER.size + size])
            del self.buffer[:HEADER.size + size]
            if payload.count(b"{") + payload.count(b"[") > self.max_containers:  # 64 MB of `{}` decodes to GBs
                raise FrameError(f"reply has more than {self.max_containers} objects and arrays")
            try:
                frames.append(json.loads(payload))
            except Exception as err:  # noqa: BLE001 (not JSON, or JSON nested deep enough to exhaust the stack)
                raise FrameError(f"reply is not JSON we accept ({type(err).__name__})") from err
        return frames

    @property
    def truncated(self) -> bool:
        """The peer closed in the middle of a frame."""
        return self.closed and bool(self.buffer)


def recv(sock: socket.socket, limit: int) -> Any:
    """Receive one frame, blocking (for a side whose peer is the trusted parent). EOFError when it closed."""
    def exactly(n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError("the peer closed the connection")
            data += chunk
        return bytes(data)

    (size,) = HEADER.unpack(exactly(HEADER.size))
    if size > limit:
        raise FrameError(f"frame of {size} bytes, over the limit of {limit}")
    return json.loads(exactly(size))
