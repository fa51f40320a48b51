"""Property tests (hypothesis): decoding, signature checks, the sanitiser and the analysis
never raise on arbitrary bytes and headers; verification is deterministic; sanitised text
holds no character a terminal would act on; analysed events are always storable."""

from __future__ import annotations

import encodings.aliases
import gzip
import json
import re
import time
import unicodedata
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from inspector.core import sanitize
from inspector.core.analysis import decoding
from inspector.core.analysis.analyzer import Analyzer
from inspector.core.model import Attempt, Event, Verdict, new_id
from inspector.core.signatures import PROVIDERS, Secrets, SignedRequest, check
from inspector.core.store import EventStore, open_store
from inspector.faces.tui.widgets.detail import build

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Header names that steer decoding and every provider's verification, plus random ones.
KNOWN = ["content-type", "content-encoding", "x-connectly-hmac-sha256", "x-hub-signature-256",
         "x-hub-signature", "stripe-signature", "x-shopify-hmac-sha256", "x-slack-signature",
         "x-slack-request-timestamp", "svix-id", "svix-timestamp", "svix-signature",
         "webhook-id", "webhook-timestamp", "webhook-signature", "x-twilio-signature",
         "x-github-event", "x-shopify-topic"]
VALUES = ["application/json", "text/plain; charset=utf-16", "application/x-www-form-urlencoded",
          "text/xml", "gzip", "deflate", "gzip, deflate", "br", "identity, gzip",
          "text/plain; charset=base64", "text/plain; charset=nonsense", "t=1,v1=abc,v0=x",
          "sha256=" + "0" * 64, "v1,AAAA", "v1=", "", "=", "t=", ",,,"]

latin1 = st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=80)
header_names = st.one_of(st.sampled_from(KNOWN), st.text(min_size=1, max_size=20))
header_values = st.one_of(st.sampled_from(VALUES), latin1)
headers = st.lists(st.tuples(header_names, header_values), max_size=8)
# Any character, lone surrogates (as JSON can carry: "\ud800") and controls made likely.
any_text = st.text(alphabet=st.one_of(st.characters(), st.characters(categories=["Cs"]),
                                      st.characters(categories=["Cc", "Cf", "Zl", "Zp"])),
                   max_size=200)


def packed(data: bytes) -> st.SearchStrategy[tuple[bytes, list[tuple[str, str]]]]:
    return st.sampled_from([
        (gzip.compress(data), [("content-encoding", "gzip")]),
        (zlib.compress(data), [("content-encoding", "deflate")]),
        (zlib.compress(data)[2:-4], [("content-encoding", "deflate")]),
    ])


# JSON shaped like what the describers read (so their summaries see hostile strings).
keys = st.one_of(st.sampled_from(["type", "event", "id", "topic", "action", "message", "text",
                                  "sender", "statusUpdate", "status", "error", "referral",
                                  "attachments", "isButtonResponse"]), any_text)
shaped = st.recursive(st.none() | st.booleans() | st.integers() | any_text,
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(keys, inner, max_size=5), max_leaves=16)

# Text certain to hold a lone surrogate or a control character somewhere.
spiked = st.builds(lambda a, c, b: a + c + b, any_text,
                   st.characters(categories=["Cs", "Cc", "Cf"]), any_text)
hostile = st.one_of(any_text, spiked)
summarised = st.one_of(  # bodies the describers summarise from their strings
    st.builds(lambda t, i: {"type": t, "id": i}, hostile, hostile),
    st.builds(lambda s, t: {"sender": {"id": s}, "message": {"text": t}}, hostile, hostile),
    st.builds(lambda s, e: {"statusUpdate": {"status": s, "error": {"message": e}}},
              hostile, hostile),
)

bodies = st.one_of(
    summarised.map(lambda v: json.dumps(v).encode()),
    shaped.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=600),
    any_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.recursive(st.none() | st.booleans() | st.integers() | any_text,
                 lambda inner: st.lists(inner, max_size=4)
                 | st.dictionaries(any_text, inner, max_size=4), max_leaves=12)
    .map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300).flatmap(lambda b: packed(b).map(lambda p: p[0])),
)


