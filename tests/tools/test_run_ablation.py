"""tools/analysis/run_ablation.py: variants, scores, caching and the report."""

import copy
import glob
import json
import os
import os.path as osp
import runpy
import subprocess
import sys

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmstda.datasets.synthetic_smg import (
    SyntheticSMGConfig,
    challenge_sample_ids,
    generate_synthetic_smg,
    plan_dataset,
)
from mmstda.utils.ablation_report import (
    rare_labels,
    read_class_table,
    run_scores,
    smallest_real_difference,
)
from mmstda.utils.ablation_variants import VariantUnavailable, get_variant, variant_config
from mmstda.utils.launch import UserInputError

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_CONFIG = osp.join('tests', 'data', 'configs', 'tiny_demo.py')
STUDY_CONFIG = osp.join('configs', 'ablation', 'study_demo.py')


@pytest.fixture(scope='module')
def tiny_trunk(tmp_path_factory) -> str:
    """The tiny config's trunk saved as an MMAction2 checkpoint (``backbone.`` keys)."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, TINY_CONFIG))
    init_default_scope('mmaction')
    torch.manual_seed(0)
    state = MODELS.build(cfg.model.backbone).state_dict()
    path = str(tmp_path_factory.mktemp('trunk') / 'trunk.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in state.items()}}, path)
    return path


@pytest.fixture(scope='module')
def tiny_base(tiny_trunk) -> Config:
    cfg = Config.fromfile(osp.join(REPO_ROOT, TINY_CONFIG))
    cfg.model.backbone.pretrained = tiny_trunk
    return cfg


def test_rare_class_f1_pools_the_classes_below_the_median(tmp_path):
    # Median training count 3: labels 2 and 3 are rare, label 1 (exactly 3) is not.
    assert rare_labels([5, 3, 1, 1, 8]) == [2, 3]
    table = tmp_path / 'per_class_f1.csv'
    table.write_text(
        'label,class,num_gt,num_pred,tp,precision,recall,f1\n'
        '0,a,4,4,4,1,1,1\n1,b,3,1,1,1,0.33,0.5\n2,c,2,2,1,0.5,0.5,0.5\n'
        '3,d,2,1,0,0,0,0\n4,e,1,0,0,0,0,0\nall,5 videos,12,8,6,0.75,0.5,0.6\n'
    )
    scores = run_scores(read_class_table(str(table)), [2, 3])
    # Rare: tp 1, 3 predictions, 4 ground truths -> P 1/3, R 1/4, F1 2/7.
    assert scores['rare_f1'] == pytest.approx(2 / 7)
    assert scores['rare_num_gt'] == 4
    assert scores['test_f1'] == pytest.approx(0.6)  # P 6/8, R 6/12
    assert scores['test_num_gt'] == 12


def test_class_table_errors_name_the_file_and_row(tmp_path):
    table = tmp_path / 'per_class_f1.csv'
    table.write_text('label,class,num_gt,num_pred,tp\n0,a,4,x,4\n')
    with pytest.raises(UserInputError, match=r'per_class_f1.csv:2: expected integer'):
        read_class_table(str(table))
    table.write_text('label,class,num_gt,tp\n')
    with pytest.raises(UserInputError, match=r"missing columns \['num_pred'\]"):
        read_class_table(str(table))


def test_smallest_real_difference_pools_the_seed_spread():
    runs = {
        'a': [dict(test_f1=0.5), dict(test_f1=0.6), dict(test_f1=0.7)],  # variance 0.01
        'b': [dict(test_f1=0.4), dict(test_f1=0.4), dict(test_f1=0.4)],  # variance 0
        'c': [dict(test_f1=0.9)],  # one seed: no spread to pool
    }
    noise = smallest_real_difference(runs)
    # Pooled std sqrt((2 * 0.01 + 0) / 4); 2 standard errors of a difference of means.
    assert noise['pooled_std'] == pytest.approx(0.005**0.5)
    assert noise['difference'] == pytest.approx(2 * 0.005**0.5 * (2 / 3) ** 0.5)
    assert smallest_real_difference({'c': runs['c']}) is None


def _build(cfg: Config):
    init_default_scope('mmaction')
    return MODELS.build(copy.deepcopy(cfg.model))


def test_linear_probe_trains_no_backbone_parameter(tiny_base):
    model = _build(variant_config(tiny_base, get_variant('linear-probe')))
    assert model.backbone.adapter_type is None
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert any(p.requires_grad for p in model.head.parameters())


def test_asba_variants_remove_asba_and_cb_loss_balances_the_head(tiny_base):
    assert any(s.type == 'ASBATransform' for s in tiny_base.train_dataloader.dataset.pipeline)
    for name in ('asba-off', 'cb-loss'):
        cfg = variant_config(tiny_base, get_variant(name))
        assert not [s for s in cfg.train_dataloader.dataset.pipeline if s.type == 'ASBATransform']
        assert 'ASBAHook' not in [h.type for h in cfg.custom_hooks]
    cfg = variant_config(tiny_base, get_variant('cb-loss'))
    assert cfg.model.head.class_balanced is True
    assert [h.type for h in cfg.custom_hooks] == ['ClassBalanceHook']
    assert _build(cfg).head.class_balanced


def test_fine_tuning_baseline_is_the_stock_vit_loaded_from_the_same_checkpoint(
    tiny_base, tiny_trunk
):
    model = _build(variant_config(tiny_base, get_variant('vit-fullft')))
    assert type(model.backbone).__name__ == 'VisionTransformer'
    assert all(p.requires_grad for p in model.backbone.parameters())
    model.backbone.init_weights()
    saved = torch.load(tiny_trunk)['state_dict']
    keys = (
        'patch_embed.projection.weight',
        'blocks.0.attn.qkv.weight',
        'blocks.0.mlp.layers.1.weight',
    )
    for key in keys:
        assert torch.equal(model.backbone.state_dict()[key], saved[f'backbone.{key}']), key


def test_x3d_baseline_runs_in_the_same_detector(tiny_base):
    model = _build(variant_config(tiny_base, get_variant('x3d')))
    assert type(model.backbone).__name__ == 'X3D'
    cls_logits, _ = model(torch.randn(1, 3, 16, 32, 32), mode='tensor')
    assert cls_logits.shape == (1, 17, 16)  # one score per class and window frame


def test_anchor_free_variant_ranks_epochs_as_its_own_config_does(tiny_base):
    """The head's scores need the swept F1 to pick the best epoch and its threshold."""
    cfg = variant_config(tiny_base, get_variant('afhead'))
    assert cfg.model.head.type == 'AnchorFreeTADHead'
    assert cfg.model.head.in_channels == tiny_base.model.head.in_channels
    # The head is checked against the base's windows (16 frames here), not the demo's.
    assert cfg.model.head.window_frames == tiny_base.train_dataloader.dataset.window_frames == 16
    assert cfg.default_hooks.checkpoint.save_best == 'mg/best_f1'
    assert cfg.default_hooks.operating_point.metric == 'mg/best_f1'
    assert 0.05 in cfg.val_evaluator.sweep_thresholds
    # Only those keys change in the hooks: the base's other checkpoint settings stay.
    for key, value in tiny_base.default_hooks.checkpoint.items():
        if key != 'save_best':
            assert cfg.default_hooks.checkpoint[key] == value, key


