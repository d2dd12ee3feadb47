"""Recognise micro-gestures live: from a video file, a camera, a URL stream or stdin.

Segments are written the moment they are emitted (``--out``, CSV or JSON lines),
so ``tail -f`` follows the run. Examples::

    # A file, as fast as the model goes, with the timeline picture at the end.
    python tools/online_infer.py Sample0036_color.mp4 configs/stda_smg.py ckpt.pth \
        --out preds.csv --timeline timeline.png --ann Sample0036_finelabels.csv
    # The first camera, in a live window.
    python tools/online_infer.py 0 configs/stda_smg.py ckpt.pth --show
    # A stream, and raw frames from any ffmpeg input on stdin.
    python tools/online_infer.py rtsp://host/stream configs/stda_smg.py ckpt.pth --out preds.jsonl
    ffmpeg -re -i in.mkv -f rawvideo -pix_fmt rgb24 - | python tools/online_infer.py - \
        configs/stda_smg.py ckpt.pth --input-size 640x480 --input-fps 28
"""

import argparse
import csv
import os
import os.path as osp
import sys
import time

import torch

try:
    import mmstda  # noqa: F401
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import mmstda  # noqa: F401

# The tools' helpers (tools/_helpers), from a source checkout and from mmstda/.mim/tools.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from mmstda.apis import (
    DEFAULT_FPS,
    FrameReader,
    FrameSource,
    check_source_options,
    init_online_recognizer,
    open_frame_source,
)
from mmstda.utils.errors import UserInputError
from mmstda.utils.operating_point import add_score_thr_argument, resolve_score_thr
from mmstda.visualization import draw_timeline

from _helpers.interrupts import GracefulInterrupt
from _helpers.launch import user_errors
from _helpers.live_progress import LiveProgress, summary_line
from _helpers.live_view import LiveView
from _helpers.segment_writers import FORMATS, SegmentWriter

# Default buffer: this many model clips (4 x 16 frames = 2.3 s at 28 fps).
BUFFER_CLIPS = 4


def input_size(text: str) -> tuple[int, int]:
    """``'640x480'`` -> ``(640, 480)``, for ``--input-size``."""
    parts = text.lower().split('x')
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f'expected WxH in pixels, e.g. 640x480, got {text!r}')
    return int(parts[0]), int(parts[1])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Online micro-gesture recognition on a video file, a camera, a URL '
        'stream or raw frames on stdin'
    )
    parser.add_argument(
        'source',
        metavar='SOURCE',
        help='a video file (anything OpenCV reads), a camera index (0), a URL '
        '(rtsp://, http://, udp://, ...), or - for raw rgb24 frames on stdin (ffmpeg ... '
        '-f rawvideo -pix_fmt rgb24 -; give --input-size)',
    )
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', nargs='?', default=None, help='checkpoint file')
    parser.add_argument(
        '--out',
        default='preds.csv',
        help='segments, each written and flushed as it is emitted (tail -f follows it): CSV '
        'video_id,label,start_frame,end_frame,score (1-based label), or JSON lines with '
        'label_name, emitted_frame and wall_time too (default: preds.csv)',
    )
    parser.add_argument(
        '--out-format',
        choices=FORMATS,
        default=None,
        help='format of --out (default: jsonl for a .jsonl/.json file, else csv)',
    )
    parser.add_argument(
        '--timeline', default=None, metavar='PNG', help='write a timeline PNG at the end'
    )
    parser.add_argument(
        '--ann', default=None, help='SMG *_finelabels.csv: a ground-truth lane in --timeline'
    )
    parser.add_argument(
        '--show',
        action='store_true',
        help='live window with the frames, the gesture in progress and the latest segments '
        '(q or Esc stops); without a display it warns and goes on',
    )
    parser.add_argument(
        '--out-video',
        default=None,
        metavar='FILE',
        help='write the frames with the --show overlay to this video (.mp4 or .avi), at '
        'the source fps; dropped frames are missing from it',
    )
    parser.add_argument(
        '--realtime',
        action='store_true',
        help='pace a video file at its native fps, as a camera: frames are then dropped '
        'when the model falls behind (cameras, URLs and stdin are always live: pipe stdin '
        'at its own pace, e.g. ffmpeg -re)',
    )
    parser.add_argument(
        '--input-size',
        type=input_size,
        default=None,
        metavar='WxH',
        help='frame size of raw frames on stdin (required there); for a camera, the '
        'capture size to ask for',
    )
    parser.add_argument(
        '--input-fps',
        type=float,
        default=None,
        help=f'frame rate of raw frames on stdin (default: unknown, {DEFAULT_FPS:g} taken '
        'where a rate is needed); for a camera, the rate to ask for',
    )
    parser.add_argument(
        '--buffer-frames',
        type=int,
        default=None,
        help=f'frames held between the reader and the model (default: {BUFFER_CLIPS} model '
        f'clips, {BUFFER_CLIPS} x frames_per_clip: 64 frames, 2.3 s at 28 fps for 16-frame '
        'clips). A live source that fills it loses whole clips, counted in the summary',
    )
    parser.add_argument('--device', default='cpu', help='torch device')
    parser.add_argument(
        '--chunk-frames',
        type=int,
        default=None,
        help='most frames the model takes per step (a live source: those that have arrived); '
        'default: 8 clips (8 x frames_per_clip), which run as one forward; one clip with '
        '--show or --out-video, whose overlay is drawn per step',
    )
    parser.add_argument(
        '--video-id',
        default=None,
        help='id in the CSV (default: a file stem without _color, e.g. Sample0037 for '
        'Sample0037_color.mp4, as in the submission CSV of tools/test.py; camera0, stdin, '
        "or a URL's last path part)",
    )
    add_score_thr_argument(parser)
    parser.add_argument(
        '--allow-partial',
        action='store_true',
        help='video files: keep going (with a warning) when fewer frames decode than the '
        'file declares',
    )
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch CPU threads (1 is often fastest on a busy machine)',
    )
    args, extra = parser.parse_known_args(argv)
    if extra:
        if args.show and any(e.lower().endswith('.png') for e in extra):
            parser.error(
                f'unrecognized arguments: {" ".join(extra)} (--show now opens a live window; '
                'write the timeline picture with --timeline PNG)'
            )
        parser.error(f'unrecognized arguments: {" ".join(extra)}')
    return args


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


