"""Walk wrapped datasets and pipelines to reach the objects hooks act on."""

from collections.abc import Iterator


def iter_leaf_datasets(dataset) -> Iterator:
    """Yield the datasets under mmengine's wrappers, in order.

    ``RepeatDataset`` and ``ClassBalancedDataset`` hold one ``dataset``;
    ``ConcatDataset`` holds ``datasets``. Anything else is a leaf.

    Args:
        dataset: A dataset, possibly wrapped (several levels deep).

    Yields:
        The leaf datasets.
    """
    children = getattr(dataset, 'datasets', None)
    if children is None and getattr(dataset, 'dataset', None) is not None:
        children = [dataset.dataset]
    if children is None:
        yield dataset
        return
    for child in children:
        yield from iter_leaf_datasets(child)


def iter_pipeline_transforms(dataset) -> Iterator:
    """Yield every transform in the pipelines of ``dataset`` and its wrapped datasets.

    Nested containers (``Compose``, ``RandomChoice``, ``RandomApply``... all keep
    their children in ``transforms``) are walked too.

    Args:
        dataset: A dataset, possibly wrapped.

    Yields:
        The transform objects, in pipeline order.
    """

    def walk(node) -> Iterator:
        children = getattr(node, 'transforms', None)
        if isinstance(children, (list, tuple)):
            for child in children:
                yield from walk(child)
        elif children is not None and children is not node:
            yield from walk(children)
        else:
            yield node

    for leaf in iter_leaf_datasets(dataset):
        pipeline = getattr(leaf, 'pipeline', None)
        if pipeline is not None:
            yield from walk(pipeline)


def training_class_counts(dataset) -> list[int]:
    """Per-class instance counts of a (possibly wrapped) training dataset.

    Concatenated datasets add up; a repeated dataset counts once, since
    repetition adds no new instance.

    Args:
        dataset: A dataset exposing ``class_counts`` (list[int]), possibly
            wrapped.

    Returns:
        list[int]: Instances per class.
    """
    total = None
    for leaf in iter_leaf_datasets(dataset):
        counts = getattr(leaf, 'class_counts', None)
        if counts is None:
            raise AttributeError(
                f'{type(leaf).__name__} has no class_counts: class-balanced training needs a '
                'dataset that exposes its per-class training instance counts (e.g. SMGDataset)'
            )
        counts = [int(c) for c in counts]
        if total is None:
            total = counts
        elif len(total) != len(counts):
            raise ValueError(
                f'concatenated datasets disagree on the number of classes: {len(total)} vs '
                f'{len(counts)} class counts ({type(leaf).__name__})'
            )
        else:
            total = [a + b for a, b in zip(total, counts)]
    return total
