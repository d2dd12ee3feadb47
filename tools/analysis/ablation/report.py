"""Scores and reports of the ablation study (``tools/analysis/run_ablation.py``).

Per run: the test F1 and the rare-class F1, read from the per-class table that
:class:`MicroGestureF1Metric` writes (``per_class_f1.csv``). Per variant: the mean
and standard deviation over seeds, as a JSON, a markdown table and a PNG chart.
"""

import csv
import json
import math
import os
import os.path as osp
from collections.abc import Sequence

import numpy as np

from mmstda.utils.errors import UserInputError

# Columns of the table, in order: (key in a run's result, header, format of one value).
METRICS = (
    ('test_f1', 'test F1', '{:.3f}'),
    ('rare_f1', 'rare-class F1', '{:.3f}'),
    ('trainable_percent', 'trainable params (%)', '{:.2f}'),
    ('train_minutes', 'train time (min)', '{:.1f}'),
    # CPU time depends less than wall time on what else shares the machine (and a
    # paused study adds nothing to it); launchers that cannot measure it give None.
    ('train_cpu_minutes', 'train CPU time (min)', '{:.1f}'),
    ('peak_memory_mb', 'peak memory (MB)', '{:.0f}'),
)
# A run resumed after an interruption times only its last attempt (the earlier
# ones died with their process), so its train times are left out of the means.
_TIMES = ('train_minutes', 'train_cpu_minutes')
_TITLES = {key: title for key, title, _ in METRICS}
_TABLE_COLUMNS = ('label', 'num_gt', 'num_pred', 'tp')


def pooled_scores(tp: int, num_pred: int, num_gt: int) -> dict:
    """Precision, recall and F1 of pooled counts, by ``mmstda.evaluation.segment_f1``'s rule.

    P = TP / #predictions, R = TP / #GT, F1 = 2PR / (P + R); every division by zero
    gives 0, never NaN. (Kept here, with a test pinning it to ``segment_f1``, so the
    study reads no private name of ``mmstda.evaluation``.)

    Returns:
        dict: ``precision``, ``recall``, ``f1``, ``tp``, ``num_pred`` and ``num_gt``.
    """
    precision = tp / num_pred if num_pred > 0 else 0.0
    recall = tp / num_gt if num_gt > 0 else 0.0
    denom = precision + recall
    f1 = 2 * precision * recall / denom if denom > 0 else 0.0
    return dict(precision=precision, recall=recall, f1=f1, tp=tp, num_pred=num_pred, num_gt=num_gt)


def rare_labels(train_counts: Sequence[int]) -> list[int]:
    """Labels (0-based) whose training count is below the median training count."""
    if len(train_counts) == 0:
        raise ValueError('no training class counts: the training split has no class')
    median = float(np.median(train_counts))
    return [label for label, count in enumerate(train_counts) if count < median]


