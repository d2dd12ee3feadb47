"""The live window (``--show``) and the annotated video (``--out-video``) of online_infer."""

import collections
import os
import os.path as osp
import sys

import cv2
import numpy as np
from tqdm import tqdm

from mmstda.utils.errors import UserInputError
from mmstda.visualization import draw_live_overlay

_STOP_KEYS = (ord('q'), ord('Q'), 27)  # q, Esc


def display_missing() -> str | None:
    """Why no window can open here (Linux without X11/Wayland), else None.

    Checked before any window call: Qt aborts the process, rather than raising,
    when it cannot connect to a display.
    """
    if sys.platform.startswith('linux') and not (
        os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')
    ):
        return 'no display (DISPLAY and WAYLAND_DISPLAY are unset)'
    return None


class LiveView:
    """Draws the overlay and sends it to a window and/or an annotated video.

    Args:
        show (bool): Open a window; without a display, warn once and go on
            without it.
        out_video (str, optional): Write the annotated frames to this video
            (``.avi``: MJPG, any other suffix: mp4v) at ``fps``.
        fps (float): Frame rate of the annotated video.
        title (str): Window title.
        num_recent (int): Emitted segments listed on the frame. Defaults to 3.
    """

    def __init__(
        self,
        show: bool,
        out_video: str | None,
        fps: float,
        title: str,
        num_recent: int = 3,
    ) -> None:
        self.show = show
        self.out_video = out_video
        self.fps = fps
        self.title = title
        self.recent: collections.deque[dict] = collections.deque(maxlen=num_recent)
        self.num_written = 0
        self._writer: cv2.VideoWriter | None = None
        self._window = False
        if show:
            reason = display_missing()
            if reason:
                self._warn(reason)
            else:
                self._window = True

    @property
    def active(self) -> bool:
        """Whether frames are drawn at all (a window or a video)."""
        return self._window or self.out_video is not None

    def add_segments(self, segments: list[dict]) -> None:
        """Emitted segments, listed on the next frames (newest first)."""
        for segment in segments:
            self.recent.appendleft(segment)

    def update(self, frames: np.ndarray, ongoing: list[dict], status: str) -> bool:
        """Draw and show/write each frame of a chunk.

        Args:
            frames (np.ndarray): uint8 RGB frames ``(n, H, W, 3)``.
            ongoing (list[dict]): ``OnlineRecognizer.ongoing()``.
            status (str): The status text for the top line.

        Returns:
            bool: False when the user asked to stop (q or Esc in the window, or
            the window closed).
        """
        if not self.active:
            return True
        keep_going = True
        for frame in frames:
            image = draw_live_overlay(frame, ongoing, list(self.recent), status)
            bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
            if self.out_video is not None:
                self._write(bgr)
            if self._window and keep_going:
                keep_going = self._show(bgr)
        return keep_going

    def _write(self, bgr: np.ndarray) -> None:
        if self._writer is None:
            os.makedirs(osp.dirname(osp.abspath(self.out_video)), exist_ok=True)
            codec = 'MJPG' if self.out_video.lower().endswith('.avi') else 'mp4v'
            height, width = bgr.shape[:2]
            self._writer = cv2.VideoWriter(
                self.out_video, cv2.VideoWriter_fourcc(*codec), self.fps, (width, height)
            )
            if not self._writer.isOpened():
                raise UserInputError(
                    f'--out-video: cannot write {self.out_video} (codec {codec}); use a .mp4 '
                    'or .avi file in a writable folder'
                )
        self._writer.write(bgr)
        self.num_written += 1

    def _show(self, bgr: np.ndarray) -> bool:
        try:
            if self._window is True:
                cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
                self._window = 'open'
            cv2.imshow(self.title, bgr)
            key = cv2.waitKey(1) & 0xFF
            if key in _STOP_KEYS:
                return False
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error as err:
            self._window = False
            self._warn(f'the window could not open ({" ".join(str(err).split())[:200]})')
            return True

    def _warn(self, reason: str) -> None:
        # tqdm.write: on its own line, even while a progress bar is drawn.
        tqdm.write(f'WARNING: --show: {reason}; going on without the window', file=sys.stderr)

    def close(self) -> None:
        """Finish the video file and close the window."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._window == 'open':
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:
                pass
            self._window = False
