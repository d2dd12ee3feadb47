"""Streaming against sliding-window inference: speed, latency, memory, real-time factor.

Everything runs in one process:

- streaming: :class:`OnlineRecognizer`, each frame through the backbone once, at a
  live cadence (``--chunk-frames``, one clip per call by default) and with frames
  waiting (``--waiting-clips`` clips per call, one forward: a file read as fast as
  the model goes, or a live source catching up); both give the same segments;
- sliding window: the same model offline on windows of ``--window-clips`` clips,
  at each of ``--overlaps`` (50 % is what the configs test with, 75 % is denser),
  so each frame is processed ``1 / (1 - overlap)`` times; each window is decoded
  into segments, as the windowed test does;
- real-time factor: streaming fps over the native ``--fps``;
- emission latency: native frames from a segment's end to the call that emits it
  (one clip of buffering plus the decoder's wait), median, p95 and max;
- peak resident memory and the state carried between calls while streaming a
  short and a long video.

The model is either a trained one (``--config`` and ``--checkpoint``, e.g. the demo,
streamed over a real video looped to length with ``--video``) or an untrained
``DecoupledAdapterViT`` preset whose head is crafted to open runs
(``--craft-head``: class biases 0, so probabilities sit around 0.5 and runs open
and close). A head that never opens a run would hide the decoder's cost and state.

Examples::

    python tools/analysis/benchmark_online.py --config configs/stda_demo.py \
        --checkpoint work_dirs/stda_demo/best_mg_best_f1_epoch_50.pth \
        --video data/synthetic_smg/Sample0037/Sample0037_color.mp4
    python tools/analysis/benchmark_online.py --arch small --craft-head \
        --short-seconds 6 --long-seconds 60
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
from mmaction.structures import ActionDataSample

from mmstda.apis import OnlineRecognizer, init_online_recognizer


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The model to benchmark: a trained config + checkpoint, or a preset ViT."""
    parser.add_argument('--config', help='model config (with --checkpoint: a trained model)')
    parser.add_argument('--checkpoint', help='checkpoint of --config')
    parser.add_argument('--video', help='video to loop as input (default: random frames)')
    parser.add_argument('--arch', default='small', help='preset without --config')
    parser.add_argument('--img-size', type=int, default=160, help='frame size without --config')
    parser.add_argument('--clip-frames', type=int, default=16, help='clip without --config')
    parser.add_argument('--num-classes', type=int, default=17, help='classes without --config')
    parser.add_argument(
        '--frame-interval', type=int, default=None, help='native frames per step (default: config)'
    )
    parser.add_argument(
        '--craft-head', action='store_true', help='without --config: class biases 0 (runs open)'
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark online against sliding-window')
    add_model_arguments(parser)
    parser.add_argument('--fps', type=float, default=28.0, help='native frame rate')
    parser.add_argument('--window-clips', type=int, default=4, help='clips per sliding window')
    parser.add_argument(
        '--overlaps', type=float, nargs='+', default=[0.5, 0.75], help='sliding-window overlaps'
    )
    parser.add_argument('--speed-seconds', type=float, default=20.0, help='video for the fps runs')
    parser.add_argument('--repeats', type=int, default=2, help='fps rounds (best one counts)')
    parser.add_argument('--short-seconds', type=float, default=60.0, help='short video (memory)')
    parser.add_argument('--long-seconds', type=float, default=600.0, help='long video (memory)')
    parser.add_argument(
        '--chunk-frames',
        type=int,
        default=None,
        help='frames per process() call of the live-cadence run (default: one clip)',
    )
    parser.add_argument(
        '--waiting-clips',
        type=int,
        default=8,
        help='clips per process() call of the frames-waiting run (one forward each)',
    )
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch CPU threads; on a busy machine 1 avoids threads waiting on each other',
    )
    return parser.parse_args(argv)


def build_preset_recognizer(args: argparse.Namespace) -> OnlineRecognizer:
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
    model.head.init_weights()  # boundary biases at the prior: runs are not split everywhere
    if args.craft_head:
        with torch.no_grad():
            model.head.cls_out.bias.zero_()
    return OnlineRecognizer(model.eval(), frame_interval=args.frame_interval or 1)


class LoopedVideo:
    """Frames cycled from a small pool (a decoded video, else random frames).

    Memory does not depend on the requested length.
    """

    def __init__(self, num_frames: int, pool: np.ndarray) -> None:
        self.pool = pool
        self.num_frames = num_frames

    def chunks(self, chunk_frames: int):
        for start in range(0, self.num_frames, chunk_frames):
            stop = min(start + chunk_frames, self.num_frames)
            yield self.pool[np.arange(start, stop) % len(self.pool)]


