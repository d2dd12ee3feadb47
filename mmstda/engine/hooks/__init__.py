from .asba_hook import ASBAHook
from .class_balance_hook import ClassBalanceHook

__all__ = ['ASBAHook', 'ClassBalanceHook']
