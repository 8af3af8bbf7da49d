"""``signify-graph loadtest``: real WebSocket clients against a running server.

Run it in its own process (it is one: the CLI), against a server started separately, so the
figures include everything a client would see. Each client sends real frames (photos on a
640×480 canvas, JPEG q80, or landmarks from a ``.npz``) on a fixed schedule at ``--fps``,
tags each with an ``id`` the server echoes, and measures frame → reply latency exactly.
Frames without a reply were dropped by newest-frame-wins or throttled; the server's own
counters (read from ``--metrics``) tell which, with its memory and event-loop lag over time.

For capacity figures start the server with a reply for every processed frame:
``--set emit.min_interval_ms=0 --set emit.heartbeat_ms=1``. The clients write and read JSON
with orjson: on a machine it shares with the server, every microsecond the load generator
spends is taken from the server it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson


@dataclass
class ClientStats:
    sent: int = 0
    answered: int = 0
    latencies: list[float] = field(default_factory=list)
    #: Seconds from the first frame sent to the first answer: how long a newcomer waits.
    first_answer: float | None = None
    errors: Counter[str] = field(default_factory=Counter)
    failed: str | None = None


def messages(source: Path) -> list[dict[str, Any]]:
    """The messages to cycle through, without ``id`` (added per send)."""
    if source.suffix == ".npz":
        data = np.load(source)
        return [{"type": "landmarks", "landmarks": x.tolist()} for x in data["X"][:500]]
    from .bench import webcam_frames

    return [{"type": "frame", "image": base64.b64encode(f).decode()} for f in webcam_frames(source)]


@dataclass
class Refusal:
    """Set by the first client the server answers with ``wrong_input``: its pipeline takes the
    other kind of message (landmarks, not frames), so every frame of the run would be refused
    the same way. Every client stops at once and the command says so in one line."""

    message: str | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)


async def run_client(
    url: str,
    items: list[dict[str, Any]],
    fps: float,
    start: float,
    stop: float,
    offset: int,
    refusal: Refusal | None = None,
) -> ClientStats:
    from websockets.asyncio.client import connect

    stats = ClientStats()
    sent_at: dict[int, float] = {}
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, start - loop.time()))
    try:
        async with connect(url, compression=None, max_size=2**22, open_timeout=20) as ws:

            async def receive() -> None:
                async for raw in ws:
                    reply = orjson.loads(raw)
                    key = reply.get("id")
                    if "error" in reply:
                        stats.errors[reply["error"]["code"]] += 1
                        if reply["error"]["code"] == "wrong_input" and refusal is not None:
                            refusal.message = refusal.message or reply["error"]["message"]
                            refusal.stop.set()
                    if isinstance(key, int) and key in sent_at:
                        if "error" not in reply:
                            stats.answered += 1
                            stats.latencies.append(loop.time() - sent_at[key])
                            if stats.first_answer is None:
                                stats.first_answer = loop.time() - first_sent
                        del sent_at[key]

            first_sent = tick = loop.time()
            receiver = asyncio.create_task(receive())
            frame = 0
            # One pose held for a second, like a signer, then the next.
            while tick < stop and not (refusal and refusal.stop.is_set()):
                item = items[(offset + frame // int(fps or 1)) % len(items)]
                sent_at[frame] = loop.time()
                await ws.send(orjson.dumps({**item, "id": frame}).decode())
                stats.sent += 1
                frame += 1
                tick += 1.0 / fps
                await asyncio.sleep(max(0.0, tick - loop.time()))
            await asyncio.sleep(1.0)  # let the last replies arrive
            receiver.cancel()
    except Exception as exc:  # a refused or broken connection is a result, not a crash
        stats.failed = f"{type(exc).__name__}: {exc}"
    return stats


def scrape(url: str | None) -> dict[str, float]:
    if url is None:
        return {}
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return {}
    wanted = {
        "process_resident_memory_bytes": "rss_mb",
        "signify_event_loop_lag_max_seconds": "loop_lag_max_ms",
        "signify_sessions": "sessions",
        "process_open_fds": "open_fds",
        "signify_process_threads": "threads",
    }
    values: dict[str, float] = {"dropped": 0.0}
    for line in text.splitlines():
        name = line.split(" ")[0].split("{")[0]
        if name in wanted:
            value = float(line.split()[-1])
            scale = 1e-6 if name.endswith("bytes") else 1000 if name.endswith("seconds") else 1
            values[wanted[name]] = round(value * scale, 2)
        elif name == "signify_frames_dropped_total":
            values["dropped"] += float(line.split()[-1])
    return values


async def sample_metrics(
    url: str | None, begin: float, stop: float, samples: list[dict[str, float]]
) -> None:
    """Every 5 s, the server's memory, loop lag, sessions and fds (t = s since the start)."""
    loop = asyncio.get_running_loop()
    while loop.time() < stop + 1.0:
        values = await asyncio.to_thread(scrape, url)
        if values:
            samples.append({"t": round(loop.time() - begin, 1), **values})
        await asyncio.sleep(5.0)


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    items = messages(args.source)
    if not items:
        raise SystemExit(f"signify-graph: error: nothing to send from {args.source}")
    loop = asyncio.get_running_loop()
    begin = loop.time() + 0.5
    stop = begin + args.ramp + args.duration
    samples: list[dict[str, float]] = []
    sampler = asyncio.create_task(sample_metrics(args.metrics, begin, stop, samples))
    before = await asyncio.to_thread(scrape, args.metrics)
    refusal = Refusal()
    starts = [begin + args.ramp * i / max(1, args.clients) for i in range(args.clients)]
    clients = [
        run_client(args.url, items, args.fps, at, stop, i, refusal) for i, at in enumerate(starts)
    ]
    results = await asyncio.gather(*clients)
    if refusal.message is not None:
        from .._errors import SignifyError

        sampler.cancel()
        other = "a landmark .npz" if "landmark" in refusal.message else "photos"
        raise SignifyError(
            f"{args.url} refuses these messages: {refusal.message} (give --source {other})"
        )
    await sampler
    after = await asyncio.to_thread(scrape, args.metrics)
    latencies = np.asarray([x for r in results for x in r.latencies]) * 1000
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r.errors)
    sent = sum(r.sent for r in results)
    answered = sum(r.answered for r in results)
    pct = (
        (lambda q: round(float(np.percentile(latencies, q)), 2))
        if latencies.size
        else (lambda q: None)
    )
    firsts = np.asarray([r.first_answer for r in results if r.first_answer is not None]) * 1000
    return {
        "url": args.url,
        "clients": args.clients,
        "fps": args.fps,
        "duration_s": args.duration,
        "sent": sent,
        "answered": answered,
        "unanswered": sent - answered - sum(errors.values()),
        "errors": dict(errors),
        "failed_clients": [r.failed for r in results if r.failed],
        "latency_ms": {
            "p50": pct(50),
            "p95": pct(95),
            "p99": pct(99),
            "max": round(float(latencies.max()), 2) if latencies.size else None,
        },
        "first_answer_ms": {
            "p50": round(float(np.median(firsts)), 2) if firsts.size else None,
            "max": round(float(firsts.max()), 2) if firsts.size else None,
        },
        "server_dropped": (after.get("dropped", 0) - before.get("dropped", 0)) if after else None,
        "server": samples,
        "server_before": before,
        "server_after": after,
    }


