import copy
import importlib.util
import json
import multiprocessing
import os
import os.path as osp
import random
import uuid
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmaction.registry import HOOKS
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.registry import DATASETS as ENGINE_DATASETS
from mmengine.runner import Runner
from mmengine.visualization import Visualizer
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mmstda.datasets.transforms import ASBATransform, asba_intensity
from mmstda.engine.hooks import ASBAHook, ClassBalanceHook
from mmstda.engine.hooks.asba_hook import _without_asba, ema_difficulty, frame_detection_counts
from mmstda.engine.hooks.dataset_utils import iter_pipeline_transforms, training_class_counts
from mmstda.models.heads import AnchorFreeTADHead

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NO_AUG = dict(
    crop_area=(1.0, 1.0),
    crop_aspect=(1.0, 1.0),
    translate=(0.0, 0.0),
    rotate_deg=(0.0, 0.0),
    brightness=(0.0, 0.0),
    contrast=(0.0, 0.0),
    saturation=(0.0, 0.0),
    noise_std=(0.0, 0.0),
    slow_down=(0.0, 0.0),
    speed_warp=(0.0, 0.0),
)
HIT, MISS = 10.0, -10.0  # logits: sigmoid 0.99995 and 0.00005


class IntensityDataset(Dataset):
    """Windows of one class; each item reports the intensity it was augmented at."""

    def __init__(self, asba: ASBATransform, label: int, length: int, class_counts: list[int]):
        self.pipeline = Compose([asba])
        self.label = label
        self.length = length
        self.class_counts = class_counts

    def __len__(self):
        return self.length

    def __getitem__(self, idx):
        results = dict(
            imgs=[np.zeros((4, 4, 3), np.uint8)] * 2,
            gt_segments=np.array([[0.0, 2.0]], np.float32),
            gt_labels=np.array([self.label]),
            frame_interval=1,
        )
        results = self.pipeline(results)
        return torch.tensor([results['asba_intensity'], os.getpid()], dtype=torch.float64)


class ScriptedProbe(Dataset):
    """Un-augmented probe windows with scripted logits: window k holds ``frames``
    frames of class k, of which the first ``rates[k] * frames`` are detected."""

    def __init__(self, rates, frames: int = 10):
        self.rates = list(rates)
        self.frames = frames

    def __len__(self):
        return len(self.rates)

    def __getitem__(self, k):
        logits = torch.full((len(self.rates), self.frames), MISS)
        logits[k, : round(self.rates[k] * self.frames)] = HIT
        return logits, torch.full((self.frames,), k)


def collate_probe(items):
    return dict(
        inputs=torch.stack([i[0] for i in items]), data_samples=torch.stack([i[1] for i in items])
    )


def probe_loader(rates, **kwargs) -> DataLoader:
    return DataLoader(
        ScriptedProbe(rates, **kwargs), batch_size=len(rates), collate_fn=collate_probe
    )


class FakeHead(nn.Module):
    """The head's part of the probe contract: frame labels and the decoding threshold."""

    def __init__(self, score_thr=0.5):
        super().__init__()
        self.test_cfg = dict(score_thr=score_thr)

    def get_targets(self, data_samples, num_frames):
        assert data_samples.shape[-1] == num_frames
        return data_samples, None


class FakeModel(nn.Module):
    """``mode='tensor'`` returns the probe's scripted logits; records the mode it ran in."""

    def __init__(self, score_thr=0.5):
        super().__init__()
        self.head = FakeHead(score_thr)
        self.training_flags = []

    @staticmethod
    def data_preprocessor(batch, training):
        assert training is False
        return batch

    def forward(self, inputs, data_samples=None, mode='tensor'):
        assert mode == 'tensor'
        self.training_flags.append(self.training)
        return inputs, None


def make_runner(dataset, probe, num_workers=0, visualizer=None, **loader_kwargs):
    loader = DataLoader(
        dataset,
        batch_size=1,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        **loader_kwargs,
    )
    return SimpleNamespace(
        train_dataloader=loader,
        model=FakeModel(),
        logger=MMLogger.get_instance('test_asba_hook'),
        visualizer=visualizer or SimpleNamespace(add_scalars=lambda *args, **kwargs: None),
        iter=0,
        epoch=0,
        seed=0,
    )


