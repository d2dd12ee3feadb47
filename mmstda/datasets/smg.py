"""SMG micro-gesture dataset: long untrimmed videos served as fixed-length windows."""

import math
import os.path as osp
import warnings
from collections.abc import Sequence

import numpy as np
from mmaction.registry import DATASETS, TRANSFORMS
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from .sample_rng import SharedSampleSeed, seeded_global_rngs
from .smg_files import (
    SMGDataError,
    as_fps,
    as_int,
    error_line,
    first_undecodable_frame,
    probe_num_frames,  # noqa: F401  (public, re-exported)
    probe_video,
    read_json,
    read_label_csv,
    read_meta_csv,
)
from .smg_meta import SMG_CHALLENGE_SPLITS, SMG_CLASSES

# Modules whose exceptions are decoding failures (decord, PyAV).
DECODER_MODULES = ('decord', 'av')
# Tries of a window whose decoder fails. decord's decoder thread reads ahead: under
# load it can reach a damaged part of a file before the frames asked for are out,
# and fail a window that decodes (measured here: 11 of 30 tries of frames 0-15 of a
# file damaged from frame 71, at load 3.3). The same window, with the same random
# draws, is tried again; one that fails every time is reported.
DECODE_ATTEMPTS = 5

# Largest relative difference between the frame rate a video decodes at and the
# one its annotations declare (container rates are rounded, e.g. 27.97 for 28).
FPS_TOLERANCE = 0.01

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
             "fps": 28.0,                                       # optional, like fps
             "annotations": [{"label": 1, "start_frame": 10, "end_frame": 60}, ...]},
            ...]}

      Labels are 1-based, as in the CSV files. ``num_frames`` and ``fps`` are
      checked against the video when given (without ``fps`` the video's own rate is
      used). ``tools/data/smg_to_json.py`` writes this file from the start-kit
      layout.

    **Frame numbering.** Frames are 0-based native frame indices of the video (as
    decoded, at the declared ``fps``). A segment covers frames
    ``start_frame <= t < end_frame``: ``end_frame`` is exclusive, so it may equal
    ``numFrames``, and the length is ``end_frame - start_frame``. The start-kit F1
    uses the same two numbers (tIoU without +1).

    **Checks.** A video must decode at the declared fps (within 1%), else the
    labels would point at the wrong time. A video that decodes to fewer frames
    than declared is clipped to what decodes, one that decodes to more is used up
    to the declared count; both with a warning. Rows must be in range, with a
    known label, ``start_frame < end_frame``, and not repeat an earlier row (one
    prediction would be credited twice). A labels file without rows is accepted
    with a warning (a gesture-free video); with ``skip_invalid``, a video whose
    rows were all rejected is skipped, not kept as gesture-free.

    **Randomness.** When :class:`RandomStateHook` hands the dataset the run's
    seed and epoch (every epoch, before it starts), each sample's pipeline runs on
    generators seeded from ``(seed, epoch, index)``, so augmentation does not
    depend on the dataloader worker or on what it loaded before (exact resume
    with any ``num_workers``).

    **Decoding failures** mid-run (a file damaged past the load-time probe) raise
    an error naming the file and the first frame that does not decode. With
    ``skip_invalid`` a training window is replaced by another one (chosen from the
    same seeded stream) with a warning and a count; a test window is never
    skipped, since its frames would go unscored.

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
        skip_invalid (bool): Skip invalid rows and videos (and training windows whose
            frames do not decode) with one warning each (plus a count) instead of
            raising. Defaults to False.
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
            raise SMGDataError(
                f'window_frames and frame_interval must be >= 1, got {window_frames} and '
                f'{frame_interval}'
            )
        if not 0 <= test_overlap_ratio < 1:
            raise SMGDataError(f'test_overlap_ratio must be in [0, 1), got {test_overlap_ratio}')
        if windows_per_video is not None and windows_per_video < 1:
            raise SMGDataError(f'windows_per_video must be >= 1, got {windows_per_video}')
        unknown = set(file_patterns or {}) - set(DEFAULT_FILE_PATTERNS)
        if unknown:
            raise SMGDataError(
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
        self.sample_seed = SharedSampleSeed()
        self._replacement_index: int | None = None
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
            raise SMGDataError(
                f'{self.ann_file}: metainfo.classes differ from the classes in the config'
            )
        bad_ignored = [i for i in self.ignore_labels if not 1 <= i <= len(all_classes)]
        if bad_ignored:
            raise SMGDataError(
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
            raise SMGDataError(
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
            content = read_json(path)
            splits = content.get('splits', content) if isinstance(content, dict) else None
            if not isinstance(splits, dict) or self.split not in splits:
                found = sorted(splits) if isinstance(splits, dict) else splits
                raise SMGDataError(
                    f'{path}: no split {self.split!r}; expected {{"splits": '
                    f'{{"{self.split}": [ids], ...}}}}, found {found!r}'
                )
            return list(splits[self.split])
        if self.split not in SMG_CHALLENGE_SPLITS:
            raise SMGDataError(
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
            raise SMGDataError('the start-kit layout needs split or sample_ids')
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
                num_frames, fps = read_meta_csv(meta_path)
                rows = read_label_csv(labels_path)
            except (OSError, SMGDataError) as error:
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
                    meta_source=meta_path,
                )
            )
        return records

    def _read_json(self) -> tuple[list[dict], tuple | None]:
        content = read_json(self.ann_file)
        if not isinstance(content, dict) or not isinstance(content.get('data_list'), list):
            raise SMGDataError(f'{self.ann_file}: expected a JSON object with a "data_list" list')
        classes = (content.get('metainfo') or {}).get('classes')
        wanted = self._requested_ids()
        wanted = None if wanted is None else {self._folder_name(i) for i in wanted}
        records, found = [], set()
        for index, entry in enumerate(content['data_list']):
            where = f'{self.ann_file}: data_list[{index}]'
            try:
                record = self._json_record(entry, where)
            except SMGDataError as error:
                self._invalid(error)
                continue
            if wanted is not None and record['video_id'] not in wanted:
                continue
            found.add(record['video_id'])
            records.append(record)
        for video_id in sorted((wanted or set()) - found):
            self._invalid(
                SMGDataError(f'{self.ann_file}: no entry with video_id {video_id!r} in data_list')
            )
        return records, None if classes is None else tuple(classes)

    def _json_record(self, entry, where: str) -> dict:
        """One ``data_list`` entry as a record like :meth:`_read_start_kit` makes."""
        if not isinstance(entry, dict):
            raise SMGDataError(f'{where}: expected an object, got {entry!r}')
        missing = [k for k in ('video_id', 'filename', 'annotations') if k not in entry]
        if missing:
            raise SMGDataError(f'{where}: missing keys {missing}')
        if not isinstance(entry['annotations'], list):
            raise SMGDataError(
                f'{where}.annotations: expected a list (possibly empty), got '
                f'{entry["annotations"]!r}'
            )
        rows = []
        for row_index, ann in enumerate(entry['annotations']):
            row_where = f'{where}.annotations[{row_index}]'
            try:
                values = [ann[k] for k in ('label', 'start_frame', 'end_frame')]
                rows.append((row_where, *(as_int(v, row_where) for v in values)))
            except (KeyError, TypeError, SMGDataError):
                error = SMGDataError(
                    f'{row_where}: expected integer "label", "start_frame", "end_frame", '
                    f'got {ann!r}'
                )
                rows.append((row_where, error))
        num_frames = entry.get('num_frames')
        return dict(
            video_id=entry['video_id'],
            filename=osp.join(self.data_prefix['video'], entry['filename']),
            num_frames=None if num_frames is None else as_int(num_frames, f'{where}.num_frames'),
            # Only a declared rate is checked against the video.
            fps=None if entry.get('fps') is None else as_fps(entry['fps'], f'{where}.fps'),
            rows=rows,
            source=where,
            meta_source=where,
        )

    def _validate(self, record: dict, num_labels: int, label_to_index: dict) -> dict | None:
        """Check one video against its annotations; None when it is skipped."""
        try:
            decoded_frames, decoded_fps = probe_video(record['filename'])
            total_frames = self._check_video(record, decoded_frames, decoded_fps)
        except (OSError, SMGDataError) as error:
            self._invalid(error)
            return None
        declared = record['num_frames']
        limit = declared if declared is not None else decoded_frames
        segments, labels, num_ignored, seen = [], [], 0, {}
        for row in record['rows']:
            where = row[0]
            if isinstance(row[1], Exception):
                self._invalid(row[1])
                continue
            problem = self._row_problem(row[1:], num_labels, limit, total_frames, record)
            if problem is None and row[1:] in seen:
                label, start, end = row[1:]
                problem = (
                    f'duplicate of {seen[row[1:]]} (label {label}, frames {start}-{end}); '
                    'list each gesture once (the F1 would credit one prediction twice)'
                )
            if problem is not None:
                self._invalid(SMGDataError(f'{where}: {problem}'))
                continue
            seen[row[1:]] = where
            label, start, end = row[1:]
            if label in self.ignore_labels:
                num_ignored += 1
                continue
            segments.append((start, end))
            labels.append(label_to_index[label])
        if not record['rows']:
            warnings.warn(
                f'{record["source"]}: no gesture rows; {record["video_id"]} is used as a '
                'gesture-free video',
                SMGDataWarning,
                stacklevel=2,
            )
        elif not seen:
            # Reached only with skip_invalid: without it the first bad row raised.
            self._invalid(
                SMGDataError(
                    f'{record["source"]}: all {len(record["rows"])} rows are invalid; '
                    f'{record["video_id"]} is skipped rather than used as a gesture-free video'
                )
            )
            return None
        return dict(
            video_id=record['video_id'],
            filename=record['filename'],
            total_frames=int(total_frames),
            fps=float(decoded_fps if record['fps'] is None else record['fps']),
            video_gt_segments=np.asarray(segments, dtype=np.float32).reshape(-1, 2),
            video_gt_labels=np.asarray(labels, dtype=np.int64),
            num_ignored=num_ignored,
        )

    @staticmethod
    def _check_video(record: dict, decoded_frames: int, decoded_fps: float) -> int:
        """Frames of the video to use, after checking its rate and length.

        Raises:
            SMGDataError: The video decodes at another frame rate than declared.
        """
        video, declared_in = record['filename'], record['meta_source']
        fps = record['fps']
        if fps is not None and abs(decoded_fps - fps) > FPS_TOLERANCE * fps:
            raise SMGDataError(
                f'{video}: decodes at {decoded_fps:g} fps but {declared_in} declares {fps:g} '
                "fps; the video was re-encoded or is not this sample's, so the annotated "
                'frames would point at the wrong time'
            )
        declared = record['num_frames']
        if declared is None or declared == decoded_frames:
            return decoded_frames
        if decoded_frames < declared:
            action = f'clipping to the {decoded_frames} that decode'
        else:
            action = f'using the first {declared}'
        warnings.warn(
            f'{video}: decodes to {decoded_frames} frames but {declared_in} declares '
            f'{declared}; {action}',
            SMGDataWarning,
            stacklevel=3,
        )
        return min(declared, decoded_frames)

    @staticmethod
    def _row_problem(row: tuple, num_labels: int, limit: int, total_frames: int, record) -> str:
        label, start, end = row
        if not 1 <= label <= num_labels:
            return f'unknown label {label}, expected 1..{num_labels}'
        if start > end:
            return f'start_frame {start} > end_frame {end}, expected start < end'
        if start == end:
            return f'empty segment start_frame == end_frame == {start}'
        if start < 0 or end > limit:
            return f'segment [{start}, {end}] out of range, expected 0 <= frame <= {limit}'
        if end > total_frames:
            return (
                f'video {record["filename"]} is shorter than its annotations: it decodes '
                f'to {total_frames} frames, expected at least end_frame {end}'
            )
        return None

    def _invalid(self, error: Exception) -> None:
        """Raise ``error`` (fail fast) or, with ``skip_invalid``, warn and count it."""
        if not self.skip_invalid:
            raise error
        self.num_skipped += 1
        warnings.warn(f'skipped: {error}', SMGDataWarning, stacklevel=3)

    # ----------------------------------------------------------------- samples
    def set_sample_seed(self, seed: int, epoch: int) -> None:
        """Seed the pipeline of every following sample from ``(seed, epoch, index)``.

        :class:`RandomStateHook` calls it before each training epoch.
        """
        self.sample_seed.set(seed, epoch)

    @property
    def num_undecodable_windows(self) -> int:
        """Training windows skipped (with ``skip_invalid``) because a frame did not decode."""
        return self.sample_seed.num_skipped

    def prepare_data(self, idx: int):
        """The pipeline's output for window ``idx``, on its own seeded random streams.

        Returns None for a training window skipped under ``skip_invalid`` (a frame
        does not decode); :meth:`_rand_another` then names the replacement.
        """
        for attempt in range(DECODE_ATTEMPTS):
            with seeded_global_rngs(self.sample_seed.entropy(idx)):
                data_info = self.get_data_info(idx)
                try:
                    return self.pipeline(data_info)
                except Exception as error:
                    retry = attempt + 1 < DECODE_ATTEMPTS
                    if retry and type(error).__module__.startswith(DECODER_MODULES):
                        continue
                    undecodable = self._undecodable(data_info, error)
                    if undecodable is None:
                        raise
                    return self._unusable_window(undecodable, error)
        raise AssertionError('unreachable')

    def _unusable_window(self, undecodable: str, error: Exception):
        """Raise for an undecodable window, or skip it (training with ``skip_invalid``)."""
        if not self.skip_invalid or self.test_mode:
            reason = '' if not self.test_mode else ' (test windows are never skipped)'
            raise SMGDataError(f'{undecodable}{reason}') from error
        count = self.sample_seed.count_skip()
        warnings.warn(
            f'skipped window: {undecodable}; {count} window(s) skipped so far',
            SMGDataWarning,
            stacklevel=3,
        )
        # Drawn from this sample's seeded stream, so the replacement is
        # the same in every run.
        self._replacement_index = int(np.random.randint(0, len(self)))
        return None

    def _rand_another(self) -> int:
        if self._replacement_index is not None:
            index, self._replacement_index = self._replacement_index, None
            return index
        return super()._rand_another()

    @staticmethod
    def _undecodable(data_info: dict, error: Exception) -> str | None:
        """What failed to decode in a window whose pipeline raised ``error``, or None."""
        filename, frame_inds = data_info.get('filename'), data_info.get('frame_inds')
        if filename is None or frame_inds is None:
            return None
        start = data_info.get('window_start_frame')
        found = first_undecodable_frame(filename, frame_inds)
        if found is None:
            # Every frame decodes alone, yet the batch failed in the decoder
            # (decord fails some batches after a damaged key frame).
            if not type(error).__module__.startswith(DECODER_MODULES):
                return None
            frames = f'frames {min(frame_inds)}-{max(frame_inds)}'
            return (
                f'{filename}: cannot decode {frames} (window at frame {start}): {error_line(error)}'
            )
        frame, reason = found
        if frame is None:
            return f'{filename}: cannot open the video any more ({reason})'
        return f'{filename}: cannot decode frame {frame} (window at frame {start}): {reason}'

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
