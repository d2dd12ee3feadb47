"""Unlabeled video clips for self-supervised pretraining."""

import json
import os
import os.path as osp
from collections.abc import Sequence

from mmaction.registry import DATASETS
from mmengine.dataset import BaseDataset

from .smg import DEFAULT_FILE_PATTERNS
from .smg_meta import SMG_CHALLENGE_SPLITS
from .synthetic_smg_dataset import ensure_synthetic_smg

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm')


@DATASETS.register_module()
class UnlabeledVideoDataset(BaseDataset):
    """Video files without labels, one item per clip to sample (for pretraining).

    Two ways to name the videos:

    * every video file under ``data_root`` (recursively) whose name ends with one
      of ``extensions`` (``split=None``, the default): any folder of videos;
    * the videos of one split of an SMG-layout data set (``split='train'`` etc.):
      sample ids from ``split_file`` (``{"splits": {"train": [ids]}}`` or
      ``{"train": [ids]}``) or, without it, the SMG challenge split; file names
      follow ``file_patterns`` (SMGDataset's ``DEFAULT_FILE_PATTERNS``). Label
      files are never read.

    Each video gives ``clips_per_video`` items per epoch, each ``dict(filename=...,
    video_id=...)``; the pipeline picks the clip (e.g. ``DecordInit``,
    ``SampleFrames``, ``DecordDecode``), so every epoch sees new clips.

    Args:
        data_root (str): Folder of the videos (or of the SMG-layout data set).
        split (str, optional): SMG-layout split to take. Defaults to None (every
            video file under ``data_root``).
        split_file (str): Split JSON, relative to ``data_root``. Defaults to ''.
        file_patterns (dict, optional): Overrides of SMG's folder/video patterns.
            Defaults to None.
        extensions (Sequence[str]): Video file name endings, case-insensitive.
            Defaults to ``VIDEO_EXTENSIONS``.
        clips_per_video (int): Items per video and epoch. Defaults to 1.
        generator (dict | list[dict], optional): When set and ``data_root`` holds
            no synthetic data set yet, generate one there first
            (:func:`~mmstda.datasets.synthetic_smg_dataset.ensure_synthetic_smg`
            settings, e.g. ``dict(seed=1)``). A list generates one data set per
            entry, each into ``data_root/seed<seed>`` (every entry needs its own
            ``seed``), so a corpus can hold more subjects than one generator run
            makes (40). Defaults to None.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments (``pipeline``...).
    """

    def __init__(
        self,
        data_root: str,
        split: str | None = None,
        split_file: str = '',
        file_patterns: dict | None = None,
        extensions: Sequence[str] = VIDEO_EXTENSIONS,
        clips_per_video: int = 1,
        generator: dict | Sequence[dict] | None = None,
        **kwargs,
    ) -> None:
        if clips_per_video < 1:
            raise ValueError(f'clips_per_video must be at least 1, got {clips_per_video}')
        self.split = split
        self.split_file = split_file
        self.file_patterns = {**DEFAULT_FILE_PATTERNS, **(file_patterns or {})}
        self.extensions = tuple(e.lower() for e in extensions)
        self.clips_per_video = clips_per_video
        self.generator = generator
        if isinstance(generator, Sequence):
            seeds = [g.get('seed') if isinstance(g, dict) else None for g in generator]
            if None in seeds or len(set(seeds)) != len(seeds):
                raise ValueError(
                    'generator: a list of generator settings needs a distinct seed in '
                    f'each entry (they name the folders data_root/seed<seed>), got seeds {seeds}'
                )
        super().__init__(data_root=data_root, **kwargs)

    def full_init(self) -> None:
        if not self._fully_initialized and self.generator is not None:
            if isinstance(self.generator, dict):
                ensure_synthetic_smg(self.data_root, self.generator)
            else:
                for settings in self.generator:
                    ensure_synthetic_smg(
                        osp.join(self.data_root, f'seed{settings["seed"]}'), settings
                    )
        super().full_init()

    def load_data_list(self) -> list[dict]:
        """List the videos, then repeat each ``clips_per_video`` times."""
        if not osp.isdir(self.data_root):
            raise FileNotFoundError(f'{self.data_root}: video folder not found')
        videos = self._split_videos() if self.split is not None else self._all_videos()
        if not videos:
            raise ValueError(
                f'{self.data_root}: no video file ending with {self.extensions} found '
                '(set extensions= for other formats)'
            )
        self.videos = videos
        return [
            # start_index and modality: what MMAction2's frame samplers and Flip read.
            dict(
                filename=osp.join(self.data_root, rel),
                video_id=rel,
                start_index=0,
                modality='RGB',
            )
            for rel in videos
            for _ in range(self.clips_per_video)
        ]

    def _all_videos(self) -> list[str]:
        found = []
        for root, dirs, files in os.walk(self.data_root):
            dirs.sort()
            for name in sorted(files):
                if name.lower().endswith(self.extensions):
                    found.append(osp.relpath(osp.join(root, name), self.data_root))
        return found

    def _split_ids(self) -> list:
        if not self.split_file:
            if self.split not in SMG_CHALLENGE_SPLITS:
                raise ValueError(
                    f'unknown split {self.split!r}: expected one of '
                    f'{sorted(SMG_CHALLENGE_SPLITS)}, or give split_file'
                )
            return list(SMG_CHALLENGE_SPLITS[self.split])
        path = osp.join(self.data_root, self.split_file)
        with open(path) as f:
            content = json.load(f)
        splits = content.get('splits', content)
        if self.split not in splits:
            raise ValueError(f'{path}: no split {self.split!r}; expected one of {sorted(splits)}')
        return list(splits[self.split])

    def _split_videos(self) -> list[str]:
        videos = []
        for sample_id in self._split_ids():
            folder = (
                sample_id
                if isinstance(sample_id, str)
                else self.file_patterns['folder'].format(sample_id=int(sample_id))
            )
            rel = self.file_patterns['video'].format(folder=folder, sample_id=sample_id)
            if not osp.isfile(osp.join(self.data_root, rel)):
                raise FileNotFoundError(
                    f'{osp.join(self.data_root, rel)}: video of sample {sample_id!r} '
                    f'(split {self.split!r}) not found'
                )
            videos.append(rel)
        return videos
