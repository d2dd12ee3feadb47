"""How many live streams one process serves in real time: batched against independent.

N cameras at ``--fps`` each deliver one model clip (``frames_per_clip`` native
frames) every ``frames_per_clip / fps`` seconds. A step feeds every stream its
next clip. In one process, for each N of ``--streams``:

- batched: one :class:`MultiStreamRecognizer` of N streams, one forward of the N
  clips per step;
- independent: N :class:`OnlineRecognizer` sharing the model, one forward each.

A configuration serves N streams in real time when its step takes less than one
clip's duration; the real-time factor is that duration over the step time (above
1: real time, with headroom). The two are timed in alternating rounds, best of
``--repeats``, so that a change in machine load hits both.

Examples::

    python tools/analysis/benchmark_multistream.py --config configs/stda_demo.py \
        --checkpoint work_dirs/stda_demo/best_mg_best_f1_epoch_40.pth --streams 1 2 4 8 16
    python tools/analysis/benchmark_multistream.py --arch small --craft-head --streams 1 2 3
"""

import argparse
import os.path as osp
import sys
import time

import numpy as np
import torch

try:
    import mmstda  # noqa: F401
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import mmstda  # noqa: F401

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from benchmark_online import add_model_arguments, build_recognizer, frame_pool

from mmstda.apis import MultiStreamRecognizer, OnlineRecognizer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Live streams served in real time')
    add_model_arguments(parser)  # every stream loops --video (default: random frames)
    parser.add_argument('--fps', type=float, default=28.0, help='native rate of each stream')
    parser.add_argument('--streams', type=int, nargs='+', default=[1, 2, 4, 8], help='values of N')
    parser.add_argument('--steps', type=int, default=6, help='clip steps per timed round')
    parser.add_argument('--repeats', type=int, default=2, help='rounds (best one counts)')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    return parser.parse_args(argv)


def _step_seconds(feed, clips: list[list[np.ndarray]], steps: int) -> float:
    """Seconds per step of feeding every stream its next clip (after one warm-up step)."""
    feed([c[0] for c in clips])
    start = time.perf_counter()
    for step in range(1, steps + 1):
        feed([c[step % len(c)] for c in clips])
    return (time.perf_counter() - start) / steps


def measure(recognizer: OnlineRecognizer, pool: np.ndarray, num: int, args) -> dict:
    per_clip = recognizer.frames_per_clip
    # Stream i starts at another point of the pool: the streams differ.
    clips = [
        [pool[(np.arange(per_clip) + i * 7 + s * per_clip) % len(pool)] for s in range(4)]
        for i in range(num)
    ]
    best = dict(batched=float('inf'), independent=float('inf'))
    for _ in range(args.repeats):
        multi = MultiStreamRecognizer(recognizer, num)
        best['batched'] = min(best['batched'], _step_seconds(multi.process, clips, args.steps))
        alone = multi.recognizers
        for r in alone:
            r.reset()

        def independent(chunks, alone=alone):
            return [r.process(chunk) for r, chunk in zip(alone, chunks)]

        best['independent'] = min(
            best['independent'], _step_seconds(independent, clips, args.steps)
        )
        recognizer.reset()
    clip_seconds = per_clip / args.fps
    return dict(
        streams=num,
        clip_seconds=clip_seconds,
        batched_ms=best['batched'] * 1e3,
        independent_ms=best['independent'] * 1e3,
        batched_rtf=clip_seconds / best['batched'],
        independent_rtf=clip_seconds / best['independent'],
    )


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    recognizer, name = build_recognizer(args)
    pool = frame_pool(args, args.img_size)
    rows = [measure(recognizer, pool, num, args) for num in args.streams]
    print(
        f'model: {name}; clip {recognizer.clip_frames} x frame_interval '
        f'{recognizer.frame_interval} = {recognizer.frames_per_clip} native frames '
        f'({rows[0]["clip_seconds"]:.2f} s at {args.fps:g} fps); torch threads '
        f'{torch.get_num_threads()}'
    )
    print(
        '| streams | batched ms/step | real-time factor | independent ms/step | real-time factor |'
    )
    print('|---|---|---|---|---|')
    for r in rows:
        print(
            f'| {r["streams"]} | {r["batched_ms"]:.1f} | {r["batched_rtf"]:.2f} | '
            f'{r["independent_ms"]:.1f} | {r["independent_rtf"]:.2f} |'
        )
    for key in ('batched', 'independent'):
        served = [r['streams'] for r in rows if r[f'{key}_rtf'] >= 1.0]
        print(f'{key}: {max(served) if served else 0} of {args.streams} streams in real time')
    return rows


if __name__ == '__main__':
    main()
