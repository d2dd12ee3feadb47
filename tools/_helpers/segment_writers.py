"""Segment files written as the segments come: CSV (submission format) or JSON lines.

Each segment is written and flushed the moment it is emitted, so ``tail -f`` on
the file follows a live run.
"""

import csv
import json
import os
import os.path as osp

CSV_HEADER = ['video_id', 'label', 'start_frame', 'end_frame', 'score']
FORMATS = ('csv', 'jsonl')


def format_from_path(path: str) -> str:
    """``'jsonl'`` for a ``.jsonl`` / ``.json`` file, ``'csv'`` for any other."""
    return 'jsonl' if osp.splitext(path)[1].lower() in ('.jsonl', '.json') else 'csv'


class SegmentWriter:
    """Appends segments to a file, one flushed line each.

    CSV: the header ``video_id,label,start_frame,end_frame,score`` first, then
    one row per segment (1-based label, as the submission CSV of
    ``tools/test.py``). JSON lines: one object per segment with ``video_id``,
    ``label`` (1-based), ``label_name``, ``start_frame``, ``end_frame``,
    ``score``, ``emitted_frame`` and ``wall_time`` (seconds since reading
    started).

    Args:
        path (str): File to write (replaced); its folder is created.
        video_id (str): The video id of every row.
        fmt (str, optional): ``'csv'`` or ``'jsonl'``. Defaults to None (from
            the suffix, see :func:`format_from_path`).
    """

    def __init__(self, path: str, video_id: str, fmt: str | None = None) -> None:
        self.path = path
        self.video_id = video_id
        self.fmt = fmt or format_from_path(path)
        if self.fmt not in FORMATS:
            raise ValueError(f'format must be one of {FORMATS}, got {self.fmt!r}')
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        self._file = open(path, 'w', newline='')
        self._csv = csv.writer(self._file) if self.fmt == 'csv' else None
        if self._csv is not None:
            self._csv.writerow(CSV_HEADER)
            self._file.flush()
        self.num_written = 0

    def write(self, segment: dict, wall_time: float) -> None:
        """Write one segment (0-based ``label``, as the recognizer emits it) and flush."""
        if self._csv is not None:
            self._csv.writerow(
                [
                    self.video_id,
                    segment['label'] + 1,
                    segment['start_frame'],
                    segment['end_frame'],
                    f'{segment["score"]:.6f}',
                ]
            )
        else:
            record = dict(
                video_id=self.video_id,
                label=segment['label'] + 1,
                label_name=segment['label_name'],
                start_frame=int(segment['start_frame']),
                end_frame=int(segment['end_frame']),
                score=round(float(segment['score']), 6),
                emitted_frame=int(segment['emitted_frame']),
                wall_time=round(float(wall_time), 4),
            )
            self._file.write(json.dumps(record) + '\n')
        self._file.flush()
        self.num_written += 1

    def close(self) -> None:
        """Close the file (idempotent)."""
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> 'SegmentWriter':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
