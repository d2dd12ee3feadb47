"""Plot ASBA's per-class augmentation intensity over the epochs of a training run.

python tools/analysis/plot_asba.py WORK_DIR [--out PNG] [--class-names NAME ...]

Reads the scalars ``ASBAHook`` logs at each epoch end from mmengine's local
visualizer backend (``WORK_DIR/<timestamp>/vis_data/scalars.json``). A resumed
run adds a timestamp folder; later folders win for an epoch logged twice.
"""

import argparse
import glob
import json
import os.path as osp
import re
import sys

import matplotlib

matplotlib.use('Agg')  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

# Mirrors ASBAHook's ``asba/intensity/class_{:02d}`` and ``asba/difficulty/...``.
_KEY = re.compile(r'^asba/(intensity|difficulty)/class_(\d+)$')


def find_scalar_files(work_dir: str) -> list[str]:
    """``scalars.json`` files of a work dir (or of one of its timestamp folders), oldest first."""
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'work dir {work_dir} does not exist')
    paths = glob.glob(osp.join(work_dir, 'vis_data', 'scalars.json'))
    paths += sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    return paths


def load_asba_scalars(work_dir: str) -> dict[str, dict[int, dict[int, float]]]:
    """Read the per-epoch ASBA scalars of a training run.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        dict: ``{'intensity': {epoch: {class: value}}, 'difficulty': {...}}``.

    Raises:
        FileNotFoundError: If the work dir holds no ASBA scalars.
        ValueError: If a line of a ``scalars.json`` is not JSON.
    """
    series: dict[str, dict[int, dict[int, float]]] = {'intensity': {}, 'difficulty': {}}
    paths = find_scalar_files(work_dir)
    for path in paths:
        with open(path) as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f'{path}:{line_no}: not a JSON line ({err})') from err
                for key, value in record.items():
                    match = _KEY.match(key)
                    if match is None:
                        continue
                    kind, class_idx = match.group(1), int(match.group(2))
                    epoch = int(record.get('step', 0))
                    series[kind].setdefault(epoch, {})[class_idx] = float(value)
    if not series['intensity']:
        searched = ', '.join(paths) if paths else 'no vis_data/scalars.json found'
        raise FileNotFoundError(
            f'no ASBA intensity scalars (asba/intensity/class_KK) in {work_dir} '
            f'(searched: {searched}); train with ASBAHook and a visualizer with '
            'LocalVisBackend, as in the default runtime'
        )
    return series


def plot_asba(
    series: dict[str, dict[int, dict[int, float]]],
    out_path: str,
    class_names: list[str] | None = None,
) -> str:
    """Draw intensity (and difficulty, when logged) per class against the epoch.

    Args:
        series (dict): As returned by :func:`load_asba_scalars`.
        out_path (str): PNG file to write.
        class_names (list[str], optional): Legend names, one per class index.
            Defaults to None (``class K``).

    Returns:
        str: ``out_path``.
    """
    kinds = [kind for kind in ('intensity', 'difficulty') if series.get(kind)]
    classes = sorted({k for per_epoch in series['intensity'].values() for k in per_epoch})
    if class_names is not None and len(class_names) <= max(classes):
        raise ValueError(
            f'--class-names gives {len(class_names)} names, the log has class '
            f'indices up to {max(classes)}'
        )
    fig, axes = plt.subplots(
        len(kinds), 1, figsize=(9, 3.2 * len(kinds) + 0.6), sharex=True, squeeze=False
    )
    colors = plt.get_cmap('tab20')
    for ax, kind in zip(axes[:, 0], kinds):
        epochs = sorted(series[kind])
        for k in classes:
            points = [(e, series[kind][e][k]) for e in epochs if k in series[kind][e]]
            label = class_names[k] if class_names else f'class {k}'
            # tab20 pairs a dark and a light shade: take the dark ones first.
            color = colors((2 * k + (k // 10) % 2) % 20)
            ax.plot(*zip(*points), marker='o', markersize=3, color=color, label=label)
        ax.set_ylabel(kind)
        ax.grid(alpha=0.3)
    axes[0, 0].set_title('ASBA per-class augmentation intensity')
    axes[-1, 0].set_xlabel('epoch')
    axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0, 0].legend(loc='upper left', bbox_to_anchor=(1.01, 1.0), fontsize=7)
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    plt.close(fig)
    return out_path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Plot ASBA per-class intensity over epochs')
    parser.add_argument('work_dir', help='work dir of a training run with ASBAHook')
    parser.add_argument('--out', help='output PNG; defaults to WORK_DIR/asba_intensity.png')
    parser.add_argument('--class-names', nargs='+', help='legend names, in class-index order')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> str:
    args = parse_args(argv)
    out_path = args.out or osp.join(args.work_dir, 'asba_intensity.png')
    try:
        series = load_asba_scalars(args.work_dir)
        plot_asba(series, out_path, args.class_names)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f'plot_asba: error: {err}')
    print(f'ASBA intensity plot written to {out_path}')
    return out_path


if __name__ == '__main__':
    main()
