"""The task manager: one worker thread, coalescing, cancellation, errors, synchronous mode."""

import threading
import time

import pytest

pytest.importorskip("PySide6")

from clode.base.errors import ClodeError, ImageReadError  # noqa: E402
from clode.base.progress import check  # noqa: E402
from clode_desktop.base.worker import TaskManager  # noqa: E402


@pytest.fixture
def tasks(qtbot):
    m = TaskManager(threaded=True)
    yield m
    assert m.shutdown(5000)


def test_jobs_run_in_order_on_one_other_thread(qtbot, tasks):
    threads, results = [], []
    for i in range(3):
        tasks.submit(lambda job, i=i: (threads.append(threading.current_thread()), i)[1], on_done=results.append)
    qtbot.waitUntil(lambda: len(results) == 3, timeout=5000)
    assert results == [0, 1, 2]
    assert len(set(threads)) == 1 and threads[0] is not threading.main_thread()


def test_newest_request_replaces_queued_ones(qtbot, tasks):
    gate = threading.Event()
    ran, done = [], []
    tasks.submit(lambda job: gate.wait(5), label="blocker")
    for T in (1.0, 2.0, 3.0, 4.0):
        tasks.submit(lambda job, T=T: ran.append(T) or T, key="render", on_done=done.append)
    gate.set()
    qtbot.waitUntil(lambda: done == [4.0], timeout=5000)
    time.sleep(0.05)
    assert ran == [4.0]


def test_cancel_group_stops_running_and_queued_work(qtbot, tasks):
    started = threading.Event()
    cancelled, done = [], []

    def long_job(job):
        started.set()
        while True:
            check(job.token)
            time.sleep(0.005)

    tasks.submit(long_job, group="photo", on_done=done.append, on_cancelled=lambda: cancelled.append("long"))
    tasks.submit(lambda job: 1, group="photo", on_done=done.append, on_cancelled=lambda: cancelled.append("queued"))
    assert started.wait(5)
    tasks.cancel_group("photo")
    qtbot.waitUntil(lambda: sorted(cancelled) == ["long", "queued"], timeout=5000)
    assert done == []
    # the worker is still alive for new work
    tasks.submit(lambda job: 2, on_done=done.append)
    qtbot.waitUntil(lambda: done == [2], timeout=5000)


def test_errors_come_back_as_one_line(qtbot, tasks):
    errors = []
    tasks.failed.connect(lambda label, message: errors.append((label, message)))
    tasks.submit(lambda job: (_ for _ in ()).throw(ImageReadError("/x/a.jpg: not an image")), label="Opening")
    tasks.submit(lambda job: {}["missing"], label="Bug")
    qtbot.waitUntil(lambda: len(errors) == 2, timeout=5000)
    assert errors[0] == ("Opening", "/x/a.jpg: not an image")
    assert errors[1][0] == "Bug" and errors[1][1].startswith("unexpected error: KeyError")
    assert "\n" not in errors[1][1]


def test_progress_and_partial_results_arrive_on_the_ui_thread(qtbot, tasks):
    seen = []

    def work(job):
        job.partial("preview")
        job.progress(1.0, "done")
        return "full"

    tasks.progress.connect(lambda job, f, m: seen.append(("progress", f, threading.current_thread())))
    tasks.submit(work, show_progress=True, on_partial=lambda v: seen.append((v, threading.current_thread())),
                 on_done=lambda v: seen.append((v, threading.current_thread())))
    qtbot.waitUntil(lambda: any(s[0] == "full" for s in seen), timeout=5000)
    assert [s[0] for s in seen] == ["preview", "progress", "full"]
    assert all(s[-1] is threading.main_thread() for s in seen)


def test_shutdown_cancels_running_work_promptly(qtbot):
    m = TaskManager(threaded=True)
    started = threading.Event()

    def endless(job):
        started.set()
        while True:
            check(job.token)
            time.sleep(0.01)

    m.submit(endless)
    assert started.wait(5)
    t = time.monotonic()
    assert m.shutdown(5000)
    assert time.monotonic() - t < 2
    assert m.submit(lambda job: 1) is None   # closed: nothing more runs


def test_synchronous_mode_runs_at_once():
    m = TaskManager(threaded=False)
    out, errors = [], []
    m.submit(lambda job: threading.current_thread(), on_done=out.append)
    m.submit(lambda job: (_ for _ in ()).throw(ClodeError("bad")), on_error=errors.append)
    assert out == [threading.current_thread()]
    assert errors == ["bad"]
    assert m.shutdown()


