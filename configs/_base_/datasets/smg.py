# SMG (MiGA challenge split: train 1-30, val 31-35, test 36-40), RGB at 28 fps.
# Point data_root at the start-kit folders, or at a copy prepared once with
# tools/data/prepare_smg.py (short side 182), which decodes much faster.
dataset_type = 'SMGDataset'
data_root = 'data/smg'
window_frames = 16  # frames per window fed to the model (T)
frame_interval = 2  # native frames between window frames: a window spans 32 frames (1.1 s)
img_size = 160
# Set to (17,) to drop the non-MG class "illustrative hand gestures"; scores are then
# not comparable with the challenge, which keeps all 17 labels.
ignore_labels = ()

train_pipeline = [
    dict(type='SampleMGWindow', gesture_centred_ratio=0.5, background_ratio=0.1),
    dict(type='TemporalSpeedJitter', speed_range=(0.8, 1.25), prob=0.5),
    dict(type='DecordInit'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 182)),
    dict(type='RandomCrop', size=img_size),
    dict(type='PackMGInputs'),
]
test_pipeline = [
    dict(type='SampleMGWindow'),
    dict(type='DecordInit'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 182)),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackMGInputs'),
]

_window_cfg = dict(
    type=dataset_type,
    data_root=data_root,
    window_frames=window_frames,
    frame_interval=frame_interval,
    ignore_labels=ignore_labels,
)

train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**_window_cfg, split='train', pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        **_window_cfg, split='val', test_overlap_ratio=0.5, test_mode=True, pipeline=test_pipeline
    ),
)
test_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        **_window_cfg, split='test', test_overlap_ratio=0.5, test_mode=True, pipeline=test_pipeline
    ),
)
