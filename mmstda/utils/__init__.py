from .class_balance import class_balanced_weights, class_rarity, default_beta, effective_numbers

__all__ = ['class_balanced_weights', 'class_rarity', 'default_beta', 'effective_numbers']
