"""What ``tools/train.py`` prints when the main job is done."""

import os.path as osp

from mmengine.logging import MessageHub

# Metrics shown in the summary when a test reports them; per-class scores stay in
# the per-class table.
_HEADLINE = ('f1', 'precision', 'recall')


def best_checkpoint(message_hub: MessageHub) -> str | None:
    """The best checkpoint a training run saved (``save_best``), else its last one.

    Args:
        message_hub (MessageHub): The training runner's message hub, where
            mmengine's ``CheckpointHook`` records ``best_ckpt`` / ``last_ckpt``.

    Returns:
        str | None: An existing checkpoint file, or None when none was saved.
    """
    info = message_hub.runtime_info
    best = [info[key] for key in info if key.startswith('best_ckpt')]
    for path in [*best, info.get('last_ckpt')]:
        if path and osp.isfile(path):
            return path
    return None


def headline_metrics(metrics: dict) -> dict:
    """F1, precision and recall when reported (no per-class keys), else every metric."""
    headline = {k: v for k, v in metrics.items() if k.rsplit('/', 1)[-1] in _HEADLINE}
    return headline or dict(metrics)


def shown_path(path: str) -> str:
    """``path`` relative to the current folder when it lies inside it, else absolute.

    The runner records the checkpoint with the work dir's absolute path while the
    work dir itself may be given as ``./work_dirs/...``: showing both the same way
    keeps the summary's paths consistent and copyable.
    """
    relative = osp.relpath(path)
    return osp.abspath(path) if relative.startswith('..') else relative


def format_summary(
    config: str,
    checkpoint: str,
    test_metrics: dict,
    val_f1: float | None,
    score_thr: float | None,
    work_dir: str,
    timeline_dir: str | None,
    tools_dir: str,
) -> str:
    """The closing summary of the main job: scores, files, and what to run next.

    Args:
        config (str): The config the user trained.
        checkpoint (str): The checkpoint that was tested.
        test_metrics (dict): Scalar metrics of the test split.
        val_f1 (float, optional): Validation F1 of ``checkpoint``.
        score_thr (float, optional): The score threshold chosen on validation
            and applied on the test split.
        work_dir (str): The run's work dir.
        timeline_dir (str, optional): Where the test timelines were drawn.
        tools_dir (str): The folder of ``train.py`` (for the commands shown).

    Returns:
        str: Several lines, without a trailing newline.
    """
    test = '  '.join(f'{k} {v:.3f}' for k, v in headline_metrics(test_metrics).items())
    if score_thr is not None:
        test += f'  (score threshold {score_thr:.2f}, chosen on validation)'
    lines = [f'==== Done: {config} ====', f'test:        {test or "no metrics reported"}']
    if val_f1 is not None:
        lines.append(f'validation:  F1 {val_f1:.3f}')
    checkpoint = shown_path(checkpoint)
    lines.append(f'checkpoint:  {checkpoint}')
    if timeline_dir and osp.isdir(timeline_dir):
        lines.append(f'timelines:   {shown_path(timeline_dir)} (one PNG per test video)')
    outputs = [
        shown_path(osp.join(work_dir, name))
        for name in ('submission.csv', 'per_class_f1.csv')
        if osp.isfile(osp.join(work_dir, name))
    ]
    if outputs:
        lines.append(f'outputs:     {", ".join(outputs)}')
    # Relative to the current folder from a clone; absolute for an installed copy.
    tools = shown_path(tools_dir)
    lines += [
        'score other videos:',
        f'  python {osp.join(tools, "online_infer.py")} VIDEO {config} {checkpoint} '
        '--out preds.csv --timeline timeline.png',
        'score another data split:',
        f'  python {osp.join(tools, "test.py")} {config} {checkpoint} --cfg-options '
        'test_dataloader.dataset.data_root=DATA',
    ]
    return '\n'.join(lines)
