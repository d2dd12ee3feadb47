# Ablation: class-balanced loss weights (effective number of samples, the same
# rarity code ASBA uses) instead of ASBA.
_base_ = ['stda-no-asba_vit-g-p14_videomaev2-pre_1xb4-20e_smg.py']
model = dict(head=dict(class_balanced=True))
custom_hooks = [dict(type='ClassBalanceHook')]
