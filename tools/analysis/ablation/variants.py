"""The variants of the ablation study, as overrides of one base config.

Every variant is a function of the base config (``configs/ablation/study_demo.py``
by default, or a user's own): it returns ``--cfg-options``-style overrides
(dotted keys) that turn the base into that variant. Expressing them against the
loaded base, instead of as config files that each inherit the demo, keeps the
variants correct for any base: the stock ViT copies the base trunk's shape and
pretrained checkpoint, "ASBA off" removes ASBA from whatever training pipeline
the base has.

``tools/analysis/run_ablation.py`` trains and tests them; see the README's
"Ablation study".
"""

import copy
import inspect
import os.path as osp
from collections.abc import Callable
from dataclasses import dataclass

from mmengine.config import Config

from mmstda.utils.errors import UserInputError

ADAPTERS = 'adapters (frozen trunk)'
FINE_TUNING = 'fine-tuning baseline'
CNN_3D = '3D CNN baseline'
LONG_TAIL = 'long tail (default STDA)'
LABEL_BUDGET = 'label efficiency (a quarter of the labelled training videos)'

# The anchor-free head's demo config; its variant runs only where it exists.
AFHEAD_CONFIG = 'configs/stda-afhead_demo.py'

# X3D (Feichtenhofer, CVPR 2020) sized for the CPU: width, bottleneck and depth
# factors 1 give 0.42M backbone parameters, about half the demo's ViT trunk. The
# published X3D-S/M factors (1, 2.25, 2.2) cost 18x an STDA training step here
# (7.7 s against 0.42 s of CPU per batch of 8 windows of 64 frames at 32 px), 1.65 s
# with these: X3D keeps all 64 frames through every stage.
X3D_CPU = dict(gamma_w=1, gamma_b=1, gamma_d=1)
X3D_CPU_CHANNELS = 192  # 24 base channels x 2^3 stages x gamma_b 1

# Arguments of DecoupledAdapterViT that MMAction2's VisionTransformer shares.
_VIT_SHAPE_KEYS = (
    'img_size',
    'patch_size',
    'in_channels',
    'embed_dims',
    'depth',
    'num_heads',
    'mlp_ratio',
    'qkv_bias',
    'qk_scale',
    'drop_rate',
    'attn_drop_rate',
    'drop_path_rate',
    'norm_cfg',
    'init_values',
    'use_learnable_pos_emb',
    'num_frames',
    'tubelet_size',
    'use_mean_pooling',
)


class VariantUnavailable(UserInputError):
    """A variant's prerequisite is missing from this checkout or base config."""


@dataclass(frozen=True)
class Variant:
    """One row of the study.

    Args:
        name (str): Short name, used on the command line and as a folder name.
        group (str): Group of the table (adapters, baselines, long tail).
        label (str): What the row is, for the table.
        overrides (Callable[[Config], dict]): Dotted-key overrides of the base.
        needs_pretrained (bool): The variant starts from the base's pretrained
            trunk: it freezes it (a frozen random trunk measures nothing) or
            fine-tunes it.
        same_as (str, optional): This row reuses another variant's runs (the
            same training), e.g. "ASBA on" is the default STDA. Defaults to None.
    """

    name: str
    group: str
    label: str
    overrides: Callable[[Config], dict]
    needs_pretrained: bool
    same_as: str | None = None


def _backbone(cfg: Config) -> dict:
    return cfg.model.backbone


def _require_adapter_vit(cfg: Config, variant: str) -> None:
    if _backbone(cfg).get('type') != 'DecoupledAdapterViT':
        raise VariantUnavailable(
            f'variant {variant!r} needs a base config whose model.backbone.type is '
            f"'DecoupledAdapterViT', got {_backbone(cfg).get('type')!r}"
        )


def pretrained_checkpoint(backbone: dict) -> str | None:
    """The checkpoint a backbone config loads: ``pretrained`` or a Pretrained init_cfg."""
    if backbone.get('pretrained'):
        return backbone['pretrained']
    init_cfg = backbone.get('init_cfg') or []
    for entry in init_cfg if isinstance(init_cfg, list | tuple) else [init_cfg]:
        if entry and entry.get('type') == 'Pretrained':
            return entry.get('checkpoint')
    return None


def _adapters(adapter_type: str | None, **extra) -> Callable[[Config], dict]:
    def overrides(cfg: Config) -> dict:
        _require_adapter_vit(cfg, f'adapter_type={adapter_type}')
        options = {
            'model.backbone.adapter_type': adapter_type,
            'model.backbone.freeze_backbone': True,
        }
        options.update({f'model.backbone.{key}': value for key, value in extra.items()})
        return options

    return overrides


