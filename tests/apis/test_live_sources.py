"""Live recognition from files, URL streams, stdin and paced files, as a user runs it.

The model is crafted so that the expected segments are known: its backbone is a
1x1x1 convolution giving each frame's mean brightness (+b and -b, after the
(x - 127.5) / 58 normalisation), the head passes them through unchanged (the
temporal blocks' last layers are zero) and its LayerNorm turns ``(b, -b, 0, ...)``
into ``(2 sign(b), -2 sign(b), 0, ...)``, so class 0 ('bright') scores
sigmoid(+-8): 0.9997 on bright frames (grey 200) and 0.0003 on dark ones (grey 50).
The other classes and the boundaries stay at sigmoid(-8). The test video is dark
with two bright stretches, so the segments are exactly those stretches, and each
ends mid-video: a tool writing rows only at the end fails the timing checks.
"""

import csv
import io
import json
import os
import os.path as osp
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from test_online_infer_tool import _load_tool

from mmstda.apis import (
    FrameReader,
    FrameSource,
    init_online_recognizer,
    open_frame_source,
    source_kind,
)
from mmstda.models.detectors.online_mg_detector import OnlineMGDetector
from mmstda.utils import UserInputError

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

BRIGHT_CONFIG = """
model = dict(
    type='OnlineMGDetector',
    backbone=dict(type='Conv3d', in_channels=3, out_channels=2, kernel_size=1),
    clip_frames=4,
    head=dict(type='OnlineTADHead', in_channels=2, num_classes=3, feat_channels=8, num_layers=1,
              test_cfg=dict(score_thr=0.5, boundary_thr=1.1, min_duration_frames=1,
                            nms_iou_thr=0.5)),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[127.5] * 3, std=[58.0] * 3,
                           format_shape='NCTHW'))
class_names = ['bright', 'unused_1', 'unused_2']
"""
FPS = 28.0
NUM_FRAMES = 140  # 5 s
SHORT_FRAMES = 84  # 3 s, for the in-process runs paced in real time
SIZE = 64
BRIGHT = [(8, 16), (56, 70)]  # [start, end) native frames
# The rows the tool must write: 1-based label, start_frame, end_frame.
EXPECTED = [('1', 8, 16), ('1', 56, 70)]
# Wall-clock slack on top of the latency bound: the tool's first forward, the hand-offs
# between its reader thread and the model, this test's 10 ms polling, and scheduling on
# a loaded 2-core machine (a background job may hold both cores for a few hundred ms).
# The first segment is due (16 + 13) / 28 + 1.5 = 2.5 s in, the second at 4.7 s: a tool
# that wrote the rows when the 5 s stream ends misses both.
SLACK_S = 1.5
# A row may appear before ``end_frame / FPS`` by this much: ffmpeg hands out the first
# frames of a paced stream up to ~0.3 s ahead of their time (its encoder's and muxer's
# lead), and the stream clock here starts when the tool says it is reading.
EARLY_S = 0.5


def _write_bright_video(path: str, num_frames: int = NUM_FRAMES) -> None:
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), FPS, (SIZE, SIZE))
    for i in range(num_frames):
        grey = 200 if any(a <= i < b for a, b in BRIGHT) else 50
        writer.write(np.full((SIZE, SIZE, 3), grey, np.uint8))
    writer.release()


def _bright_checkpoint(config: str, path: str) -> None:
    model = MODELS.build(Config.fromfile(config).model)
    with torch.no_grad():
        for param in model.parameters():
            param.zero_()
        model.backbone.weight[0] = 1 / 3  # mean brightness ...
        model.backbone.weight[1] = -1 / 3  # ... and its negative
        head = model.head
        head.input_proj.weight[0, 0, 0] = 1
        head.input_proj.weight[1, 1, 0] = 1
        head.out_norm.weight.fill_(1)
        for block in head.blocks:
            block.norm.weight.fill_(1)  # its output layer is zero: the block is the identity
        head.cls_out.weight[0, 0, 0] = 4
        head.cls_out.bias[1:] = -8
        head.boundary_out.bias.fill_(-8)
    torch.save(dict(state_dict=model.state_dict()), path)


