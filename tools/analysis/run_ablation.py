"""The ablation study in one resumable command: every variant x every seed.

    python tools/analysis/run_ablation.py [--variants stda asba-off ...] [--seeds 0 1 2]
        [--work-dir work_dirs/ablation] [--base-config configs/ablation/study_demo.py]
        [--cfg-options KEY=VALUE ...] [--smoke] [--check] [--skip-unavailable]
        [--report-dir DIR] [--report-only] [--jobs N]

Each run trains with ``tools/train.py`` and scores the best checkpoint on the test
split with ``tools/test.py``, in subprocesses, exactly as a user would. A finished
run leaves ``WORK_DIR/VARIANT/seedN/result.json`` (written after its test); a
rerun skips it, resumes a run that was interrupted during training, and retrains
a run whose config changed. The report (``results.json``, ``results.md`` and
``results.png``) is rewritten from every finished run at the end.

Variants are overrides of the base config (``tools/analysis/ablation/variants.py``);
``--check`` builds each of them and says which can run here.

``--jobs N`` runs N runs at once. Each run's training uses one intra-op thread
(``cpu_threads`` in the demo config), so on a machine with N cores ``--jobs N``
keeps every core busy; the train times in the report are then those of runs
sharing the machine.
"""

import argparse
import copy
import glob
import hashlib
import json
import os
import os.path as osp
import platform
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from mmengine.config import DictAction
from mmengine.logging import MMLogger
from tqdm import tqdm

try:
    import mmstda  # noqa: F401  (registers every component)
except ImportError:  # run from a source checkout that is not pip-installed
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import mmstda  # noqa: F401

# The study's own package (tools/analysis/ablation) and the tools' helpers (tools/_helpers),
# from a source checkout and from the wheel's mmstda/.mim/tools alike.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from mmstda.utils.errors import UserInputError
from mmstda.utils.operating_point import read_operating_point

from _helpers.launch import load_config, user_errors
from ablation.report import (
    markdown_table,
    plot_summary,
    rare_labels,
    read_class_table,
    run_scores,
    smallest_real_difference,
    summarise,
    write_json_atomic,
)
from ablation.variants import (
    VariantUnavailable,
    default_variant_names,
    get_variant,
    variant_config,
)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_BASE = 'configs/ablation/study_demo.py'
# A few iterations: one epoch of 2 windows per training video, validated once (so
# a best checkpoint and its operating point exist) and tested. Checks the plumbing.
SMOKE_OPTIONS = {
    'train_cfg.max_epochs': 1,
    'train_cfg.val_interval': 1,
    'train_dataloader.dataset.windows_per_video': 2,
}
MIN_TEST_GESTURES = 100  # fewer and the variants' differences drown in test noise
RESULT = 'result.json'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train and test every ablation variant with several seeds (resumable)'
    )
    parser.add_argument(
        '--variants', nargs='+', help=f'variants to run (default: all: {default_variant_names()})'
    )
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2], help='random seeds')
    parser.add_argument(
        '--work-dir', default='work_dirs/ablation', help='runs, cache and report go here'
    )
    parser.add_argument('--base-config', default=DEFAULT_BASE, help='config the variants modify')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides of the base config (before each variant), e.g. train_cfg.max_epochs=5',
    )
    parser.add_argument(
        '--smoke', action='store_true', help='a few iterations per run: checks the plumbing only'
    )
    parser.add_argument(
        '--check', action='store_true', help='build every variant, report, and train nothing'
    )
    parser.add_argument(
        '--skip-unavailable',
        action='store_true',
        help='leave out variants whose prerequisites are missing instead of stopping',
    )
    parser.add_argument('--report-dir', help='where to write the report (default: --work-dir)')
    parser.add_argument(
        '--jobs',
        type=int,
        default=1,
        help='runs at once (each trains on one thread; e.g. the number of CPU cores)',
    )
    parser.add_argument(
        '--report-only',
        action='store_true',
        help='write the report from the finished runs in --work-dir, train nothing '
        '(e.g. while the study runs in other processes)',
    )
    return parser.parse_args()


# --------------------------------------------------------------------------- planning
def load_base(args: argparse.Namespace):
    options = dict(args.cfg_options or {})
    if args.smoke:
        options = {**SMOKE_OPTIONS, **options}
    return load_config(args.base_config, options)


