"""The ablation study in one resumable command: every variant x every seed.

    python tools/analysis/run_ablation.py [--variants stda asba-off ... | --preset quick]
        [--seeds 0 1 2] [--work-dir work_dirs/ablation] [--results-dir docs/ablation/runs]
        [--base-config configs/ablation/study_demo.py] [--cfg-options KEY=VALUE ...]
        [--smoke] [--check] [--skip-unavailable] [--report-dir DIR] [--report-only]
        [--jobs N] [--gpus-per-run G] [--gpus 0 1 ...]
        [--launcher slurm --partition P [--slurm-args='--time=2:00:00']]

Each run trains with ``tools/train.py`` and scores the best checkpoint on the test
split with ``tools/test.py``, in subprocesses, exactly as a user would. A finished
run leaves ``WORK_DIR/VARIANT/seedN/result.json`` (written after its test); a
rerun skips it, resumes a run that was interrupted during training, and retrains
a run whose config changed. The report (``results.json``, ``results.md`` and
``results.png``) is rewritten from every finished run at the end.

``--results-dir DIR`` also keeps each finished result as ``DIR/VARIANT/seedN.json``
and counts a run found there (same config fingerprint) as finished: commit DIR as
runs finish and a long study goes on in another checkout, machine or session. The
fingerprint holds no path of this checkout (paths inside it are hashed relative to
its root).

Variants are overrides of the base config (``tools/analysis/ablation/variants.py``),
all of them or a ``--preset``; ``--check`` builds each of them (parameters on the
meta device, so a ViT-g costs no memory), reads the data sets and says which
variants can run here and what is missing; it exits with status 1 when anything
is missing, 0 when every chosen variant can run.

Where the runs run:

- CPU (default): ``--jobs N`` runs N runs at once. Each run's training uses one
  intra-op thread (``cpu_threads`` in the demo config), so on a machine with N
  cores ``--jobs N`` keeps every core busy; the train times in the report are then
  those of runs sharing the machine.
- GPUs: ``--gpus-per-run G --jobs N`` runs N runs at once, each on G GPUs of its
  own (``CUDA_VISIBLE_DEVICES`` set to them for its tools): with G = 1 the plain
  tools, with G > 1 G processes through ``torch.distributed.run`` (as
  ``tools/dist_train.sh``), each concurrent run on its own ``--master_port``
  (``PORT`` + 0, 1, ...; ``PORT`` defaults to 29500).
- Slurm: ``--launcher slurm --partition P`` trains through ``tools/slurm_train.sh``
  and tests through ``tools/slurm_test.sh`` (job ``mmstda-VARIANT-seedN``, ``GPUS``
  and ``GPUS_PER_NODE`` from ``--gpus-per-run``, default 1; ``--slurm-args`` added
  to ``SRUN_ARGS``); ``--jobs N`` submits N runs at once. Their times then include
  the time queued; their CPU time and peak memory (of ``srun`` here) are not kept.
"""

import argparse
import contextlib
import copy
import glob
import hashlib
import json
import os
import os.path as osp
import platform
import queue
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
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

