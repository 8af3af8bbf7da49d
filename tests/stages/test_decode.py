"""``decode``: real images in every accepted encoding, and every way a frame can be bad."""

from __future__ import annotations

import base64
import io
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import PIL.Image
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from signify_stages.decode import DecodeStage

from signify_graph import Image, InputError
from signify_graph.testing import StageHarness

from .conftest import PHOTOS

PHOTO = next(iter(sorted((PHOTOS / "A").glob("*.jpg"))))
ERROR_CODES = {
    "bad_base64",
    "not_an_image",
    "image_too_large",
    "truncated_image",
    "undecodable_image",
}

Decode = Callable[..., Any]


def photo_bgr() -> np.ndarray[Any, Any]:
    bgr = cv2.imread(str(PHOTO), cv2.IMREAD_COLOR)
    assert bgr is not None
    return bgr


def encode(bgr: np.ndarray[Any, Any], ext: str, *params: int) -> bytes:
    ok, buffer = cv2.imencode(ext, bgr, list(params))
    assert ok
    return buffer.tobytes()


@pytest.fixture
def decode(stage_harness: Callable[..., StageHarness]) -> Callable[..., Any]:
    """``decode(data, **params)``: run one item through a freshly loaded decode stage."""

    def run(data: Any, **params: Any) -> Any:
        return stage_harness(DecodeStage, params).session().process(data)

    return run


def error_code(decode: Decode, data: Any, **params: Any) -> str:
    with pytest.raises(InputError) as caught:
        decode(data, **params)
    return caught.value.code


@pytest.mark.parametrize(
    ("ext", "params"),
    [(".jpg", (cv2.IMWRITE_JPEG_QUALITY, 80)), (".png", ()), (".webp", ())],
)
def test_jpeg_png_and_webp_of_a_real_photo_decode_to_rgb_of_its_size(
    decode: Decode, ext: str, params: tuple[int, ...]
) -> None:
    bgr = photo_bgr()
    image = decode(encode(bgr, ext, *params))
    assert isinstance(image, Image)
    assert image.rgb.shape == (416, 416, 3) and image.rgb.dtype == np.uint8
    assert not image.mirrored
    # Lossy codecs move pixels a little; channels swapped would move them a lot.
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.int16)
    assert np.abs(image.rgb.astype(np.int16) - rgb).mean() < 4


def test_channels_come_out_in_rgb_order(decode: Decode) -> None:
    bgr = np.zeros((10, 20, 3), np.uint8)
    bgr[:, :, 2] = 255  # red, in OpenCV's BGR order
    image = decode(encode(bgr, ".png"))
    assert image.rgb.shape == (10, 20, 3)
    assert image.rgb[0, 0].tolist() == [255, 0, 0]


def test_base64_text_and_data_urls_decode_like_the_bytes(decode: Decode) -> None:
    data = PHOTO.read_bytes()
    expected = decode(data).rgb
    text = base64.b64encode(data).decode("ascii")
    assert np.array_equal(decode(text).rgb, expected)
    assert np.array_equal(decode(f"data:image/jpeg;base64,{text}").rgb, expected)
    assert np.array_equal(decode(bytearray(data)).rgb, expected)


def test_mirror_flips_left_and_right_and_says_so(decode: Decode) -> None:
    data = PHOTO.read_bytes()
    plain = decode(data)
    mirrored = decode(data, mirror=True)
    assert mirrored.mirrored
    assert np.array_equal(mirrored.rgb, plain.rgb[:, ::-1])


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [((416, 416), 200, (200, 200)), ((640, 480), 320, (240, 320)), ((640, 480), 1280, (480, 640))],
)
def test_max_side_downscales_the_longer_side_and_never_upscales(
    decode: Decode, size: tuple[int, int], max_side: int, expected: tuple[int, int]
) -> None:
    bgr = cv2.resize(photo_bgr(), size, interpolation=cv2.INTER_AREA)
    image = decode(encode(bgr, ".jpg"), max_side=max_side)
    assert image.rgb.shape == (*expected, 3)


@pytest.mark.parametrize(
    "data",
    [
        np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        b"hello, this is plain text and not an image",
        base64.b64encode(b"valid base64 of something that is not an image").decode(),
        b"",
        12345,
    ],
    ids=["random-bytes", "text-bytes", "base64-of-text", "empty", "an-int"],
)
def test_what_is_not_an_image_is_refused_as_not_an_image(decode: Decode, data: Any) -> None:
    assert error_code(decode, data) == "not_an_image"


@pytest.mark.parametrize(
    "text",
    ["not base64 at all!", "abc", "data:image/jpeg;base64,%%%", "data:image/jpeg;base64", "data:"],
)
def test_invalid_base64_text_is_refused_as_bad_base64(decode: Decode, text: str) -> None:
    assert error_code(decode, text) == "bad_base64"


