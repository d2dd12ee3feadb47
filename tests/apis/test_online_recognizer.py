import numpy as np
import pytest
import torch
from mmaction.registry import TRANSFORMS
from mmengine.config import Config

import mmstda  # noqa: F401  (registers the components)
from mmstda.apis import OnlineRecognizer, init_online_recognizer

CLIP = 4
NUM_CLASSES = 3


def _config(frame_interval: int = 1, adapter_causal: bool = True) -> Config:
    backbone = dict(
        type='DecoupledAdapterViT',
        img_size=32,
        patch_size=16,
        embed_dims=32,
        depth=2,
        num_heads=2,
        num_frames=CLIP,
        return_feat_map=True,
        causal=adapter_causal,
    )
    head = dict(
        type='OnlineTADHead',
        in_channels=32,
        num_classes=NUM_CLASSES,
        feat_channels=16,
        num_layers=2,
        test_cfg=dict(score_thr=0.5, boundary_thr=0.6, min_duration_frames=1, nms_iou_thr=0.3),
    )
    preprocessor = dict(
        type='ActionDataPreprocessor', mean=[127.5] * 3, std=[58.0] * 3, format_shape='NCTHW'
    )
    return Config(
        dict(
            model=dict(
                type='OnlineMGDetector',
                backbone=backbone,
                head=head,
                data_preprocessor=preprocessor,
            ),
            test_pipeline=[
                dict(type='SampleMGWindow'),
                dict(type='Resize', scale=(-1, 32)),
                dict(type='CenterCrop', crop_size=32),
                dict(type='PackMGInputs'),
            ],
            test_dataloader=dict(dataset=dict(frame_interval=frame_interval)),
            class_names=['a', 'b', 'c'],
        )
    )


def _recognizer(frame_interval: int = 1, score_thr: float | None = None) -> OnlineRecognizer:
    torch.manual_seed(0)
    recognizer = init_online_recognizer(_config(frame_interval), score_thr=score_thr)
    # Random weights give ~0.01 everywhere; wake the head up so that segments of
    # several classes come and go, and boundaries split some of them.
    head = recognizer.model.head
    with torch.no_grad():
        head.cls_out.weight.mul_(3)
        head.cls_out.bias.zero_()
        head.boundary_out.weight.mul_(3)
        head.boundary_out.bias.fill_(-2.0)
    return recognizer


