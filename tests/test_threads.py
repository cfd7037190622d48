"""The BLAS thread policy (chainrule.threads) and the Trainer's ``threads=``."""

import math
import subprocess
import sys
import time

import numpy as np
import pytest

from chainrule import threads as th
from chainrule.models import TwoLayerNet
from chainrule.optim import SGD
from chainrule.trainer import Trainer


class FakeLib:
    """A BLAS as threadpoolctl shows it: num_threads and set_num_threads."""

    def __init__(self, n):
        self.num_threads = n
        self.calls = []

    def set_num_threads(self, n):
        self.calls.append(n)
        self.num_threads = n


class FakeLoad:
    """OtherLoad's interface, replaying given samples (cores used by others)."""

    def __init__(self, samples):
        self.samples = list(samples)

    def sample(self):
        return self.samples.pop(0) if self.samples else None


@pytest.mark.parametrize("cap, cores, others, expected", [
    (1, 2, 0.0, 1),    # small model: one thread even on an idle machine
    (2, 2, 0.0, 2),    # large model, idle: every core
    (2, 2, 1.0, 1),    # one competing process on 2 cores: the free one
    (2, 2, 0.4, 2),    # less than half a core busy rounds to none
    (2, 2, 0.6, 1),
    (8, 8, 3.2, 5),
    (8, 8, 12.0, 1),   # never below one
    (4, 4, None, 4),   # unknown load (no /proc/stat): the cap
])
def test_choose_threads_formula(cap, cores, others, expected):
    assert th.choose_threads(cap, cores, others) == expected


def test_step_flops_is_six_batch_parameters_in_float32_terms():
    shapes = [(784, 100), (100,), (100, 10), (10,)]
    for dtype, weight in ((np.float32, 1), (np.float64, 2)):
        params = {f"p{i}": np.zeros(s, dtype) for i, s in enumerate(shapes)}
        assert th.step_flops(params, 100) == weight * 6 * 100 * (78400 + 100 + 1000 + 10)
    # the README's net at batch 100 is measured; at batch 16 it always runs on one thread
    net = {"W": np.zeros(79510, np.float32)}
    assert th.step_flops(net, 16) < th.SMALL_FLOPS <= th.step_flops(net, 100)
    assert th.step_flops(net, 100) < th.CROSSOVER_FLOPS  # one thread a rank under MPI


def test_small_model_runs_on_one_thread_and_restores_the_previous_count():
    lib = FakeLib(2)
    load = FakeLoad([0.0] * 5)
    with th.BlasThreads("auto", flops=th.SMALL_FLOPS - 1, cores=2, load=load,
                        controller=[lib]) as blas:
        assert blas.active and blas.current == 1 and lib.num_threads == 1
        blas.tick()
        assert lib.num_threads == 1 and blas.running is None
    assert lib.num_threads == 2 and blas.current is None
    assert len(load.samples) == 5  # never measured, never looked at the load


class Machine:
    """A simulated machine: a step takes ``step[n]`` seconds on n BLAS threads.

    ``run(blas, steps)`` advances the monkeypatched clock by one step at the thread
    count in force, then calls ``blas.tick()``, as ``Trainer.fit`` does; it records
    the count of every step.
    """

    def __init__(self, monkeypatch, step):
        self.now, self.step, self.counts = 0.0, step, []
        monkeypatch.setattr(th.time, "perf_counter", lambda: self.now)

    def run(self, blas, steps):
        for _ in range(steps):
            self.counts.append(blas.current)
            self.now += self.step[blas.current]
            blas.tick()

    def look(self, blas):
        """Steps until the policy has looked at the load once more."""
        due = blas.next_check
        while blas.next_check == due:
            self.run(blas, 1)


def trial_blocks(counts):
    """The runs of equal counts in a list of per-step counts: [(count, length), ...]."""
    blocks = []
    for c in counts:
        if blocks and blocks[-1][0] == c:
            blocks[-1][1] += 1
        else:
            blocks.append([c, 1])
    return [tuple(b) for b in blocks]


