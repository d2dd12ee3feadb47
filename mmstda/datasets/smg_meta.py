"""Facts about the SMG benchmark shared by the dataset, the generator and the tools."""

# Label ``i`` in the start-kit CSV files (1-based) is ``SMG_CLASSES[i - 1]``.
SMG_CLASSES = (
    'turtling neck and shoulder',
    'rubbing eyes and forehead',
    'folding arms',
    'touching/covering suprasternal notch',
    'moving legs',
    'touching/scratching neck',
    'folding arms behind body',
    'rubbing hands and crossing fingers',
    'arms akimbo',
    'crossing legs',
    'scratching some part of body',
    'scratching/touching facial parts other than eyes',
    'playing/adjusting hair',
    'holding arms',
    'pulling shirt collar',
    'playing with jewelry/manipulating objects',
    'illustrative hand gestures',
)

# 1-based label of the non-MG class, which users may exclude (``ignore_labels=(17,)``).
SMG_NON_MG_LABEL = 17

# Training instances per class in SMG, largest to smallest (2,452 in all). The published
# counts are not tied to label ids; the synthetic generator assigns them in label order.
SMG_TRAIN_COUNTS = (724, 720, 249, 175, 167, 101, 63, 48, 41, 40, 39, 21, 19, 14, 11, 11, 9)

SMG_FPS = 28.0

# Challenge split (MiGA Track 2): sample ids per split.
SMG_CHALLENGE_SPLITS = dict(
    train=tuple(range(1, 31)),
    val=tuple(range(31, 36)),
    test=tuple(range(36, 41)),
)
