"""OnlineMGDetector with AnchorFreeTADHead through a real mmengine Runner."""

import math

import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.evaluator import BaseMetric
from mmengine.runner import Runner
from mmengine.structures import InstanceData
from torch.utils.data import Dataset

import mmstda  # noqa: F401  (registers the components)
from mmstda.apis import OnlineRecognizer
from mmstda.evaluation.metrics import MicroGestureF1Metric
from mmstda.utils.errors import UserInputError

NUM_CLASSES = 3
WINDOW_FRAMES, FRAME_INTERVAL, WINDOW_START = 16, 2, 50
# Native window-relative [8, 24] = input frames [4, 12].
GT_SEGMENT = [8.0, 24.0]


def _detector(**test_cfg):
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='OnlineMGDetector',
            data_preprocessor=dict(
                type='ActionDataPreprocessor',
                mean=[127.5] * 3,
                std=[58.0] * 3,
                format_shape='NCTHW',
            ),
            backbone=dict(
                type='DecoupledAdapterViT',
                img_size=32,
                patch_size=16,
                embed_dims=32,
                depth=1,
                num_heads=2,
                num_frames=8,
                return_feat_map=True,
            ),
            head=dict(
                type='AnchorFreeTADHead',
                in_channels=32,
                num_classes=NUM_CLASSES,
                feat_channels=16,
                strides=(1, 2, 4),
                regress_ranges=((0, 4), (4, 8), (8, math.inf)),
                num_stem_layers=1,
                num_head_convs=1,
                dropout=0.0,
                test_cfg=test_cfg,
            ),
        )
    )
    model.init_weights()
    return model


class _Windows(Dataset):
    """Four windows of four videos, one gesture each, fixed random frames."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.items = []
        for i in range(4):
            sample = ActionDataSample()
            sample.gt_instances = InstanceData(
                segments=torch.tensor([GT_SEGMENT]), labels=torch.tensor([i % NUM_CLASSES])
            )
            sample.set_metainfo(
                dict(
                    video_id=f'v{i}',
                    window_start_frame=WINDOW_START,
                    window_frames=WINDOW_FRAMES,
                    frame_interval=FRAME_INTERVAL,
                    total_frames=WINDOW_START + WINDOW_FRAMES * FRAME_INTERVAL,
                    video_gt_segments=torch.tensor([GT_SEGMENT]) + WINDOW_START,
                    video_gt_labels=torch.tensor([i % NUM_CLASSES]),
                )
            )
            frames = torch.randint(
                0, 256, (3, WINDOW_FRAMES, 32, 32), dtype=torch.uint8, generator=generator
            )
            self.items.append(dict(inputs=frames, data_samples=sample))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


class _KeepPredictions(BaseMetric):
    def process(self, data_batch, data_samples) -> None:
        self.results.extend(data_samples)

    def compute_metrics(self, results) -> dict:
        self.seen = results
        return dict(num_windows=len(results))


def _runner(model, tmp_path, max_iters: int, evaluators: list) -> Runner:
    loader = dict(
        dataset=_Windows(),
        batch_size=2,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
    )
    return Runner(
        model=model,
        work_dir=str(tmp_path),
        train_dataloader=loader,
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=3e-3, weight_decay=0.0)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=10_000),
        test_dataloader=loader,
        test_evaluator=evaluators,
        test_cfg=dict(type='TestLoop'),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=10_000),
            logger=dict(type='LoggerHook', interval=1),
        ),
        default_scope='mmaction',
    )


def test_runner_train_step_and_test_step(tmp_path):
    model = _detector(score_thr=0.001)
    keep = _KeepPredictions()
    runner = _runner(model, tmp_path, max_iters=2, evaluators=[keep])
    cls_before = model.head.cls_out.weight.clone()
    reg_before = model.head.reg_out.weight.clone()
    runner.train()
    assert not torch.equal(model.head.cls_out.weight, cls_before)
    assert not torch.equal(model.head.reg_out.weight, reg_before)
    logged = runner.message_hub.log_scalars
    assert math.isfinite(logged['train/loss_cls'].current())
    assert math.isfinite(logged['train/loss_reg'].current())

    assert runner.test() == dict(num_windows=4)
    for sample in keep.seen:
        pred = sample['pred_instances']  # mmengine hands metrics plain dicts
        assert len(pred['segments']) > 0
        # Absolute native frames inside the window, best score first.
        end_of_window = WINDOW_START + WINDOW_FRAMES * FRAME_INTERVAL
        assert (pred['segments'] >= WINDOW_START).all() and (
            pred['segments'] <= end_of_window
        ).all()
        assert (pred['segments'][:, 1] >= pred['segments'][:, 0]).all()
        assert torch.equal(pred['scores'], pred['scores'].sort(descending=True).values)
        assert pred['labels'].min() >= 0 and pred['labels'].max() < NUM_CLASSES
        assert sample['pred_frame_scores'].shape == (WINDOW_FRAMES,)


def test_trained_head_finds_each_window_gesture_with_the_f1_metric(tmp_path):
    # Memorising four windows: each top-scored segment must land on its gesture
    # with the right label, which needs both the class and the distance branches.
    model = _detector(score_thr=0.05, nms='hard', nms_iou_thr=0.3)
    metric = MicroGestureF1Metric(score_thr=0.3)
    runner = _runner(model, tmp_path, max_iters=60, evaluators=[metric])
    runner.train()
    scores = runner.test()
    assert scores['mg/f1'] == pytest.approx(1.0)


def test_online_recognizer_refuses_the_offline_head_in_one_line():
    # UserInputError: the tools (online_infer.py, test.py --online) print it as one line.
    with pytest.raises(UserInputError, match='needs a streaming head .*AnchorFreeTADHead'):
        OnlineRecognizer(_detector())