def video_id_from_path(path: str) -> str:
    """``.../Sample0037_color.mp4`` -> ``Sample0037``: the id the SMG start kit uses."""
    stem = osp.splitext(osp.basename(path))[0]
    return stem[: -len('_color')] if stem.endswith('_color') else stem


def check_args(args: argparse.Namespace) -> str:
    """Refuse option combinations that cannot work; return the source's kind."""
    if args.ann and not args.timeline:
        raise UserInputError('--ann only feeds the timeline: give --timeline PNG as well')
    kind = check_source_options(args.source, input_size=args.input_size, input_fps=args.input_fps)
    if args.allow_partial and kind != 'file':
        raise UserInputError(
            f'--allow-partial is for video files; {args.source} is taken for '
            f'{dict(camera="a camera", url="a URL stream", stdin="stdin")[kind]}, which has '
            'no declared length'
        )
    for flag, value, low in (
        ('--chunk-frames', args.chunk_frames, 1),
        ('--buffer-frames', args.buffer_frames, 1),
        ('--threads', args.threads, 1),
    ):
        if value is not None and value < low:
            raise UserInputError(f'{flag} must be >= {low}, got {value}')
    return kind


def describe(source: FrameSource) -> str:
    """One line saying what is read and how."""
    what = dict(file='file', camera='', url='URL stream', stdin='raw rgb24 frames on')[source.kind]
    parts = []
    if source.num_frames:
        parts.append(f'{source.num_frames} frames')
    parts.append(f'{source.fps:g} fps' if source.fps else f'fps unknown, {DEFAULT_FPS:g} taken')
    if source.kind == 'stdin':
        parts.insert(0, f'{source.width}x{source.height}')
    if source.kind == 'file':
        parts.append('paced in real time' if source.is_live else 'as fast as the model goes')
    else:
        parts.append('live')
    return f'reading {what + " " if what else ""}{source.description} ({", ".join(parts)})'


