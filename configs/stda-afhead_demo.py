# The demo (configs/stda_demo.py: same frozen pretrained trunk, STDA adapters, ASBA,
# data and schedule) with the challenge entries' kind of head instead of the online
# one: a multi-scale anchor-free temporal detection head (ActionFormer-style
# pyramid, focal + DIoU losses, centre sampling, Soft-NMS). It sees whole windows,
# so it is scored offline only; the online recognizer refuses it.
_base_ = ['stda_demo.py']

model = dict(
    head=dict(
        _delete_=True,
        type='AnchorFreeTADHead',
        in_channels={{_base_.embed_dims}},
        num_classes={{_base_.num_classes}},
        feat_channels=128,  # the online head's width in the demo
        # A pyramid fitted to the 64-frame window (frame_interval 2, so an input
        # frame is 2 native frames). The demo's gestures last 28-81 native frames
        # (mean 51, mmstda/datasets/synthetic_smg.py): 14-40 input frames. With
        # ActionFormer's ranges [4 s_{l-1}, 4 s_l), i.e. (0, 8), (8, 16), (16, inf),
        # a gesture of mean length gets its positives on the strides 4 and 8, the
        # shortest ones (and gestures cut by the window's edge) on stride 2 too.
        # ActionFormer's strides 1-32 do not fit: stride 1 would get only gestures
        # under 8 input frames, 16 only the longest, and 32's (64, inf) none at all.
        strides=(2, 4, 8),
        # The head checks at construction that every level can get a positive in a
        # window this long, and refuses features of another length in training.
        window_frames={{_base_.window_frames}},
        center_radius=1.5,
        # As for the online head: shorter segments cannot reach tIoU 0.3.
        test_cfg=dict(min_duration_frames=16),
    ),
)
# The validation sweep (which sets the operating point) also tries lower
# thresholds: this head's scores are focal-loss class probabilities of single
# positions, without the online head's averaging over a run of frames.
val_evaluator = dict(sweep_thresholds=[0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5])
# Rank epochs (best checkpoint, operating point) by the F1 at the best swept
# threshold: decoding keeps low-scored candidates for the sweep, so the F1 at the
# metric's default threshold 0 would rank epochs by their noise.
default_hooks = dict(
    checkpoint=dict(save_best='mg/best_f1'), operating_point=dict(metric='mg/best_f1')
)
