"""Live overlay: the gestures in progress and the latest segments, drawn on a frame."""

from collections.abc import Sequence

import cv2
import numpy as np

# matplotlib's tab10, RGB: the colours the timeline figures use for labels 0-9.
_PALETTE = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)


def label_colour(label: int) -> tuple[int, int, int]:
    """RGB colour of a 0-based label (cycles after 10 labels)."""
    return _PALETTE[int(label) % len(_PALETTE)]


def draw_live_overlay(
    frame: np.ndarray,
    ongoing: Sequence[dict] = (),
    recent: Sequence[dict] = (),
    status: str = '',
) -> np.ndarray:
    """Draw the recognizer's state on a copy of a frame.

    A frame in the colour of the ongoing gesture, its name and current score
    with a bar (top), the status text (top line) and the latest emitted
    segments, newest first (bottom). Text scales with the frame height.

    Args:
        frame (np.ndarray): uint8 RGB frame ``(H, W, 3)``.
        ongoing (Sequence[dict]): Gestures in progress, as
            ``OnlineRecognizer.ongoing()`` returns them (``label``,
            ``label_name``, ``start_frame``, ``score``, ``current_score``).
        recent (Sequence[dict]): Emitted segments to list, newest first, as
            ``OnlineRecognizer.process()`` returns them (``label``,
            ``label_name``, ``start_frame``, ``end_frame``, ``score``).
        status (str): One line for the top, e.g. the frame number and fps.
            Defaults to ''.

    Returns:
        np.ndarray: The annotated uint8 RGB frame, same shape as ``frame``.
    """
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f'frame must be uint8 RGB (H, W, 3), got {frame.dtype} {frame.shape}')
    out = np.ascontiguousarray(frame).copy()
    height, width = out.shape[:2]
    scale = max(height / 720.0, 0.25)
    thickness = max(1, round(2 * scale))
    line = max(8, round(28 * scale))
    margin = max(2, round(8 * scale))

    y = margin + line
    if status:
        _text(out, status, (margin, y), scale, (255, 255, 255), thickness)
        y += line
    for gesture in ongoing:
        colour = label_colour(gesture['label'])
        border = max(2, round(6 * scale))
        cv2.rectangle(out, (0, 0), (width - 1, height - 1), colour, border)
        current = float(gesture.get('current_score', gesture.get('score', 0.0)))
        text = f'{gesture["label_name"]} {current:.2f} (since {gesture["start_frame"]})'
        _text(out, text, (margin, y), scale, colour, thickness)
        bar_w = round((width - 2 * margin) * min(max(current, 0.0), 1.0))
        bar_top = y + max(1, round(4 * scale))
        cv2.rectangle(
            out, (margin, bar_top), (margin + bar_w, bar_top + max(2, round(6 * scale))), colour, -1
        )
        y += line + max(3, round(10 * scale))
    y = height - margin
    for segment in recent:
        text = (
            f'{segment["label_name"]} {segment["start_frame"]}-{segment["end_frame"]} '
            f'{segment["score"]:.2f}'
        )
        _text(out, text, (margin, y), scale, label_colour(segment['label']), thickness)
        y -= line
        if y < line:
            break
    return out


def _text(image, text, origin, scale, colour, thickness) -> None:
    """Text on a dark box, readable on any background."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    (w, h), baseline = cv2.getTextSize(text, font, scale, thickness)
    x, y = origin
    pad = max(1, thickness)
    cv2.rectangle(image, (x - pad, y - h - pad), (x + w + pad, y + baseline), (0, 0, 0), -1)
    cv2.putText(image, text, origin, font, scale, colour, thickness, cv2.LINE_AA)
