"""Keep the encoder of a pretraining checkpoint, for fine-tuning configs.

python tools/export_pretrained_backbone.py SRC DST

SRC is a checkpoint saved while training ``VideoMAEPretrainer`` (or any model whose
trunk is its ``backbone``). DST holds only ``state_dict`` with the ``backbone.*``
tensors (MMAction2 ``VisionTransformer`` names) and a small ``meta``: no decoder,
optimizer or message hub, so it loads with ``weights_only=True`` through
``DecoupledAdapterViT(pretrained=DST)`` or ``init_cfg=dict(type='Pretrained',
checkpoint=DST, prefix='backbone.')``.
"""

import argparse
import os
import os.path as osp
import sys

import torch

try:
    import mmstda  # noqa: F401
except ImportError:  # run from a source checkout that is not pip-installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmstda.utils.checkpoint import checkpoint_state_dict, load_checkpoint_file

PREFIX = 'backbone.'


def export_backbone(src: str, dst: str) -> dict:
    """Write the ``backbone.*`` weights of ``src`` to ``dst``; return the saved dict."""
    checkpoint = load_checkpoint_file(src, map_location='cpu')
    state_dict = checkpoint_state_dict(checkpoint, src)
    kept = {
        k: v.detach().clone().contiguous() for k, v in state_dict.items() if k.startswith(PREFIX)
    }
    if not kept:
        raise ValueError(
            f'{src}: no "{PREFIX}" keys; is it a checkpoint of a model with a backbone?'
        )
    source_meta = checkpoint.get('meta', {}) if isinstance(checkpoint, dict) else {}
    meta = dict(source=osp.basename(src))
    for key in ('iter', 'epoch'):
        if isinstance(source_meta.get(key), int):
            meta[key] = source_meta[key]
    out = dict(state_dict=kept, meta=meta)
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(out, dst)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description='Export the pretrained backbone of a checkpoint')
    parser.add_argument('src', help='pretraining checkpoint (e.g. work_dirs/.../iter_2400.pth)')
    parser.add_argument('dst', help='output file (backbone weights only)')
    args = parser.parse_args()
    out = export_backbone(args.src, args.dst)
    numel = sum(v.numel() for v in out['state_dict'].values())
    print(
        f'wrote {len(out["state_dict"])} tensors ({numel:,} values, '
        f'{osp.getsize(args.dst) / 2**20:.1f} MiB) to {args.dst}'
    )


if __name__ == '__main__':
    main()
