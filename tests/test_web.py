"""`inspector web` in a real browser (headless Chromium through selenium), and its guard.

The browser opens the printed link, trades the token for a cookie, shows a signed Connectly
event posted to the receiver, and takes keys; a second tab past --max-tabs says so; every
request the page makes goes to the inspector itself. Without the token: 401; from another
Origin: 403. `make test` installs Debian's chromium and chromium-driver when missing; this
test fails (it never skips) when they are not there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import httpx
import pytest

from inspector.core.capture.answers import DEFAULT_POLICY
from inspector.core.session import Session
from inspector.core.signatures import Secrets
from tests.conftest import SECRET, connectly_event, make_settings, wait_for
from tests.postgres import SECURED, SECURED_PASSWORD, Cluster
from tests.reliability.conftest import ROOT, child_env, inspector_argv, wait_until

# `make screenshots` sets this to keep the picture for the README; other runs leave it.
SCREENSHOT = ROOT / "screenshots" / "web.png" if os.environ.get("INSPECTOR_SCREENSHOTS") else None
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1500,900")
ESCAPES = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
                     r"|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
# Injected before the page's own scripts: keeps what the app draws (the terminal renders
# to a canvas, so its text is read from the stream the page receives).
TRANSCRIPT = """
(() => {
  const Native = window.WebSocket;
  const decoder = new TextDecoder();
  window.__drawn = [];
  function Socket(url, protocols) {
    const socket = protocols === undefined ? new Native(url) : new Native(url, protocols);
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") {
        window.__drawn.push(decoder.decode(event.data, {stream: true}));
      }
    });
    return socket;
  }
  Socket.prototype = Native.prototype;
  Object.assign(Socket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  window.WebSocket = Socket;
})();
"""


@dataclass
class Web:
    proc: subprocess.Popen[bytes]
    receiver: str  # http://127.0.0.1:PORT (events go here)
    link: str  # the printed URL, with its token
    base: str  # the web UI without the token
    err: Path

    @property
    def token(self) -> str:
        return self.link.split("token=", 1)[1]


@contextlib.contextmanager
def web(tmp_path: Path, *args: str, db: str = "", **env: str) -> Iterator[Web]:
    """`inspector web` as a real process, both ports picked free."""
    out, err = tmp_path / "web.out", tmp_path / "web.err"
    with out.open("wb") as out_file, err.open("wb") as err_file:
        proc = subprocess.Popen(
            inspector_argv("web", "--port", "0", "--receiver-port", "0", "--db",
                           db or str(tmp_path / "e.db"), "--secret", SECRET, *args),
            stdout=out_file, stderr=err_file, stdin=subprocess.DEVNULL, env=child_env(**env),
            cwd=ROOT)
    try:
        def ready() -> tuple[str, str] | None:
            text = err.read_text("utf-8", "replace")
            assert proc.poll() is None, text
            receiver = re.search(r"listening on (http://\S+)/ ", text)
            link = re.search(r"web UI on (http://\S+)", text)
            return (receiver.group(1), link.group(1)) if receiver and link else None

        receiver, link = wait_until(ready, 30, "inspector web to listen")
        yield Web(proc, receiver, link, link.split("?", 1)[0].rstrip("/"), err)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def chromium() -> tuple[str, str]:
    """Debian's chromium and its driver; a failure that says how to get them, never a skip."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (browser and driver):
        pytest.fail("headless Chromium is needed for the web UI test: `make test` installs it "
                    "(as root: apt-get install -y chromium chromium-driver)", pytrace=False)
    return browser, driver


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium()
    options = webdriver.ChromeOptions()
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": TRANSCRIPT})
        yield driver
    finally:
        driver.quit()


def drawn(driver: object) -> str:
    text: str = driver.execute_script("return window.__drawn.join('')")  # type: ignore[attr-defined]
    return ESCAPES.sub("", text)


