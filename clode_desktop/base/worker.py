"""One worker thread runs every model and file job, in order; results come back by signal.

The UI submits jobs (plain callables) to a ``TaskManager`` and names callbacks
that run on the UI thread when the job ends. Jobs with the same ``key`` are
coalesced: a newer one replaces a queued older one (dial moves: only the newest
T is rendered). Jobs in a ``group`` can be cancelled together (a newer photo
cancels the work on the older one) through their ``CancelToken``.

Long work that must not hold up the editor's queue (a batch of a folder) runs in a named
**lane**: ``tasks.lane("batch")`` is a second manager with a worker thread of its own, owned
by this one and shut down with it; it is submitted to, cancelled and reported in the same way.

``TaskManager(threaded=False)`` runs each job at once on the caller's thread (its lanes too),
so logic tests are deterministic; the behaviour is otherwise the same.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import traceback
from collections import deque
from typing import Any, Callable, Optional

from PySide6.QtCore import QCoreApplication, QObject, QThread, Qt, QTimer, Signal

from clode.base.errors import Cancelled, ClodeError
from clode.engine.heap import give_back_free_memory
from clode.base.progress import CancelToken

log = logging.getLogger(__name__)

Callback = Optional[Callable[[Any], None]]

#: How often the UI thread collects garbage once background threads exist.
GC_INTERVAL_MS = 500
_gc_timer: Optional[QTimer] = None


def collect_garbage_on_ui_thread() -> None:
    """Move Python's cyclic garbage collection to the UI thread (idempotent; call it there).

    Automatic collection runs in whichever thread happens to allocate past a threshold. When
    that is a worker and the garbage holds Qt objects (a closed window, a dialog), their C++
    side is destroyed off the UI thread, and Qt crashes: seen as a segfault in the worker
    while it loaded a model. So automatic collection is switched off and a timer on the UI
    thread collects the generations the thresholds call for, as the collector would.
    """
    global _gc_timer
    app = QCoreApplication.instance()
    if _gc_timer is not None or app is None:
        return
    gc.disable()
    _gc_timer = QTimer(app)
    _gc_timer.setInterval(GC_INTERVAL_MS)
    _gc_timer.timeout.connect(_collect_due_generations)
    _gc_timer.start()


def _collect_due_generations() -> None:
    counts, thresholds = gc.get_count(), gc.get_threshold()
    due = [g for g in range(3) if counts[g] > thresholds[g]]
    if due:
        gc.collect(max(due))


def error_message(e: BaseException) -> str:
    """The one line a person reads; details of unexpected errors go to the log."""
    if isinstance(e, ClodeError):
        return str(e)
    if isinstance(e, MemoryError):
        return "out of memory (try a smaller photo or the CPU device)"
    log.error("unexpected error in a background job:\n%s", "".join(traceback.format_exception(e)))
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"unexpected error: {type(e).__name__}" + (f": {text[:200]}" if text else "")


class Job:
    """One unit of work; ``fn(job)`` runs on the worker thread."""

    _ids = 0

    def __init__(self, manager: "TaskManager", fn: Callable[["Job"], Any], label: str, key: Optional[str],
                 group: Optional[str], on_done: Callback, on_error: Callback, on_partial: Callback,
                 on_cancelled: Callable[[], None] | None, show_progress: bool,
                 token: Optional[CancelToken] = None, keep_result: bool = False) -> None:
        Job._ids += 1
        self.id = Job._ids
        self.manager = manager
        self.fn = fn
        self.label = label
        self.key = key
        self.group = group
        self.on_done = on_done
        self.on_error = on_error
        self.on_partial = on_partial
        self.on_cancelled = on_cancelled
        self.show_progress = show_progress
        self.token = token if token is not None else CancelToken()
        #: a result returned after a cancel still goes to ``on_done`` (a batch's account of what it did)
        self.keep_result = keep_result
        self._last_report = 0.0
        self._ended = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def cancel(self) -> None:
        self.token.cancel()

    def wait(self, timeout_ms: int) -> bool:
        """Wait (off the worker thread) until the job has ended or was dropped; False on timeout."""
        return self._ended.wait(timeout_ms / 1000)

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress from the worker thread (throttled to about 20 updates a second)."""
        now = time.monotonic()
        if fraction < 1.0 and now - self._last_report < 0.05:
            return
        self._last_report = now
        self.manager._post(self, "progress", (float(fraction), message))

    def partial(self, value: Any) -> None:
        """Hand an intermediate result (a quick preview) to ``on_partial`` on the UI thread."""
        self.manager._post(self, "partial", value)

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.label!r}>"


