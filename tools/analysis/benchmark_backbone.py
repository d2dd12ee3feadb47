"""Benchmark DecoupledAdapterViT against MMAction2's VisionTransformer.

Every model runs in this one process, one after the other, on the same input.

Rows:
- MMAction2 ``VisionTransformer``, fully fine-tuned (it has no ``with_cp``);
- ``DecoupledAdapterViT`` without adapters, fully fine-tuned (the same trunk,
  so full fine-tuning can be compared with and without ``with_cp``);
- ``DecoupledAdapterViT`` with each adapter type, frozen trunk;
- each ``DecoupledAdapterViT`` row with ``with_cp`` off and on.

Columns:
- ``total`` / ``trainable`` parameters;
- ``eval ms/clip``: eval-mode forward under ``torch.inference_mode``, median
  over ``--iters`` runs, divided by the clips in the batch;
- ``train ms``: one training step (forward, mean-square loss, backward, AdamW
  step), median over ``--iters`` steps;
- ``peak MiB``: memory a first training step needs on top of the model weights
  (gradients, AdamW states, activations), in MiB:
  - on CUDA: ``torch.cuda.max_memory_allocated`` minus the allocation before the
    step;
  - on CPU: the process's peak resident set (``VmHWM``) minus its resident set
    before the step, with the peak reset through ``/proc/self/clear_refs``
    (Linux) and glibc's mmap threshold lowered so that freed tensors go back to
    the OS instead of hiding in the allocator's cache.

Parameter counts of other sizes (e.g. ViT-g) are taken on the meta device, so no
weights are allocated (``--count-archs``).

Example::

    python tools/analysis/benchmark_backbone.py --arch small --frames 16 \\
        --img-size 160 --batch 2 --iters 3 --json work_dirs/bench.json
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


def _lower_malloc_mmap_threshold() -> None:
    # Before torch allocates anything: allocations above 64 KiB get their own
    # mmap and are unmapped when freed, so the resident set follows live tensors.
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 64 * 1024)
    libc.mallopt(m_trim_threshold, 128 * 1024)


_lower_malloc_mmap_threshold()

import torch  # noqa: E402
from mmaction.models.backbones.vit_mae import VisionTransformer  # noqa: E402

try:
    import mmstda  # noqa: F401, E402
except ImportError:
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import mmstda  # noqa: F401, E402

from mmengine.logging import MMLogger  # noqa: E402

from mmstda.models.backbones import DecoupledAdapterViT  # noqa: E402
from mmstda.models.backbones.decoupled_adapter_vit import ARCH_SETTINGS  # noqa: E402


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
        '--adapter-types', nargs='+', default=['stda', 'temporal', 'joint'], help='adapter rows'
    )
    parser.add_argument('--no-reference', action='store_true', help='skip VisionTransformer')
    parser.add_argument('--no-full-ft', action='store_true', help='skip the no-adapter rows')
    parser.add_argument('--no-train', action='store_true', help='skip train step and memory')
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


def _median_ms(fn: Callable[[], None], iters: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


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
    variants = [] if args.no_full_ft else [(None, False)]
    variants += [(t, True) for t in args.adapter_types]
    for adapter_type, frozen in variants:
        for with_cp in (False, True):
            name = f'DAViT {adapter_type or "full-FT"}{" +cp" if with_cp else ""}'
            rows.append(
                (
                    name,
                    lambda t=adapter_type, f=frozen, cp=with_cp: DecoupledAdapterViT(
                        **kwargs, adapter_type=t, freeze_backbone=f, with_cp=cp
                    ),
                )
            )
    return rows


def benchmark_row(
    build: Callable[[], torch.nn.Module], args: argparse.Namespace, device: torch.device
) -> dict:
    dtype = getattr(torch, args.dtype)
    model = build().to(device=device, dtype=dtype)
    x = torch.randn(
        args.batch, 3, args.frames, args.img_size, args.img_size, device=device, dtype=dtype
    )
    clips = args.batch * (args.frames // args.clip_frames)
    params = list(model.parameters())
    row = dict(
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
    )

    model.eval()
    with torch.inference_mode():
        row['eval_ms_per_clip'] = (
            _median_ms(lambda: model(x), args.iters, args.warmup, device) / clips
        )
    if args.no_train:
        return row

    model.train()
    trainable = [p for p in params if p.requires_grad]
    memory = _PeakMemory(device)
    memory.start()
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        model(x).float().square().mean().backward()
        optimizer.step()

    step()  # the first step allocates gradients and AdamW states: that is the peak
    peak = memory.stop()
    row['train_peak_mib'] = None if peak is None else peak / 2**20
    row['train_step_ms'] = _median_ms(step, args.iters, max(args.warmup - 1, 0), device)
    return row


def count_on_meta(arch: str) -> dict:
    """Parameter counts of ``arch`` without allocating weights."""
    counts = {}
    with torch.device('meta'):
        for adapter_type in (None, 'stda', 'temporal', 'joint'):
            model = DecoupledAdapterViT(arch=arch, adapter_type=adapter_type)
            counts[adapter_type or 'none'] = dict(
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
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    # Build-time parameter logs would interleave with the table.
    MMLogger.get_current_instance().setLevel('WARNING')

    results = []
    for name, build in _rows(args):
        torch.manual_seed(0)
        row = dict(name=name, **benchmark_row(build, args, device))
        results.append(row)
        print(f'done: {name}', file=sys.stderr)

    header = f'{"model":<28}{"total":>13}{"trainable":>13}{"%":>7}{"eval ms/clip":>14}'
    header += f'{"train ms":>11}{"peak MiB":>11}'
    print(
        f'\n{args.arch}, {args.frames}x{args.img_size}x{args.img_size}, batch {args.batch}, '
        f'{args.device} {args.dtype}, {torch.get_num_threads()} threads, median of {args.iters}'
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
    stda, stda_cp = by_name.get('DAViT stda'), by_name.get('DAViT stda +cp')
    if reference and stda:
        ratios['eval_speedup_stda_vs_vit'] = (
            reference['eval_ms_per_clip'] / stda['eval_ms_per_clip']
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
        shares = ', '.join(
            f'{t} +{c["trainable_params"] / 1e6:.1f}M ({100 * c["trainable_params"] / total:.2f}%)'
            for t, c in counts.items()
            if t != 'none'
        )
        print(f'{arch} (meta device): backbone {total / 1e6:.1f}M; adapters: {shares}')

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
