"""One rule for a typed "Name: value" line, the same in every place a person types one."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from inspector.core.capture.answers import PolicyError, answer_header, build_policy
from inspector.core.headers import HeaderLineError, header_value, parse_header_line
from inspector.faces.cli.commands.verify import verify
from inspector.faces.tui.screens.replay_editor import parse_headers


@pytest.mark.parametrize(("line", "pair"), [
    ("X-A: 1", ("X-A", "1")),
    ("X-A:1", ("X-A", "1")),
    ("  X-A :  spaced out \t", ("X-A", "spaced out")),  # spaces around name and value go
    ("X-A:", ("X-A", "")),  # an empty value is a value
    ("X-A: a:b:c", ("X-A", "a:b:c")),  # only the first colon splits
    ("X-A: tab\tinside", ("X-A", "tab\tinside")),  # TAB is allowed in a value
    ("X-A: café", ("X-A", "caf\xc3\xa9")),  # the UTF-8 bytes, as latin-1 text
    ("X-A: caf\udce9", ("X-A", "caf\xe9")),  # a non-UTF-8 byte from argv goes back as it came
    ("X-A: trailing newline\r\n", ("X-A", "trailing newline")),
    ("!#$%&'*+-.^_`|~09azAZ: token", ("!#$%&'*+-.^_`|~09azAZ", "token")),
])
def test_lines_that_parse(line: str, pair: tuple[str, str]) -> None:
    assert parse_header_line(line) == pair


@pytest.mark.parametrize(("line", "fault"), [
    ("no colon here", "'no colon here' is not 'Name: value'"),
    (": no name", "is not 'Name: value'"),
    ("   : no name", "is not 'Name: value'"),
    ("Two Words: x", "'Two Words: x' is not 'Name: value'"),
    ("X(A): x", "is not 'Name: value'"),
    ("Café: x", "is not 'Name: value'"),
    ("X\x1bA: x", "'X\\\\x1bA: x' is not"),  # shown escaped, never raw
    ("X-A: a\r\nInjected: 1", "the value of X-A has a control character"),
    ("X-A: a\nb", "the value of X-A has a control character"),
    ("X-A: a\x00b", "the value of X-A has a control character"),
    ("X-A: a\x7fb", "the value of X-A has a control character"),
    ("X-A: lone \ud800", "the value of X-A is not text that can be sent"),
])
def test_lines_that_do_not(line: str, fault: str) -> None:
    with pytest.raises(HeaderLineError) as caught:
        parse_header_line(line)
    assert fault in str(caught.value)


def test_a_received_header_may_hold_controls_but_not_line_breaks() -> None:
    """`verify --header` judges a header as it arrived: a lenient receiver takes ESC."""
    assert parse_header_line("X-A: \x1b[31mred\x7f", received=True) == ("X-A", "\x1b[31mred\x7f")
    for value in ("a\rb", "a\nb", "a\x00b"):
        with pytest.raises(HeaderLineError, match="control character"):
            parse_header_line(f"X-A: {value}", received=True)
    with pytest.raises(HeaderLineError, match="is not 'Name: value'"):
        parse_header_line("Two Words: x", received=True)


def test_a_long_line_is_clipped_in_the_message() -> None:
    with pytest.raises(HeaderLineError) as caught:
        parse_header_line("x" * 500)
    assert len(str(caught.value)) < 100


def test_header_value_is_case_insensitive_and_takes_the_first() -> None:
    headers = [("Content-Type", "a"), ("content-type", "b")]
    assert header_value(headers, "CONTENT-TYPE") == "a"
    assert header_value(headers, "x") is None


def test_every_face_uses_the_same_rule() -> None:
    """The answer flags and routes, the replay editor and `verify --header` agree."""
    for good in ("X-A: 1", "  X-A :  1 "):
        assert answer_header(good) == ("X-A", "1")
        assert parse_headers(good, []) == [("X-A", "1")]
    for bad in ("Two Words: x", "X-A: a\x00b", "nocolon"):
        with pytest.raises(PolicyError):
            answer_header(bad)
        with pytest.raises(ValueError, match="headers, line 2: "):
            parse_headers("X-Ok: 1\n" + bad, [])
        result = CliRunner().invoke(verify, ["--header", bad, "--body-file", "-"], input=b"")
        assert result.exit_code == 2 and "Invalid value for --header" in result.output
    with pytest.raises(PolicyError, match="set by the server"):
        build_policy(headers=["Content-Length: 3"])