@pytest.fixture(scope='module')
def bright(tmp_path_factory):
    root = tmp_path_factory.mktemp('bright')
    video, config, ckpt = str(root / 'bright.mp4'), str(root / 'bright.py'), str(root / 'b.pth')
    _write_bright_video(video)
    short_video = str(root / 'short.mp4')  # 3 s, both bright stretches
    _write_bright_video(short_video, SHORT_FRAMES)
    with open(config, 'w') as f:
        f.write(BRIGHT_CONFIG)
    _bright_checkpoint(config, ckpt)
    recognizer = init_online_recognizer(config, ckpt)
    assert recognizer.frames_per_clip == 4
    return dict(
        video=video, short_video=short_video, config=config, ckpt=ckpt, recognizer=recognizer
    )


def _csv_rows(path) -> list[tuple[str, int, int]]:
    with open(path, newline='') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['video_id', 'label', 'start_frame', 'end_frame', 'score']
    return [(label, int(start), int(end)) for _, label, start, end, _ in rows[1:]]


# ---------------------------------------------------------------- the tool, live
class _LiveRun:
    """The tool as a subprocess, with the time each stdout line and each --out row appeared."""

    def __init__(self, args: list[str], out: str, stdin=None) -> None:
        env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
        self.out = out
        self.lines: list[tuple[float, str]] = []
        self.rows: list[tuple[float, str]] = []
        self.proc = subprocess.Popen(
            [sys.executable, 'tools/online_infer.py', *args, '--out', out, '--threads', '1'],
            cwd=REPO_ROOT,
            env=env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr = ''
        self.on_exit = None  # called once the tool has ended (stops its feeder or server)
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
            threading.Thread(target=self._poll_out, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            self.lines.append((time.perf_counter(), line.rstrip('\n')))

    def _read_stderr(self) -> None:
        self.stderr = self.proc.stderr.read()

    def _poll_out(self) -> None:
        seen = 0
        while True:
            finished = self.proc.poll() is not None
            if osp.isfile(self.out):
                with open(self.out) as f:
                    complete = f.read().split('\n')[:-1]  # flushed whole lines only
                now = time.perf_counter()
                self.rows += [(now, line) for line in complete[seen:]]
                seen = len(complete)
            if finished:
                return
            time.sleep(0.01)

    def wait_for_line(self, prefix: str, timeout: float = 60.0) -> float:
        """When a stdout line starting with ``prefix`` appeared."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            for seen_at, line in self.lines:
                if line.startswith(prefix):
                    return seen_at
            if self.proc.poll() is not None and not self._threads[0].is_alive():
                break
            time.sleep(0.005)
        self.kill()
        raise AssertionError(f'no {prefix!r} line; stdout {self.lines}, stderr {self.stderr}')

    def wait(self, timeout: float = 60.0) -> int:
        try:
            code = self.proc.wait(timeout)
        finally:
            self.kill()
            for thread in self._threads:
                thread.join(5)
            if self.on_exit is not None:
                self.on_exit()
                self.on_exit = None
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    @property
    def stdout(self) -> str:
        return '\n'.join(line for _, line in self.lines)


def _check_rows_in_time(run: _LiveRun, stream_start: float, recognizer, jsonl=False) -> None:
    """The expected segments, each written within its latency bound of its end."""
    if jsonl:
        records = [(t, json.loads(line)) for t, line in run.rows]
        rows = [(t, (str(r['label']), r['start_frame'], r['end_frame'])) for t, r in records]
    else:
        assert run.rows and run.rows[0][1] == 'video_id,label,start_frame,end_frame,score'
        rows = [(t, tuple(line.split(',')[1:4])) for t, line in run.rows[1:]]
        rows = [(t, (label, int(start), int(end))) for t, (label, start, end) in rows]
    assert [row for _, row in rows] == EXPECTED, (run.stdout, run.stderr[-3000:])
    # The check can fail: a tool writing its rows when the stream ends misses the first.
    first_due = (16 + recognizer.latency_bound_frames(8)) / FPS + SLACK_S
    assert first_due < NUM_FRAMES / FPS - 1.0
    for appeared_at, (_, start, end) in rows:
        bound = recognizer.latency_bound_frames(end - start)
        since_start = appeared_at - stream_start
        due = (end + bound) / FPS
        assert since_start <= due + SLACK_S, (
            f'segment {start}-{end} written {since_start:.2f} s into the stream, due by '
            f'{due:.2f} s + {SLACK_S} s slack'
        )
        # Not before the stream got there: the source really is paced in real time.
        assert since_start >= end / FPS - EARLY_S, (start, end, since_start)


def _ffmpeg() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()  # requirements/tests.txt


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    """Wait until a socket listens on ``port`` (without connecting: ffmpeg serves one client)."""
    if not osp.isfile('/proc/net/tcp'):
        time.sleep(1.0)
        return
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        with open('/proc/net/tcp') as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1].endswith(f':{port:04X}') and fields[3] == '0A':  # LISTEN
                    return
        time.sleep(0.02)
    raise AssertionError(f'ffmpeg is not listening on port {port}')


def _http_run(bright, root) -> dict:
    """A generated video served over HTTP by ffmpeg on loopback, read by the tool."""
    port = _free_port()
    url = f'http://127.0.0.1:{port}'
    server = subprocess.Popen(
        [_ffmpeg(), '-hide_banner', '-loglevel', 'error', '-re', '-i', bright['video']]
        + ['-c:v', 'mpeg4', '-g', '14', '-f', 'mpegts', '-listen', '1', url],
        stdin=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port)
        run = _LiveRun([url, bright['config'], bright['ckpt']], str(root / 'http.csv'))
    except BaseException:
        server.kill()
        raise

    def stream() -> float:
        try:
            return run.wait_for_line('reading URL stream')  # connected by then
        finally:
            run.on_exit = lambda: (server.kill(), server.wait())

    return dict(run=run, stream=stream, url=url, port=port)


def _stdin_run(bright, root) -> dict:
    """The same video decoded by ffmpeg at its pace and piped to the tool as raw rgb24."""
    read_end, write_end = os.pipe()
    args = ['-', bright['config'], bright['ckpt'], '--input-size', '64x64', '--input-fps', '28']
    try:
        run = _LiveRun(args, str(root / 'stdin.csv'), stdin=read_end)
    finally:
        os.close(read_end)

    def stream() -> float:
        try:
            run.wait_for_line('reading raw rgb24 frames on stdin')
            # The stream starts when ffmpeg does (it paces from its start).
            started = time.perf_counter()
            feeder = subprocess.Popen(
                [_ffmpeg(), '-hide_banner', '-loglevel', 'error', '-re', '-i', bright['video']]
                + ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
                stdin=subprocess.DEVNULL,
                stdout=write_end,
            )
            run.on_exit = lambda: (feeder.kill(), feeder.wait())
            return started
        finally:
            os.close(write_end)

    return dict(run=run, stream=stream)


def _realtime_run(bright, root) -> dict:
    """The video file paced at its native fps by the tool itself, JSON lines out."""
    run = _LiveRun(
        [bright['video'], bright['config'], bright['ckpt'], '--realtime'],
        str(root / 'realtime.jsonl'),
    )
    return dict(run=run, stream=lambda: run.wait_for_line('reading file'))


@pytest.fixture(scope='module')
def live_runs(bright, tmp_path_factory):
    """The three live runs at once (each is mostly the tool starting up, then 5 s of stream).

    Each stream starts only once its tool says it is reading, so they overlap in
    time but none waits on another.
    """
    root = tmp_path_factory.mktemp('live')
    runs = dict(http=_http_run(bright, root), stdin=_stdin_run(bright, root))
    runs['realtime'] = _realtime_run(bright, root)
    waiters = {}
    for name, entry in runs.items():

        def stream_and_wait(entry=entry):
            try:
                entry['stream_start'] = entry['stream']()
                entry['code'] = entry['run'].wait()
            except BaseException as err:  # reported by the test of this run
                entry['error'] = err
                entry['run'].wait(0)

        waiters[name] = threading.Thread(target=stream_and_wait, daemon=True)
        waiters[name].start()
    for thread in waiters.values():
        thread.join(120)
    return runs


def _finished(entry: dict) -> _LiveRun:
    if 'error' in entry:
        raise entry['error']
    run = entry['run']
    assert entry['code'] == 0, run.stderr[-3000:]
    return run


def test_http_stream_rows_appear_within_the_latency_bound(bright, live_runs):
    entry = live_runs['http']
    run = _finished(entry)
    _check_rows_in_time(run, entry['stream_start'], bright['recognizer'])
    assert f'reading URL stream {entry["url"]} (28 fps, live)' in run.stdout
    assert run.rows[1][1].startswith(f'127.0.0.1_{entry["port"]},1,8,16,')
    assert 'summary: 140 frames read, 0 dropped (0.0%), 2 segments' in run.stdout


def test_raw_frames_on_stdin_rows_appear_within_the_latency_bound(bright, live_runs):
    entry = live_runs['stdin']
    run = _finished(entry)
    _check_rows_in_time(run, entry['stream_start'], bright['recognizer'])
    assert 'reading raw rgb24 frames on stdin (64x64, 28 fps, live)' in run.stdout
    assert run.rows[1][1].startswith('stdin,1,8,16,')
    assert 'summary: 140 frames read, 0 dropped (0.0%), 2 segments' in run.stdout


def test_realtime_file_paced_and_jsonl_rows_within_the_latency_bound(bright, live_runs):
    entry = live_runs['realtime']
    run = _finished(entry)
    assert 'reading file' in run.stdout and 'paced in real time' in run.stdout
    _check_rows_in_time(run, entry['stream_start'], bright['recognizer'], jsonl=True)
    records = [json.loads(line) for _, line in run.rows]
    for record in records:
        assert record['video_id'] == 'bright' and record['label_name'] == 'bright'
        assert record['emitted_frame'] >= record['end_frame']
        assert record['score'] > 0.99
    # wall_time: seconds since reading started, so paced: past the segment's end.
    assert records[0]['wall_time'] >= 16 / FPS - 0.05
    assert records[1]['wall_time'] >= 70 / FPS - 0.05
    assert records[1]['wall_time'] - records[0]['wall_time'] >= (70 - 16) / FPS - 0.1


# ------------------------------------------------------------ the tool, in-process
def _slow_forward(monkeypatch, seconds_per_clip: float) -> None:
    """Make the model take ``seconds_per_clip`` per 4-frame clip."""
    forward = OnlineMGDetector.forward_stream

    def slow(self, clip, state=None):
        time.sleep(seconds_per_clip * clip.size(2) / 4)
        return forward(self, clip, state)

    monkeypatch.setattr(OnlineMGDetector, 'forward_stream', slow)


def _record_skips(monkeypatch) -> list[tuple[int, int]]:
    """(native frames seen before the gap, frames dropped) for each skip() call."""
    from mmstda.apis import OnlineRecognizer

    calls = []
    skip = OnlineRecognizer.skip

    def record(self, num_frames):
        calls.append((self.num_frames_seen, num_frames))
        return skip(self, num_frames)

    monkeypatch.setattr(OnlineRecognizer, 'skip', record)
    return calls


def _summary(text: str) -> dict:
    (line,) = [line for line in text.splitlines() if line.startswith('summary: ')]
    found = re.match(r'summary: (\d+) frames read, (\d+) dropped \([\d.]+%\), (\d+) segments', line)
    assert found, line
    return dict(zip(('read', 'dropped', 'segments'), map(int, found.groups())))


def test_a_slow_model_on_a_live_source_drops_whole_clips_on_the_source_clock(
    bright, tmp_path, monkeypatch, capsys
):
    # 0.2 s per 4-frame clip is 20 fps against the source's 28: the 8-frame buffer fills.
    _slow_forward(monkeypatch, 0.2)
    skips = _record_skips(monkeypatch)
    out = tmp_path / 'preds.csv'
    _load_tool().main(
        [bright['short_video'], bright['config'], bright['ckpt'], '--realtime']
        + ['--out', str(out), '--buffer-frames', '8']
    )
    summary = _summary(capsys.readouterr().out)
    assert summary['read'] == SHORT_FRAMES
    assert summary['dropped'] > 0
    # Whole clips: each gap is a multiple of 4 native frames and starts on a clip boundary.
    assert skips and sum(n for _, n in skips) == summary['dropped']
    for seen, dropped in skips:
        assert dropped % 4 == 0 and seen % 4 == 0, skips
    rows = _csv_rows(out)
    assert rows and summary['segments'] == len(rows)
    # On the source's clock: every segment lies inside a bright stretch, and the
    # second stretch is still found after frames were dropped before it.
    for label, start, end in rows:
        assert label == '1'
        assert any(a <= start < end <= b for a, b in BRIGHT), rows
    later = [r for r in rows if r[1] >= BRIGHT[1][0]]
    assert later and sum(n for seen, n in skips if seen < later[0][1]) > 0, (rows, skips)


def test_a_slow_model_on_a_file_waits_and_never_drops(bright, tmp_path, monkeypatch, capsys):
    _slow_forward(monkeypatch, 0.02)
    skips = _record_skips(monkeypatch)
    out = tmp_path / 'preds.csv'
    _load_tool().main(
        [bright['video'], bright['config'], bright['ckpt'], '--out', str(out)]
        + ['--buffer-frames', '4']
    )
    summary = _summary(capsys.readouterr().out)
    assert summary == dict(read=NUM_FRAMES, dropped=0, segments=2)
    assert skips == []
    assert _csv_rows(out) == EXPECTED


def test_ctrl_c_on_a_live_source_writes_what_was_found(bright, tmp_path, capsys):
    out = tmp_path / 'preds.csv'
    sent = threading.Event()

    def interrupt_after_the_first_row():
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            if out.exists() and len(out.read_text().splitlines()) >= 2:
                os.kill(os.getpid(), signal.SIGINT)
                sent.set()
                return
            time.sleep(0.01)

    # A SIGINT arriving after main() has restored the handler must not stop pytest.
    previous = signal.signal(signal.SIGINT, lambda *_: None)
    watcher = threading.Thread(target=interrupt_after_the_first_row, daemon=True)
    try:
        watcher.start()
        _load_tool().main(
            [bright['short_video'], bright['config'], bright['ckpt'], '--realtime']
            + ['--out', str(out)]
        )
        watcher.join(5)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert sent.is_set()
    printed = capsys.readouterr().out
    summary = _summary(printed)
    assert 'interrupted (Ctrl-C) after' in printed
    # Stopped soon after the first segment (due by frame 16 + 13), long before the end.
    assert 16 <= summary['read'] < BRIGHT[1][0]
    assert _csv_rows(out) == EXPECTED[:1]


def test_a_stream_cut_mid_frame_keeps_what_was_found_then_says_so(
    bright, tmp_path, monkeypatch, capsys
):
    frames = np.full((30, SIZE, SIZE, 3), 50, np.uint8)
    frames[8:16] = 200  # the first bright stretch
    data = frames.tobytes() + bytes(100)  # and the first 100 bytes of one more frame
    monkeypatch.setattr(sys, 'stdin', io.TextIOWrapper(io.BytesIO(data)))
    out = tmp_path / 'preds.csv'
    with pytest.raises(UserInputError, match=r'stdin: the stream ended 100 bytes into frame 30'):
        _load_tool().main(
            ['-', bright['config'], bright['ckpt'], '--input-size', f'{SIZE}x{SIZE}']
            + ['--out', str(out), '--buffer-frames', '64']  # all 30 fit: nothing dropped
        )
    printed = capsys.readouterr().out
    assert 'the source failed after 30 frames' in printed
    assert _summary(printed) == dict(read=30, dropped=0, segments=1)
    assert _csv_rows(out) == EXPECTED[:1]


def test_show_without_a_display_warns_and_still_writes(bright, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    out, video = tmp_path / 'preds.csv', tmp_path / 'annotated.mp4'
    _load_tool().main(
        [bright['video'], bright['config'], bright['ckpt'], '--out', str(out), '--show']
        + ['--out-video', str(video)]
    )
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith('WARNING: --show')]
    assert len(warnings) == 1 and 'no display' in warnings[0], err
    assert _csv_rows(out) == EXPECTED
    capture = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
    capture.release()
    assert len(frames) == NUM_FRAMES and frames[0].shape == (SIZE, SIZE, 3)
    # The gesture in progress is framed in its colour (label 0: blue, BGR 180,119,31)
    # while its frames play (8-15, the chunk the model scores them in); dark frames far
    # from any gesture keep their grey edge.
    edge = frames[12][SIZE // 2 - 8 : SIZE // 2 + 8, -2:].reshape(-1, 3).mean(0)
    assert edge[0] > edge[2] + 60, edge
    quiet = frames[40][SIZE // 2 - 8 : SIZE // 2 + 8, -2:].reshape(-1, 3).mean(0)
    assert np.abs(quiet - 50).max() < 20, quiet


def test_show_when_the_window_cannot_open_warns_and_goes_on(bright, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('DISPLAY', ':0')

    def no_window(*args):
        raise cv2.error('Can not open display')

    monkeypatch.setattr(cv2, 'namedWindow', no_window)
    monkeypatch.setattr(cv2, 'imshow', no_window)
    out = tmp_path / 'preds.csv'
    _load_tool().main(
        [bright['video'], bright['config'], bright['ckpt'], '--out', str(out)] + ['--show']
    )
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith('WARNING: --show')]
    assert len(warnings) == 1 and 'Can not open display' in warnings[0], err
    assert _csv_rows(out) == EXPECTED


def test_q_in_the_window_stops_and_writes_what_was_found(bright, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('DISPLAY', ':0')
    shown = []
    monkeypatch.setattr(cv2, 'namedWindow', lambda *a: None)
    monkeypatch.setattr(cv2, 'imshow', lambda title, image: shown.append(image.shape))
    monkeypatch.setattr(cv2, 'getWindowProperty', lambda *a: 1.0)
    monkeypatch.setattr(cv2, 'destroyWindow', lambda *a: None)
    # The user presses q while frame 20 is on screen.
    monkeypatch.setattr(cv2, 'waitKey', lambda delay: ord('q') if len(shown) == 21 else -1)
    out = tmp_path / 'preds.csv'
    _load_tool().main(
        [bright['video'], bright['config'], bright['ckpt'], '--out', str(out)] + ['--show']
    )
    printed = capsys.readouterr().out
    assert shown[0] == (SIZE, SIZE, 3) and len(shown) == 21
    assert 'stopped from the window after 24 frames' in printed  # the 8-frame chunk 16-23
    assert _summary(printed)['read'] == 24
    assert _csv_rows(out) == EXPECTED[:1]


# ------------------------------------------------------------------ frame sources
class _CountingSource(FrameSource):
    """Frames whose pixels carry their index (red: index % 256, green: index // 256)."""

    kind = 'fake'

    def __init__(self, num_frames: int, live: bool, fps: float = 400.0, fail_at=None):
        super().__init__('fake source', 'fake', fps, num_frames, is_live=live)
        self.total = num_frames
        self.fail_at = fail_at
        self._t0 = None

    def _read(self):
        index = self.num_frames_read
        if index == self.fail_at:
            raise RuntimeError('camera unplugged')
        if index >= self.total:
            return None
        self._t0 = self._t0 or time.perf_counter()
        delay = self._t0 + index / self.fps - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        frame = np.zeros((2, 2, 3), np.uint8)
        frame[..., 0], frame[..., 1] = index % 256, index // 256
        return frame


def _indices(frames: np.ndarray) -> list[int]:
    return [int(f[0, 0, 0]) + 256 * int(f[0, 0, 1]) for f in frames]


def _drain(reader: FrameReader, max_frames: int, seconds_per_chunk: float) -> list:
    chunks = []
    while True:
        chunk = reader.get(max_frames)
        chunks.append(chunk)
        if chunk.end_of_stream:
            return chunks
        time.sleep(seconds_per_chunk)


def test_reader_drops_whole_aligned_units_from_a_live_source_and_counts_them():
    # 400 fps against a consumer taking 4 frames per 20 ms (200 fps).
    source = _CountingSource(400, live=True)
    with FrameReader(source, buffer_frames=8, drop_frames=4) as reader:
        chunks = _drain(reader, 4, 0.02)
    kept, expected_next, gaps = [], 0, []
    for chunk in chunks[:-1]:
        indices = _indices(chunk.frames)
        assert indices == list(range(indices[0], indices[0] + len(indices)))  # consecutive
        assert indices[0] == chunk.first_frame
        # What it says was dropped is exactly the gap since the previous chunk.
        assert indices[0] - expected_next == chunk.num_dropped
        if chunk.num_dropped:
            gaps.append((expected_next, chunk.num_dropped))
        kept += indices
        expected_next = indices[-1] + 1
    tail = chunks[-1]
    assert tail.end_of_stream and tail.first_frame == 400
    assert tail.num_dropped == 400 - expected_next
    if tail.num_dropped:
        gaps.append((expected_next, tail.num_dropped))
    dropped = sum(n for _, n in gaps)
    assert gaps and dropped == reader.num_dropped and len(kept) + dropped == 400
    assert reader.num_read == 400
    for start, count in gaps:
        assert start % 4 == 0 and count % 4 == 0, gaps  # whole units, on unit boundaries
    assert source.closed


def test_reader_never_drops_from_a_file_however_slow_the_consumer():
    source = _CountingSource(60, live=False, fps=1e6)
    with FrameReader(source, buffer_frames=4, drop_frames=4) as reader:
        chunks = _drain(reader, 3, 0.005)
    assert [i for c in chunks[:-1] for i in _indices(c.frames)] == list(range(60))
    assert all(c.num_dropped == 0 for c in chunks) and reader.num_dropped == 0


def test_reader_hands_out_the_frames_then_raises_the_threads_error():
    with FrameReader(
        _CountingSource(100, live=True, fail_at=5), buffer_frames=8, drop_frames=4
    ) as reader:
        frames = []
        with pytest.raises(RuntimeError, match='camera unplugged'):
            while True:
                frames += _indices(reader.get(2).frames)
    assert frames == [0, 1, 2, 3, 4]


def test_reader_stops_its_thread_on_close_and_on_ctrl_c_in_the_consumer():
    endless = _CountingSource(10**9, live=True, fps=200.0)
    with pytest.raises(KeyboardInterrupt):
        with FrameReader(endless, buffer_frames=8, drop_frames=4) as reader:
            reader.get(4)
            raise KeyboardInterrupt
    assert endless.closed
    assert not [t for t in threading.enumerate() if t.name == 'FrameReader']


def test_reader_refuses_a_buffer_smaller_than_one_drop_unit():
    source = _CountingSource(10, live=True)
    with pytest.raises(ValueError, match=r'buffer_frames \(3\) must hold at least one drop unit'):
        FrameReader(source, buffer_frames=3, drop_frames=4)
    assert source.closed


def test_stdin_frames_and_a_trailing_partial_frame(monkeypatch):
    frames = np.arange(2 * 2 * 4 * 3, dtype=np.uint8).reshape(2, 2, 4, 3)  # 2 frames 4x2
    data = frames.tobytes() + bytes(7)
    monkeypatch.setattr(sys, 'stdin', io.TextIOWrapper(io.BytesIO(data)))
    with open_frame_source('-', input_size=(4, 2), input_fps=25) as source:
        assert (source.kind, source.name, source.fps, source.is_live) == (
            'stdin',
            'stdin',
            25,
            True,
        )
        assert source.num_frames is None
        np.testing.assert_array_equal(source.read(), frames[0])
        np.testing.assert_array_equal(source.read(), frames[1])
        with pytest.raises(
            UserInputError, match=r'stdin: the stream ended 7 bytes into frame 2 \(24 bytes per 4x2'
        ):
            source.read()


def test_stdin_needs_the_input_size():
    with pytest.raises(UserInputError, match=r'needs their size: give --input-size WxH'):
        open_frame_source('-')


@pytest.mark.parametrize(
    ('source', 'kind'),
    [
        ('0', 'camera'),
        (2, 'camera'),
        ('12', 'camera'),
        ('-', 'stdin'),
        ('rtsp://cam.local/stream1', 'url'),
        ('http://127.0.0.1:8080', 'url'),
        ('udp://@:1234', 'url'),
        ('clip0.mp4', 'file'),
        ('data/0', 'file'),
    ],
)
def test_source_kind(source, kind):
    assert source_kind(source) == kind


def test_a_missing_camera_is_a_clear_error_not_a_hang():
    began = time.perf_counter()
    with pytest.raises(UserInputError, match=r"cannot open '99' \(taken for a camera index\)"):
        open_frame_source('99')
    assert time.perf_counter() - began < 10


def test_unopenable_sources_name_themselves_and_their_kind(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r'video not found: .*nope\.mp4 \(taken for a video file'
    ):
        open_frame_source(str(tmp_path / 'nope.mp4'))
    not_video = tmp_path / 'notes.mp4'
    not_video.write_text('not a video')
    with pytest.raises(UserInputError, match=r"notes\.mp4' \(taken for a video file\)"):
        open_frame_source(str(not_video))
    url = f'http://127.0.0.1:{_free_port()}/live'  # nobody listens there
    with pytest.raises(UserInputError, match=rf"cannot open '{url}' \(taken for a URL stream\)"):
        open_frame_source(url)
    with pytest.raises(UserInputError, match=r'--input-size is for raw frames on stdin'):
        open_frame_source(str(not_video), input_size=(4, 4))


def test_a_file_source_paced_in_real_time(bright):
    with open_frame_source(bright['video'], realtime=True) as source:
        assert source.is_live and source.fps == FPS and source.num_frames == NUM_FRAMES
        began = time.perf_counter()
        frames = [source.read() for _ in range(15)]
        took = time.perf_counter() - began
    assert all(f.shape == (SIZE, SIZE, 3) and f.dtype == np.uint8 for f in frames)
    assert frames[10].mean() > 150 > frames[0].mean()  # RGB frames of the bright stretch
    assert took >= 14 / FPS - 0.01  # frame 14 is due 0.5 s after frame 0
    with open_frame_source(bright['video']) as source:
        assert not source.is_live and source.name == 'bright'
