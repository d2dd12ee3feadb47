# The README's main job: a small STDA ViT trained from scratch on synthetic
# SMG-like data (generated on first use), scored by F1 on the synthetic test split.
# Sized for a 2-core CPU: about 10 minutes.
_base_ = [
    '_base_/models/stda_vit.py',
    '_base_/datasets/synthetic_smg.py',
    '_base_/schedules/adamw_adapter.py',
    '_base_/default_runtime.py',
]

img_size = 64
window_frames = 64  # 4 clips of 16 frames; at frame_interval 2 a window spans 4.6 s
frame_interval = 2

model = dict(
    backbone=dict(
        arch=None,
        img_size=img_size,
        patch_size=8,
        embed_dims=96,
        depth=4,
        num_heads=4,
        mlp_ratio=2.0,
        # No pretrained weights exist here: train everything from scratch.
        freeze_backbone=False,
        init_cfg=None,
    ),
    head=dict(in_channels=96, feat_channels=128, num_layers=4, dropout=0.1),
)

_window = dict(window_frames=window_frames, frame_interval=frame_interval)
train_dataloader = dict(batch_size=4, dataset=_window)
val_dataloader = dict(batch_size=4, dataset=_window)
test_dataloader = dict(batch_size=4, dataset=_window)

max_epochs = 8
train_cfg = dict(max_epochs=max_epochs, val_interval=2)
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.05))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True,
    ),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 1,
        eta_min_ratio=0.01,
        by_epoch=True,
        begin=1,
        end=max_epochs,
        convert_to_iter_based=True,
    ),
]
val_evaluator = dict(type='MicroGestureF1Metric')
test_evaluator = dict(type='MicroGestureF1Metric')
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(save_best='mg/f1'))
