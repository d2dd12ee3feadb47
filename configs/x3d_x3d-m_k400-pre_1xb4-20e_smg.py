# MMAction2 3D-CNN baseline: X3D-M (Kinetics-400 pre-trained), fully fine-tuned,
# in the same detector, data, ASBA and metric. X3D keeps the temporal resolution.
_base_ = ['stda_vit-g-p14_videomaev2-pre_1xb4-20e_smg.py']
model = dict(
    data_preprocessor=dict(mean=[114.75, 114.75, 114.75], std=[57.38, 57.38, 57.38]),
    backbone=dict(
        _delete_=True,
        type='X3D',
        gamma_w=1,
        gamma_b=2.25,
        gamma_d=2.2,
        # mmaction2's X3D-M Kinetics-400 weights (backbone.* keys are taken).
        init_cfg=dict(
            type='Pretrained',
            checkpoint='data/weights/x3d_m_16x5x1_facebook-kinetics400-rgb.pth',
            prefix='backbone.',
        ),
    ),
    head=dict(in_channels=432),
)
optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16', optimizer=dict(lr=1e-4))
