import numpy as np
import pytest
import torch
from mmaction.models import ActionDataPreprocessor
from mmengine.dataset import pseudo_collate

from mmstda.datasets.transforms import PackMGInputs


def _results(seed):
    rng = np.random.default_rng(seed)
    return dict(
        imgs=[rng.integers(0, 255, (6, 5, 3), dtype=np.uint8) for _ in range(4)],
        gt_segments=np.array([[2.0, 6.0]], np.float32),
        gt_labels=np.array([3]),
        video_id='Sample0031',
        window_start_frame=100,
        window_frames=4,
        frame_interval=2,
        fps=28.0,
        total_frames=500,
        video_gt_segments=np.array([[102.0, 106.0]], np.float32),
        video_gt_labels=np.array([3]),
    )


def test_pack_layout_and_metainfo():
    results = _results(0)
    packed = PackMGInputs().transform(dict(results))
    inputs = packed['inputs']
    assert inputs.shape == (3, 4, 6, 5) and inputs.dtype == torch.uint8
    for t, frame in enumerate(results['imgs']):
        np.testing.assert_array_equal(inputs[:, t].numpy(), frame.transpose(2, 0, 1))
    sample = packed['data_samples']
    assert torch.equal(sample.gt_instances.segments, torch.tensor([[2.0, 6.0]]))
    assert sample.gt_instances.labels.dtype == torch.int64
    assert sample.gt_instances.labels.tolist() == [3]
    assert sample.metainfo['video_id'] == 'Sample0031'
    assert sample.metainfo['window_start_frame'] == 100
    assert sample.metainfo['total_frames'] == 500


def test_preprocessor_batches_to_bcthw():
    batch = pseudo_collate([PackMGInputs().transform(_results(seed)) for seed in range(2)])
    preprocessor = ActionDataPreprocessor(
        mean=[100.0, 110.0, 120.0], std=[50.0, 50.0, 50.0], format_shape='NCTHW'
    )
    out = preprocessor(batch)
    assert out['inputs'].shape == (2, 3, 4, 6, 5)
    expected = (batch['inputs'][1][2].float() - 120.0) / 50.0
    torch.testing.assert_close(out['inputs'][1, 2], expected)


def test_wrong_frame_count_is_an_error():
    results = _results(0)
    results['imgs'] = results['imgs'][:3]
    with pytest.raises(ValueError, match='got 3 frames for a window of window_frames=4'):
        PackMGInputs().transform(results)
