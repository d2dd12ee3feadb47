"""Ctrl-C that stops a live run between two steps, never inside one."""

import contextlib
import signal
import threading
from collections.abc import Iterator


class GracefulInterrupt:
    """Turns the first Ctrl-C into a request to stop; the second one stops at once.

    Outside :meth:`step` (waiting for frames) the first Ctrl-C raises
    ``KeyboardInterrupt`` as usual; inside it (the model running), it only sets
    ``requested``, so that the step ends with consistent state and the caller
    stops after it. Active inside ``with`` on the main thread only (elsewhere
    Ctrl-C keeps Python's default).
    """

    def __init__(self) -> None:
        self.requested = False
        self._in_step = False
        self._previous = None

    def _handler(self, signum, frame) -> None:
        if self.requested or not self._in_step:
            self.requested = True
            raise KeyboardInterrupt
        self.requested = True

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """A stretch that Ctrl-C does not cut (the second Ctrl-C still does)."""
        self._in_step = True
        try:
            yield
        finally:
            self._in_step = False

    def __enter__(self) -> 'GracefulInterrupt':
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
