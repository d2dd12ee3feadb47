"""Draw what a masked-autoencoder pretraining checkpoint sees and reconstructs.

python tools/analysis/visualize_mae.py CONFIG CHECKPOINT [--out PNG] [--frames 4] [--seed 0]

Takes one clip of the config's training data, hides a random tube mask as in
training, and writes a PNG with one row each for the masked input (hidden
tubelets grey), the reconstruction (visible tubelets from the input, hidden ones
predicted) and the target (the input clip), on a few evenly spaced frames.
Predictions in normalised-pixel units are mapped back with each hidden
tubelet's own mean and standard deviation, as VideoMAE shows them.
"""

import argparse
import os
import os.path as osp
import sys

import cv2
import numpy as np
import torch

try:
    import mmstda  # noqa: F401
except ImportError:  # run from a source checkout that is not pip-installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import mmstda  # noqa: F401

from mmaction.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmstda.models.pretrainers.videomae_pretrainer import patchify, unpatchify
from mmstda.utils.checkpoint import checkpoint_state_dict, load_checkpoint_file


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Masked input, reconstruction and target')
    parser.add_argument('config', help='pretraining config')
    parser.add_argument('checkpoint', help='pretraining checkpoint (with the decoder)')
    parser.add_argument('--out', default='mae_reconstruction.png', help='output PNG')
    parser.add_argument('--frames', type=int, default=4, help='frames shown. Default: 4')
    parser.add_argument('--index', type=int, default=0, help='dataset item. Default: 0')
    parser.add_argument('--seed', type=int, default=0, help='clip and mask seed. Default: 0')
    parser.add_argument('--zoom', type=int, default=4, help='pixel zoom. Default: 4')
    return parser.parse_args()


def reconstruct_clip(model, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
    """Masked input, reconstruction and target of ``inputs`` ``(1, C, T, H, W)``."""
    with torch.no_grad():
        out = model.reconstruct(inputs)
    tubelet, patch = model.tubelet_size, model.patch_size
    target = patchify(inputs, tubelet, patch)
    mask = out['token_mask']
    hidden = target[mask].reshape(1, -1, target.shape[-1])
    pred = out['pred']
    if model.norm_pix_loss:
        # Back to pixels with each hidden tubelet's own statistics.
        x = hidden.reshape(*hidden.shape[:-1], -1, model.in_channels)
        mean, std = x.mean(-2, keepdim=True), (x.var(-2, keepdim=True) + 1e-6).sqrt()
        pred = (pred.reshape(x.shape) * std + mean).reshape(hidden.shape)
    recon, masked = target.clone(), target.clone()
    recon[mask] = pred.reshape(-1, target.shape[-1])
    masked[mask] = float('nan')
    grid = out['grid']
    return dict(
        masked=unpatchify(masked, grid, tubelet, patch),
        reconstruction=unpatchify(recon, grid, tubelet, patch),
        target=inputs,
    )


def to_rgb(video: torch.Tensor, mean, std) -> np.ndarray:
    """``(1, C, T, H, W)`` normalised -> ``(T, H, W, 3)`` uint8; NaN (hidden) -> grey."""
    x = video[0].permute(1, 2, 3, 0).numpy()
    x = x * np.asarray(std) + np.asarray(mean)
    x = np.where(np.isnan(x), 128.0, x)
    return np.clip(x, 0, 255).astype(np.uint8)


def draw(rows: dict[str, np.ndarray], frames: list[int], zoom: int) -> np.ndarray:
    label_w, pad = 150, 2
    lines = []
    for name, video in rows.items():
        tiles = [
            cv2.resize(video[t], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
            for t in frames
        ]
        h = tiles[0].shape[0]
        label = np.full((h, label_w, 3), 255, np.uint8)
        cv2.putText(label, name, (4, h // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
        spaced = [label]
        for tile in tiles:
            spaced += [np.full((h, pad, 3), 255, np.uint8), tile]
        lines.append(np.concatenate(spaced, axis=1))
    return np.concatenate(lines, axis=0)


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model = MODELS.build(cfg.model)
    state_dict = checkpoint_state_dict(
        load_checkpoint_file(args.checkpoint, 'cpu'), args.checkpoint
    )
    model.load_state_dict(state_dict)
    model.eval()
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    data = model.data_preprocessor(
        dict(inputs=[dataset[args.index]['inputs']], data_samples=None), training=False
    )
    inputs = data['inputs']
    inputs = inputs.flatten(0, 1) if inputs.dim() == 6 else inputs
    videos = reconstruct_clip(model, inputs[:1])
    pre = model.data_preprocessor
    mean, std = pre.mean.flatten().tolist(), pre.std.flatten().tolist()
    rows = {
        'masked input': to_rgb(videos['masked'], mean, std),
        'reconstruction': to_rgb(videos['reconstruction'], mean, std),
        'target': to_rgb(videos['target'], mean, std),
    }
    num_frames = inputs.shape[2]
    frames = np.linspace(0, num_frames - 1, args.frames).round().astype(int).tolist()
    image = draw(rows, frames, args.zoom)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    print(f'wrote {args.out} (frames {frames} of one clip)')


if __name__ == '__main__':
    main()
