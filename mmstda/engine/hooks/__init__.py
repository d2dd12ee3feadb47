from .asba_hook import ASBAHook
from .class_balance_hook import ClassBalanceHook
from .operating_point_hook import OperatingPointHook
from .random_state_hook import RandomStateHook

__all__ = ['ASBAHook', 'ClassBalanceHook', 'OperatingPointHook', 'RandomStateHook']