async def cycle(args: argparse.Namespace) -> dict[str, Any]:
    """Connect, send one frame, read its reply, disconnect — ``--cycles`` times, one by one."""
    from websockets.asyncio.client import connect

    item = messages(args.source)[0]
    before = await asyncio.to_thread(scrape, args.metrics)
    failures = 0
    for index in range(args.cycles):
        try:
            async with connect(args.url, compression=None, open_timeout=20) as ws:
                await ws.send(json.dumps({**item, "id": index}))
                while json.loads(await asyncio.wait_for(ws.recv(), 10)).get("id") != index:
                    pass
        except Exception:
            failures += 1
    await asyncio.sleep(2.0)  # let the server close the last sessions
    after = await asyncio.to_thread(scrape, args.metrics)
    return {
        "url": args.url,
        "cycles": args.cycles,
        "failures": failures,
        "before": before,
        "after": after,
    }


def render(summary: dict[str, Any]) -> str:
    if "cycles" in summary:
        b, a = summary["before"], summary["after"]
        return (
            f"{summary['cycles']} connect/disconnect cycles, {summary['failures']} failed\n"
            + "\n".join(
                f"  {k}: {b.get(k)} → {a.get(k)}"
                for k in ("rss_mb", "open_fds", "threads", "sessions")
            )
        )
    lat = summary["latency_ms"]
    lines = [
        f"{summary['clients']} clients × {summary['fps']:g} fps × {summary['duration_s']:g} s "
        f"→ {summary['url']}",
        f"sent {summary['sent']}, answered {summary['answered']}, unanswered "
        f"{summary['unanswered']} (server dropped {summary['server_dropped']}), "
        f"errors {summary['errors'] or 0}",
        f"latency ms: p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  max {lat['max']}",
    ]
    throttled = summary["unanswered"] - (summary["server_dropped"] or 0)
    if summary["unanswered"] > 0:
        lines.append(
            f"  unanswered frames were dropped (newest frame wins: the server was busy) or "
            f"throttled ({throttled if summary['server_dropped'] is not None else 'unknown'}"
            ": the emit stage replies only when the letter or its probability changes, at "
            "most every emit.min_interval_ms); to measure capacity, serve with --set "
            "emit.min_interval_ms=0 --set emit.heartbeat_ms=1"
        )
    first = summary.get("first_answer_ms")
    if first and first["max"] is not None:
        lines.append(f"first frame sent → first answer, ms: p50 {first['p50']}  max {first['max']}")
    if summary["failed_clients"]:
        lines.append(
            f"failed clients: {len(summary['failed_clients'])}: {summary['failed_clients'][0]}"
        )
    if summary.get("server_after"):
        b, a = summary["server_before"], summary["server_after"]
        lines.append(
            "server before → after: "
            + ", ".join(
                f"{k} {b.get(k)} → {a.get(k)}"
                for k in ("rss_mb", "open_fds", "threads", "sessions")
            )
        )
    if summary["server"]:
        lines.append("server over time (t s: RSS MB, loop lag max ms, sessions, fds):")
        for s in summary["server"]:
            lines.append(
                f"  {s['t']:>6}: {s.get('rss_mb')}  {s.get('loop_lag_max_ms')}  "
                f"{s.get('sessions')}  {s.get('open_fds')}"
            )
    return "\n".join(lines)
