"""Test a checkpoint, with MMAction2's command-line options.

python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--dump results.pkl] ...
"""

import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

try:
    import mmstda  # noqa: F401  (registers every component)
except ImportError:  # run from a source checkout that is not pip-installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import mmstda  # noqa: F401

from mmstda.utils.launch import (
    UserInputError,
    load_config,
    log_every_rank,
    setup_cpu_distributed,
    user_errors,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a micro-gesture model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where to save logs and metrics')
    parser.add_argument(
        '--dump',
        '--out',
        dest='dump',
        help='dump the raw predictions to this pickle file (.pkl)',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. test_dataloader.batch_size=1',
    )
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg, args: argparse.Namespace):
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if not osp.isfile(args.checkpoint):
        raise UserInputError(f'Checkpoint file not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise UserInputError(f'--dump expects a .pkl file, got {args.dump}')
        dump_metric = dict(type='DumpResults', out_file_path=args.dump)
        evaluator = cfg.test_evaluator
        cfg.test_evaluator = (
            [*evaluator, dump_metric]
            if isinstance(evaluator, list | tuple)
            else [evaluator, dump_metric]
        )
    return cfg


def main() -> None:
    args = parse_args()
    with user_errors():
        cfg = merge_args(load_config(args.config, args.cfg_options), args)
        setup_cpu_distributed(cfg, args.launcher)
        # FlexibleRunner (e.g. FSDP configs) is chosen by ``runner_type``.
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
        log_every_rank(runner)
        runner.test()


if __name__ == '__main__':
    main()
