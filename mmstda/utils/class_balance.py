"""Class rarity from the effective number of samples (Cui et al., CVPR 2019).

One implementation serves both ASBA's augmentation intensity and the heads'
class-balanced loss weights.
"""

from collections.abc import Sequence

import numpy as np


def default_beta(class_counts: Sequence[int]) -> float:
    """``beta = (N - 1) / N`` with N the number of training instances.

    With this rule the effective number of a class saturates only at about the
    size of the whole training set, so every real class stays distinguishable.
    """
    total = int(np.sum(class_counts))
    if total < 1:
        raise ValueError(f'class_counts must hold at least one instance, got {list(class_counts)}')
    return (total - 1) / total if total > 1 else 0.0


def _check_counts(class_counts: Sequence[int]) -> np.ndarray:
    counts = np.asarray(class_counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f'class_counts must be a non-empty 1-D list, got shape {counts.shape}')
    if (counts < 0).any():
        raise ValueError(f'class_counts must be >= 0, got {counts.tolist()}')
    return counts


def effective_numbers(class_counts: Sequence[int], beta: float | None = None) -> np.ndarray:
    """E_n = (1 - beta^n) / (1 - beta) per class, shape ``(K,)``.

    A class with no training instance is treated as having one, so that its
    weight stays finite (it is as rare as anything the data can show).
    """
    counts = np.maximum(_check_counts(class_counts), 1.0)
    beta = default_beta(class_counts) if beta is None else float(beta)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f'beta must be in [0, 1), got {beta}')
    if beta == 0.0:
        return np.ones_like(counts)
    return (1.0 - np.power(beta, counts)) / (1.0 - beta)


CB_NORMALISATIONS = ('classes', 'instances')


def class_balanced_weights(
    class_counts: Sequence[int], beta: float | None = None, normalise: str = 'classes'
) -> np.ndarray:
    """Loss weights proportional to ``1 / E_n``.

    Args:
        class_counts (Sequence[int]): Training instances per class.
        beta (float, optional): beta of the effective number; None for
            :func:`default_beta`. Defaults to None.
        normalise (str): ``'classes'`` (Cui et al.): the weights sum to the
            number of classes. ``'instances'``: their mean over the training
            instances is 1 (``sum_k n_k w_k = sum_k n_k``), so the instances'
            total weight is unchanged and weight only moves between classes.
            A detection loss needs the latter: its background is not
            reweighted, and under ``'classes'`` a long tail shrinks the
            foreground's share of the loss (to 0.26 of unweighted on the
            synthetic demo's counts, where the head then detected nothing).
            Defaults to ``'classes'``.

    Returns:
        np.ndarray: ``(K,)`` weights.
    """
    if normalise not in CB_NORMALISATIONS:
        raise ValueError(f'normalise must be one of {CB_NORMALISATIONS}, got {normalise!r}')
    inv = 1.0 / effective_numbers(class_counts, beta)
    if normalise == 'classes':
        return inv * (len(inv) / inv.sum())
    counts = np.maximum(_check_counts(class_counts), 1.0)
    return inv * (counts.sum() / (counts * inv).sum())


RARITY_SCALES = ('median', 'minmax')


def class_rarity(
    class_counts: Sequence[int], beta: float | None = None, scale: str = 'median'
) -> np.ndarray:
    """Rarity in ``[0, 1]`` per class from the effective numbers ``E_k``.

    ``scale='median'`` (the default) measures each class against the median
    class, on an absolute scale:

        ``rarity_k = E_med / (E_med + E_k)``, ``E_med = median_k E_k``.

    It is 0.5 for a class as common as the median class, tends to 1 for a class
    much rarer than it and to 0 for one much more common; equivalently the
    odds ``rarity / (1 - rarity)`` are the class-balanced weight ``1 / E_k``
    relative to the median class's. No single extreme class sets the scale:
    counts ``[100, 99]`` give ``[0.499, 0.501]`` (not ``[0, 1]``), and adding
    one very common or very rare class moves the others only through the
    median (``[1000, 500, 20]`` gives ``[0.37, 0.5, 0.96]``, where min/max
    rescaling gives ``[0, 0.02, 1]``). Equally common classes all get 0.5.

    ``scale='minmax'`` (the former rule, kept for the ablation) rescales
    ``1 / E_k`` linearly between the most and the least common class: 0 for the
    most common, 1 for the rarest, all 0 when they are equally common.

    SMG's 17 training counts (``beta = (N - 1) / N``, N = 2452), and the ASBA
    intensity they give at the neutral difficulty 0.5 (``rarity_weight`` 0.5,
    intensity range [0, 1]):

    =====  ==============  ==============  ================  ================
    count  rarity minmax   rarity median   intensity minmax  intensity median
    =====  ==============  ==============  ================  ================
    724    0.000           0.061           0.250             0.280
    720    0.000           0.061           0.250             0.281
    249    0.024           0.147           0.262             0.323
    175    0.039           0.194           0.270             0.347
    167    0.042           0.201           0.271             0.351
    101    0.078           0.291           0.289             0.396
    63     0.132           0.395           0.316             0.448
    48     0.177           0.461           0.339             0.481
    41     0.210           0.500           0.355             0.500
    40     0.215           0.506           0.358             0.503
    39     0.221           0.512           0.361             0.506
    21     0.421           0.660           0.461             0.580
    19     0.467           0.682           0.484             0.591
    14     0.638           0.744           0.569             0.622
    11     0.816           0.787           0.658             0.644
    11     0.816           0.787           0.658             0.644
    9      1.000           0.819           0.750             0.660
    =====  ==============  ==============  ================  ================

    Args:
        class_counts (Sequence[int]): Training instances per class, length K.
        beta (float, optional): Effective-number beta in [0, 1); None uses
            :func:`default_beta`. Defaults to None.
        scale (str): ``'median'`` or ``'minmax'``. Defaults to 'median'.

    Returns:
        np.ndarray: Rarity per class, shape ``(K,)``.
    """
    if scale not in RARITY_SCALES:
        raise ValueError(f'rarity scale must be one of {RARITY_SCALES}, got {scale!r}')
    effective = effective_numbers(class_counts, beta)
    if scale == 'median':
        reference = float(np.median(effective))
        return reference / (reference + effective)
    inv = 1.0 / effective
    span = inv.max() - inv.min()
    if span <= 0:
        return np.zeros_like(inv)
    return (inv - inv.min()) / span
