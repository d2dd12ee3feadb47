"""SMG micro-gesture dataset: long untrimmed videos served as fixed-length windows."""

import csv
import json
import math
import os.path as osp
import warnings
from collections.abc import Sequence

import numpy as np
from mmaction.registry import DATASETS, TRANSFORMS
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from .smg_meta import SMG_CHALLENGE_SPLITS, SMG_CLASSES, SMG_FPS

DEFAULT_FILE_PATTERNS = dict(
    # ``{sample_id}`` is the integer id from the split; the other patterns may use
    # ``{folder}`` (the formatted folder name) as well.
    folder='Sample{sample_id:04d}',
    labels='{folder}/{folder}_finelabels.csv',
    meta='{folder}/{folder}_data.csv',
    video='{folder}/{folder}_color.mp4',
)


class SMGDataWarning(UserWarning):
    """Warning about SMG input that was clipped or skipped."""


def probe_num_frames(video_path: str) -> int:
    """Number of frames decord can decode from a video.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: decord cannot open the file.
    """
    if not osp.isfile(video_path):
        raise FileNotFoundError(f'{video_path}: video file not found')
    import decord

    try:
        return len(decord.VideoReader(video_path, num_threads=1))
    except Exception as error:  # decord raises its own DECORDError and RuntimeError
        raise ValueError(f'{video_path}: cannot decode the video ({error})') from error


