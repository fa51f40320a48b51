"""The Rules screen: the session's answer rules, in order, edited live.

Each rule is one row: on or off, its name, what it matches, what it answers, how many
requests it decided and how many times its `when` could not be evaluated (with the last
reason below the table). `a` adds a rule, `enter` edits one (its TOML, checked as you type:
a mistake names the line and the reason), `space` turns it on or off, `K`/`J` move it,
`d` deletes it, `w` saves them all to the config file. Changes apply from the next request.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, TextArea

from inspector.core.config import ConfigError, save_rules
from inspector.core.display import count
from inspector.core.rules.rule import Context, Rule, RuleError, rule_from_text
from inspector.core.session import Session
from inspector.faces.tui.screens.prompt import Confirm, Dialog
from inspector.faces.tui.screens.table import TableScreen
from inspector.faces.tui.widgets.inert import inert

TEMPLATE = """name = "{name}"
path = "/webhooks/*"
# when = 'body.statusUpdate.status == "read"'
respond = [503, 503, 200]
"""


class RuleEditor(Dialog):
    """A rule's TOML, checked as it is typed; dismisses with the rule (None: cancelled)."""

    DEFAULT_CSS = """
    RuleEditor #rule-editor { width: 100; max-width: 96%; height: 80%; }
    RuleEditor .title { text-style: bold; margin-bottom: 0; }
    RuleEditor .caption { color: $text-muted; }
    RuleEditor #source { height: 1fr; width: 1fr; }
    RuleEditor #problem { height: auto; margin: 1 0 0 0; }
    RuleEditor #problem.-bad { color: $error; }
    RuleEditor #problem.-good { color: $success; }
    """
    BINDINGS = [Binding("ctrl+s", "submit", "Apply", priority=True)]

    def __init__(self, title: str, source: str, number: int, session: Session,
                 index: int | None) -> None:
        super().__init__()
        self.title_text = title
        self.source = source
        self.number = number  # its position, for "rule N" when it has no name
        self.session = session
        self.index = index  # the rule it replaces (None: a new one)
        # `body = "@file"` is read next to the config file, as when it was loaded (a person
        # typed it here: not confined to that folder).
        config = session.settings.config_path
        self.context = Context(Path(config).parent if config else None)

    def compose(self) -> ComposeResult:
        with Vertical(id="rule-editor"):
            yield Label(Text(self.title_text), classes="title")
            yield Label(Text("The keys of one [[rule]]: match with method, path, header, "
                             "provider, kind, verdict, when; answer with respond, body, "
                             "headers, delay, fault, timeout, hold, forward, forward_retries, "
                             "hold_forward (README: Answer rules)."), classes="caption")
            yield TextArea(self.source, id="source", soft_wrap=False)
            yield Label(Text(""), id="problem")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Apply", id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#source", TextArea).focus()
        self.check()

    def on_text_area_changed(self) -> None:
        self.check()

    def check(self) -> Rule | None:
        """Read the text as a rule; show what is wrong (or that it is fine)."""
        label = self.query_one("#problem", Label)
        try:
            rule = rule_from_text(self.query_one("#source", TextArea).text,
                                  number=self.number, context=self.context)
            self._taken(rule)
        except RuleError as exc:
            label.update(inert(f"✗ {exc}"))
            label.set_classes("-bad")
            return None
        label.update(inert(f"✓ {rule.describe_match()} → {rule.describe_action()}"))
        label.set_classes("-good")
        return rule

    def _taken(self, rule: Rule) -> None:
        for n, other in enumerate(self.session.rules.rules):
            if other.name == rule.name and n != self.index:
                raise RuleError(f"name: {rule.name!r} is taken by rule {n + 1}: names must "
                                "differ (the filter rule:NAME finds a rule's events)")

    def _submit(self) -> None:
        rule = self.check()
        if rule is not None:
            self.dismiss(rule)


