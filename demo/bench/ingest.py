"""The HTTP edge's figures: single heartbeats per second against the Pushgateway, batched ingest.

The load comes from another process (a ``multiprocessing`` child running a
small asyncio HTTP/1.1 client: N keep-alive connections, each sending its next
request as soon as the answer is in), so the server's process spends nothing
on making load. The same generator, in the same run, drives Debian's
Prometheus Pushgateway (``/usr/bin/prometheus-pushgateway``); its figures are
null when the binary is missing. Batched ingest is timed from the first POST
to the moment the last metric is committed in SQLite, and compared with the
in-process persist path (4 recording threads, ``demo/bench/persist.py``) timed
in the same group on as many metrics: three rounds of each, alternately, each
figure the fastest of its three. One run of each did not measure the code: on
this 2-core VM the same batched run took 4.5 to 7.9 s (its process's CPU time
5.3 to 6.7 s), and the same single-threaded SQLite inserts 3.0 to 5.0 s of CPU,
with up to 18% of the CPU stolen by the host (``vmstat``); single runs read
this ratio 0.57 to 0.89 on unchanged code. ``agents_list_ms`` is ``GET /v1/agents``
with the large swarm's number of agents (10,000 in the full run), for context.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import multiprocessing
import os
import shutil
import socket
import subprocess
import time
from typing import Any, Final, cast

import httpx
import msgspec

from actors import start_system
from demo.bench.persist import _THREADS as _PERSIST_THREADS
from demo.bench.persist import _record_from_threads
from demo.bench.support import FLUSH_TIMEOUT, GroupResult, Sizes, percentile
from server import Limits, serve

__all__ = ["run_ingest"]

PUSHGATEWAY: Final = "/usr/bin/prometheus-pushgateway"
_CONNECTIONS: Final = 32
_AGENTS: Final = 100
_BATCH: Final = 5_000
_ROUNDS: Final = 3
_SECONDS: Final = {"full": 10.0, "quick": 3.0, "smoke": 0.5}
_WARMUP: Final = {"full": 1.0, "quick": 0.5, "smoke": 0.1}


class _Client(asyncio.Protocol):
    """One keep-alive connection sending its requests one after the other, timing each."""

    def __init__(self, requests: list[bytes], until: float, latencies: list[float],
                 done: asyncio.Future[None], warmup_until: float) -> None:
        self.requests, self.until, self.latencies = requests, until, latencies
        self.done, self.warmup_until = done, warmup_until
        self.buffer = bytearray()
        self.sent_at = 0.0
        self.next = 0
        self.transport: asyncio.Transport | None = None
        self.errors = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        request = self.requests[self.next % len(self.requests)]
        self.next += 1
        self.sent_at = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            length = 0
            start = head.find(b"content-length:")
            if start >= 0:
                length = int(head[start + 15:].split(b"\r\n", 1)[0])
            if len(self.buffer) < end + 4 + length:
                return
            status = head[9:12]
            del self.buffer[:end + 4 + length]
            now = time.perf_counter()
            if status[:1] != b"2":
                self.errors += 1
            if now >= self.warmup_until:
                self.latencies.append(now - self.sent_at)
            if now >= self.until:
                if not self.done.done():
                    self.done.set_result(None)
                assert self.transport is not None
                self.transport.close()
                return
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _drive(port: int, requests: list[bytes], seconds: float, warmup: float,
                 connections: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    warmup_until, until = start + warmup, start + warmup + seconds
    latencies: list[list[float]] = []
    clients: list[_Client] = []
    futures = []
    for k in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        mine: list[float] = []
        latencies.append(mine)
        client = _Client(requests[k::connections] or requests, until, mine, done, warmup_until)
        clients.append(client)
        await loop.create_connection(lambda client=client: client, "127.0.0.1", port)  # type: ignore[misc]
        futures.append(done)
    await asyncio.wait_for(asyncio.gather(*futures), timeout=seconds + warmup + 60)
    merged = sorted(x for chunk in latencies for x in chunk)
    return {"requests": len(merged), "seconds": seconds, "errors": sum(c.errors for c in clients),
            "latencies_ms": [percentile(merged, q) * 1000 for q in (0.5, 0.99)] if merged else None}


def _run(coroutine: Any) -> Any:
    """Run on uvloop where it is installed (the generator must not be the bottleneck)."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def _generator(port: int, requests: list[bytes], seconds: float, warmup: float,
               connections: int, out: Any) -> None:
    """The load generator's process: drive, then send the result back through the pipe."""
    out.send(_run(_drive(port, requests, seconds, warmup, connections)))
    out.close()