# -- decoding --------------------------------------------------------------------------------------


@FAST
@given(body=bodies, headers=headers)
def test_decode_never_raises(body: bytes, headers: list[tuple[str, str]]) -> None:
    decoded = decoding.decode(body, headers, cap=64 * 1024)
    assert decoded.kind in ("empty", "json", "form", "xml", "text", "binary")
    assert isinstance(decoded.data, bytes) and len(decoded.data) <= max(64 * 1024, len(body))
    assert set(decoded.odd) <= set(decoded.notes)
    if decoded.kind in ("text", "xml", "json"):
        assert isinstance(decoded.text, str)


# Every name Python's codec registry answers to, plus the text codecs that are not charsets
# and raise a plain UnicodeError (undefined, punycode, idna) or read escapes.
ODD_CODECS = ["undefined", "punycode", "idna", "unicode_escape", "raw_unicode_escape", "utf_7",
              "rot13", "base64", "zlib", "mbcs", "oem", "palmos", "cp65001", "utf-16", "utf-32"]
CODECS = sorted({*encodings.aliases.aliases, *encodings.aliases.aliases.values()})
charsets = st.one_of(st.sampled_from(ODD_CODECS), st.sampled_from(CODECS), latin1)
content_types = st.builds(lambda m, c, rest: f"{m}; charset={c}{rest}",
                          st.sampled_from(["text/plain", "application/json", "text/xml",
                                           "application/x-www-form-urlencoded", "image/png"]),
                          charsets, st.one_of(st.just(""), latin1))


@FAST
@given(body=st.one_of(bodies, st.binary(max_size=2000)), content_type=st.one_of(content_types,
       latin1), encoding=st.one_of(st.sampled_from(VALUES), latin1))
def test_decode_never_raises_whatever_the_charset(body: bytes, content_type: str,
                                                  encoding: str) -> None:
    """Any bytes under any declared charset, content type and content encoding: a view, and
    the detail pane built from it (the request's body and a target's answer)."""
    headers = [("content-type", content_type), ("content-encoding", encoding)]
    decoded = decoding.decode(body, headers)
    if decoded.kind in ("text", "xml", "json", "form"):
        assert isinstance(decoded.text, str)
    event = Event(id=new_id(), received_at=time.time(), method="POST", path="/", query="",
                  headers=headers, body=body)
    attempt = Attempt(event_seq=1, kind="replay", at=time.time(), method="POST", url="/",
                      status=200, elapsed_ms=1.0, response_headers=headers, response_body=body)
    detail = build(event, Analyzer().verify(event), [attempt])
    assert detail.body_lines and detail.reply_lines


@FAST
@given(data=st.binary(max_size=5000), encoding=st.one_of(st.sampled_from(VALUES), latin1),
       cap=st.integers(min_value=0, max_value=6000))
def test_inflate_never_raises_and_honours_the_cap(data: bytes, encoding: str, cap: int) -> None:
    out, note = decoding.inflate(data, encoding, cap)
    assert isinstance(out, bytes) and isinstance(note, str)
    assert len(out) <= max(cap, len(data))


@FAST
@given(data=st.binary(max_size=5000), cap=st.integers(min_value=1, max_value=6000))
def test_gzip_round_trips_up_to_the_cap(data: bytes, cap: int) -> None:
    for packed_data, coding in [(gzip.compress(data), "gzip"), (zlib.compress(data), "deflate")]:
        out, note = decoding.inflate(packed_data, coding, cap)
        if len(data) <= cap:
            assert out == data and note.startswith(f"decoded {coding}")
        else:
            assert out == data[:cap] and "stopped decompressing" in note