def frame_pool(args: argparse.Namespace, size: int) -> np.ndarray:
    if args.video:
        import decord

        reader = decord.VideoReader(args.video, num_threads=1)
        return reader.get_batch(list(range(len(reader)))).asnumpy()
    return np.random.default_rng(0).integers(0, 256, (37, size, size, 3), dtype=np.uint8)


def rss_bytes() -> int:
    """Current resident memory (Linux), else the peak so far."""
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@torch.no_grad()
def run_streaming(
    recognizer: OnlineRecognizer,
    pool: np.ndarray,
    num_frames: int,
    args,
    chunk_frames: int | None = None,
) -> dict:
    recognizer.reset()
    peak_rss, state_bytes, max_pending, segments = rss_bytes(), 0, 0, []
    chunk_frames = chunk_frames or args.chunk_frames or recognizer.frames_per_clip
    start = time.perf_counter()
    for chunk in LoopedVideo(num_frames, pool).chunks(chunk_frames):
        segments += recognizer.process(chunk)
        peak_rss = max(peak_rss, rss_bytes())
        state_bytes = max(state_bytes, recognizer.state_nbytes())
        max_pending = max(max_pending, recognizer._decoder.num_pending)
    segments += recognizer.finish()
    seconds = time.perf_counter() - start
    # Latency of the segments emitted while streaming (those flushed by finish()
    # at the end of the video would only measure the video's end).
    latencies = [s['emitted_frame'] - s['end_frame'] for s in segments]
    latencies = [lat for s, lat in zip(segments, latencies) if s['emitted_frame'] < num_frames]
    return dict(
        fps=num_frames / seconds,
        peak_rss=peak_rss,
        state_bytes=state_bytes,
        max_pending=max_pending,
        segments=len(segments),
        latencies=latencies,
        outputs=[(d['label'], d['start_frame'], d['end_frame']) for d in segments],
    )


@torch.no_grad()
def run_sliding(
    recognizer: OnlineRecognizer, pool: np.ndarray, num_frames: int, overlap: float, args
) -> dict:
    """The offline model on the last window every ``stride`` new frames, decoded.

    The rate is the steady state: native frames after the first window over the
    time spent after it (the first window has no overlap to pay for).
    """
    model, interval = recognizer.model, recognizer.frame_interval
    window = args.window_clips * recognizer.clip_frames  # sub-sampled frames
    stride = max(1, round(window * (1 - overlap)))
    buffer = collections.deque(maxlen=window)
    windows, since_last, first_done, native_at_first, native = 0, 0, None, 0, 0
    for chunk in LoopedVideo(num_frames, pool).chunks(recognizer.frames_per_clip):
        offsets = np.arange(len(chunk)) + native
        native += len(chunk)
        kept = list(chunk[offsets % interval == 0])
        if not kept:
            continue
        for frame in recognizer.transforms(kept) if recognizer.transforms else kept:
            buffer.append(frame)
            since_last += 1
            if len(buffer) < window or (windows and since_last < stride):
                continue
            clip = torch.from_numpy(np.stack(buffer)).permute(3, 0, 1, 2)
            inputs = model.data_preprocessor(dict(inputs=[clip], data_samples=None))['inputs']
            cls_logits, boundary_logits = model(inputs, mode='tensor')
            sample = ActionDataSample()
            sample.set_metainfo(dict(window_start_frame=0, frame_interval=interval))
            model.head.predict_by_scores(cls_logits.sigmoid(), boundary_logits.sigmoid(), [sample])
            windows, since_last = windows + 1, 0
            if first_done is None:
                first_done, native_at_first = time.perf_counter(), native
    if first_done is None or native == native_at_first:
        raise ValueError(
            f'--speed-seconds is too short for a sliding window of {window} frames '
            f'plus one stride of {stride}'
        )
    seconds = time.perf_counter() - first_done
    return dict(fps=(native - native_at_first) / seconds, windows=windows, stride=stride)


def _percentiles(values: list[int]) -> tuple[float, float, float]:
    if not values:
        return float('nan'), float('nan'), float('nan')
    return float(np.median(values)), float(np.percentile(values, 95)), float(max(values))