class RulesScreen(TableScreen):
    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit"),
        Binding("space", "switch", "On/off"),
        Binding("K,ctrl+up", "move(-1)", "Move up"),
        Binding("J,ctrl+down", "move(1)", "Move down"),
        Binding("d,delete", "remove", "Delete"),
        Binding("w", "save", "Save to file"),
    ]
    COLUMNS = (("#", 3), ("on", 3), ("name", 24), ("matches", 48), ("answers", 30),
               ("hits", 7), ("failed", 7))

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def show(self, select: int | None = None) -> None:
        """Redraw the rows (and the counts), keeping the cursor, or moving it to `select`."""
        table = self.table
        keep = table.cursor_row if select is None else select
        entries = self.session.rules.entries
        table.clear()
        for n, entry in enumerate(entries, 1):
            rule = entry.rule
            table.add_row(Text(str(n)), Text("on" if rule.enabled else "off",
                                             style="green" if rule.enabled else "dim"),
                          inert(rule.name, "bold", line=True, limit=23),
                          inert(rule.describe_match(), line=True, limit=47),
                          inert(rule.describe_action(), line=True, limit=29),
                          Text(f"{entry.hits:,}"),
                          Text(f"{entry.failures:,}", style="red" if entry.failures else ""))
        if entries:
            table.move_cursor(row=min(max(keep, 0), len(entries) - 1))
        where = self.session.settings.config_path or "./inspector.toml"
        title = Text.assemble(("Answer rules", "bold"), f"  {count(len(entries), 'rule')}, "
                              "the first that matches decides  ·  w saves them to ")
        title.append_text(inert(where, line=True, limit=60))
        self.title_line(title)
        self.show_detail()

    def show_detail(self) -> None:
        entries = self.session.rules.entries
        index = self.row
        if index is None or index >= len(entries):
            self.detail(Text("No rules: press a to add one. Requests get the default answer "
                             "(or --status, --delay, …).", style="dim"))
            return
        entry = entries[index]
        where = Path(entry.rule.where).name  # "inspector.toml:12": the title names the file
        text = Text(f"from {where}\n", style="dim") if where else Text()
        text.append_text(inert(entry.rule.source.rstrip("\n")))
        if entry.failures:
            text.append("\n")
            text.append_text(inert(f"failed to evaluate {count(entry.failures, 'time')}, "
                                   f"last: {entry.failure}", "red"))
        self.detail(text)

    def on_data_table_row_selected(self) -> None:
        self.action_edit()

    # -- actions ---------------------------------------------------------------------------

    def action_add(self) -> None:
        number = len(self.session.rules.entries) + 1
        self._edit(f"New rule (number {number})", TEMPLATE.format(name=f"rule {number}"),
                   number, None)

    def action_edit(self) -> None:
        index = self.row
        if index is None:
            self.action_add()
            return
        rule = self.session.rules.entries[index].rule
        self._edit(f"Rule {index + 1}: {rule.name}", rule.source, index + 1, index)

    def _edit(self, title: str, source: str, number: int, index: int | None) -> None:
        def done(rule: Rule | None) -> None:
            if rule is None:
                return
            try:
                self.session.put_rule(rule, index)
            except RuleError as exc:  # taken meanwhile
                self.notify(str(exc), title="Not applied", severity="error", markup=False)
                return
            self.show(select=len(self.session.rules.entries) - 1 if index is None else index)
            self.notify(f"{rule.name}: applies from the next request (w saves the rules to "
                        "the file).", markup=False)

        self.app.push_screen(RuleEditor(title, source, number, self.session, index), done)

    def action_switch(self) -> None:
        if self.row is not None:
            self.session.toggle_rule(self.row)
            self.show()

    def action_move(self, step: int) -> None:
        index = self.row
        if index is None or not 0 <= index + step < len(self.session.rules.entries):
            return
        self.session.move_rule(index, index + step)
        self.show(select=index + step)

    def action_remove(self) -> None:
        index = self.row
        if index is None:
            return
        name = self.session.rules.entries[index].rule.name

        def answered(yes: str | None) -> None:
            if yes:
                self.session.remove_rule(index)
                self.show()

        self.app.push_screen(Confirm(f"Delete the rule {name!r}?", "Delete"), answered)

    def action_save(self) -> None:
        path = self.session.settings.config_path or "inspector.toml"
        rules = self.session.rules.rules
        try:
            save_rules(path, rules)
        except ConfigError as exc:
            self.notify(str(exc), title="Rules not saved", severity="error", markup=False)
            return
        self.session.rules.saved = tuple(rules)
        self.notify(f"Saved {count(len(rules), 'rule')} to {path}.", markup=False)
