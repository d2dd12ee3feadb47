import csv
import json
import os.path as osp
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from mmaction.models import ActionDataPreprocessor
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmstda.datasets import SMG_CLASSES, SMGDataset, SMGDataWarning

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SPLIT_FILE = 'synthetic_smg.json'


def _csv_rows(root: str, sample_id: int) -> np.ndarray:
    name = f'Sample{sample_id:04d}'
    with open(osp.join(root, name, f'{name}_finelabels.csv')) as f:
        return np.array([[int(v) for v in row] for row in csv.reader(f)])


def test_start_kit_layout_is_parsed(tiny_smg):
    dataset = SMGDataset(data_root=tiny_smg, split='train', split_file=SPLIT_FILE)
    assert dataset.metainfo['classes'] == SMG_CLASSES
    [video] = dataset.videos
    rows = _csv_rows(tiny_smg, 1)
    assert video['video_id'] == 'Sample0001'
    assert video['total_frames'] == 420
    assert video['fps'] == 28.0
    np.testing.assert_array_equal(video['video_gt_labels'], rows[:, 0] - 1)
    np.testing.assert_array_equal(video['video_gt_segments'], rows[:, 1:].astype(np.float32))
    assert dataset.class_counts == np.bincount(rows[:, 0] - 1, minlength=17).tolist()


