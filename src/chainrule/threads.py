"""How many BLAS threads training uses: ``threads="auto"`` (the default) or a number.

A step's matrix products run in the BLAS NumPy was built with (OpenBLAS for NumPy's
wheels). OpenBLAS splits every product over all cores and its worker threads spin
while they wait, so on a machine where another process keeps a core busy a product
of 100 x 784 x 100 waits for a descheduled worker: measured on a 2-core machine with
one competing process, a Fashion-MNIST epoch took 3x (and up to 20x) its idle time
with 2 threads and the same as idle with 1. On an idle machine whether a second
thread pays depends on the machine, not only on the model: the 784-100-10 net at
batch 100 in float32 ran as fast on one thread as on two on an Intel Xeon (0.28 s an
epoch either way) but 15-25 % faster on two on an AMD EPYC (0.30 s against 0.37 s
with SGD), while the 784-256-256-256-10 net gained on both (0.91 s against 1.11 s).
So ``"auto"`` measures instead of guessing::

    work  = 6 * batch * parameters * itemsize / 4   (a step's matrix products, in float32
                                                     FLOPs: a float64 one costs two)
    work < 1e7:  one thread, always (too small for a second one to pay; repeatable)
    otherwise:   a trial at the first look at the load (0.1 s after the start) and
                 again 30 s after each verdict: steps timed in blocks on 1, N, 1, N
                 threads, N = the cores other processes leave free (when more than
                 one); each block >= 0.1 s and >= 3 steps, its first step left out.
                 cap = N when N's median step is at least 5 % shorter, else 1
                 (one thread until the first verdict)
    threads = max(1, min(cap, cores - round(cores used by other processes)))

The load is looked at every half second while training (Linux: ``/proc/stat``, where
time stolen by a hypervisor counts as used by others; elsewhere the trials still run
and their verdicts are kept). Only the CPUs this process may run on are counted. A
trial during which other processes took any of its N cores is void and made again at
the next look (after three void ones in a row, 30 s later). Measuring rather than
guessing also follows a virtual machine whose second core comes and goes: on the EPYC
above, half an hour later two threads ran a 100 x 784 x 100 product no faster than one
(188 against 183 microseconds), and a trial then keeps one. A number pins the count
(cut to the usable cores). Either way the count is set only inside ``Trainer.fit``
and the previous one is restored afterwards. Nothing is changed when the user has set
``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` (their setting
wins), or when threadpoolctl cannot find the BLAS. Ranks under MPI (``adapt=False``)
do not measure: a rank's step below ``CROSSOVER_FLOPS`` runs on one thread, a larger
one on its share of the cores.

Results: the last bits of a float32 or float64 product can depend on the thread
count (OpenBLAS blocks long inner dimensions differently on one and on several
threads). A model under 10^7 FLOPs a step always runs on one thread, so its runs are
bit-for-bit repeatable whatever the load; for a larger one the trial's verdict can
differ between runs, so pin ``threads`` to repeat a run or a resume bit for bit.
"""

from __future__ import annotations

import math
import numbers
import os
import statistics
import time

from .validation import InputTypeError, InputValueError, check_number

__all__ = ["BlasThreads", "ThreadTrial", "SMALL_FLOPS", "CROSSOVER_FLOPS", "CHECK_SECONDS",
           "FIRST_CHECK_SECONDS", "TRIAL_SECONDS", "TRIAL_STEPS", "TRIAL_GAIN", "TRIALS",
           "RETRIAL_SECONDS",
           "pinned_by", "usable_cores", "step_flops", "choose_threads", "OtherLoad"]

SMALL_FLOPS = 1e7  # a step below this much work runs on one thread, unmeasured
CROSSOVER_FLOPS = 6e7  # under MPI (no trial), a rank's step below this runs on one thread
TRIAL_SECONDS = 0.1  # each block of a trial lasts at least this long...
TRIAL_STEPS = 3  # ...and times at least this many steps
TRIAL_GAIN = 0.05  # more threads must shorten the median step by this fraction to win
TRIALS = 3  # void trials in a row (the load rose during them) before resting
RETRIAL_SECONDS = 30.0  # how long a verdict (or a rest) lasts before measuring again
CHECK_SECONDS = 0.5  # how often "auto" looks at the load again
FIRST_CHECK_SECONDS = 0.1  # the first look: a run started under load collapses until then
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def pinned_by(environ=None):
    """The first thread variable the user set (then chainrule leaves threads alone), or None."""
    environ = os.environ if environ is None else environ
    return next((name for name in THREAD_VARS if environ.get(name, "").strip()), None)


