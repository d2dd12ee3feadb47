import logging
import os
import os.path as osp

import pytest
from mmengine.logging import MMLogger

from mmstda.datasets import SyntheticSMGDataset
from mmstda.datasets.synthetic_smg_dataset import ensure_synthetic_smg
from mmstda.utils.errors import UserInputError

TINY = dict(num_videos=3, frame_size=32, seed=1, workers=1)


class _Recorder(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


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


def test_a_folder_made_with_other_settings_is_not_silently_reused(tmp_path, capsys):
    """E.g. after the generator's defaults change: the config must not train on other data."""
    root = str(tmp_path / 'synthetic')
    SyntheticSMGDataset(data_root=root, generator=TINY, split='train', window_frames=8)
    harder = dict(TINY, subject_shift=0.08)
    with pytest.raises(UserInputError) as error:  # one line from the tools
        SyntheticSMGDataset(data_root=root, generator=harder, split='train', window_frames=8)
    message = str(error.value)
    assert osp.join(root, 'synthetic_smg.json') in message
    assert 'subject_shift: 0.04 on disk, 0.08 wanted' in message
    assert f'Remove {root}' in message
    # The same settings, or other rendering workers, reuse the folder.
    SyntheticSMGDataset(data_root=root, generator=dict(TINY, workers=2), split='val')


def test_without_generator_settings_a_custom_folder_is_used_with_a_warning(tmp_path):
    """generator=None reads what is there (e.g. made by make_synthetic_smg.py) but says so."""
    root = str(tmp_path / 'synthetic')
    SyntheticSMGDataset(data_root=root, generator=TINY, split='train', window_frames=8)
    logger = MMLogger.get_instance('mmstda_test_synthetic_warning')
    handler = _Recorder()
    logger.addHandler(handler)
    try:
        dataset = SyntheticSMGDataset(data_root=root, split='train', window_frames=8)
    finally:
        logger.removeHandler(handler)
    assert len(dataset) > 0
    warnings = [r.getMessage() for r in handler.records if r.levelname == 'WARNING']
    assert any("other settings than the generator's defaults" in w for w in warnings), warnings
    assert any('num_videos: 3 on disk, 12 wanted' in w for w in warnings), warnings


def _generate_in_a_process(root: str, outcome) -> None:
    try:
        ensure_synthetic_smg(root, TINY)
        outcome.put('ok')
    except Exception as error:  # reported to the parent, which asserts on it
        outcome.put(f'{type(error).__name__}: {error}')


def test_processes_asking_for_the_same_data_at_once_all_get_it_whole(tmp_path):
    # run_ablation.py --jobs 2 starts two trainings that both find the validation
    # data missing; they used to render into one .partial folder and one crashed
    # (FileNotFoundError on a finelabels CSV the other had moved away).
    import multiprocessing

    root = str(tmp_path / 'synthetic')
    context = multiprocessing.get_context('spawn')
    outcome = context.Queue()
    workers = [
        context.Process(target=_generate_in_a_process, args=(root, outcome)) for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert sorted(outcome.get(timeout=5) for _ in workers) == ['ok'] * 3
    dataset = SyntheticSMGDataset(data_root=root, generator=TINY, split='train', window_frames=8)
    assert len(dataset) > 0 and not osp.exists(root + '.partial')
