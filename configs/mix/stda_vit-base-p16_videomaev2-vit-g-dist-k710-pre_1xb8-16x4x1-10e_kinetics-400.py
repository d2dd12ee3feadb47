# STDA in a stock MMAction2 recipe, trainable: the stock VideoMAEv2 ViT-Base recipe,
# its backbone swapped for DecoupledAdapterViT (frozen trunk, STDA adapters), plus a
# short adapter-only schedule on a Kinetics-format video list. Point the trunk at
# the stock recipe's checkpoint before training, e.g.
#   --cfg-options model.backbone.pretrained=CHECKPOINT
# (MMAction2, official VideoMAEv2 and OpenTAD layouts are converted on load).
_base_ = [
    'mmaction::recognition/videomaev2/vit-base-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400.py',  # noqa: E501
    '_base_/adapter-training_1xb8-16x4x1-10e_kinetics-400.py',
]

custom_imports = dict(imports=['mmstda'], allow_failed_imports=False)

model = dict(backbone=dict(type='DecoupledAdapterViT'))
