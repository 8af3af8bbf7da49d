"""The service makes no outbound connection and no DNS lookup: watched with strace.

The real ``signify-graph`` process runs under ``strace -f`` (every thread, MediaPipe's native
ones included), tracing the system calls that can reach another machine: ``connect``,
``sendto``, ``sendmsg`` and ``sendmmsg``. A real client spells real photos over a WebSocket on
127.0.0.1 and gets their letters back; then the log must hold no address other than loopback
and nothing for port 53 (a DNS query, even one to a resolver on 127.0.0.53), and no lookup
through nscd's socket. MediaPipe 1.2.x failed this: its usage-statistics uploader resolved
``play.googleapis.com`` from a thread of its own (google-ai-edge/mediapipe#6291); see
``signify_stages.hands``.

Needs ``strace`` (``scripts/install`` installs it when run as root) and permission to trace a
child process; the tests skip, saying which, where either is missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from signify_stages.hands import check_no_uploader
from websockets.sync.client import connect

from signify_graph import StageConfigError

from .conftest import EVERY_FRAME, PHOTOS, ROOT, photo

pytestmark = pytest.mark.slow

#: The system calls by which a process can send anything to another host.
NETWORK_CALLS = "connect,sendto,sendmsg,sendmmsg"
#: One socket address in strace's notation, e.g. ``{sa_family=AF_INET, sin_port=htons(53), …}``.
ADDRESS = re.compile(r"(?:sa|nl)_family=(AF_\w+)([^}]*)")
PORT = re.compile(r"sin6?_port=htons\((\d+)\)")
IPV4 = re.compile(r'inet_addr\("([^"]+)"\)')
IPV6 = re.compile(r'inet_pton\(AF_INET6, "([^"]+)"')
LISTENING = re.compile(r"Server listening on ws://[^:]+:(\d+)")
#: Photos the default pipeline recognises once padded (as tests/service/conftest's EVERY_FRAME).
LETTERS = ["B", "L", "Y", "W"]


@cache
def strace_command() -> list[str]:
    """``strace`` with the options this machine supports, or a skip saying why it cannot run."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (scripts/install installs it with apt as root)")
    command = [strace, "-f", "-q", "-e", "signal=none", "-e", f"trace={NETWORK_CALLS}"]
    probe = subprocess.run([*command, "-o", os.devnull, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace a child process here: {probe.stderr.strip()}")
    # Stop only at the traced calls (not at every one of MediaPipe's futex calls): far less
    # overhead where the kernel and strace (>= 5.3) support it.
    fast = [*command[:1], "--seccomp-bpf", *command[1:]]
    if subprocess.run([*fast, "-o", os.devnull, "true"], capture_output=True).returncode == 0:
        return fast
    return command


def outbound(log: str) -> list[str]:
    """The traced calls that reach beyond this machine or look a name up, one line each."""
    found = []
    for line in log.splitlines():
        for family, rest in ADDRESS.findall(line):
            port = PORT.search(rest)
            if port and port.group(1) == "53":
                found.append(f"DNS: {line}")
            elif family in {"AF_INET", "AF_INET6"} and not _loopback(rest):
                found.append(f"not loopback: {line}")
            elif family == "AF_UNIX" and "nscd" in rest:
                found.append(f"name lookup through nscd: {line}")
            elif family not in {"AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"}:
                found.append(f"{family}: {line}")
    return found


def _loopback(address: str) -> bool:
    match = IPV4.search(address) or IPV6.search(address)
    if match is None:
        return False
    ip = ipaddress.ip_address(match.group(1))
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def ipv4(ip: str, port: int) -> str:
    return f'{{sa_family=AF_INET, sin_port=htons({port}), sin_addr=inet_addr("{ip}")}}'


def ipv6(ip: str, port: int) -> str:
    return (
        f"{{sa_family=AF_INET6, sin6_port=htons({port}), sin6_flowinfo=htonl(0), "
        f'inet_pton(AF_INET6, "{ip}", &sin6_addr), sin6_scope_id=0}}'
    )


def test_the_check_finds_dns_lookups_and_connections_to_other_hosts():
    """The parser against lines as strace prints them (MediaPipe 1.2.3's among them)."""
    lookups = [
        f"9 connect(7, {ipv4('10.255.255.53', 53)}, 16) = 0",
        f"9 connect(7, {ipv4('127.0.0.53', 53)}, 16) = 0",
        '9 connect(7, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT',
        f"9 connect(7, {ipv4('216.239.32.1', 443)}, 16 <unfinished ...>",
        f'9 sendto(5, "x", 1, 0, {ipv6("2001:db8::1", 443)}, 28) = 1',
        f"9 sendmsg(5, {{msg_name={ipv6('::1', 53)}, msg_namelen=28}}, 0) = 1",
    ]
    local = [
        f"9 connect(7, {ipv4('127.0.0.1', 9)}, 16) = -1 ECONNREFUSED",
        '9 sendto(12, "{\\"letter\\": \\"B\\"}", 16, 0, NULL, 0) = 16',
        f"9 connect(7, {ipv6('::ffff:127.0.0.1', 80)}, 28) = 0",
    ]
    assert [len(outbound(line)) for line in lookups] == [1] * len(lookups)
    assert outbound("\n".join(local)) == []


class Traced:
    """``signify-graph ARGS`` under strace: its stdout in a file, its stderr read into ``lines``
    by a thread (a full pipe would stall the server)."""

    def __init__(self, args: list[str], tmp_path: Path, env: dict[str, str]) -> None:
        self.log = tmp_path / "strace.log"
        self.stdout = tmp_path / "stdout"
        command = [
            *strace_command(),
            "-o",
            str(self.log),
            sys.executable,
            "-m",
            "signify_graph.cli",
        ]
        with self.stdout.open("w") as stdout:
            self.process = subprocess.Popen(
                [*command, *args],
                cwd=ROOT,
                env={**os.environ, "WEBSOCKET_HOST": "127.0.0.1", "HEALTH_PORT": "0", **env},
                stdout=stdout,
                stderr=subprocess.PIPE,
                text=True,
            )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        with self.process.stderr:
            for line in self.process.stderr:
                self.lines.append(line)

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=5)
        return code

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            for line in list(self.lines):
                if match := pattern.search(line):
                    return match
            time.sleep(0.05)
        raise AssertionError(f"no {pattern.pattern!r} in the output:\n" + "".join(self.lines))

    def tracee(self) -> int:
        """The process strace started (the service), not strace itself."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for stat in Path("/proc").glob("[0-9]*/stat"):
                with contextlib.suppress(OSError):
                    # pid (comm) state ppid …; comm may hold spaces and parentheses.
                    if int(stat.read_text().rpartition(")")[2].split()[1]) == self.process.pid:
                        return int(stat.parent.name)
            time.sleep(0.05)
        raise AssertionError("strace started no process")


@contextlib.contextmanager
def traced(args: list[str], tmp_path: Path, **env: str) -> Iterator[Traced]:
    process = Traced(args, tmp_path, env)
    try:
        yield process
    finally:
        if process.process.poll() is None:  # a failed test: the service first, then strace
            with contextlib.suppress(AssertionError, ProcessLookupError):
                os.kill(process.tracee(), signal.SIGKILL)
            process.process.kill()
        process.wait(timeout=30)


def spell(port: int, letter: str, frames: int = 5) -> list[dict[str, object]]:
    """One session: the photo of ``letter`` sent ``frames`` times, a letter reply for each."""
    replies: list[dict[str, object]] = []
    with connect(f"ws://127.0.0.1:{port}/", compression=None, open_timeout=30) as ws:
        for _ in range(frames):
            ws.send(photo(letter))
            while "letter" not in (reply := json.loads(ws.recv(timeout=30))):
                assert "error" not in reply, reply
            replies.append(reply)
    return replies


@pytest.mark.slow
def test_a_serving_session_spells_photos_without_any_outbound_connection_or_dns(tmp_path):
    overrides = [arg for item in EVERY_FRAME for arg in ("--set", item)]
    with traced(["serve", "pipelines/default.yaml", *overrides], tmp_path, PORT="0") as server:
        port = int(server.wait_for(LISTENING).group(1))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=10) as response:
            assert response.status == 200
        spelled = {letter: spell(port, letter) for letter in LETTERS}
        # Sessions close (and their landmarkers with them), then the server drains and exits.
        os.kill(server.tracee(), signal.SIGTERM)
        assert server.wait(timeout=60) == 0, "".join(server.lines)
    for letter, replies in spelled.items():
        assert replies[-1]["letter"] == letter, (letter, replies[-1])
    trace = server.log.read_text()
    assert re.search(r"^\d+ +sendto\(", trace, re.MULTILINE), "strace saw none of the replies"
    assert not (found := outbound(trace)), "\n".join(found)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "pipeline"),
    [("run", "default"), ("run", "fast"), ("eval", "symmetric")],
)
def test_running_a_pipeline_on_photos_makes_no_outbound_connection_or_dns(
    tmp_path, command, pipeline
):
    photos = tmp_path / "photos"
    for letter in LETTERS:
        shutil.copytree(PHOTOS / letter, photos / letter)
    output = tmp_path / "out.jsonl"
    args = [command, f"pipelines/{pipeline}.yaml"]
    args += ["--input", str(photos), "--output", str(output)] if command == "run" else []
    args += ["--data", str(photos), "--json"] if command == "eval" else []
    with traced(args, tmp_path) as process:
        assert process.wait(timeout=120) == 0, "".join(process.lines)
    if command == "run":
        rows = [json.loads(line) for line in output.read_text().splitlines()]
        recognised = {
            row["label"] for row in rows if (row["prediction"] or {}).get("letter") == row["label"]
        }
    else:
        scores = json.loads(process.stdout.read_text())["per_letter"]
        recognised = {letter for letter, score in scores.items() if score["correct"]}
    assert len(recognised & set(LETTERS)) >= 2, recognised
    trace = process.log.read_text()
    assert re.search(r"\+\+\+ exited with 0 \+\+\+", trace), "strace did not follow the run"
    assert not (found := outbound(trace)), "\n".join(found)


def test_the_installed_mediapipe_library_cannot_resolve_a_name():
    """MediaPipe's native library links no resolver and no HTTP client at all (1.2.3 links
    ``getaddrinfo`` and libcurl), so none of its code paths — even ones a test never reaches,
    like the upload a minute after a landmarker is made — can look a name up."""
    spec = importlib.util.find_spec("mediapipe")
    assert spec is not None and spec.origin is not None
    data = (Path(spec.origin).parent / "tasks" / "c" / "libmediapipe.so").read_bytes()
    assert b"getaddrinfo" not in data and b"gethostbyname" not in data
    assert b"curl_easy_perform" not in data


@pytest.mark.parametrize("version", ["0.10.35", "1.0.0", "1.2.3", "2.0.0rc1"])
def test_the_hands_stage_refuses_a_mediapipe_with_the_uploader(version):
    with pytest.raises(StageConfigError, match=f"mediapipe {version} sends usage statistics"):
        check_no_uploader(version)


@pytest.mark.parametrize("version", ["0.10.31", "0.10.32", "0.10.33"])
def test_the_hands_stage_accepts_the_pinned_mediapipe_releases(version):
    check_no_uploader(version)
    check_no_uploader()  # the installed one
