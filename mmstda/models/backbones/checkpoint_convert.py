"""Read ViT weights from MMAction2, official VideoMAEv2 and OpenTAD checkpoints.

All three hold the same weights under different key names (see the table in the
project's domain notes); these functions map them to MMAction2's
``VisionTransformer`` names, which :class:`DecoupledAdapterViT` shares.
"""

import re
from collections import OrderedDict

from mmengine.runner.checkpoint import CheckpointLoader
from torch import Tensor

# Top-level containers, in order of preference. OpenTAD evaluates with EMA
# weights when it kept them, so those come first.
_CONTAINER_KEYS = ('state_dict_ema', 'state_dict', 'model', 'module')

# Official VideoMAEv2 name -> MMAction2 name (substring rewrites).
_OFFICIAL_TO_MMACTION = (
    ('patch_embed.proj.', 'patch_embed.projection.'),
    ('mlp.fc1.', 'mlp.layers.0.0.'),
    ('mlp.fc2.', 'mlp.layers.1.'),
)

# Classifier heads: official ``head.*`` and MMAction2 ``cls_head.*`` / ``fc_cls``.
_CLASSIFIER_RE = re.compile(r'^(head|cls_head|fc_cls)(\.|$)')

# Root names of the ViT's own keys, used to find the backbone prefix.
_VIT_ROOT_RE = re.compile(r'(patch_embed\.(proj|projection)\.weight)$')

# OpenTAD's AdaTAD adapter: blocks.N.adapter.{down_proj,dwconv,conv,up_proj,gamma}.
_OPENTAD_ADAPTER_RE = re.compile(r'^blocks\.\d+\.adapter\.(dwconv|conv)\.')


def load_checkpoint_file(filename: str) -> dict:
    """Load a checkpoint on CPU through mmengine (local path, URL or backend).

    Args:
        filename (str): Checkpoint path or URL.

    Returns:
        dict: The raw checkpoint object.
    """
    checkpoint = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
    if not isinstance(checkpoint, dict):
        raise TypeError(f'{filename}: expected a dict checkpoint, got {type(checkpoint).__name__}')
    return checkpoint


def extract_state_dict(checkpoint: dict, filename: str = '<checkpoint>') -> dict[str, Tensor]:
    """Return the weights held by a checkpoint dict.

    Looks under ``state_dict_ema``, ``state_dict``, ``model`` or ``module`` (first
    found), else takes the dict itself when its values are tensors.

    Args:
        checkpoint (dict): A loaded checkpoint.
        filename (str): Name used in error messages. Defaults to '<checkpoint>'.

    Returns:
        dict[str, Tensor]: Flat state dict.
    """
    for key in _CONTAINER_KEYS:
        if isinstance(checkpoint.get(key), dict):
            return checkpoint[key]
    if checkpoint and all(isinstance(v, Tensor) for v in checkpoint.values()):
        return checkpoint
    raise KeyError(
        f'{filename}: no weights found; expected one of the top-level keys '
        f'{list(_CONTAINER_KEYS)} or a flat dict of tensors, got keys {sorted(checkpoint)[:10]}'
    )


def find_backbone_prefix(state_dict: dict[str, Tensor], filename: str = '<checkpoint>') -> str:
    """Return the key prefix in front of the ViT's own names.

    It is what precedes ``patch_embed.proj(ection).weight``, e.g. ``''``,
    ``'backbone.'``, ``'encoder.'``, ``'_orig_mod.'`` or OpenTAD's
    ``'module.backbone.model.backbone.'``.

    Args:
        state_dict (dict[str, Tensor]): Flat state dict.
        filename (str): Name used in error messages. Defaults to '<checkpoint>'.

    Returns:
        str: The prefix (possibly empty).
    """
    prefixes = sorted({k[: m.start()] for k in state_dict if (m := _VIT_ROOT_RE.search(k))})
    if len(prefixes) != 1:
        found = prefixes or 'none'
        raise KeyError(
            f'{filename}: expected exactly one ViT patch embedding key '
            f'(...patch_embed.proj.weight or ...patch_embed.projection.weight), found {found}'
        )
    return prefixes[0]


def convert_to_mmaction_vit(
    state_dict: dict[str, Tensor], prefix: str | None = None, filename: str = '<checkpoint>'
) -> tuple[OrderedDict, list[str], list[str]]:
    """Map a checkpoint's ViT weights to MMAction2 ``VisionTransformer`` names.

    Args:
        state_dict (dict[str, Tensor]): Flat state dict in any supported format.
        prefix (str, optional): Backbone key prefix; found automatically when
            None. Defaults to None.
        filename (str): Name used in error messages. Defaults to '<checkpoint>'.

    Returns:
        tuple: ``(backbone_state, classifier_keys, outside_keys)``: the converted
        ViT weights without prefix; the dropped classifier keys; the keys outside
        the backbone prefix (neck, head, decoder...), also dropped.
    """
    if prefix is None:
        prefix = find_backbone_prefix(state_dict, filename)
    backbone, classifier, outside = OrderedDict(), [], []
    for key, value in state_dict.items():
        if not key.startswith(prefix):
            (classifier if _CLASSIFIER_RE.match(key) else outside).append(key)
            continue
        name = key[len(prefix) :]
        if _CLASSIFIER_RE.match(name):
            classifier.append(key)
            continue
        for old, new in _OFFICIAL_TO_MMACTION:
            name = name.replace(old, new)
        backbone[name] = value
    return backbone, classifier, outside


def convert_opentad_adapters(state_dict: dict[str, Tensor]) -> OrderedDict:
    """Rename OpenTAD (AdaTAD) adapter weights to the ``'temporal'`` adapter.

    ``dwconv`` (Conv1d ``(r, 1, k)``) becomes ``temporal_conv`` (Conv3d
    ``(r, 1, k, 1, 1)``) and ``conv`` (Conv1d ``(r, r, 1)``) becomes
    ``pointwise_conv`` (Linear ``(r, r)``); other keys pass through.

    Args:
        state_dict (dict[str, Tensor]): ViT state dict without prefix.

    Returns:
        OrderedDict: The renamed state dict.
    """
    converted = OrderedDict()
    for key, value in state_dict.items():
        if '.adapter.dwconv.' in key:
            key = key.replace('.adapter.dwconv.', '.adapter.temporal_conv.')
            if value.dim() == 3:
                value = value[..., None, None]
        elif '.adapter.conv.' in key:
            key = key.replace('.adapter.conv.', '.adapter.pointwise_conv.')
            if value.dim() == 3:
                value = value[..., 0]
        converted[key] = value
    return converted


def has_opentad_adapters(state_dict: dict[str, Tensor]) -> bool:
    """Whether a (prefix-free) ViT state dict holds OpenTAD adapter weights."""
    return any(_OPENTAD_ADAPTER_RE.match(k) for k in state_dict)