def usable_cores():
    """Cores this process may run on (its CPU affinity where known)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def step_flops(params, batch_size):
    """6 * batch * sum(size * itemsize / 4): a step's products for a fully connected net.

    Forward (2 N P), the weight gradients (2 N P) and the input gradients (2 N P), in
    float32 FLOPs: a float64 product takes about twice as long, so it counts double. A
    convolution reuses each weight at every position, so this undercounts it; ``"auto"``
    only compares the result with ``SMALL_FLOPS`` (and, under MPI, ``CROSSOVER_FLOPS``).
    """
    batch_size = check_number(batch_size, "batch_size", integer=True, low=1)
    return 6 * batch_size * sum(int(getattr(p, "size", 1)) * getattr(p, "itemsize", 4)
                                for p in params.values()) // 4


def choose_threads(cap, cores, others):
    """threads = max(1, min(cap, cores - floor(others + 1/2))); ``others`` None: the cap."""
    if others is None:
        return cap
    return max(1, min(cap, cores - math.floor(others + 0.5)))


def check_threads(threads):
    """``"auto"``, or a positive int; anything else names the argument."""
    if isinstance(threads, str):
        if threads == "auto":
            return threads
        raise InputValueError(f"threads must be 'auto' or a positive integer, got {threads!r}")
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral):
        raise InputTypeError(f"threads must be 'auto' or a positive integer, "
                             f"got {type(threads).__name__} {threads!r}")
    if threads < 1:
        raise InputValueError(f"threads must be 'auto' or a positive integer, got {threads}")
    return int(threads)


class OtherLoad:
    """Cores used by other processes since the last ``sample()``, from ``/proc/stat``.

    others = (busy jiffies of this process's usable CPUs - this process's CPU time) /
    elapsed wall time, where busy is user + nice + system + irq + softirq + steal (a
    hypervisor that takes the CPU is a competitor too; guest time is inside user). Only
    the ``cpuN`` lines of ``cpus`` count (default: this process's CPU affinity), so
    a busy CPU outside a cpuset or ``taskset`` does not. ``sample()`` returns None where
    ``/proc/stat`` cannot be read, and for the first call.
    """

    def __init__(self, path="/proc/stat", cpus=None):
        self.path = path
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        if cpus is None and hasattr(os, "sched_getaffinity"):
            cpus = os.sched_getaffinity(0)
        self.cpus = None if cpus is None else {f"cpu{c}" for c in cpus}
        self.last = None

    def _busy_seconds(self, lines):
        busy, seen = 0, False
        for line in lines:
            fields = line.split()
            if not fields or not fields[0].startswith("cpu") or fields[0] == "cpu":
                continue
            if self.cpus is not None and fields[0] not in self.cpus:
                continue
            ticks = [int(v) for v in fields[1:9]]
            if len(ticks) < 4:
                continue
            ticks += [0] * (8 - len(ticks))
            busy += sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
            seen = True
        return busy / self.hz if seen else None

    def _read(self):
        try:
            with open(self.path) as fh:
                busy = self._busy_seconds(fh)
        except (OSError, ValueError):
            return None
        if busy is None:
            return None
        return busy, time.process_time(), time.perf_counter()

    def sample(self):
        now = self._read()
        last, self.last = self.last, now
        if now is None or last is None or now[2] <= last[2]:
            return None
        others = (now[0] - last[0]) - (now[1] - last[1])
        return max(0.0, others / (now[2] - last[2]))


class ThreadTrial:
    """Times training steps on 1 and on ``n`` threads and names the faster count.

    Blocks alternate 1, n, 1, n (``blocks`` of them). ``tick(now)``, called after every
    step, returns the count the next step should use, and None once the trial is over;
    then ``winner`` is ``n`` when its median step is at least ``TRIAL_GAIN`` shorter than
    one thread's, else 1, and ``medians`` maps each count to its median step in seconds.
    A block lasts at least ``TRIAL_SECONDS`` and ``TRIAL_STEPS`` timed steps; the step
    right after a switch is not timed (the switch, a waking worker).
    """

    def __init__(self, n, blocks=4):
        self.n = n
        self.order = [(1, n)[k % 2] for k in range(blocks)]
        self.steps = {1: [], n: []}
        self.block = 0
        self.last = None  # end of the previous step, once this block times steps
        self.block_start = None
        self.timed = 0  # steps timed in this block
        self.medians = {}
        self.winner = None

    @property
    def count(self):
        """The count of the block under way."""
        return self.order[self.block]

    def tick(self, now):
        if self.last is None:  # the untimed first step of a block just ended
            self.last = self.block_start = now
            self.timed = 0
            return self.count
        self.steps[self.count].append(now - self.last)
        self.last = now
        self.timed += 1
        if now - self.block_start < TRIAL_SECONDS or self.timed < TRIAL_STEPS:
            return self.count
        self.block += 1
        self.last = None
        if self.block < len(self.order):
            return self.count
        self.medians = {k: statistics.median(v) for k, v in self.steps.items()}
        n = self.n
        self.winner = n if self.medians[n] <= (1 - TRIAL_GAIN) * self.medians[1] else 1
        return None


class BlasThreads:
    """The thread policy of one ``fit``: a context manager with a ``tick()`` per step.

    ``threads`` is ``"auto"`` or a positive int; ``flops`` is one step's work
    (``step_flops``); ``cores`` the cores to use at most (default: the usable ones);
    ``adapt=False`` keeps ``"auto"`` at a fixed cap (one thread below
    ``CROSSOVER_FLOPS``, else ``cores``) instead of measuring and following the load
    (for processes that share a machine on purpose, as MPI ranks do). ``active``
    tells whether chainrule controls the count (False when pinned by an environment
    variable or when no BLAS was found); ``current`` is the count in force (None when
    not active); ``changes`` counts the switches; ``top`` is the most ``"auto"`` may
    ever use (the cores, or 1 for a small model); ``cap`` is the most the load rule
    gives now (1 until a trial says more pay); ``trial`` is the ``ThreadTrial`` that
    last decided it (None before one has).
    """

    def __init__(self, threads="auto", *, flops=0, cores=None, adapt=True, load=None,
                 controller=None):
        self.threads = check_threads(threads)
        flops = check_number(flops, "flops", low=0)
        self.cores = (usable_cores() if cores is None else
                      int(check_number(cores, "cores", integer=True, low=1)))
        auto = self.threads == "auto"
        if not auto:
            self.top = min(self.threads, self.cores)
        elif not adapt:
            self.top = 1 if flops < CROSSOVER_FLOPS else self.cores
        else:
            self.top = 1 if flops < SMALL_FLOPS else self.cores
        self.adapt = bool(adapt) and auto and self.top > 1
        self.cap = 1 if self.adapt else self.top  # until a trial says more threads pay
        self.trial_due = 0.0 if self.adapt else math.inf
        self.void = 0  # void trials in a row
        self.trial = None  # the last trial that decided the cap
        self.running = None  # the trial under way
        self.load = OtherLoad() if load is None and self.adapt else load
        self.controller = controller
        self.libs = []
        self.saved = []
        self.current = None
        self.changes = 0
        self.next_check = 0.0

    @property
    def active(self):
        return bool(self.libs)

    def __enter__(self):
        if self.controller is None and pinned_by() is None:
            self.controller = _blas_controller()
        if self.controller is not None:
            self.libs = list(self.controller)
            self.saved = [lib.num_threads for lib in self.libs]
        if self.libs:
            if self.adapt:
                self.load.sample()  # starts the first interval
                self.next_check = time.perf_counter() + FIRST_CHECK_SECONDS
            try:
                self._set(self.cap)
            except BaseException:
                self.__exit__()
                raise
        return self

    def tick(self):
        """After each step: feed a trial under way, or look at the load when its time
        has come (cheap otherwise)."""
        if not (self.libs and self.adapt):
            return
        now = time.perf_counter()
        if self.running is not None:
            count = self.running.tick(now)
            if count is None:
                self._end_trial(now)
            else:
                self._set(count)
            return
        if now < self.next_check:
            return
        self.next_check = now + CHECK_SECONDS
        others = self.load.sample()
        free = choose_threads(self.top, self.cores, others)
        if now >= self.trial_due and free > 1:
            self.running = ThreadTrial(free)
            self._set(self.running.count)
        else:
            self._set(choose_threads(self.cap, self.cores, others))

    def _end_trial(self, now):
        """A trial is valid when the cores it gave more threads stayed free meanwhile."""
        trial, self.running = self.running, None
        self.next_check = now + CHECK_SECONDS
        others = self.load.sample()
        if choose_threads(self.top, self.cores, others) >= trial.n:
            self.trial, self.cap, self.void = trial, trial.winner, 0
            self.trial_due = now + RETRIAL_SECONDS
        else:
            self.void += 1
            if self.void >= TRIALS:  # rest before measuring again
                self.void, self.trial_due = 0, now + RETRIAL_SECONDS
        self._set(choose_threads(self.cap, self.cores, others))

    def _set(self, n):
        if n != self.current:
            for lib in self.libs:
                lib.set_num_threads(n)
            self.changes += self.current is not None
            self.current = n

    def __exit__(self, *exc):
        libs, saved = self.libs, self.saved
        self.libs, self.current = [], None
        failed = None
        for lib, n in zip(libs, saved, strict=True):
            if n is None:
                continue  # the library did not say; leave it
            try:
                lib.set_num_threads(n)
            except Exception as error:  # restore the others all the same
                failed = failed or error
        if failed is not None and not any(exc):
            raise failed
        return False


def _blas_controller():
    """threadpoolctl's controllers of the loaded BLAS libraries, or None without them.

    Any failure to inspect the process (threadpoolctl missing, or failing on an unusual
    BLAS) leaves the threads alone rather than stopping training.
    """
    try:
        from threadpoolctl import ThreadpoolController

        libs = [lib for lib in ThreadpoolController().lib_controllers
                if lib.user_api == "blas"]
    except Exception:
        return None
    return libs or None
