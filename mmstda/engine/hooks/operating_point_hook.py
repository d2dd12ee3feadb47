"""Store the score threshold chosen on validation in every checkpoint."""

from mmaction.registry import HOOKS
from mmengine.hooks import Hook

from mmstda.utils.operating_point import check_operating_point, make_operating_point


@HOOKS.register_module()
class OperatingPointHook(Hook):
    """Keep the validation-chosen score threshold with the weights.

    After each validation it reads the threshold sweep of
    :class:`MicroGestureF1Metric` (``<prefix>/best_score_thr`` and
    ``<prefix>/best_f1``, reported when the val evaluator has
    ``sweep_thresholds``). When the ranking ``metric`` is the best so far, that
    epoch's threshold becomes the operating point. Every checkpoint saved from
    then on carries it as ``checkpoint['meta']['operating_point'] =
    dict(score_thr, val_f1, epoch, metric)`` in plain Python values, so the
    checkpoint stays loadable with ``weights_only=True``. The best checkpoint
    (``CheckpointHook(save_best=metric)``) therefore holds its own epoch's
    threshold; ``tools/test.py``, ``tools/online_infer.py`` and
    ``init_online_recognizer`` use it by default.

    The hook runs before ``CheckpointHook`` (priority NORMAL against its
    VERY_LOW), so the best checkpoint of an epoch already holds that epoch's
    threshold. A resumed run takes the operating point back from the checkpoint.

    Args:
        metric (str): Validation metric that ranks epochs; use the same key as
            ``CheckpointHook``'s ``save_best``. Defaults to ``'mg/f1'``.
        rule (str): ``'greater'`` or ``'less'``: which direction is better.
            Defaults to ``'greater'``.
    """

    priority = 'NORMAL'

    def __init__(self, metric: str = 'mg/f1', rule: str = 'greater') -> None:
        if rule not in ('greater', 'less'):
            raise ValueError(f"rule must be 'greater' or 'less', got {rule!r}")
        self.metric = metric
        self.rule = rule
        prefix = metric.rsplit('/', 1)[0] + '/' if '/' in metric else ''
        self.thr_key = f'{prefix}best_score_thr'
        self.f1_key = f'{prefix}best_f1'
        self.best_value: float | None = None
        self.operating_point: dict | None = None
        self._warned = False

    def _better(self, value: float) -> bool:
        if self.best_value is None:
            return True
        return value > self.best_value if self.rule == 'greater' else value < self.best_value

    def after_val_epoch(self, runner, metrics: dict | None = None) -> None:
        metrics = metrics or {}
        missing = [k for k in (self.metric, self.thr_key, self.f1_key) if k not in metrics]
        if missing:
            if not self._warned:
                runner.logger.warning(
                    f'OperatingPointHook: validation reported no {missing}; no operating '
                    'point is stored. Give the val evaluator (MicroGestureF1Metric) '
                    'sweep_thresholds=[...] to choose the score threshold on validation.'
                )
                self._warned = True
            return
        value = float(metrics[self.metric])
        if not self._better(value):
            return
        self.best_value = value
        self.operating_point = make_operating_point(
            metrics[self.thr_key], metrics[self.f1_key], runner.epoch, self.metric
        )
        runner.logger.info(
            f'Operating point: score_thr={self.operating_point["score_thr"]} '
            f'(val F1 {self.operating_point["val_f1"]:.4f}, epoch {runner.epoch}); '
            'stored in the checkpoints from now on'
        )

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.operating_point is not None:
            checkpoint.setdefault('meta', {})['operating_point'] = dict(self.operating_point)
            checkpoint['meta']['operating_point_best_value'] = float(self.best_value)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta') or {}
        if meta.get('operating_point') is None:
            return
        self.operating_point = check_operating_point(meta['operating_point'], 'resumed checkpoint')
        best_value = meta.get('operating_point_best_value')
        self.best_value = None if best_value is None else float(best_value)
