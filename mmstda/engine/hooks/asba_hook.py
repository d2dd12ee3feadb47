"""Feed ASBA's per-class difficulty from the model to the dataloader workers."""

import contextlib
import copy
import random
from collections.abc import Iterator

import numpy as np
import torch
from mmaction.registry import HOOKS
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from mmstda.datasets.transforms.asba import ASBATransform
from mmstda.models.heads import AnchorFreeTADHead

from .dataset_utils import iter_leaf_datasets, iter_pipeline_transforms, training_class_counts

CHECKPOINT_KEY = 'asba_state'
# Keys of the per-epoch scalars, as written to the visualizer backends
# (``vis_data/scalars.json``, TensorBoard); ``plot_asba.py`` reads them back.
INTENSITY_SCALAR = 'asba/intensity/class_{:02d}'
DIFFICULTY_SCALAR = 'asba/difficulty/class_{:02d}'


def frame_detection_counts(
    cls_scores: torch.Tensor, frame_labels: torch.Tensor, score_thr: float, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class counts of ground-truth foreground frames and of detected ones.

    A frame of class k counts as detected only when the decoder would open a
    run of class k there: its score for k clears ``score_thr`` *and* k is the
    top-scoring class. A frame whose true class wins the arg-max at p = 3e-4 is
    a miss, not a hit.

    Args:
        cls_scores (Tensor): Class probabilities ``(B, K, T)``.
        frame_labels (Tensor): Frame labels ``(B, T)``, K (or more) for
            background.
        score_thr (float): The decoder's score threshold.
        num_classes (int): K.

    Returns:
        tuple[Tensor, Tensor]: ``detected`` and ``total``, float64 ``(K,)``.
    """
    if cls_scores.dim() != 3 or cls_scores.shape[0::2] != frame_labels.shape:
        raise ValueError(
            f'class scores {tuple(cls_scores.shape)} do not match frame labels '
            f'{tuple(frame_labels.shape)}: expected (B, K, T) and (B, T)'
        )
    labels = frame_labels.reshape(-1).to(cls_scores.device).long()
    scores = cls_scores.transpose(1, 2).reshape(labels.numel(), -1)
    foreground = (labels >= 0) & (labels < num_classes)
    labels, scores = labels[foreground], scores[foreground]
    top_score, top_class = scores.max(dim=1)
    detected = (top_class == labels) & (top_score >= score_thr)
    total = torch.bincount(labels, minlength=num_classes).double()
    hits = torch.bincount(labels[detected], minlength=num_classes).double()
    return hits.cpu(), total.cpu()


def _check_threshold(name: str, value: float) -> None:
    """Raise unless ``value`` is a number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
        raise ValueError(f'{name} must be a number in (0, 1), got {value!r}')


def ema_difficulty(
    difficulty: torch.Tensor, detected: torch.Tensor, total: torch.Tensor, momentum: float
) -> torch.Tensor:
    """Move each class seen in the measurement towards its miss rate.

    ``d <- (1 - momentum) * d + momentum * (1 - detected / total)`` for classes
    with ``total > 0``; the others keep their value.

    Returns:
        Tensor: The new difficulty, same shape as ``difficulty``.
    """
    seen = total > 0
    new = difficulty.clone()
    miss_rate = (1.0 - detected[seen] / total[seen]).clamp(0.0, 1.0)
    new[seen] = (1.0 - momentum) * difficulty[seen] + momentum * miss_rate
    return new


def _without_asba(cfg):
    """A copy of a dataloader config whose pipelines have no ASBATransform."""
    if isinstance(cfg, dict):
        return {
            key: (
                [_without_asba(t) for t in value if not _is_asba(t)]
                if key in ('pipeline', 'transforms') and isinstance(value, list)
                else _without_asba(value)
            )
            for key, value in cfg.items()
        }
    if isinstance(cfg, list):
        return [_without_asba(v) for v in cfg]
    return copy.deepcopy(cfg)


def _is_asba(transform) -> bool:
    if isinstance(transform, dict):
        kind = transform.get('type')
        return kind is ASBATransform or (
            isinstance(kind, str) and kind.split('.')[-1] == 'ASBATransform'
        )
    return isinstance(transform, ASBATransform)


@contextlib.contextmanager
def _seeded_rng(seed: int) -> Iterator[None]:
    """Run a block under fixed Python/numpy/torch seeds, then restore the
    training's random streams as they were."""
    py_state, np_state = random.getstate(), np.random.get_state()
    cuda = [torch.cuda.current_device()] if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=cuda):
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