@DATASETS.register_module()
class SMGDataset(BaseDataset):
    """SMG-style micro-gesture dataset of long videos cut into windows.

    Two input formats:

    * the SMG start-kit layout (``ann_file`` empty): under ``data_root`` one folder
      per sample with ``*_finelabels.csv`` (rows ``label,start_frame,end_frame``,
      label 1-based, no header), ``*_data.csv`` (``numFrames,fps,maxDepth``, an
      optional header line is accepted) and the RGB video. File names follow
      ``file_patterns``.
    * a JSON annotation file (``ann_file``) in mmengine's format::

        {"metainfo": {"classes": ["name of label 1", ...]},      # optional
         "data_list": [
            {"video_id": "Sample0031",
             "filename": "Sample0031/Sample0031_color.mp4",     # relative to the video prefix
             "num_frames": 25000,                               # optional, like numFrames
             "fps": 28.0,                                       # optional, defaults to 28
             "annotations": [{"label": 1, "start_frame": 10, "end_frame": 60}, ...]},
            ...]}

      Labels are 1-based, as in the CSV files. ``tools/data/smg_to_json.py`` writes
      this file from the start-kit layout.

    Frames are native frame indices of the video; a segment is the interval
    ``[start_frame, end_frame]`` (the start-kit F1 uses the same numbers).

    Each item is one window of ``window_frames`` frames taken every
    ``frame_interval`` native frames (spanning ``window_frames * frame_interval``
    native frames). In test mode the windows tile every video with
    ``test_overlap_ratio`` overlap and carry ``window_start_frame``; in training the
    item only names the video and a sampler transform (``SampleMGWindow``) picks the
    position, so every epoch sees new windows.

    Args:
        data_root (str): Root of the dataset. Defaults to ''.
        ann_file (str): JSON annotation file; empty reads the start-kit layout.
            Defaults to ''.
        data_prefix (dict): ``video``: folder the video paths are relative to (joined
            with ``data_root`` when relative). Defaults to ``dict(video='')``.
        split (str, optional): ``'train'``, ``'val'`` or ``'test'``: take the sample
            ids of that split from ``split_file`` when given, else the challenge split
            (train 1-30, val 31-35, test 36-40). None with a JSON file takes every
            video. Defaults to 'train'.
        split_file (str): JSON file (relative to ``data_root``) holding
            ``{"splits": {"train": [ids], ...}}`` or ``{"train": [ids], ...}``, such as
            the ``synthetic_smg.json`` of the synthetic generator. Defaults to ''.
        sample_ids (Sequence[int | str], optional): Explicit sample ids; overrides
            ``split``. Integers are formatted with ``file_patterns['folder']``, strings
            are used as folder names / video ids. Defaults to None.
        classes (Sequence[str], optional): Class names; label ``i`` in the files is
            ``classes[i - 1]``. Defaults to the 17 SMG classes (or those of the JSON).
        ignore_labels (Sequence[int]): 1-based labels whose rows are dropped and whose
            classes are removed (e.g. ``(17,)`` for MG-only). Defaults to ().
        file_patterns (dict, optional): Overrides of ``DEFAULT_FILE_PATTERNS``.
            Defaults to None.
        window_frames (int): Frames per window after sub-sampling (T). Defaults to 16.
        frame_interval (int): Native frames between consecutive window frames.
            Defaults to 1.
        test_overlap_ratio (float): Overlap of consecutive test windows, in [0, 1).
            Defaults to 0.5.
        windows_per_video (int, optional): Training items per video and epoch. None
            gives ``ceil(total_frames / window span)``, so longer videos get more.
            Defaults to None.
        skip_invalid (bool): Skip invalid rows and videos with one warning each (plus
            a count) instead of raising. Defaults to False.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset` (``pipeline``,
            ``test_mode``, ``lazy_init``, ...).
    """

    METAINFO = dict(classes=SMG_CLASSES)

    def __init__(
        self,
        data_root: str = '',
        ann_file: str = '',
        data_prefix: dict | None = None,
        split: str | None = 'train',
        split_file: str = '',
        sample_ids: Sequence[int | str] | None = None,
        classes: Sequence[str] | None = None,
        ignore_labels: Sequence[int] = (),
        file_patterns: dict | None = None,
        window_frames: int = 16,
        frame_interval: int = 1,
        test_overlap_ratio: float = 0.5,
        windows_per_video: int | None = None,
        skip_invalid: bool = False,
        **kwargs,
    ) -> None:
        if window_frames < 1 or frame_interval < 1:
            raise ValueError(
                f'window_frames and frame_interval must be >= 1, got {window_frames} and '
                f'{frame_interval}'
            )
        if not 0 <= test_overlap_ratio < 1:
            raise ValueError(f'test_overlap_ratio must be in [0, 1), got {test_overlap_ratio}')
        if windows_per_video is not None and windows_per_video < 1:
            raise ValueError(f'windows_per_video must be >= 1, got {windows_per_video}')
        unknown = set(file_patterns or {}) - set(DEFAULT_FILE_PATTERNS)
        if unknown:
            raise ValueError(
                f'unknown file_patterns keys {sorted(unknown)}; expected some of '
                f'{sorted(DEFAULT_FILE_PATTERNS)}'
            )
        self.split = split
        self.split_file = split_file
        self.sample_ids = None if sample_ids is None else list(sample_ids)
        self.all_classes = None if classes is None else tuple(classes)
        self.ignore_labels = tuple(int(label) for label in ignore_labels)
        self.file_patterns = {**DEFAULT_FILE_PATTERNS, **(file_patterns or {})}
        self.window_frames = int(window_frames)
        self.frame_interval = int(frame_interval)
        self.test_overlap_ratio = float(test_overlap_ratio)
        self.windows_per_video = windows_per_video
        self.skip_invalid = skip_invalid
        self.num_skipped = 0
        self.videos: list[dict] = []
        self._class_counts: list[int] = []
        # Build the steps from mmaction's registry so the dataset also works outside a
        # runner, where no default scope points mmengine's Compose at mmaction.
        kwargs['pipeline'] = [
            TRANSFORMS.build(step) if isinstance(step, dict) else step
            for step in kwargs.get('pipeline', [])
        ]
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix or dict(video=''),
            **kwargs,
        )

    @property
    def window_span_frames(self) -> int:
        """Native frames covered by one window."""
        return self.window_frames * self.frame_interval

    @property
    def class_counts(self) -> list[int]:
        """Per-class instance counts of this split (training counts for the train set)."""
        return list(self._class_counts)

    def full_init(self) -> None:
        """Load the annotations, then hand the class counts to the pipeline."""
        if self._fully_initialized:
            return
        super().full_init()
        for transform in _iter_transforms(self.pipeline.transforms):
            if hasattr(transform, 'set_class_counts'):
                transform.set_class_counts(self.class_counts)

    # ------------------------------------------------------------------ loading
    def load_data_list(self) -> list[dict]:
        """Read, validate and window every video of the split."""
        self.num_skipped = 0
        if self.ann_file:
            records, file_classes = self._read_json()
        else:
            records, file_classes = self._read_start_kit(), None
        all_classes = self.all_classes or file_classes or SMG_CLASSES
        if self.all_classes and file_classes and tuple(file_classes) != self.all_classes:
            raise ValueError(
                f'{self.ann_file}: metainfo.classes differ from the classes in the config'
            )
        bad_ignored = [i for i in self.ignore_labels if not 1 <= i <= len(all_classes)]
        if bad_ignored:
            raise ValueError(
                f'ignore_labels {bad_ignored} are not labels: expected 1..{len(all_classes)}'
            )
        kept_labels = [i for i in range(1, len(all_classes) + 1) if i not in self.ignore_labels]
        self._metainfo['classes'] = tuple(all_classes[i - 1] for i in kept_labels)
        label_to_index = {label: index for index, label in enumerate(kept_labels)}

        self.videos = []
        num_ignored = 0
        for record in records:
            video = self._validate(record, len(all_classes), label_to_index)
            if video is None:
                continue
            num_ignored += video.pop('num_ignored')
            self.videos.append(video)
        if self.num_skipped:
            warnings.warn(
                f'SMGDataset skipped {self.num_skipped} invalid item(s) (rows or videos); '
                'each is named in a warning above',
                SMGDataWarning,
                stacklevel=2,
            )
        if num_ignored:
            print_log(
                f'SMGDataset: dropped {num_ignored} rows with ignore_labels={self.ignore_labels}',
                logger='current',
            )
        if not self.videos:
            raise ValueError(
                f'empty split: no valid video for split={self.split!r}, '
                f'sample_ids={self._requested_ids()} under {self.data_root or self.ann_file!r}'
            )
        counts = np.zeros(len(kept_labels), dtype=np.int64)
        for video in self.videos:
            counts += np.bincount(video['video_gt_labels'], minlength=len(kept_labels))
        self._class_counts = counts.tolist()
        return self._windows()

    def _requested_ids(self) -> list | None:
        if self.sample_ids is not None:
            return self.sample_ids
        if self.split is None:
            return None
        if self.split_file:
            path = self.split_file
            if not osp.isabs(path) and self.data_root:
                path = osp.join(self.data_root, path)
            with open(path) as f:
                content = json.load(f)
            splits = content.get('splits', content)
            if self.split not in splits:
                raise ValueError(
                    f'{path}: no split {self.split!r}; expected one of {sorted(splits)}'
                )
            return list(splits[self.split])
        if self.split not in SMG_CHALLENGE_SPLITS:
            raise ValueError(
                f'unknown split {self.split!r}: expected one of {sorted(SMG_CHALLENGE_SPLITS)} '
                'or explicit sample_ids'
            )
        return list(SMG_CHALLENGE_SPLITS[self.split])

    def _folder_name(self, sample_id: int | str) -> str:
        if isinstance(sample_id, str):
            return sample_id
        return self.file_patterns['folder'].format(sample_id=int(sample_id))

    def _read_start_kit(self) -> list[dict]:
        ids = self._requested_ids()
        if ids is None:
            raise ValueError('the start-kit layout needs split or sample_ids')
        records = []
        for sample_id in ids:
            folder = self._folder_name(sample_id)
            names = {
                key: self.file_patterns[key].format(folder=folder, sample_id=sample_id)
                for key in ('labels', 'meta', 'video')
            }
            labels_path = osp.join(self.data_root, names['labels'])
            meta_path = osp.join(self.data_root, names['meta'])
            try:
                num_frames, fps = _read_meta_csv(meta_path)
                rows = _read_label_csv(labels_path)
            except (OSError, ValueError) as error:
                self._invalid(error)
                continue
            records.append(
                dict(
                    video_id=folder,
                    filename=osp.join(self.data_prefix['video'], names['video']),
                    num_frames=num_frames,
                    fps=fps,
                    rows=rows,
                    source=labels_path,
                )
            )
        return records

    def _read_json(self) -> tuple[list[dict], tuple | None]:
        with open(self.ann_file) as f:
            content = json.load(f)
        if not isinstance(content, dict) or not isinstance(content.get('data_list'), list):
            raise ValueError(f'{self.ann_file}: expected a JSON object with a "data_list" list')
        classes = content.get('metainfo', {}).get('classes')
        wanted = self._requested_ids()
        wanted = None if wanted is None else {self._folder_name(i) for i in wanted}
        records, found = [], set()
        for index, entry in enumerate(content['data_list']):
            where = f'{self.ann_file}: data_list[{index}]'
            missing = [k for k in ('video_id', 'filename', 'annotations') if k not in entry]
            if missing:
                self._invalid(ValueError(f'{where}: missing keys {missing}'))
                continue
            if wanted is not None and entry['video_id'] not in wanted:
                continue
            found.add(entry['video_id'])
            rows = []
            for row_index, ann in enumerate(entry['annotations']):
                row_where = f'{where}.annotations[{row_index}]'
                try:
                    values = [ann[k] for k in ('label', 'start_frame', 'end_frame')]
                    rows.append((row_where, *(_as_int(v, row_where) for v in values)))
                except (KeyError, TypeError, ValueError):
                    rows.append(
                        (
                            row_where,
                            ValueError(
                                f'{row_where}: expected integer "label", '
                                f'"start_frame", "end_frame", got {ann!r}'
                            ),
                        )
                    )
            num_frames = entry.get('num_frames')
            records.append(
                dict(
                    video_id=entry['video_id'],
                    filename=osp.join(self.data_prefix['video'], entry['filename']),
                    num_frames=None if num_frames is None else _as_int(num_frames, where),
                    fps=float(entry.get('fps', SMG_FPS)),
                    rows=rows,
                    source=where,
                )
            )
        for video_id in sorted((wanted or set()) - found):
            self._invalid(
                ValueError(f'{self.ann_file}: no entry with video_id {video_id!r} in data_list')
            )
        return records, None if classes is None else tuple(classes)

    def _validate(self, record: dict, num_labels: int, label_to_index: dict) -> dict | None:
        """Check one video against its annotations; None when it is skipped."""
        try:
            decoded_frames = probe_num_frames(record['filename'])
        except (OSError, ValueError) as error:
            self._invalid(error)
            return None
        total_frames = decoded_frames
        declared = record['num_frames']
        if declared is not None and decoded_frames < declared:
            warnings.warn(
                f'{record["filename"]}: decodes to {decoded_frames} frames but '
                f'{declared} are declared ({record["source"]}); clipping to {decoded_frames}',
                SMGDataWarning,
                stacklevel=2,
            )
        limit = declared if declared is not None else decoded_frames
        segments, labels, num_ignored = [], [], 0
        for row in record['rows']:
            where = row[0]
            if isinstance(row[1], Exception):
                self._invalid(row[1])
                continue
            label, start, end = row[1:]
            problem = None
            if not 1 <= label <= num_labels:
                problem = f'unknown label {label}, expected 1..{num_labels}'
            elif start > end:
                problem = f'start_frame {start} > end_frame {end}, expected start < end'
            elif start == end:
                problem = f'empty segment start_frame == end_frame == {start}'
            elif start < 0 or end > limit:
                problem = f'segment [{start}, {end}] out of range, expected 0 <= frame <= {limit}'
            elif end > total_frames:
                problem = (
                    f'video {record["filename"]} is shorter than its annotations: it decodes '
                    f'to {total_frames} frames, expected at least end_frame {end}'
                )
            if problem is not None:
                self._invalid(ValueError(f'{where}: {problem}'))
                continue
            if label in self.ignore_labels:
                num_ignored += 1
                continue
            segments.append((start, end))
            labels.append(label_to_index[label])
        return dict(
            video_id=record['video_id'],
            filename=record['filename'],
            total_frames=int(total_frames),
            fps=float(record['fps']),
            video_gt_segments=np.asarray(segments, dtype=np.float32).reshape(-1, 2),
            video_gt_labels=np.asarray(labels, dtype=np.int64),
            num_ignored=num_ignored,
        )

    def _invalid(self, error: Exception) -> None:
        """Raise ``error`` (fail fast) or, with ``skip_invalid``, warn and count it."""
        if not self.skip_invalid:
            raise error
        self.num_skipped += 1
        warnings.warn(f'skipped: {error}', SMGDataWarning, stacklevel=3)

    # ---------------------------------------------------------------- windowing
    def test_window_starts(self, total_frames: int) -> list[int]:
        """Start frames of the test windows that tile ``[0, total_frames)``.

        Consecutive windows overlap by ``test_overlap_ratio``; the last one is aligned
        to the end of the video, so every frame is covered.
        """
        span = self.window_span_frames
        stride = max(1, int(round(span * (1 - self.test_overlap_ratio))))
        last = max(0, total_frames - span)
        starts = list(range(0, last + 1, stride))
        if starts[-1] != last:
            starts.append(last)
        return starts

    def _windows(self) -> list[dict]:
        data_list = []
        for video in self.videos:
            info = dict(
                video,
                window_frames=self.window_frames,
                frame_interval=self.frame_interval,
            )
            if self.test_mode:
                for start in self.test_window_starts(video['total_frames']):
                    data_list.append(dict(info, window_start_frame=start))
            else:
                count = self.windows_per_video or math.ceil(
                    video['total_frames'] / self.window_span_frames
                )
                data_list.extend(dict(info, window_start_frame=None) for _ in range(count))
        return data_list