def _video(num_frames: int, seed: int = 0, height: int = 40, width: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


def _stream(recognizer: OnlineRecognizer, video: np.ndarray, chunks=(1, 3, 7, 2)) -> list:
    segments, start, i = [], 0, 0
    while start < len(video):
        size = chunks[i % len(chunks)]
        segments += recognizer.process(video[start : start + size])
        start, i = start + size, i + 1
    return segments + recognizer.finish()


def _offline_inputs(recognizer: OnlineRecognizer, video: np.ndarray) -> torch.Tensor:
    """The whole video as one window, resized by mmaction's own transforms."""
    frames = list(video[:: recognizer.frame_interval])
    results = dict(imgs=frames, img_shape=frames[0].shape[:2], modality='RGB')
    for step in (dict(type='Resize', scale=(-1, 32)), dict(type='CenterCrop', crop_size=32)):
        results = TRANSFORMS.build(step)(results)
    clip = torch.from_numpy(np.stack(results['imgs'])).permute(3, 0, 1, 2)
    return recognizer.model.data_preprocessor(dict(inputs=[clip], data_samples=None))['inputs']


def _offline_segments(recognizer: OnlineRecognizer, video: np.ndarray) -> list:
    from mmaction.structures import ActionDataSample

    sample = ActionDataSample()
    sample.set_metainfo(dict(window_start_frame=0, frame_interval=recognizer.frame_interval))
    with torch.no_grad():
        (sample,) = recognizer.model(_offline_inputs(recognizer, video), [sample], mode='predict')
    pred = sample.pred_instances
    return sorted(
        (int(label), int(start), int(end), float(score))
        for (start, end), label, score in zip(
            pred.segments.tolist(), pred.labels.tolist(), pred.scores.tolist()
        )
    )


def _as_tuples(segments: list) -> list:
    return sorted((s['label'], s['start_frame'], s['end_frame'], s['score']) for s in segments)


@pytest.mark.parametrize('frame_interval', [1, 2])
def test_streaming_equals_offline_causal_model(frame_interval):
    recognizer = _recognizer(frame_interval)
    video = _video(48 * frame_interval)
    streamed = _as_tuples(_stream(recognizer, video))
    offline = _offline_segments(recognizer, video)
    assert len(offline) >= 3
    assert len({s[0] for s in offline}) >= 2
    assert [s[:3] for s in streamed] == [s[:3] for s in offline]
    np.testing.assert_allclose([s[3] for s in streamed], [s[3] for s in offline], atol=1e-4)
    assert all(s[2] % frame_interval == 0 for s in streamed)


def test_stream_scores_equal_offline_scores():
    recognizer = _recognizer()
    inputs = _offline_inputs(recognizer, _video(32))
    model = recognizer.model
    with torch.no_grad():
        cls_logits, boundary_logits = model(inputs, mode='tensor')
        state, cls_parts, bnd_parts = None, [], []
        for start in range(0, 32, CLIP):
            cls, bnd, state = model.forward_stream(inputs[:, :, start : start + CLIP], state)
            cls_parts.append(cls)
            bnd_parts.append(bnd)
    torch.testing.assert_close(torch.cat(cls_parts, -1), cls_logits.sigmoid(), atol=1e-4, rtol=0)
    torch.testing.assert_close(
        torch.cat(bnd_parts, -1), boundary_logits.sigmoid(), atol=1e-4, rtol=0
    )


def test_future_frames_do_not_change_past_output():
    video = _video(48)
    perturbed = video.copy()
    perturbed[24:] = _video(24, seed=1)
    outputs = []
    for frames in (video, perturbed):
        recognizer = _recognizer()
        outputs.append(recognizer.process(frames[:24]))
        outputs.append(_as_tuples(recognizer.process(frames[24:]) + recognizer.finish()))
    assert len(outputs[0]) >= 1
    assert outputs[0] == outputs[2]  # everything finalised before the change
    assert outputs[1] != outputs[3]  # the perturbation does reach later output


def test_state_size_stays_bounded_over_a_long_stream():
    recognizer = _recognizer()
    sizes, emitted = [], 0
    for clip in range(100):
        emitted += len(recognizer.process(_video(CLIP, seed=clip)))
        sizes.append(recognizer.state_nbytes())
    assert emitted >= 10
    assert sizes[1] > 0
    # Model state and frame buffer are constant; pending segments (64 B each) stay few.
    assert max(sizes[1:]) - min(sizes[1:]) <= 64 * 2 * NUM_CLASSES


def _offline_padded_segments(recognizer: OnlineRecognizer, video: np.ndarray) -> list:
    """Offline inference defined like the test windows: the last clip repeats its last
    frame, and only the real frames are decoded. A segment open at the end of the
    video ends at the video's last frame."""
    inputs = _offline_inputs(recognizer, video)
    num_real = inputs.size(2)
    missing = -num_real % CLIP
    inputs = torch.cat([inputs, inputs[:, :, -1:].expand(-1, -1, missing, -1, -1)], dim=2)
    with torch.no_grad():
        cls_logits, boundary_logits = recognizer.model(inputs, mode='tensor')
    cls = cls_logits[0, :, :num_real].sigmoid().T.numpy()
    bnd = boundary_logits[0, :, :num_real].sigmoid().T.numpy()
    decoder = recognizer.model.head.build_decoder(recognizer.frame_interval)
    interval = recognizer.frame_interval
    return sorted(
        (s.label, s.start * interval, min(s.end * interval, len(video)), s.score)
        for s in decoder.update(cls, bnd) + decoder.finish()
    )


@pytest.mark.parametrize(('frame_interval', 'num_frames'), [(1, 37), (1, 50), (2, 75), (2, 45)])
def test_streaming_equals_offline_for_lengths_not_a_multiple_of_the_clip(
    frame_interval, num_frames
):
    recognizer = _recognizer(frame_interval)
    video = _video(num_frames)
    streamed = _as_tuples(_stream(recognizer, video, chunks=(5, 1, 11)))
    offline = _offline_padded_segments(recognizer, video)
    assert len(offline) >= 2
    assert [s[:3] for s in streamed] == [s[:3] for s in offline]
    np.testing.assert_allclose([s[3] for s in streamed], [s[3] for s in offline], atol=1e-4)
    # Segments reach the last real frame but never past it (75 frames at interval 2:
    # the last model frame is native 74, whose step would end at 76).
    assert max(s[2] for s in streamed) <= num_frames


def test_ongoing_announces_each_gesture_before_it_is_emitted():
    recognizer = _recognizer()
    video = _video(64)
    announced, emitted = set(), []
    for start in range(0, 64, 3):
        emitted += recognizer.process(video[start : start + 3])
        ongoing = recognizer.ongoing()
        assert all(s['score'] > 0 and s['label_name'] == 'abc'[s['label']] for s in ongoing)
        announced |= {(s['label'], s['start_frame']) for s in ongoing}
    emitted += recognizer.finish()
    assert recognizer.ongoing() == []
    long_ones = [s for s in emitted if s['end_frame'] - s['start_frame'] > CLIP]
    assert long_ones
    # A gesture longer than a clip was seen in progress, with the start it ends with.
    assert all((s['label'], s['start_frame']) in announced for s in long_ones)


def test_the_operating_point_opens_runs_as_windowed_inference_does():
    # The operating point is the run-opening threshold, in streaming as in windows:
    # streamed at 0.7 equals the windowed decode with the head set to 0.7, and is not
    # the head's default (0.5) output filtered at 0.7 (runs open and split elsewhere).
    video = _video(48)
    at_default = _as_tuples(_stream(_recognizer(), video))
    recognizer = _recognizer(score_thr=0.7)
    streamed = _as_tuples(_stream(recognizer, video))
    recognizer.model.head.set_score_thr(0.7)
    offline = _offline_segments(recognizer, video)
    assert [s[:3] for s in streamed] == [s[:3] for s in offline]
    assert np.allclose([s[3] for s in streamed], [s[3] for s in offline], atol=1e-5)
    assert streamed and all(s[3] >= 0.7 for s in streamed)
    filtered = [s for s in at_default if s[3] >= 0.7]
    assert [s[:3] for s in streamed] != [s[:3] for s in filtered]


def test_init_online_recognizer_runs_at_the_checkpoints_operating_point(tmp_path):
    from mmaction.registry import MODELS

    cfg = _config()
    path = str(tmp_path / 'best.pth')
    model = MODELS.build(cfg.model)
    point = dict(score_thr=0.35, val_f1=0.5, epoch=7, metric='mg/f1')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(operating_point=point)), path)
    assert init_online_recognizer(cfg, path).score_thr == 0.35
    assert init_online_recognizer(cfg, path, score_thr=0.1).score_thr == 0.1
    # No operating point: the head's own run-opening threshold (0.5 in _config).
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    assert init_online_recognizer(cfg, path).score_thr == 0.5


