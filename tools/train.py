"""Train a model from a config, then test it, with MMAction2's command-line options.

python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|CKPT]] [--no-test] ...

After training, the best checkpoint (else the last) is scored on the test split
by ``tools/test.py`` (in this process, with its defaults: the checkpoint's
operating point, timelines under WORK_DIR/timelines), and a summary is printed.
"""

import argparse
import gc
import importlib.util
import os.path as osp
import sys

try:
    import mmstda  # noqa: F401  (registers every component)
except ImportError:  # run from a source checkout that is not pip-installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import mmstda  # noqa: F401

# The tools' helpers (tools/_helpers), from a source checkout and from mmstda/.mim/tools.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from mmengine.dist import is_main_process
from mmengine.logging import MessageHub

from mmstda.utils.operating_point import read_operating_point

from _helpers.console import concise_console
from _helpers.cpu_threads import set_cpu_threads
from _helpers.launch import (
    apply_runner_args,
    build_runner,
    load_config,
    parse_runner_args,
    require_checkpoint_to_resume,
    user_errors,
)
from _helpers.run_summary import best_checkpoint, format_summary

TOOLS_DIR = osp.dirname(osp.abspath(__file__))


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
        '--no-test',
        action='store_true',
        help='stop after training (by default the best checkpoint is scored on the test split)',
    )
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
        require_checkpoint_to_resume(cfg.work_dir)
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


def raw_option_values(argv: list[str], option: str) -> list[str]:
    """The words given after ``option`` on the command line, as typed."""
    if option not in argv:
        return []
    values = []
    for word in argv[argv.index(option) + 1 :]:
        if word.startswith('--'):
            break
        values.append(word)
    return values


def load_test_tool():
    """``tools/test.py`` as a module, loaded before training with the rest of the code.

    Loading it only when training ends would mix code versions if the checkout
    changed during a long run.
    """
    spec = importlib.util.spec_from_file_location(
        'mmstda_test_tool', osp.join(TOOLS_DIR, 'test.py')
    )
    test_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(test_tool)
    return test_tool


def run_test_tool(test_tool, argv: list[str]) -> dict:
    """Run ``tools/test.py`` in this process as ``python tools/test.py *argv`` would.

    In-process rather than a subprocess so that a distributed run tests on the
    process group it trained on.

    Returns:
        dict: The test split's scalar metrics (``runner.test()``'s, recorded by
        mmengine's RuntimeInfoHook in the test runner's message hub).
    """
    saved_argv = sys.argv
    sys.argv = [test_tool.__file__, *argv]  # the tool reads its options from sys.argv
    try:
        test_tool.main()
    finally:
        sys.argv = saved_argv
    scalars = MessageHub.get_current_instance().log_scalars
    return {k[len('test/') :]: v.current() for k, v in scalars.items() if k.startswith('test/')}


def can_test(cfg) -> bool:
    return all(cfg.get(key) for key in ('test_dataloader', 'test_cfg', 'test_evaluator'))


def main() -> None:
    args = parse_args()
    with user_errors():
        cfg = merge_args(load_config(args.config, args.cfg_options), args)
        test_tool = None if args.no_test or not can_test(cfg) else load_test_tool()
        set_cpu_threads(cfg)
        with concise_console():
            runner = build_runner(cfg, args.launcher)
        runner.train()
        if test_tool is None:
            return
        checkpoint = best_checkpoint(runner.message_hub)
        if checkpoint is None:
            return
        best_val = runner.message_hub.runtime_info.get('best_score')
        del runner
        gc.collect()
        timeline_dir = osp.join(cfg.work_dir, 'timelines')
        test_argv = [
            args.config,
            checkpoint,
            '--work-dir',
            cfg.work_dir,
            '--show-dir',
            timeline_dir,
        ]
        test_argv += ['--launcher', args.launcher]
        options = raw_option_values(sys.argv[1:], '--cfg-options')
        metrics = run_test_tool(
            test_tool, test_argv + (['--cfg-options', *options] if options else [])
        )
        if is_main_process():
            point = read_operating_point(checkpoint) or {}
            summary = format_summary(
                config=args.config,
                checkpoint=checkpoint,
                test_metrics=metrics,
                val_f1=point.get('val_f1', best_val),
                score_thr=point.get('score_thr'),
                work_dir=cfg.work_dir,
                timeline_dir=timeline_dir,
                tools_dir=TOOLS_DIR,
            )
            print(summary, flush=True)


if __name__ == '__main__':
    main()
