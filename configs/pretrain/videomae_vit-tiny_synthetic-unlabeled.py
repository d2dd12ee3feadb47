# VideoMAE-style self-supervised pretraining of the demo's tiny ViT trunk on
# unlabeled synthetic videos (generated on first use). The generator seed (1)
# differs from the demo's (0), so no pretraining subject appears in the demo's
# train, val or test splits. tools/export_pretrained_backbone.py then keeps the
# encoder (backbone.*, MMAction2 VisionTransformer names) for configs/stda_demo.py.
#
# For your own unlabeled videos: data_root=<folder of videos> and generator=None,
# e.g. --cfg-options train_dataloader.dataset.data_root=my_videos
#                   train_dataloader.dataset.generator=None
_base_ = ['../_base_/default_runtime.py']

img_size = 32  # the demo's input size
num_frames = 16
frame_interval = 2  # the demo's frame step

model = dict(
    type='VideoMAEPretrainer',
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[114.75, 114.75, 114.75],
        std=[57.375, 57.375, 57.375],
        format_shape='NCTHW',
    ),
    # The demo's trunk: a 4x4 grid of 8 px patches, tubelets of 2 frames.
    backbone=dict(
        type='DecoupledAdapterViT',
        img_size=img_size,
        patch_size=8,
        embed_dims=128,
        depth=4,
        num_heads=4,
        mlp_ratio=4.0,
        num_frames=num_frames,
        tubelet_size=2,
        adapter_type=None,
        freeze_backbone=False,
    ),
    # Tube masking keeps 2 of the 16 positions of each clip (VideoMAE hides 90%).
    mask_ratio=0.875,
    decoder_embed_dims=64,
    decoder_depth=1,
    decoder_num_heads=4,
    norm_pix_loss=True,
)

# The 12 small videos fit in memory at 32 px (60 MB): decode each once instead of
# a clip per item. For long videos use DecordInit, SampleFrames(clip_len=16,
# frame_interval=2, num_clips=1), DecordDecode and Resize instead.
train_pipeline = [
    dict(
        type='InMemoryVideoClip',
        clip_len=num_frames,
        frame_interval=frame_interval,
        scale=(img_size, img_size),
    ),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=0,  # the decoded videos live in the main process
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='UnlabeledVideoDataset',
        data_root='data/synthetic_smg_unlabeled',
        # 12 one-minute videos from another seed: other subjects than the demo's.
        # subject_shift 0.02: the shipped trunk was pretrained on this data, made
        # before the generator's default became 0.04; pinned so that this config
        # reproduces it.
        generator=dict(seed=1, subject_shift=0.02),
        clips_per_video=64,
        pipeline=train_pipeline,
    ),
)

max_iters = 2400  # about 20 minutes on a busy 2-core CPU
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1.5e-3, betas=(0.9, 0.95), weight_decay=0.05),
    clip_grad=dict(max_norm=1.0),
)
warmup_iters = 200
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup_iters),
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters - warmup_iters,
        eta_min_ratio=0.01,
        by_epoch=False,
        begin=warmup_iters,
        end=max_iters,
    ),
]

default_hooks = dict(
    logger=dict(interval=50),
    # Iteration checkpoints: an interrupted run continues with --resume.
    checkpoint=dict(by_epoch=False, interval=500, max_keep_ckpts=2, save_best=None),
)
log_processor = dict(window_size=50, by_epoch=False)
randomness = dict(seed=0)
