"""Convert an official VideoMAE / VideoMAEv2 checkpoint to MMAction2's format.

The output loads into MMAction2's stock ``VisionTransformer`` (and into
``DecoupledAdapterViT``, which also reads the official file directly):
weights under ``state_dict``, the ViT under ``backbone.``, the classifier (if
any) under ``cls_head.fc_cls``.

Example::

    python tools/convert_videomaev2.py vit_g_hybrid_pt_1200e.pth vit_g_mmaction.pth
"""

import argparse
import os
import os.path as osp
import sys
from collections import OrderedDict

import torch

try:
    import mmstda  # noqa: F401  (safe checkpoint loading for mmengine)
except ImportError:
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import mmstda  # noqa: F401

from mmstda.models.backbones.checkpoint_convert import (
    convert_to_mmaction_vit,
    extract_state_dict,
    find_backbone_prefix,
    load_checkpoint_file,
)


def convert(src: str, dst: str) -> dict:
    """Convert ``src`` (official format) and save it to ``dst`` (MMAction2 format).

    Args:
        src (str): Official VideoMAEv2 checkpoint (``model`` / ``module`` /
            flat; ``patch_embed.proj``, ``mlp.fc1/fc2``; optional ``encoder.``,
            ``_orig_mod.`` or ``backbone.`` prefixes).
        dst (str): Output path.

    Returns:
        dict: Counts ``backbone``, ``classifier`` and ``dropped`` (keys outside
        the encoder, e.g. a pre-training decoder).
    """
    state_dict = extract_state_dict(load_checkpoint_file(src), src)
    prefix = find_backbone_prefix(state_dict, src)
    backbone, classifier_keys, outside_keys = convert_to_mmaction_vit(state_dict, prefix, src)
    converted = OrderedDict((f'backbone.{k}', v) for k, v in backbone.items())
    for key in classifier_keys:
        # Official finetuned heads are ``head.weight`` / ``head.bias``.
        suffix = key.rsplit('.', 1)[-1]
        converted[f'cls_head.fc_cls.{suffix}'] = state_dict[key]
    dst_dir = osp.dirname(osp.abspath(dst))
    os.makedirs(dst_dir, exist_ok=True)
    torch.save(dict(state_dict=converted, meta=dict(converted_from=osp.basename(src))), dst)
    return dict(backbone=len(backbone), classifier=len(classifier_keys), dropped=len(outside_keys))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official VideoMAE / VideoMAEv2 checkpoint')
    parser.add_argument('dst', help='output checkpoint in MMAction2 format')
    args = parser.parse_args()
    counts = convert(args.src, args.dst)
    print(
        f'wrote {args.dst}: {counts["backbone"]} backbone tensors, '
        f'{counts["classifier"]} classifier tensors, {counts["dropped"]} keys dropped '
        '(outside the encoder)'
    )


if __name__ == '__main__':
    main()
