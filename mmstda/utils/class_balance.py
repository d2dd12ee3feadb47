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


def class_balanced_weights(class_counts: Sequence[int], beta: float | None = None) -> np.ndarray:
    """Loss weights ``1 / E_n``, normalised so they sum to the number of classes."""
    inv = 1.0 / effective_numbers(class_counts, beta)
    return inv * (len(inv) / inv.sum())


def class_rarity(class_counts: Sequence[int], beta: float | None = None) -> np.ndarray:
    """Rarity in ``[0, 1]`` per class: 0 for the most common, 1 for the rarest.

    It is ``1 / E_n`` rescaled linearly between the most and the least common
    class; all classes get 0 when they are equally common.
    """
    inv = 1.0 / effective_numbers(class_counts, beta)
    span = inv.max() - inv.min()
    if span <= 0:
        return np.zeros_like(inv)
    return (inv - inv.min()) / span
