# The demo's model (one patch per frame) at test size: 2 epochs at a constant
# learning rate on a tiny synthetic set, enough to learn above the trivial baseline,
# with ASBA and its hook on.
_base_ = ['tiny_demo.py']

model = dict(
    backbone=dict(patch_size=32, embed_dims=64, depth=2, num_heads=4),
    head=dict(in_channels=64, feat_channels=64, num_layers=4),
)
train_dataloader = dict(batch_size=4, dataset=dict(windows_per_video=256))
param_scheduler = [dict(type='ConstantLR', factor=1.0)]
# ASBA on, as in the demo: the hook probes the model every 32 iterations
# (256 iterations per epoch) on un-augmented windows.
custom_hooks = [dict(type='ASBAHook', interval=32)]