def _stda_cross(cfg: Config) -> dict:
    from mmaction.registry import MODELS

    backbone_cls = MODELS.get('DecoupledAdapterViT')
    # DecoupledAdapterViT ignores unknown arguments (with a warning), as MMAction2's
    # VisionTransformer does, so an unsupported stda_fusion would silently train
    # the default STDA under this row's name.
    if 'stda_fusion' not in inspect.signature(backbone_cls.__init__).parameters:
        raise VariantUnavailable(
            "variant 'stda-cross' needs DecoupledAdapterViT's stda_fusion argument "
            "(stda_fusion='cross', the linear-sum fusion), which this version of mmstda "
            'does not have'
        )
    return _adapters('stda', stda_fusion='cross')(cfg)


def stock_vit_backbone(cfg: Config) -> dict:
    """MMAction2's ``VisionTransformer`` with the base trunk's shape and weights.

    Raises:
        VariantUnavailable: The base backbone is not a ``DecoupledAdapterViT``.
    """
    from mmstda.models.backbones.decoupled_adapter_vit import ARCH_SETTINGS

    _require_adapter_vit(cfg, 'vit-fullft')
    base = _backbone(cfg)
    shape = dict(ARCH_SETTINGS[base.get('arch') or 'base'])
    shape.update({k: base[k] for k in _VIT_SHAPE_KEYS if base.get(k) is not None})
    backbone = dict(type='VisionTransformer', return_feat_map=True, **shape)
    checkpoint = pretrained_checkpoint(base)
    if checkpoint:
        # mmengine's Pretrained init loads the ``backbone.``-prefixed keys of an
        # MMAction2 checkpoint only when told the prefix.
        backbone['init_cfg'] = dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
    return backbone


def _vit_fullft(cfg: Config) -> dict:
    return {
        'model.backbone': dict(_delete_=True, **stock_vit_backbone(cfg)),
        # The usual fine-tuning recipe: the pretrained trunk learns 10x slower than
        # the freshly initialised head.
        'optim_wrapper.paramwise_cfg': dict(custom_keys={'backbone': dict(lr_mult=0.1)}),
    }


def _x3d(cfg: Config) -> dict:
    return {
        'model.backbone': dict(_delete_=True, type='X3D', **X3D_CPU),
        'model.head.in_channels': X3D_CPU_CHANNELS,
    }


def _without_asba(cfg: Config) -> dict:
    pipeline = cfg.train_dataloader.dataset.pipeline
    kept = [step for step in pipeline if step.get('type') != 'ASBATransform']
    if len(kept) == len(pipeline):
        raise VariantUnavailable(
            "the ASBA variants need ASBATransform in the base config's "
            'train_dataloader.dataset.pipeline, which has none'
        )
    hooks = [h for h in cfg.get('custom_hooks', []) if h.get('type') != 'ASBAHook']
    return {
        **_adapters('stda')(cfg),
        'train_dataloader.dataset.pipeline': copy.deepcopy(kept),
        'custom_hooks': copy.deepcopy(hooks),
    }


def _class_balanced(cfg: Config) -> dict:
    options = _without_asba(cfg)
    options['model.head.class_balanced'] = True
    options['custom_hooks'] = [*options['custom_hooks'], dict(type='ClassBalanceHook')]
    return options


def _asba_option(variant: str, **options) -> Callable[[Config], dict]:
    """STDA with ASBA's transform set differently (rarity only, difficulty only, inverse)."""

    def overrides(cfg: Config) -> dict:
        pipeline = copy.deepcopy(list(cfg.train_dataloader.dataset.pipeline))
        steps = [step for step in pipeline if step.get('type') == 'ASBATransform']
        if not steps:
            raise VariantUnavailable(
                f"variant {variant!r} needs ASBATransform in the base config's "
                'train_dataloader.dataset.pipeline, which has none'
            )
        for step in steps:
            step.update(options)
        return {**_adapters('stda')(cfg), 'train_dataloader.dataset.pipeline': pipeline}

    return overrides


# ASBA with its temporal augmentations (and, for the second, its geometric ones)
# set to the identity at every intensity, the rest kept: they tell whether what
# ASBA does to a class is the harm of re-timing or moving it (the synthetic classes
# are defined by where the hand goes and how fast it moves).
ASBA_TIMING_OFF = dict(slow_down=(0.0, 0.0), speed_warp=(0.0, 0.0))
ASBA_GEOMETRY_AND_TIMING_OFF = dict(
    crop_area=(1.0, 1.0),
    crop_aspect=(1.0, 1.0),
    translate=(0.0, 0.0),
    rotate_deg=(0.0, 0.0),
    flip_prob=(0.0, 0.0),
    **ASBA_TIMING_OFF,
)