def test_frames_are_buffered_until_a_clip_is_full():
    recognizer = _recognizer()
    recognizer.process(_video(CLIP - 1))
    assert recognizer._state is None  # nothing ran yet
    recognizer.process(_video(1))
    assert recognizer._state is not None


def test_segment_dicts_carry_label_names():
    segments = _stream(_recognizer(), _video(32))
    assert segments
    assert {tuple(sorted(s)) for s in segments} == {
        ('emitted_frame', 'end_frame', 'label', 'label_name', 'score', 'start_frame')
    }
    assert all(s['end_frame'] <= s['emitted_frame'] <= 32 for s in segments)
    assert all(s['label_name'] == 'abc'[s['label']] for s in segments)


def test_bad_frames_are_rejected():
    recognizer = _recognizer()
    with pytest.raises(ValueError, match=r'uint8 RGB of shape \(N, H, W, 3\), got float64'):
        recognizer.process(np.zeros((2, 32, 32, 3)))


def test_frame_size_change_mid_stream_is_rejected():
    recognizer = _recognizer()
    recognizer.process(_video(2, height=40, width=48))
    with pytest.raises(ValueError, match=r'frame size changed from \(40, 48, 3\) to \(40, 40, 3\)'):
        recognizer.process(_video(2, height=40, width=40))


def test_non_causal_backbone_is_rejected():
    with pytest.raises(ValueError, match='causal backbone'):
        init_online_recognizer(_config(adapter_causal=False))
