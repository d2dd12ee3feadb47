import os

import numpy as np
import pytest
from mmaction.datasets.transforms import DecordDecode, DecordInit

from mmstda.datasets.transforms import CachedDecordInit
from tests.conftest import write_video

NUM_FRAMES = 60


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp('cached_decode')
    paths = []
    for seed in range(3):
        path = str(root / f'v{seed}.mp4')
        write_video(path, num_frames=NUM_FRAMES, size=32, seed=seed)
        paths.append(path)
    return paths


def _read(init, path, inds):
    results = init(dict(filename=path, frame_inds=np.asarray(inds)))
    return DecordDecode()(results)


@pytest.mark.parametrize(
    'inds', [np.arange(0, 40, 2), np.arange(37, 60, 3), np.array([5, 5, 59, 0, 12])]
)
def test_frames_and_keys_equal_decords_accurate_seek(videos, inds):
    cached = CachedDecordInit()
    for path in videos + videos[::-1]:  # first decode, then from memory
        ours = _read(cached, path, inds)
        stock = _read(DecordInit(), path, inds)
        assert len(ours['imgs']) == len(inds)
        for a, b in zip(ours['imgs'], stock['imgs']):
            np.testing.assert_array_equal(a, b)
        for key in ('total_frames', 'avg_fps', 'original_shape', 'img_shape'):
            assert ours[key] == stock[key], key


def test_frames_handed_out_are_copies(videos):
    cached = CachedDecordInit()
    first = _read(cached, videos[0], np.arange(4))['imgs']
    expected = [img.copy() for img in first]
    for img in first:
        img[...] = 0  # an in-place transform downstream
    again = _read(cached, videos[0], np.arange(4))['imgs']
    for a, b in zip(again, expected):
        np.testing.assert_array_equal(a, b)


def test_cache_stays_within_budget_least_recently_used_first(videos):
    one_video_mb = NUM_FRAMES * 32 * 32 * 3 / 1024 / 1024
    cached = CachedDecordInit(max_cache_mb=2.5 * one_video_mb)
    for path in videos[:2]:
        _read(cached, path, [0])
    _read(cached, videos[0], [1])  # videos[1] is now the least recently used
    _read(cached, videos[2], [0])
    assert list(cached._videos) == [videos[0], videos[2]]
    assert cached.cached_bytes <= cached.max_cache_bytes


def test_video_over_budget_is_read_from_the_file(videos):
    cached = CachedDecordInit(max_cache_mb=0.01)
    stock = _read(DecordInit(), videos[1], [3, 9])
    ours = _read(cached, videos[1], [3, 9])
    assert not cached._videos
    for a, b in zip(ours['imgs'], stock['imgs']):
        np.testing.assert_array_equal(a, b)


def test_out_of_range_index_names_the_file(videos):
    cached = CachedDecordInit()
    for bad in ([NUM_FRAMES], [-1, 3]):
        with pytest.raises(IndexError, match=r'v0\.mp4: frame indices must lie in \[0, 59\]'):
            _read(cached, videos[0], bad)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothere.mp4'):
        CachedDecordInit()(dict(filename=str(tmp_path / 'nothere.mp4')))


def test_negative_budget_is_refused():
    with pytest.raises(ValueError, match='max_cache_mb'):
        CachedDecordInit(max_cache_mb=-1)


def test_a_video_replaced_on_disk_is_decoded_again(tmp_path):
    path = str(tmp_path / 'replaced.mp4')
    write_video(path, num_frames=12, size=32, seed=0)
    cached = CachedDecordInit()
    inds = np.arange(0, 12, 3)
    old = _read(cached, path, inds)['imgs']
    old_stat = os.stat(path)
    # Another video under the same name: other pixels, more frames (so another size),
    # and an mtime a second later, as a coarse-mtime file system would still show.
    write_video(path, num_frames=20, size=32, seed=1)
    os.utime(path, ns=(old_stat.st_atime_ns, old_stat.st_mtime_ns + 1_000_000_000))
    assert os.stat(path).st_size != old_stat.st_size

    new = _read(cached, path, inds)
    stock = _read(DecordInit(), path, inds)
    assert new['total_frames'] == stock['total_frames'] == 20
    for ours, theirs, stale in zip(new['imgs'], stock['imgs'], old):
        np.testing.assert_array_equal(ours, theirs)
        assert not np.array_equal(ours, stale)
    # The stale frames left the cache: one entry for the path, the new video's.
    assert list(cached._videos) == [path]
    assert len(cached._videos[path]) == 20


def test_an_unchanged_video_is_served_from_memory(videos, monkeypatch):
    cached = CachedDecordInit()
    _read(cached, videos[0], [0])

    def no_decoding(filename):
        raise AssertionError(f'{filename} decoded a second time')

    monkeypatch.setattr(cached, '_get_video_reader', no_decoding)
    assert _read(cached, videos[0], [0, 1])['total_frames'] == NUM_FRAMES
