"""The trainer as a child process (``python -m clode train ... --progress -``) with typed signals.

A crash or an out-of-memory in training can never take the editor down. Its JSON-lines progress
on stdout arrives as ``clode.training.events`` objects; its stderr is kept (the last lines) to
say why a run failed.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from typing import Optional

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from clode.training import events as events

#: After SIGTERM, how long a step may take to finish before the process is killed.
STOP_GRACE_MS = 15_000
STDERR_LINES = 40


class TrainerProcess(QObject):
    #: the process is up: its pid
    started = Signal(int)
    #: one progress event (a ``clode.training.events.TrainerEvent``); not ``event``, QObject's handler
    trainerEvent = Signal(object)
    #: the process could not be started: message
    failedToStart = Signal(str)
    #: the process ended: (exit code, crashed)
    ended = Signal(int, bool)

    def __init__(self, args: list[str], extra_env: Optional[dict] = None, parent: Optional[QObject] = None,
                 stop_grace_ms: int = STOP_GRACE_MS) -> None:
        super().__init__(parent)
        self.stderr: list[str] = []
        self.pid = 0
        self.paused = False
        self.stop_requested = False
        self._stdout = b""
        self._ended = False
        self._kill_timer = QTimer(self, singleShot=True)
        self._kill_timer.timeout.connect(self.kill)
        self.stop_grace_ms = stop_grace_ms
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        for k, v in (extra_env or {}).items():
            env.insert(k, v)
        proc.setProcessEnvironment(env)
        proc.setProgram(sys.executable)
        proc.setArguments(["-m", "clode", "train", *args])
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._error)
        proc.started.connect(self._started)
        self.process = proc

    def start(self) -> None:
        self.process.start()

    @property
    def running(self) -> bool:
        return not self._ended

    # -- control -----------------------------------------------------------------------------------
    def stop(self) -> None:
        """SIGTERM: the trainer finishes at its next cancel check (never inside a checkpoint write);
        it is killed if it has not ended after the grace period."""
        if self.stop_requested or self._ended:
            return
        self.stop_requested = True
        self.process.terminate()
        if self.paused:
            self.set_paused(False)         # a stopped process handles the SIGTERM once it runs again
        self._kill_timer.start(self.stop_grace_ms)

    def set_paused(self, on: bool) -> bool:
        """Suspend or continue the process (POSIX signals; it keeps its memory meanwhile).
        Returns whether it is paused now."""
        on = bool(on)
        if self._ended or not self.pid or on == self.paused:
            return self.paused
        os.kill(self.pid, signal.SIGSTOP if on else signal.SIGCONT)
        self.paused = on
        return on

    def kill(self) -> None:
        if not self._ended:
            self.process.kill()

    def wait(self, timeout_ms: int = 10_000) -> None:
        """Stop and wait for the end (the editor is closing)."""
        if self._ended:
            return
        self.stop_requested = True
        self.process.terminate()
        if self.paused:
            self.set_paused(False)
        if not self.process.waitForFinished(timeout_ms):
            self.process.kill()
            self.process.waitForFinished(5000)

    # -- output ------------------------------------------------------------------------------------
    def _started(self) -> None:
        self.pid = int(self.process.processId())
        self.started.emit(self.pid)

    def _read_stdout(self) -> None:
        self._stdout += bytes(self.process.readAllStandardOutput().data())
        *lines, self._stdout = self._stdout.split(b"\n")
        for line in lines:
            self._line(line)

    def _line(self, line: bytes) -> None:
        event = events.parse(line)      # None: not a progress line (a library's note): ignored
        if event is not None:
            self.trainerEvent.emit(event)

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError().data()).decode("utf-8", "replace")
        self.stderr.extend(line for line in text.splitlines() if line.strip())
        del self.stderr[:-STDERR_LINES]

    def _error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart and not self._ended:
            self._ended = True
            self.failedToStart.emit(f"Could not start the trainer ({self.process.errorString()}).")

    def _finished(self, code: int, status) -> None:
        if self._ended:
            return
        self._read_stdout()
        if self._stdout.strip():
            self._line(self._stdout)
            self._stdout = b""
        self._read_stderr()
        self._kill_timer.stop()
        self._ended = True
        self.paused = False
        self.ended.emit(int(code), status == QProcess.ExitStatus.CrashExit)

    def failure(self, code: int, crashed: bool) -> str:
        """Why a run that was not stopped ended: from the trainer's error lines, if any."""
        errors = [line for line in self.stderr if line.startswith("clode: error:")]
        exceptions = [line for line in self.stderr if re.match(r"^[\w.]+(Error|Exception)\b", line)]
        if any("out of memory" in line.lower() or "OutOfMemoryError" in line for line in self.stderr):
            return "Training ran out of memory: try a smaller crop size or batch size (Advanced), or the CPU."
        if errors and not crashed:
            return f"Training failed: {errors[-1][len('clode: error:'):].strip()}"
        if exceptions and not crashed:
            return f"Training failed: {exceptions[-1][:300]}"
        how = "was killed or crashed" if crashed else f"ended with exit code {code}"
        return (f"The training process {how} (if the computer ran out of memory, try a smaller "
                "crop size, batch size or the CPU).")