def test_a_real_jpeg_cut_in_half_is_refused_as_truncated(decode: Decode) -> None:
    data = PHOTO.read_bytes()
    assert error_code(decode, data[: len(data) // 2]) == "truncated_image"
    assert error_code(decode, data[:40]) == "truncated_image"  # before the frame header


def test_a_png_cut_short_is_refused_as_truncated(decode: Decode) -> None:
    data = encode(photo_bgr(), ".png")
    assert error_code(decode, data[: len(data) // 2]) == "truncated_image"
    assert error_code(decode, data[:20]) == "truncated_image"  # inside the IHDR chunk


def jpeg_bomb(width: int, height: int) -> bytes:
    """SOI, a baseline frame header declaring ``width``×``height``×3, EOI: 25 bytes."""
    components = b"".join(bytes([index, 0x11, 0]) for index in (1, 2, 3))
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + components
    return b"\xff\xd8" + sof0 + b"\xff\xd9"


def png_bomb(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def webp_bomb(width: int, height: int) -> bytes:
    """An extended (VP8X) WebP header declaring a ``width``×``height`` canvas."""
    body = bytes(4) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    chunk = b"VP8X" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def lossless_webp_claiming(width: int, height: int) -> bytes:
    """A real lossless (VP8L) WebP whose header is patched to declare another size."""
    data = bytearray(
        encode(cv2.resize(photo_bgr(), (32, 32)), ".webp", cv2.IMWRITE_WEBP_QUALITY, 101)
    )
    assert data[12:16] == b"VP8L"
    bits = int.from_bytes(data[21:25], "little") & ~((1 << 28) - 1)
    data[21:25] = (bits | (width - 1) | (height - 1) << 14).to_bytes(4, "little")
    return bytes(data)


def test_the_crafted_bomb_headers_declare_the_size_they_claim() -> None:
    """Pillow, an independent parser, reads the declared size from the hand-written headers."""
    assert len(jpeg_bomb(30000, 30000)) < 30
    for data in (jpeg_bomb(5000, 4000), png_bomb(5000, 4000)):
        assert PIL.Image.open(io.BytesIO(data)).size == (5000, 4000)


@pytest.mark.parametrize(
    "bomb",
    [
        jpeg_bomb(30000, 30000),
        png_bomb(30000, 30000),
        webp_bomb(16384, 16384),
        lossless_webp_claiming(16384, 16384),
    ],
    ids=["jpeg-30000x30000", "png-30000x30000", "webp-vp8x-16384x16384", "webp-vp8l-16384x16384"],
)
def test_a_decompression_bomb_is_refused_from_its_header_without_allocating(
    bomb: bytes, stage_harness: Callable[..., StageHarness], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = stage_harness(DecodeStage).session()

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the decoder must not run on a bomb")

    monkeypatch.setattr(cv2, "imdecode", never)
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as caught:
            session.process(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.code == "image_too_large"
    assert "pixels" in caught.value.message
    assert peak < 10_000_000, f"peak allocation {peak} bytes"
    # Refused from the header alone: the decoder never ran (``never``) and little was
    # allocated. How fast that is, is BENCHMARKS.md's matter, not a timed assertion.


def test_max_pixels_is_the_limit_that_applies(decode: Decode) -> None:
    data = PHOTO.read_bytes()
    assert error_code(decode, data, max_pixels=416 * 416 - 1) == "image_too_large"
    assert decode(data, max_pixels=416 * 416).rgb.shape == (416, 416, 3)


def small_jpeg() -> bytes:
    return encode(cv2.resize(photo_bgr(), (48, 48)), ".jpg", cv2.IMWRITE_JPEG_QUALITY, 70)


def small_png() -> bytes:
    return encode(cv2.resize(photo_bgr(), (24, 24)), ".png")


@pytest.mark.slow
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.sampled_from([small_jpeg(), small_png()]),
    cut=st.integers(0, 4000),
    flips=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=6),
    as_text=st.booleans(),
)
def test_every_mangled_image_ends_as_an_image_or_a_listed_error(
    decode: Decode, seed: bytes, cut: int, flips: list[tuple[int, int]], as_text: bool
) -> None:
    """The oracle of the fuzzer: a valid image or one of the documented error codes."""
    data = bytearray(seed[: max(0, len(seed) - cut)] if cut % 3 else seed)
    for position, value in flips:
        if data:
            data[position % len(data)] = value
    item: bytes | str = base64.b64encode(data).decode() if as_text else bytes(data)
    try:
        image = decode(item)
    except InputError as exc:
        assert exc.code in ERROR_CODES
    else:
        assert isinstance(image, Image)
        assert image.rgb.ndim == 3 and image.rgb.shape[2] == 3 and image.rgb.dtype == np.uint8