def read_class_table(path: str) -> dict[str, dict]:
    """Rows of a ``per_class_f1.csv`` by label (``'0'``, ``'1'``, ..., ``'all'``).

    Raises:
        UserInputError: The file is missing, lacks a column or holds a non-integer count.
    """
    if not osp.isfile(path):
        raise UserInputError(f'{path}: per-class F1 table not found')
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        missing = [c for c in _TABLE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise UserInputError(f'{path}: missing columns {missing}; got {reader.fieldnames}')
        rows = {}
        for line_no, row in enumerate(reader, start=2):
            try:
                counts = {c: int(row[c]) for c in _TABLE_COLUMNS[1:]}
            except (TypeError, ValueError):
                raise UserInputError(
                    f'{path}:{line_no}: expected integer num_gt, num_pred, tp, got {row}'
                ) from None
            rows[row['label']] = dict(row, **counts)
    if 'all' not in rows:
        raise UserInputError(f"{path}: no 'all' row (the micro-averaged total)")
    return rows


def run_scores(table: dict[str, dict], rare: Sequence[int]) -> dict:
    """Test F1 (the table's ``all`` row) and the F1 micro-averaged over ``rare`` labels.

    The rare-class F1 pools the rare classes' counts (true positives, predictions,
    ground truths), as the overall F1 pools all classes: a rare class has only a
    handful of test gestures, too few for a per-class F1 to mean much.
    """
    total = table['all']
    pooled = [table[str(label)] for label in rare if str(label) in table]
    rare_scores = pooled_scores(
        sum(r['tp'] for r in pooled),
        sum(r['num_pred'] for r in pooled),
        sum(r['num_gt'] for r in pooled),
    )
    overall = pooled_scores(total['tp'], total['num_pred'], total['num_gt'])
    return dict(
        test_f1=overall['f1'],
        test_precision=overall['precision'],
        test_recall=overall['recall'],
        test_num_gt=overall['num_gt'],
        rare_f1=rare_scores['f1'],
        rare_num_gt=rare_scores['num_gt'],
    )


def write_json_atomic(path: str, content) -> None:
    """Write JSON to a temporary file, then rename it: readers never see half a file."""
    partial = f'{path}.partial'
    with open(partial, 'w') as f:
        json.dump(content, f, indent=2, default=str)
    os.replace(partial, path)


def _mean_std(values: list[float]) -> tuple[float, float | None]:
    mean = float(np.mean(values))
    return mean, (float(np.std(values, ddof=1)) if len(values) > 1 else None)


def summarise(rows: Sequence[dict], runs: dict[str, list[dict]]) -> list[dict]:
    """Mean and std over seeds of each metric, per table row.

    Args:
        rows (Sequence[dict]): ``name``, ``group``, ``label`` and ``runs_of`` (the
            variant whose runs the row shows) of each row, in table order.
        runs (dict[str, list[dict]]): Finished run results by variant name.

    Returns:
        list[dict]: Per row, its fields plus ``seeds``, ``untimed`` (seeds of
        resumed runs, whose train times are left out) and, per metric key,
        ``{'mean': float, 'std': float | None}`` (None with fewer than 2 values,
        missing when no run has the value).
    """
    summary = []
    for row in rows:
        finished = runs.get(row['runs_of'], [])
        entry = dict(row, seeds=sorted(r['seed'] for r in finished))
        entry['untimed'] = sorted(r['seed'] for r in finished if r.get('resumed'))
        for key, _, _ in METRICS:
            timed = [r for r in finished if key not in _TIMES or not r.get('resumed')]
            values = [r[key] for r in timed if r.get(key) is not None]
            if values:
                mean, std = _mean_std(values)
                entry[key] = dict(mean=mean, std=std)
        summary.append(entry)
    return summary


def smallest_real_difference(runs: dict[str, list[dict]], key: str = 'test_f1') -> dict | None:
    """The difference between two variants' means that seed noise alone rarely reaches.

    The per-variant seed spreads are pooled into one standard deviation ``s``; with
    ``n`` seeds per variant the difference of two means has standard error
    ``s * sqrt(2 / n)``, and twice that (about a 95% two-sided bound) is the
    smallest difference to call real. It covers training randomness only: every
    run is scored on the same test videos.

    Returns:
        dict | None: ``pooled_std``, ``seeds`` and ``difference``; None without any
        variant that has 2 or more seeds.
    """
    squares, dof, sizes = 0.0, 0, []
    for finished in runs.values():
        values = [r[key] for r in finished if r.get(key) is not None]
        if len(values) > 1:
            squares += float(np.var(values, ddof=1)) * (len(values) - 1)
            dof += len(values) - 1
            sizes.append(len(values))
    if dof == 0:
        return None
    pooled = math.sqrt(squares / dof)
    seeds = min(sizes)
    return dict(pooled_std=pooled, seeds=seeds, difference=2 * pooled * math.sqrt(2 / seeds))


def _cell(stats: dict | None, fmt: str, finished: bool) -> str:
    if stats is None:
        return 'not measured' if finished else 'not run'
    text = fmt.format(stats['mean'])
    return text if stats['std'] is None else f'{text} ± {fmt.format(stats["std"])}'


def markdown_table(summary: Sequence[dict], noise: dict | None) -> str:
    """The study's table: one row per variant, mean ± std over seeds."""
    header = ['group', 'variant', *(title for _, title, _ in METRICS), 'seeds']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for row in summary:
        label = row['label'] + (f' (= {row["runs_of"]})' if row['runs_of'] != row['name'] else '')
        cells = [row['group'], label]
        cells += [_cell(row.get(key), fmt, bool(row['seeds'])) for key, _, fmt in METRICS]
        cells.append(','.join(str(s) for s in row['seeds']) or '-')
        lines.append('| ' + ' | '.join(cells) + ' |')
    untimed = [
        f'{row["runs_of"]} seed {seed}'
        for row in summary
        if row['runs_of'] == row['name']
        for seed in row.get('untimed', [])
    ]
    if untimed:
        lines.append(
            f'\nTrain times leave out {len(untimed)} resumed run(s) ({", ".join(untimed)}): '
            'a resumed run times only its last attempt.'
        )
    if noise is None:
        lines.append('\nWith one seed per variant, the seed spread (and so which differences '
                     'are real) is unknown.')  # fmt: skip
    else:
        lines.append(
            f'\nSeed noise: pooled std of test F1 over seeds {noise["pooled_std"]:.3f}; with '
            f'{noise["seeds"]} seeds per variant, a difference in mean test F1 below '
            f'{noise["difference"]:.3f} (2 standard errors) is within seed noise.'
        )
    return '\n'.join(lines) + '\n'


def plot_summary(summary: Sequence[dict], path: str) -> None:
    """A PNG with one panel per metric, one bar per variant (error bar: std)."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names = [row['name'] for row in summary]
    panels = [(('test_f1', 'rare_f1'), 'F1 (test, rare classes)')] + [
        ((key,), title) for key, title, _ in METRICS[2:]
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(max(6, 0.7 * len(names) + 2), 10))
    positions = np.arange(len(names))
    for ax, (keys, title) in zip(axes, panels):
        width = 0.8 / len(keys)
        for index, key in enumerate(keys):
            stats = [row.get(key) for row in summary]
            ax.bar(
                positions + (index - (len(keys) - 1) / 2) * width,
                [s['mean'] if s else 0.0 for s in stats],
                width,
                yerr=[(s['std'] or 0.0) if s else 0.0 for s in stats],
                capsize=3,
                label=_TITLES[key],
            )
        ax.set_title(title, fontsize=10)
        ax.set_xticks(positions, names, rotation=30, ha='right', fontsize=8)
        if len(keys) > 1:
            ax.legend(fontsize=8)
            ax.set_ylim(0, 1)
        if keys == ('trainable_percent',):
            ax.set_yscale('log', nonpositive='clip')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