@HOOKS.register_module()
class ASBAHook(Hook):
    """Publish per-class detection difficulty to every :class:`ASBATransform`.

    **Signal.** Every ``interval`` training iterations and at each epoch end,
    the hook *probes* the model: in eval mode, without gradients, on
    ``probe_batches`` batches of training windows that went through the
    training pipeline **without** ``ASBATransform``. Each ground-truth
    foreground frame of class k counts as detected only when the class score
    clears the decoding threshold and k is the top class
    (:func:`frame_detection_counts`); the measured difficulty is the frame
    miss rate ``1 - detected_k / frames_k``. Counts are all-reduced over the
    ranks (every rank probes the same number of batches), then each class
    with frames moves its difficulty by EMA (:func:`ema_difficulty`); a class
    without frames in the probe keeps its value. Before any update the
    difficulty is the transforms' neutral ``initial_difficulty``.

    **Why it is measured this way.**

    - *At the threshold, top class only*: that is when the decoder turns a
      frame into a detection, so the signal is the detector's recall, which
      F1 scores, not the confusion between classes on ground-truth frames.
    - *In eval mode on windows ASBA did not touch*: a measurement on the
      augmented training batch (with dropout on) makes a harder-augmented
      class look harder, which raises its augmentation further: a feedback
      loop that ends at a difficulty set by ASBA itself. On un-augmented
      windows the measurement does not depend on ASBA's intensity, so the
      difficulty tracks how well the model detects each class on the kind of
      data it is tested on, and it converges when every class is equally
      easy (tests simulate both loops).
    - *A separate probe instead of the loss*: the loss of the training batch
      has the same augmentation dependence, and its scale (focal loss) has no
      fixed meaning in [0, 1].
    - *Cost*: ``probe_batches`` forward passes (no backward) every
      ``interval`` iterations: with the defaults 2 forwards per 50 training
      steps (each a forward and a backward), about 1.5% of the model's
      compute, plus loading the probe windows in the main process.
    - *Coverage*: a class is measured when probe windows contain its frames,
      so the rarest classes update less often (they keep their value in
      between). The probe follows the training sampler's settings (e.g.
      ``SampleMGWindow``'s gesture-centred ratio); ``probe_dataloader`` can
      change them, or ``probe_batches`` can grow.

    **Determinism.** Probe ``n`` reshuffles the probe sampler with epoch
    ``n`` (``set_epoch``), so successive probes see different windows, and
    runs the probe pipeline under the seed ``seed + n``, restoring the
    training's Python/numpy/torch random states afterwards. A probe is thus a
    function of the model and of ``n`` (saved in checkpoints): it leaves the
    training's random streams untouched, and a resumed run probes exactly as
    an uninterrupted one.

    **Probe data.** By default, the training dataloader config
    (``runner.cfg.train_dataloader``) with every ``ASBATransform`` removed
    from its pipelines, ``num_workers=0`` and ``persistent_workers=False``;
    ``probe_dataloader`` (a dict) overrides any of its keys, or replaces it
    (a built ``DataLoader``). Other training augmentations stay: they do not
    depend on the class state, so they cannot feed back.

    **Threshold.** ``score_thr`` when given, for any head. Otherwise, read at
    each probe, the score at which the head calls a detection:

    - :class:`OnlineTADHead` (and any other head): ``test_cfg['score_thr']``,
      the threshold at which its decoder opens a run of frames.
    - :class:`AnchorFreeTADHead`: ``anchor_free_score_thr``. Its
      ``test_cfg['score_thr']`` (0.001 by default) only pre-filters the
      candidates handed to NMS, and the threshold that calls a detection is
      chosen afterwards by the validation sweep (the operating point). At
      0.001 a frame scored 0.002 would count as detected, so the difficulty
      would drop to 0 for every class the model barely ranks first. The
      default 0.3 is the online head's decoding threshold and the middle of
      the afhead configs' sweeps; a fixed value keeps the signal from jumping
      when the operating point moves between validations.

    **Model contract.** ``model(**model.data_preprocessor(batch, False),
    mode='tensor')`` returns per-frame class logits ``(B, K, T)`` first
    (sigmoid scores, as ``OnlineTADHead``), and ``model.head.get_targets
    (data_samples, T)`` returns per-frame labels ``(B, T)`` first (K for
    background).

    **Publishing.** The transforms are found in the training dataloader's
    dataset pipeline (through ``RepeatDataset``/``ConcatDataset``-style
    wrappers and nested ``Compose``). Each transform keeps its state in
    ``torch`` tensors moved to shared memory when it is built, in the main
    process, before the dataloader starts its workers. The hook copies new
    values into those tensors in place, so forked workers (the Linux default)
    and persistent workers read them on their next sample; with
    ``spawn``/``forkserver`` the DataLoader passes shared tensors by handle.
    At ``before_train`` the hook checks that the transforms it will update
    are those the workers receive and that their state is in shared memory.
    A deep copy breaks this silently (mmengine deep-copies a dataloader dict
    that holds a built dataset object), so the hook then raises an error
    saying what to change. Samples already prefetched when an update lands
    keep the old intensity.

    **Logging.** At each epoch end the per-class intensity and difficulty go
    to the logger and to ``runner.visualizer.add_scalars`` as
    ``asba/intensity/class_KK`` and ``asba/difficulty/class_KK`` with the
    (1-based) epoch as step (TensorBoard, ``vis_data/scalars.json``, read by
    ``tools/analysis/plot_asba.py``).

    **Checkpoints.** The difficulty and the update count are saved under
    ``checkpoint['asba_state']`` and restored by ``after_load_checkpoint``
    (resume or ``load_from``), then published when training starts.

    If the dataset has not given the transforms its class counts, the hook
    passes ``dataset.class_counts`` at ``before_train``.

    Args:
        interval (int): Training iterations between probes, besides the one at
            each epoch end. Defaults to 50.
        momentum (float): EMA weight of the newest measurement, in (0, 1].
            Defaults to 0.3.
        probe_batches (int): Batches per probe. Defaults to 2.
        score_thr (float, optional): Threshold in (0, 1) at which a frame
            counts as detected, for any head; None takes the head's (see
            Threshold). Defaults to None.
        anchor_free_score_thr (float): Threshold in (0, 1) for an
            :class:`AnchorFreeTADHead` when ``score_thr`` is None (its
            ``test_cfg['score_thr']`` is a candidate filter, not a detection
            threshold). Defaults to 0.3.
        probe_dataloader (dict | DataLoader, optional): Overrides of the probe
            dataloader config, or a built dataloader. Defaults to None.
    """

    priority = 'NORMAL'  # before CheckpointHook (VERY_LOW): saves include the epoch-end update

    def __init__(
        self,
        interval: int = 50,
        momentum: float = 0.3,
        probe_batches: int = 2,
        score_thr: float | None = None,
        probe_dataloader: dict | DataLoader | None = None,
        anchor_free_score_thr: float = 0.3,
    ) -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be a positive int, got {interval!r}')
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f'momentum must be in (0, 1], got {momentum}')
        if not isinstance(probe_batches, int) or probe_batches < 1:
            raise ValueError(f'probe_batches must be a positive int, got {probe_batches!r}')
        # 0 would count every top-scoring frame as detected and 1 none: the
        # difficulty would then say nothing about the model.
        if score_thr is not None:
            _check_threshold('score_thr', score_thr)
        _check_threshold('anchor_free_score_thr', anchor_free_score_thr)
        self.interval = interval
        self.momentum = float(momentum)
        self.probe_batches = probe_batches
        self.score_thr = None if score_thr is None else float(score_thr)
        self.anchor_free_score_thr = float(anchor_free_score_thr)
        self.probe_dataloader = probe_dataloader
        self.num_updates = 0
        self._transforms: list[ASBATransform] = []
        self._difficulty: torch.Tensor | None = None  # (K,) float64, CPU
        self._probe_loader: DataLoader | None = None
        self._seed = 0

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

    @staticmethod
    def _check_shared(runner, transforms: list[ASBATransform]) -> None:
        """Fail loudly when the workers would not see the updates."""
        loader = runner.train_dataloader
        num_workers = getattr(loader, 'num_workers', 0)
        if num_workers == 0:
            return  # the main process reads the very objects the hook updates
        for transform in transforms:
            private = [n for n, t in transform.shared_tensors.items() if not t.is_shared()]
            if private:
                raise RuntimeError(
                    f'ASBAHook: the ASBATransform in the training dataset '
                    f'({type(loader.dataset).__name__}) holds its {", ".join(private)} outside '
                    f'shared memory, so its {num_workers} dataloader workers would keep stale '
                    'intensities. The dataset was copied after the transform was built, e.g. '
                    'a built dataset passed as train_dataloader=dict(dataset=<object>), which '
                    'mmengine deep-copies. Pass the dataset as a config dict '
                    '(dataset=dict(type=..., pipeline=[...])), or pass a built DataLoader '
                    'to the Runner, or set num_workers=0.'
                )

    def _build_probe_loader(self, runner) -> DataLoader:
        if isinstance(self.probe_dataloader, DataLoader):
            return self.probe_dataloader
        train_cfg = (getattr(runner, 'cfg', None) or {}).get('train_dataloader')
        if not isinstance(train_cfg, dict):
            raise ValueError(
                'ASBAHook derives its probe dataloader from the config key train_dataloader, '
                f'which is {type(train_cfg).__name__} here; pass probe_dataloader (a dataloader '
                'config without ASBATransform, or a built DataLoader)'
            )
        if not isinstance(train_cfg.get('dataset'), dict):
            raise ValueError(
                'ASBAHook cannot remove ASBATransform from a built training dataset; pass '
                'probe_dataloader (a dataloader config without ASBATransform, or a DataLoader)'
            )
        cfg = _without_asba(train_cfg.to_dict() if hasattr(train_cfg, 'to_dict') else train_cfg)
        cfg.update(num_workers=0, persistent_workers=False)
        cfg.pop('prefetch_factor', None)
        cfg = _without_asba({**cfg, **(self.probe_dataloader or {})})
        if not cfg.get('num_workers'):
            cfg.pop('persistent_workers', None)
        return Runner.build_dataloader(cfg, seed=self._seed)

    def _probe_batches(self) -> Iterator:
        """The batches of probe number ``num_updates`` (see Determinism)."""
        sampler = getattr(self._probe_loader, 'sampler', None)
        if callable(getattr(sampler, 'set_epoch', None)):
            sampler.set_epoch(self.num_updates)
        batches = iter(self._probe_loader)
        for _ in range(self.probe_batches):
            batch = next(batches, None)
            if batch is None:
                return
            yield batch

    def _threshold(self, model) -> float:
        """The score at which the probe counts a frame as detected (see Threshold)."""
        if self.score_thr is not None:
            return self.score_thr
        head = getattr(model, 'head', None)
        if isinstance(head, AnchorFreeTADHead):
            return self.anchor_free_score_thr
        test_cfg = getattr(head, 'test_cfg', None) or {}
        if 'score_thr' not in test_cfg:
            raise ValueError(
                "ASBAHook: score_thr is None and the model has no head.test_cfg['score_thr']; "
                'set ASBAHook(score_thr=...) to the decoding threshold'
            )
        score_thr = float(test_cfg['score_thr'])
        if not 0.0 < score_thr < 1.0:
            raise ValueError(
                f'ASBAHook: the probe threshold comes from {type(head).__name__}.test_cfg'
                f"['score_thr'] = {score_thr}, which must be in (0, 1) to tell detected "
                'frames from missed ones; set ASBAHook(score_thr=...) to the score at which '
                'the head calls a detection'
            )
        return score_thr

    @torch.no_grad()
    def _probe(self, runner) -> tuple[torch.Tensor, torch.Tensor]:
        """Detected and total foreground frames per class on un-augmented windows."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        num_classes = self._difficulty.numel()
        score_thr = self._threshold(model)
        detected = torch.zeros(num_classes, dtype=torch.float64)
        total = torch.zeros(num_classes, dtype=torch.float64)
        was_training = model.training
        # Under mixed precision the probe runs in the training's autocast.
        optim_wrapper = getattr(runner, 'optim_wrapper', None)
        amp = isinstance(optim_wrapper, AmpOptimWrapper)
        model.eval()
        try:
            for batch in self._probe_batches():
                data = model.data_preprocessor(batch, False)
                with optim_wrapper.optim_context(model) if amp else contextlib.nullcontext():
                    cls_logits = model(**data, mode='tensor')[0]
                labels = model.head.get_targets(data['data_samples'], cls_logits.shape[-1])[0]
                hits, frames = frame_detection_counts(
                    cls_logits.float().sigmoid(), labels, score_thr, num_classes
                )
                detected += hits
                total += frames
        finally:
            model.train(was_training)
        return detected, total

    def _publish(self) -> None:
        for transform in self._transforms:
            transform.set_difficulty(self._difficulty)

    def _update(self, runner) -> None:
        with _seeded_rng(self._seed + self.num_updates):
            detected, total = self._probe(runner)
        sums = torch.stack([detected, total])
        dist.all_reduce(sums, op='sum')
        self._difficulty = ema_difficulty(self._difficulty, *sums.cpu(), self.momentum)
        self.num_updates += 1
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
        """Find and check the transforms, build the probe, publish the difficulty."""
        self._transforms = self._find_transforms(runner)
        if not self._transforms:
            runner.logger.warning(
                'ASBAHook found no ASBATransform in the training pipeline; it does nothing.'
            )
            return
        self._check_shared(runner, self._transforms)
        num_classes = self._transforms[0].num_classes
        if self._difficulty is None:
            self._difficulty = torch.from_numpy(self._transforms[0].difficulty)
        elif self._difficulty.numel() != num_classes:
            raise ValueError(
                f'the restored ASBA difficulty has {self._difficulty.numel()} classes, the '
                f'ASBATransform has num_classes={num_classes}'
            )
        self._seed = int(getattr(runner, 'seed', None) or 0)
        self._probe_loader = self._build_probe_loader(runner)
        self._publish()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Probe the model every ``interval`` iterations."""
        if self._transforms and self.every_n_train_iters(runner, self.interval):
            self._update(runner)

    def after_train_epoch(self, runner) -> None:
        """Probe at the epoch end, then log the per-class intensity."""
        if not self._transforms:
            return
        self._update(runner)
        self._log(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the difficulty state in ``checkpoint['asba_state']``."""
        if self._difficulty is None:
            return
        checkpoint[CHECKPOINT_KEY] = dict(
            difficulty=self._difficulty.clone(), num_updates=self.num_updates
        )

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore the difficulty state; it is published at ``before_train``."""
        state = checkpoint.get(CHECKPOINT_KEY)
        if state is None:
            return
        try:
            self._difficulty = state['difficulty'].detach().cpu().to(torch.float64).clone()
            self.num_updates = int(state['num_updates'])
        except (KeyError, AttributeError, TypeError) as err:
            raise ValueError(
                f"checkpoint['{CHECKPOINT_KEY}'] must hold a tensor 'difficulty' and an int "
                f"'num_updates', got {state!r}"
            ) from err
        if self._transforms:
            self._publish()
