"""Packing of a decoded window into model inputs and an ``ActionDataSample``."""

from collections.abc import Sequence

import numpy as np
import torch
from mmaction.registry import TRANSFORMS
from mmaction.structures import ActionDataSample
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData

DEFAULT_META_KEYS = (
    'video_id',
    'window_start_frame',
    'window_frames',
    'frame_interval',
    'fps',
    'total_frames',
    'video_gt_segments',
    'video_gt_labels',
)


@TRANSFORMS.register_module()
class PackMGInputs(BaseTransform):
    """Pack a micro-gesture window for the model.

    mmaction's ``PackActionInputs`` handles single labels and boxes, not temporal
    segments, so windows are packed here.

    Required keys: ``imgs`` (list of T uint8 ``(H, W, 3)`` arrays, or an array
    ``(T, H, W, 3)``), ``gt_segments`` (``(N, 2)``), ``gt_labels`` (``(N,)``) and the
    ``meta_keys`` present in ``results``.

    Added keys: ``inputs`` (uint8 tensor ``(C, T, H, W)``) and ``data_samples``
    (``ActionDataSample`` with ``gt_instances = InstanceData(segments=FloatTensor
    (N, 2), labels=LongTensor (N,))`` in window-relative native frames, and the
    meta keys as metainfo).

    Args:
        meta_keys (Sequence[str]): Keys copied into the data sample's metainfo when
            present. Defaults to ``DEFAULT_META_KEYS``.
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Stack the frames to ``(C, T, H, W)`` and build the data sample."""
        imgs = np.stack(results['imgs']) if isinstance(results['imgs'], list) else results['imgs']
        if imgs.ndim != 4 or imgs.shape[-1] != 3:
            raise ValueError(f'imgs must be T frames of shape (H, W, 3), got {imgs.shape}')
        expected = results.get('window_frames')
        if expected is not None and len(imgs) != expected:
            raise ValueError(
                f'{results.get("video_id")}: got {len(imgs)} frames for a window of '
                f'window_frames={expected}'
            )
        inputs = torch.from_numpy(np.ascontiguousarray(imgs.transpose(3, 0, 1, 2)))
        data_sample = ActionDataSample()
        data_sample.gt_instances = InstanceData(
            segments=torch.as_tensor(np.asarray(results['gt_segments'], np.float32).reshape(-1, 2)),
            labels=torch.as_tensor(np.asarray(results['gt_labels'], np.int64)),
        )
        data_sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
