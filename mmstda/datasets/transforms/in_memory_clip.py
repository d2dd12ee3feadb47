"""Clips sampled from whole videos decoded once into memory (small pretraining sets)."""

import cv2
import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform


@TRANSFORMS.register_module()
class InMemoryVideoClip(BaseTransform):
    """Sample a random clip from a video kept decoded in memory at a small size.

    Replaces ``DecordInit`` + ``SampleFrames`` + ``DecordDecode`` + ``Resize`` when
    the videos, resized to ``scale``, fit in memory: every video is decoded by
    decord (and resized by bilinear interpolation, as ``Resize`` does) the first
    time it is seen, then each call only indexes the array. Decoding a clip per
    item dominated the time of masked-autoencoder pretraining on a CPU; this
    keeps it to array indexing. Each process (every dataloader worker) holds its
    own copy: ``frames * scale[0] * scale[1] * 3`` bytes per video. For long
    videos use the decord pipeline instead.

    Required keys: ``filename``. Added keys: ``imgs`` (list of ``(H, W, 3)`` RGB
    uint8), ``frame_inds``, ``total_frames``, ``clip_len``, ``frame_interval``,
    ``num_clips`` (1), ``original_shape``, ``img_shape``.

    Args:
        clip_len (int): Frames per clip.
        frame_interval (int): Native frames between clip frames. Defaults to 1.
        scale (tuple[int, int]): ``(width, height)`` of the kept frames.
    """

    def __init__(self, clip_len: int, scale: tuple[int, int], frame_interval: int = 1) -> None:
        if clip_len < 1 or frame_interval < 1:
            raise ValueError('clip_len and frame_interval must be at least 1')
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.scale = tuple(scale)
        self._videos: dict[str, np.ndarray] = {}

    def _load(self, filename: str) -> np.ndarray:
        if filename not in self._videos:
            import decord

            try:
                reader = decord.VideoReader(filename, num_threads=1)
                frames = reader.get_batch(list(range(len(reader)))).asnumpy()
            except Exception as error:  # decord raises its own DECORDError / RuntimeError
                raise ValueError(f'{filename}: cannot decode the video ({error})') from error
            self._videos[filename] = np.stack(
                [cv2.resize(f, self.scale, interpolation=cv2.INTER_LINEAR) for f in frames]
            )
        return self._videos[filename]

    def transform(self, results: dict) -> dict:
        frames = self._load(results['filename'])
        span = (self.clip_len - 1) * self.frame_interval + 1
        total = len(frames)
        if total < span:
            raise ValueError(
                f'{results["filename"]}: {total} frames, shorter than one clip '
                f'({self.clip_len} frames every {self.frame_interval})'
            )
        start = np.random.randint(total - span + 1)
        inds = start + np.arange(self.clip_len) * self.frame_interval
        results['imgs'] = list(frames[inds])
        results.update(
            frame_inds=inds,
            total_frames=total,
            clip_len=self.clip_len,
            frame_interval=self.frame_interval,
            num_clips=1,
            original_shape=frames.shape[1:3],
            img_shape=frames.shape[1:3],
        )
        return results

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(clip_len={self.clip_len}, '
            f'frame_interval={self.frame_interval}, scale={self.scale})'
        )
