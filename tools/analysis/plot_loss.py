"""Plot the training loss of a run against the iteration.

python tools/analysis/plot_loss.py WORK_DIR [--out PNG] [--key loss]

Reads the scalars mmengine's local visualizer backend logs
(``WORK_DIR/<timestamp>/vis_data/scalars.json``; a resumed run adds a folder and
later folders win for an iteration logged twice), e.g. the masked-autoencoder
loss of ``configs/pretrain/videomae_vit-tiny_synthetic-unlabeled.py``.
"""

import argparse
import os.path as osp
import sys

import matplotlib

matplotlib.use('Agg')  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from plot_asba import find_scalar_files, scalar_records  # noqa: E402


def load_loss(work_dir: str, key: str = 'loss') -> dict[int, float]:
    """``{iteration: value}`` of scalar ``key`` over the run's ``scalars.json`` files."""
    series: dict[int, float] = {}
    paths = find_scalar_files(work_dir)
    for record in scalar_records(paths):
        if key in record and 'iter' in record:
            series[int(record['iter'])] = float(record[key])
    if not series:
        searched = ', '.join(paths) if paths else 'no vis_data/scalars.json found'
        raise FileNotFoundError(f'no {key!r} scalars in {work_dir} (searched: {searched})')
    return series


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description='Plot the training loss of a run')
    parser.add_argument('work_dir', help='work dir of a training run')
    parser.add_argument('--out', help='output PNG; defaults to WORK_DIR/loss.png')
    parser.add_argument('--key', default='loss', help='logged scalar. Default: loss')
    parser.add_argument('--title', default=None, help='figure title')
    args = parser.parse_args(argv)
    out_path = args.out or osp.join(args.work_dir, 'loss.png')
    try:
        series = load_loss(args.work_dir, args.key)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f'plot_loss: error: {err}')
    iters = sorted(series)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(iters, [series[i] for i in iters], color='tab:blue')
    ax.set_xlabel('iteration')
    ax.set_ylabel(args.key)
    ax.set_title(
        args.title or f'{args.key} ({osp.basename(osp.normpath(args.work_dir))})', fontsize=9
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    print(
        f'{args.key}: {series[iters[0]]:.3f} at iteration {iters[0]}, '
        f'{series[iters[-1]]:.3f} at {iters[-1]}; plot written to {out_path}'
    )
    return out_path


if __name__ == '__main__':
    main()
