"""UnlabeledVideoDataset and InMemoryVideoClip: clips of unlabeled videos for pretraining."""

import json
import os

import cv2
import numpy as np
import pytest
from mmaction.registry import TRANSFORMS
from mmengine.dataset import Compose

from mmstda.datasets import UnlabeledVideoDataset


def write_video(path: str, num_frames: int, size: int = 32, seed: int = 0) -> None:
    """A moving bright square on a grey background (mp4, OpenCV)."""
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 28.0, (size, size))
    for t in range(num_frames):
        frame = np.full((size, size, 3), 60 + 20 * seed, np.uint8)
        x = (t + 5 * seed) % (size - 8)
        frame[8:16, x : x + 8] = 230
        writer.write(frame)
    writer.release()


@pytest.fixture(scope='module')
def video_folder(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('unlabeled')
    (root / 'cam_b').mkdir()
    write_video(str(root / 'a.mp4'), num_frames=40, size=32, seed=0)
    write_video(str(root / 'cam_b' / 'b.MP4'), num_frames=40, size=32, seed=1)
    (root / 'notes.txt').write_text('not a video')
    return str(root)


def test_folder_mode_lists_every_video_recursively_and_repeats_it(video_folder):
    dataset = UnlabeledVideoDataset(data_root=video_folder, clips_per_video=3)
    assert dataset.videos == ['a.mp4', os.path.join('cam_b', 'b.MP4')]
    assert len(dataset) == 6
    item = dataset.get_data_info(5)
    assert item['filename'] == os.path.join(video_folder, 'cam_b', 'b.MP4')
    assert 'label' not in item


def test_folder_without_videos_is_a_clear_error(tmp_path):
    (tmp_path / 'clip.gif').write_bytes(b'GIF89a')
    with pytest.raises(ValueError, match=r'no video file ending with .*extensions='):
        UnlabeledVideoDataset(data_root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match='missing_dir'):
        UnlabeledVideoDataset(data_root=str(tmp_path / 'missing_dir'))


def test_smg_split_mode_reads_no_labels_and_names_a_missing_video(tmp_path):
    for sample in ('Sample0001', 'Sample0002'):
        (tmp_path / sample).mkdir()
        write_video(str(tmp_path / sample / f'{sample}_color.mp4'), num_frames=20)
    (tmp_path / 'splits.json').write_text(json.dumps({'splits': {'train': [1, 2], 'val': [3]}}))
    dataset = UnlabeledVideoDataset(
        data_root=str(tmp_path), split='train', split_file='splits.json'
    )
    assert dataset.videos == ['Sample0001/Sample0001_color.mp4', 'Sample0002/Sample0002_color.mp4']
    with pytest.raises(FileNotFoundError, match=r'Sample0003_color.mp4.*sample 3'):
        UnlabeledVideoDataset(data_root=str(tmp_path), split='val', split_file='splits.json')


def test_in_memory_clip_gives_the_frames_the_decord_pipeline_gives(video_folder):
    path = os.path.join(video_folder, 'a.mp4')
    memory = TRANSFORMS.build(
        dict(type='InMemoryVideoClip', clip_len=8, frame_interval=2, scale=(16, 16))
    )
    np.random.seed(0)
    clip = memory(dict(filename=path, start_index=0, modality='RGB'))
    assert len(clip['imgs']) == 8 and clip['imgs'][0].shape == (16, 16, 3)
    assert np.all(np.diff(clip['frame_inds']) == 2) and clip['frame_inds'][-1] < 40
    decord = Compose(
        [
            TRANSFORMS.build(dict(type='DecordInit')),
            TRANSFORMS.build(dict(type='DecordDecode')),
            TRANSFORMS.build(dict(type='Resize', scale=(16, 16), keep_ratio=False)),
        ]
    )
    reference = decord(dict(filename=path, frame_inds=clip['frame_inds'].copy(), modality='RGB'))
    np.testing.assert_array_equal(np.stack(clip['imgs']), np.stack(reference['imgs']))


def test_in_memory_clip_rejects_a_video_shorter_than_a_clip(video_folder):
    memory = TRANSFORMS.build(
        dict(type='InMemoryVideoClip', clip_len=16, frame_interval=4, scale=(16, 16))
    )
    with pytest.raises(ValueError, match=r'a.mp4: 40 frames, shorter than one clip'):
        memory(dict(filename=os.path.join(video_folder, 'a.mp4')))


def test_a_list_of_generators_makes_one_corpus_of_every_run(tmp_path):
    # More subjects than one generator run makes (40): one data set per seed.
    root = str(tmp_path / 'corpus')
    tiny = dict(num_videos=3, minutes=0.25, frame_size=32, mean_gesture_frames=12)
    settings = [dict(tiny, seed=s, fidgets_per_minute=8) for s in (101, 102)]
    dataset = UnlabeledVideoDataset(data_root=root, generator=settings, clips_per_video=2)
    folders = sorted({video.split(os.sep)[0] for video in dataset.videos})
    assert folders == ['seed101', 'seed102']
    assert len(dataset.videos) == 6 and len(dataset) == 12
    with open(os.path.join(root, 'seed102', 'synthetic_smg.json')) as f:
        assert json.load(f)['config']['seed'] == 102


def test_a_list_of_generators_needs_a_distinct_seed_each(tmp_path):
    with pytest.raises(ValueError, match=r'distinct seed in each entry .* got seeds \[1, 1\]'):
        UnlabeledVideoDataset(
            data_root=str(tmp_path), generator=[dict(seed=1), dict(seed=1, num_videos=3)]
        )
