# Ablation: ASBA off (plain training pipeline, no difficulty hook).
_base_ = ['stda_vit-g-p14_videomaev2-pre_1xb4-20e_smg.py']
train_dataloader = dict(
    dataset=dict(
        pipeline=[s for s in _base_.train_dataloader.dataset.pipeline if s.type != 'ASBATransform']
    )
)
custom_hooks = []
