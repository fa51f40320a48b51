"""A throwaway PostgreSQL cluster for the tests: Debian's `postgresql` binaries, run as the
`postgres` user (PostgreSQL refuses root), listening only on a unix socket in a temporary
folder, with fsync off. `make test` installs the package when it is missing; a test that
needs PostgreSQL and cannot start it fails and says why, it never skips.

    cluster = Cluster.start()
    url = cluster.new_database()     # postgresql://postgres@/t3?host=/tmp/pg-...
    cluster.stop(); cluster.start_again()   # the database going away, and coming back
    cluster.destroy()
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

USER = "postgres"
SECURED = "secured"  # a role that must give its password (SECURED_PASSWORD)
SECURED_PASSWORD = "right-password"
PEERED = "peered"  # a role let in only from the system account of its name (Debian's default)
_counter = itertools.count(1)


class ClusterError(RuntimeError):
    pass


def binaries() -> Path:
    """The newest installed server's bin folder."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise ClusterError("PostgreSQL is not installed: `make test` installs it as root "
                           "(apt-get install -y postgresql)")
    return Path(found[-1]).parent


def _as_postgres(*args: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", USER, "--", *args]
    return list(args)


class Cluster:
    def __init__(self, root: Path, bindir: Path, settings: str = "") -> None:
        self.settings = settings  # more server options ("-c name=value ...")
        self.root = root
        self.bindir = bindir
        self.data = root / "data"
        self.socket_dir = root / "sock"

    @classmethod
    def start(cls, settings: str = "") -> Cluster:
        bindir = binaries()
        root = Path(tempfile.mkdtemp(prefix="inspector-pg-"))
        cluster = cls(root, bindir, settings)
        cluster.socket_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(root, USER, USER)
            shutil.chown(cluster.socket_dir, USER, USER)
        cluster._run(str(bindir / "initdb"), "--no-sync", "-U", USER, "--auth=trust",
                     "-E", "UTF8", "--locale=C.UTF-8", "-D", str(cluster.data))
        (cluster.data / "pg_hba.conf").write_text(
            f"local all {SECURED} scram-sha-256\nlocal all {PEERED} peer\n"
            "local all all trust\n")
        cluster.start_again()
        cluster.sql(f"CREATE ROLE {SECURED} LOGIN SUPERUSER PASSWORD '{SECURED_PASSWORD}'")
        cluster.sql(f"CREATE ROLE {PEERED} LOGIN")
        return cluster

    def _run(self, *args: str) -> str:
        done = subprocess.run(_as_postgres(*args), capture_output=True, text=True,
                              check=False, timeout=60)
        if done.returncode:
            raise ClusterError(f"{' '.join(args[:2])} failed: {done.stderr or done.stdout}")
        return done.stdout

    def start_again(self) -> None:
        """Start the server (after `stop`): same data, same socket."""
        options = (f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off "
                   f"-c full_page_writes=off -c max_connections=200 {self.settings}")
        self._run(str(self.bindir / "pg_ctl"), "start", "-w", "-D", str(self.data),
                  "-l", str(self.root / "log"), "-o", options)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` disconnects everyone, `immediate` is a crash."""
        self._run(str(self.bindir / "pg_ctl"), "stop", "-w", "-m", mode, "-D", str(self.data))

    def url(self, database: str = "postgres", user: str = USER, password: str = "") -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@/{database}?host={self.socket_dir}"

    def sql(self, statement: str, database: str = "postgres") -> str:
        return self._run(str(self.bindir / "psql"), "-h", str(self.socket_dir), "-U", USER,
                         "-d", database, "-v", "ON_ERROR_STOP=1", "-qAtc", statement)

    def new_database(self) -> str:
        """A new empty database; its URL."""
        name = f"t{os.getpid()}_{next(_counter)}"
        self.sql(f"CREATE DATABASE {name}")
        return self.url(name)

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except ClusterError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)
