"""A reader thread between a frame source and a slow consumer (the model).

:class:`FrameReader` reads a :class:`~mmstda.apis.frame_sources.FrameSource` on a
thread into a bounded buffer, so that a slow consumer never stalls a live source:
it drops whole units of frames instead, and says how many before each chunk it
hands out.
"""

import collections
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .frame_sources import FrameSource


@dataclass
class FrameChunk:
    """Consecutive frames handed out by :meth:`FrameReader.get`.

    Attributes:
        frames (np.ndarray | None): uint8 RGB frames ``(n, H, W, 3)``, consecutive
            in the source; None at the end of the stream.
        num_dropped (int): Native frames dropped just before these frames (at the
            end of the stream: dropped after the last chunk). Pass it to
            ``OnlineRecognizer.skip`` before processing the frames.
        first_frame (int): Native index of the first frame (at the end of the
            stream: the number of native frames read).
    """

    frames: np.ndarray | None
    num_dropped: int
    first_frame: int

    @property
    def end_of_stream(self) -> bool:
        """Whether the stream has ended (no frames)."""
        return self.frames is None


@dataclass
class _Entry:
    frame: np.ndarray
    index: int
    dropped_before: int


class FrameReader:
    """Reads a :class:`FrameSource` on a thread into a bounded buffer.

    When the consumer falls behind and the buffer is full:

    - a live source (``source.is_live``) loses frames in whole units of
      ``drop_frames`` consecutive native frames, aligned to multiples of
      ``drop_frames`` from the stream's start: give the recognizer's clip
      length (``OnlineRecognizer.frames_per_clip``) and the model loses whole
      clips, never random frames inside one. The frames of the unit already
      buffered are taken back out, the rest are skipped as they arrive.
    - any other source (a file) makes the thread wait: nothing is dropped.

    Drops are never hidden: each chunk from :meth:`get` says how many native
    frames were dropped just before it, and ``num_dropped`` / ``num_read``
    count them. An error in the thread (a broken stream) is raised from
    :meth:`get` once the frames read before it have been handed out. Close the
    reader (it is a context manager) to stop the thread; this closes the source.

    Args:
        source (FrameSource): The source; the reader owns it from now on.
        buffer_frames (int): Most frames held; at least ``drop_frames``.
        drop_frames (int): The unit frames are dropped in (>= 1).
        on_drop (Callable[[int], None], optional): Called on the reader thread
            each time a unit starts being dropped, with the native index of its
            first frame. Defaults to None.

    Attributes:
        num_read (int): Native frames read from the source (kept or dropped).
        num_dropped (int): Native frames dropped.
    """

    def __init__(
        self,
        source: FrameSource,
        *,
        buffer_frames: int,
        drop_frames: int,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        try:
            for name, value in (('buffer_frames', buffer_frames), ('drop_frames', drop_frames)):
                if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                    raise ValueError(f'{name} must be an int >= 1, got {value!r}')
            if buffer_frames < drop_frames:
                raise ValueError(
                    f'buffer_frames ({buffer_frames}) must hold at least one drop unit '
                    f'(drop_frames={drop_frames})'
                )
        except ValueError:
            source.close()
            raise
        self.source = source
        self.buffer_frames = int(buffer_frames)
        self.drop_frames = int(drop_frames)
        self.on_drop = on_drop
        self.num_read = 0
        self.num_dropped = 0
        self._buffer: collections.deque[_Entry] = collections.deque()
        self._cond = threading.Condition()
        self._pending_drop = 0  # dropped since the last buffered frame
        self._dropping = 0  # frames of the current unit still to drop
        self._ended = False
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name='FrameReader', daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ reader thread
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                if frame is None:
                    break
                self._offer(frame)
        except BaseException as err:  # handed to the consumer
            with self._cond:
                self._error = err
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()
            if self._stop.is_set():
                # close() gave up waiting for a blocked read: release the source here.
                self.source.close()

    def _offer(self, frame: np.ndarray) -> None:
        started = None
        with self._cond:
            index = self.num_read
            self.num_read += 1
            if self._dropping:
                self._drop_one()
                self._dropping -= 1
                return
            if len(self._buffer) >= self.buffer_frames:
                if self.source.is_live:
                    started = self._start_unit(index)
                else:
                    while len(self._buffer) >= self.buffer_frames and not self._stop.is_set():
                        self._cond.wait(0.1)
            if started is None:
                self._buffer.append(_Entry(frame, index, self._pending_drop))
                self._pending_drop = 0
                self._cond.notify_all()
        if started is not None and self.on_drop is not None:
            self.on_drop(started)

    def _drop_one(self) -> None:
        self._pending_drop += 1
        self.num_dropped += 1

    def _start_unit(self, index: int) -> int:
        """Drop the unit holding frame ``index``: its buffered frames, this one, the rest."""
        offset = index % self.drop_frames
        # The unit's earlier frames are the newest buffered ones: the buffer holds at
        # least one unit, and a unit is dropped whole or not at all.
        for _ in range(offset):
            entry = self._buffer.pop()
            self._pending_drop += entry.dropped_before
            self._drop_one()
        self._drop_one()
        self._dropping = self.drop_frames - offset - 1
        return index - offset

    # ----------------------------------------------------------------- consumer
    def get(self, max_frames: int) -> FrameChunk:
        """The next frames: up to ``max_frames``, as many as are buffered.

        From a live source it waits for one frame; from a file, for ``max_frames``
        (or the end).

        The frames of a chunk are consecutive in the source; a chunk ends where
        frames were dropped, and the next one says how many.

        Args:
            max_frames (int): Most frames to return (>= 1).

        Returns:
            FrameChunk: The frames, or the end of the stream (``frames`` None).

        Raises:
            BaseException: What the reader thread raised, after the frames read
                before it.
        """
        if max_frames < 1:
            raise ValueError(f'max_frames must be >= 1, got {max_frames}')
        # A file waits for a full chunk (nothing is gained by taking less), which keeps
        # its chunks, and so the run, the same from one run to the next.
        wanted = 1 if self.source.is_live else min(max_frames, self.buffer_frames)
        with self._cond:
            while len(self._buffer) < wanted and not self._ended:
                self._cond.wait(0.1)
            if self._buffer:
                first = self._buffer.popleft()
                frames = [first.frame]
                while (
                    self._buffer
                    and len(frames) < max_frames
                    and self._buffer[0].dropped_before == 0
                ):
                    frames.append(self._buffer.popleft().frame)
                self._cond.notify_all()
                return FrameChunk(np.stack(frames), first.dropped_before, first.index)
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            dropped, self._pending_drop = self._pending_drop, 0
            return FrameChunk(None, dropped, self.num_read)

    def __iter__(self) -> Iterator[FrameChunk]:
        """Chunks of up to one ``drop_frames`` unit, then the end-of-stream chunk."""
        while True:
            chunk = self.get(self.drop_frames)
            yield chunk
            if chunk.end_of_stream:
                return

    @property
    def num_buffered(self) -> int:
        """Frames waiting in the buffer."""
        with self._cond:
            return len(self._buffer)

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread and close the source (idempotent).

        Args:
            timeout (float): Seconds to wait for a read in progress (a camera or
                stdin may block); past it the thread, a daemon, closes the source
                once the read returns. Defaults to 2.
        """
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.source.close()

    def __enter__(self) -> 'FrameReader':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