from _helpers.launch import load_config, one_line, user_errors
from ablation.launch import Launch, describe_launch, plan_launch
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
    PRESETS,
    VariantUnavailable,
    default_variant_names,
    get_variant,
    preset_variant_names,
    variant_config,
)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS_DIR = osp.join(REPO_ROOT, 'tools')  # train.py, test.py and the slurm_*.sh scripts
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
        description='Train and test every ablation variant with several seeds (resumable), '
        'on the CPU, on GPUs or through Slurm'
    )
    parser.add_argument(
        '--variants', nargs='+', help=f'variants to run (default: all: {default_variant_names()})'
    )
    parser.add_argument(
        '--preset',
        metavar='NAME',
        help=f'a named set of variants instead of --variants: full (every variant) or '
        f'{", ".join(PRESETS)}; the study prints what it leaves out',
    )
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2], help='random seeds')
    parser.add_argument(
        '--work-dir', default='work_dirs/ablation', help='runs, cache and report go here'
    )
    parser.add_argument(
        '--results-dir',
        metavar='DIR',
        help='also keep each finished result as DIR/VARIANT/seedN.json, and count a run '
        'found there with the same config as finished (commit DIR, e.g. docs/ablation/runs, '
        'to go on with the study in another checkout)',
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
        '--check',
        action='store_true',
        help='build every variant and read the data sets, say which variants can run here '
        'and what is missing, and train nothing (exit status 1 when anything is missing)',
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
        metavar='N',
        help='runs at once (on the CPU each trains on one thread: e.g. the number of cores; '
        'with --gpus-per-run G each takes G GPUs; with Slurm, runs submitted at once)',
    )
    parser.add_argument(
        '--gpus-per-run',
        type=int,
        metavar='G',
        help='GPUs of each run (default 0: no device assignment, the tools run as they would '
        'alone: the CPU on a machine without GPUs; default 1 with --launcher slurm). 1: the '
        'plain tools on their GPU; more: G processes through torch.distributed.run. A run '
        'of G > 1 processes (G times the batch) is another run than one of 1 for the cache',
    )
    parser.add_argument(
        '--gpus',
        nargs='+',
        metavar='ID',
        help='GPU ids to share out among the runs, e.g. 0 1 2 3 or 0,1,2,3 (default: those '
        'of CUDA_VISIBLE_DEVICES, else every GPU torch sees)',
    )
    parser.add_argument(
        '--launcher',
        choices=['local', 'slurm'],
        default='local',
        help='local: subprocesses on this machine; slurm: tools/slurm_train.sh and '
        'tools/slurm_test.sh (srun)',
    )
    parser.add_argument(
        '--partition', metavar='P', help='Slurm partition (required with --launcher slurm)'
    )
    parser.add_argument(
        '--slurm-args',
        metavar='ARGS',
        help='extra srun options as one string, added to SRUN_ARGS, e.g. '
        "--slurm-args='--time=2:00:00 --qos=low'",
    )
    parser.add_argument(
        '--report-only',
        action='store_true',
        help='write the report from the finished runs in --work-dir (and --results-dir), '
        'train nothing (e.g. while the study runs in other processes)',
    )
    return parser.parse_args()


# --------------------------------------------------------------------------- planning
def chosen_variants(args: argparse.Namespace) -> list[str]:
    """The variants of ``--variants`` or ``--preset`` (default: every variant).

    Raises:
        UserInputError: Both are given, or a name is unknown.
    """
    if args.variants and args.preset:
        raise UserInputError(
            '--variants and --preset both choose the variants; give one of them '
            f'(got --variants {" ".join(args.variants)} and --preset {args.preset})'
        )
    if not args.preset:
        names = args.variants or default_variant_names()
    else:
        names = preset_variant_names(args.preset)
        left_out = [name for name in default_variant_names() if name not in names]
        print(
            f'preset {args.preset!r}: {len(names)} variants; leaves out '
            f'{", ".join(left_out) or "nothing"}'
        )
    for name in names:
        get_variant(name)
    return names


def load_base(args: argparse.Namespace):
    options = dict(args.cfg_options or {})
    if args.smoke:
        options = {**SMOKE_OPTIONS, **options}
    return load_config(args.base_config, options)


@contextlib.contextmanager
def parameters_on_meta():
    """Modules built meanwhile get their parameters on the meta device: no memory, no init.

    Unlike ``with torch.device('meta')``, every other tensor is a real one, so a
    constructor may compute with tensors (MMAction2's ``VisionTransformer`` calls
    ``.item()``). A ViT-g is counted in a second without its 4 GB.
    """
    import torch

    register = torch.nn.Module.register_parameter

    def register_on_meta(module, name, param):
        if param is not None:
            param = torch.nn.Parameter(param.to('meta'), requires_grad=param.requires_grad)
        register(module, name, param)

    torch.nn.Module.register_parameter = register_on_meta
    try:
        yield
    finally:
        torch.nn.Module.register_parameter = register


def model_parameters(cfg) -> dict:
    """Trainable and total parameters of the detector a config builds, and of its backbone."""
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope(cfg.get('default_scope', 'mmaction'))
    with parameters_on_meta():
        model = MODELS.build(copy.deepcopy(cfg.model))
    counts = {}
    for part, module in (('', model), ('backbone_', model.backbone)):
        total = sum(p.numel() for p in module.parameters())
        trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
        counts[f'{part}trainable_params'] = trainable
        counts[f'{part}total_params'] = total
        counts[f'{part}trainable_percent'] = 100.0 * trainable / max(total, 1)
    return counts


def with_reused(names: list[str]) -> list[str]:
    """``names`` and, before each row that reuses another variant's runs, that variant."""
    wanted = []
    for name in names:
        for needed in (get_variant(name).same_as, name):
            if needed and needed not in wanted:
                wanted.append(needed)
    return wanted


