"""Give class-balanced losses the training split's class counts."""

from mmaction.registry import HOOKS
from mmengine.hooks import Hook

from .dataset_utils import training_class_counts


@HOOKS.register_module()
class ClassBalanceHook(Hook):
    """Call ``set_class_counts(counts)`` on every model submodule that has it.

    At ``before_train`` it reads ``class_counts`` from the training dataset
    (summed over concatenated datasets) and hands it to each module with a
    ``set_class_counts`` method, typically a head whose loss is weighted by
    ``mmstda.utils.class_balanced_weights``: the same effective-number rarity
    that drives ASBA. It runs on every start, resume included, so the weights
    never depend on checkpoint contents.

    Raises:
        RuntimeError: If no module of the model accepts class counts, since the
            config asked for a class-balanced loss that nothing would apply.
    """

    priority = 'ABOVE_NORMAL'  # before hooks that may already use the loss weights

    def before_train(self, runner) -> None:
        """Pass the training class counts to the model."""
        counts = training_class_counts(runner.train_dataloader.dataset)
        targets = [
            (name or type(module).__name__, module)
            for name, module in runner.model.named_modules()
            if callable(getattr(module, 'set_class_counts', None))
        ]
        if not targets:
            raise RuntimeError(
                'ClassBalanceHook: no module of the model has set_class_counts(counts); '
                'enable the class-balanced loss option of the head or remove this hook'
            )
        for _, module in targets:
            module.set_class_counts(counts)
        names = [name for name, _ in targets]
        runner.logger.info(f'ClassBalanceHook: class counts {counts} given to {names}')
