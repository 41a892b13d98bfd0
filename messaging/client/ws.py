"""A small asyncio WebSocket client (RFC 6455), enough for the rooms' socket: text frames, pings,
close codes. No client library is a dependency of Tessera, and this is all the Python client needs.

Frames from the client are masked, as the RFC requires; the server's are not. A frame larger
than `max_size` ends the connection (the server's own frames are at most ~92 KiB).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import struct
from urllib.parse import urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLOSE_ABNORMAL = 1006  # no close frame: the connection dropped
MAX_SIZE = 1 << 20


class HandshakeError(ConnectionError):
    """The server did not switch protocols (refused origin or path, or not a WebSocket server)."""


class Closed(ConnectionError):
    """The socket is closed; `code` is the server's close code, or 1006 when the connection dropped."""

    def __init__(self, code: int) -> None:
        super().__init__(f"WebSocket closed ({code})")
        self.code = code


def _mask(payload: bytes, key: bytes) -> bytes:
    # XOR with the repeated 4-byte key as one big integer: fast enough in pure Python for 90 KiB.
    repeated = (key * (len(payload) // 4 + 1))[:len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")


class WebSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, max_size: int = MAX_SIZE, *,
                 client: bool = True) -> None:
        self.reader, self.writer, self.max_size = reader, writer, max_size
        self.masked = client  # a client masks what it sends; a server (bench/rooms.py's bare one) must not
        self.close_code: int | None = None

    @classmethod
    async def connect(cls, url: str, *, origin: str, cookie: str = "", timeout: float = 10.0) -> WebSocket:
        """Open `ws://host:port/path` with this Origin and Cookie header."""
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError("a ws:// or wss:// URL is needed")
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, port, ssl=parts.scheme == "wss" or None), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        lines = [f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1", f"Host: {host}",
                 "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13", f"Origin: {origin}"]
        if cookie:
            lines.append(f"Cookie: {cookie}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as error:
            writer.close()
            raise HandshakeError("no handshake answer") from error
        status, *headers = head.decode("latin-1").split("\r\n")
        fields = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in headers if h)}
        expected = base64.b64encode(hashlib.sha1((key + GUID).encode(), usedforsecurity=False).digest()).decode()
        if " 101 " not in f"{status} " or fields.get("sec-websocket-accept") != expected:
            writer.close()
            raise HandshakeError(status)
        return cls(reader, writer)

    async def recv(self) -> str:
        """The next text message; answers pings on the way. Raises Closed when the socket ends."""
        message = b""
        while True:
            try:
                opcode, fin, payload = await self._frame()
            except (asyncio.IncompleteReadError, ConnectionError, OSError):
                self._drop()
                raise Closed(self.close_code or CLOSE_ABNORMAL) from None
            if opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self._drop()
                raise Closed(self.close_code)
            if opcode == 0x9:
                await self._send(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            message += payload
            if len(message) > self.max_size:
                self._drop()
                raise Closed(1009)
            if fin:
                return message.decode("utf-8")

    async def _frame(self) -> tuple[int, bool, bytes]:
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        if length > self.max_size:
            raise ConnectionError("frame too large")
        key = await self.reader.readexactly(4) if second & 0x80 else b""
        payload = await self.reader.readexactly(length)
        return first & 0x0F, bool(first & 0x80), _mask(payload, key) if key and payload else payload

    async def send(self, text: str) -> None:
        await self._send(0x1, text.encode("utf-8"))

    async def _send(self, opcode: int, payload: bytes) -> None:
        if self.close_code is not None:
            raise Closed(self.close_code)
        size, bit = len(payload), 0x80 if self.masked else 0
        if size < 126:
            head = bytes([0x80 | opcode, bit | size])
        elif size < 1 << 16:
            head = bytes([0x80 | opcode, bit | 126]) + struct.pack("!H", size)
        else:
            head = bytes([0x80 | opcode, bit | 127]) + struct.pack("!Q", size)
        if self.masked:
            key = os.urandom(4)
            head, payload = head + key, _mask(payload, key) if payload else b""
        try:
            self.writer.write(head + payload)
            await self.writer.drain()
        except (ConnectionError, OSError):
            self._drop()
            raise Closed(CLOSE_ABNORMAL) from None

    async def close(self, code: int = 1000) -> None:
        if self.close_code is None:
            with contextlib.suppress(Closed):
                await self._send(0x8, struct.pack("!H", code))
            self.close_code = code
        self._drop()

    def _drop(self) -> None:
        if self.close_code is None:
            self.close_code = CLOSE_ABNORMAL
        self.writer.close()
