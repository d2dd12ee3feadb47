"""``DecordInit`` that decodes each video once per process and keeps its frames."""

import os
import os.path as osp
from collections import OrderedDict

import numpy as np
from mmaction.datasets.transforms import DecordInit
from mmaction.registry import TRANSFORMS


class DecodedVideo:
    """A video's decoded frames, read the way ``DecordDecode`` reads a decord reader.

    ``get_batch(inds).asnumpy()`` returns a copy of the indexed frames (numpy fancy
    indexing copies), so later in-place transforms never touch the cached array.
    Indices outside the video raise an error naming the file, where numpy would
    wrap negative ones round silently.
    """

    def __init__(
        self, filename: str, frames: np.ndarray, fps: float, stamp: tuple[int, int] | None = None
    ) -> None:
        self.filename = filename
        self.frames = frames
        self.fps = fps
        # (size, mtime_ns) of the file the frames were decoded from; None where the
        # backend cannot tell (not a local file).
        self.stamp = stamp

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def nbytes(self) -> int:
        return self.frames.nbytes

    def get_avg_fps(self) -> float:
        return self.fps

    def get_batch(self, inds) -> '_Batch':
        inds = np.asarray(inds)
        if inds.size and (inds.min() < 0 or inds.max() >= len(self.frames)):
            raise IndexError(
                f'{self.filename}: frame indices must lie in [0, {len(self.frames) - 1}], '
                f'got {int(inds.min())}..{int(inds.max())}'
            )
        return _Batch(self.frames[inds.astype(np.int64)])


class _Batch:
    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def asnumpy(self) -> np.ndarray:
        return self.array


@TRANSFORMS.register_module()
class CachedDecordInit(DecordInit):
    """``DecordInit`` for small videos read many times: each is decoded only once.

    A drop-in replacement for ``DecordInit`` before mmaction's ``DecordDecode``
    (``mode='accurate'``), which then reads the frames from memory. The first
    time a process sees a video, the whole video is decoded by decord, in order;
    later windows of it are array indexing. The frames are the ones decord's
    accurate seek returns (tested equal, bit for bit).

    Why: the demo reads 64-frame windows from one-minute 64x64 videos. decord's
    accurate ``get_batch`` seeks back to a key frame and decodes forward for each
    window, about 0.1 s per window; decoding a whole video costs 0.15 s once. On a
    2-core CPU that decoding took more CPU time than the model's training step.
    mmaction2 has no such cache (its ``DecordInit`` opens and decodes per item).

    A cached video is valid only for the file it was decoded from: each read
    compares the file's ``(size, mtime_ns)`` (one ``os.stat``) with the ones at
    decoding, so a video replaced on disk (a regenerated data set, a re-encoded
    file) is decoded again instead of being served stale. Only the local-disk
    backend can be checked; with another ``io_backend`` the cache trusts the
    name.

    Memory: each process (every dataloader worker) keeps its own least recently
    used videos, up to ``max_cache_mb``: ``frames * height * width * 3`` bytes per
    video (20.6 MB for a demo video). A video bigger than the whole budget is not
    cached; it is read the usual way, window by window. Full-size SMG videos
    (1920x1080) belong to that case: use plain ``DecordInit`` there.

    Args:
        max_cache_mb (float): Decoded frames each process may keep, in MB.
            Defaults to 1024.
        **kwargs: ``DecordInit``'s ``io_backend``, ``num_threads`` and file client
            options.
    """

    def __init__(self, max_cache_mb: float = 1024, **kwargs) -> None:
        super().__init__(**kwargs)
        if max_cache_mb < 0:
            raise ValueError(f'max_cache_mb must be >= 0, got {max_cache_mb}')
        self.max_cache_bytes = int(max_cache_mb * 1024 * 1024)
        self._videos: OrderedDict[str, DecodedVideo] = OrderedDict()

    @property
    def cached_bytes(self) -> int:
        return sum(video.nbytes for video in self._videos.values())

    def _stamp(self, filename: str) -> tuple[int, int] | None:
        """``(size, mtime_ns)`` of a local file; None off disk or where it cannot be stat'ed."""
        if self.io_backend != 'disk':
            return None
        if osp.splitext(filename)[0] == filename:
            filename = filename + '.mp4'  # as DecordInit opens it
        try:
            stat = os.stat(filename)
        except OSError:
            return None  # the reader raises the error that names the file
        return stat.st_size, stat.st_mtime_ns

    def _decoded(self, filename: str):
        """The cached video, or a decord reader where it does not fit the budget.

        An entry stands for ``(path, size, mtime_ns)``: one whose file has changed
        since it was decoded is dropped and the file decoded again. The dict holds
        one entry per path, so a replaced file never keeps two versions in the
        budget.
        """
        stamp = self._stamp(filename)
        video = self._videos.get(filename)
        if video is not None:
            # Off disk there is nothing to compare: the name is all the cache has.
            if self.io_backend != 'disk' or (stamp is not None and video.stamp == stamp):
                self._videos.move_to_end(filename)
                return video
            del self._videos[filename]  # replaced (or gone) since decoding: decode again
        reader = self._get_video_reader(filename)
        frame = reader[0].asnumpy()
        if len(reader) * frame.nbytes > self.max_cache_bytes:
            return reader
        frames = reader.get_batch(list(range(len(reader)))).asnumpy()
        video = DecodedVideo(filename, frames, reader.get_avg_fps(), stamp)
        self._videos[filename] = video
        while self.cached_bytes > self.max_cache_bytes:
            self._videos.popitem(last=False)
        return video

    def transform(self, results: dict) -> dict:
        video = self._decoded(results['filename'])
        results['total_frames'] = len(video)
        results['video_reader'] = video
        results['avg_fps'] = video.get_avg_fps()
        return results

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(max_cache_mb={self.max_cache_bytes / 1024 / 1024:g}, '
            f'io_backend={self.io_backend}, num_threads={self.num_threads})'
        )
