"""``decode``: encoded image bytes (or base64 text) → an RGB :class:`~signify_graph.Image`.

Every way a frame can be bad has its own error code, because clients must be told what
they did wrong, not handed a silent drop (the old service dropped bad frames silently):

============================  ==============================================================
``bad_base64``                text that is not valid base64
``not_an_image``              bytes that are not JPEG, PNG or WebP
``image_too_large``           a header declaring more than ``max_pixels`` (checked *before*
                              decoding: decompression bombs never allocate)
``truncated_image``           data that ends before the image does
``undecodable_image``         a header that looks right over data the decoder rejects
============================  ==============================================================
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, ClassVar

import cv2
import numpy as np
from pydantic import Field

from signify_graph import (
    FrameContext,
    Image,
    InputError,
    Kind,
    Params,
    Port,
    Stage,
    StageRegistry,
    hookimpl,
)

from ._image_header import HeaderError, read_header


class DecodeParams(Params):
    max_pixels: int = Field(16_777_216, ge=1)
    """Refuse images whose header declares more pixels than this (decompression bombs)."""
    max_side: int = Field(0, ge=0, le=16384)
    """Downscale so the longer side is at most this many pixels (0: keep the size)."""
    mirror: bool = False
    """Flip horizontally (selfie view). Features are mirror-invariant; this is for display."""


def to_bytes(data: bytes | bytearray | memoryview | str) -> bytes:
    """Bytes as given, or decoded from base64 text (a ``data:`` URL prefix is allowed)."""
    if isinstance(data, str):
        text = data
        if data.startswith("data:"):
            _, comma, text = data.partition(",")
            if not comma:
                raise InputError(
                    "invalid base64: a data: URL needs a comma before its data", code="bad_base64"
                )
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InputError(f"invalid base64: {exc}", code="bad_base64") from exc
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise InputError(
        f"expected image bytes or base64 text, got {type(data).__name__}", code="not_an_image"
    )


class DecodeStage(Stage):
    """Decode JPEG, PNG or WebP bytes (a binary frame, or base64 text) into an RGB image.

    The header is checked before decoding: files declaring more than ``max_pixels`` are
    refused without allocating, and truncated files are refused instead of being decoded
    into half-grey frames.
    """

    name = "decode"
    params_model = DecodeParams
    inputs: ClassVar = {"data": Port(Kind.ENCODED_IMAGE)}
    output = Kind.IMAGE

    def process(self, frame: FrameContext, data: Any) -> Image:
        raw = to_bytes(data)
        try:
            header = read_header(raw)
        except HeaderError as exc:
            code = "truncated_image" if exc.truncated else "not_an_image"
            raise InputError(str(exc), code=code) from exc
        pixels = header.width * header.height
        if pixels > self.params.max_pixels:
            raise InputError(
                f"image declares {header.width}x{header.height} = {pixels} pixels, "
                f"more than the limit of {self.params.max_pixels}",
                code="image_too_large",
            )
        if not header.complete:
            raise InputError(
                f"truncated {header.format.upper()}: the data ends early", code="truncated_image"
            )
        buffer = np.frombuffer(raw, dtype=np.uint8)
        flags = cv2.IMREAD_COLOR
        longest, limit = max(header.width, header.height), self.params.max_side
        if limit and longest >= 2 * limit and header.format == "jpeg":
            flags = cv2.IMREAD_REDUCED_COLOR_2  # the JPEG decoder halves for free
        bgr = cv2.imdecode(buffer, flags)
        if bgr is None or bgr.ndim != 3:
            raise InputError(
                f"the {header.format.upper()} data could not be decoded", code="undecodable_image"
            )
        if limit and max(bgr.shape[:2]) > limit:
            factor = limit / max(bgr.shape[:2])
            size = (max(1, round(bgr.shape[1] * factor)), max(1, round(bgr.shape[0] * factor)))
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        if self.params.mirror:
            bgr = cv2.flip(bgr, 1)
        rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        return Image(rgb, mirrored=self.params.mirror)


@hookimpl
def signify_register_stages(registry: StageRegistry) -> None:
    registry.add(DecodeStage)
