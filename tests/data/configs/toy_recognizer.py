# A stock MMAction2 recognizer small enough to train for an epoch in seconds on
# a CPU. Tests point ``ann_file`` and ``data_prefix`` at tiny videos they write.
default_scope = 'mmaction'
custom_imports = dict(imports=['mmstda'], allow_failed_imports=False)
data_root = 'data/toy'

model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='VisionTransformer',
        img_size=32,
        patch_size=16,
        embed_dims=32,
        depth=1,
        num_heads=2,
        num_frames=4,
        norm_cfg=dict(type='LN', eps=1e-6),
    ),
    cls_head=dict(type='TimeSformerHead', num_classes=2, in_channels=32),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        format_shape='NCTHW',
    ),
)

pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=4, frame_interval=1, num_clips=1),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='VideoDataset',
        ann_file=data_root + '/ann.txt',
        data_prefix=dict(video=data_root),
        pipeline=pipeline,
    ),
)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=100)
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3))
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1),
    logger=dict(type='LoggerHook', interval=1),
)
log_level = 'INFO'
randomness = dict(seed=0)
