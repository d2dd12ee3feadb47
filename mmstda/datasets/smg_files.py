"""Readers of the SMG start-kit files and of videos, with errors naming file and row."""

import csv
import json
import math
import os.path as osp
import re

from mmstda.utils.errors import UserInputError


class SMGDataError(UserInputError):
    """Invalid SMG input (annotation, data file or video); names the file and row."""


def probe_video(video_path: str) -> tuple[int, float]:
    """``(num_frames, fps)`` of a video as decord decodes it.

    Raises:
        FileNotFoundError: The file does not exist.
        SMGDataError: decord cannot open the file.
    """
    if not osp.isfile(video_path):
        raise FileNotFoundError(f'{video_path}: video file not found')
    import decord

    try:
        reader = decord.VideoReader(video_path, num_threads=1)
        return len(reader), float(reader.get_avg_fps())
    except Exception as error:  # decord raises its own DECORDError and RuntimeError
        raise SMGDataError(f'{video_path}: cannot decode the video ({error})') from error


def probe_num_frames(video_path: str) -> int:
    """Number of frames decord can decode from a video (see :func:`probe_video`)."""
    return probe_video(video_path)[0]


def first_undecodable_frame(video_path: str, frame_inds) -> tuple[int | None, str] | None:
    """The first of ``frame_inds`` that decord cannot decode, with the reason.

    Returns:
        tuple | None: ``(frame, reason)``, ``(None, reason)`` when the file no longer
        opens, or None when every frame decodes (the failure was not decoding).
    """
    import decord

    try:
        reader = decord.VideoReader(video_path, num_threads=1)
    except Exception as error:
        return None, error_line(error)
    # One frame at a time, in order, from a fresh reader: after a failed batch
    # decord's reader state is unreliable.
    for frame in sorted({int(i) for i in frame_inds}):
        try:
            reader.get_batch([frame])
        except Exception as error:
            return frame, error_line(error)
    return None


def error_line(error: Exception) -> str:
    """The informative line of a decoder error, without decord's source prefix."""
    text = str(error).strip()
    if not text:
        return type(error).__name__
    # decord prefixes its messages with "[hh:mm:ss] /source/file.cc:line: ".
    return re.sub(r'\[[\d:]+\] \S+:\d+: ', '', text.splitlines()[-1])


def as_int(value, where: str) -> int:
    """An integer from an int, an integral float or their string form."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SMGDataError(f'{where}: expected an integer, got {value!r}') from None
    if not number.is_integer():
        raise SMGDataError(f'{where}: expected an integer, got {value!r}')
    return int(number)


def as_fps(value, where: str) -> float:
    """A finite frame rate > 0."""
    try:
        fps = float(value)
    except (TypeError, ValueError):
        raise SMGDataError(f'{where}: expected a number for fps, got {value!r}') from None
    if not math.isfinite(fps) or fps <= 0:
        raise SMGDataError(f'{where}: expected a finite fps > 0, got {value!r}')
    return fps


def _csv_rows(path: str):
    # utf-8-sig drops the byte-order mark that Excel's "CSV UTF-8" writes.
    with open(path, newline='', encoding='utf-8-sig') as f:
        yield from enumerate(csv.reader(f), start=1)


def read_label_csv(path: str) -> list[tuple]:
    """Rows ``(where, label, start_frame, end_frame)``; a malformed row holds its error.

    Raises:
        FileNotFoundError: The file does not exist.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: label file not found')
    rows = []
    for line_no, row in _csv_rows(path):
        if not row or all(not cell.strip() for cell in row):
            continue
        where = f'{path}:{line_no}'
        if len(row) != 3:
            error = SMGDataError(
                f'{where}: expected 3 fields label,start_frame,end_frame, got {row!r}'
            )
            rows.append((where, error))
            continue
        try:
            rows.append((where, *(as_int(cell.strip(), where) for cell in row)))
        except SMGDataError:
            error = SMGDataError(
                f'{where}: expected integers label,start_frame,end_frame, got {row!r}'
            )
            rows.append((where, error))
    return rows


def read_meta_csv(path: str) -> tuple[int, float]:
    """``(numFrames, fps)`` from a ``*_data.csv`` (``numFrames,fps,maxDepth``).

    Raises:
        FileNotFoundError: The file does not exist.
        SMGDataError: No valid data row.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: data file (numFrames,fps,maxDepth) not found')
    rows = [(line_no, row) for line_no, row in _csv_rows(path) if any(c.strip() for c in row)]
    if rows and rows[0][1][0].strip().lower() == 'numframes':
        rows = rows[1:]
    if len(rows) != 1 or len(rows[0][1]) < 2:
        raise SMGDataError(
            f'{path}: expected one row numFrames,fps,maxDepth, got {[r for _, r in rows]!r}'
        )
    line_no, row = rows[0]
    where = f'{path}:{line_no}'
    num_frames = as_int(row[0].strip(), where)
    fps = as_fps(row[1].strip(), where)
    if num_frames < 1:
        raise SMGDataError(f'{where}: expected numFrames >= 1, got {row!r}')
    return num_frames, fps


def read_json(path: str):
    """The content of a JSON file; a syntax error names the file and line."""
    with open(path, encoding='utf-8-sig') as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as error:
            raise SMGDataError(f'{path}: not valid JSON ({error})') from None