def model_parameters(cfg) -> dict:
    """Trainable and total parameters of the detector a config builds, and of its backbone."""
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model = MODELS.build(copy.deepcopy(cfg.model))
    counts = {}
    for part, module in (('', model), ('backbone_', model.backbone)):
        total = sum(p.numel() for p in module.parameters())
        trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
        counts[f'{part}trainable_params'] = trainable
        counts[f'{part}total_params'] = total
        counts[f'{part}trainable_percent'] = 100.0 * trainable / max(total, 1)
    return counts


def prepare_variants(base, names: list[str]) -> tuple[dict, list[str]]:
    """Config, overrides and parameter counts of each variant that can run here.

    A row that reuses another variant's runs (``same_as``) brings that variant in.

    Returns:
        tuple[dict, list[str]]: The runnable variants by name, and one line per
        variant whose prerequisite is missing.
    """
    wanted = []
    for name in names:
        for needed in (get_variant(name).same_as, name):
            if needed and needed not in wanted:
                wanted.append(needed)
    prepared, problems = {}, []
    for name in wanted:
        variant = get_variant(name)
        try:
            cfg = variant_config(base, variant)
        except VariantUnavailable as error:
            problems.append(str(error))
            continue
        prepared[name] = dict(
            variant=variant, cfg=cfg, overrides=variant.overrides(base), **model_parameters(cfg)
        )
    runnable = {
        name: entry
        for name, entry in prepared.items()
        if not entry['variant'].same_as or entry['variant'].same_as in prepared
    }
    return runnable, problems


def split_facts(cfg) -> dict:
    """Training class counts and the test set's size, from the datasets themselves."""
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope

    from mmstda.engine.hooks.dataset_utils import training_class_counts

    init_default_scope(cfg.get('default_scope', 'mmaction'))
    facts = {}
    for split in ('train', 'test'):
        dataset_cfg = copy.deepcopy(cfg[f'{split}_dataloader'].dataset)
        dataset_cfg['pipeline'] = []
        dataset = DATASETS.build(dataset_cfg)
        dataset.full_init()
        facts[split] = dataset
    counts = training_class_counts(facts['train'])
    test_videos = facts['test'].videos
    return dict(
        classes=list(facts['train'].metainfo['classes']),
        train_class_counts=counts,
        rare_labels=rare_labels(counts),
        test_videos=len(test_videos),
        test_gestures=int(sum(len(v['video_gt_labels']) for v in test_videos)),
    )


