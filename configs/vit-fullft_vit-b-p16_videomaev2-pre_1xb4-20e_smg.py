# MMAction2 baseline: the stock VisionTransformer (VideoMAEv2-B distilled from
# ViT-g), fully fine-tuned, in the same detector, data, ASBA and metric.
_base_ = ['stda_vit-g-p14_videomaev2-pre_1xb4-20e_smg.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='VisionTransformer',
        img_size=160,
        patch_size=16,
        embed_dims=768,
        depth=12,
        num_heads=12,
        mlp_ratio=4,
        qkv_bias=True,
        num_frames=16,
        norm_cfg=dict(type='LN', eps=1e-6),
        return_feat_map=True,
        pretrained='data/weights/vit_b_k710_dl_from_giant.pth',  # MMAction2 format
    ),
    head=dict(in_channels=768),
)
optim_wrapper = dict(optimizer=dict(lr=1e-4))
