"""The Timeline and retries in the real TUI: deliveries posted signed over real HTTP, a
sender that retries on non-2xx against the receiver answering 503 then 200."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
from textual.widgets import DataTable

from inspector.core.capture.answers import build_policy
from inspector.core.providers.connectly import samples
from inspector.faces.tui.widgets.detail import DetailPane
from inspector.faces.tui.widgets.event_list import summary_cell
from tests.conftest import SECRET, running_app, wait_for
from tests.test_injection import terminal_output

MESSAGE = "01JD7Q4ZQ8T3W5Y1G2H3K4M5N6"
STORY = (("sent", "statusUpdate.id"), ("delivery_status", "statusUpdate.id"),
         ("read", "statusUpdate.id"), ("reply", "context.replyToId"))


def cells(pane: DetailPane) -> list[list[str]]:
    """The Timeline's lines as text, column by column."""
    table = pane.query_one("#timeline", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def shown(pilot: Any, seq: int) -> DetailPane:
    """Wait until the detail pane shows event `seq`."""
    pane: DetailPane = pilot.app.query_one(DetailPane)
    await wait_for(lambda: pane.detail is not None and pane.detail.event.seq == seq,
                   what=f"detail of {seq}")
    return pane


async def test_sent_delivered_read_and_the_reply_in_the_timeline(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, pilot, base), httpx.AsyncClient() as client:
        for kind, where in STORY:
            sample = samples.build(kind, secret=SECRET, sets=[f"{where}={MESSAGE}"])
            await client.post(base + sample.path, content=sample.body, headers=sample.headers)
            await asyncio.sleep(0.05)  # distinct arrival times, as in life
        other = samples.build("read", secret=SECRET)
        await client.post(base + other.path, content=other.body, headers=other.headers)
        await wait_for(lambda: len(app.event_list.seqs) == 5, what="five rows")
        story = list(app.event_list.seqs[:4])

        await pilot.press("k", "7")  # the `read` status, its Timeline
        pane = await shown(pilot, story[3])
        await pilot.press("k")
        pane = await shown(pilot, story[2])
        await wait_for(lambda: len(cells(pane)) == 4, what="four lines")
        lines = cells(pane)
        assert [line[3] for line in lines] == ["delivery_status"] * 3 + ["message"]
        assert [line[0] for line in lines] == ["", "", "►", ""]
        assert lines[0][2] == "" and all(line[2].startswith("+") for line in lines[1:])
        assert [line[-1].split(" · ")[0] for line in lines[:3]] == ["sent", "delivered", "read"]
        assert "reply to " + MESSAGE[:14] in lines[3][-1]
        assert {line[4] for line in lines} == {"200 OK"}
        heading = str(pane.query_one("#timeline-heading").render())
        assert f"About {MESSAGE}" in heading and "4 events over" in heading

        # Enter on the first line selects `sent` in the list.
        pane.query_one("#timeline").focus()
        await pilot.press("up", "up", "enter")
        await shown(pilot, story[0])
        assert app.event_list.selected == story[0]

        # related:this narrows the list to the story (the other `read` goes).
        await pilot.press("escape", "slash", *"related:this", "enter")
        await wait_for(lambda: list(app.event_list.seqs) == story, what="the story only")
        assert app.filter_bar.input.value == "related:this"

        # A status that arrives later joins the Timeline on screen.
        await pilot.press("7")
        failed = samples.build("delivery_failed", secret=SECRET,
                               sets=[f"statusUpdate.id={MESSAGE}"])
        await client.post(base + failed.path, content=failed.body, headers=failed.headers)
        await wait_for(lambda: len(cells(pane)) == 5, what="the late status in the Timeline")
        assert cells(pane)[-1][-1].startswith("delivery_failed: Message template inputs")


async def deliver(base: str, sample: samples.Sample, attempts: int = 6,
                  backoff: float = 0.1) -> list[int]:
    """A sender as providers are: on a non-2xx answer, the same bytes again, later."""
    statuses = []
    async with httpx.AsyncClient() as client:
        for attempt in range(attempts):
            answer = await client.post(base + sample.path, content=sample.body,
                                       headers=sample.headers)
            statuses.append(answer.status_code)
            if answer.is_success:
                break
            await asyncio.sleep(backoff * 2 ** attempt)
    return statuses


async def test_a_delivery_retried_after_503s_is_marked_and_explained(tmp_path: Path) -> None:
    async with running_app(tmp_path, policy=build_policy(status=503)) as (app, pilot, base):
        sample = samples.build("text", secret=SECRET)
        sender = asyncio.create_task(deliver(base, sample))
        await wait_for(lambda: app.event_list.seqs, what="the first delivery")
        app.action_run("response-default")  # Reset the answer: 200 from now on
        statuses = await sender
        assert statuses[0] == 503 and statuses[-1] == 200 and len(statuses) >= 2
        await wait_for(lambda: len(app.event_list.seqs) == len(statuses), what="every try")
        seqs = list(app.event_list.seqs)
        rows = [app.event_list.row(seq) for seq in seqs]
        assert [(r.status, r.retry) for r in rows if r] == [
            (status, n) for n, status in enumerate(statuses)]
        first = rows[0]
        assert first is not None and {r.retry_of for r in rows[1:] if r} == {first.id}

        # The list marks each retry, naming the first delivery by its time.
        last = rows[-1]
        assert last is not None
        assert summary_cell(last).startswith(f"↻ retry #{len(statuses) - 1} of ")
        await pilot.pause()
        drawn = app.event_list.render_line(len(seqs)).text
        assert f"↻ retry #{len(statuses) - 1} of" in drawn

        # The detail: the Overview says which answer came before; the Timeline, the chain.
        pane = await shown(pilot, seqs[-1])
        await wait_for(lambda: len(cells(pane)) == len(statuses), what="the chain")
        await pilot.press("1")
        await wait_for(lambda: "the delivery before it was answered 503 Service Unavailable"
                       in terminal_output(app)[1], what="the Overview's retry line")
        assert f"retry #{len(statuses) - 1} of {first.id} (+" in terminal_output(app)[1]
        await pilot.press("7")
        heading = str(pane.query_one("#timeline-heading").render())
        assert heading.startswith("This delivery and the ones that repeat it")
        # What each try was answered, in order: which answer caused which retry.
        chain = heading.split("This delivery: ")[1]
        assert re.findall(r"(\d{3}) [A-Z]", chain) == [str(s) for s in statuses]
        assert re.findall(r"retry #(\d+) \(\+", chain) == [
            str(n) for n in range(1, len(statuses))]
        assert [line[5] for line in cells(pane)] == ["first"] + [
            f"retry #{n}" for n in range(1, len(statuses))]

        # retry:yes lists the retries, retry:no the first delivery.
        await pilot.press("slash", *"retry:yes", "enter")
        await wait_for(lambda: list(app.event_list.seqs) == seqs[1:], what="the retries")
        await pilot.press("slash", "ctrl+u", *"retry:no", "enter")
        await wait_for(lambda: list(app.event_list.seqs) == seqs[:1], what="the first")
