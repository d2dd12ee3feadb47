"""Save and restore the random number generators with each checkpoint."""

import random

import numpy as np
import torch
from mmaction.registry import HOOKS
from mmengine.hooks import Hook

from .dataset_utils import iter_leaf_datasets


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Make a resumed run draw the same random numbers as an uninterrupted one.

    mmengine seeds the generators when a run starts, so a run resumed from the
    checkpoint of epoch N starts epoch N + 1 from the seed's state, not from where
    the interrupted run was. Window sampling, augmentation (numpy) and dropout
    (torch) then differ. This hook stores the states of Python's ``random``,
    numpy's global generator and torch's CPU (and CUDA) generators in the
    checkpoint under ``random_state`` and restores them on resume. The states are
    plain tensors, arrays and numbers, so loading stays ``weights_only=True``.

    Dataloader workers draw from generators that mmengine seeds once per worker,
    so what a sample draws would depend on the worker's history, which a resume
    restarts. Before each training epoch this hook therefore hands the training
    datasets that support it (``set_sample_seed``, e.g. :class:`SMGDataset`) the
    run's seed and the epoch; they seed each sample's pipeline from
    ``(seed, epoch, index)``.

    PyTorch's DataLoader also draws its workers' base seed from torch's global
    generator each time it creates an iterator: every epoch without persistent
    workers, only the first one with them, so a resumed run would draw once more
    than the run it continues and shift every later dropout mask. Before
    training the hook gives each dataloader without a ``generator`` its own,
    seeded from the run's seed, which leaves the global generator to the model.

    Together, a resumed run equals an uninterrupted one with any ``num_workers``,
    persistent or not, and so does a run with another ``num_workers``.
    """

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        for loader in (runner.train_dataloader, getattr(runner.val_loop, 'dataloader', None)):
            if loader is not None and getattr(loader, 'generator', False) is None:
                loader.generator = torch.Generator().manual_seed(runner.seed)

    def before_train_epoch(self, runner) -> None:
        # Called before the epoch's dataloader iterator exists, so even
        # persistent workers see the new epoch from its first sample on.
        for dataset in iter_leaf_datasets(runner.train_dataloader.dataset):
            if hasattr(dataset, 'set_sample_seed'):
                dataset.set_sample_seed(runner.seed, runner.epoch)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        np_state = np.random.get_state()
        state = dict(
            python=random.getstate(),
            numpy=dict(
                name=np_state[0],
                keys=np_state[1],
                pos=np_state[2],
                has_gauss=np_state[3],
                cached_gaussian=np_state[4],
            ),
            torch=torch.get_rng_state(),
        )
        if torch.cuda.is_available():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint['random_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('random_state')
        if state is None:
            return
        version, internal, gauss = state['python']
        random.setstate((version, tuple(internal), gauss))
        np_state = state['numpy']
        np.random.set_state(
            (
                np_state['name'],
                np_state['keys'],
                np_state['pos'],
                np_state['has_gauss'],
                np_state['cached_gaussian'],
            )
        )
        torch.set_rng_state(state['torch'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])
