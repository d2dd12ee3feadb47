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
        # X3D-M Kinetics-400 backbone weights. X3D loads them without renaming, so
        # keep only the ``backbone.`` keys of mmaction2's checkpoint, prefix removed.
        pretrained='data/weights/x3d_m_k400_backbone.pth',
    ),
    head=dict(in_channels=432),
)
optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16', optimizer=dict(lr=1e-4))
