"""Streaming against sliding-window inference: speed, memory, real-time factor.

Everything runs in one process on synthetic frames generated on the fly (no files):

- streaming: :class:`OnlineRecognizer`, each frame through the backbone once;
- sliding window: the same model offline on windows of ``--window-clips`` clips
  at ``--overlap`` (75 %) overlap, so each frame is processed ``1 / (1 - overlap)``
  times;
- peak resident memory while streaming a short and a long video;
- real-time factor: streaming fps over the native ``--fps``.

Example (ViT-S at 160 px on CPU)::

    python tools/analysis/benchmark_online.py --short-seconds 60 --long-seconds 600
"""

import argparse
import collections
import os.path as osp
import resource
import sys
import time

import numpy as np
import torch

try:
    import mmstda  # noqa: F401
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import mmstda  # noqa: F401

from mmaction.registry import MODELS

from mmstda.apis import OnlineRecognizer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark online against sliding-window')
    parser.add_argument('--arch', default='small', help='DecoupledAdapterViT arch preset')
    parser.add_argument('--img-size', type=int, default=160, help='frame size in pixels')
    parser.add_argument('--clip-frames', type=int, default=16, help='frames per clip')
    parser.add_argument('--num-classes', type=int, default=17, help='classes of the head')
    parser.add_argument('--fps', type=float, default=28.0, help='native frame rate')
    parser.add_argument('--frame-interval', type=int, default=1, help='native frames per step')
    parser.add_argument('--window-clips', type=int, default=4, help='clips per sliding window')
    parser.add_argument('--overlap', type=float, default=0.75, help='sliding-window overlap')
    parser.add_argument('--speed-seconds', type=float, default=20.0, help='video for the fps runs')
    parser.add_argument('--repeats', type=int, default=2, help='fps rounds (best one counts)')
    parser.add_argument('--short-seconds', type=float, default=60.0, help='short video (memory)')
    parser.add_argument('--long-seconds', type=float, default=600.0, help='long video (memory)')
    parser.add_argument('--chunk-frames', type=int, default=8, help='frames per process() call')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch CPU threads; on a busy machine 1 avoids threads waiting on each other',
    )
    return parser.parse_args(argv)


def build_model(args: argparse.Namespace) -> torch.nn.Module:
    backbone = dict(
        type='DecoupledAdapterViT',
        arch=args.arch,
        img_size=args.img_size,
        num_frames=args.clip_frames,
        return_feat_map=True,
        causal=True,
    )
    probe = MODELS.build(backbone)
    head = dict(type='OnlineTADHead', in_channels=probe.embed_dims, num_classes=args.num_classes)
    del probe
    model = MODELS.build(
        dict(
            type='OnlineMGDetector',
            backbone=backbone,
            head=head,
            data_preprocessor=dict(
                type='ActionDataPreprocessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                format_shape='NCTHW',
            ),
        )
    )
    return model.eval()


