from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MMLogger

from mmstda.engine.hooks import OperatingPointHook
from mmstda.utils import read_operating_point


def _runner(epoch):
    return SimpleNamespace(epoch=epoch, logger=MMLogger.get_instance('test_operating_point'))


def _val(hook, epoch, f1, best_thr, best_f1):
    metrics = {'mg/f1': f1, 'mg/best_score_thr': best_thr, 'mg/best_f1': best_f1}
    hook.after_val_epoch(_runner(epoch), metrics)


def test_checkpoints_carry_the_threshold_of_the_best_validation_so_far(tmp_path):
    hook = OperatingPointHook()
    checkpoint = dict(meta=dict(epoch=0), state_dict=dict(w=torch.zeros(1)))
    hook.before_save_checkpoint(_runner(0), checkpoint)
    assert 'operating_point' not in checkpoint['meta']  # nothing validated yet

    _val(hook, 10, f1=0.40, best_thr=0.25, best_f1=0.45)
    _val(hook, 20, f1=0.55, best_thr=0.3, best_f1=0.6)
    _val(hook, 30, f1=0.50, best_thr=0.2, best_f1=0.7)  # worse by mg/f1: ignored
    hook.before_save_checkpoint(_runner(30), checkpoint)
    path = str(tmp_path / 'epoch_30.pth')
    torch.save(checkpoint, path)
    # Plain Python values: read back with weights_only=True.
    assert read_operating_point(path) == dict(score_thr=0.3, val_f1=0.6, epoch=20, metric='mg/f1')

    resumed = OperatingPointHook()
    resumed.after_load_checkpoint(_runner(30), torch.load(path, weights_only=True))
    _val(resumed, 40, f1=0.52, best_thr=0.4, best_f1=0.65)  # still below epoch 20's 0.55
    assert resumed.operating_point['epoch'] == 20


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
