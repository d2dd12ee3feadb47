import importlib.util
import json
import multiprocessing
import os
import os.path as osp
import uuid
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmaction.registry import HOOKS
from mmengine.dataset import Compose
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.visualization import Visualizer
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mmstda.datasets.transforms import ASBATransform
from mmstda.engine.hooks import ASBAHook, ClassBalanceHook
from mmstda.engine.hooks.dataset_utils import iter_pipeline_transforms, training_class_counts

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


class FakeHead(nn.Module):
    """Stands in for the online TAD head: stores class_stats in loss()."""

    def __init__(self):
        super().__init__()
        self.class_stats = None

    def loss(self, correct, total):
        self.class_stats = dict(
            correct=torch.tensor(correct, dtype=torch.float32),
            total=torch.tensor(total, dtype=torch.float32),
        )


class FakeModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = FakeHead()


def make_runner(dataset, num_workers=0, visualizer=None, **loader_kwargs):
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
    )


def rare_class_transform(**kwargs):
    # Two classes: class 1 is the rarer, so its rarity is exactly 1.
    asba = ASBATransform(num_classes=2, initial_difficulty=0.5, **NO_AUG, **kwargs)
    asba.set_class_counts([100, 10])
    return asba


# ---------------------------------------------------------- the signal path
def test_difficulty_is_ema_of_one_minus_recall_and_unseen_classes_keep_theirs():
    asba = ASBATransform(num_classes=3, initial_difficulty=0.5, **NO_AUG)
    asba.set_class_counts([30, 20, 10])
    runner = make_runner(IntensityDataset(asba, 0, 4, [30, 20, 10]))
    hook = HOOKS.build(dict(type='ASBAHook', interval=2, momentum=0.5))
    hook.before_train(runner)

    runner.model.head.loss(correct=[1, 0, 0], total=[2, 1, 0])
    hook.after_train_iter(runner, batch_idx=0)  # iteration 1: accumulate only
    np.testing.assert_allclose(asba.difficulty, [0.5, 0.5, 0.5])
    hook.after_train_iter(runner, batch_idx=0)  # same stats object: not counted twice
    runner.iter = 1
    runner.model.head.loss(correct=[1, 0, 0], total=[2, 1, 0])
    hook.after_train_iter(runner, batch_idx=1)  # iteration 2: update
    # recall: class 0 = 2/4 -> d = 0.5*0.5 + 0.5*0.5; class 1 = 0/2 -> 0.5*0.5 + 0.5*1;
    # class 2 had no frames and keeps 0.5.
    np.testing.assert_allclose(asba.difficulty, [0.5, 0.75, 0.5])
    np.testing.assert_allclose(hook.difficulty.numpy(), [0.5, 0.75, 0.5])

    runner.iter = 2
    runner.model.head.loss(correct=[4, 0, 1], total=[4, 0, 1])
    hook.after_train_iter(runner, batch_idx=2)
    hook.after_train_epoch(runner)  # the epoch end publishes the leftover
    np.testing.assert_allclose(asba.difficulty, [0.25, 0.75, 0.25])
    assert hook.num_updates == 2


def test_update_is_seen_by_persistent_workers_in_their_next_batches():
    asba = rare_class_transform()
    dataset = IntensityDataset(asba, label=1, length=12, class_counts=[100, 10])
    runner = make_runner(dataset, num_workers=2, prefetch_factor=1)
    hook = ASBAHook(interval=1, momentum=0.5)
    hook.before_train(runner)

    first_epoch = torch.cat(list(runner.train_dataloader))
    # rarity 1, neutral difficulty 0.5 -> 0.5 * 1 + 0.5 * 0.5
    np.testing.assert_allclose(first_epoch[:, 0], 0.75)
    worker_pids = set(first_epoch[:, 1].long().tolist())
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids

    runner.model.head.loss(correct=[0, 0], total=[0, 5])  # class 1 never recalled
    hook.after_train_iter(runner, batch_idx=0)
    second_epoch = torch.cat(list(runner.train_dataloader))
    # the same worker processes, now at difficulty 0.75 -> 0.5 + 0.5 * 0.75
    assert set(second_epoch[:, 1].long().tolist()) == worker_pids
    np.testing.assert_allclose(second_epoch[:, 0], 0.875)

    # Mid-epoch: batches requested after the update (beyond the 2 * 1 prefetched) see it.
    loader_iter = iter(runner.train_dataloader)
    first_batch = next(loader_iter)
    runner.model.head.loss(correct=[0, 0], total=[0, 5])
    hook.after_train_iter(runner, batch_idx=1)
    rest = torch.cat(list(loader_iter))
    np.testing.assert_allclose(first_batch[:, 0], 0.875)
    # difficulty 0.875 -> 0.5 + 0.5 * 0.875
    np.testing.assert_allclose(rest[2:, 0], 0.9375)


