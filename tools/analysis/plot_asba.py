"""Plot ASBA's per-class augmentation intensity over the epochs of a training run.

python tools/analysis/plot_asba.py WORK_DIR [--out PNG] [--config CFG] [--highlight K]
    [--class-names NAME ...]

Reads the scalars ``ASBAHook`` logs at each epoch end from mmengine's local
visualizer backend (``WORK_DIR/<timestamp>/vis_data/scalars.json``). A resumed
run adds a timestamp folder; later folders win for an epoch logged twice.

Class names and training counts come from the run's training set, built from
the config the Runner saved in WORK_DIR (or ``--config``). With many classes the
K rarest and the K most frequent are drawn in colour and named in the legend
with their counts; the others are thin grey lines.
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


def scalar_records(paths: list[str]):
    """Yield the records of mmengine ``scalars.json`` files (one JSON object a line)."""
    for path in paths:
        with open(path) as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f'{path}:{line_no}: not a JSON line ({err})') from err


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
    for record in scalar_records(paths):
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


def find_saved_config(work_dir: str) -> str | None:
    """The config file mmengine's Runner saved in a work dir, None if there is none."""
    configs = sorted(glob.glob(osp.join(work_dir, '*.py')))
    if len(configs) > 1:
        raise ValueError(f'{work_dir} holds several configs ({", ".join(configs)}); pass --config')
    return configs[0] if configs else None


def training_classes(config_path: str) -> tuple[list[str], list[int]]:
    """Class names and per-class instance counts of a config's training set.

    Raises:
        ValueError: The training set cannot be built or has no class names or counts.
    """
    from mmaction.registry import DATASETS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmstda  # noqa: F401  (registers the datasets)
    from mmstda.engine.hooks.dataset_utils import iter_leaf_datasets, training_class_counts

    cfg = Config.fromfile(config_path)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    try:
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
        counts = training_class_counts(dataset)
    except Exception as err:
        raise ValueError(
            f'{config_path}: cannot read the class names and counts of '
            f'train_dataloader.dataset ({err}); pass --class-names instead'
        ) from err
    leaf = next(iter_leaf_datasets(dataset))
    names = list((getattr(leaf, 'metainfo', None) or {}).get('classes') or [])
    if len(names) != len(counts):
        raise ValueError(
            f'{config_path}: the training set names {len(names)} classes and counts '
            f'{len(counts)}; pass --class-names instead'
        )
    return names, counts


def highlighted_classes(counts: list[int], classes: list[int], k: int) -> list[int]:
    """The ``k`` rarest and the ``k`` most frequent of ``classes`` (all when few)."""
    if len(classes) <= 2 * k:
        return list(classes)
    by_count = sorted(classes, key=lambda c: (counts[c], c))
    return sorted(set(by_count[:k] + by_count[-k:]), key=lambda c: (counts[c], c))


def plot_asba(
    series: dict[str, dict[int, dict[int, float]]],
    out_path: str,
    class_names: list[str] | None = None,
    class_counts: list[int] | None = None,
    highlight: int = 3,
) -> str:
    """Draw intensity (and difficulty, when logged) per class against the epoch.

    Args:
        series (dict): As returned by :func:`load_asba_scalars`.
        out_path (str): PNG file to write.
        class_names (list[str], optional): Legend names, one per class index.
            Defaults to None (``class K``).
        class_counts (list[int], optional): Training instances per class; with
            them only the ``highlight`` rarest and most frequent classes are
            coloured and named. Defaults to None (every class coloured).
        highlight (int): Classes highlighted at each end. Defaults to 3.

    Returns:
        str: ``out_path``.
    """
    kinds = [kind for kind in ('intensity', 'difficulty') if series.get(kind)]
    classes = sorted({k for per_epoch in series['intensity'].values() for k in per_epoch})
    for what, values in (('--class-names gives', class_names), ('the config counts', class_counts)):
        if values is not None and len(values) <= max(classes):
            raise ValueError(
                f'{what} {len(values)} classes, the log has class indices up to {max(classes)}'
            )
    shown = highlighted_classes(class_counts, classes, highlight) if class_counts else classes
    fig, axes = plt.subplots(
        len(kinds), 1, figsize=(9, 3.2 * len(kinds) + 0.6), sharex=True, squeeze=False
    )
    colors = plt.get_cmap('tab20')
    for ax, kind in zip(axes[:, 0], kinds):
        epochs = sorted(series[kind])
        others = [k for k in classes if k not in shown]
        for k in others:
            points = [(e, series[kind][e][k]) for e in epochs if k in series[kind][e]]
            label = f'{len(others)} other classes' if k == others[0] else None
            ax.plot(*zip(*points), color='0.75', linewidth=0.8, label=label, zorder=1)
        for rank, k in enumerate(shown):
            points = [(e, series[kind][e][k]) for e in epochs if k in series[kind][e]]
            label = class_names[k] if class_names else f'class {k}'
            if class_counts:
                label += f' (n={class_counts[k]})'
            # tab20 pairs a dark and a light shade: take the dark ones first.
            color = colors((2 * rank + (rank // 10) % 2) % 20)
            ax.plot(*zip(*points), marker='o', markersize=3, color=color, label=label, zorder=2)
        ax.set_ylabel(kind)
        ax.grid(alpha=0.3)
    axes[0, 0].set_title('ASBA per-class augmentation intensity')
    axes[-1, 0].set_xlabel('epoch')
    axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    title = 'legend: rarest to most frequent' if class_counts else None
    axes[0, 0].legend(loc='upper left', bbox_to_anchor=(1.01, 1.0), fontsize=7, title=title)
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    plt.close(fig)
    return out_path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Plot ASBA per-class intensity over epochs')
    parser.add_argument('work_dir', help='work dir of a training run with ASBAHook')
    parser.add_argument('--out', help='output PNG; defaults to WORK_DIR/asba_intensity.png')
    parser.add_argument(
        '--config',
        help='config of the run, for class names and counts; defaults to the one saved in WORK_DIR',
    )
    parser.add_argument(
        '--highlight',
        type=int,
        default=3,
        help='colour and name only the K rarest and K most frequent classes (default 3)',
    )
    parser.add_argument('--class-names', nargs='+', help='legend names, in class-index order')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> str:
    args = parse_args(argv)
    out_path = args.out or osp.join(args.work_dir, 'asba_intensity.png')
    try:
        series = load_asba_scalars(args.work_dir)
        names, counts = args.class_names, None
        config = args.config or find_saved_config(args.work_dir)
        if config is not None:
            config_names, counts = training_classes(config)
            names = names or config_names
        else:
            print(f'No config saved in {args.work_dir}: legend without class counts.')
        plot_asba(series, out_path, names, counts, args.highlight)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f'plot_asba: error: {err}')
    print(f'ASBA intensity plot written to {out_path}')
    return out_path


if __name__ == '__main__':
    main()
