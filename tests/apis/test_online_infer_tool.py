import csv
import importlib.util
import os.path as osp

import cv2
import numpy as np
import pytest

from mmstda.utils.errors import UserInputError

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

CONFIG = """
model = dict(
    type='OnlineMGDetector',
    backbone=dict(type='DecoupledAdapterViT', img_size=32, patch_size=16, embed_dims=32, depth=2,
                  num_heads=2, num_frames=4, return_feat_map=True, causal=True),
    head=dict(type='OnlineTADHead', in_channels=32, num_classes=3, feat_channels=16,
              num_layers=2,
              test_cfg=dict(score_thr=0.0, boundary_thr=1.1, min_duration_frames=1)),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[127.5] * 3, std=[58.0] * 3,
                           format_shape='NCTHW'))
test_pipeline = [dict(type='Resize', scale=(32, 32), keep_ratio=False)]
class_names = ['alpha', 'beta', 'gamma']
"""


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'online_infer', osp.join(REPO_ROOT, 'tools', 'online_infer.py')
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def video_and_config(tmp_path):
    video = str(tmp_path / 'clip.avi')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 28.0, (40, 36))
    rng = np.random.default_rng(0)
    for _ in range(10):
        writer.write(rng.integers(0, 256, (36, 40, 3), dtype=np.uint8))
    writer.release()
    config = tmp_path / 'cfg.py'
    config.write_text(CONFIG)
    return video, str(config)


def test_tool_writes_csv_and_timeline(video_and_config, tmp_path):
    video, config = video_and_config
    ann = tmp_path / 'clip_finelabels.csv'
    ann.write_text('2,1,5\n3,6,9\n')
    out, png = tmp_path / 'preds.csv', tmp_path / 'timeline.png'
    _load_tool().main([video, config, '--out', str(out), '--timeline', str(png), '--ann', str(ann)])
    with open(out, newline='') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['video_id', 'label', 'start_frame', 'end_frame', 'score']
    # score_thr 0 and no boundary splits: every class is active on all 10 frames as one
    # segment; class-agnostic NMS keeps one of them.
    assert len(rows) == 2
    video_id, label, start, end, _ = rows[1]
    assert (video_id, start, end) == ('clip', '0', '10')
    assert label in {'1', '2', '3'}
    assert cv2.imread(str(png)).shape[2] == 3


def test_bad_annotation_row_names_file_and_line(tmp_path):
    ann = tmp_path / 'bad_finelabels.csv'
    ann.write_text('1,2,3\n4,x,9\n')
    with pytest.raises(ValueError, match=r'bad_finelabels.csv:2: non-numeric field'):
        _load_tool().read_finelabels(str(ann))


@pytest.mark.parametrize(
    ('path', 'video_id'),
    [
        ('data/smg/Sample0037/Sample0037_color.mp4', 'Sample0037'),
        ('clips/Sample0001_color.avi', 'Sample0001'),
        ('my_camera.mp4', 'my_camera'),
    ],
)
def test_video_id_matches_the_submission_csv(path, video_id):
    assert _load_tool().video_id_from_path(path) == video_id


def test_tool_keeps_segments_at_the_checkpoints_operating_point(video_and_config, tmp_path):
    import torch
    from mmaction.registry import MODELS
    from mmengine.config import Config

    video, config = video_and_config
    model = MODELS.build(Config.fromfile(config).model)
    ckpt = str(tmp_path / 'best.pth')
    point = dict(score_thr=0.9, val_f1=0.4, epoch=3, metric='mg/f1')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(operating_point=point)), ckpt)
    out = tmp_path / 'preds.csv'
    # The untrained head scores about 0.01: nothing reaches the stored 0.9 ...
    _load_tool().main([video, config, ckpt, '--out', str(out)])
    assert len(out.read_text().splitlines()) == 1
    # ... and --score-thr overrides it.
    _load_tool().main([video, config, ckpt, '--out', str(out), '--score-thr', '0'])
    assert len(out.read_text().splitlines()) == 2


def test_ann_without_timeline_is_refused(video_and_config, tmp_path):
    video, config = video_and_config
    with pytest.raises(UserInputError, match='--ann only feeds the timeline: give --timeline PNG'):
        _load_tool().main([video, config, '--ann', str(tmp_path / 'a.csv')])


def test_the_old_show_png_form_points_to_timeline(video_and_config, capsys):
    video, config = video_and_config
    with pytest.raises(SystemExit) as exit_info:
        _load_tool().main([video, config, '--out', 'p.csv', '--show', 'timeline.png'])
    assert exit_info.value.code == 2
    assert 'write the timeline picture with --timeline PNG' in capsys.readouterr().err


@pytest.mark.parametrize(
    ('argv', 'message'),
    [
        (['0', '--allow-partial'], r'--allow-partial is for video files; 0 is taken for a camera'),
        (['-'], r'stdin \("-"\) needs their size: give --input-size WxH'),
        (
            ['-', '--input-size', '64x48', '--buffer-frames', '2'],
            r'--buffer-frames 2 is below one model clip \(4 native',
        ),
    ],
)
def test_live_source_options_are_checked(video_and_config, argv, message):
    _, config = video_and_config
    source, *options = argv
    with pytest.raises(UserInputError, match=message):
        _load_tool().main([source, config, *options])


def test_input_size_must_be_width_x_height(video_and_config, capsys):
    _, config = video_and_config
    with pytest.raises(SystemExit):
        _load_tool().main(['-', config, '--input-size', '640'])
    assert "expected WxH in pixels, e.g. 640x480, got '640'" in capsys.readouterr().err
