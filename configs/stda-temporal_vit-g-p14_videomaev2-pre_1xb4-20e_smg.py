# Ablation: temporal branch only (AdaTAD-like adapter; OpenTAD weights load into it).
_base_ = ['stda_vit-g-p14_videomaev2-pre_1xb4-20e_smg.py']
model = dict(backbone=dict(adapter_type='temporal'))
