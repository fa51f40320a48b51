"""Every action of the TUI, in one table: the key bindings, the help screen and the command
palette are all generated from it, so a new action is one entry here and one function in
inspector.faces.tui.features.

An action's keys are bound by the app, by the event list (keys that act on the list only while
it has focus), or by Textual itself (tab, ctrl+p: listed so that help tells of them). The table's
order is the help's order, and the footer's.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Literal

from textual.app import SystemCommand
from textual.binding import Binding, BindingType

from inspector.core.providers.connectly.samples import KINDS
from inspector.faces.tui.features import connectly, delete, filtering, rules

if TYPE_CHECKING:
    from inspector.faces.tui.base import BaseApp

Handler = Callable[["BaseApp"], object]
Where = Literal["app", "list", "textual"]
TABS = ("overview", "headers", "body", "raw", "signature", "replay", "timeline")


@dataclass(frozen=True, slots=True)
class Key:
    name: str  # Textual's name for it: "question_mark"
    shown: str = ""  # how help writes it ("?"); default: the name
    priority: bool = False  # works even where a text box has focus

    @property
    def label(self) -> str:
        return self.shown or self.name


@dataclass(frozen=True, slots=True)
class Row:
    """One help line that several actions share ("↑ ↓  j k  move in the event list")."""

    keys: str
    text: str


@dataclass(frozen=True, slots=True)
class Action:
    id: str
    title: str  # in the command palette
    help: str  # what it does: the help screen and the palette say this
    run: Handler | str  # a function of the app; or, bound by the list or Textual, its action
    keys: tuple[Key, ...] = ()
    footer: str = ""  # the footer's label, when the footer shows it
    where: Where = "app"  # who binds the keys
    palette: bool = True
    row: Row | None = None  # a help line shared with other actions

    def help_line(self) -> tuple[str, str]:
        """(keys, what they do) as the help screen shows them."""
        if self.row is not None:
            return self.row.keys, self.row.text
        return " / ".join(k.label for k in self.keys) or self.title, self.help


def _keys(*names: str) -> tuple[Key, ...]:
    return tuple(Key(name) for name in names)


def _tab(name: str) -> Handler:
    return lambda app: app.detail_pane.show_tab(name)


def _later(module: str, function: str, *args: str) -> Handler:
    """`function` of features/`module`, imported when it first runs: the features the app
    itself does not route to load after the first frame, not before it."""

    def run(app: BaseApp) -> object:
        feature = importlib.import_module(f"inspector.faces.tui.features.{module}")
        return getattr(feature, function)(app, *args)

    return run


def _help(app: BaseApp) -> object:
    from inspector.faces.tui.screens.help import HelpScreen  # loads on use

    return app.push_screen(HelpScreen(*help_lines()))


MOVE = Row("↑ ↓  j k", "move in the event list")
PAGE = Row("PgUp PgDn", "move a page")
ENDS = Row("Home End  g G", "first / newest event (End turns follow on)")
FOCUS = Row("enter / escape", "focus the detail tab's content / back to the list")
CYCLE = Row("tab / shift+tab", "move focus between the list, tabs and views")
DELETE = Row("d / u", f"delete the selected event / undo that within "
                      f"{delete.UNDO_SECONDS:.0f} s")
TAB_KEYS = Row(f"1 … {len(TABS)}", f"detail tabs: {', '.join(TABS)}")
SAMPLES = Row("Send sample event: …", f"post a signed sample Connectly event to this "
                                      f"inspector ({', '.join(KINDS)})")

ACTIONS: tuple[Action, ...] = (
    Action("cursor-up", "Up", "move up", "cursor_up", (Key("up", "↑"), Key("k")),
           where="list", palette=False, row=MOVE),
    Action("cursor-down", "Down", "move down", "cursor_down", (Key("down", "↓"), Key("j")),
           where="list", palette=False, row=MOVE),
    Action("page-up", "Page up", "move a page up", "page_up", (Key("pageup", "PgUp"),),
           where="list", palette=False, row=PAGE),
    Action("page-down", "Page down", "move a page down", "page_down",
           (Key("pagedown", "PgDn"),), where="list", palette=False, row=PAGE),
    Action("first", "First", "the first event", "first", (Key("home", "Home"), Key("g")),
           where="list", palette=False, row=ENDS),
    Action("last", "Last", "the newest event", "last", (Key("end", "End"), Key("G")),
           where="list", palette=False, row=ENDS),
    Action("open", "Open", "focus the detail tab's content", "open", _keys("enter"),
           where="list", palette=False, row=FOCUS),
    Action("focus-list", "Back to the list", "back to the list",
           lambda app: app.event_list.focus(), _keys("escape"), palette=False, row=FOCUS),
    Action("focus-next", "Next", "focus the next widget", "app.focus_next", _keys("tab"),
           where="textual", palette=False, row=CYCLE),
    Action("focus-previous", "Previous", "focus the previous widget", "app.focus_previous",
           _keys("shift+tab"), where="textual", palette=False, row=CYCLE),
    Action("mark", "Mark", "mark / unmark the selected event, then move down (replay, "
           "export, compare)", "toggle_mark", (Key("space"),), "Mark", where="list",
           palette=False),
    Action("quit", "Quit", "quit (stops the receiver and frees the port)",
           lambda app: app.action_quit(), (Key("q"), Key("ctrl+q", priority=True)), "Quit",
           palette=False),
    Action("replay", "Replay selected or marked events", "replay the selected event to your "
           "app (the marked ones, if any, in the order they arrived)",
           _later("replay", "replay_selected"), _keys("r"), "Replay"),
    Action("edit-replay", "Edit and replay selected event", "edit method, URL, headers or "
           "body, re-sign, then replay", _later("edit_replay", "edit_replay"), _keys("R"),
           "Edit & replay"),
    Action("resign-replay", "Re-sign and replay selected event", "re-sign (fresh timestamp) "
           "and replay an event that arrived valid", _later("replay", "resign_replay"), _keys("s")),
    Action("follow", "Toggle follow mode", "toggle follow mode (select the newest event as "
           "it arrives)", lambda app: app.event_list.toggle_follow(),
           _keys("f"), "Follow"),
    Action("filter", "Filter events…", "filter: free text and method: verdict: provider: "
           "kind: path: since: answered: (what the sender got) result: (the latest "
           "replay/forward) rule: (the answer rule) related: (related:this, the selected "
           "event's object) retry:yes; enter keeps it, escape clears it", filtering.open_bar,
           (Key("slash", "/", priority=True),), "Filter"),  # app.check_action: not in a box
    Action("copy-curl", "Copy as curl", "copy the selected event as a byte-exact curl "
           "command", _later("curl", "copy_curl"), _keys("c"), "Copy curl"),
    Action("export", "Export events…", "export the marked events, or the list as shown "
           "(jsonl, HAR, curl)", _later("export", "export"), _keys("e"), "Export"),
    Action("compare", "Compare two events", "compare the two marked events side by side",
           _later("compare", "compare"), (Key("equals_sign", "="),), "Compare"),
    Action("delete", "Delete selected event", "delete it at once, from every viewer too (u "
           f"brings it back within {delete.UNDO_SECONDS:.0f} s)", delete.delete, _keys("d"),
           "Delete", row=DELETE),
    Action("undo", "Undo delete", "bring back the event deleted last", delete.undo,
           _keys("u"), row=DELETE),
    Action("clear", "Clear all events", "clear all events (asks first)", delete.clear,
           _keys("D")),
    Action("rules", "Answer rules…", "the answer rules: add, edit, reorder, turn on or off, "
           "save; the first that matches decides a request's answer", rules.open_rules,
           _keys("a")),
    Action("breakpoint", "Toggle breakpoint (hold every request)", "hold every request "
           "before it is answered, until you decide or its deadline passes",
           rules.toggle_breakpoint, _keys("b")),
    Action("held", "Held requests…", "what waits at a breakpoint: release it, answer it "
           "with edits, or forward it and answer with what came back", rules.open_held,
           _keys("h")),
    *(Action(f"tab-{name}", f"Show {name} tab", f"detail pane: {name}", _tab(name),
             _keys(str(i)), row=TAB_KEYS) for i, name in enumerate(TABS, 1)),
    Action("palette", "Command palette", "command palette: every action by name",
           "app.command_palette", _keys("ctrl+p"), where="textual", palette=False),
    Action("help", "Show keys", "this help", _help,
           (Key("question_mark", "?"),), "Help"),
    Action("replay-view", "Replay all events in view", "every event the list shows, in the "
           "order they arrived (asks first, naming the filter)", _later("replay", "replay_view")),
    Action("related", "Show events about the same object", "filter the list to the "
           "selected event's timeline (related:this): its statuses, replies and retries",
           filtering.show_related),
    Action("clear-marks", "Clear marks", "unmark every event",
           lambda app: app.event_list.clear_marks()),
    Action("set-secret", "Set secret…", "set a provider's signing secret for this session "
           "and re-verify the listed events, the visible ones first",
           _later("secrets", "set_secret")),
    Action("response-status", "Respond with status…", "the status code deliveries get",
           _later("answers", "status")),
    Action("response-body", "Respond with body…", "text or @file instead of our JSON",
           _later("answers", "body")),
    Action("response-header", "Add response header…", "a header added to every answer",
           _later("answers", "header")),
    Action("response-delay", "Set response delay…", "answer after N seconds",
           _later("answers", "delay")),
    Action("reject-invalid", "Toggle reject invalid signatures", "answer 401 to invalid "
           "signatures, to watch the provider retry", _later("answers", "toggle_reject_invalid")),
    Action("mirror", "Toggle answer with your app's response", "mirror what the --forward-to "
           "app answered", _later("answers", "toggle_mirror")),
    Action("response-default", "Reset the answer", 'back to 200 {"ok": true, "id": …}',
           _later("answers", "default")),
    Action("forward-breakpoint", "Toggle forward breakpoint", "hold every forward before "
           "it leaves, to edit, send or skip it", rules.toggle_forward_breakpoint),
    Action("replay-target", "Set replay target…", "where replays go from now on, without "
           "asking (the header shows it)", _later("targets", "replay_target")),
    Action("forward-target", "Set forward target…", "forward every new event to a URL from "
           "now on, or stop (the header shows it)", _later("targets", "forward_target")),
    Action("register-connectly", "Register tunnel with Connectly", "both topics, to the "
           "tunnel's public URL; a topic registered already is offered for an update (asks "
           "for the business id and API key when not set)", connectly.register),
    Action("point-connectly", "Point Connectly webhooks at the tunnel", "update both topics' "
           "registrations to the tunnel's URL (no gap in delivery), creating any missing",
           connectly.point),
    Action("list-connectly", "List Connectly webhooks", "every registration: id, topic, "
           "address, configuration", connectly.list_webhooks),
    Action("delete-connectly", "Delete Connectly webhook…", "pick a registration by its id, "
           "confirm, delete (its events stop at once)", connectly.delete_webhook),
    Action("copy-registration", "Copy registration curl", "the same registration as curl "
           "commands, reading your key from $CONNECTLY_API_KEY", connectly.copy_registration),
    Action("copy-point-connectly", "Copy point-at-tunnel curl", "the update (or create) "
           "commands that point both topics at the tunnel, as curl", connectly.copy_point),
    Action("copy-list-connectly", "Copy list-webhooks curl", "the command that lists your "
           "Connectly webhooks, as curl", connectly.copy_list),
    Action("copy-delete-connectly", "Copy delete-webhook curl…", "the command that deletes "
           "a Connectly webhook, as curl (asks for its id)", connectly.copy_delete),
    *(Action(f"sample-{kind}", f"Send sample event: {kind}", "post a signed sample "
             f"Connectly {kind} event to this inspector", _later("samples", "send_sample", kind),
             row=SAMPLES)
      for kind in KINDS),
)
BY_ID = {action.id: action for action in ACTIONS}


def bindings(where: Where) -> list[BindingType]:
    """The key bindings of the app or of the list, in the table's order."""
    out: list[BindingType] = []
    for action in ACTIONS:
        if action.where != where or not action.keys:
            continue
        run = action.run if isinstance(action.run, str) else f"run('{action.id}')"
        for n, key in enumerate(action.keys):
            shown = bool(action.footer) and n == 0
            out.append(Binding(key.name, run, action.footer or action.title, show=shown,
                               priority=key.priority,
                               id=action.id if n == 0 else f"{action.id}-{key.name}"))
    return out


def commands(app: BaseApp) -> Iterator[SystemCommand]:
    """The command palette's entries: every action the palette offers, by title."""
    for action in ACTIONS:
        if action.palette and not isinstance(action.run, str):
            keys = " / ".join(k.label for k in action.keys)
            yield SystemCommand(action.title, f"{action.help} ({keys})" if keys else
                                action.help, partial(action.run, app))


def help_lines() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The help screen's lines: (keys, what they do), then the palette's own commands
    (title, what it does); a line shared by several actions once."""
    keys: list[tuple[str, str]] = []
    palette: list[tuple[str, str]] = []
    for action in ACTIONS:
        line = action.help_line()
        lines = keys if action.keys else palette
        if line not in lines:
            lines.append(line)
    return keys, palette