def rare_class_transform(**kwargs):
    # Two classes; median effective number of [100, 10] is their mean, 55:
    # rarity = 55 / (55 + E_k).
    asba = ASBATransform(num_classes=2, initial_difficulty=0.5, **NO_AUG, **kwargs)
    asba.set_class_counts([100, 10])
    return asba


# ------------------------------------------------------------- the signal
def test_a_frame_counts_as_detected_only_above_the_threshold_and_as_top_class():
    # 4 frames of class 0, 1 of class 1, 1 background (label 2).
    scores = torch.tensor(
        [
            [3e-4, 1e-4, 1e-5],  # class 0 is the arg-max, but far below the threshold
            [0.6, 0.1, 0.1],  # above the threshold and top: detected
            [0.5, 0.7, 0.1],  # above the threshold but class 1 is higher: missed
            [0.3, 0.0, 0.0],  # top but just below 0.4: missed
            [0.1, 0.45, 0.0],  # class 1, detected
            [0.9, 0.9, 0.9],  # background: not counted
        ]
    ).T[None, :2]  # (1, K=2, T=6)
    labels = torch.tensor([[0, 0, 0, 0, 1, 2]])
    detected, total = frame_detection_counts(scores, labels, score_thr=0.4, num_classes=2)
    assert detected.tolist() == [1.0, 1.0]
    assert total.tolist() == [4.0, 1.0]
    with pytest.raises(ValueError, match=r'do not match frame labels \(1, 5\)'):
        frame_detection_counts(scores, labels[:, :5], 0.4, 2)


def test_ema_moves_only_classes_with_frames():
    new = ema_difficulty(
        torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64),
        detected=torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64),
        total=torch.tensor([4.0, 2.0, 0.0], dtype=torch.float64),
        momentum=0.5,
    )
    # class 0 misses 3/4 -> 0.5 * 0.5 + 0.5 * 0.75; class 1 misses all; class 2 unseen.
    np.testing.assert_allclose(new.numpy(), [0.625, 0.75, 0.5])


def test_never_detected_class_goes_to_one_and_always_detected_class_to_zero():
    asba = rare_class_transform()
    runner = make_runner(IntensityDataset(asba, 0, 2, [100, 10]), probe=None)
    hook = HOOKS.build(dict(type='ASBAHook', interval=1, momentum=0.3))
    hook.probe_dataloader = probe_loader([0.0, 1.0])
    hook.before_train(runner)
    for step in range(20):
        runner.iter = step
        hook.after_train_iter(runner, batch_idx=step)
    assert asba.difficulty[0] > 0.99 and asba.difficulty[1] < 0.01
    assert hook.num_updates == 20
    # The probe ran in eval mode and the model went back to training mode after it.
    assert set(runner.model.training_flags) == {False} and runner.model.training


def test_threshold_comes_from_the_head_unless_given():
    asba = rare_class_transform()
    runner = make_runner(IntensityDataset(asba, 0, 2, [100, 10]), probe=None)
    # Detected frames score sigmoid(10) ~ 0.99995: a threshold above that sees no hit.
    runner.model.head.test_cfg['score_thr'] = 0.99999
    hook = ASBAHook(interval=1, momentum=1.0, probe_dataloader=probe_loader([1.0, 1.0]))
    hook.before_train(runner)
    hook.after_train_iter(runner, batch_idx=0)
    np.testing.assert_allclose(asba.difficulty, [1.0, 1.0])
    explicit = ASBAHook(
        interval=1, momentum=1.0, score_thr=0.5, probe_dataloader=probe_loader([1.0, 1.0])
    )
    explicit.before_train(runner)
    explicit.after_train_iter(runner, batch_idx=0)
    np.testing.assert_allclose(asba.difficulty, [0.0, 0.0])


def logit(p):
    return float(np.log(p / (1.0 - p)))


def scored_probe_loader(scores, frames=10):
    """Window k holds ``frames`` frames of class k, each scored ``scores[k]`` for its
    class (the top class) and 1e-4 for the others."""
    windows = []
    for k, score in enumerate(scores):
        logits = torch.full((len(scores), frames), logit(1e-4))
        logits[k] = logit(score)
        windows.append((logits, torch.full((frames,), k)))
    return DataLoader(windows, batch_size=len(scores), collate_fn=collate_probe)


