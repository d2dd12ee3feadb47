"""Benchmark DecoupledAdapterViT against MMAction2's VisionTransformer.

Every model runs in this one process, one after the other, on the same input.

Rows:
- MMAction2 ``VisionTransformer``, fully fine-tuned (it has no ``with_cp``);
- ``DecoupledAdapterViT`` without adapters, fully fine-tuned (the same trunk,
  so full fine-tuning can be compared with and without ``with_cp``);
- ``DecoupledAdapterViT`` with each adapter type, frozen trunk (``stda`` is the
  default decoupled fusion, ``stda-cross`` the linear-sum control,
  ``temporal`` AdaTAD's TIA);
- each ``DecoupledAdapterViT`` row with ``with_cp`` off and on (``--no-cp``: off only).

Columns:
- ``total`` / ``trainable`` parameters;
- ``eval ms/clip``: eval-mode forward under ``torch.inference_mode``, divided
  by the clips in the batch;
- ``train ms``: one training step (forward, mean-square loss, backward, AdamW
  step);
- times are the fastest of ``--iters`` rounds (medians go to the JSON); each
  round runs every model once, so load from other jobs hits all rows alike;
- ``peak MiB``: memory a first training step needs on top of the model weights
  (gradients, AdamW states, activations), in MiB:
  - on CUDA: ``torch.cuda.max_memory_allocated`` minus the allocation before the
    step;
  - on CPU: the process's peak resident set (``VmHWM``) minus its resident set
    before the step, with the peak reset through ``/proc/self/clear_refs``
    (Linux) and glibc's mmap threshold lowered so that freed tensors go back to
    the OS instead of hiding in the allocator's cache (memory is measured
    first; the threshold is raised again for the timings).

Parameter counts of other sizes (e.g. ViT-g) are taken on the meta device, so no
weights are allocated (``--count-archs``), for every adapter variant.

Example::

    python tools/analysis/benchmark_backbone.py --arch small --frames 16 \\
        --img-size 160 --batch 2 --iters 3 --threads 1 --json work_dirs/bench.json

    # ViT-g, bf16, a 64-frame window (4 clips) on a GPU, with and without with_cp
    python tools/analysis/benchmark_backbone.py --arch giant --frames 64 \\
        --img-size 160 --batch 1 --device cuda --dtype bfloat16 \\
        --adapter-types stda --no-full-ft

On a CPU shared with other jobs, ``--threads 1`` gives far steadier numbers
than letting several busy-waiting threads compete for the cores, and
``--clock cpu`` (the process's CPU time instead of wall time) leaves out the
time spent waiting for a core.
"""

import argparse
import ctypes
import gc
import json
import os
import os.path as osp
import re
import statistics
import sys
import time
from collections.abc import Callable

# glibc mallopt parameters.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _set_malloc_mmap_threshold(nbytes: int) -> None:
    """Allocations of ``nbytes`` or more get their own mmap, unmapped when freed."""
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:  # not glibc: the CPU memory column is then less exact
        return
    libc.mallopt(_M_MMAP_THRESHOLD, nbytes)
    libc.mallopt(_M_TRIM_THRESHOLD, 2 * nbytes)


# Before torch allocates anything, so that no large freed block lingers in the
# heap: while memory is measured, the resident set follows the live tensors.
_set_malloc_mmap_threshold(64 * 1024)

import torch  # noqa: E402

# mmstda first: it supplies the localizers/drn module that mmaction2 1.2.0's wheel
# lacks, without which `import mmaction.models` fails.
try:
    import mmstda  # noqa: F401, E402
except ImportError:
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import mmstda  # noqa: F401, E402
from mmaction.models.backbones.vit_mae import VisionTransformer  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402

from mmstda.models.backbones import DecoupledAdapterViT  # noqa: E402
from mmstda.models.backbones.decoupled_adapter_vit import ARCH_SETTINGS  # noqa: E402