def test_garbage_is_collected_on_the_ui_thread_not_in_the_worker(qtbot, tasks):
    import gc
    import weakref

    from clode_desktop.base.worker import GC_INTERVAL_MS

    assert not gc.isenabled()           # a worker exists: automatic collection is off ...

    class Cycle:
        pass
    a = Cycle()
    a.me = a
    gone = weakref.ref(a)
    del a
    threads = []
    original = gc.collect

    def spy(*args):
        threads.append(threading.current_thread())
        return original(*args)
    gc.collect = spy
    try:
        keep = [Cycle() for _ in range(2000)]     # past the first generation's threshold
        qtbot.waitUntil(lambda: gone() is None, timeout=4 * GC_INTERVAL_MS)
    finally:
        gc.collect = original
    del keep
    assert threads and all(t is threading.main_thread() for t in threads)   # ... and the UI thread collects


def test_what_the_heap_kept_for_a_job_goes_back_when_the_queue_empties(qtbot, tasks):
    # import clode keeps render buffers on the heap (clode.engine.heap); a long-lived app must not hold
    # an export's memory once its work is done
    np = pytest.importorskip("numpy")
    from clode.engine.heap import GIVE_BACK_ABOVE, free_heap_bytes
    if free_heap_bytes() is None:
        pytest.skip("glibc's heap")
    done = []

    def export_like(job):
        buffers = [np.ones(30 * 2 ** 20 // 8) for _ in range(12)]     # strip-sized, 360 MB in all
        del buffers
        return free_heap_bytes()

    tasks.submit(export_like, on_done=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=10000)
    assert done[0] >= 300 * 2 ** 20                                   # kept while the job ran
    # the job's 360 MB go back (measured against what it left: earlier tests may leave the heap
    # holding some free memory of their own)
    qtbot.waitUntil(lambda: free_heap_bytes() < max(GIVE_BACK_ABOVE, done[0] - 300 * 2 ** 20), timeout=5000)


# -- issue 27: one door for background work; a lane is a second thread of the same manager -------------------

def test_a_lane_runs_beside_the_queue_and_stops_with_its_manager(qtbot, tasks):
    gate, threads, done = threading.Event(), {}, []
    tasks.submit(lambda job: (threads.__setitem__("queue", threading.current_thread()), gate.wait(5))[1],
                 on_done=done.append)
    lane = tasks.lane("batch")
    assert tasks.lane("batch") is lane                       # one lane of a name
    from PySide6.QtCore import QThread

    def in_lane(job):
        threads["lane"] = threading.current_thread()
        threads["lane name"] = QThread.currentThread().objectName()
        return "lane"
    lane.submit(in_lane, on_done=done.append)
    qtbot.waitUntil(lambda: done == ["lane"], timeout=5000)  # the queue's job still holds its thread
    gate.set()
    qtbot.waitUntil(lambda: done == ["lane", True], timeout=5000)
    assert threads["lane"] is not threads["queue"] and threads["lane name"] == "clode-batch"
    assert tasks.shutdown(5000) and not tasks.thread_running and lane.submit(lambda job: 1) is None


def test_a_callers_token_and_a_result_kept_after_a_cancel(qtbot, tasks):
    from clode.base.progress import CancelToken
    token, started, got = CancelToken(), threading.Event(), []

    def work(job):
        started.set()
        while not job.cancelled:
            time.sleep(0.005)
        return "what was done before the cancel"

    job = tasks.submit(work, token=token, keep_result=True, on_done=got.append,
                       on_cancelled=lambda: got.append("cancelled"))
    assert job.token is token and started.wait(5)
    token.cancel()                                           # the caller's token reaches the job
    assert job.wait(5000)
    qtbot.waitUntil(lambda: bool(got), timeout=5000)
    assert got == ["what was done before the cancel"]
    # without keep_result the same job ends as cancelled
    plain = tasks.submit(work, on_done=got.append, on_cancelled=lambda: got.append("cancelled"))
    plain.cancel()
    qtbot.waitUntil(lambda: len(got) == 2, timeout=5000)
    assert got[1] == "cancelled" and plain.wait(5000)


def test_without_threads_a_lane_runs_at_once_too():
    tasks = TaskManager(threaded=False)
    got = []
    tasks.lane("batch").submit(lambda job: 7, on_done=got.append)
    assert got == [7] and not tasks.thread_running