def _load(port: int, requests: list[bytes], seconds: float, warmup: float,
          connections: int = _CONNECTIONS) -> dict[str, Any]:
    """Run the load generator in a fresh process against ``port``; its figures."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_generator, name="bench-load",
                            args=(port, requests, seconds, warmup, connections, send))
    child.start()
    send.close()
    try:
        if not receive.poll(seconds + warmup + 120):
            raise RuntimeError("the load generator did not answer")
        result: dict[str, Any] = receive.recv()
    finally:
        child.join(30)
        if child.is_alive():
            child.kill()
            child.join()
    return result


def _post(path: str, body: bytes, content_type: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _per_s(result: dict[str, Any]) -> float:
    return float(result["requests"]) / float(result["seconds"])


def _heartbeats(workdir: str, seconds: float, warmup: float) -> dict[str, Any]:
    agents = [f"agent-{i:03d}" for i in range(_AGENTS)]
    system = start_system(os.path.join(workdir, "beats.db"), heartbeat_interval_ms=60_000)
    try:
        system.register_agents(agents)
        with serve(system) as handle:
            requests = [_post("/v1/heartbeats", msgspec.json.encode({"agent_id": a}),
                              "application/json") for a in agents]
            result = _load(handle.port, requests, seconds, warmup)
        result["heartbeats_counted"] = system.snapshot().total_heartbeats
    finally:
        system.shutdown()
    return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pushgateway(workdir: str, seconds: float, warmup: float) -> dict[str, Any] | None:
    if shutil.which(PUSHGATEWAY) is None:
        return None
    port = _free_port()
    proc = subprocess.Popen([PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the Pushgateway did not start")
            time.sleep(0.05)
        requests = [_post(f"/metrics/job/swarmpulse/instance/agent-{i:03d}",
                          b"swarmpulse_heartbeat_timestamp_seconds 1.7e9\n",
                          "text/plain; version=0.0.4") for i in range(_AGENTS)]
        return _load(port, requests, seconds, warmup)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _batches(total: int) -> list[bytes]:
    """``total`` task metrics of 100 agents as msgpack POST requests of 5,000 each."""
    now = time.time()
    batches = []
    for start in range(0, total, _BATCH):
        items = [{"type": "task_metric", "task_id": f"task-{i:07d}", "agent_id": f"agent-{i % _AGENTS:03d}",
                  "duration_ms": 100.0 + (i % 997), "result": "success", "tokens_used": 120,
                  "files_changed": 1, "timestamp": now + i * 1e-6}
                 for i in range(start, min(total, start + _BATCH))]
        batches.append(_post("/v1/metrics", msgspec.msgpack.encode(items), "application/msgpack"))
    return batches


def _batched(path: str, batches: list[bytes], total: int) -> tuple[float, dict[str, Any]]:
    """POST the batches into a fresh database at ``path``; seconds from the first POST to committed."""
    system = start_system(path)
    try:
        # Registered, as remote agents register (POST /v1/agents) and as the in-process
        # persist figure's agents are: metrics of agents never registered are stored too,
        # and each answer then notes every one of them (5,000 notes, 400 kB a batch).
        system.register_agents([f"agent-{i:03d}" for i in range(_AGENTS)])
        with serve(system, limits=Limits(max_batch_items=_BATCH)) as handle:
            context = multiprocessing.get_context("spawn")
            parent, child_end = context.Pipe()
            child = context.Process(target=_send_all, name="bench-batches",
                                    args=(handle.port, batches, child_end))
            child.start()
            child_end.close()
            try:
                if not parent.poll(120) or parent.recv() != "ready":
                    raise RuntimeError("the batch sender did not start")
                t0 = time.perf_counter()  # the sender is connected and holds its batches
                parent.send("go")
                if not parent.poll(FLUSH_TIMEOUT):
                    raise RuntimeError("the batch sender did not answer")
                result: dict[str, Any] = parent.recv()
                posted = time.perf_counter() - t0
                system.flush(FLUSH_TIMEOUT)
                elapsed = time.perf_counter() - t0
            finally:
                child.join(30)
                if child.is_alive():
                    child.kill()
                    child.join()
        stored = system.get_task_stats()["total_tasks"]
        writes = system.get_write_status()
    finally:
        system.shutdown()
    if stored != total:
        raise RuntimeError(f"{stored} metrics stored of {total} posted")
    return elapsed, {"posted_s": posted, "committed_s": elapsed, "errors": result["errors"],
                     "writer_batches": writes["write_batches"]}


def _remove_database(path: str) -> None:
    """Delete a database file and its WAL files: three rounds of a million rows are 1 GB."""
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


def _send_all(port: int, batches: list[bytes], pipe: Any) -> None:
    """The batch sender's process: connect twice, say ready, send every batch once on "go"."""

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", port)

    async def one(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                  share: list[bytes]) -> int:
        reader, writer = connection
        errors = 0
        for request in share:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 202"):
                errors += 1
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        writer.close()
        return errors

    async def main() -> dict[str, Any]:
        connections = [await connect(), await connect()]
        pipe.send("ready")
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "go"
        errors = await asyncio.gather(one(connections[0], batches[0::2]),
                                      one(connections[1], batches[1::2]))
        return {"errors": sum(errors)}

    pipe.send(_run(main()))
    pipe.close()