def test_json_matches_start_kit(tiny_smg, tmp_path):
    out = tmp_path / 'ann.json'
    subprocess.run(
        [sys.executable, 'tools/data/smg_to_json.py', tiny_smg, str(out), '--sample-ids', '1,36'],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    with open(out) as f:
        content = json.load(f)
    assert content['metainfo']['classes'] == list(SMG_CLASSES)
    assert content['data_list'][1]['filename'] == 'Sample0036/Sample0036_color.mp4'
    from_json = SMGDataset(data_root=tiny_smg, ann_file=str(out), split=None)
    from_csv = SMGDataset(data_root=tiny_smg, sample_ids=[1, 36])
    assert [v['video_id'] for v in from_json.videos] == ['Sample0001', 'Sample0036']
    for a, b in zip(from_json.videos, from_csv.videos):
        assert a['filename'] == b['filename'] and a['total_frames'] == b['total_frames']
        np.testing.assert_array_equal(a['video_gt_segments'], b['video_gt_segments'])
        np.testing.assert_array_equal(a['video_gt_labels'], b['video_gt_labels'])
    only_test = SMGDataset(data_root=tiny_smg, ann_file=str(out), sample_ids=[36])
    assert [v['video_id'] for v in only_test.videos] == ['Sample0036']


def test_ignore_non_mg_label(tiny_smg):
    dataset = SMGDataset(data_root=tiny_smg, sample_ids=[1], ignore_labels=(17,))
    rows = _csv_rows(tiny_smg, 1)
    assert dataset.metainfo['classes'] == SMG_CLASSES[:16]
    assert len(dataset.class_counts) == 16
    assert len(dataset.videos[0]['video_gt_labels']) == int((rows[:, 0] != 17).sum())
    assert dataset.videos[0]['video_gt_labels'].max() <= 15


def test_train_windows_hold_their_segments(tiny_smg):
    dataset = SMGDataset(
        data_root=tiny_smg,
        split='train',
        split_file=SPLIT_FILE,
        window_frames=8,
        frame_interval=2,
        pipeline=[dict(type='SampleMGWindow', gesture_centred_ratio=0.3)],
    )
    # None gives ceil(420 / 16) windows per epoch for the one training video.
    assert len(dataset) == 27
    video = dataset.videos[0]
    np.random.seed(0)
    for index in range(len(dataset)):
        item = dataset[index]
        start = item['window_start_frame']
        assert 0 <= start <= 420 - 16
        np.testing.assert_array_equal(item['frame_inds'], start + 2 * np.arange(8))
        assert len(item['gt_segments']) > 0, 'training windows are never empty by default'
        expected = []
        for label, (s, e) in zip(video['video_gt_labels'], video['video_gt_segments']):
            if e > start and s < start + 16:
                expected.append((label, max(s, start) - start, min(e, start + 16) - start))
        got = [(lab, s, e) for lab, (s, e) in zip(item['gt_labels'], item['gt_segments'])]
        assert got == expected


def test_background_windows_only_when_asked(tiny_smg):
    dataset = SMGDataset(
        data_root=tiny_smg,
        split='train',
        split_file=SPLIT_FILE,
        window_frames=4,
        windows_per_video=40,
        pipeline=[dict(type='SampleMGWindow', gesture_centred_ratio=0.0, background_ratio=1.0)],
    )
    np.random.seed(1)
    assert len(dataset) == 40
    assert sum(len(dataset[i]['gt_segments']) == 0 for i in range(40)) == 40


def test_test_windows_cover_every_frame(tiny_smg):
    for split in ('val', 'test'):
        dataset = SMGDataset(
            data_root=tiny_smg,
            split=split,
            split_file=SPLIT_FILE,
            window_frames=16,
            frame_interval=3,
            test_overlap_ratio=0.25,
            test_mode=True,
            pipeline=[dict(type='SampleMGWindow')],
        )
        for video in dataset.videos:
            items = [dataset[i] for i in range(len(dataset))]
            items = [it for it in items if it['video_id'] == video['video_id']]
            covered = np.zeros(video['total_frames'], bool)
            for item in items:
                start = item['window_start_frame']
                covered[start : start + 48] = True
                assert item['frame_inds'].max() < video['total_frames']
            assert covered.all()
            starts = [item['window_start_frame'] for item in items]
            # 48-frame span, stride 36, last window aligned to the end of the video.
            assert starts == [0, 36, 72, 108, 144, 180, 216, 252, 288, 324, 360, 372]


def test_class_counts_reach_the_pipeline(tiny_smg):
    class Recorder:
        counts = None

        def set_class_counts(self, counts):
            Recorder.counts = counts

        def __call__(self, results):
            return results

    dataset = SMGDataset(data_root=tiny_smg, sample_ids=[1], pipeline=[Recorder()])
    assert Recorder.counts == dataset.class_counts
    assert sum(Recorder.counts) == len(_csv_rows(tiny_smg, 1))


def test_dataloader_from_config(tiny_smg):
    init_default_scope('mmaction')
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/_base_/datasets/synthetic_smg.py'))
    loader_cfg = cfg.train_dataloader
    loader_cfg.dataset.data_root = tiny_smg
    loader_cfg.dataset.pipeline[4].scale = (32, 32)
    loader_cfg.batch_size = 4
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    assert loader.num_workers == 2
    batch = next(iter(loader))
    preprocessor = ActionDataPreprocessor(mean=[127.5] * 3, std=[57.4] * 3, format_shape='NCTHW')
    data = preprocessor(batch, training=True)
    assert data['inputs'].shape == (4, 3, 16, 32, 32)
    assert data['inputs'].dtype == torch.float32
    for sample in data['data_samples']:
        segments = sample.gt_instances.segments
        assert segments.dtype == torch.float32 and sample.gt_instances.labels.dtype == torch.int64
        assert bool(((segments >= 0) & (segments <= 32)).all())
        assert sample.metainfo['video_id'] == 'Sample0001'
        assert sample.metainfo['window_frames'] == 16 and sample.metainfo['frame_interval'] == 2


# ----------------------------------------------------------------- bad input


def _build(root, **kwargs):
    return SMGDataset(data_root=str(root), sample_ids=[1], **kwargs)


def test_missing_video(make_sample, tmp_path):
    make_sample(tmp_path, 'Sample0001', ['1,2,10'], video=False)
    with pytest.raises(FileNotFoundError, match=r'Sample0001_color\.mp4: video file not found'):
        _build(tmp_path)


def test_unreadable_video(make_sample, tmp_path):
    make_sample(tmp_path, 'Sample0001', ['1,2,10'], video=False)
    (tmp_path / 'Sample0001' / 'Sample0001_color.mp4').write_bytes(b'not a video')
    with pytest.raises(ValueError, match=r'Sample0001_color\.mp4: cannot decode the video'):
        _build(tmp_path)


def test_missing_label_file(make_sample, tmp_path):
    make_sample(tmp_path, 'Sample0001', [])
    (tmp_path / 'Sample0001' / 'Sample0001_finelabels.csv').unlink()
    with pytest.raises(FileNotFoundError, match='Sample0001_finelabels.csv: label file not found'):
        _build(tmp_path)


@pytest.mark.parametrize(
    'row, message',
    [
        ('1,2', r'finelabels\.csv:2: expected 3 fields label,start_frame,end_frame'),
        ('1,two,10', r'finelabels\.csv:2: expected integers label,start_frame,end_frame'),
        ('18,2,10', r'finelabels\.csv:2: unknown label 18, expected 1\.\.17'),
        ('0,2,10', r'finelabels\.csv:2: unknown label 0, expected 1\.\.17'),
        ('1,30,20', r'finelabels\.csv:2: start_frame 30 > end_frame 20, expected start < end'),
        ('1,-1,10', r'finelabels\.csv:2: segment \[-1, 10\] out of range'),
        (
            '1,20,41',
            r'finelabels\.csv:2: segment \[20, 41\] out of range, expected 0 <= frame <= 40',
        ),
    ],
)
def test_bad_rows_fail_fast(make_sample, tmp_path, row, message):
    make_sample(tmp_path, 'Sample0001', ['1,2,10', row])
    with pytest.raises(ValueError, match=message):
        _build(tmp_path)


def test_skip_invalid_warns_per_item_and_counts(make_sample, tmp_path):
    make_sample(tmp_path, 'Sample0001', ['1,2,10', '18,2,10', '3,20,30', '1,30,20'])
    with pytest.warns(SMGDataWarning) as record:
        dataset = _build(tmp_path, skip_invalid=True)
    messages = [str(w.message) for w in record]
    assert sum(m.startswith('skipped: ') for m in messages) == 2
    assert any('finelabels.csv:2: unknown label 18' in m for m in messages)
    assert any('finelabels.csv:4: start_frame 30 > end_frame 20' in m for m in messages)
    assert any('skipped 2 invalid item(s)' in m for m in messages)
    np.testing.assert_array_equal(dataset.videos[0]['video_gt_labels'], [0, 2])
    assert dataset.num_skipped == 2


def test_video_shorter_than_declared_is_clipped_with_warning(make_sample, tmp_path):
    make_sample(tmp_path, 'Sample0001', ['1,2,10'], num_frames=30, declared_frames=40)
    # The declared count comes from *_data.csv, and the warning says so.
    with pytest.warns(
        SMGDataWarning,
        match=r'decodes to 30 frames but \S*Sample0001_data\.csv declares 40; clipping to the 30',
    ):
        dataset = _build(tmp_path)
    assert dataset.videos[0]['total_frames'] == 30


def test_video_shorter_than_annotations(make_sample, tmp_path):
    make_sample(tmp_path, 'Sample0001', ['1,20,35'], num_frames=30, declared_frames=40)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', SMGDataWarning)
        with pytest.raises(
            ValueError,
            match='finelabels.csv:1: video .* is shorter than its '
            'annotations: it decodes to 30 frames, expected at least end_frame 35',
        ):
            _build(tmp_path)


def test_empty_split(make_sample, tmp_path):
    make_sample(tmp_path, 'Sample0001', ['1,2,10'], video=False)
    with pytest.raises(
        ValueError,
        match=r"empty split: no valid video for split='train', "
        r'sample_ids=\[1\]',
    ):
        with pytest.warns(SMGDataWarning, match='video file not found'):
            _build(tmp_path, skip_invalid=True)
    with pytest.raises(ValueError, match='empty split'):
        SMGDataset(data_root=str(tmp_path), sample_ids=[])


def test_bad_json_entry(make_sample, tmp_path):
    make_sample(tmp_path, 'Sample0001', [])
    ann = dict(
        data_list=[
            dict(
                video_id='Sample0001',
                filename='Sample0001/Sample0001_color.mp4',
                annotations=[dict(label=1, start_frame=2, end_frame=10), dict(label=1, start=2)],
            )
        ]
    )
    (tmp_path / 'ann.json').write_text(json.dumps(ann))
    with pytest.raises(ValueError, match=r'data_list\[0\]\.annotations\[1\]: expected integer'):
        SMGDataset(data_root=str(tmp_path), ann_file='ann.json', split=None)
