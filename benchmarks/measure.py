"""How run.py takes a measurement: one process per run, other load watched, optional spinner.

Measures nothing by itself. ``Runner.run(cmd)`` starts ``cmd`` (a worker or the standalone
PyTorch script), which prints one JSON object on its last stdout line, and returns that
object with ``foreign`` added: the CPU cores other processes used while it ran. A run
during which they used more than ``BUSY`` cores is done again, up to ``retries`` times.
Nothing here imports NumPy, so the driver starts no BLAS threads.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import time

BUSY = 0.25  # cores used by other processes above which a measurement is disturbed


class LoadMeter:
    """CPU time of every other process (Linux ``/proc``), to see who else is running.

    The driver and the processes in ``exclude`` (the busy-mode spinner) are left out. A
    worker is not running at either snapshot (it starts after the first and has been
    reaped before the second, its time going to the driver), so it never counts.
    """

    def __init__(self):
        self.exclude = {os.getpid()}
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.available = os.path.isdir("/proc") and self.snapshot() is not None

    def snapshot(self):
        """{pid: CPU seconds so far} of the other processes, or None without /proc."""
        try:
            names = os.listdir("/proc")
        except OSError:
            return None
        out = {}
        for name in names:
            if not name.isdigit() or int(name) in self.exclude:
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as fh:
                    data = fh.read()
                fields = data[data.rindex(b")") + 2:].split()
                # utime + stime, and cutime + cstime: children that ran and exited count too
                out[int(name)] = sum(int(v) for v in fields[11:15]) / self.tick
            except (OSError, ValueError, IndexError):
                continue
        return out

    def cores(self, before, after, seconds):
        """Average number of cores the other processes used between two snapshots."""
        if before is None or after is None or seconds <= 0:
            return None
        used = sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in after.items())
        # a child reaped during the window brings all its CPU time: cap at the machine
        return min(used / seconds, float(os.cpu_count() or 1))


class Spinner:
    """One competing busy process (a pure-Python spin loop, one core) while the block runs."""

    def __init__(self, meter):
        self.meter, self.proc = meter, None

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        self.meter.exclude.add(self.proc.pid)
        time.sleep(0.2)  # let it reach the spin loop
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        self.meter.exclude.discard(self.proc.pid)


class Runner:
    """Starts one measurement process at a time, after a pause and a wait for quiet.

    Before each run: sleep ``pause``, then wait (at most ``idle_wait`` s each time and
    ``budget`` s in all) until other processes use less than ``BUSY`` cores over 0.2 s.
    """

    window = 0.2

    def __init__(self, pause, idle_wait, budget, retries, env):
        self.meter = LoadMeter()
        self.pause, self.idle_wait, self.budget = pause, idle_wait, budget
        self.retries, self.env = retries, env
        self.waited = 0.0  # seconds spent waiting for quiet
        self.repeated = 0  # runs thrown away because other processes were busy

    def settle(self):
        time.sleep(self.pause)
        waited = 0.0
        while self.meter.available and self.idle_wait > 0 and self.waited < self.budget:
            b0, t0 = self.meter.snapshot(), time.perf_counter()
            time.sleep(self.window)
            load = self.meter.cores(b0, self.meter.snapshot(), time.perf_counter() - t0)
            if load is None or load < BUSY:
                return
            waited += self.window
            self.waited += self.window
            if waited >= self.idle_wait:
                return

    def run(self, cmd, busy=False):
        """Run ``cmd`` (again while others were busy); its JSON reply with 'foreign' added.

        With ``busy`` a ``Spinner`` starts after the wait for quiet and runs alongside;
        it does not count as other load.
        """
        for attempt in range(self.retries + 1):
            self.settle()
            with Spinner(self.meter) if busy else contextlib.nullcontext():
                before, t0 = self.meter.snapshot(), time.perf_counter()
                out = call(cmd, self.env)
                wall = time.perf_counter() - t0
                out["foreign"] = self.meter.cores(before, self.meter.snapshot(), wall)
            if out["foreign"] is None or out["foreign"] <= BUSY or attempt == self.retries:
                return out
            self.repeated += 1
        return out


def call(cmd, env):
    """Run ``cmd`` to its end; the JSON object on its last stdout line (stderr passes through)."""
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd[1:])} failed (exit code {proc.returncode}); its "
                           "error is above")
    return json.loads(lines[-1])


def machine_info(root):
    """CPU model, logical and usable CPUs, OS, Python version and the git commit of ``root``."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root,
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "usable_cpus": usable,
            "os": platform.platform(), "python": platform.python_version(),
            "commit": commit or "unknown"}