def fingerprint(cfg) -> str:
    """Hash of everything that decides a run's result (the work dir excluded)."""
    content = {k: v for k, v in cfg.to_dict().items() if k != 'work_dir'}
    text = json.dumps(content, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------ runs
def run_tool(command: list[str], log_path: str) -> dict:
    """Run one tool, its output into ``log_path``; wall time and peak memory.

    The peak memory is the largest resident set of the tool's process tree
    (``ru_maxrss`` of the waited-for child, which covers its reaped workers).
    """
    start = time.monotonic()
    with open(log_path, 'w') as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        if not hasattr(os, 'wait4'):  # Windows: no per-child resource usage
            returncode = process.wait()
            return dict(
                returncode=returncode, wall_s=time.monotonic() - start, cpu_s=None, peak_mb=None
            )
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:  # Ctrl-C: the tool got the signal too; do not leave it behind
            process.kill()
            process.wait()
            raise
        process.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in kilobytes on Linux, in bytes on macOS.
    peak_mb = usage.ru_maxrss / (1024 * 1024 if sys.platform == 'darwin' else 1024)
    return dict(
        returncode=process.returncode,
        wall_s=time.monotonic() - start,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_mb=peak_mb,
    )


class RunFailed(RuntimeError):
    """A tool exited with an error; the message names its log."""


def _checked(command: list[str], log_path: str) -> dict:
    outcome = run_tool(command, log_path)
    if outcome['returncode'] != 0:
        with open(log_path) as f:
            tail = ''.join(f.readlines()[-15:])
        raise RunFailed(
            f'{osp.basename(command[1])} exited with status {outcome["returncode"]}; '
            f'its log is {log_path}. Last lines:\n{tail}'
        )
    return outcome


def best_checkpoint(train_dir: str) -> str:
    """The best validation checkpoint, else the work dir (tools/test.py takes its last)."""
    best = sorted(glob.glob(osp.join(train_dir, 'best_*.pth')), key=osp.getmtime)
    return best[-1] if best else train_dir


def train_and_test(cfg, name: str, seed: int, run_dir: str, facts: dict, params: dict) -> dict:
    """One run, resumed where an interrupted one stopped; its result is cached."""
    cfg = copy.deepcopy(cfg)
    cfg.randomness = {**(cfg.get('randomness') or {}), 'seed': seed}
    key = fingerprint(cfg)
    key_file = osp.join(run_dir, 'fingerprint')
    if osp.isdir(run_dir) and (not osp.isfile(key_file) or open(key_file).read().strip() != key):
        shutil.rmtree(run_dir)  # a run of another config: its checkpoints do not apply
    train_dir, test_dir = osp.join(run_dir, 'train'), osp.join(run_dir, 'test')
    os.makedirs(run_dir, exist_ok=True)
    cfg.work_dir = train_dir
    config_path = osp.join(run_dir, 'config.py')
    cfg.dump(config_path)
    with open(key_file, 'w') as f:
        f.write(key)

    resumed = osp.isfile(osp.join(train_dir, 'last_checkpoint'))
    train = [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), config_path]
    train += ['--work-dir', train_dir] + (['--resume'] if resumed else [])
    load_before = os.getloadavg()[0] if hasattr(os, 'getloadavg') else None
    trained = _checked(train, osp.join(run_dir, 'train.log'))
    checkpoint = best_checkpoint(train_dir)
    test = [sys.executable, osp.join(REPO_ROOT, 'tools', 'test.py'), config_path, checkpoint]
    tested = _checked(test + ['--work-dir', test_dir], osp.join(run_dir, 'test.log'))
    table = read_class_table(osp.join(test_dir, 'per_class_f1.csv'))
    result = dict(
        variant=name,
        seed=seed,
        fingerprint=key,
        **run_scores(table, facts['rare_labels']),
        **params,
        train_minutes=trained['wall_s'] / 60,
        test_minutes=tested['wall_s'] / 60,
        # CPU time depends less than wall time on what else the machine runs.
        train_cpu_minutes=None if trained['cpu_s'] is None else trained['cpu_s'] / 60,
        test_cpu_minutes=None if tested['cpu_s'] is None else tested['cpu_s'] / 60,
        peak_memory_mb=trained['peak_mb'],
        test_peak_memory_mb=tested['peak_mb'],
        resumed=resumed,
        checkpoint=osp.relpath(checkpoint, run_dir),
        operating_point=read_operating_point(checkpoint) if osp.isfile(checkpoint) else None,
        load_average_1min=[load_before, os.getloadavg()[0] if load_before is not None else None],
        finished_utc=datetime.now(timezone.utc).isoformat(timespec='seconds'),
    )
    write_json_atomic(osp.join(run_dir, RESULT), result)
    return result


def cached_result(cfg, seed: int, run_dir: str) -> dict | None:
    """The cached result of this exact run, or None."""
    path = osp.join(run_dir, RESULT)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        result = json.load(f)
    cfg = copy.deepcopy(cfg)
    cfg.randomness = {**(cfg.get('randomness') or {}), 'seed': seed}
    return result if result.get('fingerprint') == fingerprint(cfg) else None


# ---------------------------------------------------------------------------- report
def write_report(args, prepared: dict, names: list[str], runs: dict, facts: dict) -> str:
    rows = [
        dict(
            name=name,
            group=prepared[name]['variant'].group,
            label=prepared[name]['variant'].label,
            runs_of=prepared[name]['variant'].same_as or name,
        )
        for name in names
        if name in prepared
    ]
    summary = summarise(rows, runs)
    noise = smallest_real_difference({r['runs_of']: runs.get(r['runs_of'], []) for r in rows})
    report_dir = args.report_dir or args.work_dir
    os.makedirs(report_dir, exist_ok=True)
    table = markdown_table(summary, noise)
    all_runs = [r for name in sorted(runs) for r in runs[name]]
    write_json_atomic(
        osp.join(report_dir, 'results.json'),
        dict(
            command=' '.join([osp.relpath(sys.argv[0], REPO_ROOT), *sys.argv[1:]]),
            base_config=args.base_config,
            cfg_options=args.cfg_options or {},
            smoke=args.smoke,
            seeds=args.seeds,
            machine=dict(system=platform.platform(), cpus=os.cpu_count()),
            data={**facts, 'min_test_gestures': MIN_TEST_GESTURES},
            study_minutes=sum(r['train_minutes'] + r['test_minutes'] for r in all_runs),
            variants={
                name: dict(
                    group=entry['variant'].group,
                    label=entry['variant'].label,
                    same_as=entry['variant'].same_as,
                    overrides=entry['overrides'],
                )
                for name, entry in prepared.items()
            },
            summary=summary,
            seed_noise=noise,
            runs=all_runs,
        ),
    )
    with open(osp.join(report_dir, 'results.md'), 'w') as f:
        f.write(table)
    plot_summary(summary, osp.join(report_dir, 'results.png'))
    return table


