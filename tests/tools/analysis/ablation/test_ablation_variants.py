"""tools/analysis/ablation/variants.py: each variant builds the model its row names."""

import copy
import os.path as osp

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmstda.utils.errors import UserInputError

from ablation.variants import VariantUnavailable, get_variant, variant_config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))))
STUDY_CONFIG = osp.join('configs', 'ablation', 'study_demo.py')


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


def _asba_steps(cfg: Config) -> list:
    return [s for s in cfg.train_dataloader.dataset.pipeline if s.type == 'ASBATransform']


@pytest.mark.parametrize(
    ('name', 'setting'),
    [
        ('asba-rarity', dict(rarity_weight=1.0)),
        ('asba-difficulty', dict(rarity_weight=0.0)),
        ('asba-inverse', dict(inverse=True)),
        ('asba-no-retiming', dict(slow_down=(0.0, 0.0), speed_warp=(0.0, 0.0))),
        (
            'asba-photometric',
            dict(
                translate=(0.0, 0.0),
                rotate_deg=(0.0, 0.0),
                crop_area=(1.0, 1.0),
                crop_aspect=(1.0, 1.0),
                slow_down=(0.0, 0.0),
                speed_warp=(0.0, 0.0),
            ),
        ),
    ],
)
def test_asba_signal_variants_change_only_the_asba_transform(tiny_base, name, setting):
    cfg = variant_config(tiny_base, get_variant(name))
    (step,) = _asba_steps(cfg)
    assert {k: step[k] for k in setting} == setting
    # Everything else of the pipeline and the hooks is the base's.
    base_steps = [s.type for s in tiny_base.train_dataloader.dataset.pipeline]
    assert [s.type for s in cfg.train_dataloader.dataset.pipeline] == base_steps
    assert [h.type for h in cfg.custom_hooks] == [h.type for h in tiny_base.custom_hooks]
    assert not _asba_steps(tiny_base)[0].get('inverse', False)


def test_the_study_base_names_its_training_videos_for_the_label_budget():
    study = Config.fromfile(osp.join(REPO_ROOT, STUDY_CONFIG))
    train = study.train_dataloader.dataset
    assert train.sample_ids == list(range(1, 17)) and train.windows_per_video == 7
    # Every label-budget row trains on the first 4 of the 16 videos with 4x the
    # windows per video: the same 14 iterations per epoch.
    for name in ('stda-quarter', 'vit-fullft-quarter', 'x3d-quarter'):
        options = get_variant(name).overrides(study)
        assert options['train_dataloader.dataset.sample_ids'] == [1, 2, 3, 4]
        assert options['train_dataloader.dataset.windows_per_video'] == 28
    full = get_variant('x3d').overrides(study)
    assert 'train_dataloader.dataset.sample_ids' not in full


def test_label_budget_variants_need_named_training_videos(tiny_base):
    tiny_base.train_dataloader.dataset.pop('sample_ids', None)
    with pytest.raises(VariantUnavailable, match='sample_ids'):
        variant_config(tiny_base, get_variant('stda-quarter'))


def test_presets_name_known_variants_and_an_unknown_one_is_refused():
    from ablation.variants import PRESETS, default_variant_names, preset_variant_names

    assert set(preset_variant_names('quick')) <= set(default_variant_names())
    assert preset_variant_names('full') == default_variant_names()
    assert 'quick' in PRESETS
    with pytest.raises(UserInputError, match="unknown preset 'fast'; expected one of full, quick"):
        preset_variant_names('fast')


def test_label_budget_on_smg_takes_a_quarter_of_the_challenge_training_split():
    # configs/stda_smg.py names no sample_ids and no windows_per_video: the quarter
    # is Sample0001-0007 of the challenge's 1-30, repeated 4x to keep the schedule.
    smg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'stda_smg.py'))
    base_dataset = smg.train_dataloader.dataset.to_dict()
    assert 'sample_ids' not in base_dataset and base_dataset.get('split', 'train') == 'train'
    # The ViT-g weights are not here; any existing file passes the variants' check.
    smg.model.backbone.pretrained = osp.join(
        REPO_ROOT, 'checkpoints', 'videomae_vit-tiny_synthetic-160subjects.pth'
    )
    for name in ('stda-quarter', 'vit-fullft-quarter', 'x3d-quarter'):
        cfg = variant_config(smg, get_variant(name))
        wrapped = cfg.train_dataloader.dataset
        assert (wrapped.type, wrapped.times) == ('RepeatDataset', 4)
        assert wrapped.dataset.sample_ids == [1, 2, 3, 4, 5, 6, 7]
        # Everything else of the base's training set is kept.
        assert {k: v for k, v in wrapped.dataset.items() if k != 'sample_ids'} == base_dataset

    from mmaction.registry import DATASETS
    from mmengine.registry import DefaultScope

    # MMEngine's RepeatDataset builds its inner dataset in the default scope, which
    # the Runner sets to the config's default_scope ('mmaction').
    with DefaultScope.overwrite_default_scope(smg.default_scope):
        lazy = dict(wrapped.to_dict(), lazy_init=True)  # no SMG data here
        lazy['dataset']['lazy_init'] = True
        built = DATASETS.build(lazy)
    assert type(built).__name__ == 'RepeatDataset' and built.times == 4
    assert type(built.dataset).__name__ == 'SMGDataset'
    assert built.dataset.sample_ids == [1, 2, 3, 4, 5, 6, 7]