def _iter_transforms(transforms):
    """Every transform, including those nested in wrappers such as ``RandomApply``."""
    for transform in transforms:
        yield transform
        nested = getattr(transform, 'transforms', None)
        if isinstance(nested, list | tuple):
            yield from _iter_transforms(nested)


def _as_int(value, where: str) -> int:
    """An integer from an int, an integral float or their string form."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{where}: expected an integer, got {value!r}') from None
    if not number.is_integer():
        raise ValueError(f'{where}: expected an integer, got {value!r}')
    return int(number)


def _read_label_csv(path: str) -> list[tuple]:
    """Rows ``(where, label, start_frame, end_frame)``; a malformed row holds its error.

    Raises:
        FileNotFoundError: The file does not exist.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: label file not found')
    rows = []
    with open(path, newline='') as f:
        for line_no, row in enumerate(csv.reader(f), start=1):
            if not row or all(not cell.strip() for cell in row):
                continue
            where = f'{path}:{line_no}'
            if len(row) != 3:
                error = ValueError(
                    f'{where}: expected 3 fields label,start_frame,end_frame, got {row!r}'
                )
                rows.append((where, error))
                continue
            try:
                rows.append((where, *(_as_int(cell.strip(), where) for cell in row)))
            except ValueError:
                error = ValueError(
                    f'{where}: expected integers label,start_frame,end_frame, got {row!r}'
                )
                rows.append((where, error))
    return rows


def _read_meta_csv(path: str) -> tuple[int, float]:
    """``(numFrames, fps)`` from a ``*_data.csv`` (``numFrames,fps,maxDepth``).

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: No valid data row.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: data file (numFrames,fps,maxDepth) not found')
    with open(path, newline='') as f:
        rows = [
            (line_no, row)
            for line_no, row in enumerate(csv.reader(f), start=1)
            if row and any(cell.strip() for cell in row)
        ]
    if rows and rows[0][1][0].strip().lower() == 'numframes':
        rows = rows[1:]
    if len(rows) != 1 or len(rows[0][1]) < 2:
        raise ValueError(
            f'{path}: expected one row numFrames,fps,maxDepth, got {[r for _, r in rows]!r}'
        )
    line_no, row = rows[0]
    where = f'{path}:{line_no}'
    num_frames = _as_int(row[0].strip(), where)
    try:
        fps = float(row[1])
    except ValueError:
        raise ValueError(f'{where}: expected a number for fps, got {row[1]!r}') from None
    if num_frames < 1 or fps <= 0:
        raise ValueError(f'{where}: expected numFrames >= 1 and fps > 0, got {row!r}')
    return num_frames, fps