def build_recognizer(args: argparse.Namespace) -> tuple[OnlineRecognizer, str]:
    """The benchmarked recognizer (``--config`` or the preset) and a name for it."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.config:
        recognizer = init_online_recognizer(
            args.config, args.checkpoint, frame_interval=args.frame_interval
        )
        return recognizer, f'{args.config} ({args.checkpoint or "untrained"})'
    head = 'crafted head (runs open)' if args.craft_head else 'untrained head'
    return build_preset_recognizer(
        args
    ), f'DecoupledAdapterViT-{args.arch} {args.img_size}px, {head}'


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    recognizer, name = build_recognizer(args)
    pool = frame_pool(args, args.img_size)
    to_frames = lambda seconds: max(1, int(round(seconds * args.fps)))  # noqa: E731

    # Warm-up so one-off allocations do not count against the short run.
    run_streaming(recognizer, pool, recognizer.clip_frames * recognizer.frame_interval * 2, args)

    # Best of interleaved rounds: on a shared machine the load changes between runs.
    speed_frames = to_frames(args.speed_seconds)
    waiting_chunk = args.waiting_clips * recognizer.frames_per_clip
    streams, waitings, slidings = [], [], {overlap: [] for overlap in args.overlaps}
    for _ in range(args.repeats):
        streams.append(run_streaming(recognizer, pool, speed_frames, args))
        waitings.append(run_streaming(recognizer, pool, speed_frames, args, waiting_chunk))
        for overlap in args.overlaps:
            slidings[overlap].append(run_sliding(recognizer, pool, speed_frames, overlap, args))
    stream = max(streams, key=lambda r: r['fps'])
    waiting = max(waitings, key=lambda r: r['fps'])
    # Same segments expected; a batch of several clips rounds floats differently
    # (about 1e-7), which can flip a frame sitting exactly at a threshold.
    differ = len(set(waiting['outputs']) ^ set(stream['outputs']))
    sliding = {k: max(v, key=lambda r: r['fps']) for k, v in slidings.items()}
    short = run_streaming(recognizer, pool, to_frames(args.short_seconds), args)
    long = run_streaming(recognizer, pool, to_frames(args.long_seconds), args)
    median, p95, worst = _percentiles(long['latencies'])

    results = dict(
        streaming_fps=stream['fps'],
        real_time_factor=stream['fps'] / args.fps,
        latency_median_frames=median,
        latency_p95_frames=p95,
        latency_max_frames=worst,
        short_peak_mib=short['peak_rss'] / 2**20,
        long_peak_mib=long['peak_rss'] / 2**20,
        memory_ratio=long['peak_rss'] / short['peak_rss'],
        state_kib_short=short['state_bytes'] / 1024,
        state_kib_long=long['state_bytes'] / 1024,
        max_pending_long=long['max_pending'],
        segments_long=long['segments'],
    )
    results['waiting_fps'] = waiting['fps']
    results['waiting_segments_differing'] = differ
    for overlap, r in sliding.items():
        results[f'sliding_{int(overlap * 100)}_fps'] = r['fps']
        results[f'speedup_vs_{int(overlap * 100)}'] = stream['fps'] / r['fps']
        results[f'waiting_speedup_vs_{int(overlap * 100)}'] = waiting['fps'] / r['fps']

    print(
        f'model: {name}; clip {recognizer.clip_frames} x frame_interval '
        f'{recognizer.frame_interval}; torch threads {torch.get_num_threads()}; input '
        f'{"looped " + args.video if args.video else "random frames"}'
    )
    chunk = args.chunk_frames or recognizer.frames_per_clip
    print(
        f'streaming, live       : {stream["fps"]:8.1f} native fps ({speed_frames} frames, '
        f'{chunk} per call, best of {args.repeats}); {stream["segments"]} segments'
    )
    print(
        f'streaming, waiting    : {waiting["fps"]:8.1f} native fps ({args.waiting_clips} clips '
        f'= {waiting_chunk} frames per call, one forward); '
        + ('the same segments' if not differ else f'{differ} segments differ from the live run')
    )
    for overlap, r in sliding.items():
        print(
            f'sliding {int(overlap * 100)}% overlap   : {r["fps"]:8.1f} native fps, steady '
            f'({r["windows"]} windows of {args.window_clips * recognizer.clip_frames} frames, '
            f'stride {r["stride"]}); streaming is {stream["fps"] / r["fps"]:.2f}x (live) and '
            f'{waiting["fps"] / r["fps"]:.2f}x (waiting) faster'
        )
    print(f'real-time factor      : {results["real_time_factor"]:8.2f}x of {args.fps:g} fps')
    print(
        f'emission latency      : median {median:.0f}, p95 {p95:.0f}, max {worst:.0f} native '
        f'frames after a segment ends (median {median / args.fps:.2f} s, p95 '
        f'{p95 / args.fps:.2f} s; {len(long["latencies"])} segments of the long run)'
    )
    print(
        f'peak RSS              : {results["short_peak_mib"]:.1f} MiB ({args.short_seconds:g} s) '
        f'vs {results["long_peak_mib"]:.1f} MiB ({args.long_seconds:g} s): '
        f'{results["memory_ratio"]:.3f}x'
    )
    print(
        f'peak carried state    : {results["state_kib_short"]:.1f} KiB vs '
        f'{results["state_kib_long"]:.1f} KiB; at most {long["max_pending"]} pending '
        f'segments, {long["segments"]} segments in the long run'
    )
    return results


if __name__ == '__main__':
    main()
