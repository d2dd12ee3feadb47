import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.evaluator import BaseMetric
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from mmengine.structures import InstanceData

import mmstda  # noqa: F401  (registers the components)

NUM_CLASSES = 3
PREPROCESSOR = dict(
    type='ActionDataPreprocessor', mean=[127.5] * 3, std=[58.0] * 3, format_shape='NCTHW'
)
TINY_VIT = dict(img_size=32, patch_size=16, embed_dims=32, depth=2, num_heads=2, num_frames=4)


def _detector(backbone: dict, in_channels: int = 32, **kwargs):
    head = dict(
        type='OnlineTADHead',
        in_channels=in_channels,
        num_classes=NUM_CLASSES,
        feat_channels=16,
        num_layers=2,
        dropout=0.0,
    )
    model = MODELS.build(
        dict(
            type='OnlineMGDetector',
            backbone=backbone,
            head=head,
            data_preprocessor=PREPROCESSOR,
            **kwargs,
        )
    )
    model.init_weights()
    return model


def _adapter_vit(**kwargs):
    return _detector(
        dict(type='DecoupledAdapterViT', return_feat_map=True, causal=True, **TINY_VIT), **kwargs
    )


def _stock_vit():
    return _detector(dict(type='VisionTransformer', return_feat_map=True, **TINY_VIT))


def _batch(num_windows: int = 2, num_frames: int = 8, window_start_frame: int = 50):
    torch.manual_seed(0)
    inputs, samples = [], []
    for i in range(num_windows):
        inputs.append(torch.randint(0, 256, (3, num_frames, 32, 32), dtype=torch.uint8))
        sample = ActionDataSample()
        sample.gt_instances = InstanceData(
            segments=torch.tensor([[2.0, 10.0]]), labels=torch.tensor([i % NUM_CLASSES])
        )
        sample.set_metainfo(
            dict(
                video_id=f'v{i}',
                window_start_frame=window_start_frame,
                window_frames=num_frames,
                frame_interval=2,
                fps=28.0,
            )
        )
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_train_step_updates_adapters_and_head_only():
    model = _adapter_vit()
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.5))
    frozen_before = model.backbone.patch_embed.projection.weight.clone()
    head_before = model.head.cls_out.weight.clone()
    adapter = next(
        p for n, p in model.backbone.named_parameters() if n.endswith('adapter.up_proj.weight')
    )
    adapter_before = adapter.clone()
    log_vars = model.train_step(_batch(), optim_wrapper)
    assert set(log_vars) == {'loss', 'loss_cls', 'loss_boundary'}
    total = log_vars['loss_cls'].item() + log_vars['loss_boundary'].item()
    assert log_vars['loss'].item() == pytest.approx(total)
    assert not torch.equal(model.head.cls_out.weight, head_before)
    assert not torch.equal(adapter, adapter_before)
    assert torch.equal(model.backbone.patch_embed.projection.weight, frozen_before)


def test_test_step_predicts_absolute_frames():
    model = _adapter_vit()
    # Make every frame class 1 with probability ~0.88, no boundary: one full-window segment.
    with torch.no_grad():
        model.head.cls_out.weight.zero_()
        model.head.cls_out.bias.copy_(torch.tensor([-5.0, 2.0, -5.0]))
        model.head.boundary_out.weight.zero_()
        model.head.boundary_out.bias.fill_(-5.0)
    outputs = model.test_step(_batch(window_start_frame=50))
    assert len(outputs) == 2
    for sample in outputs:
        pred = sample.pred_instances
        # 8 frames at interval 2 from native frame 50.
        assert pred.segments.tolist() == [[50.0, 66.0]]
        assert pred.labels.tolist() == [1]
        assert pred.scores.tolist() == [pytest.approx(torch.sigmoid(torch.tensor(2.0)).item())]
        # One highest-class probability per window frame, for the timeline's score trace.
        expected = torch.sigmoid(torch.tensor(2.0)).item()
        assert sample.pred_frame_scores.shape == (8,)
        assert sample.pred_frame_scores.tolist() == [pytest.approx(expected)] * 8


def test_score_thr_sweep_decodes_each_window_at_every_threshold():
    # Class 1 at probability rising along the window (0.119, 0.193, 0.298, 0.429, 0.571,
    # 0.702, 0.807, 0.881 on frames 0..7, native frames 0, 2, .., 14): the run
    # opens where the probability first reaches the threshold, so each swept
    # threshold starts the segment at another frame (filtering one decode by score
    # would keep or drop the whole segment instead).
    model = _adapter_vit()
    logits = torch.linspace(-2.0, 2.0, 8)
    model.head.forward = lambda feats: (
        torch.stack([torch.full((8,), -9.0), logits, torch.full((8,), -9.0)])[None].repeat(
            feats.size(0), 1, 1
        ),
        torch.full((feats.size(0), 2, 8), -9.0),
    )
    assert model.set_score_thr_sweep([0.2, 0.5, 0.75]) is True
    (sample,) = model.test_step(_batch(num_windows=1, window_start_frame=0))
    # Open from frame 2 (0.2), frame 4 (0.5); at 0.75 the run (frames 6, 7) is shorter
    # than min_duration_frames 8 native = 4 frames, so nothing is decoded.
    bounds = {thr: pred.segments.tolist() for thr, pred in sample.pred_sweep.items()}
    assert bounds == {0.2: [[4.0, 16.0]], 0.5: [[8.0, 16.0]], 0.75: []}
    # The head's own decode (test_cfg score_thr 0.3: from frame 3) is unchanged, and
    # the sweep ends.
    assert sample.pred_instances.segments.tolist() == [[6.0, 16.0]]
    assert model.set_score_thr_sweep(None) is False
    (sample,) = model.test_step(_batch(num_windows=1, window_start_frame=0))
    assert 'pred_sweep' not in sample