@pytest.mark.parametrize("two, winner", [(0.5e-3, 2), (0.96e-3, 1), (1.5e-3, 1)])
def test_a_trial_keeps_two_threads_only_when_they_are_5_percent_faster(monkeypatch, two,
                                                                         winner):
    machine = Machine(monkeypatch, {1: 1e-3, 2: two})
    with th.BlasThreads("auto", flops=th.SMALL_FLOPS, cores=2, load=FakeLoad([0.0] * 20),
                        controller=[FakeLib(2)]) as blas:
        machine.run(blas, 100)  # 0.1 s on one thread: nothing measured yet
        assert set(machine.counts) == {1} and blas.running is not None
        machine.run(blas, 2000)
        trial = blas.trial
    assert trial.winner == winner and blas.cap == winner
    assert trial.medians == pytest.approx({1: 1e-3, 2: two})
    # blocks 1, 2, 1, 2 of >= 0.1 s each (plus the untimed first step), then the winner
    blocks = trial_blocks(machine.counts[100:])
    assert [c for c, _ in blocks] == [1, 2, 1, 2] + ([1] if winner == 1 else [])
    assert blocks[-1][1] > 1000  # the winner's count from then on (merged with a last 2)
    for count, length in blocks[:4 if winner == 1 else 3]:
        timed = max(th.TRIAL_STEPS, th.TRIAL_SECONDS / {1: 1e-3, 2: two}[count])
        assert length - 1 in (math.ceil(timed), math.ceil(timed) + 1)  # clock rounding


def test_the_verdict_is_measured_again_when_the_machine_changes(monkeypatch):
    machine = Machine(monkeypatch, {1: 1e-3, 2: 0.6e-3})
    with th.BlasThreads("auto", flops=1e12, cores=2, load=FakeLoad([0.0] * 500),
                        controller=[FakeLib(2)]) as blas:
        machine.run(blas, 2000)
        assert blas.cap == 2 and blas.current == 2
        machine.step[2] = 1.4e-3  # the second core now runs slowly (a busy host)
        machine.run(blas, int(th.RETRIAL_SECONDS / 1.4e-3) + 2000)
        assert blas.cap == 1 and blas.current == 1 and blas.trial.winner == 1


def test_large_model_follows_the_load_both_ways(monkeypatch):
    machine = Machine(monkeypatch, {1: 1e-3, 2: 0.5e-3})
    lib = FakeLib(2)
    load = FakeLoad([None, 0.0, 0.0])  # the interval starts on entering; an idle trial
    with th.BlasThreads("auto", flops=th.CROSSOVER_FLOPS, cores=2, load=load,
                        controller=[lib]) as blas:
        assert lib.num_threads == 1  # one thread until a trial says more pay
        machine.run(blas, 1500)
        assert blas.cap == 2 and lib.num_threads == 2 and not load.samples
        changes = blas.changes
        load.samples = [1.0, 1.1, 0.1, None]
        for expected in (1, 1, 2, 2):  # busy, busy, it went away, unknown: the cap
            machine.look(blas)
            assert lib.num_threads == expected
        assert blas.changes == changes + 2
    assert lib.num_threads == 2  # restored


def test_a_trial_the_load_interrupts_is_void_and_made_again(monkeypatch):
    machine = Machine(monkeypatch, {1: 1e-3, 2: 0.5e-3})
    lib = FakeLib(2)
    # entering, the first look (idle: a trial), its end (a process took a core: void),
    # the next look (busy: no trial), then idle again: a new trial that counts
    load = FakeLoad([None, 0.0, 1.0, 1.0, 0.0, 0.0])
    with th.BlasThreads("auto", flops=1e12, cores=2, load=load, controller=[lib]) as blas:
        machine.run(blas, 3000)
        assert blas.void == 0 and blas.trial is not None and blas.cap == 2
    # one thread before the first trial runs into its first block; after the void one,
    # one thread while the load is busy runs into the second trial's first block
    blocks = trial_blocks(machine.counts)
    assert [c for c, _ in blocks] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert blocks[4][1] > 600  # 0.5 s to the next look (busy), 0.5 s more, then 0.1 s


