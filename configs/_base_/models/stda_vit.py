# DecoupledAdapterViT (VideoMAEv2 ViT + STDA) -> per-frame neck -> causal online TAD head.
num_classes = 17
model = dict(
    type='OnlineMGDetector',
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        # VideoMAEv2's normalisation, as in mmaction2's videomaev2 configs.
        mean=[114.75, 114.75, 114.75],
        std=[57.375, 57.375, 57.375],
        format_shape='NCTHW',
    ),
    backbone=dict(
        type='DecoupledAdapterViT',
        arch='small',
        img_size=160,
        num_frames=16,  # frames per clip: attention stays within a clip
        return_feat_map=True,
        causal=True,  # adapters see only the past: the same model streams online
        adapter_type='stda',
        stda_fusion='decoupled',  # 'cross': the linear-sum control of the ablation
        adapter_ratio=0.25,
        adapter_temporal_kernel=3,
        adapter_spatial_kernel=3,
        freeze_backbone=True,
    ),
    neck=dict(type='TemporalAlignNeck', spatial_pool='avg', align='nearest'),
    head=dict(
        type='OnlineTADHead',
        in_channels=384,
        num_classes=num_classes,
        feat_channels=256,
        num_layers=5,
        causal=True,
        loss_cls=dict(type='SigmoidFocalLoss'),
    ),
)
