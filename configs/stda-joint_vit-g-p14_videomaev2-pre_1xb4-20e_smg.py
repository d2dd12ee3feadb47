# Ablation: one joint depthwise (3, 3, 3) conv instead of decoupled branches (ST-Adapter-like).
_base_ = ['stda_vit-g-p14_videomaev2-pre_1xb4-20e_smg.py']
model = dict(backbone=dict(adapter_type='joint'))
