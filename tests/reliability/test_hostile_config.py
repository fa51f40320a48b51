"""Hostile config files, through the real CLI: an `inspector.toml` nobody named.

A config file found in the working directory (a cloned repository, a shared folder) is
read without anyone choosing it. It must not be able to serve the user's files to every
sender (`response_body = "@~/.ssh/id_rsa"`), hang start-up (a FIFO), or crash it (deep
nesting): each case is one clear line and a usage exit, the file's bytes never shown. A
config named with --config may use files anywhere. Start-up says which config was loaded.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.reliability.conftest import Pty, child_env, inspector_argv, wait_until

SECRET_BYTES = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"


def route(body: str) -> str:
    return f'[[route]]\npath = "/*"\nresponse_body = "{body}"\n'


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home folder holding a private key, outside the folder the config is found in."""
    folder = tmp_path / "home"
    (folder / ".ssh").mkdir(parents=True)
    (folder / ".ssh" / "id_rsa").write_bytes(SECRET_BYTES)
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "reply.json").write_text('{"from": "reply.json"}')
    return folder


def run(cwd: Path, home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        inspector_argv("serve", "--port", "0", "--db", str(cwd.parent / "e.db"), *args),
        cwd=cwd, env=child_env(HOME=str(home)), capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL)


def _link(target: str) -> Callable[[Path, Path], str]:
    def make(project: Path, home: Path) -> str:
        (project / "innocent.json").symlink_to(target.format(home=home))
        return route("@innocent.json")
    return make


def _fifo(project: Path, home: Path) -> str:
    os.mkfifo(project / "reply.pipe")
    return route("@reply.pipe")


def _big_reply(project: Path, home: Path) -> str:
    (project / "big.json").write_bytes(b" " * (10 * 1024 * 1024 + 1))
    return route("@big.json")


HOSTILE: dict[str, tuple[Callable[[Path, Path], str], str]] = {
    "absolute path outside": (lambda p, h: route(f"@{h}/.ssh/id_rsa"), "is outside"),
    "home folder": (lambda p, h: route("@~/.ssh/id_rsa"), "is outside"),
    "dot-dot": (lambda p, h: route("@../home/.ssh/id_rsa"), "is outside"),
    "symlink inside pointing out": (_link("{home}/.ssh/id_rsa"), "is outside"),
    "symlink to a device": (_link("/dev/zero"), "is outside"),
    "fifo inside": (_fifo, "is not a regular file"),
    "response file over 10 MiB": (_big_reply, "the limit is 10,485,760"),
    "missing file": (lambda p, h: route("@nothing.json"), "cannot read the response body file"),
    "nested 100,000 deep": (lambda p, h: "a = " + "[" * 100_000 + "]" * 100_000,
                            "nested too deeply"),
    "not UTF-8": (lambda p, h: '[[route]]\npath = "/\xff"\n', "not UTF-8"),
    "2 MB of comments": (lambda p, h: "#" * 2_000_000 + "\n", "larger than 1,048,576 bytes"),
    "escape sequences in a key": (lambda p, h: '[[route]]\n"\\u001b]0;x\\u0007" = 1\n',
                                  "is not a known key"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_found_config_cannot_reach_outside_its_folder(case: str, project: Path,
                                                        home: Path) -> None:
    make, expected = HOSTILE[case]
    text = make(project, home)
    (project / "inspector.toml").write_bytes(text.encode("utf-8", "surrogateescape")
                                             if "\xff" not in text else text.encode("latin-1"))
    result = run(project, home)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in output and "listening on" not in output
    assert "BEGIN OPENSSH" not in output and "\x1b]" not in output
    assert len(result.stderr) < 2000  # a usage line, not the file


def test_a_named_config_may_use_files_anywhere(project: Path, home: Path) -> None:
    (project / "inspector.toml").write_text(route(f"@{home}/.ssh/id_rsa"))
    with served(project, home, "--config", "inspector.toml") as (base, err):
        answer = httpx.post(base + "/hook", content=b"{}")
        assert answer.content == SECRET_BYTES  # the user asked for it by naming the file
        config = str((project / "inspector.toml").absolute())
        assert f"config: {config} (--config), 1 route" in err()


def test_a_found_config_serves_files_from_its_folder_and_says_so(project: Path,
                                                                 home: Path) -> None:
    (project / "inspector.toml").write_text(route("@reply.json"))
    with served(project, home) as (base, err):
        answer = httpx.post(base + "/hook", content=b"{}")
        assert answer.json() == {"from": "reply.json"}
        config = str((project / "inspector.toml").absolute())
        assert f"config: {config} (found in the working directory), 1 route" in err()


def test_the_tui_says_which_config_it_loaded(project: Path, home: Path) -> None:
    (project / "inspector.toml").write_text(route("@reply.json"))
    term = Pty(inspector_argv("--port", "0", "--db", str(project.parent / "e.db")),
               cwd=project)
    try:
        term.wait_for(r"config: \S*inspector\.toml \(found in the working directory\), 1 route")
    finally:
        term.close()


@contextmanager
def served(cwd: Path, home: Path, *args: str) -> Iterator[tuple[str, Callable[[], str]]]:
    """`inspector serve` in `cwd`; yields its URL and a reader of its stderr."""
    err = cwd.parent / "serve.err"
    with err.open("wb") as err_file:
        proc = subprocess.Popen(
            inspector_argv("serve", "--port", "0", "--db", str(cwd.parent / "e.db"), *args),
            cwd=cwd, env=child_env(HOME=str(home)), stdout=subprocess.DEVNULL,
            stderr=err_file, stdin=subprocess.DEVNULL)

    def text() -> str:
        return err.read_text("utf-8", "replace")

    try:
        def listening() -> str | None:
            assert proc.poll() is None, text()
            found = re.search(r"listening on (http://\S+)", text())
            return found.group(1).rstrip("/") if found else None

        yield wait_until(listening, 30, "serve to listen"), text
    finally:
        proc.send_signal(signal.SIGTERM)  # our own child, by its id
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
