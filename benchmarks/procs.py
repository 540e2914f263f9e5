"""Child processes for the suite: each in its own process group, on loopback, stopped in
`finally` (SIGTERM to the group, then SIGKILL after a grace period), plus RSS sampling from
/proc so peak memory is known for every process without extra packages."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.lifeline import dies_with_parent
from benchmarks.periodic import Periodic

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(
    port: int,
    *,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    name: str = "server",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{name} did not listen on {HOST}:{port} within {timeout:.0f} s")


def holds_listener(pid: int, port: int) -> bool:
    """Whether process `pid` holds the socket listening on HOST:`port` (Linux's /proc; True
    where there is none to read). A connection to the port says less: between `free_port`
    and a server's bind another process may take the port (nginx then retries its bind for
    ~2.5 s and exits, while `wait_for_port` reached the other one: the tests' CI saw a
    bench run's connections refused that way), or a client's own socket may connect to
    itself (TCP's self-connect on a port nobody listens on)."""
    try:
        table = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return True
    local = f"{socket.inet_aton(HOST)[::-1].hex().upper()}:{port:04X}"
    listening = {
        f"socket:[{row.split()[9]}]" for row in table if row.split()[1:4:2] == [local, "0A"]
    }
    if not listening:
        return False
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in listening:
                    return True
    return False


def http_json(
    url: str, body: Any = None, *, headers: Mapping[str, str] | None = None, timeout: float = 30.0
) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=timeout) as response:  # loopback only
        raw = response.read()
    return json.loads(raw) if raw else None


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-chars:]
        return ""


class Children:
    """Every process the suite starts; `stop_all` runs in `finally`."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._children: list[Child] = []

    def start(
        self,
        name: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        **popen: Any,
    ) -> Child:
        log = self._log_dir / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                list(command),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,  # its own process group, killed as a whole
                preexec_fn=dies_with_parent(signal.SIGTERM),  # and with this process
                **popen,
            )
        child = Child(name, process, log)
        self._children.append(child)
        return child

    def stop(self, child: Child, *, grace: float = 15.0) -> None:
        _stop_group(child.process, grace)
        with contextlib.suppress(ValueError):
            self._children.remove(child)

    def stop_all(self) -> None:
        for child in reversed(list(self._children)):
            self.stop(child, grace=5.0)

    def check_alive(self) -> None:
        for child in self._children:
            if child.process.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited with {child.process.returncode}:\n{child.log_tail()}"
                )


def _stop_group(process: subprocess.Popen[bytes], grace: float) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    # Whatever is left in the group (forked workers), leader gone or not.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _status_kib(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MiB."""
    return round(_status_kib(pid, "VmHWM:") / 1024, 1)


def cpu_seconds(leader: int) -> float:
    """User plus system CPU time used so far by `leader`'s process group (0 once gone)."""
    ticks = 0
    for pid in group_pids(leader):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def run_seconds(leader: int) -> float:
    """CPU time so far of every live thread of `leader`'s process group, from the scheduler's
    own count (/proc/<pid>/task/<tid>/schedstat, in ns): `cpu_seconds` counts 10 ms ticks,
    too coarse for an idle process (0.1% of a core is one tick in 10 s)."""
    nanoseconds = 0
    for pid in group_pids(leader):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    nanoseconds += int((task / "schedstat").read_text().split()[0])
    return nanoseconds / 1e9


def wakeups(leader: int) -> int:
    """Voluntary context switches so far of every thread of `leader`'s process group: each
    is a sleep the thread was woken from (an epoll wait that returned, a lock taken)."""
    count = 0
    for pid in group_pids(leader):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    for line in (task / "status").read_text().splitlines():
                        if line.startswith("voluntary_ctxt_switches:"):
                            count += int(line.split()[1])
    return count


def cpu_times() -> list[int]:
    """The machine's CPU time counters (/proc/stat's first line: user, nice, system, idle,
    iowait, irq, softirq, steal, ...), to compare before and after a measurement."""
    with contextlib.suppress(OSError, ValueError):
        return [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return []


def steal_percent(before: list[int], after: list[int]) -> float | None:
    """The share of the machine's time the hypervisor gave to other guests in between: CPU
    this benchmark wanted and did not get."""
    if len(before) < 8 or len(after) < 8:
        return None
    spent = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(spent[:8])
    return round(100 * spent[7] / total, 1) if total else None


def measured_child(
    python: str, repo: Path, module: str, args: Sequence[str], *, src: str | None
) -> dict[str, Any]:
    """`python -m module *args` run to its end with `src` (else `repo`'s own code) first on
    its path: the JSON object its last line of output prints, with the machine's load
    before it and the steal during it. The in-process benchmarks' children (a drain, the
    pure steps) answer this way; a child that fails raises RuntimeError with its stderr."""
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{src}:{repo}" if src else str(repo)
    machine = cpu_times()
    load = Path("/proc/loadavg").read_text().split()[0]
    out = subprocess.run(
        [python, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=repo,
        env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["load"] = load
    result["steal"] = steal_percent(machine, cpu_times())
    return result


def group_pids(leader: int) -> list[int]:
    """The leader and every process in its group (Celery's forked pool, say)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == leader:  # pgrp
                pids.append(int(entry.name))
    return pids or [leader]


@dataclass
class RssSampler:
    """Samples the RSS of named process groups every `interval` s in a thread: the peak of
    each process, and a time series of each group's largest process (to show flat memory)."""

    interval: float = 0.25
    peaks_mib: dict[str, float] = field(default_factory=dict)
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    _groups: dict[str, int] = field(default_factory=dict)
    _periodic: Periodic | None = None
    _t0: float = field(default_factory=time.monotonic)

    def watch(self, name: str, pid: int) -> None:
        self._groups[name] = pid

    def unwatch(self, name: str) -> None:
        self._groups.pop(name, None)

    def sample(self) -> None:
        now = time.monotonic() - self._t0
        for name, leader in list(self._groups.items()):
            largest = 0.0
            for pid in group_pids(leader):
                rss = _status_kib(pid, "VmRSS:") / 1024
                hwm = _status_kib(pid, "VmHWM:") / 1024
                label = name if pid == leader else f"{name} (child {pid})"
                self.peaks_mib[label] = max(self.peaks_mib.get(label, 0.0), rss, hwm)
                largest = max(largest, rss)
            self.series.setdefault(name, []).append((round(now, 2), round(largest, 1)))

    def __enter__(self) -> RssSampler:
        self._periodic = Periodic(self.sample, interval=self.interval, name="rss-sampler")
        self._periodic.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._periodic is not None:
            self._periodic.stop()
