# Ablation: no adapter, frozen backbone; only the TAD head trains (a linear-probe-style baseline).
_base_ = ['stda_vit-g-p14_videomaev2-pre_1xb4-20e_smg.py']
model = dict(backbone=dict(adapter_type=None))
