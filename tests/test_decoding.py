"""Body decoding: content-encoding, JSON, forms, text, binary; hostile input never raises."""

from __future__ import annotations

import gzip
import json
import zlib

from hypothesis import given
from hypothesis import strategies as st

from inspector.core.analysis import decoding

JSON = [("content-type", "application/json")]


def test_json_is_parsed_and_pretty_printed() -> None:
    decoded = decoding.decode(b'{"a":[1,2],"b":"\xc3\xa9"}', JSON)
    assert decoded.kind == "json" and decoded.value == {"a": [1, 2], "b": "é"}
    assert decoding.pretty_json(decoded.text) == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": "é"\n}'


def test_the_body_shows_json_numbers_and_repeated_keys_as_they_arrived() -> None:
    """The Body tab is indented from the text: `1.10` stays 1.10 (an amount), not 1.1."""
    body = b'{"amount": 1.10, "big": 1e99999, "e": 1E2, "n": 123456789012345678901234.5,' \
           b' "k": 1, "k": 2, "s": "\\u00e9\\u001b", "empty": {}, "list": [ ]}'
    decoded = decoding.decode(body, JSON)
    assert decoded.kind == "json"
    assert decoding.readable_lines(decoded) == [
        "{", '  "amount": 1.10,', '  "big": 1e99999,', '  "e": 1E2,',
        '  "n": 123456789012345678901234.5,', '  "k": 1,', '  "k": 2,',
        '  "s": "é\\u001b",', '  "empty": {},', '  "list": []', "}"]


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text()
                    | st.floats(allow_nan=False, allow_infinity=False),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
                    max_leaves=30))
def test_pretty_json_indents_as_json_dumps_does(value: object) -> None:
    for text in (json.dumps(value), json.dumps(value, indent=4), json.dumps(value,
                                                                            separators=(",", ":"))):
        assert decoding.pretty_json(text) == json.dumps(value, indent=2, ensure_ascii=False)


def test_json_is_sniffed_without_content_type() -> None:
    # Connectly sends JSON as text/plain.
    decoded = decoding.decode(b'{"x": 1}', [("content-type", "text/plain; charset=utf-8")])
    assert decoded.kind == "json"


def test_invalid_json_says_why_and_shows_text() -> None:
    decoded = decoding.decode(b'{"a": ', JSON)
    assert decoded.kind == "text" and decoded.text == '{"a": '
    assert any(n.startswith("invalid JSON") for n in decoded.notes)


def test_deep_json_does_not_raise() -> None:
    deep = b"[" * 10_000 + b"]" * 10_000
    decoded = decoding.decode(deep, JSON)
    assert decoded.kind == "text"
    assert any("nested too deeply" in n for n in decoded.notes)


def test_form_is_split_into_pairs() -> None:
    decoded = decoding.decode(b"a=1&b=x+y&c=%2B1&empty=",
                              [("content-type", "application/x-www-form-urlencoded")])
    assert decoded.kind == "form"
    assert decoded.form == [("a", "1"), ("b", "x y"), ("c", "+1"), ("empty", "")]


def test_xml_and_text() -> None:
    assert decoding.decode(b"<?xml version='1.0'?><a/>", []).kind == "xml"
    assert decoding.decode(b"hello", [("content-type", "text/plain")]).kind == "text"


def test_binary_gets_a_hexdump() -> None:
    data = bytes(range(256))
    decoded = decoding.decode(data, [("content-type", "application/octet-stream")])
    assert decoded.kind == "binary"
    lines = decoding.hexdump(data)
    assert lines[0].startswith("00000000  00 01 02")
    assert len(lines) == 16


def test_invalid_utf8_text_is_visible_not_hidden() -> None:
    decoded = decoding.decode(b"caf\xe9 ok", [("content-type", "text/plain")])
    assert decoded.text == "caf\\xe9 ok"
    assert any("not valid utf-8" in n for n in decoded.notes)


def test_gzip_and_deflate_are_decoded_and_said() -> None:
    body = json.dumps({"k": "v" * 100}).encode()
    for coding, packed in [("gzip", gzip.compress(body)), ("deflate", zlib.compress(body)),
                           ("deflate", zlib.compress(body)[2:-4])]:
        decoded = decoding.decode(packed, [("content-encoding", coding), *JSON])
        assert decoded.kind == "json", coding
        assert decoded.data == body
        assert any(n.startswith(f"decoded {coding}") for n in decoded.notes)


def test_gzip_bomb_stops_at_the_cap() -> None:
    bomb = gzip.compress(b"\0" * (5 * 1024 * 1024))
    decoded = decoding.decode(bomb, [("content-encoding", "gzip")], cap=1024 * 1024)
    assert len(decoded.data) == 1024 * 1024
    assert any("stopped decompressing" in n for n in decoded.notes)


def test_broken_gzip_keeps_raw_bytes() -> None:
    decoded = decoding.decode(b"not gzip at all", [("content-encoding", "gzip")])
    assert decoded.data == b"not gzip at all"
    assert any("gzip decoding failed" in n for n in decoded.notes)


def test_unknown_encoding_and_charset_do_not_raise() -> None:
    decoded = decoding.decode(b"abc", [("content-encoding", "br"),
                                       ("content-type", "text/plain; charset=nonsense")])
    assert decoded.text == "abc"
    assert any("br is not supported" in n for n in decoded.notes)


def test_a_number_too_long_to_convert_is_said_plainly() -> None:
    """Python refuses to convert an integer of more than 4,300 digits (the conversion is
    quadratic); the note called that valid JSON invalid and told the user to call
    sys.set_int_max_str_digits()."""
    body = b'{"type": "x", "n": ' + b"9" * 5000 + b"}"
    decoded = decoding.decode(body, [("content-type", "application/json")])
    assert decoded.kind == "text" and decoded.text == body.decode()
    note = next(n for n in decoded.notes if "digits" in n)
    assert note == ("JSON with a number of more than 4,300 digits, not converted (the time "
                    "to convert one grows with the square of its length); shown as text")
