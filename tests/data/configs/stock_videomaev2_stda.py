# A stock MMAction2 recipe with one component swapped for mmstda's, the way a
# user mixes the plugin into an existing config.
_base_ = 'mmaction::recognition/videomaev2/vit-small-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400.py'  # noqa: E501

custom_imports = dict(imports=['mmstda'], allow_failed_imports=False)
default_scope = 'mmaction'

model = dict(backbone=dict(type='DecoupledAdapterViT'))