def prepare_variants(base, names: list[str]) -> tuple[dict, dict]:
    """Config, overrides and parameter counts of each variant, and what keeps one from running.

    A row that reuses another variant's runs (``same_as``) brings that variant in.
    A variant is built even where its pretrained trunk is missing (its parameters
    are counted all the same).

    Returns:
        tuple[dict, dict]: By name, each variant that builds; and, by name, why each
        variant that cannot run here cannot (its prerequisite that is missing).
    """
    built, problems = {}, {}
    for name in with_reused(names):
        variant = get_variant(name)
        try:
            cfg = variant_config(base, replace(variant, needs_pretrained=False))
            built[name] = dict(
                variant=variant, cfg=cfg, overrides=variant.overrides(base), **model_parameters(cfg)
            )
            variant_config(base, variant)  # and its pretrained trunk, where it needs one
        except VariantUnavailable as error:
            problems[name] = str(error)
            continue
        if variant.same_as in problems:
            problems[name] = (
                f'variant {name!r} shows the runs of {variant.same_as!r}, which cannot run here'
            )
    return built, problems


def split_facts(cfg) -> dict:
    """Training class counts and the test set's size, from the datasets themselves.

    Raises:
        UserInputError: A data set cannot be read (e.g. its files are missing); the
            message names the split and its data root.
    """
    from mmaction.registry import DATASETS
    from mmengine.registry import init_default_scope

    from mmstda.engine.hooks.dataset_utils import training_class_counts

    init_default_scope(cfg.get('default_scope', 'mmaction'))
    facts = {}
    for split in ('train', 'test'):
        dataset_cfg = copy.deepcopy(cfg[f'{split}_dataloader'].dataset)
        dataset_cfg['pipeline'] = []
        try:
            dataset = DATASETS.build(dataset_cfg)
            dataset.full_init()
        except (OSError, UserInputError) as error:
            raise UserInputError(
                f'the {split} set of the base config ({split}_dataloader.dataset, '
                f'{dataset_cfg.get("type")} at data_root {dataset_cfg.get("data_root")!r}) '
                f'cannot be read: {one_line(error)}'
            ) from None
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


def describe_data(facts: dict) -> None:
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