def anchor_free_runner():
    """A runner whose model has a real AnchorFreeTADHead (test_cfg score_thr 0.001,
    the candidate filter before NMS); the probe's logits stay scripted."""
    asba = rare_class_transform()
    runner = make_runner(IntensityDataset(asba, 0, 2, [100, 10]), probe=None)
    head = AnchorFreeTADHead(in_channels=4, num_classes=2, feat_channels=8)
    assert head.test_cfg['score_thr'] == 0.001
    head.get_targets = FakeHead.get_targets.__get__(head)
    runner.model.head = head
    return runner, asba


def test_anchor_free_head_is_probed_at_a_detection_threshold_not_its_candidate_filter():
    # Class 0's frames score 0.002 (top class, above the 0.001 candidate filter),
    # class 1's 0.9. Probed at 0.001, class 0 counted as always detected
    # (difficulty 0); at the default 0.3 it is a miss and class 1 a hit.
    runner, asba = anchor_free_runner()
    hook = ASBAHook(interval=1, momentum=1.0, probe_dataloader=scored_probe_loader([0.002, 0.9]))
    hook.before_train(runner)
    hook.after_train_iter(runner, batch_idx=0)
    threshold = hook._threshold(runner.model)
    print(f'anchor-free head probed at {threshold}: difficulty {asba.difficulty.tolist()}')
    np.testing.assert_allclose(asba.difficulty, [1.0, 0.0])
    assert threshold == 0.3
    # Configurable: above 0.9 class 1 is missed too; an explicit score_thr wins.
    strict = ASBAHook(
        interval=1,
        momentum=1.0,
        anchor_free_score_thr=0.95,
        probe_dataloader=scored_probe_loader([0.002, 0.9]),
    )
    strict.before_train(runner)
    strict.after_train_iter(runner, batch_idx=0)
    np.testing.assert_allclose(asba.difficulty, [1.0, 1.0])
    explicit = ASBAHook(
        interval=1,
        momentum=1.0,
        score_thr=0.001,
        anchor_free_score_thr=0.95,
        probe_dataloader=scored_probe_loader([0.002, 0.9]),
    )
    explicit.before_train(runner)
    explicit.after_train_iter(runner, batch_idx=0)
    np.testing.assert_allclose(asba.difficulty, [0.0, 0.0])


@pytest.mark.parametrize('name', ['score_thr', 'anchor_free_score_thr'])
@pytest.mark.parametrize('value', [0.0, 1.0, -0.1, 1.5, True, '0.3'])
def test_probe_thresholds_outside_the_open_unit_interval_are_refused_by_name(name, value):
    with pytest.raises(ValueError, match=rf'{name} must be a number in \(0, 1\), got'):
        ASBAHook(**{name: value})


def test_a_head_threshold_of_zero_is_refused_at_the_probe():
    # 0 would count every top-scoring frame as detected.
    asba = rare_class_transform()
    runner = make_runner(IntensityDataset(asba, 0, 2, [100, 10]), probe=None)
    runner.model.head.test_cfg['score_thr'] = 0.0
    hook = ASBAHook(interval=1, probe_dataloader=probe_loader([1.0, 1.0]))
    hook.before_train(runner)
    with pytest.raises(ValueError, match=r"FakeHead.test_cfg\['score_thr'\] = 0.0, .*\(0, 1\)"):
        hook.after_train_iter(runner, batch_idx=0)


class SkillProbe(Dataset):
    """A window of class k, optionally through ASBA; the model detects its frames with
    probability ``skill * (1 - harm * intensity)``: augmentation makes detection harder."""

    def __init__(self, asba, skill, harm, num_classes, frames=100):
        self.asba, self.skill, self.harm = asba, skill, harm
        self.num_classes, self.frames = num_classes, frames

    def __len__(self):
        return self.num_classes

    def __getitem__(self, k):
        intensity = 0.0
        if self.asba is not None:
            window = dict(
                imgs=[np.zeros((2, 2, 3), np.uint8)],
                gt_segments=np.array([[0.0, 1.0]], np.float32),
                gt_labels=np.array([k]),
                frame_interval=1,
            )
            intensity = self.asba(window)['asba_intensity']
        hits = round(self.frames * self.skill * (1.0 - self.harm * intensity))
        logits = torch.full((self.num_classes, self.frames), MISS)
        logits[k, :hits] = HIT
        return logits, torch.full((self.frames,), k)


