"""Stand-in for ngrok, cloudflared, npx (localtunnel) and ssh: prints each tool's real output.

Run as `python tunnel_standin.py TOOL ARGS...` (tests put a `TOOL` wrapper on PATH). It
records its argv and pid in $STANDIN_STATE, prints what the real tool prints (URL numbered
by run: the first run's is ...-1..., the second's ...-2...), then waits. Cues:
  $STANDIN_STATE/TOOL.die       print the tool's real error output and exit 1
  STANDIN_MODE=fail             fail at once, before any URL (as without network)
  STANDIN_MODE=api-only         ngrok: no "started tunnel" log line; URL only from the API
  STANDIN_MODE=stubborn         start a child in the same group and ignore SIGTERM
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

TOOL = sys.argv[1]
ARGS = sys.argv[2:]
STATE = Path(os.environ["STANDIN_STATE"])
MODE = os.environ.get("STANDIN_MODE", "")
T = "2026-11-27T12:00:00Z"


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def err(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def run_number() -> int:
    counter = STATE / f"{TOOL}.runs"
    n = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(n))
    (STATE / f"{TOOL}.argv.{n}").write_text(json.dumps(ARGS))
    (STATE / f"{TOOL}.pid.{n}").write_text(str(os.getpid()))
    return n


def port_from(arg: str) -> str:
    return arg.rsplit(":", 1)[-1].strip("/")


# -- each tool's output ---------------------------------------------------------------------


def cloudflared(n: int) -> None:
    assert ARGS[:2] == ["tunnel", "--url"], ARGS
    err(f"{T} INF Thank you for trying Cloudflare Tunnel. Doing so, without a Cloudflare "
        "account, is a quick way to experiment and try it out. However, be aware that these "
        "account-less Tunnels have no uptime guarantee, are subject to the Cloudflare Online "
        "Services Terms of Use (https://www.cloudflare.com/website-terms/), and Cloudflare "
        "reserves the right to investigate your use of Tunnels for violations of such terms. "
        "If you intend to use Tunnels in production you should use a pre-created named tunnel "
        "by following: https://developers.cloudflare.com/cloudflare-one/connections/connect-apps")
    err(f"{T} INF Requesting new quick Tunnel on trycloudflare.com...")
    if MODE == "fail":
        err(f'{T} ERR failed to request quick Tunnel: Post "https://api.trycloudflare.com/tunnel":'
            " dial tcp: lookup api.trycloudflare.com on 127.0.0.53:53: server misbehaving")
        sys.exit(1)
    bar = "+" + "-" * 92 + "+"
    err(f"{T} INF {bar}")
    err(f"{T} INF |  Your quick Tunnel has been created! Visit it at (it may take some time to "
        "be reachable):  |")
    url = f"https://quiet-river-{n}.trycloudflare.com"
    err(f"{T} INF |  {url:<88}  |")
    err(f"{T} INF {bar}")
    err(f"{T} INF Version 2024.11.1 (Checksum 5ee4a1b2)")
    err(f"{T} INF Settings: map[ha-connections:1 protocol:quic url:{ARGS[2]}]")
    err(f"{T} INF Registered tunnel connection connIndex=0 connection=8e1f0c2a-0b7e-4b1c "
        "event=0 ip=198.41.200.13 location=lhr01 protocol=quic")


def cloudflared_death() -> None:
    err(f'{T} ERR Connection terminated error="connection with edge closed" connIndex=0')
    err(f"{T} ERR no more connections active and exiting")


def ngrok(n: int) -> None:
    assert ARGS[0] == "http" and "--log" in ARGS and "json" in ARGS, ARGS
    port = port_from(ARGS[1])
    api = os.environ.get("INSPECTOR_NGROK_API", "http://127.0.0.1:4040").removeprefix("http://")
    url = f"https://ab12-203-0-113-{n}.ngrok-free.app"
    if MODE == "api-only":
        serve_api(api, url, port)
    out(json.dumps({"lvl": "info", "msg": "no configuration paths supplied", "t": T}))
    out(json.dumps({"lvl": "info", "msg": "using configuration at default config path",
                    "path": "/root/.config/ngrok/ngrok.yml", "t": T}))
    out(json.dumps({"addr": api, "allow_hosts": None, "lvl": "info",
                    "msg": "starting web service", "obj": "web", "t": T}))
    if MODE == "fail":
        err("ERROR:  authentication failed: Usage of ngrok requires a verified account and "
            "authtoken.")
        err("ERROR:  ERR_NGROK_4018")
        sys.exit(1)
    out(json.dumps({"id": "5d0f3c1e9a7b", "lvl": "info", "msg": "client session established",
                    "obj": "tunnels.session", "t": T}))
    if MODE != "api-only":
        out(json.dumps({"addr": f"http://127.0.0.1:{port}", "lvl": "info",
                        "msg": "started tunnel", "name": "command_line", "obj": "tunnels",
                        "t": T, "url": url}))


def ngrok_death() -> None:
    out(json.dumps({"err": "failed to dial ngrok server with address "
                    '"connect.ngrok-agent.com:443": dial tcp: lookup connect.ngrok-agent.com: '
                    "no such host", "lvl": "eror", "msg": "failed to reconnect session",
                    "obj": "tunnels.session", "t": T}))


def serve_api(address: str, url: str, port: str) -> None:
    host, _, api_port = address.partition(":")
    body = json.dumps({"tunnels": [{
        "name": "command_line", "ID": "9f7e6d5c4b3a", "uri": "/api/tunnels/command_line",
        "public_url": url, "proto": "https",
        "config": {"addr": f"http://127.0.0.1:{port}", "inspect": True},
        "metrics": {"conns": {"count": 0, "gauge": 0}, "http": {"count": 0}}}],
        "uri": "/api/tunnels"}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/api/tunnels" else 404)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer((host, int(api_port)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def npx(n: int) -> None:
    assert ARGS[:2] == ["--yes", "localtunnel"] and "--port" in ARGS, ARGS
    if MODE == "fail":
        npx_death()
        sys.exit(1)
    out(f"your url is: https://wise-goats-dance-{n}.loca.lt")


def npx_death() -> None:
    err("/root/.npm/_npx/75ac80b86e83d4a2/node_modules/localtunnel/bin/lt.js:81")
    err("    throw err;")
    err("    ^")
    err("")
    err("Error: connection refused: localtunnel.me:36307 (check your firewall settings)")
    err("    at Socket.<anonymous> (/root/.npm/_npx/75ac80b86e83d4a2/node_modules/localtunnel/"
        "lib/TunnelCluster.js:52:11)")
    err("    at Socket.emit (node:events:517:28)")


def ssh(n: int) -> None:
    assert ARGS[0] == "-R" and ARGS[1].startswith("80:"), ARGS
    host = ARGS[-1]
    err("Pseudo-terminal will not be allocated because stdin is not a terminal.")
    if MODE == "fail":
        err(f"ssh: Could not resolve hostname {host}: Temporary failure in name resolution")
        sys.exit(255)
    err(f"Warning: Permanently added '{host}' (ED25519) to the list of known hosts.")
    if host != "localhost.run":  # serveo-style servers
        out(f"Forwarding HTTP traffic from https://f00d{n}.serveo.net")
        return
    for line in [
        "=" * 79,
        "Welcome to localhost.run!",
        "",
        "Follow your favourite reverse tunnel at [https://twitter.com/localhost_run].",
        "",
        "To set up and manage custom domains go to https://admin.localhost.run/",
        "",
        "More details on custom domains (and how to enable subdomains of your custom",
        "domain) at https://localhost.run/docs/custom-domains",
        "",
        "To explore using localhost.run visit the documentation site:",
        "https://localhost.run/docs/",
        "",
        "=" * 79,
        "",
        "** your connection id is 2a8f4e3c-5d6b-4f7a-9e1d-0c2b3a4d5e6f, please mention it if "
        "you send me a message about an issue. **",
        "",
        "authenticated as anonymous user",
        f"1f2e3d4c5b6a{n:02d}.lhr.life tunneled with tls termination, "
        f"https://1f2e3d4c5b6a{n:02d}.lhr.life",
        "create an account and add your key for a longer lasting domain name. see "
        "https://localhost.run/docs/forever-free/ for more information.",
    ]:
        out(line)


def ssh_death() -> None:
    err("Connection to localhost.run closed by remote host.")


def main() -> None:
    n = run_number()
    if MODE == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        (STATE / f"{TOOL}.child.{n}").write_text(str(child.pid))
    {"cloudflared": cloudflared, "ngrok": ngrok, "npx": npx, "ssh": ssh}[TOOL](n)
    die = STATE / f"{TOOL}.die"
    while True:
        if die.exists():
            die.unlink()
            {"cloudflared": cloudflared_death, "ngrok": ngrok_death, "npx": npx_death,
             "ssh": ssh_death}[TOOL]()
            sys.exit(1)
        time.sleep(0.02)


main()