def test_anchor_free_variant_refuses_a_pyramid_that_misfits_the_bases_window(tiny_base):
    # The demo's strides 2, 4, 8 in 16-frame windows: stride 8's (16, inf) is out of
    # reach (positions 3.5 and 11.5; at most 16 - 3.5 = 12.5 frames).
    cfg = variant_config(tiny_base, get_variant('afhead'))
    with pytest.raises(ValueError, match=r'stride 8 can never hold .*window_frames=16'):
        _build(cfg)
    study = Config.fromfile(osp.join(REPO_ROOT, STUDY_CONFIG))
    assert variant_config(study, get_variant('afhead')).model.head.window_frames == 64


def test_variants_that_start_from_the_pretrained_trunk_refuse_a_base_without_one(tiny_base):
    cfg = copy.deepcopy(tiny_base)
    cfg.model.backbone.pretrained = None
    for name in ('temporal', 'vit-fullft'):
        with pytest.raises(VariantUnavailable, match=f"'{name}' needs a pretrained trunk"):
            variant_config(cfg, get_variant(name))
    assert variant_config(cfg, get_variant('x3d')).model.backbone.type == 'X3D'  # from scratch
    cfg.model.backbone.pretrained = 'checkpoints/missing.pth'
    with pytest.raises(VariantUnavailable, match='needs the pretrained trunk checkpoints/missing'):
        variant_config(cfg, get_variant('stda'))
    with pytest.raises(UserInputError, match="unknown variant 'stda2'; expected one of"):
        get_variant('stda2')


def test_study_test_set_is_large_and_of_unseen_subjects():
    study = Config.fromfile(osp.join(REPO_ROOT, STUDY_CONFIG))
    test = study.test_dataloader.dataset
    generator = SyntheticSMGConfig(**test.generator)
    # Every video of its own data set, whatever split the generator gave it.
    splits = challenge_sample_ids(generator.num_videos)
    assert sorted(test.sample_ids) == sorted(splits['train'] + splits['val'] + splits['test'])
    assert sum(len(plan.gestures) for plan in plan_dataset(generator)) >= 100
    # Other subjects than the demo's data and any pretraining data.
    seeds = [(study.train_dataloader.dataset.get('generator') or {}).get('seed', 0)]
    for path in glob.glob(osp.join(REPO_ROOT, 'configs', 'pretrain', '*.py')):
        pretrain = Config.fromfile(path).train_dataloader.dataset
        seeds.append((pretrain.get('generator') or {}).get('seed', 0))
    assert generator.seed not in seeds
    assert test.data_root != study.train_dataloader.dataset.data_root