def _agents_list(workdir: str, agents: int) -> dict[str, Any]:
    """Milliseconds of ``GET /v1/agents`` (median of 3) with ``agents`` agents, 2 tasks each."""
    ids = [f"agent-{i:05d}" for i in range(agents)]
    system = start_system(os.path.join(workdir, "agents.db"), heartbeat_interval_ms=600_000)
    try:
        system.register_agents(ids)
        for round_ in range(2):
            for i, agent_id in enumerate(ids):
                system.record_task_metric(f"t{round_}-{i}", agent_id, 100.0 + i % 50, "success",
                                          10, 1)
        system.flush(FLUSH_TIMEOUT)
        with serve(system) as handle, httpx.Client(base_url=handle.url, timeout=120) as http:
            times, size = [], 0
            for _ in range(3):
                t0 = time.perf_counter()
                reply = http.get("/v1/agents")
                times.append((time.perf_counter() - t0) * 1000)
                size = len(reply.content)
                if len(reply.json()["agents"]) != agents:
                    raise RuntimeError("GET /v1/agents did not list every agent")
    finally:
        system.shutdown()
    return {"agents": agents, "ms": sorted(times)[1], "all_ms": times, "bytes": size}


def run_ingest(sizes: Sizes, workdir: str) -> GroupResult:
    """Single heartbeats/s and latency, the Pushgateway's, and batched msgpack ingest."""
    seconds, warmup = _SECONDS[sizes.mode], _WARMUP[sizes.mode]
    result = GroupResult()
    beats = _heartbeats(workdir, seconds, warmup)
    result.figures["ingest_heartbeats_per_s"] = _per_s(beats)
    latencies = beats["latencies_ms"] or [None, None]
    result.figures["ingest_heartbeat_ms_p50"] = latencies[0]
    result.figures["ingest_heartbeat_ms_p99"] = latencies[1]
    push = _pushgateway(workdir, seconds, warmup)
    result.figures["pushgateway_per_s"] = None if push is None else _per_s(push)
    result.figures["ingest_vs_pushgateway"] = (
        None if push is None or not push["requests"] else _per_s(beats) / _per_s(push))
    total = sizes.persist_metrics - sizes.persist_metrics % _PERSIST_THREADS
    batches = _batches(total)
    batched_runs: list[float] = []
    persist_runs: list[float] = []
    rounds: list[dict[str, Any]] = []
    for round_ in range(_ROUNDS):
        # Alternately, each run on a fresh file with the disk written back before it,
        # and each figure the fastest of its runs, as the persist group's (see there).
        os.sync()
        elapsed, found = _batched(os.path.join(workdir, f"batched-{round_}.db"), batches, total)
        batched_runs.append(elapsed)
        rounds.append(found)
        os.sync()
        persist_s, _ = _record_from_threads(os.path.join(workdir, f"persist-{round_}.db"), total)
        persist_runs.append(persist_s)
        for name in (f"batched-{round_}.db", f"persist-{round_}.db"):
            _remove_database(os.path.join(workdir, name))
    elapsed, persist_s = min(batched_runs), min(persist_runs)
    result.figures["ingest_batched_per_s"] = total / elapsed
    result.figures["ingest_batched_vs_persist"] = persist_s / elapsed
    listing = _agents_list(workdir, sizes.swarm_agents)
    result.figures["agents_list_ms"] = listing["ms"]
    result.details = {
        "connections": _CONNECTIONS, "seconds": seconds, "warmup_s": warmup,
        "heartbeats": beats, "pushgateway": push if push is not None else f"{PUSHGATEWAY} missing",
        "batched": {"metrics": total, "batch": _BATCH, "runs_s": batched_runs, "rounds": rounds},
        "persist_same_run_per_s": total / persist_s, "persist_runs_s": persist_runs,
        "agents_list": listing,
        "load_average": list(os.getloadavg()),
        "http_parser": "httptools" if importlib.util.find_spec("httptools") else "h11 (pure Python)",
        "event_loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
    }
    return result
