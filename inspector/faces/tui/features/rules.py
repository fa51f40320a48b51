"""Answer rules and breakpoints: the Rules screen, the held requests, and the `b` key that
holds every request until you decide."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inspector.core.rules.rule import DEFAULT_HOLD

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp


def in_receiver(app: BaseApp, what: str) -> bool:
    """Rules, breakpoints and held requests live in the process that receives; a viewer
    says where to find them rather than edit a copy that answers nothing."""
    if not app.session.view:
        return True
    app.notify(f"{what} belong to the receiver: use them in the inspector that receives "
               "into this database (the header says which).", title="A viewer",
               severity="warning", markup=False)
    return False


def confirm_quit(app: BaseApp) -> bool:
    """Rules changed here and never written die with the process: True when there are none
    (or this is a viewer), else ask, and quit if the answer is yes."""
    if app.session.view or not app.session.rules.unsaved:
        return True
    from inspector.faces.tui.screens.prompt import Confirm

    path = app.session.settings.config_path or "inspector.toml"
    app.push_screen(Confirm(f"Quit and lose the answer rules changed since they were last "
                            f"saved? (w on the Rules screen, a, writes them to {path})",
                            "Quit"),
                    lambda yes: _lose_and_quit(app) if yes else None)
    return False


def _lose_and_quit(app: BaseApp) -> None:
    app.session.rules.saved = tuple(app.session.rules.rules)  # the person chose to lose them
    app.call_later(app.action_quit)


def open_rules(app: BaseApp) -> None:
    if not in_receiver(app, "Answer rules"):
        return
    from inspector.faces.tui.screens.rules import RulesScreen  # screens load on use

    app.push_screen(RulesScreen(app.session), lambda _: show(app))


def open_held(app: BaseApp) -> None:
    if not in_receiver(app, "Held requests"):
        return
    from inspector.faces.tui.screens.held import HeldScreen  # with TextArea: on use

    app.push_screen(HeldScreen(app.session))


def toggle_breakpoint(app: BaseApp) -> None:
    """b: hold every request before it is answered (until you decide, or its deadline)."""
    if not in_receiver(app, "Breakpoints"):
        return
    on = not app.session.rules.hold_all
    app.session.set_breakpoint(on)
    show(app)
    app.notify(f"Every request is held until you decide (h), at most {DEFAULT_HOLD:g} s; "
               "then it gets its answer." if on else
               "Requests are answered at once again (those held stay until you decide).",
               title="Breakpoint on" if on else "Breakpoint off", markup=False)


def toggle_forward_breakpoint(app: BaseApp) -> None:
    """Hold every forward before it leaves, to edit, send or skip it."""
    if not in_receiver(app, "Breakpoints"):
        return
    on = not app.session.rules.hold_forwards
    app.session.set_forward_breakpoint(on)
    show(app)
    where = "" if app.session.forwarder is not None else (
        " (no forward target yet: Set forward target…)")
    app.notify(f"Every forward is held before it leaves (h), at most {DEFAULT_HOLD:g} s; "
               f"then it goes as it is{where}." if on else "Forwards leave at once again.",
               title="Forward breakpoint on" if on else "Forward breakpoint off",
               markup=False)


def show(app: BaseApp) -> None:
    """The header's breakpoints, and the list's answer column while rules or breakpoints
    exist."""
    rules = app.session.rules
    app.status_bar.breakpoint = " · ".join(what for what, on in (
        ("holding requests (b)", rules.hold_all), ("holding forwards", rules.hold_forwards))
        if on)
    app.event_list.show_answers = bool(rules.entries or rules.hold_all or rules.hold_forwards)