def test_feedback_simulation_converges_to_the_clean_miss_rate():
    """Every class is equally easy (clean skill 0.8) and augmentation hurts detection.
    Measured on un-augmented probe windows, the difficulty of every class settles
    at the clean miss rate 0.2 from any start; fed with the same windows after
    ASBA (the old signal), the loop settles where ASBA itself puts it."""
    skill, harm, num_classes = 0.8, 0.9, 3

    def simulate(probe_through_asba: bool) -> list[np.ndarray]:
        asba = ASBATransform(num_classes=num_classes, **NO_AUG)
        asba.set_class_counts([10] * num_classes)
        asba.set_difficulty([0.9, 0.5, 0.1])  # classes start far apart
        runner = make_runner(IntensityDataset(asba, 0, 2, [10] * num_classes), probe=None)
        dataset = SkillProbe(asba if probe_through_asba else None, skill, harm, num_classes)
        loader = DataLoader(dataset, batch_size=num_classes, collate_fn=collate_probe)
        hook = ASBAHook(interval=1, momentum=0.3, probe_dataloader=loader)
        hook.before_train(runner)
        history = []
        for step in range(40):
            runner.iter = step
            hook.after_train_iter(runner, batch_idx=step)
            history.append(asba.difficulty)
        return history

    history = simulate(probe_through_asba=False)
    np.testing.assert_allclose(history[-1], 1 - skill, atol=0.01)
    assert np.abs(history[-1] - history[-2]).max() < 1e-3  # settled, not drifting
    assert np.ptp(history[-1]) < 0.01  # equally easy classes end equally augmented

    # Control: the loop through the augmented windows ends at the fixed point of
    # d = 1 - skill * (1 - harm * (0.5 * 0.5 + 0.5 * d)), i.e. 0.59, three times
    # the true miss rate: ASBA's own intensity decides how hard the classes look.
    controlled = simulate(probe_through_asba=True)[-1]
    np.testing.assert_allclose(controlled, 0.38 / 0.64, atol=0.02)


def test_probe_leaves_training_random_streams_alone_and_repeats_per_update():
    asba = rare_class_transform()
    runner = make_runner(IntensityDataset(asba, 0, 2, [100, 10]), probe=None)

    class RandomProbe(Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, k):
            hit = np.random.rand() < 0.5  # the probe pipeline draws random numbers
            logits = torch.full((2, 4), MISS)
            logits[k % 2] = HIT if hit else MISS
            return logits, torch.full((4,), k % 2)

    def run_probes(num_updates_before: int) -> tuple[np.ndarray, tuple]:
        loader = DataLoader(RandomProbe(), batch_size=4, shuffle=True, collate_fn=collate_probe)
        hook = ASBAHook(interval=1, momentum=1.0, probe_dataloader=loader)
        hook.before_train(runner)
        hook.num_updates = num_updates_before
        random.seed(1), np.random.seed(1), torch.manual_seed(1)
        hook.after_train_iter(runner, batch_idx=0)
        return asba.difficulty, (random.random(), np.random.rand(), torch.rand(1).item())

    difficulty, streams = run_probes(3)
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    assert streams == (random.random(), np.random.rand(), torch.rand(1).item())
    # Probe number 3 measures the same windows again (a resumed run does).
    np.testing.assert_array_equal(run_probes(3)[0], difficulty)


def test_update_is_seen_by_persistent_workers_in_their_next_batches():
    asba = rare_class_transform()
    dataset = IntensityDataset(asba, label=1, length=12, class_counts=[100, 10])
    runner = make_runner(dataset, probe=None, num_workers=2, prefetch_factor=1)
    hook = ASBAHook(interval=1, momentum=0.5, probe_dataloader=probe_loader([1.0, 0.0]))
    hook.before_train(runner)
    rarity = asba.rarity[1]

    first_epoch = torch.cat(list(runner.train_dataloader))
    np.testing.assert_allclose(first_epoch[:, 0], 0.5 * rarity + 0.5 * 0.5)
    worker_pids = set(first_epoch[:, 1].long().tolist())
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids

    hook.after_train_iter(runner, batch_idx=0)  # class 1 never detected: 0.5 -> 0.75
    second_epoch = torch.cat(list(runner.train_dataloader))
    assert set(second_epoch[:, 1].long().tolist()) == worker_pids
    np.testing.assert_allclose(second_epoch[:, 0], 0.5 * rarity + 0.5 * 0.75)

    # Mid-epoch: batches requested after the update (beyond the 2 * 1 prefetched) see it.
    loader_iter = iter(runner.train_dataloader)
    first_batch = next(loader_iter)
    hook.after_train_iter(runner, batch_idx=1)  # 0.75 -> 0.875
    rest = torch.cat(list(loader_iter))
    np.testing.assert_allclose(first_batch[:, 0], 0.5 * rarity + 0.5 * 0.75)
    np.testing.assert_allclose(rest[2:, 0], 0.5 * rarity + 0.5 * 0.875)