# Row name -> DecoupledAdapterViT arguments.
ADAPTER_VARIANTS = {
    'stda': dict(adapter_type='stda', stda_fusion='decoupled'),
    'stda-cross': dict(adapter_type='stda', stda_fusion='cross'),
    'temporal': dict(adapter_type='temporal'),
    'joint': dict(adapter_type='joint'),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark DecoupledAdapterViT.')
    parser.add_argument('--arch', default='small', choices=list(ARCH_SETTINGS))
    parser.add_argument('--frames', type=int, default=16, help='frames per input window')
    parser.add_argument('--clip-frames', type=int, default=16, help='num_frames (attention span)')
    parser.add_argument('--img-size', type=int, default=160, help='input height and width')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--iters', type=int, default=3, help='timed runs per measurement')
    parser.add_argument('--warmup', type=int, default=1, help='untimed runs first')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--dtype', default='float32', choices=['float32', 'bfloat16'])
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument(
        '--adapter-types',
        nargs='+',
        default=list(ADAPTER_VARIANTS),
        choices=list(ADAPTER_VARIANTS),
        help='adapter rows',
    )
    parser.add_argument('--no-reference', action='store_true', help='skip VisionTransformer')
    parser.add_argument('--no-full-ft', action='store_true', help='skip the no-adapter rows')
    parser.add_argument('--no-train', action='store_true', help='skip train step and memory')
    parser.add_argument('--no-cp', action='store_true', help='skip the with_cp rows')
    parser.add_argument(
        '--clock',
        default='wall',
        choices=list(_CLOCKS),
        help="'cpu': process CPU time (CPU device, steadier on a shared machine)",
    )
    parser.add_argument(
        '--count-archs', nargs='*', default=['giant'], help='archs counted on the meta device'
    )
    parser.add_argument('--json', default=None, help='write the results to this JSON file')
    return parser.parse_args()


class _PeakMemory:
    """Peak memory above the level at ``start()``, in bytes."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.available = device.type == 'cuda' or osp.exists('/proc/self/clear_refs')

    @staticmethod
    def _status_kib(field: str) -> int:
        with open('/proc/self/status') as f:
            return int(re.search(rf'^{field}:\s+(\d+) kB', f.read(), re.M).group(1))

    def start(self) -> None:
        gc.collect()
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        elif self.available:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')  # resets VmHWM to the current resident set
            self._base = self._status_kib('VmRSS') * 1024

    def stop(self) -> int | None:
        if not self.available:
            return None
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            return torch.cuda.max_memory_allocated(self.device) - self._base
        return self._status_kib('VmHWM') * 1024 - self._base


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


# ``--clock cpu``: the process's CPU time. With one torch thread on a CPU shared
# with other jobs it counts only the time this process computed, not the time it
# waited for a core, so ratios between rows stay steady under load.
_CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}


def _time_ms(fn: Callable[[], None], device: torch.device, clock: str = 'wall') -> float:
    timer = _CLOCKS[clock]
    _sync(device)
    start = timer()
    fn()
    _sync(device)
    return (timer() - start) * 1000


def _round_robin_ms(
    fns: list[Callable[[], None]], iters: int, warmup: int, device: torch.device, clock: str
) -> list[list[float]]:
    """Time each function ``iters`` times, cycling through all of them per round.

    Interleaving spreads any change in machine load over every row alike,
    instead of penalising whichever row ran while another job was busy.
    """
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(iters):
        for index, fn in enumerate(fns):
            times[index].append(_time_ms(fn, device, clock))
    return times


def _model_kwargs(args: argparse.Namespace) -> dict:
    settings = ARCH_SETTINGS[args.arch]
    return dict(
        img_size=args.img_size,
        num_frames=args.clip_frames,
        embed_dims=settings['embed_dims'],
        depth=settings['depth'],
        num_heads=settings['num_heads'],
        mlp_ratio=settings['mlp_ratio'],
        patch_size=settings['patch_size'],
    )


def _rows(args: argparse.Namespace) -> list[tuple[str, Callable[[], torch.nn.Module]]]:
    kwargs = _model_kwargs(args)
    rows = []
    if not args.no_reference:
        if args.frames != args.clip_frames:
            print('VisionTransformer row skipped: it takes one clip, not a multi-clip window')
        else:
            rows.append(('VisionTransformer full-FT', lambda: VisionTransformer(**kwargs)))
    variants = [] if args.no_full_ft else [('full-FT', dict(adapter_type=None), False)]
    variants += [(t, ADAPTER_VARIANTS[t], True) for t in args.adapter_types]
    for variant, adapter_kwargs, frozen in variants:
        for with_cp in (False,) if args.no_cp else (False, True):
            name = f'DAViT {variant}{" +cp" if with_cp else ""}'
            rows.append(
                (
                    name,
                    lambda a=adapter_kwargs, f=frozen, cp=with_cp: DecoupledAdapterViT(
                        **kwargs, **a, freeze_backbone=f, with_cp=cp
                    ),
                )
            )
    return rows


class _Row:
    """One model under test with its input, optimizer and train step."""

    def __init__(
        self, name: str, model: torch.nn.Module, args: argparse.Namespace, device: torch.device
    ) -> None:
        self.name = name
        self.model = model
        self.device = device
        dtype = getattr(torch, args.dtype)
        self.x = torch.randn(
            args.batch, 3, args.frames, args.img_size, args.img_size, device=device, dtype=dtype
        )
        self.clips = args.batch * (args.frames // args.clip_frames)
        params = list(model.parameters())
        self.result = dict(
            name=name,
            total_params=sum(p.numel() for p in params),
            trainable_params=sum(p.numel() for p in params if p.requires_grad),
        )
        self.optimizer = None

    def eval_forward(self) -> None:
        self.model.eval()
        with torch.inference_mode():
            self.model(self.x)

    def train_step(self) -> None:
        self.model.train()
        if self.optimizer is None:
            trainable = [p for p in self.model.parameters() if p.requires_grad]
            self.optimizer = torch.optim.AdamW(trainable, lr=1e-4)
        self.optimizer.zero_grad(set_to_none=True)
        self.model(self.x).float().square().mean().backward()
        self.optimizer.step()

    def first_step_peak_mib(self) -> float | None:
        """Peak memory of the first train step (it allocates grads and AdamW states)."""
        memory = _PeakMemory(self.device)
        memory.start()
        self.train_step()
        peak = memory.stop()
        return None if peak is None else peak / 2**20


def benchmark(rows: list[_Row], args: argparse.Namespace, device: torch.device) -> list[dict]:
    """Fill each row's result: eval and train-step times, peak train-step memory."""
    if not args.no_train:
        for row in rows:
            row.result['train_peak_mib'] = row.first_step_peak_mib()
    # Timing: glibc's largest mmap threshold, so that tensors reuse heap memory
    # instead of paying page faults on every allocation (that would penalise the
    # model that allocates more, e.g. explicit attention matrices).
    _set_malloc_mmap_threshold(32 * 2**20)
    eval_times = _round_robin_ms(
        [r.eval_forward for r in rows], args.iters, args.warmup, device, args.clock
    )
    for row, times in zip(rows, eval_times):
        row.result['eval_ms_per_clip'] = min(times) / row.clips
        row.result['eval_ms_per_clip_median'] = statistics.median(times) / row.clips
    if not args.no_train:
        # The first (measured) step was the warm-up.
        train_times = _round_robin_ms(
            [r.train_step for r in rows], args.iters, max(args.warmup - 1, 0), device, args.clock
        )
        for row, times in zip(rows, train_times):
            row.result['train_step_ms'] = min(times)
            row.result['train_step_ms_median'] = statistics.median(times)
    return [row.result for row in rows]


def count_on_meta(arch: str) -> dict:
    """Parameter counts of ``arch`` without allocating weights."""
    counts = {}
    with torch.device('meta'):
        for variant, adapter_kwargs in [('none', dict(adapter_type=None))] + list(
            ADAPTER_VARIANTS.items()
        ):
            model = DecoupledAdapterViT(arch=arch, **adapter_kwargs)
            counts[variant] = dict(
                total_params=sum(p.numel() for p in model.parameters()),
                trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
            )
    return counts


def _fmt(value: float | None, spec: str) -> str:
    return 'n/a' if value is None else format(value, spec)


def main() -> None:
    args = parse_args()
    if args.frames % args.clip_frames:
        raise SystemExit(f'--frames {args.frames} must be a multiple of --clip-frames')
    if args.clock == 'cpu' and args.device != 'cpu':
        raise SystemExit('--clock cpu times CPU work; use the wall clock with --device cuda')
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    # Build-time parameter logs would interleave with the table.
    MMLogger.get_current_instance().setLevel('WARNING')

    dtype = getattr(torch, args.dtype)
    rows = []
    for name, build in _rows(args):
        torch.manual_seed(0)
        rows.append(_Row(name, build().to(device=device, dtype=dtype), args, device))
    results = benchmark(rows, args, device)

    header = f'{"model":<28}{"total":>13}{"trainable":>13}{"%":>7}{"eval ms/clip":>14}'
    header += f'{"train ms":>11}{"peak MiB":>11}'
    print(
        f'\n{args.arch}, {args.frames}x{args.img_size}x{args.img_size}, batch {args.batch}, '
        f'{args.device} {args.dtype}, {torch.get_num_threads()} threads, '
        f'fastest of {args.iters} rounds, {args.clock} clock'
    )
    print(header)
    for row in results:
        share = 100 * row['trainable_params'] / row['total_params']
        print(
            f'{row["name"]:<28}{row["total_params"]:>13,}{row["trainable_params"]:>13,}'
            f'{share:>7.2f}{row["eval_ms_per_clip"]:>14.1f}'
            f'{_fmt(row.get("train_step_ms"), ".1f"):>11}'
            f'{_fmt(row.get("train_peak_mib"), ".1f"):>11}'
        )
    by_name = {row['name']: row for row in results}
    ratios = {}
    reference = by_name.get('VisionTransformer full-FT')
    stda_cp = by_name.get('DAViT stda +cp')
    for variant in args.adapter_types:
        row = by_name.get(f'DAViT {variant}')
        if reference and row:
            ratios[f'eval_speedup_{variant}_vs_vit'] = (
                reference['eval_ms_per_clip'] / row['eval_ms_per_clip']
            )
    if reference and stda_cp and reference.get('train_peak_mib') and stda_cp.get('train_peak_mib'):
        ratios['peak_memory_stda_cp_vs_vit_full_ft'] = (
            stda_cp['train_peak_mib'] / reference['train_peak_mib']
        )
    for key, value in ratios.items():
        print(f'{key}: {value:.2f}')

    meta_counts = {arch: count_on_meta(arch) for arch in args.count_archs}
    for arch, counts in meta_counts.items():
        total = counts['none']['total_params']
        print(f'{arch} (meta device): trunk {total / 1e6:.1f}M; trainable adapters:')
        for variant, c in counts.items():
            if variant != 'none':
                added = c['trainable_params']
                trunk_share, whole_share = 100 * added / total, 100 * added / c['total_params']
                print(
                    f'  {variant:<11}{added / 1e6:>7.2f}M  {trunk_share:.2f}% of the trunk, '
                    f'{whole_share:.2f}% of the whole backbone'
                )

    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(
                dict(
                    settings=vars(args) | dict(threads=torch.get_num_threads()),
                    rows=results,
                    ratios=ratios,
                    meta_param_counts=meta_counts,
                ),
                f,
                indent=2,
            )


if __name__ == '__main__':
    main()
