"""Resident memory of this process or another, read from /proc (Linux) and getrusage."""

from __future__ import annotations

import resource
import threading

MB = 1024 * 1024


def _status_mb(field: str, pid: int | str = "self") -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return None


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size now, in MiB (0 when the process is gone)."""
    return _status_mb("VmRSS", pid) or 0.0


def reset_peak_rss() -> bool:
    """Start the peak (VmHWM) afresh, so a peak belongs to one phase (Linux 4.0 and later)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Highest RSS of this process's own memory since start or reset (VmHWM).

    Falls back to ru_maxrss where /proc is missing.
    """
    high_water = _status_mb("VmHWM")
    return high_water if high_water is not None else ru_maxrss_mb()


def ru_maxrss_mb() -> float:
    """getrusage's peak RSS (KiB on Linux). In a spawned child it also counts the parent's
    RSS at fork, which Linux carries across exec, so it overstates the child's own peak."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssWatcher:
    """Samples another process's RSS in a thread, to report the server's peak during a phase."""

    def __init__(self, pid: int | None, interval: float = 0.5):
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.first_mb = 0.0
        self.peak_mb = 0.0
        self.last_mb = 0.0

    def _sample(self) -> None:
        self.last_mb = rss_mb(self._pid) if self._pid else 0.0
        self.peak_mb = max(self.peak_mb, self.last_mb)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> RssWatcher:
        if self._pid:
            self._sample()
            self.first_mb = self.last_mb
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._sample()
