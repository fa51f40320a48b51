"""What deliveries are answered (command palette): status, body, a header, a delay, 401 to
invalid signatures, your app's own answer, or back to the default. The answer belongs to the
receiver: a viewer asks it through the control channel (Session.control)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from inspector.core.capture.answers import (
    DEFAULT_POLICY,
    PolicyError,
    ResponsePolicy,
    answer_header,
    parse_delay,
    parse_status,
    read_body,
)
from inspector.core.control.protocol import ControlError
from inspector.faces.tui.screens.prompt import TextPrompt

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp


def set_policy(app: BaseApp, policy: ResponsePolicy) -> None:
    """Have the receiver answer by `policy` (in a viewer, through the control channel); the
    header shows it once the receiver says so."""
    app.run_worker(_set_policy(app, policy), group="answer", exit_on_error=False)


async def _set_policy(app: BaseApp, policy: ResponsePolicy) -> None:
    try:
        await app.session.control.set_policy(policy)
    except (PolicyError, ControlError) as exc:
        app.notify(str(exc), title="Cannot change the answer", severity="error", markup=False)
        return
    app.notify(f"Deliveries are now answered: {policy.describe()}", markup=False)


def _ask(app: BaseApp, title: str, value: str,
         parse: Callable[[str], ResponsePolicy]) -> None:
    def check(text: str) -> str | None:
        try:
            parse(text)
        except (PolicyError, ValueError) as exc:
            return str(exc)
        return None

    def chosen(text: str | None) -> None:
        if text is not None:
            set_policy(app, parse(text))

    app.push_screen(TextPrompt(title, value, check, ok="Apply"), chosen)


def status(app: BaseApp) -> None:
    policy = app.session.live.policy
    _ask(app, "Answer deliveries with which status? (200-599)", str(policy.status),
         lambda t: replace(policy, status=parse_status(t)))


def body(app: BaseApp) -> None:
    policy = app.session.live.policy
    _ask(app, "Answer with which body? (text, or @file; empty for our JSON)", "",
         lambda t: replace(policy, body=read_body(t) if t else None))


def header(app: BaseApp) -> None:
    policy = app.session.live.policy
    _ask(app, "Add which header to the answer? ('Name: value')", "",
         lambda t: replace(policy, headers=(*policy.headers, answer_header(t))))


def delay(app: BaseApp) -> None:
    policy = app.session.live.policy
    _ask(app, "Answer after how many seconds?", f"{policy.delay:g}",
         lambda t: replace(policy, delay=parse_delay(t)))


def toggle_reject_invalid(app: BaseApp) -> None:
    policy = app.session.live.policy
    set_policy(app, replace(policy, reject_invalid=not policy.reject_invalid))


def toggle_mirror(app: BaseApp) -> None:
    policy = app.session.live.policy
    set_policy(app, replace(policy, respond_with_downstream=not policy.respond_with_downstream))


def default(app: BaseApp) -> None:
    set_policy(app, DEFAULT_POLICY)