def _rank_main(rank, init_file, stats, out_dir):
    torch.distributed.init_process_group(
        'gloo', init_method=f'file://{init_file}', rank=rank, world_size=2
    )
    asba = ASBATransform(num_classes=2, initial_difficulty=0.5, **NO_AUG)
    asba.set_class_counts([10, 5])
    runner = make_runner(IntensityDataset(asba, 0, 2, [10, 5]))
    hook = ASBAHook(interval=1, momentum=1.0)
    hook.before_train(runner)
    runner.model.head.loss(*stats[rank])
    hook.after_train_iter(runner, batch_idx=0)
    np.save(osp.join(out_dir, f'rank{rank}.npy'), asba.difficulty)
    torch.distributed.destroy_process_group()


def test_ranks_all_reduce_before_publishing(tmp_path):
    # rank 0 sees class 0 well, rank 1 sees it badly; only rank 1 sees class 1.
    stats = {0: ([3, 0], [4, 0]), 1: ([1, 1], [4, 4])}
    context = multiprocessing.get_context('fork')
    procs = [
        context.Process(target=_rank_main, args=(r, str(tmp_path / 'init'), stats, str(tmp_path)))
        for r in range(2)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    per_rank = [np.load(tmp_path / f'rank{r}.npy') for r in range(2)]
    # global recall: class 0 = 4/8, class 1 = 1/4; momentum 1 -> difficulty = 1 - recall
    np.testing.assert_allclose(per_rank[0], [0.5, 0.75])
    np.testing.assert_allclose(per_rank[1], per_rank[0])


# ------------------------------------------------------------- checkpoints
def test_difficulty_state_survives_a_checkpoint_round_trip(tmp_path):
    asba = rare_class_transform()
    runner = make_runner(IntensityDataset(asba, 1, 2, [100, 10]))
    hook = ASBAHook(interval=100, momentum=0.5)
    hook.before_train(runner)
    runner.model.head.loss(correct=[2, 1], total=[2, 4])
    hook.after_train_iter(runner, batch_idx=0)
    hook.after_train_epoch(runner)
    runner.model.head.loss(correct=[1, 0], total=[1, 2])
    hook.after_train_iter(runner, batch_idx=0)  # pending, not yet published
    checkpoint = {'meta': {}}
    hook.before_save_checkpoint(runner, checkpoint)
    torch.save(checkpoint, tmp_path / 'epoch_1.pth')

    # A fresh process: new transform at the neutral value, new hook.
    resumed_asba = rare_class_transform()
    resumed_runner = make_runner(IntensityDataset(resumed_asba, 1, 2, [100, 10]))
    resumed_hook = ASBAHook(interval=100, momentum=0.5)
    resumed_hook.after_load_checkpoint(resumed_runner, torch.load(tmp_path / 'epoch_1.pth'))
    np.testing.assert_allclose(resumed_asba.difficulty, [0.5, 0.5])
    resumed_hook.before_train(resumed_runner)
    # recall 1 and 1/4 -> 0.5 * 0.5 + 0.5 * 0 and 0.5 * 0.5 + 0.5 * 0.75
    np.testing.assert_allclose(resumed_asba.difficulty, [0.25, 0.625])
    assert resumed_hook.num_updates == 1
    # The pending sums came back too: both runs now make the same next update.
    hook.after_train_epoch(runner)
    resumed_hook.after_train_epoch(resumed_runner)
    np.testing.assert_allclose(resumed_asba.difficulty, asba.difficulty)
    np.testing.assert_allclose(resumed_asba.difficulty, [0.125, 0.8125])


def test_corrupt_checkpoint_state_is_named():
    hook = ASBAHook()
    with pytest.raises(ValueError, match=r"checkpoint\['asba_state'\] must hold tensors"):
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
    runner = make_runner(IntensityDataset(asba, 1, 2, class_counts=[100, 10]))
    assert not asba.has_class_counts
    ASBAHook().before_train(runner)
    np.testing.assert_allclose(asba.rarity, [0.0, 1.0])


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
    runner = make_runner(IntensityDataset(asba, 1, 2, [100, 10]), visualizer=visualizer)
    hook = ASBAHook(momentum=1.0)
    hook.before_train(runner)
    expected = {}
    for epoch, recall in enumerate([0.0, 1.0]):
        runner.epoch = epoch
        runner.model.head.loss(correct=[4 * recall, 2 * recall], total=[4, 2])
        hook.after_train_iter(runner, batch_idx=0)
        hook.after_train_epoch(runner)
        expected[epoch + 1] = asba.class_intensity()
    # epoch 1: difficulty 1 -> class 0: 0.5, class 1: 1.0; epoch 2: difficulty 0 -> 0, 0.5
    np.testing.assert_allclose(expected[1], [0.5, 1.0])
    np.testing.assert_allclose(expected[2], [0.0, 0.5])

    plot_asba = load_plot_tool()
    series = plot_asba.load_asba_scalars(str(work_dir))
    assert sorted(series['intensity']) == [1, 2]
    for epoch, values in expected.items():
        assert series['intensity'][epoch] == pytest.approx({0: values[0], 1: values[1]})
    out = plot_asba.main([str(work_dir), '--out', str(tmp_path / 'asba.png')])
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_plot_asba_reads_a_scalars_file_and_fails_clearly_without_one(tmp_path, capsys):
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


def test_update_reaches_spawned_workers_too():
    # Python 3.14 defaults to forkserver on Linux and macOS uses spawn: the
    # shared tensor must travel by handle, not by copy.
    asba = rare_class_transform()
    dataset = IntensityDataset(asba, label=1, length=4, class_counts=[100, 10])
    runner = make_runner(dataset, num_workers=2, multiprocessing_context='spawn')
    hook = ASBAHook(interval=1, momentum=1.0)
    hook.before_train(runner)
    np.testing.assert_allclose(torch.cat(list(runner.train_dataloader))[:, 0], 0.75)
    runner.model.head.loss(correct=[0, 5], total=[0, 5])  # class 1 always recalled
    hook.after_train_iter(runner, batch_idx=0)
    # difficulty 0 -> 0.5 * 1 + 0.5 * 0
    np.testing.assert_allclose(torch.cat(list(runner.train_dataloader))[:, 0], 0.5)


class ToyModel(BaseModel):
    """A 2-class classifier whose head reports class_stats like the online TAD head."""

    def __init__(self):
        super().__init__()
        self.head = FakeHead()
        self.head.fc = nn.Linear(1, 2)

    def forward(self, inputs, labels=None, mode='loss'):
        logits = self.head.fc(inputs[:, :1])
        hits = labels[logits.argmax(-1) == labels]
        self.head.class_stats = dict(
            correct=torch.bincount(hits, minlength=2).float(),
            total=torch.bincount(labels, minlength=2).float(),
        )
        return dict(loss=nn.functional.cross_entropy(logits, labels))


class ToyWindows(Dataset):
    def __init__(self, asba):
        self.pipeline = Compose([asba])
        self.class_counts = [100, 10]
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
        return dict(inputs=torch.tensor([results['asba_intensity']]), labels=label)


def run_toy_training(work_dir, max_epochs, resume):
    asba = ASBATransform(num_classes=2, **NO_AUG)
    runner = Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=DataLoader(ToyWindows(asba), batch_size=4),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.5)),
        custom_hooks=[dict(type='ASBAHook', interval=1, momentum=0.5)],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        resume=resume,
        default_scope='mmaction',
        experiment_name=f'toy_{max_epochs}_{uuid.uuid4().hex[:6]}',
    )
    hook = next(h for h in runner.hooks if isinstance(h, ASBAHook))
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
