"""Recognise micro-gestures in a video as it plays, frame by frame.

Example::

    python tools/online_infer.py Sample0036_color.mp4 configs/stda_smg.py ckpt.pth \
        --out preds.csv --show timeline.png --ann Sample0036_finelabels.csv
"""

import argparse
import csv
import os
import os.path as osp
import sys
import time

import cv2
import numpy as np
import torch
from tqdm import tqdm

try:
    import mmstda  # noqa: F401
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import mmstda  # noqa: F401

# The tools' helpers (tools/_helpers), from a source checkout and from mmstda/.mim/tools.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from mmstda.apis import init_online_recognizer
from mmstda.utils.errors import UserInputError
from mmstda.utils.operating_point import add_score_thr_argument, resolve_score_thr
from mmstda.visualization import draw_timeline

from _helpers.launch import user_errors

CSV_HEADER = ['video_id', 'label', 'start_frame', 'end_frame', 'score']


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Online micro-gesture recognition on a video')
    parser.add_argument('video', help='video file (anything OpenCV reads)')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', nargs='?', default=None, help='checkpoint file')
    parser.add_argument('--out', default='preds.csv', help='CSV of segments (1-based labels)')
    parser.add_argument('--show', default=None, help='write a timeline PNG here')
    parser.add_argument('--ann', default=None, help='SMG *_finelabels.csv for a GT lane')
    parser.add_argument('--device', default='cpu', help='torch device')
    parser.add_argument('--chunk-frames', type=int, default=8, help='frames read per step')
    parser.add_argument(
        '--video-id',
        default=None,
        help='id in the CSV (default: the file stem without _color, e.g. Sample0037 for '
        'Sample0037_color.mp4, as in the submission CSV of tools/test.py)',
    )
    add_score_thr_argument(parser)
    parser.add_argument(
        '--allow-partial',
        action='store_true',
        help='keep going (with a warning) when fewer frames decode than the file declares',
    )
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch CPU threads (1 is often fastest on a busy machine)',
    )
    return parser.parse_args(argv)


def read_frames(path: str, chunk_frames: int):
    """Yield uint8 RGB chunks ``(n, H, W, 3)``; memory stays at one chunk."""
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise FileNotFoundError(f'cannot open video {path}')
    try:
        while True:
            chunk = []
            for _ in range(chunk_frames):
                ok, frame = capture.read()
                if not ok:
                    break
                chunk.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if chunk:
                yield np.stack(chunk)
            if len(chunk) < chunk_frames:
                return
    finally:
        capture.release()


def check_decoded_all(
    video: str, num_frames: int, declared: int | None, allow_partial: bool
) -> None:
    """Refuse (or, with ``allow_partial``, loudly warn about) a video cut short.

    OpenCV stops at the first frame it cannot decode, which would otherwise pass
    for the end of the video.
    """
    if declared is None or num_frames >= declared:
        return
    message = (
        f'{video}: decoding stopped at frame {num_frames} of the {declared} frames the file '
        'declares (damaged or truncated file)'
    )
    if not allow_partial:
        raise UserInputError(
            f'{message}; re-encode it, or pass --allow-partial to keep the first {num_frames}'
        )
    print(f'WARNING: {message}; keeping the first {num_frames} frames', file=sys.stderr)


def read_finelabels(path: str) -> list[tuple[int, int, int]]:
    """Rows ``label,start_frame,end_frame`` (1-based label, no header) of a start-kit file."""
    rows = []
    with open(path, newline='') as f:
        for line_no, row in enumerate(csv.reader(f), start=1):
            if not row or not ''.join(row).strip():
                continue
            if len(row) < 3:
                raise UserInputError(
                    f'{path}:{line_no}: expected label,start_frame,end_frame, got {row}'
                )
            try:
                label, start, end = (int(float(v)) for v in row[:3])
            except ValueError as err:
                raise UserInputError(f'{path}:{line_no}: non-numeric field in {row}') from err
            if end < start:
                raise UserInputError(f'{path}:{line_no}: end_frame {end} < start_frame {start}')
            rows.append((label, start, end))
    return rows


def write_csv(path: str, video_id: str, segments: list[dict]) -> None:
    out_dir = osp.dirname(osp.abspath(path))
    os.makedirs(out_dir, exist_ok=True)
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(CSV_HEADER)
        for s in sorted(segments, key=lambda s: (s['start_frame'], s['label'])):
            writer.writerow(
                [video_id, s['label'] + 1, s['start_frame'], s['end_frame'], f'{s["score"]:.6f}']
            )


def video_id_from_path(path: str) -> str:
    """``.../Sample0037_color.mp4`` -> ``Sample0037``: the id the SMG start kit uses."""
    stem = osp.splitext(osp.basename(path))[0]
    return stem[: -len('_color')] if stem.endswith('_color') else stem


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.ann and not args.show:
        raise UserInputError('--ann only feeds the timeline: give --show PNG as well')
    if not osp.isfile(args.video):
        raise FileNotFoundError(f'video not found: {args.video}')
    if args.threads:
        torch.set_num_threads(args.threads)
    score_thr, source = resolve_score_thr(args.score_thr, args.checkpoint)
    print(f'score_thr={score_thr}: {source}')
    recognizer = init_online_recognizer(
        args.config, args.checkpoint, device=args.device, score_thr=score_thr
    )
    capture = cv2.VideoCapture(args.video)
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    capture.release()

    segments: list[dict] = []
    num_frames, fps = 0, 0.0
    start_time = time.perf_counter()
    with tqdm(total=total, unit='frame', desc='online inference') as bar:
        for chunk in read_frames(args.video, args.chunk_frames):
            segments += recognizer.process(chunk)
            num_frames += len(chunk)
            bar.update(len(chunk))
            fps = num_frames / max(time.perf_counter() - start_time, 1e-9)
            bar.set_postfix(fps=f'{fps:.1f}', segments=len(segments))
        segments += recognizer.finish()
        bar.set_postfix(fps=f'{fps:.1f}', segments=len(segments))
    check_decoded_all(args.video, num_frames, total, args.allow_partial)

    video_id = args.video_id or video_id_from_path(args.video)
    write_csv(args.out, video_id, segments)
    print(f'{len(segments)} segments in {num_frames} frames -> {args.out}')
    if args.show:
        gt = read_finelabels(args.ann) if args.ann else None
        draw_timeline(
            args.show,
            [(s['label'], s['start_frame'], s['end_frame'], s['score']) for s in segments],
            recognizer.class_names,
            num_frames=num_frames,
            # Start-kit labels are 1-based.
            ground_truths=None if gt is None else [(lab - 1, st, en) for lab, st, en in gt],
            title=f'{video_id}: {len(segments)} segments',
        )
        print(f'timeline -> {args.show}')


if __name__ == '__main__':
    with user_errors():
        main()
