# configs/stda_demo_scratch.py shrunk for tests: 32 px, 16-frame windows of 2 clips, a
# 1-block ViT, ASBA on. Tests point data_root at a tiny generated dataset.
_base_ = ['../../../configs/stda_demo_scratch.py']

data_root = 'data/tiny_synthetic_smg'
_window = dict(data_root=data_root, window_frames=16, frame_interval=2)
_loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_pipeline = [
    dict(type='SampleMGWindow', gesture_centred_ratio=0.5, background_ratio=0.1),
    dict(type='DecordInit'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='ASBATransform', num_classes=17),
    dict(type='PackMGInputs'),
]
test_pipeline = [
    dict(type='SampleMGWindow'),
    dict(type='DecordInit'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='PackMGInputs'),
]
train_dataloader = dict(
    **_loader, dataset=dict(**_window, windows_per_video=4, pipeline=train_pipeline)
)
val_dataloader = dict(**_loader, dataset=dict(**_window, pipeline=test_pipeline))
test_dataloader = dict(**_loader, dataset=dict(**_window, pipeline=test_pipeline))

model = dict(
    backbone=dict(img_size=32, patch_size=8, embed_dims=32, depth=1, num_heads=2, num_frames=8),
    head=dict(in_channels=32, feat_channels=32, num_layers=2),
)
custom_hooks = [dict(type='ASBAHook', interval=2)]
train_cfg = dict(max_epochs=2, val_interval=100)
default_hooks = dict(
    logger=dict(interval=1), checkpoint=dict(interval=1, save_best=None, max_keep_ckpts=-1)
)
