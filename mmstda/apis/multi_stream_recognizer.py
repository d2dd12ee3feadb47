"""Many live streams through one model: one batched forward per step."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from torch import Tensor

from .online_recognizer import OnlineRecognizer, init_online_recognizer


class MultiStreamRecognizer:
    """Serves N streams (cameras) with one model, batching their clips.

    Each stream keeps its own state (frame buffer, backbone cache, head state,
    decoder, clock), exactly as an :class:`OnlineRecognizer` of its own would;
    :meth:`process` takes the next frames of every stream and runs the clips
    that are complete as one batch of streams per forward, so N streams cost one
    forward per step instead of N. Each stream's output equals what a
    recognizer of its own would emit (batching changes float rounding only).

    ``recognizers[i]`` is stream ``i``'s :class:`OnlineRecognizer` (for
    ``ongoing()``, ``num_frames_seen``, ``latency_bound_frames``...); calling its
    ``process`` directly works too, unbatched.

    Args:
        recognizer (OnlineRecognizer): A recognizer whose model, transforms,
            frame interval, class names and operating point every stream shares.
            It becomes stream 0.
        num_streams (int): Number of streams N (>= 1).
    """

    def __init__(self, recognizer: OnlineRecognizer, num_streams: int) -> None:
        if isinstance(num_streams, bool) or not isinstance(num_streams, int | np.integer):
            raise TypeError(f'num_streams must be an int >= 1, got {num_streams!r}')
        if num_streams < 1:
            raise ValueError(f'num_streams must be an int >= 1, got {num_streams}')
        self.model = recognizer.model
        self.recognizers = [recognizer] + [
            OnlineRecognizer(
                recognizer.model,
                transforms=recognizer.transforms,
                frame_interval=recognizer.frame_interval,
                class_names=recognizer.class_names,
                score_thr=recognizer.score_thr,
                max_clips_per_forward=recognizer.max_clips_per_forward,
            )
            for _ in range(num_streams - 1)
        ]
        self.num_forwards = 0  # batched forwards run so far (for benchmarks)

    def __len__(self) -> int:
        return len(self.recognizers)

    def __getitem__(self, index: int) -> OnlineRecognizer:
        return self.recognizers[index]

    @torch.no_grad()
    def process(self, frames: Sequence[np.ndarray | None]) -> list[list[dict]]:
        """Feed the next frames of every stream.

        Args:
            frames (Sequence[np.ndarray | None]): One entry per stream: uint8 RGB
                ``(N_i, H_i, W_i, 3)``, or None / an empty array when that stream
                has no new frame. Streams may be at different points and get
                different numbers of frames.

        Returns:
            list[list[dict]]: Per stream, the segments finalised now, as
            :meth:`OnlineRecognizer.process` returns them.
        """
        if len(frames) != len(self.recognizers):
            raise ValueError(
                f'expected frames for {len(self.recognizers)} streams (None for a stream '
                f'without new frames), got {len(frames)}'
            )
        for recognizer, chunk in zip(self.recognizers, frames):
            if chunk is not None:
                recognizer._ingest(chunk)
        segments = [[] for _ in self.recognizers]
        while True:
            ready = [i for i, r in enumerate(self.recognizers) if len(r._clip) >= r.clip_frames]
            if not ready:
                break
            for group in self._batchable_groups(ready):
                self._run_batch(group, segments)
        results = []
        for recognizer, found in zip(self.recognizers, segments):
            recognizer._collect_frame_scores()
            results.append(recognizer._emit(found))
        return results

    def skip(self, stream: int, num_frames: int) -> list[dict]:
        """Stream ``stream`` dropped ``num_frames`` native frames (``OnlineRecognizer.skip``)."""
        return self.recognizers[stream].skip(num_frames)

    def finish(self, stream: int) -> list[dict]:
        """End stream ``stream`` (its video or camera): flush it; it restarts on new frames."""
        return self.recognizers[stream].finish()

    def _batchable_groups(self, ready: list[int]) -> list[list[int]]:
        """Streams that can share a forward: same frame size, and all with or without state.

        A stream's first clip has no state yet (the model starts it from zeros);
        it runs with the other new streams.
        """
        groups: dict[tuple, list[int]] = {}
        for i in ready:
            recognizer = self.recognizers[i]
            key = (recognizer._state is None, recognizer._clip[0].shape)
            groups.setdefault(key, []).append(i)
        return list(groups.values())

    def _run_batch(self, group: list[int], segments: list[list]) -> None:
        recognizers = [self.recognizers[i] for i in group]
        # As many clips per forward as every stream of the group has ready.
        num_clips = min(
            min(len(r._clip) // r.clip_frames for r in recognizers),
            recognizers[0].max_clips_per_forward,
        )
        inputs = torch.cat([r._take_clips(num_clips) for r in recognizers])
        states = [r._state for r in recognizers]
        state = None if states[0] is None else _stack_states(states)
        cls_scores, boundary_scores, new_state = self.model.forward_stream(inputs, state)
        self.num_forwards += 1
        num_real = num_clips * recognizers[0].clip_frames
        for k, (i, recognizer) in enumerate(zip(group, recognizers)):
            recognizer._state = _index_state(new_state, k)
            segments[i] += recognizer._decode(cls_scores[k], boundary_scores[k], num_real)


def _stack_states(states: list):
    """Per-stream states (batch 1 each) -> one state with the streams as the batch."""
    first = states[0]
    if isinstance(first, Tensor):
        return torch.cat(states)
    if isinstance(first, dict):
        return {key: _stack_states([s[key] for s in states]) for key in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_stack_states(list(parts)) for parts in zip(*states))
    if first is None:
        return None
    raise TypeError(f'cannot batch stream state of type {type(first).__name__}')


def _index_state(state, index: int):
    """Stream ``index``'s part of a batched state (batch 1, its own memory)."""
    if isinstance(state, Tensor):
        return state[index : index + 1].clone()
    if isinstance(state, dict):
        return {key: _index_state(value, index) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_index_state(value, index) for value in state)
    return state


def init_multi_stream_recognizer(
    config: str | Path | Config, checkpoint: str | None, num_streams: int, **kwargs
) -> MultiStreamRecognizer:
    """A :class:`MultiStreamRecognizer` of ``num_streams`` streams from a config and checkpoint.

    Args:
        config (str | Path | Config): Config file or object.
        checkpoint (str, optional): Checkpoint to load (None: the built weights).
        num_streams (int): Number of streams.
        **kwargs: :func:`init_online_recognizer` arguments (``device``,
            ``score_thr``...).

    Returns:
        MultiStreamRecognizer: Ready for :meth:`MultiStreamRecognizer.process`.
    """
    return MultiStreamRecognizer(init_online_recognizer(config, checkpoint, **kwargs), num_streams)