def test_three_void_trials_rest_before_measuring_again(monkeypatch):
    machine = Machine(monkeypatch, {1: 1e-3, 2: 0.5e-3})
    load = FakeLoad([None] + [0.0, 1.0] * 3 + [0.0] * 50)
    with th.BlasThreads("auto", flops=1e12, cores=2, load=load,
                        controller=[FakeLib(2)]) as blas:
        machine.run(blas, 5000)
        assert blas.trial is None and blas.cap == 1 and blas.running is None
        machine.run(blas, int(th.RETRIAL_SECONDS / 1e-3))
        assert blas.trial is not None and blas.cap == 2


def test_a_number_pins_the_count_and_never_looks_at_the_load(monkeypatch):
    monkeypatch.setattr(th, "CHECK_SECONDS", 0.0)
    lib = FakeLib(4)
    load = FakeLoad([3.0, 3.0])
    with th.BlasThreads(3, flops=1e12, cores=4, load=load, controller=[lib]) as blas:
        blas.tick()
        assert lib.num_threads == 3
    assert load.samples == [3.0, 3.0] and lib.num_threads == 4


def test_more_threads_than_cores_are_cut_to_the_cores():
    lib = FakeLib(1)
    with th.BlasThreads(16, cores=2, controller=[lib]):
        assert lib.num_threads == 2