def test_update_reaches_spawned_workers_too():
    # Python 3.14 defaults to forkserver on Linux and macOS uses spawn: the
    # shared tensor must travel by handle, not by copy.
    asba = rare_class_transform()
    dataset = IntensityDataset(asba, label=1, length=4, class_counts=[100, 10])
    runner = make_runner(dataset, probe=None, num_workers=2, multiprocessing_context='spawn')
    hook = ASBAHook(interval=1, momentum=1.0, probe_dataloader=probe_loader([1.0, 1.0]))
    hook.before_train(runner)
    rarity = asba.rarity[1]
    np.testing.assert_allclose(torch.cat(list(runner.train_dataloader))[:, 0], rarity / 2 + 0.25)
    hook.after_train_iter(runner, batch_idx=0)  # always detected: difficulty 0
    np.testing.assert_allclose(torch.cat(list(runner.train_dataloader))[:, 0], rarity / 2)


# --------------------------------------------------------- shared memory
def test_a_deep_copied_dataset_is_refused_with_what_to_change():
    asba = rare_class_transform()
    dataset = copy.deepcopy(IntensityDataset(asba, 1, 4, [100, 10]))  # what mmengine does
    runner = make_runner(dataset, probe=None, num_workers=2)
    hook = ASBAHook(probe_dataloader=probe_loader([1.0, 1.0]))
    with pytest.raises(RuntimeError, match='outside shared memory') as err:
        hook.before_train(runner)
    assert 'dataset=dict(type=' in str(err.value) and 'num_workers=0' in str(err.value)
    # Without workers the main process reads the very object the hook updates.
    ASBAHook(probe_dataloader=probe_loader([1.0, 1.0])).before_train(
        make_runner(dataset, probe=None, num_workers=0)
    )
    # The dataset as built (not copied) passes.
    ASBAHook(probe_dataloader=probe_loader([1.0, 1.0])).before_train(
        make_runner(IntensityDataset(asba, 1, 4, [100, 10]), probe=None, num_workers=2)
    )


# ------------------------------------------------------------ probe data
def test_probe_config_is_the_training_config_without_asba():
    cfg = dict(
        batch_size=4,
        num_workers=2,
        dataset=dict(
            type='RepeatDataset',
            times=2,
            dataset=dict(
                type='SMGDataset',
                pipeline=[
                    dict(type='SampleMGWindow'),
                    dict(type='RandomApply', transforms=[dict(type='ASBATransform')]),
                    dict(type='ASBATransform', num_classes=17),
                    dict(type='PackMGInputs'),
                ],
            ),
        ),
    )
    stripped = _without_asba(cfg)
    pipeline = stripped['dataset']['dataset']['pipeline']
    assert [t['type'] for t in pipeline] == ['SampleMGWindow', 'RandomApply', 'PackMGInputs']
    assert pipeline[1]['transforms'] == []
    assert len(cfg['dataset']['dataset']['pipeline']) == 4  # the training config is untouched


@ENGINE_DATASETS.register_module(name='ASBAHookTestWindows', force=True)
class RecordedPipelineDataset(Dataset):
    """Keeps the pipeline config it was built with, for the probe-config test."""

    def __init__(self, pipeline):
        self.pipeline_cfg = pipeline

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        return idx


def test_probe_loader_is_built_from_the_training_config_with_overrides():
    train = dict(
        batch_size=4,
        num_workers=2,
        persistent_workers=True,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(
            type='ASBAHookTestWindows',
            pipeline=[dict(type='SampleMGWindow'), dict(type='ASBATransform', num_classes=2)],
        ),
    )
    runner = SimpleNamespace(cfg=Config(dict(train_dataloader=train)))
    loader = ASBAHook(probe_dataloader=dict(batch_size=2))._build_probe_loader(runner)
    assert loader.batch_size == 2 and loader.num_workers == 0  # main process by default
    assert [t['type'] for t in loader.dataset.pipeline_cfg] == ['SampleMGWindow']


