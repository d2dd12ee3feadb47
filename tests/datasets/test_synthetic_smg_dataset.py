import os
import os.path as osp

import pytest

from mmstda.datasets import SyntheticSMGDataset

TINY = dict(num_videos=3, frame_size=32, seed=1, workers=1)


def test_generates_on_first_use_then_reuses(tmp_path):
    root = str(tmp_path / 'synthetic')
    train = SyntheticSMGDataset(data_root=root, generator=TINY, split='train', window_frames=8)
    assert osp.isfile(osp.join(root, 'synthetic_smg.json'))
    assert not osp.exists(root + '.partial')
    assert len(train) > 0 and sum(train.class_counts) > 0
    stamp = os.stat(osp.join(root, 'synthetic_smg.json')).st_mtime_ns
    test = SyntheticSMGDataset(
        data_root=root, generator=TINY, split='test', window_frames=8, test_mode=True
    )
    assert os.stat(osp.join(root, 'synthetic_smg.json')).st_mtime_ns == stamp
    assert {info['video_id'] for info in test} == {'Sample0036'}


def test_refuses_to_overwrite_a_folder_that_is_not_a_complete_dataset(tmp_path):
    root = tmp_path / 'synthetic'
    root.mkdir()
    (root / 'notes.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='holds no synthetic_smg.json'):
        SyntheticSMGDataset(data_root=str(root), generator=TINY, split='train')
    assert (root / 'notes.txt').read_text() == 'mine'