def test_an_environment_variable_wins(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert th.pinned_by() == "OMP_NUM_THREADS"
    with th.BlasThreads("auto", flops=0) as blas:
        assert not blas.active and blas.current is None
    assert th.pinned_by({"OPENBLAS_NUM_THREADS": " "}) is None


def test_other_load_from_proc_stat(tmp_path, monkeypatch):
    """others = (busy jiffies of our CPUs / HZ - this process's CPU seconds) / wall seconds."""
    stat = tmp_path / "stat"
    clock = {"cpu": 0.0, "wall": 0.0}
    monkeypatch.setattr(th.time, "process_time", lambda: clock["cpu"])
    monkeypatch.setattr(th.time, "perf_counter", lambda: clock["wall"])
    load = th.OtherLoad(str(stat), cpus={0, 1})
    hz = load.hz

    def write(cpu0, cpu1, cpu2, guest):
        # user nice system idle iowait irq softirq steal guest guest_nice; guest is
        # already inside user, so it must not count twice; cpu2 is not ours
        rows = [f"cpu{i} " + " ".join(str(v * hz) for v in f) + f" {hz * guest} 0"
                for i, f in enumerate((cpu0, cpu1, cpu2))]
        stat.write_text("cpu  9 9 9 9 9 9 9 9 9 9\n" + "\n".join(rows) + "\nintr 5 6\n")

    write([10, 0, 2, 50, 1, 0, 0, 0], [5, 1, 1, 60, 0, 0, 0, 0], [0, 0, 0, 9, 0, 0, 0, 0], 7)
    assert load.sample() is None  # the first call only starts the interval
    # 2 s later: cpu0 +3 s user and +1 s steal, cpu1 +1 s system and +1 s idle, cpu2 +2 s
    # user (not ours); 1 s of it was this process -> (3 + 1 + 1 - 1) s / 2 s = 2.0 cores
    clock["cpu"], clock["wall"] = 1.0, 2.0
    write([13, 0, 2, 50, 1, 0, 0, 1], [5, 1, 2, 61, 0, 0, 0, 0], [2, 0, 0, 9, 0, 0, 0, 0], 9)
    assert load.sample() == pytest.approx(2.0)
    stat.write_text("intr 1 2 3\n")  # no cpu line: unknown
    assert load.sample() is None
    stat.write_text("cpu0 1 2 x 4\n")  # damaged: unknown, never an exception
    assert load.sample() is None
    assert th.OtherLoad(str(tmp_path / "missing")).sample() is None


def test_the_load_is_looked_at_after_0_1_s_then_every_0_5_s(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(th.time, "perf_counter", lambda: clock[0])

    class Load:
        samples = 0

        def sample(self):
            self.samples += 1
            return 1.0  # one core busy: no trial, only looks

    load = Load()
    with th.BlasThreads("auto", flops=1e12, cores=2, load=load, controller=[FakeLib(2)]) as b:
        assert load.samples == 1  # the interval starts on entering
        for now, expected in [(0.05, 1), (0.1, 2), (0.3, 2), (0.59, 2), (0.6, 3), (1.1, 4)]:
            clock[0] = now
            b.tick()
            assert load.samples == expected, now


def test_no_blas_found_means_nothing_is_touched():
    with th.BlasThreads(2, controller=[]) as blas:
        assert not blas.active and blas.current is None
        blas.tick()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/stat")
def test_other_load_sees_a_competing_process():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        load = th.OtherLoad()
        load.sample()
        time.sleep(1.0)
        others = load.sample()
    finally:
        spinner.kill()
        spinner.wait()
    assert others is not None and others >= 0.5


def blas_threads_now():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pools = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    if not pools:
        pytest.skip("threadpoolctl finds no BLAS")
    return pools[0]["num_threads"]


@pytest.fixture
def unpinned(monkeypatch):
    for name in th.THREAD_VARS:
        monkeypatch.delenv(name, raising=False)


def small_run(threads, callbacks=()):
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((40, 4)), rng.integers(0, 3, 40)
    trainer = Trainer(TwoLayerNet(4, 5, 3, random_state=0), SGD(lr=0.1), random_state=0,
                      threads=threads)
    trainer.fit(x, t, max_epoch=1, batch_size=10, verbose=0, step_callbacks=callbacks)
    return trainer


@pytest.mark.usefixtures("unpinned")
@pytest.mark.parametrize("threads", ["auto", 1, 2])
def test_fit_sets_the_count_while_training_and_restores_it(threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas_threads_now()
    expected = 1 if threads == "auto" else min(threads, th.usable_cores())
    with threadpoolctl.threadpool_limits(3):  # a count fit never chooses here
        before = blas_threads_now()
        assert before == 3
        seen = []
        small_run(threads, [lambda trainer: seen.append(blas_threads_now())])
        assert set(seen) == {expected}
        assert blas_threads_now() == before


@pytest.mark.usefixtures("unpinned")
@pytest.mark.skipif(th.usable_cores() < 2, reason="a trial needs two cores")
def test_fit_runs_a_trial_through_the_real_blas(monkeypatch):
    """A model over SMALL_FLOPS on an idle machine: blocks on 1 and 2 threads, a verdict."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas_threads_now()
    monkeypatch.setattr(th, "FIRST_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(th, "TRIAL_SECONDS", 0.002)
    monkeypatch.setattr(th.OtherLoad, "sample", lambda self: 0.0)  # idle, whatever runs
    rng = np.random.default_rng(0)
    x, t = rng.random((400, 784), np.float32), rng.integers(0, 10, 400)
    model = TwoLayerNet(784, 100, 10, dtype="float32", random_state=0)
    trainer = Trainer(model, SGD(lr=0.1), random_state=0)
    seen, policies = [], []

    def watch(trainer):
        seen.append(blas_threads_now())
        policies.append(trainer.blas)

    with threadpoolctl.threadpool_limits(3):
        trainer.fit(x, t, max_epoch=5, batch_size=100, verbose=0, step_callbacks=[watch])
        assert blas_threads_now() == 3
    trial = policies[-1].trial
    assert trial is not None and set(trial.medians) == {1, 2} and trial.winner in (1, 2)
    assert {1, 2} <= set(seen)  # steps ran on both counts
    assert seen[-1] == trial.winner


@pytest.mark.usefixtures("unpinned")
def test_fit_restores_the_count_when_training_fails():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas_threads_now()

    def fail(trainer):
        raise KeyboardInterrupt  # as an interrupted run, inside fit

    with threadpoolctl.threadpool_limits(3):
        with pytest.raises(KeyboardInterrupt):
            small_run(1, [fail])
        assert blas_threads_now() == 3


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), ("fast", ValueError),
                                        (1.5, TypeError), (True, TypeError), (None, TypeError)])
def test_bad_threads_name_the_argument(bad, error):
    with pytest.raises(error, match=r"threads must be 'auto' or a positive integer, got .*"
                       + str(bad).replace(".", r"\.")):
        Trainer(TwoLayerNet(4, 5, 3, random_state=0), SGD(), threads=bad)


@pytest.mark.parametrize("bad", ["0", "two", "1.5", "-1"])
def test_cli_bad_threads_is_one_line_exit_2(bad):
    proc = subprocess.run([sys.executable, "-m", "chainrule", "train", "--threads", bad,
                           "--epochs", "1"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"chainrule train: error: argument --threads: expected 'auto' or a positive integer, "
        f"got {bad!r} (see 'chainrule train --help')")
    assert "Traceback" not in proc.stderr


@pytest.mark.usefixtures("unpinned")
def test_blas_threads_around_a_loop_of_ones_own():
    """The README's recipe for a hand-written loop: the policy inside, the old count after."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas_threads_now()
    params = {"W": np.zeros((784, 100), np.float32), "b": np.zeros(100, np.float32)}
    with threadpoolctl.threadpool_limits(3):
        with th.BlasThreads("auto", flops=th.step_flops(params, 100)) as blas:
            assert blas.active and blas_threads_now() == 1  # one thread until a trial
            blas.tick()
        assert blas_threads_now() == 3
        with th.BlasThreads(1):
            assert blas_threads_now() == 1
        assert blas_threads_now() == 3


def test_numpy_integers_are_thread_counts_and_bad_sizes_are_named():
    assert Trainer(TwoLayerNet(4, 5, 3, random_state=0), SGD(), threads=np.int64(2)).threads == 2
    with pytest.raises(ValueError, match="cores must be a positive integer, got 0"):
        th.BlasThreads(cores=0)
    with pytest.raises(ValueError, match="flops must be a non-negative number, got nan"):
        th.BlasThreads(flops=float("nan"))
    with pytest.raises(TypeError, match="batch_size must be an integer, got str 'x'"):
        th.step_flops({}, "x")


class TwoRankComm:
    """A one-process stand-in for a 2-rank world on one node (rank 0)."""

    def __init__(self):
        from mpi4py import MPI

        self.comm = MPI.COMM_SELF

    def __getattr__(self, name):
        return getattr(self.comm, name)

    def Get_size(self):  # noqa: N802 - mpi4py's names
        return 2

    def Split_type(self, *args):  # noqa: N802
        return self


def test_each_rank_gets_its_share_and_does_not_follow_the_load():
    pytest.importorskip("mpi4py")
    from chainrule.distributed import DataParallelTrainer
    from chainrule.models import MultiLayerNet

    model = MultiLayerNet(784, [100], 10, dtype="float32", random_state=0)
    trainer = DataParallelTrainer(model, SGD(), comm=TwoRankComm(), random_state=0)
    small = trainer.thread_policy(100)  # a shard of 50: 2.4e7 FLOPs
    assert (small.cap, small.adapt) == (1, False)
    large = trainer.thread_policy(400)  # a shard of 200: 9.5e7 FLOPs
    assert (large.cap, large.adapt) == (max(1, th.usable_cores() // 2), False)
    pinned = DataParallelTrainer(model, SGD(), comm=TwoRankComm(), threads=1).thread_policy(400)
    assert pinned.cap == 1