def test_val_step_matches_test_step():
    model = _adapter_vit()
    val = model.val_step(_batch())
    test = model.test_step(_batch())
    for a, b in zip(val, test):
        assert torch.equal(a.pred_instances.segments, b.pred_instances.segments)


def test_tensor_mode_shapes_follow_window_frames():
    model = _adapter_vit().eval()
    data = model.data_preprocessor(_batch(num_frames=12))
    cls_logits, boundary_logits = model(data['inputs'], mode='tensor')
    assert cls_logits.shape == (2, NUM_CLASSES, 12)
    assert boundary_logits.shape == (2, 2, 12)


def test_stock_vision_transformer_runs_each_clip_on_its_own():
    model = _stock_vit().eval()
    assert model.clip_frames == 4
    inputs = model.data_preprocessor(_batch(num_frames=8))['inputs']
    window_feats = model.extract_feat(inputs)
    clip_feats = [model.extract_feat(inputs[:, :, i : i + 4]) for i in (0, 4)]
    torch.testing.assert_close(window_feats, torch.cat(clip_feats, -1), atol=1e-5, rtol=0)
    model.train()
    log_vars = model.train_step(
        _batch(num_frames=8), OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    )
    assert torch.isfinite(torch.tensor(log_vars['loss']))


def test_3d_cnn_with_its_own_temporal_stride():
    backbone = dict(
        type='X3D', gamma_w=0.1, gamma_b=1.0, gamma_d=0.1, num_stages=2, spatial_strides=(2, 2)
    )
    model = _detector(backbone, in_channels=_x3d_channels(backbone)).eval()
    assert model.clip_frames is None
    inputs = model.data_preprocessor(_batch(num_frames=8))['inputs']
    cls_logits, _ = model(inputs, mode='tensor')
    assert cls_logits.shape == (2, NUM_CLASSES, 8)


def _x3d_channels(backbone: dict) -> int:
    return MODELS.build(backbone)(torch.zeros(1, 3, 8, 32, 32)).shape[1]


def test_window_not_divisible_into_clips_is_rejected():
    model = _stock_vit()
    inputs = torch.zeros(1, 3, 6, 32, 32)
    with pytest.raises(ValueError, match='6 frames, not a multiple of clip_frames=4'):
        model.extract_feat(inputs)


def test_unknown_mode_is_rejected():
    model = _adapter_vit()
    with pytest.raises(ValueError, match="mode must be 'loss', 'predict' or 'tensor'"):
        model(torch.zeros(1, 3, 4, 32, 32), mode='features')


class _WindowDataset(torch.utils.data.Dataset):
    """Packed windows as the SMG pipeline gives them."""

    def __init__(self, num_windows: int = 4) -> None:
        self.batch = _batch(num_windows=num_windows, num_frames=8)

    def __len__(self) -> int:
        return len(self.batch['inputs'])

    def __getitem__(self, index: int) -> dict:
        return dict(
            inputs=self.batch['inputs'][index], data_samples=self.batch['data_samples'][index]
        )


class _CollectSegments(BaseMetric):
    """Keeps what the test loop hands to metrics."""

    def process(self, data_batch, data_samples) -> None:
        for sample in data_samples:
            self.results.append(sample['pred_instances']['segments'].clone())

    def compute_metrics(self, results) -> dict:
        self.seen = results
        return dict(num_windows=len(results))


def test_stock_runner_trains_and_tests(tmp_path):
    # Every class active and no boundary split: one whole-window segment per window.
    model = _adapter_vit(test_cfg=dict(score_thr=0.0, boundary_thr=1.1))
    metric = _CollectSegments()
    loader = dict(
        dataset=_WindowDataset(),
        batch_size=2,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
    )
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        train_dataloader=loader,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=2, val_interval=100),
        test_dataloader=loader,
        test_evaluator=[metric],
        test_cfg=dict(type='TestLoop'),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=100)),
        default_scope='mmaction',
    )
    head_before = model.head.cls_out.weight.clone()
    runner.train()
    assert not torch.equal(model.head.cls_out.weight, head_before)
    assert runner.test() == dict(num_windows=4)
    # Window-relative frames [0, 16] shifted by window_start_frame 50.
    assert [segments.tolist() for segments in metric.seen] == [[[50.0, 66.0]]] * 4
