"""The sans-I/O protocol: parsing, legacy semantics, and fuzzing with an oracle."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from signify_stages.decode import to_bytes
from signify_stages.landmarks import parse_landmarks

from signify_graph import Control, Hand, InputError, Kind
from signify_graph.service.driver import encode
from signify_graph.service.protocol import (
    Frame,
    MessageParser,
    ProtocolError,
    Reset,
    error_payload,
)

LABELS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
PROTOCOL_CODES = {
    "bad_json", "bad_message", "unknown_message", "bad_target", "bad_word", "wrong_input",
}  # fmt: skip


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
        optional={
            "image": json_values,
            "target": json_values,
            "word": json_values,
            "landmarks": json_values,
        },
    ).map(json.dumps)
    | st.fixed_dictionaries(
        {},
        optional={
            "jpeg_blob": json_values,
            "new_word_letter": json_values,
            "new_word": json_values | st.text(alphabet="abcXYZ ", max_size=40),
        },
    ).map(json.dumps)
)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    message=messages,
    kind=st.sampled_from([Kind.ENCODED_IMAGE, Kind.LANDMARK_MESSAGE]),
    spells=st.booleans(),
)
def test_every_message_parses_or_fails_with_a_documented_code(message, kind, spells):
    parser = MessageParser(kind, LABELS, spells=spells)
    try:
        parsed = parser.parse(message)
    except ProtocolError as error:
        assert error.code in PROTOCOL_CODES and error.message
        return
    assert isinstance(parsed, Frame | Reset)
    control = parsed.control
    if control is not None:
        assert control.target is None or control.target in LABELS
        word = control.word
        assert word is None or (spells and control.target is None and 0 < len(word) <= 32)
        assert word is None or set(word) <= set(LABELS)


# -- hostile shapes, written as raw JSON text (json.dumps cannot write most of them) --------
def _digits(low: int, high: int) -> st.SearchStrategy[str]:
    return st.builds(
        lambda sign, head, size: sign + head + "0" * size,
        st.sampled_from(["", "-"]),
        st.sampled_from("123456789"),
        st.integers(low, high),
    )


#: Numbers no double holds (1e400-sized and 5000-digit integers), NaN, and ordinary ones.
raw_numbers = (
    _digits(300, 450)
    | _digits(4299, 5001)
    | st.sampled_from(
        ["1e400", "-1e400", "NaN", "Infinity", "0", "1", "0.5", "18446744073709551616"]
    )
    | st.floats(-2, 2, allow_nan=False).map(repr)
)
#: Strings with lone surrogates (and a valid pair), data: URLs with and without their comma.
raw_strings = st.sampled_from(
    [
        '"\\ud800"',
        '"\\udfff"',
        '"x\\udbff"',
        '"\\ud83d\\ude00"',
        '"data:"',
        '"data:image/jpeg;base64"',
        '"data:image/jpeg;base64,"',
        '"data:image/jpeg;base64,%%%"',
        '"data:,AAAA"',
        '"0.5"',
        "true",
        "null",
        '"Left"',
    ]
)
raw_values = raw_numbers | raw_strings


def _array(items: st.SearchStrategy[str], low: int, high: int) -> st.SearchStrategy[str]:
    return st.lists(items, min_size=low, max_size=high).map(lambda xs: "[" + ", ".join(xs) + "]")


def _object(fields: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[str]:
    """A JSON object of the ``fields`` drawn, each optional but ``type``."""
    drawn = {name: st.none() | value for name, value in fields.items()}
    return st.fixed_dictionaries(drawn).map(
        lambda got: "{" + ", ".join(f'"{k}": {v}' for k, v in got.items() if v is not None) + "}"
    )


triples = _array(st.one_of(raw_numbers, st.sampled_from(["0.5", "0.25", '"0.5"', "true"])), 2, 4)
hostile = _object(
    {
        "type": st.sampled_from(['"landmarks"', '"frame"', '"reset"', '"\\ud800"']),
        "landmarks": _array(triples, 20, 22) | raw_values,
        "image_size": _array(raw_values, 1, 3),
        "aspect": raw_values,
        "handedness": raw_values,
        "image": raw_strings,
        "target": raw_strings,
        "id": raw_values,
        "extra": raw_values,
    }
) | _object(
    {
        "jpeg_blob": raw_strings,
        "new_word_letter": raw_strings,
        "new_word": raw_strings | st.sampled_from(['"cab"', '"C A B"', '""', '"ß"']),
        "id": raw_values,
    }
)

STAGE_CODES = {
    Kind.LANDMARK_MESSAGE: {"bad_landmarks"},
    Kind.ENCODED_IMAGE: {"bad_base64", "not_an_image"},
}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=hostile, kind=st.sampled_from([Kind.ENCODED_IMAGE, Kind.LANDMARK_MESSAGE]))
def test_hostile_shapes_end_in_a_documented_code_and_every_answer_encodes(message, kind):
    """The oracle, on to the first stage: a message is refused by the parser with a protocol
    code, or it is a frame its ingress stage takes or refuses with that stage's code; and
    whatever the client is sent (the error, with the id echoed) can be encoded."""
    parser = MessageParser(kind, LABELS)
    try:
        parsed = parser.parse(message)
    except ProtocolError as error:
        assert error.code in PROTOCOL_CODES and error.message
        encode(error_payload(error.code, error.message, error.client_id))
        return
    if isinstance(parsed, Reset):
        encode({"ack": "reset", "target": parsed.control.target})
        return
    encode({"letter": None, "id": parsed.id})
    try:
        if kind is Kind.LANDMARK_MESSAGE:
            hand = parse_landmarks(parsed.payload)
            assert hand is None or isinstance(hand, Hand)
        else:
            to_bytes(parsed.payload)
    except InputError as error:
        assert error.code in STAGE_CODES[kind] and error.message
        encode(error_payload(error.code, error.message, parsed.id))