def main() -> None:
    args = parse_args()
    # Building the variants logs each model's parameter counts; the table says it.
    MMLogger.get_instance('run_ablation', log_level='WARNING')
    with user_errors():
        if args.jobs < 1:
            raise UserInputError(f'--jobs must be at least 1, got {args.jobs}')
        names = args.variants or default_variant_names()
        for name in names:
            get_variant(name)
        base = load_base(args)
        prepared, problems = prepare_variants(base, names)
        for name, entry in prepared.items():
            print(
                f'{name}: buildable, {entry["trainable_params"]:,} of {entry["total_params"]:,} '
                f'parameters train ({entry["trainable_percent"]:.2f}%)'
            )
        # One line per missing prerequisite; stop before training anything unless
        # told to leave those variants out.
        for problem in problems:
            print(f'{"skipped" if args.skip_unavailable else "error"}: {problem}', file=sys.stderr)
        if problems and not args.skip_unavailable:
            raise SystemExit(2)
        if args.check:
            return
        facts = split_facts(base)
        print(
            f'test set: {facts["test_videos"]} videos, {facts["test_gestures"]} gestures; '
            f'rare classes (training count below the median): {facts["rare_labels"]}'
        )
        if facts['test_gestures'] < MIN_TEST_GESTURES:
            print(
                f'warning: fewer than {MIN_TEST_GESTURES} test gestures; differences between '
                'variants will be hard to tell from test noise',
                file=sys.stderr,
            )
        run_study(args, prepared, names, facts)


def run_study(args, prepared: dict, names: list[str], facts: dict) -> None:
    trained = []
    for name in names:
        if name in prepared and (prepared[name]['variant'].same_as or name) not in trained:
            trained.append(prepared[name]['variant'].same_as or name)
    # Seed-major order: a study stopped early still has every variant at one seed.
    jobs = [(name, seed) for seed in args.seeds for name in trained]
    runs, pending = {name: [] for name in trained}, []
    for name, seed in jobs:
        run_dir = osp.join(args.work_dir, name, f'seed{seed}')
        cached = cached_result(prepared[name]['cfg'], seed, run_dir)
        if cached is None:
            pending.append((name, seed, run_dir))
        else:
            runs[name].append(cached)
    if args.report_only:
        for name, seed, _ in pending:
            print(f'not finished: {name} seed {seed}')
        print(f'{len(jobs)} runs: {len(jobs) - len(pending)} finished, reported')
        to_run = []
    else:
        print(f'{len(jobs)} runs: {len(jobs) - len(pending)} cached, {len(pending)} to run')
        to_run = pending
    failures, lock = [], threading.Lock()
    start = time.monotonic()
    with tqdm(total=len(jobs), initial=len(jobs) - len(pending), unit='run') as bar:

        def run_one(job: tuple) -> None:
            name, seed, run_dir = job
            entry = prepared[name]
            params = {k: v for k, v in entry.items() if k.endswith(('_params', '_percent'))}
            params['parallel_jobs'] = args.jobs
            try:
                result = train_and_test(entry['cfg'], name, seed, run_dir, facts, params)
            except (RunFailed, UserInputError) as error:
                with lock:
                    failures.append(f'{name} seed {seed}: {error}')
                    bar.write(f'error: {failures[-1]}')
            else:
                with lock:
                    runs[name].append(result)
                    bar.set_description(f'{name} seed {seed} done')
            with lock:
                bar.update(1)

        # Threads only wait on the tools' subprocesses; the work is in those.
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for future in [pool.submit(run_one, job) for job in to_run]:
                future.result()
    if to_run:
        print(f'{len(to_run)} run(s) in {(time.monotonic() - start) / 60:.1f} min wall time')
    for name in runs:
        runs[name].sort(key=lambda result: result['seed'])
    print(write_report(args, prepared, names, runs, facts))
    print(f'report: {args.report_dir or args.work_dir}/results.{{json,md,png}}')
    if failures:
        print(
            f'{len(failures)} run(s) failed; rerun the same command to retry them', file=sys.stderr
        )
        raise SystemExit(1)


if __name__ == '__main__':
    main()