def main(argv: list[str] | None = None) -> None:
    """Run the tool: segments to ``--out`` as they come, then the summary line.

    A source that breaks mid-stream (a truncated pipe, a lost camera) ends the
    run like the end of the stream, and its error is raised after the summary.
    """
    args = parse_args(argv)
    kind = check_args(args)
    gt = read_finelabels(args.ann) if args.ann else None
    if args.threads:
        torch.set_num_threads(args.threads)
    score_thr, origin = resolve_score_thr(args.score_thr, args.checkpoint)
    print(f'score_thr={score_thr}: {origin}', flush=True)
    recognizer = init_online_recognizer(
        args.config, args.checkpoint, device=args.device, score_thr=score_thr
    )
    clip = recognizer.frames_per_clip
    buffer_frames = args.buffer_frames or BUFFER_CLIPS * clip
    # Frames that wait go through the model several clips per forward (cheaper per
    # frame, same output); a window or an annotated video is drawn per step, so
    # there one clip per step keeps the overlay current.
    drawn = args.show or args.out_video
    chunk_frames = args.chunk_frames or (clip if drawn else recognizer.max_clips_per_forward * clip)
    if buffer_frames < clip:
        raise UserInputError(
            f'--buffer-frames {buffer_frames} is below one model clip ({clip} native frames): '
            'frames are dropped in whole clips'
        )
    source = open_frame_source(
        args.source, input_size=args.input_size, input_fps=args.input_fps, realtime=args.realtime
    )
    if not source.is_live:  # a file never drops: let a whole chunk wait
        buffer_frames = max(buffer_frames, chunk_frames)
    video_id = args.video_id or (video_id_from_path(args.source) if kind == 'file' else source.name)
    fps = source.fps
    if fps is None and args.out_video:
        print(f'note: {source.description} gives no frame rate; --out-video at {DEFAULT_FPS:g}')
    print(describe(source), flush=True)

    segments: list[dict] = []
    num_read = num_dropped = 0
    stopped = source_error = None
    try:
        writer = SegmentWriter(args.out, video_id, args.out_format)
    except BaseException:
        source.close()
        raise
    view = LiveView(args.show, args.out_video, fps or DEFAULT_FPS, title=f'mmstda: {video_id}')
    progress = LiveProgress(source.num_frames)
    start = progress.start

    def emit(new: list[dict]) -> None:
        now = time.perf_counter() - start
        for segment in new:
            writer.write(segment, now)
        segments.extend(new)
        view.add_segments(new)

    try:
        with (
            GracefulInterrupt() as interrupt,
            FrameReader(source, buffer_frames=buffer_frames, drop_frames=clip) as reader,
        ):
            try:
                while not interrupt.requested:
                    try:
                        chunk = reader.get(chunk_frames)
                    except Exception as err:  # the source broke: keep what was found
                        source_error = err
                        break
                    with interrupt.step():
                        if chunk.num_dropped:
                            num_dropped += chunk.num_dropped
                            num_read += chunk.num_dropped
                            emit(recognizer.skip(chunk.num_dropped))
                        if chunk.end_of_stream:
                            break
                        num_read += len(chunk.frames)
                        emit(recognizer.process(chunk.frames))
                        rate = num_read / max(time.perf_counter() - start, 1e-9)
                        status = f'frame {num_read}  {rate:.1f} fps  dropped {num_dropped}'
                        if not view.update(chunk.frames, recognizer.ongoing(), status):
                            stopped = 'stopped from the window'
                            break
                        progress.update(
                            chunk.num_dropped + len(chunk.frames),
                            num_read,
                            len(segments),
                            num_dropped,
                        )
                if interrupt.requested and stopped is None:
                    stopped = 'interrupted (Ctrl-C)'
            except KeyboardInterrupt:
                stopped = 'interrupted (Ctrl-C)'
            with interrupt.step():
                emit(recognizer.finish())
        wall = time.perf_counter() - start
    finally:
        progress.close()
        writer.close()
        view.close()

    if stopped:
        print(f'{stopped} after {num_read} frames: the segments found so far are written')
    elif source_error is not None:
        print(f'the source failed after {num_read} frames: the segments found so far are written')
    elif kind == 'file':
        try:
            check_decoded_all(args.source, num_read, source.num_frames, args.allow_partial)
        except UserInputError as err:
            written = [p for p in (args.out, args.out_video) if p and osp.isfile(p)]
            for path in written:
                os.remove(path)
            removed = f' ({", ".join(written)} removed: incomplete)' if written else ''
            raise UserInputError(f'{err}{removed}') from None
    latencies = [s['emitted_frame'] - s['end_frame'] for s in segments]
    print(f'{len(segments)} segments in {num_read} frames -> {args.out}')
    if args.out_video:
        print(f'annotated video ({view.num_written} frames) -> {args.out_video}')
    if args.timeline:
        draw_timeline(
            args.timeline,
            [(s['label'], s['start_frame'], s['end_frame'], s['score']) for s in segments],
            recognizer.class_names,
            num_frames=num_read,
            # Start-kit labels are 1-based.
            ground_truths=None if gt is None else [(lab - 1, st, en) for lab, st, en in gt],
            title=f'{video_id}: {len(segments)} segments',
        )
        print(f'timeline -> {args.timeline}')
    print(summary_line(num_read, num_dropped, len(segments), wall, latencies), flush=True)
    if source_error is not None:
        raise source_error


if __name__ == '__main__':
    with user_errors():
        main()