class SyntheticVideo:
    """Frames made on the fly from a small pool: memory does not depend on length."""

    def __init__(self, num_frames: int, size: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.pool = rng.integers(0, 256, (37, size, size, 3), dtype=np.uint8)
        self.num_frames = num_frames

    def chunks(self, chunk_frames: int):
        for start in range(0, self.num_frames, chunk_frames):
            stop = min(start + chunk_frames, self.num_frames)
            yield self.pool[np.arange(start, stop) % len(self.pool)]


def rss_bytes() -> int:
    """Current resident memory (Linux), else the peak so far."""
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@torch.no_grad()
def run_streaming(model, args, num_frames: int) -> dict:
    recognizer = OnlineRecognizer(model, frame_interval=args.frame_interval)
    video = SyntheticVideo(num_frames, args.img_size)
    peak_rss, state_bytes, segments = rss_bytes(), 0, 0
    start = time.perf_counter()
    for chunk in video.chunks(args.chunk_frames):
        segments += len(recognizer.process(chunk))
        peak_rss = max(peak_rss, rss_bytes())
        state_bytes = max(state_bytes, recognizer.state_nbytes())
    segments += len(recognizer.finish())
    seconds = time.perf_counter() - start
    return dict(
        fps=num_frames / seconds,
        seconds=seconds,
        peak_rss=peak_rss,
        state_bytes=state_bytes,
        segments=segments,
    )


@torch.no_grad()
def run_sliding(model, args, num_frames: int) -> dict:
    """The offline model on the last window every ``stride`` new frames.

    The rate is the steady state: native frames after the first window over the
    time spent after it (the first window has no overlap to pay for).
    """
    window = args.window_clips * args.clip_frames  # sub-sampled frames
    stride = max(1, round(window * (1 - args.overlap)))
    buffer = collections.deque(maxlen=window)
    video = SyntheticVideo(num_frames, args.img_size)
    windows, since_last, first_done, native_at_first = 0, 0, None, 0
    native = 0
    for chunk in video.chunks(args.chunk_frames):
        for frame in chunk:
            native += 1
            if (native - 1) % args.frame_interval:
                continue
            buffer.append(frame)
            since_last += 1
            if len(buffer) < window or (windows and since_last < stride):
                continue
            clip = torch.from_numpy(np.stack(buffer)).permute(3, 0, 1, 2)
            inputs = model.data_preprocessor(dict(inputs=[clip], data_samples=None))['inputs']
            model(inputs, mode='tensor')[0].sigmoid()
            windows, since_last = windows + 1, 0
            if first_done is None:
                first_done, native_at_first = time.perf_counter(), native
    if first_done is None or native == native_at_first:
        raise ValueError(
            f'--speed-seconds is too short for a sliding window of {window} frames '
            f'plus one stride of {stride}'
        )
    seconds = time.perf_counter() - first_done
    return dict(
        fps=(native - native_at_first) / seconds, seconds=seconds, windows=windows, stride=stride
    )


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = build_model(args)
    to_frames = lambda seconds: max(1, int(round(seconds * args.fps)))  # noqa: E731

    # Warm-up so one-off allocations do not count against the short run.
    run_streaming(model, args, args.clip_frames * args.frame_interval * 2)

    # Best of interleaved rounds: on a shared machine the load changes between runs.
    speed_frames = to_frames(args.speed_seconds)
    rounds = [
        (run_streaming(model, args, speed_frames), run_sliding(model, args, speed_frames))
        for _ in range(args.repeats)
    ]
    stream = max((r[0] for r in rounds), key=lambda r: r['fps'])
    sliding = max((r[1] for r in rounds), key=lambda r: r['fps'])
    short = run_streaming(model, args, to_frames(args.short_seconds))
    long = run_streaming(model, args, to_frames(args.long_seconds))

    results = dict(
        streaming_fps=stream['fps'],
        sliding_fps=sliding['fps'],
        speedup=stream['fps'] / sliding['fps'],
        real_time_factor=stream['fps'] / args.fps,
        short_peak_mib=short['peak_rss'] / 2**20,
        long_peak_mib=long['peak_rss'] / 2**20,
        memory_ratio=long['peak_rss'] / short['peak_rss'],
        state_kib_short=short['state_bytes'] / 1024,
        state_kib_long=long['state_bytes'] / 1024,
    )
    print(
        f'model: DecoupledAdapterViT-{args.arch} {args.img_size}px, clip {args.clip_frames}, '
        f'frame_interval {args.frame_interval}, torch threads {torch.get_num_threads()}'
    )
    print(
        f'streaming           : {stream["fps"]:8.1f} native fps ({speed_frames} frames, '
        f'best of {args.repeats})'
    )
    print(
        f'sliding {int(args.overlap * 100)}% overlap : {sliding["fps"]:8.1f} native fps, steady '
        f'({sliding["windows"]} windows of {args.window_clips * args.clip_frames} frames, '
        f'stride {sliding["stride"]})'
    )
    print(f'speed-up            : {results["speedup"]:8.2f}x (target >= 3x)')
    print(
        f'real-time factor    : {results["real_time_factor"]:8.2f}x of {args.fps:g} fps '
        '(target > 1)'
    )
    print(
        f'peak RSS            : {results["short_peak_mib"]:.1f} MiB ({args.short_seconds:g} s) vs '
        f'{results["long_peak_mib"]:.1f} MiB ({args.long_seconds:g} s): '
        f'{results["memory_ratio"]:.3f}x (target <= 1.2x)'
    )
    print(
        f'peak carried state  : {results["state_kib_short"]:.1f} KiB vs '
        f'{results["state_kib_long"]:.1f} KiB'
    )
    return results


if __name__ == '__main__':
    main()