def _training_video_ids(dataset: dict) -> list:
    """The labelled training videos of the base: ``sample_ids``, or SMG's challenge split.

    An ``SMGDataset`` that names a ``split`` and no ``split_file`` (the SMG
    configs, ``configs/stda_smg.py``) trains on the challenge split's videos
    (Sample0001-0030), as the dataset itself resolves them.
    """
    from mmstda.datasets.smg_meta import SMG_CHALLENGE_SPLITS

    ids = dataset.get('sample_ids')
    if ids:
        return list(ids)
    split = dataset.get('split', 'train')  # SMGDataset's default split
    if (
        dataset.get('type') == 'SMGDataset'
        and not dataset.get('split_file')
        and split in SMG_CHALLENGE_SPLITS
    ):
        return list(SMG_CHALLENGE_SPLITS[split])
    raise VariantUnavailable(
        'the label-budget variants need train_dataloader.dataset.sample_ids in the '
        'base config (the labelled training videos to take a quarter of), or an '
        "SMGDataset on the challenge split (split='train', no split_file)"
    )


def _quarter_of_the_videos(cfg: Config) -> dict:
    """A quarter of the labelled training videos (at least one), the first by sample id.

    The schedule (iterations) is kept: the question is what the labels buy. A base
    with ``windows_per_video`` gets proportionally more windows per kept video; one
    without (e.g. SMG's, where a video gives as many windows as it is long) repeats
    the kept videos with MMEngine's ``RepeatDataset`` instead.
    """
    dataset = cfg.train_dataloader.dataset
    ids = _training_video_ids(dataset)
    kept = ids[: max(1, len(ids) // 4)]
    per_video = dataset.get('windows_per_video')
    if per_video:
        return {
            'train_dataloader.dataset.sample_ids': kept,
            'train_dataloader.dataset.windows_per_video': per_video * len(ids) // len(kept),
        }
    quarter = dict(copy.deepcopy(dataset.to_dict()), sample_ids=kept)
    return {
        'train_dataloader.dataset': dict(
            _delete_=True, type='RepeatDataset', times=len(ids) // len(kept), dataset=quarter
        )
    }


def _with_quarter(overrides: Callable[[Config], dict]) -> Callable[[Config], dict]:
    def combined(cfg: Config) -> dict:
        return {**overrides(cfg), **_quarter_of_the_videos(cfg)}

    return combined


def _afhead(cfg: Config) -> dict:
    if not osp.isfile(AFHEAD_CONFIG):
        raise VariantUnavailable(
            f"variant 'afhead' needs {AFHEAD_CONFIG} (the anchor-free head's demo config), "
            'which this checkout does not have'
        )
    afhead = Config.fromfile(AFHEAD_CONFIG)
    head = dict(afhead.model.head.to_dict(), in_channels=cfg.model.head.in_channels)
    # The head checks its pyramid against the windows it trains on: the base's,
    # which need not be the demo's (the head then refuses a pyramid that misfits).
    window_frames = cfg.train_dataloader.dataset.get('window_frames')
    if 'window_frames' in head and window_frames is not None:
        head['window_frames'] = window_frames
    return {
        **_adapters('stda')(cfg),
        'model.head': dict(_delete_=True, **head),
        # Its validation sweep (which sets the operating point) suits its scores.
        'val_evaluator': copy.deepcopy(afhead.val_evaluator.to_dict()),
        # And it ranks epochs by the F1 at the best swept threshold: at the
        # metric's default threshold its low-scored candidates are noise.
        'default_hooks.checkpoint.save_best': afhead.default_hooks.checkpoint.save_best,
        'default_hooks.operating_point.metric': afhead.default_hooks.operating_point.metric,
    }


VARIANTS = (
    Variant('linear-probe', ADAPTERS, 'none (linear probe: trunk + head)', _adapters(None), True),
    Variant('temporal', ADAPTERS, 'temporal (AdaTAD-like)', _adapters('temporal'), True),
    Variant('joint', ADAPTERS, 'joint 3D kernel (ST-Adapter-like)', _adapters('joint'), True),
    Variant('stda-cross', ADAPTERS, "STDA, linear 'cross' fusion", _stda_cross, True),
    Variant('stda', ADAPTERS, 'STDA (default)', _adapters('stda'), True),
    Variant(
        'vit-fullft', FINE_TUNING, 'MMAction2 ViT, same checkpoint, full FT', _vit_fullft, True
    ),
    Variant('x3d', CNN_3D, 'MMAction2 X3D (0.4M params) from scratch', _x3d, False),
    Variant('asba-on', LONG_TAIL, 'ASBA on', _adapters('stda'), True, same_as='stda'),
    Variant('asba-off', LONG_TAIL, 'ASBA off', _without_asba, True),
    Variant('cb-loss', LONG_TAIL, 'class-balanced loss, no ASBA', _class_balanced, True),
    Variant(
        'asba-rarity',
        LONG_TAIL,
        'ASBA, rarity only',
        _asba_option('asba-rarity', rarity_weight=1.0),
        True,
    ),
    Variant(
        'asba-difficulty',
        LONG_TAIL,
        'ASBA, difficulty only',
        _asba_option('asba-difficulty', rarity_weight=0.0),
        True,
    ),
    Variant(
        'asba-inverse',
        LONG_TAIL,
        'ASBA inverted: stronger on frequent, easy classes (as CUDA, ICLR 2023)',
        _asba_option('asba-inverse', inverse=True),
        True,
    ),
    Variant(
        'asba-photometric',
        LONG_TAIL,
        'ASBA, photometric only (no crop, shift, rotation or re-timing)',
        _asba_option('asba-photometric', **ASBA_GEOMETRY_AND_TIMING_OFF),
        True,
    ),
    Variant(
        'asba-no-retiming',
        LONG_TAIL,
        'ASBA without re-timing (crop, shift and rotation kept)',
        _asba_option('asba-no-retiming', **ASBA_TIMING_OFF),
        True,
    ),
    Variant('afhead', ADAPTERS, 'STDA + anchor-free head', _afhead, True),
    Variant(
        'stda-quarter', LABEL_BUDGET, 'STDA (frozen trunk)', _with_quarter(_adapters('stda')), True
    ),
    Variant(
        'vit-fullft-quarter',
        LABEL_BUDGET,
        'MMAction2 ViT, full FT',
        _with_quarter(_vit_fullft),
        True,
    ),
    Variant('x3d-quarter', LABEL_BUDGET, 'MMAction2 X3D from scratch', _with_quarter(_x3d), False),
)
VARIANTS_BY_NAME = {variant.name: variant for variant in VARIANTS}


def default_variant_names() -> list[str]:
    """Every variant; the anchor-free head only where its config exists."""
    return [v.name for v in VARIANTS if v.name != 'afhead' or osp.isfile(AFHEAD_CONFIG)]


# Named sets of variants for run_ablation.py --preset. 'full' is every variant
# (the default); 'quick' fits the 2-core budget (about 3 h with --jobs 2) and
# leaves out the rows that answer the least asked questions (see the ablation
# guide for what it leaves out).
PRESETS = {
    # 10 variants x 3 seeds = 30 runs: 27 ViT runs of about 10 CPU-minutes and 3
    # X3D runs of about 31 on the 2-core machine (Intel Xeon); 6.1 CPU-hours
    # measured, so about 3.1 hours with --jobs 2. Leaves out: the temporal and
    # joint adapters and the 'cross' fusion (the decoupling question), the
    # class-balanced loss, the two ASBA diagnostics (photometric only, no
    # re-timing), the anchor-free head, and X3D at a quarter of the labels.
    'quick': (
        'stda',
        'linear-probe',
        'vit-fullft',
        'x3d',
        'asba-off',
        'asba-rarity',
        'asba-difficulty',
        'asba-inverse',
        'stda-quarter',
        'vit-fullft-quarter',
    ),
}


def preset_variant_names(preset: str) -> list[str]:
    """The variants of a preset ('full': every variant); a clear error lists the presets."""
    if preset == 'full':
        return default_variant_names()
    if preset not in PRESETS:
        raise UserInputError(
            f'unknown preset {preset!r}; expected one of full, {", ".join(PRESETS)}'
        )
    return list(PRESETS[preset])


def get_variant(name: str) -> Variant:
    """The variant called ``name``; a clear error lists the known names."""
    if name not in VARIANTS_BY_NAME:
        raise UserInputError(
            f'unknown variant {name!r}; expected one of {", ".join(VARIANTS_BY_NAME)}'
        )
    return VARIANTS_BY_NAME[name]


def variant_config(base: Config, variant: Variant) -> Config:
    """A copy of ``base`` turned into ``variant``.

    Raises:
        VariantUnavailable: A prerequisite is missing: a component this version
            of mmstda lacks, a config file, or the pretrained trunk the variant
            starts from.
    """
    cfg = copy.deepcopy(base)
    cfg.merge_from_dict(variant.overrides(base))
    if variant.needs_pretrained:
        checkpoint = pretrained_checkpoint(cfg.model.backbone)
        if not checkpoint:
            raise VariantUnavailable(
                f"variant {variant.name!r} needs a pretrained trunk, but the base config's "
                'model.backbone loads no pretrained weights (pretrained= or a Pretrained '
                'init_cfg)'
            )
        if '://' not in checkpoint and not osp.isfile(checkpoint):
            raise VariantUnavailable(
                f'variant {variant.name!r} needs the pretrained trunk {checkpoint}, which '
                'does not exist'
            )
    return cfg
