"""Progress of online_infer: a bar for files of known length, a status line for live sources."""

import sys
import time

import numpy as np
from tqdm import tqdm


class LiveProgress:
    """A tqdm bar when the length is known, else a status line on stderr.

    The status line is rewritten in place twice a second on a terminal, and
    printed as a new line every 10 seconds otherwise (a log file).

    Args:
        total (int, optional): Native frames the source declares; None for a
            live source of unknown length.
    """

    def __init__(self, total: int | None) -> None:
        self.start = time.perf_counter()
        self._bar = tqdm(total=total, unit='frame', desc='online inference') if total else None
        self._tty = sys.stderr.isatty()
        self._last = 0.0
        self._width = 0

    def update(self, num_new: int, num_read: int, num_segments: int, num_dropped: int) -> None:
        """After each chunk: native frames new, read so far, segments, frames dropped."""
        fps = num_read / max(time.perf_counter() - self.start, 1e-9)
        if self._bar is not None:
            self._bar.update(num_new)
            self._bar.set_postfix(fps=f'{fps:.1f}', segments=num_segments, dropped=num_dropped)
            return
        now = time.perf_counter()
        if now - self._last < (0.5 if self._tty else 10.0):
            return
        self._last = now
        text = (
            f'live: {num_read} frames  {fps:.1f} fps  {num_segments} segments  '
            f'{num_dropped} dropped'
        )
        if self._tty:
            print('\r' + text.ljust(self._width), end='', file=sys.stderr, flush=True)
            self._width = len(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        """End the bar or the status line."""
        if self._bar is not None:
            self._bar.close()
        elif self._tty and self._width:
            print(file=sys.stderr, flush=True)


def summary_line(
    num_read: int, num_dropped: int, num_segments: int, wall_s: float, latencies: list[int]
) -> str:
    """The run in one line: frames, drops, segments, time, fps and emission latency.

    Args:
        num_read (int): Native frames read from the source (kept and dropped).
        num_dropped (int): Native frames dropped.
        num_segments (int): Segments written.
        wall_s (float): Seconds from the start of reading to the end.
        latencies (list[int]): ``emitted_frame - end_frame`` per segment.
    """
    share = 100.0 * num_dropped / num_read if num_read else 0.0
    fps = num_read / wall_s if wall_s > 0 else 0.0
    if latencies:
        median = float(np.median(latencies))
        p95 = int(np.percentile(latencies, 95, method='higher'))
        latency = f'latency median {median:g} / p95 {p95} frames (emitted - end)'
    else:
        latency = 'latency n/a (no segments)'
    return (
        f'summary: {num_read} frames read, {num_dropped} dropped ({share:.1f}%), '
        f'{num_segments} segments, {wall_s:.1f} s, {fps:.1f} fps, {latency}'
    )
