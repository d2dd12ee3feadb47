"""A sample's augmentation depends on (seed, epoch, index), not on who loads it."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import ConcatDataset
from torch.utils.data import DataLoader

from mmstda.datasets import SMGDataset
from mmstda.engine.hooks.random_state_hook import RandomStateHook

SPLIT_FILE = 'synthetic_smg.json'
RANDOM_PIPELINE = [
    dict(type='SampleMGWindow', gesture_centred_ratio=0.5, background_ratio=0.1),
    dict(type='TemporalSpeedJitter', prob=0.5),
]


@pytest.fixture
def dataset(tiny_smg):
    return SMGDataset(
        data_root=tiny_smg,
        split='train',
        split_file=SPLIT_FILE,
        window_frames=8,
        frame_interval=2,
        windows_per_video=12,
        pipeline=RANDOM_PIPELINE,
    )


def _windows(loader) -> list[tuple]:
    return [(item['window_start_frame'], tuple(item['frame_inds'])) for item in loader]


def test_same_windows_with_and_without_persistent_workers(dataset):
    in_process = DataLoader(dataset, batch_size=None, num_workers=0)
    workers = DataLoader(dataset, batch_size=None, num_workers=2, persistent_workers=True)
    for epoch in range(2):
        dataset.set_sample_seed(7, epoch)
        want = _windows(in_process)
        # Draws in this process before the workers run must not matter either.
        np.random.rand(17)
        assert _windows(workers) == want, f'epoch {epoch}'


def test_epochs_and_seeds_draw_different_windows(dataset):
    draws = {}
    for seed, epoch in [(7, 0), (7, 1), (8, 0)]:
        dataset.set_sample_seed(seed, epoch)
        draws[seed, epoch] = [dataset[i]['window_start_frame'] for i in range(len(dataset))]
    assert draws[7, 0] != draws[7, 1]
    assert draws[7, 0] != draws[8, 0]


def test_loading_a_sample_leaves_the_global_generators_alone(dataset):
    dataset.set_sample_seed(7, 0)
    np.random.seed(123)
    torch.manual_seed(123)
    numpy_want, torch_want = np.random.rand(3), torch.rand(3)
    np.random.seed(123)
    torch.manual_seed(123)
    dataset[0]
    np.testing.assert_array_equal(np.random.rand(3), numpy_want)
    assert torch.equal(torch.rand(3), torch_want)


def test_without_a_seed_the_global_generator_is_used(dataset):
    # Outside a runner nothing sets the seed: mmengine's per-worker seeding applies.
    np.random.seed(0)
    first = [dataset[i]['window_start_frame'] for i in range(len(dataset))]
    np.random.seed(0)
    assert [dataset[i]['window_start_frame'] for i in range(len(dataset))] == first


def test_random_state_hook_hands_seed_and_epoch_to_wrapped_datasets(dataset):
    runner = SimpleNamespace(
        train_dataloader=SimpleNamespace(dataset=ConcatDataset([dataset])), seed=5, epoch=3
    )
    assert dataset.sample_seed.entropy(4) is None
    RandomStateHook().before_train_epoch(runner)
    assert dataset.sample_seed.entropy(4) == [5, 3, 4]
