"""Frames from any source: video files, cameras, URL streams and raw frames on stdin.

:func:`open_frame_source` opens one and yields uint8 RGB frames ``(H, W, 3)`` in
order; :class:`FrameReader` reads it on a thread into a bounded buffer, so that a
slow consumer (the model) never stalls a live source: it drops whole units of
frames instead, and says how many before each chunk it hands out.
"""

import collections
import contextlib
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import cv2
import numpy as np

from mmstda.utils.errors import UserInputError

# The frame rate assumed where one is needed (a video writer, pacing) and the
# source declares none (stdin without --input-fps): the SMG videos' rate.
DEFAULT_FPS = 28.0

_URL = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*://')


class FrameSource:
    """A source of uint8 RGB frames ``(H, W, 3)``, read in order.

    Iterate over it (or call :meth:`read` until it returns None), and close it
    when done; it is a context manager. To feed frames from elsewhere (a
    capture SDK, a network protocol), subclass it and implement ``_read``
    (return the next frame, None at the end) and, if needed, ``_close``.

    Attributes:
        kind (str): What the source was taken for: ``'file'``, ``'camera'``,
            ``'url'`` or ``'stdin'``.
        name (str): A short name for the video id: the file stem, ``camera0``,
            the URL's last path part (else its host), ``stdin``.
        fps (float | None): Native frame rate; None when the source gives none.
        num_frames (int | None): Frames the source declares (files); None when
            unknown or endless.
        is_live (bool): Frames come at the source's own pace and are lost when
            not taken in time: a camera, a URL stream, stdin, or a file paced
            with ``realtime``. A consumer falling behind drops frames of a live
            source and waits for a file.
        num_frames_read (int): Frames returned so far.
    """

    kind = 'source'

    def __init__(
        self, description: str, name: str, fps: float | None, num_frames: int | None, is_live: bool
    ) -> None:
        self.description = description
        self.name = name
        self.fps = fps
        self.num_frames = num_frames
        self.is_live = is_live
        self.num_frames_read = 0
        self.closed = False

    def read(self) -> np.ndarray | None:
        """The next frame, uint8 RGB ``(H, W, 3)``; None at the end of the stream."""
        if self.closed:
            return None
        frame = self._read()
        if frame is not None:
            self.num_frames_read += 1
        return frame

    def _read(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the source (idempotent)."""
        if not self.closed:
            self.closed = True
            self._close()

    def _close(self) -> None:
        pass

    def __iter__(self) -> Iterator[np.ndarray]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> 'FrameSource':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f'<{type(self).__name__} {self.description}>'


class CaptureSource(FrameSource):
    """Frames from ``cv2.VideoCapture``: a file, a camera or a URL stream.

    Args:
        capture (cv2.VideoCapture): An opened capture.
        kind (str): ``'file'``, ``'camera'`` or ``'url'``.
        description (str): The source as the user named it, for messages.
        name (str): Name for the video id.
        realtime (bool): Pace a file at its native rate: frame ``i`` is returned
            no earlier than ``t0 + i / fps`` (``t0``: when frame 0 was read), as
            a camera would deliver it. Defaults to False.
    """

    def __init__(
        self,
        capture: cv2.VideoCapture,
        kind: str,
        description: str,
        name: str,
        realtime: bool = False,
    ) -> None:
        fps = capture.get(cv2.CAP_PROP_FPS)
        fps = float(fps) if fps and np.isfinite(fps) and 0 < fps < 1000 else None
        num_frames = None
        if kind == 'file':
            count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
            num_frames = int(count) if count and np.isfinite(count) and count > 0 else None
        paced = kind == 'file' and realtime
        if paced and fps is None:
            capture.release()
            raise UserInputError(
                f'{description}: the file declares no frame rate, so it cannot be paced in '
                'real time; drop --realtime'
            )
        super().__init__(description, name, fps, num_frames, is_live=kind != 'file' or paced)
        self.kind = kind
        self.capture = capture
        self.paced = paced
        self._t0: float | None = None

    def _read(self) -> np.ndarray | None:
        ok, frame = self.capture.read()
        if not ok or frame is None:
            return None
        if self.paced:
            now = time.perf_counter()
            if self._t0 is None:
                self._t0 = now
            delay = self._t0 + self.num_frames_read / self.fps - now
            if delay > 0:
                time.sleep(delay)
        if frame.ndim == 2:
            return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def _close(self) -> None:
        self.capture.release()


class RawStdinSource(FrameSource):
    """Raw rgb24 frames on a byte stream (what ``ffmpeg -f rawvideo -pix_fmt rgb24 -`` writes).

    Args:
        stream (BinaryIO): The byte stream (``sys.stdin.buffer``).
        width (int): Frame width in pixels.
        height (int): Frame height in pixels.
        fps (float, optional): Frame rate of the stream; None when unknown.
        description (str): The source for messages. Defaults to ``'stdin'``.
    """

    kind = 'stdin'

    def __init__(
        self,
        stream: BinaryIO,
        width: int,
        height: int,
        fps: float | None = None,
        description: str = 'stdin',
    ) -> None:
        super().__init__(description, 'stdin', fps, None, is_live=True)
        self.stream = stream
        self.width, self.height = width, height
        self.frame_bytes = width * height * 3

    def _read(self) -> np.ndarray | None:
        data = bytearray()
        while len(data) < self.frame_bytes:
            part = self.stream.read(self.frame_bytes - len(data))
            if not part:
                break
            data += part
        if not data:
            return None
        if len(data) < self.frame_bytes:
            raise UserInputError(
                f'{self.description}: the stream ended {len(data)} bytes into frame '
                f'{self.num_frames_read} ({self.frame_bytes} bytes per {self.width}x'
                f'{self.height} rgb24 frame): is --input-size right, and is the input raw '
                'rgb24 (ffmpeg ... -f rawvideo -pix_fmt rgb24 -)?'
            )
        return np.frombuffer(bytes(data), np.uint8).reshape(self.height, self.width, 3)


def source_kind(source: str | int) -> str:
    """What ``source`` is taken for: ``'stdin'``, ``'camera'``, ``'url'`` or ``'file'``.

    ``'-'`` is stdin, an int or a string of digits a camera index, ``scheme://...``
    a URL, anything else a file path.
    """
    if isinstance(source, bool):
        raise TypeError(f'source must be a path, URL, camera index or "-", got {source!r}')
    if isinstance(source, int | np.integer):
        return 'camera'
    source = str(source)
    if source == '-':
        return 'stdin'
    if source.isdigit():
        return 'camera'
    if _URL.match(source):
        return 'url'
    return 'file'


def check_source_options(
    source: str | int | os.PathLike,
    *,
    input_size: tuple[int, int] | None = None,
    input_fps: float | None = None,
) -> str:
    """Check a source and the options :func:`open_frame_source` would get, opening nothing.

    Lets a tool fail before it loads a model rather than after.

    Returns:
        str: The source's kind (see :func:`source_kind`).

    Raises:
        FileNotFoundError: A video file that does not exist.
        UserInputError: Stdin without ``input_size``, a bad size or rate, or
            ``input_size`` / ``input_fps`` for a file or a URL (they declare their own).
    """
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    kind = source_kind(source)
    if input_size is not None:
        width, height = input_size
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            raise UserInputError(
                f'--input-size must be WxH in pixels (e.g. 640x480), got {input_size}'
            )
    if input_fps is not None and not input_fps > 0:
        raise UserInputError(f'--input-fps must be > 0, got {input_fps}')
    if kind in ('file', 'url') and (input_size is not None or input_fps is not None):
        flag = '--input-size' if input_size is not None else '--input-fps'
        raise UserInputError(
            f'{flag} is for raw frames on stdin ("-") and cameras; {source} is taken for a '
            f'{"URL stream" if kind == "url" else "video file"}, which declares its own'
        )
    if kind == 'stdin' and input_size is None:
        raise UserInputError(
            'reading raw rgb24 frames from stdin ("-") needs their size: give '
            '--input-size WxH (e.g. --input-size 640x480)'
        )
    if kind == 'file' and not os.path.isfile(source):
        raise FileNotFoundError(
            f'video not found: {source} (taken for a video file; a camera is a number such '
            'as 0, a stream a URL such as rtsp://host/path, stdin "-")'
        )
    return kind


def open_frame_source(
    source: str | int | os.PathLike,
    *,
    input_size: tuple[int, int] | None = None,
    input_fps: float | None = None,
    realtime: bool = False,
) -> FrameSource:
    """Open a video file, a camera, a URL stream or raw frames on stdin.

    Args:
        source (str | int | os.PathLike): A video file; a camera index (an int or a
            string of digits, ``'0'``); a URL (``rtsp://``, ``http(s)://``,
            ``udp://``, ``tcp://``, ``rtmp://``, ..., read by OpenCV's FFmpeg
            backend); or ``'-'``: raw rgb24 frames on stdin.
        input_size (tuple[int, int], optional): ``(width, height)`` of the frames
            on stdin (required there); for a camera, the capture size to ask for.
            Defaults to None.
        input_fps (float, optional): Frame rate of the frames on stdin (None:
            unknown, :data:`DEFAULT_FPS` is taken where a rate is needed); for a
            camera, the rate to ask for. Defaults to None.
        realtime (bool): Pace a file at its native rate, so that it behaves like a
            camera (it then counts as live: frames are dropped when the consumer
            falls behind). No effect on the other sources, which come at their own
            pace. Defaults to False.

    Returns:
        FrameSource: The opened source.

    Raises:
        FileNotFoundError: A video file that does not exist.
        UserInputError: A source that cannot be opened (naming it and what it was
            taken for), stdin without ``input_size``, or options that do not apply
            to the source.
    """
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    kind = check_source_options(source, input_size=input_size, input_fps=input_fps)
    if kind == 'stdin':
        return RawStdinSource(sys.stdin.buffer, *input_size, fps=input_fps)
    if kind == 'camera':
        index = int(source)
        with _quiet_opencv():  # its per-backend warnings: the error below says it all
            capture = cv2.VideoCapture(index)
        if capture.isOpened():
            if input_size is not None:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, input_size[0])
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, input_size[1])
            if input_fps is not None:
                capture.set(cv2.CAP_PROP_FPS, input_fps)
        return _opened(capture, kind, f'camera {index}', f'camera{index}', source, realtime)
    if kind == 'url':
        with _quiet_opencv():
            capture = cv2.VideoCapture(source, cv2.CAP_FFMPEG)
        return _opened(capture, kind, source, _url_name(source), source, realtime)
    with _quiet_opencv():
        capture = cv2.VideoCapture(source)
    stem = os.path.splitext(os.path.basename(source))[0]
    return _opened(capture, kind, source, stem, source, realtime)


def _opened(
    capture: cv2.VideoCapture, kind: str, description: str, name: str, source, realtime: bool
) -> CaptureSource:
    if not capture.isOpened():
        capture.release()
        taken_for = dict(file='a video file', camera='a camera index', url='a URL stream')[kind]
        hint = dict(
            file='is it a video OpenCV can decode?',
            camera='is a camera connected, and is the index right (0 is the first)?',
            url='is the server up, and is the address right?',
        )[kind]
        raise UserInputError(f'cannot open {source!r} (taken for {taken_for}): {hint}')
    return CaptureSource(capture, kind, description, name, realtime=realtime)


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV's own log off (FFmpeg's messages, which name the cause, stay)."""
    logging = getattr(getattr(cv2, 'utils', None), 'logging', None)
    if logging is None:
        yield
        return
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(level)


def _url_name(url: str) -> str:
    rest = url.split('://', 1)[1].split('?', 1)[0]
    parts = [p for p in rest.split('/') if p]
    if len(parts) > 1:  # the last path part, without its suffix: .../live.m3u8 -> live
        name = os.path.splitext(parts[-1])[0] or parts[-1]
    else:  # the host (and port)
        name = parts[0] if parts else 'stream'
    return re.sub(r'[^A-Za-z0-9_.-]+', '_', name)


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
