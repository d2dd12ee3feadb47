# ViT-g across several GPUs with PyTorch FSDP through mmengine's FlexibleRunner:
#   bash tools/dist_train.sh configs/stda_smg_fsdp.py 8
# Each transformer block (about 25M parameters in ViT-g) becomes one FSDP unit;
# parameters are sharded, compute runs in bf16, gradients are reduced in fp32.
# use_orig_params=True is needed because frozen and trainable parameters share units.
_base_ = ['stda_vit-g-p14_videomaev2-pre_1xb4-20e_smg.py']

runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(
        auto_wrap_policy=dict(
            type='torch.distributed.fsdp.wrap.size_based_auto_wrap_policy',
            min_num_params=10_000_000,
        ),
        use_orig_params=True,
        mixed_precision=dict(
            param_dtype='bfloat16', reduce_dtype='float32', buffer_dtype='float32'
        ),
    ),
    state_dict_cfg='full',  # a single, ordinary checkpoint that tools/test.py loads
)
# FSDP's mixed precision replaces AMP; keep the adapter-only optimizer.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.05),
    clip_grad=dict(max_norm=5, norm_type=2),
)
