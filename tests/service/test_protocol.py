"""The sans-I/O protocol: parsing, legacy semantics, and fuzzing with an oracle."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signify_graph import Control, Kind
from signify_graph.service.protocol import Frame, MessageParser, ProtocolError, Reset

LABELS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
PROTOCOL_CODES = {"bad_json", "bad_message", "unknown_message", "bad_target", "wrong_input"}


def image_parser() -> MessageParser:
    return MessageParser(Kind.ENCODED_IMAGE, LABELS)


def test_binary_messages_are_frames_of_raw_bytes():
    assert image_parser().parse(b"\xff\xd8abc") == Frame(b"\xff\xd8abc")


def test_a_legacy_frame_with_an_unchanged_letter_does_not_reset():
    parser = image_parser()
    first = parser.parse(json.dumps({"jpeg_blob": "AAAA", "new_word_letter": "b"}))
    second = parser.parse(json.dumps({"jpeg_blob": "AAAA", "new_word_letter": "B"}))
    assert first == Frame("AAAA", Control("B"))
    assert second == Frame("AAAA", None)


def test_a_legacy_null_blob_is_a_reset_with_the_new_target():
    assert image_parser().parse('{"jpeg_blob": null, "new_word_letter": "C"}') == Reset(
        Control("C")
    )


def test_an_explicit_reset_clears_the_target():
    assert image_parser().parse('{"type": "reset", "target": null}') == Reset(Control(None))


def test_landmark_messages_go_to_landmark_pipelines_only():
    parser = MessageParser(Kind.LANDMARK_MESSAGE, LABELS)
    frame = parser.parse('{"type": "landmarks", "landmarks": [], "aspect": 1.5}')
    assert frame == Frame({"landmarks": [], "aspect": 1.5})
    with pytest.raises(ProtocolError) as error:
        parser.parse(b"\xff\xd8")
    assert error.value.code == "wrong_input"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("nope", "bad_json"),
        ("[]", "bad_message"),
        ('{"x": 1}', "bad_message"),
        ('{"type": "dance"}', "unknown_message"),
        ('{"type": "frame", "image": 5}', "bad_message"),
        ('{"type": "reset", "target": "1"}', "bad_target"),
        ('{"type": "reset", "target": 7}', "bad_target"),
        ('{"jpeg_blob": [1]}', "bad_message"),
    ],
)
def test_malformed_messages_raise_their_documented_code(message, code):
    with pytest.raises(ProtocolError) as error:
        image_parser().parse(message)
    assert error.value.code == code


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
messages = (
    st.binary(max_size=256)
    | st.text(max_size=256)
    | json_values.map(json.dumps)
    | st.fixed_dictionaries(
        {"type": st.sampled_from(["frame", "landmarks", "reset", "x"])},
        optional={"image": json_values, "target": json_values, "landmarks": json_values},
    ).map(json.dumps)
    | st.fixed_dictionaries(
        {}, optional={"jpeg_blob": json_values, "new_word_letter": json_values}
    ).map(json.dumps)
)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=messages, kind=st.sampled_from([Kind.ENCODED_IMAGE, Kind.LANDMARK_MESSAGE]))
def test_every_message_parses_or_fails_with_a_documented_code(message, kind):
    parser = MessageParser(kind, LABELS)
    try:
        parsed = parser.parse(message)
    except ProtocolError as error:
        assert error.code in PROTOCOL_CODES and error.message
        return
    assert isinstance(parsed, Frame | Reset)
    if isinstance(parsed, Reset):
        assert parsed.control.target is None or parsed.control.target in LABELS
