# Base of the ablation study (tools/analysis/run_ablation.py): the demo, with two
# changes that every variant shares.
#
# 1. The demo's held-out data: validation on 6 videos (72 gestures) from generator
#    seed 8 and test on 12 one-minute videos of new subjects (144 gestures) from
#    seed 7 (configs/stda_demo.py). Neither is the demo's training seed (0) nor
#    the pretraining data's (1), so none of these subjects was seen in training or
#    self-supervised pretraining.
# 2. The demo's own schedule (50 epochs, 700 training steps, validated every 10).
#    Shorter schedules were measured first and failed: compressed into 12 or 18
#    epochs, the STDA model with ASBA made no detection at all on the test set
#    (its scores stayed under the threshold chosen on validation), so every
#    ASBA-on variant scored 0. The study is made cheaper instead by decoding each
#    video once (CachedDecordInit, in the demo config) and running two runs at
#    once (run_ablation.py --jobs 2); see the README's "Ablation study" for what
#    that costs against the 2-hour budget on a 2-core CPU. To shorten it anyway,
#    lower study_max_epochs here (the warm-up and cosine decay are compressed
#    into it).
_base_ = ['../stda_demo.py']

study_max_epochs = 50
study_warmup_epochs = 2  # the demo's
train_cfg = dict(max_epochs=study_max_epochs, val_interval=10)
# The demo's warm-up and cosine decay, compressed into the study's epochs.
_warmup, _cosine = _base_.param_scheduler
param_scheduler = [
    dict(_warmup, end=study_warmup_epochs),
    dict(
        _cosine,
        T_max=study_max_epochs - study_warmup_epochs,
        begin=study_warmup_epochs,
        end=study_max_epochs,
    ),
]
