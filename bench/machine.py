"""The machine: what it is, and who used its CPU while a phase ran (the bench shares it)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import psutil


def describe() -> dict[str, str]:
    """CPU model, cores, memory, OS, Python, packages, date: the first table of the results."""
    from hotline.state.store import redis_server_binary

    try:
        redis_version = subprocess.run([redis_server_binary(), "--version"], capture_output=True,
                                       text=True, timeout=10).stdout.split()[2]
    except (OSError, IndexError, subprocess.SubprocessError):
        redis_version = "unknown"
    packages = ", ".join(f"{name} {_version(name)}" for name in (
        "gunicorn", "flask", "werkzeug", "twilio", "redis", "rq"))
    try:
        os_name = platform.freedesktop_os_release().get("PRETTY_NAME", "unknown")
    except OSError:
        os_name = "unknown"
    return {
        "CPU": _cpu_model(),
        "cores": f"{psutil.cpu_count()} (usable by this process: "
                 f"{len(psutil.Process().cpu_affinity())})",
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()} ({os_name})",
        "Python": f"{platform.python_implementation()} {platform.python_version()} "
                  f"({sys.executable})",
        "packages": f"{packages}, redis-server {redis_version}",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load average at start": load_average(),
    }


def _cpu_model() -> str:
    """The CPU's model name (psutil does not give it; Linux's /proc/cpuinfo does)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown"
    return next((line.split(":", 1)[1].strip() for line in lines
                 if line.startswith("model name")), "unknown")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def process_cpu(pid: int, with_children: bool = False) -> float:
    """CPU seconds `pid` has used (plus its reaped children's); 0.0 when it is gone."""
    try:
        used = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return used.user + used.system + (
        used.children_user + used.children_system if with_children else 0.0)


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores): everything but idle and I/O
    wait (psutil's reading of /proc/stat)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0) - getattr(
        times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)


@dataclass
class CpuSnapshot:
    """Busy CPU seconds: the machine's, and each role's."""

    wall: float
    machine: float
    roles: dict[str, float]


def snapshot(roles: dict[str, float]) -> CpuSnapshot:
    """Now, with the machine's busy time and the given roles' CPU seconds."""
    return CpuSnapshot(time.monotonic(), machine_busy(), roles)


def own_cpu() -> float:
    """CPU seconds this process (the load client) has used."""
    return time.process_time()


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


@dataclass
class ServerCpu:
    """Readers of the CPU seconds each server's processes have used so far, by role: what a
    slice's answered requests cost the server, beside the client's own CPU."""

    hotline: dict[str, Callable[[], float]]  # its web workers, its Redis
    bare: dict[str, Callable[[], float]]  # the baseline's web workers (bare and signed routes)
