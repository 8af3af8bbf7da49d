"""Read an image's declared size from its header, without decoding it.

A 200-byte JPEG can declare 30000×30000 pixels and make a decoder allocate 2.7 GB: the
classic decompression bomb. Reading the size first costs microseconds and no allocation,
so the decoder refuses such files before it starts.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Header:
    format: str
    width: int
    height: int
    #: False when the data visibly ends before the image does.
    complete: bool


class HeaderError(ValueError):
    """The bytes are not a JPEG, PNG or WebP image, or their header is cut short."""

    def __init__(self, message: str, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated


# JPEG start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def read_header(data: bytes) -> Header:
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    raise HeaderError("not a JPEG, PNG or WebP image")


def _jpeg(data: bytes) -> Header:
    pos, size = 2, len(data)
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            raise HeaderError("corrupt JPEG: expected a marker")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if 0xD0 <= marker <= 0xD9 or marker == 0x01:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF:
            if pos + 9 > size:
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            # Some cameras append data after the end marker: look for one after the frame.
            complete = data.rfind(b"\xff\xd9") > pos
            return Header("jpeg", width, height, complete)
        pos += 2 + length
    raise HeaderError("truncated JPEG: no frame header", truncated=True)


def _png(data: bytes) -> Header:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise HeaderError("truncated PNG: no IHDR chunk", truncated=len(data) < 24)
    width, height = struct.unpack(">II", data[16:24])
    return Header("png", width, height, data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"))


def _webp(data: bytes) -> Header:
    (riff_size,) = struct.unpack("<I", data[4:8])
    complete = len(data) >= riff_size + 8
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
    elif chunk == b"VP8 " and len(data) >= 30:
        width = struct.unpack("<H", data[26:28])[0] & 0x3FFF
        height = struct.unpack("<H", data[28:30])[0] & 0x3FFF
    elif chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        width = (bits & 0x3FFF) + 1
        height = ((bits >> 14) & 0x3FFF) + 1
    else:
        raise HeaderError("truncated or unsupported WebP header", truncated=len(data) < 30)
    return Header("webp", width, height, complete)
