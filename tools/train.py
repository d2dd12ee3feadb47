"""Train a model from a config, with MMAction2's command-line options.

python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|CKPT]] ...
"""

import argparse
import os.path as osp
import sys

try:
    import mmstda  # noqa: F401  (registers every component)
except ImportError:  # run from a source checkout that is not pip-installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import mmstda  # noqa: F401

from mmstda.utils.launch import (
    apply_runner_args,
    build_runner,
    load_config,
    parse_runner_args,
    user_errors,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a micro-gesture model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where to save logs and checkpoints')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from CKPT, or from the latest checkpoint in the work dir when no '
        'path is given',
    )
    parser.add_argument('--amp', action='store_true', help='mixed-precision training (GPU)')
    parser.add_argument('--no-validate', action='store_true', help='skip validation')
    parser.add_argument(
        '--auto-scale-lr', action='store_true', help='scale the LR with the total batch size'
    )
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument(
        '--diff-rank-seed', action='store_true', help='use a different seed on each rank'
    )
    parser.add_argument(
        '--deterministic', action='store_true', help='deterministic algorithms (slower)'
    )
    return parse_runner_args(parser, example='train_cfg.max_epochs=3')


def merge_args(cfg, args: argparse.Namespace):
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    apply_runner_args(cfg, args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    randomness = {'seed': None, **(cfg.get('randomness') or {})}
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.diff_rank_seed:
        randomness['diff_rank_seed'] = True
    if args.deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness
    return cfg


def main() -> None:
    args = parse_args()
    with user_errors():
        cfg = merge_args(load_config(args.config, args.cfg_options), args)
        runner = build_runner(cfg, args.launcher)
        runner.train()


if __name__ == '__main__':
    main()
