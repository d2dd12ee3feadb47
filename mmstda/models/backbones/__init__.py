from .decoupled_adapter_vit import DecoupledAdapterViT

__all__ = ['DecoupledAdapterViT']
