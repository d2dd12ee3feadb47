default_scope = 'mmaction'
custom_imports = dict(imports=['mmstda'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto', rule='greater'
    ),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'),
    # Resumed runs continue the random streams, not restart them.
    random_state=dict(type='RandomStateHook'),
    # The validation sweep's score threshold travels in checkpoint['meta'].
    operating_point=dict(type='OperatingPointHook'),
)

# torch's CPU threads for tools/train.py and tools/test.py. None: 1 on CPU unless
# OMP_NUM_THREADS is set (more threads fight the data loader's workers on small
# or shared machines); GPU runs are left alone.
cpu_threads = None

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

# Scalars (loss, F1, ASBA intensity) go to the local JSON log and to TensorBoard.
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
