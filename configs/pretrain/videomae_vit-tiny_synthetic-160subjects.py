# The study's trunk (issue: the method's real regime): the demo's tiny ViT,
# pretrained by masked autoencoding on far more unlabeled video than any labelled
# split holds. 160 half-minute videos of 160 subjects (4 generator runs of 40,
# seeds 101-104; no labelled split uses a seed above 99), 80 minutes of video,
# against 10-16 subjects in a labelled training split. Same recipe as
# videomae_vit-tiny_synthetic-unlabeled.py (12 videos), run longer.
#
#   python tools/train.py configs/pretrain/videomae_vit-tiny_synthetic-160subjects.py
#   python tools/export_pretrained_backbone.py \
#       work_dirs/videomae_vit-tiny_synthetic-160subjects/iter_12000.pth \
#       checkpoints/videomae_vit-tiny_synthetic-160subjects.pth
#
# Interrupted runs continue with --resume (an iteration checkpoint every 500).
_base_ = ['./videomae_vit-tiny_synthetic-unlabeled.py']

pretrain_seeds = (101, 102, 103, 104)
train_dataloader = dict(
    dataset=dict(
        data_root='data/synthetic_smg_unlabeled_160',
        # generator=list: one data set per entry, in data_root/seed<seed>.
        generator=[dict(seed=s, num_videos=40, minutes=0.5, workers=2) for s in pretrain_seeds],
        # 16 clips per video and epoch: 2560 clips, 80 iterations of 32.
        clips_per_video=16,
    ),
)

max_iters = 12000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters + 1)
warmup_iters = 400
# The base's warm-up and cosine decay, stretched to this run's iterations.
_warmup, _cosine = _base_.param_scheduler
param_scheduler = [
    dict(_warmup, end=warmup_iters),
    dict(_cosine, T_max=max_iters - warmup_iters, begin=warmup_iters, end=max_iters),
]
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(by_epoch=False, interval=500, max_keep_ckpts=2, save_best=None),
)
