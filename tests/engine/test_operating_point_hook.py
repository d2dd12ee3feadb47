import warnings
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MMLogger

from mmstda.engine.hooks import OperatingPointHook
from mmstda.utils import read_operating_point
from mmstda.utils.operating_point import resolve_score_thr


class _SweepModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = []

    def set_score_thr_sweep(self, thresholds):
        self.calls.append(thresholds)
        return True


def _runner(epoch, iteration=None, sweep=None):
    metric = SimpleNamespace(sweep_thresholds=sweep)
    return SimpleNamespace(
        epoch=epoch,
        iter=epoch * 10 if iteration is None else iteration,
        logger=MMLogger.get_instance('test_operating_point'),
        model=_SweepModel(),
        val_evaluator=SimpleNamespace(metrics=[metric]),
    )


def _val(hook, epoch, f1, best_thr, best_f1):
    metrics = {'mg/f1': f1, 'mg/best_score_thr': best_thr, 'mg/best_f1': best_f1}
    hook.after_val_epoch(_runner(epoch), metrics)


def _save(hook, tmp_path, name, epoch, iteration):
    """Save a checkpoint as mmengine does: meta first, then before_save_checkpoint."""
    checkpoint = dict(meta=dict(epoch=epoch, iter=iteration), state_dict=dict(w=torch.zeros(1)))
    hook.before_save_checkpoint(_runner(epoch, iteration), checkpoint)
    path = str(tmp_path / name)
    torch.save(checkpoint, path)
    return path


def test_best_checkpoint_holds_its_own_validation_threshold_whatever_save_best_ranks(tmp_path):
    # The reproduction from the evaluation issue: the run ranks best checkpoints by
    # another key (save_best='auto' -> mg/precision) than the hook's F1. The old hook
    # kept the threshold of the epoch best by mg/f1 (epoch 2 here) in every later
    # checkpoint, so best_mg_precision_epoch_3.pth carried epoch 2's 0.3.
    hook = OperatingPointHook()
    _val(hook, 2, f1=0.60, best_thr=0.3, best_f1=0.65)
    _val(hook, 3, f1=0.40, best_thr=0.5, best_f1=0.45)  # best by precision, say
    path = _save(hook, tmp_path, 'best_mg_precision_epoch_3.pth', epoch=3, iteration=30)
    # Plain Python values: read back with weights_only=True.
    assert read_operating_point(path) == dict(
        score_thr=0.5, val_f1=0.45, epoch=3, metric='mg/best_f1', iter=30
    )
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # its own weights: no warning
        assert resolve_score_thr(None, path)[0] == 0.5


def test_a_checkpoint_of_other_weights_than_its_threshold_warns(tmp_path):
    # A periodic checkpoint of epoch 4 is saved before epoch 4's validation, so it
    # carries epoch 3's threshold: the tools still use it, with a warning.
    hook = OperatingPointHook()
    _val(hook, 3, f1=0.40, best_thr=0.5, best_f1=0.45)
    path = _save(hook, tmp_path, 'epoch_4.pth', epoch=4, iteration=40)
    with pytest.warns(UserWarning, match=r'holds the weights of epoch 4 .* epoch 3'):
        score_thr, source = resolve_score_thr(None, path)
    assert score_thr == 0.5 and 'WARNING' in source


def test_resume_takes_the_operating_point_back():
    hook = OperatingPointHook()
    _val(hook, 2, f1=0.60, best_thr=0.3, best_f1=0.65)
    resumed = OperatingPointHook()
    resumed.after_load_checkpoint(_runner(2), dict(meta=dict(operating_point=hook.operating_point)))
    assert resumed.operating_point == hook.operating_point


def test_validation_sweeps_the_model_and_ends_the_sweep():
    hook = OperatingPointHook()
    runner = _runner(1, sweep=[0.2, 0.4])
    hook.before_val_epoch(runner)
    hook.after_val_epoch(runner, {'mg/best_score_thr': 0.2, 'mg/best_f1': 0.5})
    assert runner.model.calls == [[0.2, 0.4], None]


def test_no_sweep_means_no_operating_point():
    hook = OperatingPointHook()
    hook.after_val_epoch(_runner(1), {'mg/f1': 0.5})
    checkpoint = dict(meta=dict())
    hook.before_save_checkpoint(_runner(1), checkpoint)
    assert 'operating_point' not in checkpoint['meta']


def test_malformed_operating_point_names_the_file_and_field(tmp_path):
    path = str(tmp_path / 'bad.pth')
    torch.save(dict(meta=dict(operating_point=dict(score_thr='0.3'))), path)
    with pytest.raises(
        ValueError, match=r'bad.pth: meta.operating_point.score_thr must be a float'
    ):
        read_operating_point(path)
    torch.save(dict(meta=dict()), path)
    assert read_operating_point(path) is None