def _checkout_independent(node):
    """``node`` with every absolute path inside this checkout made relative to its root."""
    if isinstance(node, dict):
        return {key: _checkout_independent(value) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [_checkout_independent(value) for value in node]
    if isinstance(node, str) and osp.isabs(node):
        path = osp.normpath(node)
        if path == REPO_ROOT or path.startswith(REPO_ROOT + os.sep):
            return osp.relpath(path, REPO_ROOT)
    return node


def fingerprint(cfg, world_size: int = 1) -> str:
    """Hash of everything that decides a run's result (the work dir excluded).

    Paths inside this checkout count relative to its root, so that a run finished in
    another checkout (through ``--results-dir``) has the same fingerprint. A run of
    several processes (``world_size``, which multiplies the batch) differs from one
    of a single process.
    """
    content = {k: v for k, v in cfg.to_dict().items() if k != 'work_dir'}
    content = _checkout_independent(content)
    if world_size != 1:
        content['__world_size__'] = world_size
    text = json.dumps(content, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def seeded(cfg, seed: int):
    """A copy of ``cfg`` that trains with ``seed``."""
    cfg = copy.deepcopy(cfg)
    cfg.randomness = {**(cfg.get('randomness') or {}), 'seed': seed}
    return cfg


# ------------------------------------------------------------------------------ runs
def processor_name() -> str:
    """The CPU model (training is deterministic on one CPU model, not across models)."""
    with contextlib.suppress(OSError):
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    return platform.processor() or 'unknown'


def run_tool(command: list[str], log_path: str, env: dict | None = None) -> dict:
    """Run one tool, its output into ``log_path``; wall time and peak memory.

    The peak memory is the largest resident set of the tool's process tree
    (``ru_maxrss`` of the waited-for child, which covers its reaped workers).
    """
    start = time.monotonic()
    with open(log_path, 'w') as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
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


def _checked(tool: str, launch: Launch, tool_args: list[str], log_path: str) -> dict:
    """Run ``tools/TOOL.py`` as ``launch`` says; raise :class:`RunFailed` when it fails."""
    command, env = launch.command(TOOLS_DIR, tool, tool_args)
    outcome = run_tool(command, log_path, env)
    if outcome['returncode'] != 0:
        with open(log_path) as f:
            tail = ''.join(f.readlines()[-15:])
        raise RunFailed(
            f'{tool}.py exited with status {outcome["returncode"]}; '
            f'its log is {log_path}. Last lines:\n{tail}'
        )
    if launch.launcher == 'slurm':  # measured on srun here, not on the job's node
        outcome.update(cpu_s=None, peak_mb=None)
    return outcome


def best_checkpoint(train_dir: str) -> str:
    """The best validation checkpoint, else the work dir (tools/test.py takes its last)."""
    best = sorted(glob.glob(osp.join(train_dir, 'best_*.pth')), key=osp.getmtime)
    return best[-1] if best else train_dir


def train_and_test(
    cfg, key: str, name: str, seed: int, run_dir: str, facts: dict, params: dict, launch: Launch
) -> dict:
    """One run, resumed where an interrupted one stopped; its result is cached.

    Args:
        cfg (Config): The variant's config (before the seed).
        key (str): The run's :func:`fingerprint`.
        launch (Launch): How its tools start.
    """
    cfg = seeded(cfg, seed)
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
    train = [config_path, '--work-dir', train_dir] + (['--resume'] if resumed else [])
    load_before = os.getloadavg()[0] if hasattr(os, 'getloadavg') else None
    trained = _checked('train', launch, train, osp.join(run_dir, 'train.log'))
    checkpoint = best_checkpoint(train_dir)
    test = [config_path, checkpoint, '--work-dir', test_dir]
    tested = _checked('test', launch, test, osp.join(run_dir, 'test.log'))
    table = read_class_table(osp.join(test_dir, 'per_class_f1.csv'))
    result = dict(
        variant=name,
        seed=seed,
        fingerprint=key,
        **run_scores(table, facts['rare_labels']),
        **params,
        launcher=launch.launcher,
        gpus_per_run=launch.gpus,
        devices=list(launch.devices) or None,
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
        # Through Slurm the run trains on another node, whose CPU is not known here.
        processor=None if launch.launcher == 'slurm' else processor_name(),
        finished_utc=datetime.now(timezone.utc).isoformat(timespec='seconds'),
    )
    write_json_atomic(osp.join(run_dir, RESULT), result)
    return result


def read_result(path: str | None, key: str) -> dict | None:
    """The run result stored at ``path`` if it has fingerprint ``key``, else None.

    Raises:
        UserInputError: The file is not a result (e.g. a merge conflict in --results-dir).
    """
    if not path or not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            result = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserInputError(
            f'{path}: not a run result ({error}); delete it to rerun that run'
        ) from None
    return result if result.get('fingerprint') == key else None


def published_path(results_dir: str | None, name: str, seed: int) -> str | None:
    """Where ``--results-dir`` keeps a run's result: ``DIR/VARIANT/seedN.json``."""
    return osp.join(results_dir, name, f'seed{seed}.json') if results_dir else None


def publish(path: str | None, result: dict) -> None:
    """Write ``result`` to ``path`` (atomically) unless a result of its config is there."""
    if path and read_result(path, result['fingerprint']) is None:
        os.makedirs(osp.dirname(path), exist_ok=True)
        write_json_atomic(path, result)


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
            preset=args.preset,
            seeds=args.seeds,
            machine=dict(
                system=platform.platform(),
                cpus=os.cpu_count(),
                processor=processor_name(),
                # Each run records the CPU it trained on; runs may come from several.
                run_processors=sorted({r.get('processor') or 'not recorded' for r in all_runs}),
            ),
            launch=dict(launcher=args.launcher, gpus_per_run=args.gpus_per_run, jobs=args.jobs),
            data={**facts, 'min_test_gestures': MIN_TEST_GESTURES},
            # Wall and CPU minutes of the runs' tools; resumed runs count their
            # last attempt only (the list says which).
            study_minutes=sum(r['train_minutes'] + r['test_minutes'] for r in all_runs),
            study_cpu_minutes=_cpu_minutes(all_runs),
            resumed_runs=[f'{r["variant"]} seed {r["seed"]}' for r in all_runs if r.get('resumed')],
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


def _cpu_minutes(runs: list[dict]) -> float | None:
    """Train + test CPU minutes of ``runs``; None if a launcher could not measure them."""
    times = [r.get(k) for r in runs for k in ('train_cpu_minutes', 'test_cpu_minutes')]
    return None if any(t is None for t in times) else sum(times)


def _counts(entry: dict) -> str:
    return (
        f'{entry["trainable_params"]:,} of {entry["total_params"]:,} parameters train '
        f'({entry["trainable_percent"]:.2f}%)'
    )


def check(base, names: list[str], built: dict, problems: dict, slots: list[Launch]) -> bool:
    """Say which variants can run here and what is missing (the variants, then the data).

    Returns:
        bool: Whether every chosen variant can run here (the exit status of
        ``--check`` is 0 only then, so a script can test it).
    """
    wanted = with_reused(names)
    for name in wanted:
        if name not in problems:
            print(f'{name}: buildable, can run here; {_counts(built[name])}')
        elif name in built:
            print(f'{name}: buildable ({_counts(built[name])}); cannot run here: {problems[name]}')
        else:
            print(f'{name}: cannot run here: {problems[name]}')
    try:
        describe_data(split_facts(base))
        data_missing = False
    except UserInputError as error:
        print(f'data missing: {error}')
        data_missing = True
    if describe_launch(slots):
        print(describe_launch(slots))
    runnable = len(wanted) - len(problems)
    if data_missing:
        print(
            f'check: nothing can run here without the data above; {runnable} of {len(wanted)} '
            'variants have everything else'
        )
    else:
        print(f'check: {runnable} of {len(wanted)} variants can run here')
    return not data_missing and not problems


def main() -> None:
    args = parse_args()
    # Building the variants logs each model's parameter counts; the table says it.
    MMLogger.get_instance('run_ablation', log_level='WARNING')
    with user_errors():
        slots = plan_launch(args)
        names = chosen_variants(args)
        base = load_base(args)
        built, problems = prepare_variants(base, names)
        if args.check:
            if not check(base, names, built, problems, slots):
                raise SystemExit(1)
            return
        prepared = {name: entry for name, entry in built.items() if name not in problems}
        for name, entry in prepared.items():
            print(f'{name}: buildable, {_counts(entry)}')
        # One line per missing prerequisite; stop before training anything unless
        # told to leave those variants out.
        for problem in problems.values():
            print(f'{"skipped" if args.skip_unavailable else "error"}: {problem}', file=sys.stderr)
        if problems and not args.skip_unavailable:
            raise SystemExit(2)
        facts = split_facts(base)
        describe_data(facts)
        if describe_launch(slots):
            print(describe_launch(slots))
        run_study(args, prepared, names, facts, slots)


def run_study(args, prepared: dict, names: list[str], facts: dict, slots: list[Launch]) -> None:
    trained = []
    for name in names:
        if name in prepared and (prepared[name]['variant'].same_as or name) not in trained:
            trained.append(prepared[name]['variant'].same_as or name)
    # Seed-major order: a study stopped early still has every variant at one seed.
    world_size = max(args.gpus_per_run, 1)
    jobs = [
        (name, seed, fingerprint(seeded(prepared[name]['cfg'], seed), world_size))
        for seed in args.seeds
        for name in trained
    ]
    runs, pending = {name: [] for name in trained}, []
    for name, seed, key in jobs:
        run_dir = osp.join(args.work_dir, name, f'seed{seed}')
        published = published_path(args.results_dir, name, seed)
        cached = read_result(osp.join(run_dir, RESULT), key) or read_result(published, key)
        if cached is None:
            pending.append((name, seed, key, run_dir))
        else:
            publish(published, cached)  # a run finished before --results-dir was given
            runs[name].append(cached)
    if args.report_only:
        for name, seed, _, _ in pending:
            print(f'not finished: {name} seed {seed}')
        print(f'{len(jobs)} runs: {len(jobs) - len(pending)} finished, reported')
        to_run = []
    else:
        print(f'{len(jobs)} runs: {len(jobs) - len(pending)} cached, {len(pending)} to run')
        to_run = pending
    failures, lock = [], threading.Lock()
    # Each run at once holds one slot (its GPUs and port) and gives it back when done.
    free = queue.SimpleQueue()
    for slot in slots:
        free.put(slot)
    start = time.monotonic()
    with tqdm(total=len(jobs), initial=len(jobs) - len(pending), unit='run') as bar:

        def run_one(job: tuple) -> None:
            name, seed, key, run_dir = job
            entry = prepared[name]
            params = {k: v for k, v in entry.items() if k.endswith(('_params', '_percent'))}
            params['parallel_jobs'] = args.jobs
            slot = free.get()
            try:
                launch = replace(slot, job_name=f'mmstda-{name}-seed{seed}')
                result = train_and_test(
                    entry['cfg'], key, name, seed, run_dir, facts, params, launch
                )
                publish(published_path(args.results_dir, name, seed), result)
            except (RunFailed, UserInputError) as error:
                with lock:
                    failures.append(f'{name} seed {seed}: {error}')
                    bar.write(f'error: {failures[-1]}')
            else:
                with lock:
                    runs[name].append(result)
                    bar.set_description(f'{name} seed {seed} done')
            finally:
                free.put(slot)
            with lock:
                bar.update(1)

        # Threads only wait on the tools' subprocesses; the work is in those.
        with ThreadPoolExecutor(max_workers=len(slots)) as pool:
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
