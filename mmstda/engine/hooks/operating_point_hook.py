"""Store the score threshold chosen on validation in every checkpoint."""

from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmstda.utils.operating_point import check_operating_point, make_operating_point


def _sweep_thresholds(runner) -> list[float] | None:
    """The ``sweep_thresholds`` of the val evaluator's F1 metric, None without one."""
    evaluator = getattr(runner, 'val_evaluator', None)
    for metric in getattr(evaluator, 'metrics', None) or ():
        thresholds = getattr(metric, 'sweep_thresholds', None)
        if thresholds is not None:
            return list(thresholds)
    return None


@HOOKS.register_module()
class OperatingPointHook(Hook):
    """Keep the validation-chosen score threshold with the weights it was chosen for.

    **One source of truth.** The hook ranks nothing. After each validation it
    takes that validation's threshold sweep (``<prefix>/best_score_thr`` and
    ``<prefix>/best_f1`` from :class:`MicroGestureF1Metric` with
    ``sweep_thresholds``) as the operating point of the weights just validated,
    and every checkpoint saved from then on carries it as
    ``checkpoint['meta']['operating_point'] = dict(score_thr, val_f1, epoch,
    iter, metric)`` (plain Python values, so ``weights_only=True`` loading
    accepts it). The best checkpoint (``CheckpointHook(save_best=...)``, any
    key) is saved right after the validation that made it best, so it holds its
    own threshold whatever ``save_best`` ranks by. A periodic checkpoint is
    saved after its training epoch, before that epoch's validation, so it holds
    the threshold of the previous validation: its ``iter`` differs from the
    checkpoint's ``meta['iter']``, and the tools that read it
    (:func:`mmstda.utils.operating_point.resolve_score_thr`) warn.

    **What is swept.** Before each validation the hook hands the sweep's
    thresholds to the model (``set_score_thr_sweep``, see ``OnlineMGDetector``)
    so that a head whose threshold decides what it decodes (``OnlineTADHead``:
    the run-opening threshold) decodes every window at each of them; after
    validation the model decodes at its own threshold again.

    The hook runs before ``CheckpointHook`` (priority NORMAL against its
    VERY_LOW), so the best checkpoint of an epoch already holds that epoch's
    threshold. A resumed run takes the operating point back from the checkpoint.

    Args:
        metric (str): Any key of the F1 metric, e.g. ``'mg/f1'``: its prefix
            (``'mg/'``) locates the sweep's keys. Defaults to ``'mg/f1'``.
    """

    priority = 'NORMAL'

    def __init__(self, metric: str = 'mg/f1') -> None:
        prefix = metric.rsplit('/', 1)[0] + '/' if '/' in metric else ''
        self.thr_key = f'{prefix}best_score_thr'
        self.f1_key = f'{prefix}best_f1'
        self.operating_point: dict | None = None
        self._warned = False

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_val_epoch(self, runner) -> None:
        setter = getattr(self._model(runner), 'set_score_thr_sweep', None)
        if setter is not None:
            setter(_sweep_thresholds(runner))

    def after_val_epoch(self, runner, metrics: dict | None = None) -> None:
        setter = getattr(self._model(runner), 'set_score_thr_sweep', None)
        if setter is not None:
            setter(None)
        metrics = metrics or {}
        missing = [k for k in (self.thr_key, self.f1_key) if k not in metrics]
        if missing:
            if not self._warned:
                runner.logger.warning(
                    f'OperatingPointHook: validation reported no {missing}; no operating '
                    'point is stored. Give the val evaluator (MicroGestureF1Metric) '
                    'sweep_thresholds=[...] to choose the score threshold on validation.'
                )
                self._warned = True
            return
        self.operating_point = make_operating_point(
            metrics[self.thr_key], metrics[self.f1_key], runner.epoch, self.f1_key, runner.iter
        )
        runner.logger.info(
            f'Operating point of the weights at epoch {runner.epoch} (iter {runner.iter}): '
            f'score_thr={self.operating_point["score_thr"]} '
            f'(val F1 {self.operating_point["val_f1"]:.4f}); stored in the checkpoints '
            'from now on'
        )

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.operating_point is not None:
            checkpoint.setdefault('meta', {})['operating_point'] = dict(self.operating_point)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta') or {}
        if meta.get('operating_point') is None:
            return
        self.operating_point = check_operating_point(meta['operating_point'], 'resumed checkpoint')
