# Evaluation only: the stock VideoMAEv2 recipe with its backbone swapped for STDA.
# DecoupledAdapterViT takes every VisionTransformer argument with the same meaning
# and loads the same checkpoints; with its adapters at their initial state it gives
# the same outputs, so this config scores exactly like the stock one:
#   mim test mmaction THIS_CONFIG --checkpoint STOCK_CHECKPOINT
# The stock recipe has no training part; the *-10e_kinetics-400 configs beside this
# one add it.
_base_ = 'mmaction::recognition/videomaev2/vit-base-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400.py'  # noqa: E501

custom_imports = dict(imports=['mmstda'], allow_failed_imports=False)

model = dict(backbone=dict(type='DecoupledAdapterViT'))
