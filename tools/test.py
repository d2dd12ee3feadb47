"""Test a checkpoint, with MMAction2's command-line options.

python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--dump results.pkl] ...
"""

import argparse
import glob
import json
import os
import os.path as osp
import sys

try:
    import mmstda  # noqa: F401  (registers every component)
except ImportError:  # run from a source checkout that is not pip-installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import mmstda  # noqa: F401

# The tools' helpers (tools/_helpers), from a source checkout and from mmstda/.mim/tools.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from mmstda.utils.checkpoint import require_matching_checkpoint
from mmstda.utils.errors import UserInputError
from mmstda.utils.operating_point import (
    add_score_thr_argument,
    apply_score_thr,
    resolve_score_thr,
)

from _helpers.console import concise_console
from _helpers.cpu_threads import set_cpu_threads
from _helpers.launch import (
    apply_runner_args,
    build_runner,
    load_config,
    parse_runner_args,
    user_errors,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a micro-gesture model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        help='checkpoint file, or a work dir to use the best checkpoint saved there '
        '(best_*.pth; the last one when training saved no best)',
    )
    parser.add_argument('--work-dir', help='where to save logs and metrics')
    parser.add_argument(
        '--dump',
        '--out',
        dest='dump',
        help='dump the raw predictions to this pickle file (.pkl)',
    )
    parser.add_argument(
        '--submission',
        help='micro-gesture submission CSV to write; defaults to WORK_DIR/submission.csv',
    )
    parser.add_argument(
        '--show-dir', help='draw one timeline PNG per video (ground truth, predictions, scores)'
    )
    add_score_thr_argument(parser)
    parser.add_argument(
        '--online',
        action='store_true',
        help='stream every test video through OnlineRecognizer from its first frame to its '
        'last and score what it emits (F1 and emission latency) instead of offline windows',
    )
    return parse_runner_args(parser, example='test_dataloader.batch_size=1')


def merge_args(cfg, args: argparse.Namespace):
    apply_runner_args(cfg, args)
    cfg.load_from = resolve_checkpoint(args.checkpoint)
    score_thr, source = resolve_score_thr(args.score_thr, cfg.load_from)
    # Read once: --online streams at the same threshold (and warns only once).
    args.resolved_score_thr = score_thr
    print(f'score_thr={score_thr}: {source}')
    if score_thr is not None and apply_score_thr(cfg.model, score_thr):
        print(f'score_thr={score_thr} opens runs in the OnlineTADHead (model.head.test_cfg)')
    for metric in _as_list(cfg.test_evaluator):
        if metric.get('type') == 'MicroGestureF1Metric':
            configured = metric.get('score_thr')
            if score_thr is not None:
                if configured is not None and float(configured) != score_thr:
                    print(
                        f'test_evaluator.score_thr={configured} from the config is replaced; '
                        f'pass --score-thr {configured} to use it'
                    )
                metric['score_thr'] = score_thr
            suffix = '_online' if args.online else ''
            metric['submission_file'] = args.submission or osp.join(
                cfg.work_dir, f'submission{suffix}.csv'
            )
            metric.setdefault('table_file', osp.join(cfg.work_dir, f'per_class_f1{suffix}.csv'))
            if args.show_dir:
                metric['timeline_dir'] = args.show_dir
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise UserInputError(f'--dump expects a .pkl file, got {args.dump}')
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        cfg.test_evaluator = [*_as_list(cfg.test_evaluator), dump_metric]
    return cfg


def _as_list(evaluator) -> list:
    return list(evaluator) if isinstance(evaluator, list | tuple) else [evaluator]


def resolve_checkpoint(path: str) -> str:
    """A checkpoint file, or the best checkpoint of a work dir (else its last one).

    The best checkpoint (``CheckpointHook(save_best=...)``, ``best_*.pth``) is saved
    right after the validation that chose its operating point, so its weights and
    its threshold belong together; a periodic checkpoint carries the previous
    validation's threshold.
    """
    if osp.isdir(path):
        best = sorted(glob.glob(osp.join(path, 'best_*.pth')))
        if len(best) > 1:
            raise UserInputError(
                f'work dir {path} holds {len(best)} best checkpoints ('
                + ', '.join(osp.basename(b) for b in best)
                + '): pass the one to test'
            )
        if best:
            print(f'Testing the best checkpoint of {path}: {best[0]}')
            return best[0]
        record = osp.join(path, 'last_checkpoint')
        if not osp.isfile(record):
            raise UserInputError(
                f'No checkpoint in work dir {path} (no best_*.pth and no last_checkpoint)'
            )
        with open(record) as f:
            path = f.read().strip()
        print(f'Testing the last checkpoint (the work dir has no best_*.pth): {path}')
    if not osp.isfile(path):
        raise UserInputError(f'Checkpoint file not found: {path}')
    return path


def test_online(cfg, score_thr: float | None) -> dict:
    """Stream the test videos through OnlineRecognizer; write WORK_DIR/online_metrics.json."""
    import torch

    from mmstda.apis.online_evaluation import evaluate_online

    os.makedirs(cfg.work_dir, exist_ok=True)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    # The metric's submission, table and timeline paths were set by merge_args.
    metrics = evaluate_online(cfg, cfg.load_from, score_thr, device=device)
    path = osp.join(cfg.work_dir, 'online_metrics.json')
    with open(path, 'w') as f:
        json.dump({k: float(v) for k, v in metrics.items()}, f, indent=1)
    print(f'Online metrics -> {path}')
    return metrics


def main() -> None:
    args = parse_args()
    with user_errors():
        cfg = merge_args(load_config(args.config, args.cfg_options), args)
        set_cpu_threads(cfg)
        if args.online:
            if args.dump is not None or args.launcher != 'none':
                raise UserInputError('--online runs in one process and writes no --dump pickle')
            test_online(cfg, args.resolved_score_thr)
            return
        with concise_console():
            runner = build_runner(cfg, args.launcher)
        require_matching_checkpoint(runner, cfg.load_from)
        runner.test()


if __name__ == '__main__':
    main()
