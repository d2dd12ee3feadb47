"""Feed ASBA's per-class difficulty from the model to the dataloader workers."""

import torch
from mmaction.registry import HOOKS
from mmengine import dist
from mmengine.hooks import Hook

from mmstda.datasets.transforms.asba import ASBATransform

from .dataset_utils import iter_leaf_datasets, iter_pipeline_transforms, training_class_counts

CHECKPOINT_KEY = 'asba_state'
# Keys of the per-epoch scalars, as written to the visualizer backends
# (``vis_data/scalars.json``, TensorBoard); ``plot_asba.py`` reads them back.
INTENSITY_SCALAR = 'asba/intensity/class_{:02d}'
DIFFICULTY_SCALAR = 'asba/difficulty/class_{:02d}'


@HOOKS.register_module()
class ASBAHook(Hook):
    """Publish per-class learning difficulty to every :class:`ASBATransform`.

    **Signal.** After each training iteration the hook reads, from every
    submodule of the model that has one, the ``class_stats`` dict
    (``correct``, ``total``: FloatTensors ``(K,)``, frame-level counts over the
    batch's foreground frames) that the head stores in ``loss()``. It sums them
    until the next update. A stats dict already read (the same object) is not
    counted twice.

    **Update.** Every ``interval`` iterations and at each epoch end the sums
    are all-reduced over the ranks (``mmengine.dist``, a no-op without
    distributed training; every rank calls it at the same iterations), giving
    the same ``recall = correct / total`` on all ranks. Each class with frames
    in the period moves its difficulty by EMA:
    ``d <- (1 - momentum) * d + momentum * (1 - recall)``; a class without
    frames keeps its value. Before any update the difficulty is the
    transforms' neutral ``initial_difficulty``.

    **Publishing.** The transforms are found in the training dataloader's
    dataset pipeline (through ``RepeatDataset``/``ConcatDataset``-style
    wrappers and nested ``Compose``). Each transform keeps its difficulty in a
    ``torch`` tensor moved to shared memory when the transform is built, in the
    main process, before the dataloader starts its workers. The hook copies the
    new values into that tensor in place, so forked workers (the Linux default)
    and persistent workers read them on their next sample, with no file or
    queue polling. With the ``spawn``/``forkserver`` start methods, the
    DataLoader sends the dataset to its workers with torch's multiprocessing
    pickler, which passes shared tensors by handle, so sharing also holds; it
    is lost only if a worker re-builds its pipeline from the config. Samples
    already prefetched when an update lands keep the old intensity; later ones
    use the new one, so the transforms see every update within the epoch.
    Under distributed training every rank publishes the same all-reduced
    values to its own workers.

    **Logging.** At each epoch end the per-class intensity and difficulty go to
    the logger and to ``runner.visualizer.add_scalars`` as
    ``asba/intensity/class_KK`` and ``asba/difficulty/class_KK`` with the
    (1-based) epoch as step, so they show in TensorBoard and in
    ``vis_data/scalars.json``, where ``tools/analysis/plot_asba.py`` reads them.

    **Checkpoints.** The difficulty, the pending sums and the update count are
    saved under ``checkpoint['asba_state']`` and restored by
    ``after_load_checkpoint`` (resume or ``load_from``), then published when
    training starts.

    If the dataset has not given the transforms its class counts, the hook
    passes ``dataset.class_counts`` at ``before_train``.

    Args:
        interval (int): Training iterations between updates, besides the one at
            each epoch end. Defaults to 50.
        momentum (float): EMA weight of the newest measurement, in (0, 1].
            Defaults to 0.3.
    """

    priority = 'NORMAL'  # before CheckpointHook (VERY_LOW): saves include the epoch-end update

    def __init__(self, interval: int = 50, momentum: float = 0.3) -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be a positive int, got {interval!r}')
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f'momentum must be in (0, 1], got {momentum}')
        self.interval = interval
        self.momentum = float(momentum)
        self.num_updates = 0
        self._transforms: list[ASBATransform] = []
        self._difficulty: torch.Tensor | None = None  # (K,) float64, CPU
        self._correct: torch.Tensor | None = None  # (K,) float64, on the stats' device
        self._total: torch.Tensor | None = None
        self._last_stats: dict[str, object] = {}

    # --------------------------------------------------------------- helpers
    @property
    def difficulty(self) -> torch.Tensor | None:
        """The current per-class difficulty ``(K,)``, None before training starts."""
        return None if self._difficulty is None else self._difficulty.clone()

    def _find_transforms(self, runner) -> list[ASBATransform]:
        dataset = runner.train_dataloader.dataset
        transforms = [t for t in iter_pipeline_transforms(dataset) if isinstance(t, ASBATransform)]
        sizes = {t.num_classes for t in transforms}
        if len(sizes) > 1:
            raise ValueError(
                f'ASBATransforms in the training pipeline disagree on num_classes: {sizes}'
            )
        missing = [t for t in transforms if not t.has_class_counts]
        if missing:
            counts = training_class_counts(dataset)
            for transform in missing:
                transform.set_class_counts(counts)
        return transforms

    def _publish(self) -> None:
        for transform in self._transforms:
            transform.set_difficulty(self._difficulty)

    def _reset_sums(self) -> None:
        device = self._correct.device
        self._correct = torch.zeros_like(self._difficulty, device=device)
        self._total = torch.zeros_like(self._difficulty, device=device)

    def _collect(self, model: torch.nn.Module) -> None:
        num_classes = self._difficulty.numel()
        for name, module in model.named_modules():
            stats = getattr(module, 'class_stats', None)
            if stats is None or self._last_stats.get(name) is stats:
                continue
            self._last_stats[name] = stats
            try:
                correct, total = stats['correct'].detach(), stats['total'].detach()
            except (TypeError, KeyError) as err:
                raise TypeError(
                    f'{name or "model"}.class_stats must be a dict with FloatTensors '
                    f"'correct' and 'total' of shape ({num_classes},), got {type(stats)}"
                ) from err
            if correct.shape != (num_classes,) or total.shape != (num_classes,):
                raise ValueError(
                    f'{name or "model"}.class_stats has shapes correct {tuple(correct.shape)}, '
                    f'total {tuple(total.shape)}; the ASBATransform expects ({num_classes},)'
                )
            if self._correct.device != correct.device:
                self._correct = self._correct.to(correct.device)
                self._total = self._total.to(correct.device)
            self._correct += correct.to(torch.float64)
            self._total += total.to(torch.float64)

    def _update(self) -> None:
        sums = torch.stack([self._correct, self._total])
        dist.all_reduce(sums, op='sum')
        correct, total = sums.cpu()
        seen = total > 0
        measured = 1.0 - correct[seen] / total[seen]
        self._difficulty[seen] = (1.0 - self.momentum) * self._difficulty[
            seen
        ] + self.momentum * measured.clamp(0.0, 1.0)
        self.num_updates += 1
        self._reset_sums()
        self._publish()

    def _log(self, runner) -> None:
        intensity = self._transforms[0].class_intensity()
        difficulty = self._difficulty.tolist()
        epoch = runner.epoch + 1
        scalars = {INTENSITY_SCALAR.format(k): float(v) for k, v in enumerate(intensity)}
        scalars.update({DIFFICULTY_SCALAR.format(k): float(v) for k, v in enumerate(difficulty)})
        runner.visualizer.add_scalars(scalars, step=epoch)
        classes = None
        for leaf in iter_leaf_datasets(runner.train_dataloader.dataset):
            classes = (getattr(leaf, 'metainfo', None) or {}).get('classes')
            break
        names = list(classes) if classes else [str(k) for k in range(len(intensity))]
        table = ', '.join(
            f'{name}: {i:.3f} (difficulty {d:.3f})'
            for name, i, d in zip(names, intensity, difficulty)
        )
        runner.logger.info(f'ASBA epoch {epoch} intensity per class: {table}')

    # ----------------------------------------------------------------- hooks
    def before_train(self, runner) -> None:
        """Find the transforms, then publish the initial or restored difficulty."""
        self._transforms = self._find_transforms(runner)
        if not self._transforms:
            runner.logger.warning(
                'ASBAHook found no ASBATransform in the training pipeline; it does nothing.'
            )
            return
        num_classes = self._transforms[0].num_classes
        if self._difficulty is None:
            self._difficulty = torch.from_numpy(self._transforms[0].difficulty)
        elif self._difficulty.numel() != num_classes:
            raise ValueError(
                f'the restored ASBA difficulty has {self._difficulty.numel()} classes, the '
                f'ASBATransform has num_classes={num_classes}'
            )
        if self._correct is None:
            self._correct = torch.zeros_like(self._difficulty)
            self._total = torch.zeros_like(self._difficulty)
        self._publish()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Accumulate the head's class statistics; update every ``interval`` iterations."""
        if not self._transforms:
            return
        self._collect(runner.model)
        if self.every_n_train_iters(runner, self.interval):
            self._update()

    def after_train_epoch(self, runner) -> None:
        """Update with what is left of the epoch, then log the per-class intensity."""
        if not self._transforms:
            return
        self._update()
        self._log(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the difficulty state in ``checkpoint['asba_state']``."""
        if self._difficulty is None:
            return
        checkpoint[CHECKPOINT_KEY] = dict(
            difficulty=self._difficulty.clone(),
            correct=self._correct.detach().cpu().clone(),
            total=self._total.detach().cpu().clone(),
            num_updates=self.num_updates,
        )

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore the difficulty state; it is published at ``before_train``."""
        state = checkpoint.get(CHECKPOINT_KEY)
        if state is None:
            return
        try:
            self._difficulty = state['difficulty'].detach().cpu().to(torch.float64).clone()
            self._correct = state['correct'].detach().cpu().to(torch.float64).clone()
            self._total = state['total'].detach().cpu().to(torch.float64).clone()
            self.num_updates = int(state['num_updates'])
        except (KeyError, AttributeError, TypeError) as err:
            raise ValueError(
                f"checkpoint['{CHECKPOINT_KEY}'] must hold tensors 'difficulty', 'correct', "
                f"'total' and an int 'num_updates', got {state!r}"
            ) from err
        if self._transforms:
            self._publish()
