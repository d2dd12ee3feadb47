# Adding STDA to a stock MMAction2 recipe: inherit it and swap the backbone type.
# DecoupledAdapterViT takes every VisionTransformer argument with the same meaning
# and loads the same checkpoints; with its adapters at their initial state it gives
# the same outputs, so this config scores exactly like the stock one until trained.
_base_ = 'mmaction::recognition/videomaev2/vit-base-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400.py'  # noqa: E501

custom_imports = dict(imports=['mmstda'], allow_failed_imports=False)

model = dict(backbone=dict(type='DecoupledAdapterViT'))
