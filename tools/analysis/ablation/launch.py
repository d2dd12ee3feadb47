"""How the study's runs start: here on the CPU, one or more GPUs per run, or through Slurm.

``run_ablation.py --gpus-per-run G --jobs N [--gpus IDS]`` gives each of the N runs
at once its own block of G GPU ids and its own rendezvous port;
``--launcher slurm`` submits each run through ``tools/slurm_{train,test}.sh``.
"""

import argparse
import os
import os.path as osp
import sys
from dataclasses import dataclass

from mmstda.utils.errors import UserInputError

DEFAULT_PORT = 29500  # the first --master_port (PORT overrides it, as in tools/dist_train.sh)


@dataclass(frozen=True)
class Launch:
    """How the tools of one run start: here (CPU or GPUs) or through Slurm.

    Args:
        launcher (str): ``'local'`` (subprocesses here) or ``'slurm'``.
        gpus (int): GPUs of the run (``--gpus-per-run``); 0: no device assignment.
        devices (tuple[str, ...]): The run's GPU ids here (``CUDA_VISIBLE_DEVICES``);
            empty on the CPU and with Slurm, which assigns them.
        port (int): Rendezvous port of a distributed run (``--master_port``,
            ``MASTER_PORT``), one per concurrent run.
        partition (str, optional): Slurm partition. Defaults to None.
        slurm_args (str, optional): Extra srun options. Defaults to None.
        job_name (str): Slurm job name. Defaults to ''.
    """

    launcher: str
    gpus: int
    devices: tuple[str, ...]
    port: int
    partition: str | None = None
    slurm_args: str | None = None
    job_name: str = ''

    def command(self, tools_dir: str, tool: str, tool_args: list[str]) -> tuple[list[str], dict]:
        """The command line and environment that run ``TOOLS_DIR/TOOL.py`` with ``tool_args``."""
        env = dict(os.environ)
        if self.launcher == 'slurm':
            # As tools/slurm_{train,test}.sh read them: one task per GPU, on one node.
            env.update(
                GPUS=str(self.gpus),
                GPUS_PER_NODE=str(self.gpus),
                MASTER_PORT=str(self.port),
                PYTHON=sys.executable,
                SRUN_ARGS=' '.join(a for a in (env.get('SRUN_ARGS'), self.slurm_args) if a),
            )
            script = osp.join(tools_dir, f'slurm_{tool}.sh')
            return ['bash', script, self.partition, self.job_name, *tool_args], env
        script = osp.join(tools_dir, f'{tool}.py')
        if self.gpus == 0:
            return [sys.executable, script, *tool_args], env
        env['CUDA_VISIBLE_DEVICES'] = ','.join(self.devices)
        if self.gpus == 1:
            return [sys.executable, script, *tool_args], env
        # What tools/dist_train.sh and tools/dist_test.sh run.
        torchrun = [sys.executable, '-m', 'torch.distributed.run', '--nnodes=1', '--node_rank=0']
        torchrun += ['--master_addr=127.0.0.1', f'--nproc_per_node={self.gpus}']
        torchrun += [f'--master_port={self.port}']
        return [*torchrun, script, *tool_args, '--launcher', 'pytorch'], env


def visible_devices() -> list[str]:
    """GPU ids this process may use: those of CUDA_VISIBLE_DEVICES, else every GPU torch sees."""
    if 'CUDA_VISIBLE_DEVICES' in os.environ:
        ids = [i.strip() for i in os.environ['CUDA_VISIBLE_DEVICES'].split(',') if i.strip()]
        return ids[: ids.index('-1')] if '-1' in ids else ids  # CUDA stops at an invalid id
    import torch

    return [str(index) for index in range(torch.cuda.device_count())]


def plan_launch(args: argparse.Namespace) -> list[Launch]:
    """One :class:`Launch` per run at once (``--jobs``): disjoint GPUs, distinct ports.

    Raises:
        UserInputError: A launch option is out of range, missing or contradicts another,
            or the runs at once need more GPUs than there are.
    """
    if args.jobs < 1:
        raise UserInputError(f'--jobs must be at least 1, got {args.jobs}')
    slurm = args.launcher == 'slurm'
    if args.gpus_per_run is None:
        args.gpus_per_run = 1 if slurm else 0
    per_run = args.gpus_per_run
    if per_run < 0:
        raise UserInputError(f'--gpus-per-run must be 0 (CPU) or more, got {per_run}')
    if slurm and not args.partition:
        raise UserInputError('--launcher slurm needs --partition PARTITION (where to submit)')
    if slurm and per_run == 0:
        raise UserInputError(
            '--launcher slurm runs one task per GPU (tools/slurm_train.sh): --gpus-per-run '
            'must be 1 or more, got 0'
        )
    for flag, value in (('--partition', args.partition), ('--slurm-args', args.slurm_args)):
        if value is not None and not slurm:
            raise UserInputError(f'{flag} is only used with --launcher slurm')
    if args.gpus and slurm:
        raise UserInputError('--gpus is not used with --launcher slurm: Slurm assigns the GPUs')
    if args.gpus and per_run == 0:
        raise UserInputError(
            '--gpus shares GPUs out among the runs: it needs --gpus-per-run 1 or more '
            '(the GPUs of each run)'
        )
    try:
        first_port = int(os.environ.get('PORT', DEFAULT_PORT))
    except ValueError:
        raise UserInputError(
            f'PORT must be a port number (the first --master_port), got {os.environ["PORT"]!r}'
        ) from None
    common = dict(launcher=args.launcher, gpus=per_run, partition=args.partition)
    common['slurm_args'] = args.slurm_args
    if slurm or per_run == 0 or args.report_only:  # --report-only starts nothing
        return [Launch(devices=(), port=first_port + k, **common) for k in range(args.jobs)]
    ids = [i for part in args.gpus for i in part.split(',') if i] if args.gpus else None
    ids = visible_devices() if ids is None else ids
    if len(set(ids)) != len(ids):
        raise UserInputError(f'--gpus names a GPU twice: {" ".join(ids)}')
    if not ids:
        raise UserInputError(
            f'--gpus-per-run {per_run} needs GPUs, but none is visible here '
            '(CUDA_VISIBLE_DEVICES, torch.cuda.device_count()); name them with --gpus, or '
            'train on the CPU with --gpus-per-run 0'
        )
    if args.jobs * per_run > len(ids):
        raise UserInputError(
            f'--jobs {args.jobs} x --gpus-per-run {per_run} needs {args.jobs * per_run} GPUs, '
            f'but {len(ids)} are available ({",".join(ids)}); lower --jobs to '
            f'{len(ids) // per_run} or --gpus-per-run'
        )
    return [
        Launch(devices=tuple(ids[k * per_run : (k + 1) * per_run]), port=first_port + k, **common)
        for k in range(args.jobs)
    ]


def describe_launch(slots: list[Launch]) -> str | None:
    """One line on where the runs run; None without device assignment (as before)."""
    slot = slots[0]
    each = f'{slot.gpus} GPU{"s" if slot.gpus > 1 else ""} each'
    if slot.launcher == 'slurm':
        return f'launch: Slurm partition {slot.partition}, {len(slots)} run(s) at once, {each}'
    if slot.gpus == 0:
        return None
    how = 'torch.distributed.run' if slot.gpus > 1 else 'the plain tools'
    blocks = ' | '.join(','.join(s.devices) for s in slots)
    return f'launch: {len(slots)} run(s) at once, {each} ({how}), on GPUs {blocks}'
