"""A curl command that sends an event again byte for byte, so its signature still verifies.

    printf '%b' '{"text":"TEST 11"}' |
    curl -X POST 'http://localhost:3000/webhooks/connectly' --path-as-is -g \\
      -H 'content-type: application/json' \\
      -H 'x-connectly-hmac-sha256: MXTw...' \\
      -H 'Accept:' \\
      --data-binary @-

Works in bash, dash and zsh (POSIX sh). The body goes through `printf '%b'` on a pipe:
printable text stays readable, and every other byte (NUL, invalid UTF-8, control
characters, backslash and the single quote) is written as a `\\0ooo` octal escape, which
`printf %b` turns back into that exact byte. `--data-binary @-` sends stdin untouched.
A header value or URL that is not printable UTF-8 goes through "$(printf '%b' '...')".
Headers are the ones replay sends (hop-by-hop, host and content-length dropped); curl's own
defaults that the event did not carry (Accept, User-Agent, Content-Type, Expect) are
switched off, so the target sees what the sender sent.
"""

from __future__ import annotations

from inspector.core.delivery.replay import replay_headers, request_path, target_url
from inspector.core.model import Event, HeaderList
from inspector.core.sanitize import has_unsafe

EXPECT_THRESHOLD = 1024  # older curl sends "Expect: 100-continue" above this many bytes
_METHODS_WITHOUT_BODY = ("GET", "HEAD", "OPTIONS", "DELETE", "TRACE")


def curl_command(
    event: Event,
    base_url: str,
    *,
    method: str | None = None,
    headers: HeaderList | None = None,
    body: bytes | None = None,
    base_word: str | None = None,
    body_file: str | None = None,
    one_line: bool = False,
) -> str:
    """The command for `event` sent to `base_url` (path rule as replay: a base ending in /
    gets the event's path and query). Never to the event's own Host header: the sender
    chose it, and a command aimed there would send the event wherever a stranger said.

    For a script: `base_word` is a shell word for the base URL (such as "$BASE"), then
    always followed by the event's path; `body_file` names a file holding the exact body,
    sent with `--data-binary @FILE` rather than from printf; `one_line` keeps it on one."""
    if base_word is None:
        url = shell_word(target_url(base_url, event).encode("latin-1"))
    else:
        url = base_word + shell_word(request_path(event).encode("latin-1"))
    method = method or event.method
    pairs = replay_headers(event.headers if headers is None else headers)
    data = event.body if body is None else body
    names = {name.lower() for name, _ in pairs}

    args = [_method_arg(method), url, "--path-as-is", "-g"]
    lines = [" ".join(args)]
    for name, value in pairs:
        raw = f"{name}:".encode("latin-1")
        raw += b" " + value.encode("latin-1") if value else b""
        if not value:
            raw = raw[:-1] + b";"  # curl's syntax for a header with an empty value
        lines.append(f"-H {shell_word(raw)}")
    sends_body = bool(data) or method.upper() not in _METHODS_WITHOUT_BODY
    # Switch off what curl would add on its own.
    for default in ("Accept", "User-Agent"):
        if default.lower() not in names:
            lines.append(f"-H '{default}:'")
    if sends_body and "content-type" not in names:
        lines.append("-H 'Content-Type:'")
    if len(data) > EXPECT_THRESHOLD and "expect" not in names:
        lines.append("-H 'Expect:'")
    if data and body_file is not None:
        lines.append(f"--data-binary @{shell_word(body_file.encode())}")
    elif data:
        lines.append("--data-binary @-")
    elif sends_body:
        lines.append("--data-binary ''")
    command = "curl " + (" " if one_line else " \\\n  ").join(lines)
    if data and body_file is None:
        command = f"printf '%b' {_printf_arg(data)} |\n{command}"
    return command


def _method_arg(method: str) -> str:
    if method.upper() == "HEAD":
        return "--head"  # -X HEAD would wait for a body that never comes
    return f"-X {shell_word(method.encode('latin-1'))}"


def shell_word(raw: bytes) -> str:
    """One shell word for these bytes: '...' when printable UTF-8, else via printf."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and text.isprintable() and not has_unsafe(text):
        return "'" + text.replace("'", "'\\''") + "'"
    # Command substitution drops trailing newlines; headers and URLs cannot end in one.
    return f'"$(printf \'%b\' {_printf_arg(raw)})"'


def _printf_arg(data: bytes) -> str:
    """A single-quoted argument for printf '%b' that expands to exactly `data`."""
    out = ["'"]
    text = data.decode("utf-8", errors="surrogateescape")
    for char in text:
        code = ord(char)
        if char == "\n" or (32 <= code < 127 and char not in "'\\"):
            out.append(char)
        elif code >= 0xA0 and not (0xDC80 <= code <= 0xDCFF) and char.isprintable() \
                and not has_unsafe(char):
            out.append(char)  # readable UTF-8 text
        else:
            raw = bytes([code - 0xDC00]) if 0xDC80 <= code <= 0xDCFF else char.encode("utf-8")
            out.extend(f"\\0{byte:03o}" for byte in raw)
    out.append("'")
    return "".join(out)
