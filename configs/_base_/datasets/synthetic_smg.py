# Synthetic SMG-like data (tools/data/make_synthetic_smg.py): 64x64 frames at 28 fps,
# split ids read from the generator's synthetic_smg.json.
dataset_type = 'SyntheticSMGDataset'  # generates data_root on first use
data_root = 'data/synthetic_smg'
split_file = 'synthetic_smg.json'
window_frames = 16  # frames per window fed to the model (T)
frame_interval = 2  # native frames between window frames: a window spans 32 frames (1.1 s)
img_size = 64

train_pipeline = [
    # Half the windows centred on a gesture (rare classes favoured), 10% pure background.
    dict(type='SampleMGWindow', gesture_centred_ratio=0.5, background_ratio=0.1),
    dict(type='TemporalSpeedJitter', speed_range=(0.8, 1.25), prob=0.5),
    dict(type='CachedDecordInit'),  # each small video decoded once per worker
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='PackMGInputs'),
]
test_pipeline = [
    dict(type='SampleMGWindow'),
    dict(type='CachedDecordInit'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='PackMGInputs'),
]

_window_cfg = dict(
    type=dataset_type,
    data_root=data_root,
    split_file=split_file,
    window_frames=window_frames,
    frame_interval=frame_interval,
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
