from .asba_hook import ASBAHook
from .class_balance_hook import ClassBalanceHook
from .random_state_hook import RandomStateHook

__all__ = ['ASBAHook', 'ClassBalanceHook', 'RandomStateHook']