@FAST
@given(data=st.binary(max_size=3000), limit=st.integers(min_value=0, max_value=2000))
def test_hexdump_is_printable_and_bounded(data: bytes, limit: int) -> None:
    lines = decoding.hexdump(data, limit)
    shown = min(len(data), limit)
    assert len(lines) == -(-shown // 16) + (len(data) > limit)
    for line in lines[: -(-shown // 16)]:
        assert line.isprintable() and line.isascii()
    if len(data) > limit:
        assert lines[-1] == f"… {len(data) - limit:,} more bytes"
    if shown:
        assert lines[0].startswith("00000000  " + data[:1].hex())


# -- signatures ------------------------------------------------------------------------------------


@FAST
@given(method=st.sampled_from(["POST", "GET", "PUT", ""]), url=latin1, headers=headers,
       body=st.binary(max_size=400), secret=st.one_of(st.none(), any_text),
       provider=st.sampled_from([None, *PROVIDERS]), now=st.floats(0, 4e9))
def test_signature_check_never_raises_and_is_deterministic(
        method: str, url: str, headers: list[tuple[str, str]], body: bytes,
        secret: str | None, provider: str | None, now: float) -> None:
    secrets = Secrets(default=secret)
    first = check(SignedRequest(method, url, headers, body), secrets, provider, now)
    again = check(SignedRequest(method, url, list(headers), bytes(body)), secrets, provider, now)
    assert first == again
    assert isinstance(first.verdict, Verdict) and first.reason
    # No verifier fell over (check() would turn an exception into this verdict).
    assert not first.reason.startswith("verifier error"), first.reason


# -- the sanitiser ---------------------------------------------------------------------------------

UNSAFE = ("Cc", "Cf", "Cs", "Zl", "Zp")


def _categories(text: str) -> set[str]:
    return {unicodedata.category(c) for c in text}


@FAST
@given(text=hostile)
def test_visible_keeps_only_tab_and_newline(text: str) -> None:
    shown = sanitize.visible(text)
    for char in shown:
        assert char in "\t\n" or unicodedata.category(char) not in UNSAFE, repr(char)
    shown.encode("utf-8")  # never a lone surrogate
    assert sanitize.visible(shown) == shown  # escapes are plain ASCII: idempotent
    assert "".join(chunk for chunk, _ in sanitize.pieces(text)) == shown


@FAST
@given(text=hostile)
def test_visible_line_keeps_no_control_at_all(text: str) -> None:
    shown = sanitize.visible_line(text)
    assert not _categories(shown) & set(UNSAFE), repr(shown)
    assert "".join(chunk for chunk, _ in sanitize.pieces(text, line=True)) == shown
    safe = "".join(c for c in text if c not in "\t\n" and unicodedata.category(c) not in UNSAFE)
    assert sanitize.visible_line(safe) == safe  # ordinary text is left alone


def test_the_unsafe_set_covers_every_control_and_format_character() -> None:
    """Exhaustive, against this Python's Unicode database (and the bidi set by name)."""
    pattern = re.compile(f"[{sanitize._UNSAFE}\t\n]")
    missed = [hex(c) for c in range(0x110000)
              if unicodedata.category(chr(c)) in UNSAFE and not pattern.match(chr(c))]
    assert not missed
    for char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c":
        assert sanitize.visible(char) != char


# -- analysis: every event can be stored -----------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventStore]:
    store = open_store(Path(tmp_path_factory.mktemp("props")) / "events.db")
    yield store
    store.close()


@FAST
@given(body=bodies, headers=headers, path=latin1, query=latin1)
def test_analysed_events_are_always_storable(store: EventStore, body: bytes,
                                             headers: list[tuple[str, str]], path: str,
                                             query: str) -> None:
    assume(len(path) < 2000)
    event = Event(id=new_id(), received_at=time.time(), method="POST", path="/" + path,
                  query=query, headers=headers, body=body)
    Analyzer(secrets=Secrets(default="s3cret")).analyze(event)
    for text in (event.kind, event.summary, event.reason, *event.notes):
        text.encode("utf-8")
    (stored,) = store.import_events_sync([(event, [])])
    back = store.event(stored.seq)
    assert back is not None and back.body == body and back.notes == event.notes