class _WorkerThread(QThread):
    def __init__(self, manager: "TaskManager") -> None:
        super().__init__()
        self.setObjectName("clode-worker")
        self.manager = manager

    def run(self) -> None:
        m = self.manager
        while True:
            with m._cond:
                while not m._queue and not m._stopping:
                    m._cond.wait()
                if m._stopping:
                    return
                job = m._queue.popleft()
                m._running = job
            try:
                m._execute(job)
            finally:
                with m._cond:
                    m._running = None
                    idle = not m._queue
            if idle:
                # what the heap kept for the job's renders (clode.engine.heap) goes back to the system
                give_back_free_memory()


class TaskManager(QObject):
    #: a job with show_progress started (job), reported (job, fraction, message) or ended (job)
    started = Signal(object)
    progress = Signal(object, float, str)
    ended = Signal(object)
    #: errors of jobs without their own on_error: (job label, one-line message)
    failed = Signal(str, str)
    #: internal: (job, what, value) from the worker thread, delivered on the UI thread
    _deliver = Signal(object, str, object)

    def __init__(self, parent: Optional[QObject] = None, threaded: bool = True) -> None:
        super().__init__(parent)
        self.threaded = threaded
        self._cond = threading.Condition()
        self._queue: deque[Job] = deque()
        self._running: Optional[Job] = None
        self._stopping = False
        self._closed = False
        self._deliver.connect(self._on_deliver, Qt.ConnectionType.QueuedConnection if threaded else Qt.ConnectionType.DirectConnection)
        self._thread: Optional[_WorkerThread] = None
        self._lanes: dict[str, TaskManager] = {}
        if threaded:
            collect_garbage_on_ui_thread()
            self._thread = _WorkerThread(self)
            self._thread.start()

    # -- the UI side ------------------------------------------------------------------------
    def submit(self, fn: Callable[[Job], Any], *, label: str = "", key: Optional[str] = None,
               group: Optional[str] = None, on_done: Callback = None, on_error: Callback = None,
               on_partial: Callback = None, on_cancelled: Callable[[], None] | None = None,
               show_progress: bool = False, token: Optional[CancelToken] = None,
               keep_result: bool = False) -> Optional[Job]:
        """Queue ``fn(job)``. ``token``: the job's cancel token, made by the caller (who may cancel
        before this returns: at once, without a thread); ``keep_result``: a result returned after
        a cancel still reaches ``on_done`` (else ``on_cancelled`` is called)."""
        if self._closed:
            return None
        job = Job(self, fn, label, key, group, on_done, on_error, on_partial, on_cancelled, show_progress,
                  token, keep_result)
        if not self.threaded:
            self._execute(job)
            return job
        with self._cond:
            if key is not None:
                for old in [j for j in self._queue if j.key == key]:
                    self._queue.remove(old)
                    old.cancel()
                    old._ended.set()
            self._queue.append(job)
            self._cond.notify()
        return job

    def cancel_group(self, group: str) -> None:
        """Cancel every queued and running job of ``group``; their callbacks are not called."""
        with self._cond:
            for job in [j for j in self._queue if j.group == group]:
                self._queue.remove(job)
                job.cancel()
                job._ended.set()
                self._post(job, "cancelled", None)
            if self._running is not None and self._running.group == group:
                self._running.cancel()

    def cancel_job(self, job: Optional[Job]) -> None:
        if job is None:
            return
        with self._cond:
            if job in self._queue:
                self._queue.remove(job)
                job._ended.set()
                self._post(job, "cancelled", None)
            job.cancel()

    def run_pending(self, key: str) -> None:
        """Run queued jobs with ``key`` now. Called by a long job on the worker thread (a
        refining preparation) so that quick ones (dial renders) are not held up behind it."""
        if threading.current_thread() is threading.main_thread() and self.threaded:
            raise RuntimeError("run_pending is for jobs on the worker thread")
        while True:
            with self._cond:
                job = next((j for j in self._queue if j.key == key), None)
                if job is None:
                    return
                self._queue.remove(job)
            self._execute(job)

    def lane(self, name: str) -> "TaskManager":
        """The lane ``name``: a manager with a worker thread of its own (made on first use, owned by
        this one and shut down with it), for long work beside this one's queue (a batch export
        while the editor renders)."""
        lane = self._lanes.get(name)
        if lane is None or lane._closed:
            lane = TaskManager(self, threaded=self.threaded)
            if lane._thread is not None:
                lane._thread.setObjectName(f"clode-{name}")
            self._lanes[name] = lane
        return lane

    def is_busy(self) -> bool:
        with self._cond:
            return bool(self._queue) or self._running is not None

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel everything (the lanes' work too), stop the threads and wait for them; returns False
        if one did not stop in time."""
        lanes_stopped = all([lane.shutdown(timeout_ms) for lane in self._lanes.values()])
        self._closed = True
        with self._cond:
            for job in self._queue:
                job.cancel()
                job._ended.set()
            self._queue.clear()
            if self._running is not None:
                self._running.cancel()
            self._stopping = True
            self._cond.notify_all()
        if self._thread is None:
            return lanes_stopped
        stopped = self._thread.wait(timeout_ms)
        if stopped:
            self._thread = None
        return stopped and lanes_stopped

    @property
    def thread_running(self) -> bool:
        """Whether this manager's worker thread (or a lane's) is still there (False once shut down)."""
        return self._thread is not None or any(lane.thread_running for lane in self._lanes.values())

    # -- the worker side --------------------------------------------------------------------
    def _post(self, job: Job, what: str, value: Any) -> None:
        self._deliver.emit(job, what, value)

    def _execute(self, job: Job) -> None:
        try:
            self._run(job)
        finally:
            job._ended.set()

    def _run(self, job: Job) -> None:
        if job.cancelled:
            self._post(job, "cancelled", None)
            return
        self._post(job, "started", None)
        try:
            result = job.fn(job)
        except Cancelled:
            self._post(job, "cancelled", None)
        except BaseException as e:  # noqa: BLE001 - every failure becomes a message, never a dead thread
            if job.cancelled:
                self._post(job, "cancelled", None)
            else:
                self._post(job, "error", error_message(e))
        else:
            self._post(job, "cancelled" if job.cancelled and not job.keep_result else "done", result)

    def _on_deliver(self, job: Job, what: str, value: Any) -> None:
        if self._closed:
            return
        if what == "started":
            if job.show_progress:
                self.started.emit(job)
            return
        if what == "progress":
            if job.show_progress and not job.cancelled:
                self.progress.emit(job, *value)
            return
        if what == "partial":
            if job.on_partial is not None and not job.cancelled:
                job.on_partial(value)
            return
        # The job has ended.
        if job.show_progress:
            self.ended.emit(job)
        if what == "done" and job.on_done is not None:
            job.on_done(value)
        elif what == "error":
            if job.on_error is not None:
                job.on_error(value)
            else:
                self.failed.emit(job.label, value)
        elif what == "cancelled" and job.on_cancelled is not None:
            job.on_cancelled()
