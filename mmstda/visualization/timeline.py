"""Timeline figures: ground-truth and predicted segments along a video."""

import os
import os.path as osp
from collections.abc import Sequence

import numpy as np


def draw_timeline(
    out_file: str,
    predictions: Sequence[tuple[int, float, float, float]],
    class_names: Sequence[str],
    num_frames: int,
    ground_truths: Sequence[tuple[int, float, float]] | None = None,
    score_trace: tuple[np.ndarray, np.ndarray] | None = None,
    title: str = '',
) -> str:
    """Draw segments coloured by class, one lane each for ground truth and predictions.

    Args:
        out_file (str): PNG path to write; its folder is created.
        predictions (Sequence[tuple]): ``(label, start_frame, end_frame, score)`` with
            0-based labels and native frames.
        class_names (Sequence[str]): Names indexed by 0-based label.
        num_frames (int): Length of the video in native frames (the x range).
        ground_truths (Sequence[tuple], optional): ``(label, start_frame, end_frame)``,
            0-based labels. Defaults to None (no ground-truth lane).
        score_trace (tuple, optional): ``(frames (N,), scores (N,))``, e.g. the
            highest class probability per frame, drawn under the lanes.
            Defaults to None.
        title (str): Figure title, e.g. the video id and its F1. Defaults to ''.

    Returns:
        str: ``out_file``.
    """
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    lanes = [('prediction', [(label, start, end) for label, start, end, _ in predictions])]
    if ground_truths is not None:
        lanes.insert(0, ('ground truth', list(ground_truths)))
    colours = plt.get_cmap('tab20')
    rows = 2 if score_trace is not None else 1
    fig, axes = plt.subplots(
        rows,
        1,
        figsize=(14, 1.4 + 0.7 * len(lanes) + 1.4 * (rows - 1)),
        sharex=True,
        squeeze=False,
    )
    ax = axes[0, 0]
    used = set()
    for lane, (_, items) in enumerate(lanes):
        for label, start, end in items:
            ax.broken_barh(
                [(start, max(end - start, 1))], (lane - 0.4, 0.8), color=colours(int(label) % 20)
            )
            used.add(int(label))
    ax.set_yticks(range(len(lanes)), [name for name, _ in lanes])
    ax.set_ylim(-0.6, len(lanes) - 0.4)
    ax.set_xlim(0, max(num_frames, 1))
    if title:
        ax.set_title(title)
    handles = [
        Patch(
            color=colours(label % 20),
            label=class_names[label] if 0 <= label < len(class_names) else f'class {label}',
        )
        for label in sorted(used)
    ]
    if handles:
        ax.legend(handles=handles, loc='upper left', bbox_to_anchor=(1.0, 1.0), fontsize=7)
    if score_trace is not None:
        frames, scores = score_trace
        axes[1, 0].plot(frames, scores, linewidth=0.8, color='black')
        axes[1, 0].set_ylim(0, 1)
        axes[1, 0].set_ylabel('score')
    axes[-1, 0].set_xlabel('frame')
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file, dpi=100)
    plt.close(fig)
    return out_file
