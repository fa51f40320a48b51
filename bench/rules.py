"""`--rules N`: the answer rules the inspector runs with in the "rules" ingest target.

N - 1 rules that the benchmark's delivery does not match, each failing on a different test
(method, path, header, provider, kind, verdict, a `when` on the JSON body, a regular
expression on a body field), then one that matches every request and answers 200, so every
rule is tried for every delivery and the answer path is the rules' one. The issue's target:
with ten rules, ingest within 10% of the same TUI without rules (same run, A B C A B C).
"""

from __future__ import annotations

from pathlib import Path

from bench.fixture import Delivery

_MISSES = (
    'path = "/never/*"\nrespond = 503',
    'method = "PUT"\nrespond = 503',
    'header = "X-Bench-Never"\nrespond = 503',
    'provider = "stripe"\nrespond = 503',
    'kind = "never_kind"\nrespond = 503',
    'verdict = "invalid"\nrespond = 401',
    'path = "{path}"\nwhen = \'exists(body.statusUpdate) and body.statusUpdate.status == '
    '"never"\'\nrespond = 503',
    'when = \'exists(body.message.text) and body.message.text matches "^NEVER"\'\n'
    'respond = 503',
    'header = "Content-Type: text/never"\nwhen = "body.amount > 100"\nrespond = 402',
)


def config(count: int, delivery: Delivery, folder: Path) -> Path:
    """An inspector.toml with `count` rules (the last one matches) for `delivery`."""
    misses = [(_MISSES[n % len(_MISSES)]).format(path=delivery.path)
              for n in range(max(count - 1, 0))]
    tables = [f'[[rule]]\nname = "miss {n}"\n{body}\n' for n, body in enumerate(misses, 1)]
    tables.append('[[rule]]\nname = "everything"\npath = "/*"\nrespond = 200\n')
    path = folder / f"rules-{count}.toml"
    path.write_text("\n".join(tables))
    return path