def press(driver: object, keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    driver.execute_script(  # type: ignore[attr-defined]
        "document.querySelector('.xterm-helper-textarea').focus()")
    ActionChains(driver).send_keys(keys).perform()  # type: ignore[arg-type]


def test_the_inspector_in_a_browser(tmp_path: Path, browser: object) -> None:
    driver = browser
    with web(tmp_path, "--max-tabs", "1") as served:
        driver.get(served.link)  # type: ignore[attr-defined]
        # The token became a cookie the page's scripts cannot read, and left the address.
        assert driver.current_url == served.base + "/"  # type: ignore[attr-defined]
        cookie = driver.get_cookie("inspector_web")  # type: ignore[attr-defined]
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
        assert "inspector_web" not in driver.execute_script("return document.cookie")  # type: ignore[attr-defined]

        pid = served.proc.pid
        wait_until(lambda: f"viewer of {served.receiver}/ (pid {pid})" in drawn(driver), 30,
                   "the viewer's header in the page")

        case = connectly_event("text")
        answer = httpx.post(served.receiver + case["path"], content=case["body"].encode(),
                            headers=case["headers"])
        assert answer.status_code == 200
        wait_until(lambda: '"TEST 11"' in drawn(driver), 10, "the event in the page")
        wait_until(lambda: "✓ valid" in drawn(driver), 10, "its verdict")

        press(driver, "2")  # the Headers tab of the selected event
        wait_until(lambda: "x-connectly-hmac-sha256" in drawn(driver), 10, "its headers")
        press(driver, "3")  # its body, for the picture
        wait_until(lambda: '"statusUpdate"' in drawn(driver) or '"message"' in drawn(driver),
                   10, "its body")
        if SCREENSHOT is not None:
            time.sleep(0.5)  # the canvas paints the last frame: a picture, never an assertion
            driver.save_screenshot(str(SCREENSHOT))  # type: ignore[attr-defined]

        # Nothing was fetched from another host: every resource is the inspector's.
        resources = driver.execute_script(  # type: ignore[attr-defined]
            "return performance.getEntriesByType('resource').map(e => e.name)")
        assert resources and all(r.startswith(served.base + "/") for r in resources), resources
        problems = [entry for entry in driver.get_log("browser")  # type: ignore[attr-defined]
                    if entry["level"] == "SEVERE"]
        assert not problems, problems

        # A second tab past --max-tabs 1 says so, instead of failing without a word.
        driver.switch_to.new_window("tab")  # type: ignore[attr-defined]
        driver.get(served.base + "/")  # type: ignore[attr-defined]
        wait_until(lambda: "Too many tabs" in driver.execute_script(  # type: ignore[attr-defined]
            "return document.querySelector('.closed-dialog .message').textContent"), 20,
            "the cap's message in the second tab")
        assert driver.execute_script(  # type: ignore[attr-defined]
            "return document.body.classList.contains('-closed')")


async def test_the_guard_refuses_without_the_token_and_from_another_origin(
        tmp_path: Path) -> None:
    with web(tmp_path) as served:
        async with httpx.AsyncClient() as client:
            bare = await client.get(served.base + "/")
            assert bare.status_code == 401
            assert "needs the link `inspector web` printed" in bare.text
            assert bare.headers["content-type"].startswith("text/html")
            wrong = await client.get(served.base + "/?token=guessed")
            assert wrong.status_code == 401 and "wrong or old" in wrong.text
            static = await client.get(served.base + "/static/js/textual.js")
            assert static.status_code == 401

            entry = await client.get(served.link)
            assert entry.status_code == 302 and entry.headers["location"] == "/"
            assert "HttpOnly" in entry.headers["set-cookie"]
            page = await client.get(served.base + "/")  # the cookie now
            assert page.status_code == 200
            policy = page.headers["content-security-policy"]
            assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
            assert "googleapis" not in page.text
            port = served.base.rsplit(":", 1)[1]
            rebound = await client.get(served.base + "/",
                                       headers={"Host": f"evil.example:{port}"})
            assert rebound.status_code == 403  # a DNS-rebinding page

        cookies = {"inspector_web": served.token}
        ws_url = served.base.replace("http:", "ws:") + "/ws"
        async with aiohttp.ClientSession(cookies=cookies) as session:
            for origin, status in (("http://evil.example", 403), ("", 403)):
                headers = {"Origin": origin} if origin else {}
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(ws_url, headers=headers)
                assert refused.value.status == status
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(ws_url, headers={"Origin": served.base})
            assert refused.value.status == 401  # the right Origin, but no cookie


def descendants(pid: int) -> list[int]:
    """The processes started by `pid`, and theirs."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


async def test_a_tab_on_postgresql_follows_this_receiver_without_showing_the_password(
        tmp_path: Path, pg_cluster: Cluster, pg_url: str) -> None:
    """Other receivers may write to a shared database: the tabs follow this one (its URL and
    pid, its secrets, its answer) through a lock of its own; the URL, with its password,
    reaches them through the environment, never a process list."""
    url = pg_cluster.url(urlsplit(pg_url).path.lstrip("/"), user=SECURED,
                         password=SECURED_PASSWORD)
    with web(tmp_path, "--provider-secret", "stripe=whsec_web_flag", db=url) as served:
        ws_url = served.base.replace("http:", "ws:") + "/ws?width=160&height=30"
        header = f"viewer of {served.receiver}/ (pid {served.proc.pid})"
        async with aiohttp.ClientSession(cookies={"inspector_web": served.token}) as session, \
                session.ws_connect(ws_url, headers={"Origin": served.base}) as tab:
            drawn = ""
            async with asyncio.timeout(60):
                while header not in ESCAPES.sub("", drawn):
                    message = await tab.receive()
                    assert message.type is aiohttp.WSMsgType.BINARY, message
                    drawn += message.data.decode("utf-8", "replace")
            started = [Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                       for pid in descendants(served.proc.pid)]
            viewers = [argv for argv in started if b"view" in argv]
            assert viewers, started
            assert not any(SECURED_PASSWORD.encode() in b"".join(a) for a in started), started
            receiver = viewers[-1][viewers[-1].index(b"--receiver") + 1].decode()
        # What the tab's viewer does with it: the receiver's secrets, and its answer.
        viewer = Session(make_settings(tmp_path, db=url, receiver=receiver, secrets=Secrets()),
                         None, view=True)
        await viewer.start()
        try:
            await wait_for(lambda: "whsec_web_flag" in viewer.live.secrets.by_provider.get(
                "stripe", ()), what="the receiver's secrets in the viewer")
            await viewer.control.set_policy(replace(DEFAULT_POLICY, status=503))
            async with httpx.AsyncClient() as client:
                answer = await client.post(served.receiver + "/hook", content=b"{}")
            assert answer.status_code == 503
        finally:
            await viewer.stop()
    assert not Path(receiver + "-receiver").exists()  # its lock goes with it


def test_open_gives_the_link_to_the_browser_or_says_it_could_not(tmp_path: Path) -> None:
    opened = tmp_path / "opened"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}\n')
    browser.chmod(0o755)
    with web(tmp_path, "--open", BROWSER=f"{browser} %s") as served:
        wait_until(lambda: opened.exists() and opened.read_text(), 10, "the browser to open")
        assert opened.read_text() == served.link  # with its token
    with web(tmp_path, "--open", BROWSER="false") as served:
        wait_until(lambda: "could not open a browser" in served.err.read_text(), 10,
                   "the reason the link did not open")