def test_probe_needs_a_config_or_a_loader():
    asba = rare_class_transform()
    runner = make_runner(IntensityDataset(asba, 0, 2, [100, 10]), probe=None)
    with pytest.raises(ValueError, match='pass probe_dataloader'):
        ASBAHook().before_train(runner)


# ---------------------------------------------------------- distributed
def _rank_main(rank, init_file, rates, out_dir):
    torch.distributed.init_process_group(
        'gloo', init_method=f'file://{init_file}', rank=rank, world_size=2
    )
    asba = ASBATransform(num_classes=2, initial_difficulty=0.5, **NO_AUG)
    asba.set_class_counts([10, 5])
    runner = make_runner(IntensityDataset(asba, 0, 2, [10, 5]), probe=None)
    hook = ASBAHook(interval=1, momentum=1.0, probe_dataloader=probe_loader(rates[rank]))
    hook.before_train(runner)
    hook.after_train_iter(runner, batch_idx=0)
    np.save(osp.join(out_dir, f'rank{rank}.npy'), asba.difficulty)
    torch.distributed.destroy_process_group()


def test_ranks_all_reduce_before_publishing(tmp_path):
    # rank 0 detects class 0 well, rank 1 badly; 10 frames per class on each rank.
    rates = {0: [0.8, 0.5], 1: [0.2, 0.0]}
    context = multiprocessing.get_context('fork')
    procs = [
        context.Process(target=_rank_main, args=(r, str(tmp_path / 'init'), rates, str(tmp_path)))
        for r in range(2)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    per_rank = [np.load(tmp_path / f'rank{r}.npy') for r in range(2)]
    # global detection: class 0 = 10/20, class 1 = 5/20; momentum 1 -> the miss rate
    np.testing.assert_allclose(per_rank[0], [0.5, 0.75])
    np.testing.assert_allclose(per_rank[1], per_rank[0])


# ------------------------------------------------------------- checkpoints
def test_difficulty_state_survives_a_checkpoint_round_trip(tmp_path):
    asba = rare_class_transform()
    runner = make_runner(IntensityDataset(asba, 1, 2, [100, 10]), probe=None)
    hook = ASBAHook(interval=100, momentum=0.5, probe_dataloader=probe_loader([1.0, 0.3]))
    hook.before_train(runner)
    hook.after_train_epoch(runner)
    checkpoint = {'meta': {}}
    hook.before_save_checkpoint(runner, checkpoint)
    torch.save(checkpoint, tmp_path / 'epoch_1.pth')

    # A fresh process: new transform at the neutral value, new hook.
    resumed_asba = rare_class_transform()
    resumed_runner = make_runner(IntensityDataset(resumed_asba, 1, 2, [100, 10]), probe=None)
    resumed_hook = ASBAHook(interval=100, momentum=0.5, probe_dataloader=probe_loader([1.0, 0.3]))
    resumed_hook.after_load_checkpoint(
        resumed_runner, torch.load(tmp_path / 'epoch_1.pth', weights_only=True)
    )
    np.testing.assert_allclose(resumed_asba.difficulty, [0.5, 0.5])
    resumed_hook.before_train(resumed_runner)
    # miss rates 0 and 0.7 -> 0.5 * 0.5 + 0.5 * 0 and 0.5 * 0.5 + 0.5 * 0.7
    np.testing.assert_allclose(resumed_asba.difficulty, [0.25, 0.6])
    assert resumed_hook.num_updates == 1
    hook.after_train_epoch(runner)
    resumed_hook.after_train_epoch(resumed_runner)
    np.testing.assert_allclose(resumed_asba.difficulty, asba.difficulty)


def test_corrupt_checkpoint_state_is_named():
    hook = ASBAHook()
    with pytest.raises(ValueError, match=r"checkpoint\['asba_state'\] must hold a tensor"):
        hook.after_load_checkpoint(None, {'asba_state': {'difficulty': [0.5]}})


# ------------------------------------------------------ discovery, counts
def test_transforms_are_found_through_dataset_wrappers_and_nested_pipelines():
    inner = rare_class_transform()
    other = rare_class_transform()
    leaf_a = SimpleNamespace(pipeline=Compose([dict(type='RandomApply', transforms=[inner])]))
    leaf_b = SimpleNamespace(pipeline=Compose([other]))
    wrapped = SimpleNamespace(datasets=[SimpleNamespace(dataset=leaf_a), leaf_b])
    found = [t for t in iter_pipeline_transforms(wrapped) if isinstance(t, ASBATransform)]
    assert found == [inner, other]


def test_hook_fills_class_counts_the_dataset_did_not_give():
    asba = ASBATransform(num_classes=2, **NO_AUG)
    runner = make_runner(IntensityDataset(asba, 1, 2, class_counts=[100, 10]), probe=None)
    assert not asba.has_class_counts
    ASBAHook(probe_dataloader=probe_loader([1.0, 1.0])).before_train(runner)
    assert asba.has_class_counts and asba.rarity[1] > asba.rarity[0]


def test_class_balance_hook_gives_summed_counts_to_every_module_that_takes_them():
    received = []

    class BalancedHead(nn.Module):
        def set_class_counts(self, counts):
            received.append(counts)

    leaf_a = SimpleNamespace(class_counts=[5, 1, 0])
    leaf_b = SimpleNamespace(class_counts=[2, 2, 3])
    dataset = SimpleNamespace(datasets=[SimpleNamespace(dataset=leaf_a), leaf_b])
    assert training_class_counts(dataset) == [7, 3, 3]
    runner = SimpleNamespace(
        train_dataloader=SimpleNamespace(dataset=dataset),
        model=nn.Sequential(BalancedHead(), nn.Linear(1, 1), BalancedHead()),
        logger=MMLogger.get_instance('test_asba_hook'),
    )
    HOOKS.build(dict(type='ClassBalanceHook')).before_train(runner)
    assert received == [[7, 3, 3], [7, 3, 3]]

    runner.model = nn.Linear(1, 1)
    with pytest.raises(RuntimeError, match='no module of the model has set_class_counts'):
        ClassBalanceHook().before_train(runner)
    runner.train_dataloader = SimpleNamespace(dataset=SimpleNamespace(pipeline=None))
    with pytest.raises(AttributeError, match='has no class_counts'):
        ClassBalanceHook().before_train(runner)


# ------------------------------------------------------- logging and plot
def load_plot_tool():
    path = osp.join(REPO_ROOT, 'tools', 'analysis', 'plot_asba.py')
    spec = importlib.util.spec_from_file_location('plot_asba', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_epoch_end_scalars_reach_the_visualizer_and_plot_asba_draws_them(tmp_path):
    work_dir = tmp_path / 'work_dir'
    visualizer = Visualizer.get_instance(
        f'asba_{uuid.uuid4().hex}',
        vis_backends=[dict(type='LocalVisBackend')],
        save_dir=str(work_dir / '20260101_000000'),  # the runner passes its log dir
    )
    asba = rare_class_transform()
    runner = make_runner(IntensityDataset(asba, 1, 2, [100, 10]), probe=None, visualizer=visualizer)
    rates = [0.0, 0.0]
    hook = ASBAHook(momentum=1.0, probe_dataloader=probe_loader(rates))
    hook.before_train(runner)
    expected = {}
    for epoch, rate in enumerate([0.0, 1.0]):
        runner.epoch = epoch
        hook.probe_dataloader.dataset.rates[:] = [rate, rate]
        hook.after_train_epoch(runner)
        expected[epoch + 1] = asba.class_intensity()
    # epoch 1: difficulty 1; epoch 2: difficulty 0 (rarity weight 0.5, range [0, 1])
    np.testing.assert_allclose(expected[1], asba_intensity(asba.rarity, 1.0))
    np.testing.assert_allclose(expected[2], asba_intensity(asba.rarity, 0.0))

    plot_asba = load_plot_tool()
    series = plot_asba.load_asba_scalars(str(work_dir))
    assert sorted(series['intensity']) == [1, 2]
    for epoch, values in expected.items():
        assert series['intensity'][epoch] == pytest.approx({0: values[0], 1: values[1]})
    out = plot_asba.main([str(work_dir), '--out', str(tmp_path / 'asba.png')])
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_plot_asba_reads_a_scalars_file_and_fails_clearly_without_one(tmp_path):
    plot_asba = load_plot_tool()
    vis_dir = tmp_path / 'run' / '20260101_000000' / 'vis_data'
    vis_dir.mkdir(parents=True)
    lines = [
        {'loss': 1.0, 'step': 10},
        {'asba/intensity/class_00': 0.2, 'asba/intensity/class_01': 0.7, 'step': 1},
        {'asba/intensity/class_00': 0.1, 'asba/intensity/class_01': 0.9, 'step': 2},
    ]
    (vis_dir / 'scalars.json').write_text('\n'.join(json.dumps(line) for line in lines) + '\n')
    out = plot_asba.main([str(tmp_path / 'run'), '--class-names', 'folding arms', 'jewelry'])
    assert out == str(tmp_path / 'run' / 'asba_intensity.png')
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    series = plot_asba.load_asba_scalars(str(tmp_path / 'run'))
    assert series['intensity'] == {1: {0: 0.2, 1: 0.7}, 2: {0: 0.1, 1: 0.9}}

    (tmp_path / 'empty').mkdir()
    with pytest.raises(SystemExit, match='no ASBA intensity scalars'):
        plot_asba.main([str(tmp_path / 'empty')])


# ------------------------------------------------------------ real runner
class ToyModel(BaseModel):
    """A 2-class frame classifier following the probe contract."""

    def __init__(self):
        super().__init__()
        self.head = FakeHead(score_thr=0.5)
        self.fc = nn.Linear(1, 2)

    def forward(self, inputs, data_samples=None, mode='loss'):
        logits = self.fc(inputs[:, :1])  # (B, K)
        if mode == 'tensor':
            return logits[:, :, None], None  # (B, K, T=1)
        data_samples = data_samples.reshape(-1)
        return dict(loss=nn.functional.cross_entropy(logits, data_samples))


class ToyWindows(Dataset):
    def __init__(self, asba=None):
        self.pipeline = Compose([asba] if asba else [])
        self.class_counts = [100, 10]
        if asba is not None:
            asba.set_class_counts(self.class_counts)

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        label = idx % 2
        results = self.pipeline(
            dict(
                imgs=[np.zeros((4, 4, 3), np.uint8)],
                gt_segments=np.array([[0.0, 1.0]], np.float32),
                gt_labels=np.array([label]),
                frame_interval=1,
            )
        )
        intensity = torch.tensor([results.get('asba_intensity', 0.0)])
        return dict(inputs=intensity, data_samples=torch.tensor([label]))  # (T=1,) labels


def run_toy_training(work_dir, max_epochs, resume):
    asba = ASBATransform(num_classes=2, **NO_AUG)
    hook = ASBAHook(interval=1, momentum=0.5, probe_dataloader=DataLoader(ToyWindows(), 4))
    runner = Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=DataLoader(ToyWindows(asba), batch_size=4),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.5)),
        custom_hooks=[hook],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        resume=resume,
        default_scope='mmaction',
        experiment_name=f'toy_{max_epochs}_{uuid.uuid4().hex[:6]}',
    )
    runner.train()
    return hook, asba


def test_real_runner_saves_the_state_in_checkpoints_and_resume_restores_it(tmp_path):
    hook, asba = run_toy_training(tmp_path, max_epochs=2, resume=False)
    saved = torch.load(tmp_path / 'epoch_2.pth', weights_only=False)['asba_state']
    np.testing.assert_allclose(saved['difficulty'].numpy(), hook.difficulty.numpy())
    np.testing.assert_allclose(asba.difficulty, hook.difficulty.numpy())
    assert saved['num_updates'] == 2 * (2 + 1)  # 2 iterations + the epoch end, per epoch
    assert not np.allclose(saved['difficulty'].numpy(), 0.5)  # it did move

    resumed_hook, resumed_asba = run_toy_training(tmp_path, max_epochs=3, resume=True)
    # Resumed at epoch 2 from the saved state, then 3 more updates.
    assert resumed_hook.num_updates == saved['num_updates'] + 3
    series = load_plot_tool().load_asba_scalars(str(tmp_path))
    assert sorted(series['intensity']) == [1, 2, 3]
    assert series['difficulty'][2] == pytest.approx(dict(enumerate(saved['difficulty'].tolist())))
    np.testing.assert_allclose(resumed_asba.difficulty, resumed_hook.difficulty.numpy())
