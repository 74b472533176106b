"""The machine: what it is, and who used its CPU while a phase ran (the bench shares it)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def describe() -> dict[str, str]:
    """CPU model, cores, memory, OS, Python, packages, date: the first table of the results."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = "unknown"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    from hotline.state.store import redis_server_binary

    try:
        redis_version = subprocess.run([redis_server_binary(), "--version"], capture_output=True,
                                       text=True, timeout=10).stdout.split()[2]
    except (OSError, IndexError, subprocess.SubprocessError):
        redis_version = "unknown"
    packages = ", ".join(f"{name} {_version(name)}" for name in (
        "gunicorn", "flask", "werkzeug", "twilio", "redis", "rq"))
    return {
        "CPU": model,
        "cores": f"{os.cpu_count()} (usable by this process: {len(os.sched_getaffinity(0))})",
        "memory": memory,
        "OS": f"{platform.system()} {platform.release()} ({_os_name()})",
        "Python": f"{platform.python_implementation()} {platform.python_version()} "
                  f"({sys.executable})",
        "packages": f"{packages}, redis-server {redis_version}",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load average at start": load_average(),
    }


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "unknown"


def process_cpu(pid: int, with_children: bool = False) -> float:
    """CPU seconds `pid` has used (plus its reaped children's); 0.0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / TICKS


def own_cpu() -> float:
    """CPU seconds this process (the load client) has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuSnapshot:
    """Busy CPU seconds: the machine's, and each role's."""

    wall: float
    machine: float
    roles: dict[str, float]


def cpu_share(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """Each role's share of the elapsed time, in cores (1.0 = one core busy the whole time),
    with "other processes" for the rest of the machine's busy time."""
    wall = after.wall - before.wall
    if wall <= 0:
        return {}
    out = {role: (after.roles.get(role, 0.0) - before.roles.get(role, 0.0)) / wall
           for role in after.roles}
    machine = (after.machine - before.machine) / wall
    out["other processes (not the bench, not the stack)"] = max(0.0, machine - sum(out.values()))
    out["whole machine"] = machine
    return out