def test_study_schedule_is_the_demos_compressed_into_its_epochs():
    study = Config.fromfile(osp.join(REPO_ROOT, STUDY_CONFIG))
    demo = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'stda_demo.py'))
    assert [s.type for s in study.param_scheduler] == [s.type for s in demo.param_scheduler]
    assert study.param_scheduler[-1].end == study.train_cfg.max_epochs
    assert study.train_cfg.max_epochs <= demo.train_cfg.max_epochs
    assert study.optim_wrapper == demo.optim_wrapper and study.model == demo.model


def _run_study(args: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env['OMP_NUM_THREADS'] = '1'
    command = [sys.executable, 'tools/analysis/run_ablation.py', *args]
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def _stopped_in_process(monkeypatch, args: list[str]) -> int:
    """Run the tool's main() here (saves a start-up); the code it exits with."""
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setattr(sys, 'argv', ['tools/analysis/run_ablation.py', *args])
    run_ablation = runpy.run_path(osp.join(REPO_ROOT, 'tools', 'analysis', 'run_ablation.py'))
    with pytest.raises(SystemExit) as stopped:
        run_ablation['main']()
    return stopped.value.code


def test_missing_prerequisite_stops_the_study_in_one_line(tmp_path, monkeypatch, capsys):
    args = ['--base-config', TINY_CONFIG, '--variants', 'stda', '--work-dir', str(tmp_path)]
    assert _stopped_in_process(monkeypatch, args) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("error: variant 'stda' needs a pretrained trunk")
    assert len(stderr.strip().splitlines()) == 1
    assert not os.listdir(tmp_path)  # nothing trained


def test_jobs_below_one_is_refused(tmp_path, monkeypatch, capsys):
    args = ['--base-config', TINY_CONFIG, '--jobs', '0', '--work-dir', str(tmp_path)]
    assert _stopped_in_process(monkeypatch, args) == 2
    assert '--jobs must be at least 1, got 0' in capsys.readouterr().err
    assert not os.listdir(tmp_path)


def test_smoke_study_trains_caches_and_reports(tmp_path, tiny_trunk):
    data = str(tmp_path / 'smg')
    generate_synthetic_smg(
        data,
        SyntheticSMGConfig(
            num_videos=3, minutes=0.25, frame_size=32, mean_gesture_frames=12, seed=3
        ),
    )
    work = tmp_path / 'study'
    args = ['--base-config', TINY_CONFIG, '--variants', 'linear-probe', 'asba-off']
    args += ['--seeds', '0', '--smoke', '--work-dir', str(work), '--cfg-options']
    args += [f'{split}_dataloader.dataset.data_root={data}' for split in ('train', 'val', 'test')]
    args += [f'model.backbone.pretrained={tiny_trunk}', 'val_dataloader.batch_size=8']

    # Both runs at once: each result and the report must still hold both.
    first = _run_study([*args, '--jobs', '2'])
    assert first.returncode == 0, first.stderr[-3000:]
    assert '2 runs: 0 cached, 2 to run' in first.stdout
    for name in ('linear-probe', 'asba-off'):
        result = json.loads((work / name / 'seed0' / 'result.json').read_text())
        assert (result['variant'], result['seed']) == (name, 0)
        assert 0.0 <= result['test_f1'] <= 1.0 and result['test_num_gt'] > 0
        assert result['train_minutes'] > 0 and result['peak_memory_mb'] > 0
        assert result['parallel_jobs'] == 2
        # The linear probe trains no backbone parameter; the adapters do.
        assert (result['backbone_trainable_percent'] > 0) == (name == 'asba-off')
    report = json.loads((work / 'results.json').read_text())
    assert [row['name'] for row in report['summary']] == ['linear-probe', 'asba-off']
    assert len(report['runs']) == 2
    assert report['variants']['linear-probe']['overrides']['model.backbone.adapter_type'] is None
    table = (work / 'results.md').read_text().splitlines()
    assert table[0].startswith('| group | variant | test F1 | rare-class F1')
    assert [line.split(' | ')[1] for line in table[2:4]] == [
        'none (linear probe: trunk + head)',
        'ASBA off',
    ]
    assert (work / 'results.png').stat().st_size > 0

    train_log = work / 'asba-off' / 'seed0' / 'train.log'
    before = train_log.stat().st_mtime_ns
    second = _run_study(args)
    assert second.returncode == 0, second.stderr[-3000:]
    assert '2 runs: 2 cached, 0 to run' in second.stdout
    assert train_log.stat().st_mtime_ns == before  # nothing retrained
    assert json.loads((work / 'results.json').read_text())['runs'] == report['runs']

    # --report-only reports what is finished and trains nothing (seed 1 never ran).
    (work / 'results.json').unlink()
    seeds = args.index('--seeds')
    partial = _run_study([*args[: seeds + 1], '0', '1', *args[seeds + 2 :], '--report-only'])
    assert partial.returncode == 0, partial.stderr[-3000:]
    assert 'not finished: linear-probe seed 1' in partial.stdout
    assert 'not finished: asba-off seed 1' in partial.stdout
    assert not (work / 'linear-probe' / 'seed1').exists()
    assert json.loads((work / 'results.json').read_text())['runs'] == report['runs']
