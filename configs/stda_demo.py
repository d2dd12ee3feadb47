# The README's main job, in the method's regime: a FROZEN, self-supervised
# pretrained tiny ViT trunk, with only the STDA adapters and the head trained, on
# synthetic SMG-like data (generated on first use), scored by F1 on the synthetic
# test split. The trunk was pretrained by masked autoencoding (VideoMAE recipe,
# configs/pretrain/videomae_vit-tiny_synthetic-unlabeled.py) on unlabeled videos
# of other subjects (generator seed 1; this data set is seed 0) and ships in
# checkpoints/. Sized for a 2-core CPU.
_base_ = [
    '_base_/models/stda_vit.py',
    '_base_/datasets/synthetic_smg.py',
    '_base_/schedules/adamw_adapter.py',
    '_base_/default_runtime.py',
]

img_size = 32  # the generator's 64 px frames at half size: the hand blob stays visible
window_frames = 64  # 4 clips of 16 frames; at frame_interval 2 a window spans 4.6 s
frame_interval = 2  # the fastest pattern (scratch, 6 frames) survives a step of 2
embed_dims = 128

model = dict(
    backbone=dict(
        arch=None,
        # The pretrained trunk's shape: 8 px patches make a 4x4 grid per frame, so
        # STDA's spatial branch sees space.
        img_size=img_size,
        patch_size=8,
        embed_dims=embed_dims,
        depth=4,
        num_heads=4,
        mlp_ratio=4.0,
        tubelet_size=2,
        # Frozen trunk: only the adapters (and the head) train.
        freeze_backbone=True,
        pretrained='checkpoints/videomae_vit-tiny_synthetic-unlabeled.pth',
    ),
    # Max pooling over the 4x4 grid. A class is *where* the hand goes plus *how* it
    # moves; each token carries its position (the trunk adds the position table),
    # and the hand's token is the one that stands out. Averaging 16 tokens dilutes
    # it into the background (test F1 ~0.2 in a probe); the maximum keeps it.
    neck=dict(spatial_pool='max'),
    head=dict(
        in_channels=embed_dims,
        feat_channels=128,
        num_layers=4,
        dropout=0.1,
        # Segments shorter than 16 native frames cannot reach tIoU 0.3 with a
        # gesture of ~51 frames.
        test_cfg=dict(min_duration_frames=16),
    ),
)

train_pipeline = [
    # The test split has the training split's long tail and micro-F1 counts every
    # gesture alike, so centred windows follow the natural class frequencies.
    dict(
        type='SampleMGWindow',
        gesture_centred_ratio=0.5,
        background_ratio=0.1,
        class_balanced=False,
    ),
    dict(type='TemporalSpeedJitter', speed_range=(0.8, 1.25), prob=0.5),
    dict(type='CachedDecordInit'),  # each small video decoded once per worker
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    # ASBA with all its families (spatial crop/translate/rotate, temporal
    # slow-down/speed warp, photometric and noise), stronger for rarer / currently
    # harder classes; ASBAHook feeds it the per-class difficulty.
    dict(type='ASBATransform', num_classes=17),
    dict(type='PackMGInputs'),
]
test_pipeline = [
    dict(type='SampleMGWindow'),
    dict(type='CachedDecordInit'),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=False),
    dict(type='PackMGInputs'),
]

# Held-out data large enough that a 0.05 difference in F1 shows. The demo's own
# data set (generator seed 0) holds 2 validation and 2 test videos, about 24
# gestures each: one seed's draw then decided the headline. Validation and test
# are instead whole data sets of their own, from generator seeds 8 and 7 with the
# demo's other settings: new subjects, never trained on, and neither is the
# pretraining data's seed 1. Each is generated on first use.
#   validation: 6 one-minute videos, 72 gestures;
#   test: 12 one-minute videos, 144 gestures (the ablation study's test set).
# sample_ids take every video of a data set, whatever split the generator gave it
# (challenge_sample_ids in mmstda/datasets/synthetic_smg.py).
demo_val_data = dict(
    data_root='data/synthetic_smg_val',
    generator=dict(seed=8, num_videos=6),
    sample_ids=[1, 2, 3, 4, 31, 36],
)
demo_test_data = dict(
    data_root='data/synthetic_smg_test',
    generator=dict(seed=7, num_videos=12),
    sample_ids=[1, 2, 3, 4, 5, 6, 7, 8, 31, 32, 36, 37],
)
_window = dict(window_frames=window_frames, frame_interval=frame_interval)
train_dataloader = dict(batch_size=8, dataset=dict(**_window, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, dataset=dict(**_window, **demo_val_data, pipeline=test_pipeline)
)
test_dataloader = dict(
    batch_size=8, dataset=dict(**_window, **demo_test_data, pipeline=test_pipeline)
)

# 14 windows per video and epoch, 8 training videos: 14 iterations per epoch.
max_epochs = 50
warmup_epochs = 2
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=0.05))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True,
    ),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - warmup_epochs,
        eta_min_ratio=0.01,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True,
    ),
]
# The sweep chooses the operating point on validation: for OnlineTADHead the
# run-opening threshold, each window decoded at every value (segment scores never
# fall below it, so filtering them would change nothing). OperatingPointHook
# stores it in the checkpoints; tools/test.py and streaming apply it (never chosen
# on the test split). Epochs are ranked by the F1 at their own operating point.
val_evaluator = dict(
    type='MicroGestureF1Metric', sweep_thresholds=[0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5]
)
test_evaluator = dict(type='MicroGestureF1Metric')
# A progress line (loss, ETA) every 5 iterations, not once per 14-iteration epoch.
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(save_best='mg/best_f1'))
# ASBAHook feeds ASBA the per-class difficulty and logs the intensity per epoch.
custom_hooks = [dict(type='ASBAHook')]
# A fixed seed and a fixed intra-op thread count make the demo's numbers
# reproducible run to run, whatever the machine's thread settings.
randomness = dict(seed=0)
cpu_threads = 1
