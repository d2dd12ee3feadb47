# The paper's setting on real SMG (configs/stda_smg.py: frozen VideoMAEv2-g + STDA,
# ASBA, 28 fps, 160 px, 64-frame windows) with the challenge entries' kind of head:
# a multi-scale anchor-free temporal detection head (ActionFormer-style pyramid,
# strides 2-16 fitted to the window, focal + DIoU losses, centre sampling radius
# 1.5, Soft-NMS sigma 0.7 with boundary voting 0.7, as in AdaTAD). Offline only:
# the online recognizer refuses it. Compare it with the online head on your
# validation split.
_base_ = ['stda_vit-g-p14_videomaev2-pre_1xb4-20e_smg.py']

model = dict(
    head=dict(
        _delete_=True,
        type='AnchorFreeTADHead',
        in_channels=1408,  # VideoMAEv2-g
        num_classes={{_base_.num_classes}},
        feat_channels=256,
        # A pyramid fitted to the 64-frame window at the native 28 fps (an input
        # frame is a native frame). SMG's gestures last 51.3 frames on average
        # (~1.8 s); inside a window they are at most 64. With ActionFormer's ranges
        # [4 s_{l-1}, 4 s_l), i.e. (0, 8), (8, 16), (16, 32), (32, inf), a gesture of
        # mean length gets its positives on the strides 8 and 16, one of 25 frames
        # on 4 and 8, one of 15 (or one cut by the window's edge) on 2 and 4.
        # ActionFormer's strides 1-32 do not fit: stride 1 would get only gestures
        # under 8 frames and 32's (64, inf) none at all.
        strides=(2, 4, 8, 16),
        # The head checks at construction that every level can get a positive in a
        # window this long, and refuses features of another length in training.
        window_frames={{_base_.window_frames}},
        center_radius=1.5,
        test_cfg=dict(min_duration_frames=8),
    ),
)
# The validation sweep (which sets the operating point) also tries low thresholds:
# this head's scores are class probabilities of single positions.
val_evaluator = dict(sweep_thresholds=[0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7])
# Rank epochs (best checkpoint, operating point) by the F1 at the best swept
# threshold: decoding keeps low-scored candidates for the sweep, so the F1 at the
# metric's default threshold 0 would rank epochs by their noise.
default_hooks = dict(
    checkpoint=dict(save_best='mg/best_f1'), operating_point=dict(metric='mg/best_f1')
)
