"""Frames from any source: video files, cameras, URL streams and raw frames on stdin.

:func:`open_frame_source` opens one and yields uint8 RGB frames ``(H, W, 3)`` in
order; :class:`~mmstda.apis.frame_reader.FrameReader` reads it on a thread into a
bounded buffer.
"""

import contextlib
import os
import re
import sys
import time
from collections.abc import Iterator
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
